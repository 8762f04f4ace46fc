//! The ordinary periodic 2D Voronoi tessellation: cell areas (Upsilon) and neighbour lists, from spade's
//! exact-predicate Delaunay triangulation of the particles plus their periodic images near the box.
//!
//! Neighbours: j is a Voronoi neighbour of i when their cells share an edge of positive length (longer than
//! `EDGE_TOL` times the mean spacing). At a degenerate vertex (four or more cocircular particles, e.g. a perfect
//! square lattice) the Delaunay triangulation is not unique, but the Voronoi cells are: the triangulation's
//! extra diagonals give zero-length edges and are dropped, so a square lattice reports its 4 edge-sharing
//! neighbours (not the diagonal ones) and every cell is a square of area a^2, whatever spade's tie-breaking.

use spade::{DelaunayTriangulation, HasPosition, Point2, Triangulation};

use crate::error::{Error, Result};

/// A Voronoi edge shorter than this times the mean particle spacing counts as zero length: it is a degenerate
/// (cocircular) vertex seen through an arbitrary Delaunay diagonal. Round-off there is ~1e-15; real edges of
/// random configurations are almost never this short.
pub const EDGE_TOL: f64 = 1e-9;

/// The periodic Voronoi tessellation of one configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Voronoi {
    /// Box sides (Lx, Ly).
    pub box_l: [f64; 2],
    /// Cell area of each particle.
    pub areas: Vec<f64>,
    /// Particle i's neighbours are entries `offsets[i]..offsets[i + 1]`, in counterclockwise order.
    pub offsets: Vec<usize>,
    /// Neighbour particle index.
    pub neighbours: Vec<u32>,
    /// Vector from particle i to the neighbour's (periodic image) position.
    pub vectors: Vec<[f64; 2]>,
    /// Length of the Voronoi edge shared with the neighbour.
    pub edge_lengths: Vec<f64>,
}

impl Voronoi {
    pub fn n(&self) -> usize {
        self.areas.len()
    }

