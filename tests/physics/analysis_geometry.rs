//! Periodic Voronoi tessellation and Tong-Tanaka order parameter against lattices, hand values and an
//! independent brute-force construction (half-plane clipping against every periodic image).

use std::f64::consts::PI;

use glasscam::analysis::bench::random_configs;
use glasscam::analysis::{tong_tanaka, voronoi, Voronoi};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Triangular lattice of nx x ny sites (ny even) with spacing a: positions and the periodic box.
fn triangular(nx: usize, ny: usize, a: f64, shift: [f64; 2]) -> (Vec<f64>, [f64; 2]) {
    let h = a * 3f64.sqrt() / 2.0;
    let mut p = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let x = (i as f64 + 0.5 * (j % 2) as f64) * a + shift[0];
            p.push(x);
            p.push(j as f64 * h + shift[1]);
        }
    }
    (p, [nx as f64 * a, ny as f64 * h])
}

fn square(n: usize, a: f64) -> (Vec<f64>, [f64; 2]) {
    let mut p = Vec::new();
    for j in 0..n {
        for i in 0..n {
            p.push(i as f64 * a + 0.1 * a);
            p.push(j as f64 * a + 0.1 * a);
        }
    }
    (p, [n as f64 * a, n as f64 * a])
}

fn assert_symmetric(v: &Voronoi) {
    for i in 0..v.n() {
        for &j in v.neighbours_of(i) {
            let there = v
                .neighbours_of(j as usize)
                .iter()
                .filter(|&&k| k as usize == i)
                .count();
            let here = v.neighbours_of(i).iter().filter(|&&k| k == j).count();
            assert_eq!(
                here, there,
                "neighbour relation not symmetric between {i} and {j}"
            );
        }
    }
}

fn assert_area_sum(v: &Voronoi) {
    let total: f64 = v.areas.iter().sum();
    let want = v.box_l[0] * v.box_l[1];
    assert!(
        ((total - want) / want).abs() < 1e-9,
        "cell areas sum to {total}, box area {want}, relative error {}",
        ((total - want) / want).abs()
    );
}

#[test]
fn voronoi_areas_sum_to_box_and_neighbours_are_symmetric_on_random_configurations() {
    let (l, all) = random_configs(3, 2000, 7);
    for c in 0..3 {
        let v = voronoi(&all[c * 4000..(c + 1) * 4000], [l, l]).expect("voronoi");
        assert_area_sum(&v);
        assert_symmetric(&v);
        let mean = v.neighbours.len() as f64 / v.n() as f64;
        // Euler: the mean number of neighbours of a 2D periodic tessellation is exactly 6.
        assert!((mean - 6.0).abs() < 1e-12, "mean neighbour count {mean}");
    }
}

#[test]
fn voronoi_triangular_lattice_has_equal_hexagons() {
    let a = 1.1;
    let (p, b) = triangular(12, 10, a, [0.05, 0.3]);
    let v = voronoi(&p, b).expect("voronoi");
    let hex = a * a * 3f64.sqrt() / 2.0;
    for (i, &ar) in v.areas.iter().enumerate() {
        assert!(
            (ar - hex).abs() < 1e-12 * hex.max(1.0) * 10.0,
            "cell {i}: area {ar}, expected {hex}"
        );
        assert_eq!(
            v.neighbours_of(i).len(),
            6,
            "cell {i}: {} neighbours",
            v.neighbours_of(i).len()
        );
        for r in v.vectors_of(i) {
            let d = (r[0] * r[0] + r[1] * r[1]).sqrt();
            assert!(
                (d - a).abs() < 1e-12,
                "cell {i}: neighbour at distance {d}, expected {a}"
            );
        }
    }
    assert_area_sum(&v);
    assert_symmetric(&v);
}

#[test]
fn voronoi_square_lattice_gives_squares_and_four_edge_neighbours() {
    // Every Voronoi vertex is shared by four cells (cocircular points): the triangulation's diagonals are
    // arbitrary, the reported neighbours must not be.
    let a = 0.9;
    let (p, b) = square(9, a);
    let v = voronoi(&p, b).expect("voronoi");
    for (i, &ar) in v.areas.iter().enumerate() {
        assert!(
            (ar - a * a).abs() < 1e-12,
            "cell {i}: area {ar}, expected {}",
            a * a
        );
        assert_eq!(
            v.neighbours_of(i).len(),
            4,
            "cell {i}: neighbours {:?}",
            v.neighbours_of(i)
        );
        for r in v.vectors_of(i) {
            let d = (r[0] * r[0] + r[1] * r[1]).sqrt();
            assert!(
                (d - a).abs() < 1e-12,
                "cell {i}: diagonal or wrong neighbour at distance {d}"
            );
        }
    }
    assert_symmetric(&v);
}

