//! The Tong-Tanaka order parameter Theta (Tong & Tanaka 2018; docs/methods.md, "Order parameters"): how far the angles between a particle's Voronoi neighbours
//! depart from those of touching disks of the given diameters.
//!
//! For particle o with Voronoi neighbours in counterclockwise order, every angularly consecutive pair (i, j)
//! contributes |theta1 - theta2|: theta1 = the measured angle i-o-j, theta2 = the angle at o of the triangle of
//! touching disks, sides (d_o+d_i)/2, (d_o+d_j)/2, (d_i+d_j)/2. Theta_o = (1/N_o) sum |theta1 - theta2|.
//! In general position the consecutive pairs are exactly the Delaunay triangles o-i-j of docs/methods.md, "Order parameters". At a
//! degenerate vertex (cocircular particles) they stay well defined and do not depend on how the triangulation
//! broke the tie: a perfect square lattice of equal disks gives |90° - 60°| = pi/6 for every particle.

use super::voronoi::Voronoi;

/// Theta per particle. `species[i]` indexes `diameters` (from `SystemDef::diameters()`).
pub fn tong_tanaka(v: &Voronoi, species: &[u32], diameters: &[f64]) -> Vec<f64> {
    // theta2 depends only on the species of o, i and j: tabulate it.
    let ns = diameters.len();
    let mut ideal = vec![0.0; ns * ns * ns];
    for (so, &d_o) in diameters.iter().enumerate() {
        for (si, &d_i) in diameters.iter().enumerate() {
            for (sj, &d_j) in diameters.iter().enumerate() {
                let (sa, sb, sc) = (0.5 * (d_o + d_i), 0.5 * (d_o + d_j), 0.5 * (d_i + d_j));
                let cos2 = ((sa * sa + sb * sb - sc * sc) / (2.0 * sa * sb)).clamp(-1.0, 1.0);
                ideal[(so * ns + si) * ns + sj] = cos2.acos();
            }
        }
    }
    (0..v.n())
        .map(|o| {
            let nb = v.neighbours_of(o);
            let r = v.vectors_of(o);
            let m = nb.len();
            if m == 0 {
                return 0.0;
            }
            let so = species[o] as usize;
            let mut sum = 0.0;
            for k in 0..m {
                let k1 = if k + 1 == m { 0 } else { k + 1 };
                let (a, b) = (r[k], r[k1]);
                let cross = a[0] * b[1] - a[1] * b[0];
                let dot = a[0] * b[0] + a[1] * b[1];
                // Counterclockwise order: the angle from a to b lies in (0, 2 pi).
                let mut theta1 = cross.atan2(dot);
                if theta1 <= 0.0 {
                    theta1 += std::f64::consts::TAU;
                }
                let si = species[nb[k] as usize] as usize;
                let sj = species[nb[k1] as usize] as usize;
                sum += (theta1 - ideal[(so * ns + si) * ns + sj]).abs();
            }
            sum / m as f64
        })
        .collect()
}