    /// Neighbour indices of particle i (counterclockwise).
    pub fn neighbours_of(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Vectors to particle i's neighbours (counterclockwise).
    pub fn vectors_of(&self, i: usize) -> &[[f64; 2]] {
        &self.vectors[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of neighbours of each particle.
    pub fn counts(&self) -> Vec<u32> {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as u32)
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
struct Site {
    p: Point2<f64>,
    idx: u32,
    original: bool,
}

impl HasPosition for Site {
    type Scalar = f64;
    fn position(&self) -> Point2<f64> {
        self.p
    }
}

/// Wraps a coordinate into [0, l); values spade would refuse as too small (|x| < 2^-142) become 0.
fn wrap(x: f64, l: f64) -> f64 {
    let mut w = x.rem_euclid(l);
    if w >= l {
        // rem_euclid of a tiny negative number rounds up to l itself
        w = 0.0;
    }
    if w.abs() < 1e-30 {
        w = 0.0;
    }
    w
}

/// Circumcentre of the triangle (0, a, b), relative to the origin.
#[inline]
fn circumcentre(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    let d = 2.0 * (a[0] * b[1] - a[1] * b[0]);
    let a2 = a[0] * a[0] + a[1] * a[1];
    let b2 = b[0] * b[0] + b[1] * b[1];
    [(b[1] * a2 - a[1] * b2) / d, (a[0] * b2 - b[0] * a2) / d]
}

enum Attempt {
    Done(Voronoi),
    /// Some cell is not yet determined by the replicated images: replicate a wider margin.
    NeedMargin,
}

/// The periodic Voronoi tessellation of `positions` ([x0, y0, x1, y1, ...]) in the box [0, Lx) x [0, Ly).
/// Positions outside the box are wrapped in. Errors on non-finite input and on two particles at one position.
pub fn voronoi(positions: &[f64], box_l: [f64; 2]) -> Result<Voronoi> {
    if !positions.len().is_multiple_of(2) || positions.is_empty() {
        return Err(Error::Geometry(format!(
            "Voronoi: expected [x, y] pairs for at least one particle, got {} values",
            positions.len()
        )));
    }
    if !(box_l[0] > 0.0 && box_l[1] > 0.0 && box_l[0].is_finite() && box_l[1].is_finite()) {
        return Err(Error::Geometry(format!(
            "Voronoi: box sides must be positive and finite, got {box_l:?}"
        )));
    }
    if let Some(k) = positions.iter().position(|x| !x.is_finite()) {
        return Err(Error::Geometry(format!(
            "Voronoi: particle {} has a non-finite coordinate ({})",
            k / 2,
            positions[k]
        )));
    }
    let n = positions.len() / 2;
    let wrapped: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            [
                wrap(positions[2 * i], box_l[0]),
                wrap(positions[2 * i + 1], box_l[1]),
            ]
        })
        .collect();
    let spacing = (box_l[0] * box_l[1] / n as f64).sqrt();
    // Three spacings covers every cell of a liquid or glass; sparse or clustered input doubles it until the
    // check in `attempt` passes.
    let mut margin = 3.0 * spacing;
    let limit = 8.0 * box_l[0].max(box_l[1]) + 8.0 * spacing;
    loop {
        match attempt(&wrapped, box_l, margin, spacing)? {
            Attempt::Done(v) => return Ok(v),
            Attempt::NeedMargin => {
                margin *= 2.0;
                if margin > limit {
                    return Err(Error::Geometry(format!(
                        "Voronoi: cells stay undetermined with periodic images {margin} beyond the box; \
                         the configuration is degenerate (all particles on one line?)"
                    )));
                }
            }
        }
    }
}

fn attempt(pos: &[[f64; 2]], box_l: [f64; 2], margin: f64, spacing: f64) -> Result<Attempt> {
    let n = pos.len();
    let [lx, ly] = box_l;
    let kx = (margin / lx).ceil() as i64;
    let ky = (margin / ly).ceil() as i64;
    let mut sites: Vec<Site> = pos
        .iter()
        .enumerate()
        .map(|(i, p)| Site {
            p: Point2::new(p[0], p[1]),
            idx: i as u32,
            original: true,
        })
        .collect();
    for sx in -kx..=kx {
        for sy in -ky..=ky {
            if sx == 0 && sy == 0 {
                continue;
            }
            let (dx, dy) = (sx as f64 * lx, sy as f64 * ly);
            for (i, p) in pos.iter().enumerate() {
                let (x, y) = (p[0] + dx, p[1] + dy);
                if x >= -margin && x < lx + margin && y >= -margin && y < ly + margin {
                    sites.push(Site {
                        p: Point2::new(x, y),
                        idx: i as u32,
                        original: false,
                    });
                }
            }
        }
    }
    let n_sites = sites.len();
    let tri = DelaunayTriangulation::<Site>::bulk_load(sites).map_err(|e| {
        Error::Geometry(format!(
            "Voronoi: the triangulation refused the input: {e:?}"
        ))
    })?;
    if tri.num_vertices() != n_sites {
        return Err(duplicate_error(pos));
    }
    let tol = EDGE_TOL * spacing;
    // Visit the original particles in index order, so the flat neighbour arrays fill in place.
    let mut handles = vec![None; n];
    for v in tri.vertices() {
        let site = v.data();
        if site.original {
            handles[site.idx as usize] = Some(v.fix());
        }
    }
    let mut areas = vec![0.0; n];
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0);
    let mut neighbours = Vec::with_capacity(7 * n);
    let mut vectors = Vec::with_capacity(7 * n);
    let mut edge_lengths = Vec::with_capacity(7 * n);
    let mut rel: Vec<[f64; 2]> = Vec::with_capacity(16);
    let mut idx: Vec<u32> = Vec::with_capacity(16);
    let mut cc: Vec<[f64; 2]> = Vec::with_capacity(16);
    for (i, h) in handles.iter().enumerate() {
        let Some(h) = *h else {
            return Err(duplicate_error(pos));
        };
        let v = tri.vertex(h);
        let o = v.data().p;
        rel.clear();
        idx.clear();
        for e in v.out_edges() {
            if e.face().is_outer() {
                return Ok(Attempt::NeedMargin);
            }
            let t = e.to();
            let p = t.data().p;
            rel.push([p.x - o.x, p.y - o.y]);
            idx.push(t.data().idx);
        }
        let m = rel.len();
        if m < 3 {
            // Not surrounded yet (too few images around a sparse configuration).
            return Ok(Attempt::NeedMargin);
        }
        cc.clear();
        // Face of out-edge k is (o, t_k, t_{k+1}); its circumcentre is a vertex of o's cell.
        // (Index arithmetic without `%`: an integer division per edge is a visible cost here.)
        for k in 0..m {
            let k1 = if k + 1 == m { 0 } else { k + 1 };
            let c = circumcentre(rel[k], rel[k1]);
            // The circumcircle passes through o (in the box), so it lies within 2R of the box: it is empty of
            // every periodic image (a true periodic Delaunay triangle) if 2R fits inside the margin.
            let r = (c[0] * c[0] + c[1] * c[1]).sqrt();
            // Also true for a NaN radius (a flat triangle): widen and retry.
            if (2.0 * r).partial_cmp(&margin) != Some(std::cmp::Ordering::Less) {
                return Ok(Attempt::NeedMargin);
            }
            cc.push(c);
        }
        let mut area2 = 0.0;
        let mut prev = cc[m - 1];
        for &c in cc.iter() {
            area2 += prev[0] * c[1] - prev[1] * c[0];
            prev = c;
        }
        areas[i] = 0.5 * area2;
        for k in 0..m {
            // The edge dual to o-t_k joins the circumcentres of the faces either side of it.
            let (a, b) = (cc[if k == 0 { m - 1 } else { k - 1 }], cc[k]);
            let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
            if len > tol {
                neighbours.push(idx[k]);
                vectors.push(rel[k]);
                edge_lengths.push(len);
            }
        }
        offsets.push(neighbours.len());
    }
    check_symmetric(&offsets, &neighbours)?;
    Ok(Attempt::Done(Voronoi {
        box_l,
        areas,
        offsets,
        neighbours,
        vectors,
        edge_lengths,
    }))
}

/// Names two particles at one position (spade merges them, which would silently lose a cell).
fn duplicate_error(pos: &[[f64; 2]]) -> Error {
    let mut order: Vec<usize> = (0..pos.len()).collect();
    order.sort_by(|&a, &b| {
        pos[a][0]
            .total_cmp(&pos[b][0])
            .then(pos[a][1].total_cmp(&pos[b][1]))
    });
    for w in order.windows(2) {
        if pos[w[0]] == pos[w[1]] {
            return Error::Geometry(format!(
                "Voronoi: particles {} and {} are at the same position ({}, {}) after wrapping into the box",
                w[0].min(w[1]),
                w[0].max(w[1]),
                pos[w[0]][0],
                pos[w[0]][1]
            ));
        }
    }
    Error::Geometry("Voronoi: two particles coincide with a periodic image of each other".into())
}

/// The neighbour relation must be symmetric (counting images): i lists j as often as j lists i. Both sides
/// measure the same edge, so this fails only for an edge within round-off of `EDGE_TOL`.
fn check_symmetric(offsets: &[usize], neighbours: &[u32]) -> Result<()> {
    let list = |i: usize| &neighbours[offsets[i]..offsets[i + 1]];
    for i in 0..offsets.len() - 1 {
        for &j in list(i) {
            let here = list(i).iter().filter(|&&k| k == j).count();
            let there = list(j as usize)
                .iter()
                .filter(|&&k| k as usize == i)
                .count();
            if here != there {
                return Err(Error::Geometry(format!(
                    "Voronoi: particles {i} and {j} disagree on sharing an edge (an edge within round-off of \
                     the zero-length tolerance); perturb the configuration slightly"
                )));
            }
        }
    }
    Ok(())
}