#[test]
fn voronoi_rejects_duplicate_positions_and_nan() {
    let p = vec![0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 2.0, 0.3];
    let e = voronoi(&p, [3.0, 3.0]).expect_err("duplicates must fail");
    assert!(e.to_string().contains("particles 0 and 2"), "{e}");
    let p = vec![0.5, f64::NAN, 1.0, 1.0];
    let e = voronoi(&p, [3.0, 3.0]).expect_err("NaN must fail");
    assert!(e.to_string().contains("particle 0"), "{e}");
}

// ---- brute force: clip a square around each point by the bisectors with all periodic images ----

/// Convex polygon, each vertex with the label of the edge leaving it (None: the initial square).
type Poly = Vec<([f64; 2], Option<(usize, [f64; 2])>)>;

fn clip(poly: &Poly, p: [f64; 2], q: [f64; 2], label: (usize, [f64; 2])) -> Poly {
    let m = [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0];
    let nrm = [q[0] - p[0], q[1] - p[1]];
    let side = |x: [f64; 2]| (x[0] - m[0]) * nrm[0] + (x[1] - m[1]) * nrm[1];
    let mut out: Poly = Vec::new();
    for k in 0..poly.len() {
        let (a, la) = poly[k];
        let (b, _) = poly[(k + 1) % poly.len()];
        let (sa, sb) = (side(a), side(b));
        let cut = |sa: f64, sb: f64| {
            let t = sa / (sa - sb);
            [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
        };
        match (sa <= 0.0, sb <= 0.0) {
            (true, true) => out.push((a, la)),
            (true, false) => {
                out.push((a, la));
                out.push((cut(sa, sb), Some(label)));
            }
            (false, true) => out.push((cut(sa, sb), la)),
            (false, false) => {}
        }
    }
    out
}

/// Cell area and (neighbour, vector) list of particle i by brute force.
fn brute_cell(p: &[f64], b: [f64; 2], i: usize) -> (f64, Vec<(usize, [f64; 2])>) {
    let n = p.len() / 2;
    let o = [p[2 * i], p[2 * i + 1]];
    // Larger than the cell (which lies within half a box of o), so that every final edge is a bisector.
    let (hx, hy) = (b[0], b[1]);
    let mut poly: Poly = vec![
        ([o[0] - hx, o[1] - hy], None),
        ([o[0] + hx, o[1] - hy], None),
        ([o[0] + hx, o[1] + hy], None),
        ([o[0] - hx, o[1] + hy], None),
    ];
    for j in 0..n {
        for sx in -2..=2 {
            for sy in -2..=2 {
                if j == i && sx == 0 && sy == 0 {
                    continue;
                }
                let q = [p[2 * j] + sx as f64 * b[0], p[2 * j + 1] + sy as f64 * b[1]];
                poly = clip(&poly, o, q, (j, [q[0] - o[0], q[1] - o[1]]));
            }
        }
    }
    let m = poly.len();
    let mut area2 = 0.0;
    let mut nb = Vec::new();
    let spacing = (b[0] * b[1] / n as f64).sqrt();
    for k in 0..m {
        let (a, la) = poly[k];
        let (c, _) = poly[(k + 1) % m];
        area2 += a[0] * c[1] - a[1] * c[0];
        let len = ((c[0] - a[0]).powi(2) + (c[1] - a[1]).powi(2)).sqrt();
        if len > 1e-9 * spacing {
            let l = la.expect("every edge of a periodic cell is a bisector");
            nb.push(l);
        }
    }
    (0.5 * area2, nb)
}

#[test]
fn voronoi_matches_brute_force_half_plane_clipping_on_small_random_configurations() {
    for seed in 0..12u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 3 + (seed as usize * 7) % 30;
        let b = [4.0 + rng.random::<f64>(), 3.0 + 2.0 * rng.random::<f64>()];
        let p: Vec<f64> = (0..n)
            .flat_map(|_| [rng.random::<f64>() * b[0], rng.random::<f64>() * b[1]])
            .collect();
        let v = voronoi(&p, b).expect("voronoi");
        assert_area_sum(&v);
        assert_symmetric(&v);
        for i in 0..n {
            let (area, mut nb) = brute_cell(&p, b, i);
            assert!(
                (area - v.areas[i]).abs() < 1e-9 * area,
                "seed {seed} n {n} cell {i}: area {} vs brute force {area}",
                v.areas[i]
            );
            let mut got: Vec<(usize, [f64; 2])> = v
                .neighbours_of(i)
                .iter()
                .zip(v.vectors_of(i))
                .map(|(&j, &r)| (j as usize, r))
                .collect();
            let key = |x: &(usize, [f64; 2])| {
                (
                    x.0,
                    (x.1[0] * 1e6).round() as i64,
                    (x.1[1] * 1e6).round() as i64,
                )
            };
            got.sort_by_key(key);
            nb.sort_by_key(key);
            assert_eq!(
                got.len(),
                nb.len(),
                "seed {seed} cell {i}: neighbours {got:?} vs brute force {nb:?}"
            );
            for (g, w) in got.iter().zip(&nb) {
                assert_eq!(
                    g.0, w.0,
                    "seed {seed} cell {i}: neighbours {got:?} vs brute force {nb:?}"
                );
                assert!(
                    (g.1[0] - w.1[0]).abs() < 1e-9 && (g.1[1] - w.1[1]).abs() < 1e-9,
                    "seed {seed} cell {i}: neighbour vector {:?} vs {:?}",
                    g.1,
                    w.1
                );
            }
        }
    }
}

