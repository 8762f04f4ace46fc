//! The f32 CPU backend's GEMMs alone (`nn::fast`): the convolutions (forward, input and weight gradients) and
//! dense layers of the paper's network at batch 32 in GFLOP/s, beside the machine's f32 peak (cores x clock x SIMD
//! lanes x FMA units x 2 flops), per wall second and per CPU second; and the forward convolutions as im2col +
//! `matrixmultiply` GEMMs on the same shapes. The network as a whole, beside PyTorch: `glasscam bench nn`.
//!
//! cargo bench -p glasscam-kernels --bench cnn_cpu -- [--seconds 2] [--fma-units N]

use std::time::Instant;

use glasscam_kernels::nn::fast::conv::{self, Conv, Geom, WGrad};
use glasscam_kernels::nn::fast::peak::{cpu_seconds, peak};
use glasscam_kernels::nn::fast::{dense, Isa};
use rayon::prelude::*;

struct Args {
    seconds: f64,
    fma_units: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 2.0,
        fma_units: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{x} takes a value"));
        match x.as_str() {
            "--seconds" => a.seconds = val().parse().expect("--seconds S"),
            "--fma-units" => a.fma_units = Some(val().parse().expect("--fma-units N")),
            // cargo bench passes --bench to every harness
            "--bench" => {}
            other => panic!("unknown argument {other} (see the top of kernels/benches/cnn_cpu.rs)"),
        }
    }
    a
}

fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runs `f` once to warm up, then until `seconds` have passed (at least twice): runs per wall second and per CPU
/// second of the process.
fn cpu_rate(seconds: f64, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let (t, c) = (Instant::now(), cpu_seconds(true));
    let mut n = 0;
    while n < 2 || t.elapsed().as_secs_f64() < seconds {
        n += 1;
        f();
    }
    let wall = t.elapsed().as_secs_f64();
    (n as f64 / wall, n as f64 / (cpu_seconds(true) - c))
}

