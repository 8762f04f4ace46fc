//! Gridization of the f32 backend: each particle's Gaussian window scattered into its species' image as the outer
//! product of two normalised 1D Gaussians. The twin (`nn::cpu::gridize`) gathers the same terms per pixel: its
//! Gaussian and its window norm both factorise over the axes.

use rayon::prelude::*;

use crate::nn::common::NnParams;

/// Pixel of coordinate x, clamped (as the twin's `pixel_of`).
fn pixel_of(x: f64, hpix: f64, g: usize) -> usize {
    ((x / hpix).floor() as i64).clamp(0, g as i64 - 1) as usize
}

/// The window's 1D weights exp(-t_d^2 / 2w^2) at t_d = (c - r + d + 1/2) h - x, d = 0..2r, divided by their sum.
/// The Gaussian at evenly spaced points is a product recurrence: w_{d+1} = w_d q_d, q_{d+1} = q_d exp(-h^2 / w^2),
/// two exponentials per axis instead of 2r + 1.
fn axis(x: f64, c: usize, hpix: f64, inv2w2: f64, out: &mut [f32]) {
    let r = (out.len() / 2) as f64;
    let t0 = (c as f64 - r + 0.5) * hpix - x;
    let step = (-2.0 * hpix * hpix * inv2w2).exp();
    let start = (
        (-t0 * t0 * inv2w2).exp(),
        (-(2.0 * t0 * hpix + hpix * hpix) * inv2w2).exp(),
    );
    // the sum first, then the weights over it: the same recurrence twice, no buffer
    let (mut sum, (mut wd, mut q)) = (0.0, start);
    for _ in 0..out.len() {
        sum += wd;
        wd *= q;
        q *= step;
    }
    if !(sum.is_normal() && sum.is_finite()) {
        // a window so wide (in widths) that the recurrence's ends under- or overflow: each weight directly
        let w = |d: usize| {
            let t = t0 + d as f64 * hpix;
            (-t * t * inv2w2).exp()
        };
        let sum: f64 = (0..out.len()).map(w).sum();
        for (d, o) in out.iter_mut().enumerate() {
            *o = (w(d) / sum) as f32;
        }
        return;
    }
    let inv = 1.0 / sum;
    let (mut wd, mut q) = start;
    for o in out.iter_mut() {
        *o = (wd * inv) as f32;
        wd *= q;
        q *= step;
    }
}

/// Windows up to this wide (2 radius + 1 pixels) keep their weights on the stack.
const STACK_WINDOW: usize = 64;

/// Images [batch][n_species][G][G] of the snapshots `pos` [batch][n][2] (`p` as `GridSpec::params`), in parallel
/// over the snapshots; each image's particles are scattered in index order.
pub fn gridize(p: &NnParams, pos: &[f64], species: &[u32], out: &mut [f32]) {
    let g = p.h as usize;
    let (n, ns, batch) = (p.n_part as usize, p.n_species as usize, p.batch as usize);
    let hpix = p.box_l as f64 / g as f64;
    let width = p.width as f64;
    let inv2w2 = 1.0 / (2.0 * width * width);
    let r = p.radius as usize;
    let m = 2 * r + 1;
    assert!(m <= g, "a window of {m} pixels on a {g}-pixel grid");
    assert!(pos.len() >= batch * n * 2 && species.len() >= n);
    out[..batch * ns * g * g]
        .par_chunks_mut(ns * g * g)
        .enumerate()
        .for_each(|(s, img)| {
            img.fill(0.0);
            let mut stack = [0f32; 2 * STACK_WINDOW];
            let mut heap = Vec::new();
            let weights = if m <= STACK_WINDOW {
                &mut stack[..2 * m]
            } else {
                heap.resize(2 * m, 0.0);
                &mut heap[..]
            };
            let (wx, wy) = weights.split_at_mut(m);
            for i in 0..n {
                let (x, y) = (pos[(s * n + i) * 2], pos[(s * n + i) * 2 + 1]);
                let (cx, cy) = (pixel_of(x, hpix, g), pixel_of(y, hpix, g));
                axis(x, cx, hpix, inv2w2, wx);
                axis(y, cy, hpix, inv2w2, wy);
                let plane = &mut img[species[i] as usize * g * g..][..g * g];
                // the window's columns from x0 (wrapped): a run to the grid's edge, then the rest from column 0
                let x0 = (cx + g - r) % g;
                let first = m.min(g - x0);
                for (dy, &vy) in wy.iter().enumerate() {
                    let row = &mut plane[((cy + g - r + dy) % g) * g..][..g];
                    for (o, &vx) in row[x0..x0 + first].iter_mut().zip(&wx[..first]) {
                        *o += vy * vx;
                    }
                    for (o, &vx) in row[..m - first].iter_mut().zip(&wx[first..m]) {
                        *o += vy * vx;
                    }
                }
            }
        });
}