// ---- Tong-Tanaka ----

#[test]
fn tong_tanaka_triangular_lattice_of_equal_disks_is_zero() {
    let (p, b) = triangular(10, 8, 1.0, [0.2, 0.1]);
    let v = voronoi(&p, b).expect("voronoi");
    let species = vec![0u32; p.len() / 2];
    let theta = tong_tanaka(&v, &species, &[1.0]);
    for (i, t) in theta.iter().enumerate() {
        assert!(t.abs() < 1e-12, "particle {i}: Theta = {t}");
    }
}

#[test]
fn tong_tanaka_square_lattice_is_pi_over_six() {
    // The documented convention at cocircular vertices: consecutive neighbours, 90° measured vs 60° ideal.
    let (p, b) = square(8, 1.0);
    let v = voronoi(&p, b).expect("voronoi");
    let theta = tong_tanaka(&v, &vec![0u32; 64], &[1.0]);
    for (i, t) in theta.iter().enumerate() {
        assert!((t - PI / 6.0).abs() < 1e-12, "particle {i}: Theta = {t}");
    }
}

#[test]
fn tong_tanaka_one_large_disk_in_a_triangular_lattice_by_hand() {
    // One disk of diameter 2 among disks of diameter 1, positions a perfect triangular lattice:
    // - the big one: 6 triangles with sides 1.5, 1.5, 1 -> cos theta2 = (2.25 + 2.25 - 1) / 4.5 = 7/9;
    // - each of its 6 neighbours: 2 of its 6 triangles contain the big one, sides 1, 1.5, 1.5 at the small
    //   one -> cos theta2 = (1 + 2.25 - 2.25) / 3 = 1/3; the other 4 are perfect;
    // - everyone else: 0.
    let (p, b) = triangular(10, 10, 1.0, [0.0, 0.0]);
    let n = p.len() / 2;
    let big = 5 * 10 + 4;
    let mut species = vec![0u32; n];
    species[big] = 1;
    let v = voronoi(&p, b).expect("voronoi");
    let theta = tong_tanaka(&v, &species, &[1.0, 2.0]);
    let want_big = (PI / 3.0 - (7.0f64 / 9.0).acos()).abs();
    let want_nb = 2.0 * (PI / 3.0 - (1.0f64 / 3.0).acos()).abs() / 6.0;
    assert!(
        (theta[big] - want_big).abs() < 1e-12,
        "big: {} vs {want_big}",
        theta[big]
    );
    let nbs: Vec<usize> = v.neighbours_of(big).iter().map(|&j| j as usize).collect();
    assert_eq!(nbs.len(), 6);
    for (i, &got) in theta.iter().enumerate() {
        let want = if i == big {
            want_big
        } else if nbs.contains(&i) {
            want_nb
        } else {
            0.0
        };
        assert!(
            (got - want).abs() < 1e-12,
            "particle {i}: Theta {got} vs hand value {want}"
        );
    }
}

#[test]
fn voronoi_one_and_two_particles_tile_the_box_with_their_images() {
    // One particle: its images form a square lattice, so its cell is the box and its 4 neighbours are itself.
    let v = voronoi(&[0.3, 0.7], [2.0, 2.0]).expect("voronoi");
    assert!((v.areas[0] - 4.0).abs() < 1e-12, "{}", v.areas[0]);
    assert_eq!(v.neighbours_of(0), &[0, 0, 0, 0]);
    let v = voronoi(&[0.3, 0.7, 1.9, 1.1], [3.0, 2.0]).expect("voronoi");
    assert_area_sum(&v);
    assert_symmetric(&v);
}