/// The convolution and dense GEMMs of the paper's network (batch 32) in GFLOP/s, beside the peak; and the
/// forward convolutions as im2col + `matrixmultiply` sgemm per image for comparison.
fn kernels(a: &Args) {
    let (core_peak, cores, how) = peak(a.fma_units);
    println!(
        "\n== GEMM speed on the paper's layer shapes (batch 32, grid 128, k 5), load {:.1}",
        load()
    );
    for line in how {
        println!("{line}");
    }
    let isa = Isa::detect();
    let (batch, g) = (
        32,
        Geom {
            h: 128,
            w: 128,
            k: 5,
        },
    );
    let secs = a.seconds;
    let mut rng = glasscam_kernels::rng::SplitMix64(3);
    let mut rand = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect() };
    println!(
        "  {:<56} {:>22} {:>26}",
        "", "wall: GFLOP/s, % of peak", "GFLOP per CPU s, % of core"
    );
    let report = |what: &str, flop: f64, (wall, cpu): (f64, f64)| {
        let (gw, gc) = (flop * wall / 1e9, flop * cpu / 1e9);
        println!(
            "  {what:<56} {gw:>8.1} {:>12.1} % {gc:>12.1} {:>12.1} %",
            100.0 * gw / (core_peak * cores as f64),
            100.0 * gc / core_peak
        );
    };
    for (c_in, c_out) in [(2, 8), (8, 16), (16, 16)] {
        let kk = g.k * g.k;
        let flop = 2.0 * (batch * c_out * c_in * kk * g.hw()) as f64;
        let input = rand(batch * c_in * g.hw());
        let gout = rand(batch * c_out * g.hw());
        let w = rand(c_out * c_in * kk);
        let bias = rand(c_out);
        let mut out = vec![0f32; batch * c_out * g.hw()];
        let mut gin = vec![0f32; batch * c_in * g.hw()];
        let mut pad = vec![0f32; batch * c_in.max(c_out) * g.padded()];
        let (mut wpk, mut offs) = (Vec::new(), Vec::new());
        let tile = conv::tile(isa);
        let fwd = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            conv::pack(&w, (c_in, c_out, g.k), tile.0, false, &mut wpk);
            conv::tap_offsets(g, c_in, &mut offs);
            let c = Conv {
                g,
                n_src: c_in,
                n_out: c_out,
                tile,
                src: &pad,
                offs: &offs,
                wpk: &wpk,
                bias: Some(&bias),
                relu: true,
            };
            conv::conv(isa, &c, batch, &mut out);
        });
        report(
            &format!("conv {c_in}->{c_out} forward (implicit GEMM, pad included)"),
            flop,
            fwd,
        );
        let bwi = cpu_rate(secs, || {
            conv::pad(g, &gout, &mut pad[..batch * c_out * g.padded()], 2);
            conv::pack(&w, (c_in, c_out, g.k), tile.0, true, &mut wpk);
            conv::tap_offsets(g, c_out, &mut offs);
            let c = Conv {
                g,
                n_src: c_out,
                n_out: c_in,
                tile,
                src: &pad,
                offs: &offs,
                wpk: &wpk,
                bias: None,
                relu: false,
            };
            conv::conv(isa, &c, batch, &mut gin);
        });
        report(&format!("conv {c_in}->{c_out} backward input"), flop, bwi);
        let mut part = Vec::new();
        let bww = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            let wg = WGrad {
                g,
                c_in,
                c_out,
                mc: conv::wgrad_channels(isa),
                src: &pad,
                gout: &gout,
            };
            part.resize(batch * wg.part_len(), 0.0);
            conv::wgrad(isa, &wg, batch, &mut part);
        });
        report(
            &format!("conv {c_in}->{c_out} backward weight (per-image sums)"),
            flop,
            bww,
        );
        // im2col + sgemm: col[(ci, ky, kx)][pixel] per image, out = W col
        let kdim = c_in * kk;
        let mut cols = vec![0f32; rayon::current_num_threads() * kdim * g.hw()];
        let im2col = cpu_rate(secs, || {
            conv::pad(g, &input, &mut pad[..batch * c_in * g.padded()], 2);
            let threads = rayon::current_num_threads();
            let per = batch.div_ceil(threads);
            out.par_chunks_mut(per * c_out * g.hw())
                .zip(cols.par_chunks_mut(kdim * g.hw()))
                .enumerate()
                .for_each(|(t, (o, col))| {
                    for (i, ob) in o.chunks_mut(c_out * g.hw()).enumerate() {
                        let b = t * per + i;
                        let src = &pad[b * c_in * g.padded()..];
                        for (r, crow) in col.chunks_mut(g.hw()).enumerate() {
                            let (ci, ky, kx) = (r / kk, (r % kk) / g.k, r % g.k);
                            for y in 0..g.h {
                                let s = ci * g.padded() + (y + ky) * g.wp() + kx;
                                crow[y * g.w..(y + 1) * g.w].copy_from_slice(&src[s..s + g.w]);
                            }
                        }
                        // SAFETY: W is c_out x kdim, col kdim x hw, ob c_out x hw, all row-major and in bounds
                        unsafe {
                            matrixmultiply::sgemm(
                                c_out,
                                kdim,
                                g.hw(),
                                1.0,
                                w.as_ptr(),
                                kdim as isize,
                                1,
                                col.as_ptr(),
                                g.hw() as isize,
                                1,
                                0.0,
                                ob.as_mut_ptr(),
                                g.hw() as isize,
                                1,
                            )
                        }
                    }
                });
        });
        report(
            &format!("conv {c_in}->{c_out} forward as im2col + matrixmultiply"),
            flop,
            im2col,
        );
    }
    // the flattened head's fc1: batch x 262144 inputs x 64 outputs
    let (n_in, n_out) = (16 * g.hw(), 64);
    let flop = 2.0 * (batch * n_in * n_out) as f64;
    let x = rand(batch * n_in);
    let w = rand(n_out * n_in);
    let bias = rand(n_out);
    let gout = rand(batch * n_out);
    let mut part = vec![0f32; dense::forward_scratch(batch, n_in, n_out)];
    let mut out = vec![0f32; batch * n_out];
    let f = cpu_rate(secs, || {
        dense::forward(
            isa,
            (batch, n_in, n_out),
            &w,
            &bias,
            true,
            &x,
            &mut part,
            &mut out,
        )
    });
    report(
        "fc1 forward (batch x output tiles, chunks of inputs)",
        flop,
        f,
    );
    let mut gin = vec![0f32; batch * n_in];
    let mut pk = dense::Packed::default();
    let bi = cpu_rate(secs, || {
        dense::backward_input(isa, (batch, n_in, n_out), &w, &gout, &mut gin, &mut pk)
    });
    report("fc1 backward input (column GEMM)", flop, bi);
    let (mut gw, mut gb) = (vec![0f32; n_out * n_in], vec![0f32; n_out]);
    let bw = cpu_rate(secs, || {
        dense::backward_weight(
            isa,
            (batch, n_in, n_out),
            &x,
            &gout,
            &mut gw,
            &mut gb,
            &mut pk,
        )
    });
    report("fc1 backward weight (column GEMM)", flop, bw);
    // a large square GEMM: what matrixmultiply reaches on this machine, split over the threads by rows
    let n = 1024;
    let (am, bm) = (rand(n * n), rand(n * n));
    let mut cm = vec![0f32; n * n];
    let threads = rayon::current_num_threads();
    let rows = n.div_ceil(threads);
    let sq = cpu_rate(secs, || {
        cm.par_chunks_mut(rows * n)
            .zip(am.par_chunks(rows * n))
            .for_each(|(c, a)| {
                let m = c.len() / n;
                // SAFETY: a is m x n, bm n x n, c m x n, row-major and in bounds
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        n,
                        n,
                        1.0,
                        a.as_ptr(),
                        n as isize,
                        1,
                        bm.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            })
    });
    report(
        "square sgemm 1024 (matrixmultiply, rows over threads)",
        2.0 * (n * n * n) as f64,
        sq,
    );
}

fn main() {
    let a = args();
    println!(
        "glasscam CNN GEMMs on the CPU: {} rayon threads, vector unit {}, load {:.1}",
        rayon::current_num_threads(),
        Isa::detect().name(),
        load()
    );
    kernels(&a);
}
