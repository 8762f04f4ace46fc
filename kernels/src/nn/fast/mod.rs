//! The CNN's f32 CPU backend, the default CPU path (`Precision::F32`): the same plans as the f64 twin
//! (`nn::cpu`, the reference it is tested against), each op run by a kernel tuned for the CPU: convolutions as
//! implicit GEMMs on circularly padded planes with register tiles for the vector unit (`conv`), dense layers as
//! batched GEMMs (`dense`), f32 element-wise passes (`ops`) and a separable scatter gridization (`grid`).
//! Buffers are allocated once for the batch capacity and reused; work runs in parallel over images, channel
//! blocks and fixed chunks, each sum in a fixed order, so results do not depend on the thread count.

pub mod conv;
pub mod dense;
pub mod grid;
pub mod ops;
pub mod peak;
pub mod simd;

use std::collections::HashMap;

pub use simd::Isa;

use super::common::{Buf, NnParams, PlanOp};
use crate::error::{KernelError, Result};
use crate::kernel::Binding;
use conv::{Conv, Geom, WGrad};

/// A raw output pointer shared by tasks that write disjoint parts of one buffer.
#[derive(Clone, Copy)]
pub struct SyncPtr(pub *mut f32);
// SAFETY: every user writes a part of the buffer that no other task touches (each says which)
unsafe impl Send for SyncPtr {}
// SAFETY: as for Send
unsafe impl Sync for SyncPtr {}

impl SyncPtr {
    /// The element `i` places on (a method, so that closures capture the `SyncPtr`, not its raw field).
    pub fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

/// Work space reused by every step.
#[derive(Default)]
struct Scratch {
    /// Padded planes of a convolution's source.
    pad: Vec<f32>,
    /// Packed convolution weights and the taps' offsets.
    wpk: Vec<f32>,
    offs: Vec<usize>,
    /// Per-image weight-gradient partial sums, and per-image channel sums (bias gradients).
    part: Vec<f32>,
    bias_part: Vec<f32>,
    /// Per-chunk partial sums of a dense layer's forward pass, and the packed operands of its gradients.
    dense: Vec<f32>,
    packed: dense::Packed,
}

/// The buffers kept on the host side of the plan's vocabulary: labels as u32, losses and the epoch's tally in f64.
#[derive(Default)]
struct Host {
    labels: Vec<u32>,
    loss: Vec<f64>,
    tally: [f64; 2],
}

/// The f32 backend's storage for a plan: one f32 vector per logical buffer (`Host` holds the others).
pub struct FastExec {
    /// The vector unit the kernels run on.
    pub isa: Isa,
    bufs: HashMap<Buf, Vec<f32>>,
    host: Host,
    scratch: Scratch,
}

fn missing(b: Buf) -> KernelError {
    KernelError::Input {
        kernel: "nn".into(),
        message: format!("buffer {b:?} was never allocated"),
    }
}

/// Grows `v` to at least `n` elements (never shrinks, so a step after the first allocates nothing).
fn at_least<T: Clone + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

impl FastExec {
    pub fn new(isa: Isa) -> FastExec {
        FastExec {
            isa,
            bufs: HashMap::new(),
            host: Host::default(),
            scratch: Scratch::default(),
        }
    }

    pub fn alloc(&mut self, b: Buf, len: usize) {
        match b {
            Buf::Labels => self.host.labels = vec![0; len],
            Buf::Loss => self.host.loss = vec![0.0; len],
            Buf::Tally => self.host.tally = [0.0; 2],
            b => {
                self.bufs.insert(b, vec![0.0; len]);
            }
        }
    }

    /// Writes `data` at the start of buffer `b` (growing it if needed).
    pub fn write(&mut self, b: Buf, data: &[f32]) {
        match b {
            Buf::Labels => self.host.labels = data.iter().map(|&x| x as u32).collect(),
            Buf::Loss => {
                at_least(&mut self.host.loss, data.len())
                    .iter_mut()
                    .zip(data)
                    .for_each(|(d, &s)| *d = s as f64);
            }
            Buf::Tally => {
                for (d, &s) in self.host.tally.iter_mut().zip(data) {
                    *d = s as f64;
                }
            }
            b => at_least(self.bufs.entry(b).or_default(), data.len()).copy_from_slice(data),
        }
    }

    pub fn write_labels(&mut self, labels: &[u32]) {
        self.host.labels.clear();
        self.host.labels.extend_from_slice(labels);
    }

    /// The first `len` values of buffer `b` (fewer if it is shorter), as f64.
    pub fn read(&self, b: Buf, len: usize) -> Result<Vec<f64>> {
        Ok(match b {
            Buf::Labels => self
                .host
                .labels
                .iter()
                .take(len)
                .map(|&x| x as f64)
                .collect(),
            Buf::Loss => self.host.loss.iter().take(len).copied().collect(),
            Buf::Tally => self.host.tally.iter().take(len).copied().collect(),
            b => {
                let v = self.bufs.get(&b).ok_or_else(|| missing(b))?;
                v[..len.min(v.len())].iter().map(|&x| x as f64).collect()
            }
        })
    }

    /// Buffer `b` for writing in place (the input stage gridizes into Act(0)).
    pub fn buf_mut(&mut self, b: Buf) -> Result<&mut Vec<f32>> {
        self.bufs.get_mut(&b).ok_or_else(|| missing(b))
    }

    fn take(&mut self, b: Buf) -> Result<Vec<f32>> {
        self.bufs.remove(&b).ok_or_else(|| missing(b))
    }

    /// Runs one op of a plan: the kernel of the op's name on the buffers it binds (those it writes are taken out
    /// of the map while it runs and put back).
    pub fn run_op(&mut self, op: &PlanOp) -> Result<()> {
        let k = op.kernel;
        let bad = |message: String| KernelError::Input {
            kernel: k.name.into(),
            message,
        };
        if op.bufs.len() + 1 != k.bindings.len() {
            return Err(bad(format!(
                "{} buffers bound, the kernel has {}",
                op.bufs.len(),
                k.bindings.len() - 1
            )));
        }
        // the map's buffers the op writes (labels, losses and the tally are fields), at most three (Adam's)
        let mut written = [None; 3];
        let mut n = 0;
        for (bind, &b) in k.bindings[1..].iter().zip(&op.bufs) {
            if bind.access == Binding::ReadWrite
                && !matches!(b, Buf::Loss | Buf::Tally | Buf::Labels)
            {
                if n == written.len() {
                    return Err(bad("more written buffers than any nn kernel has".into()));
                }
                written[n] = Some(b);
                n += 1;
            }
        }
        let mut w: [Vec<f32>; 3] = Default::default();
        for (slot, b) in w.iter_mut().zip(&written[..n]) {
            *slot = self.take(b.expect("counted"))?;
        }
        let r = run_kernel(
            self.isa,
            &self.bufs,
            &mut self.scratch,
            &mut self.host,
            op,
            &mut w[..n],
        );
        for (v, b) in w.into_iter().zip(&written[..n]) {
            self.bufs.insert(b.expect("counted"), v);
        }
        r.map_err(bad)
    }
}

/// What the op reads and writes: `map` holds the buffers it reads, `w` those it writes in binding order.
fn run_kernel(
    isa: Isa,
    map: &HashMap<Buf, Vec<f32>>,
    s: &mut Scratch,
    host: &mut Host,
    op: &PlanOp,
    w: &mut [Vec<f32>],
) -> std::result::Result<(), String> {
    let p = &op.p;
    let bufs = &op.bufs;
    let batch = p.batch as usize;
    let get = |i: usize| {
        map.get(&bufs[i])
            .map(|v| &v[..])
            .ok_or_else(|| format!("buffer {:?} was never allocated", bufs[i]))
    };
    let out = match w.first_mut() {
        Some(v) => &mut v[..],
        None => &mut [][..],
    };
    match op.kernel.name {
        "conv2d_forward" | "conv2d_backward_input" => {
            let forward = op.kernel.name == "conv2d_forward";
            let (c_in, c_out) = (p.c_in as usize, p.c_out as usize);
            let g = geom(p);
            let (n_src, n_out) = if forward {
                (c_in, c_out)
            } else {
                (c_out, c_in)
            };
            let params = get(0)?;
            let src = get(1)?;
            let tile = conv::tile(isa);
            let nw = c_out * c_in * g.k * g.k;
            let pad_len = batch * n_src * g.padded();
            // forward reads input (y + ky - pad); backward input reads gout (y + pad - ky) through the flipped
            // kernel, a padding of k - 1 - pad
            let off = if forward {
                p.pad as usize
            } else {
                g.k - 1 - p.pad as usize
            };
            conv::pad(
                g,
                &src[..batch * n_src * g.hw()],
                at_least(&mut s.pad, pad_len),
                off,
            );
            conv::pack(
                &params[p.w_off as usize..][..nw],
                (c_in, c_out, g.k),
                tile.0,
                !forward,
                &mut s.wpk,
            );
            conv::tap_offsets(g, n_src, &mut s.offs);
            let c = Conv {
                g,
                n_src,
                n_out,
                tile,
                src: &s.pad[..pad_len],
                offs: &s.offs,
                wpk: &s.wpk,
                bias: forward.then(|| &params[p.b_off as usize..][..c_out]),
                relu: forward && p.act == 1,
            };
            conv::conv(isa, &c, batch, out);
        }
        "conv2d_backward_weight" => {
            let (c_in, c_out) = (p.c_in as usize, p.c_out as usize);
            let g = geom(p);
            let pad_len = batch * c_in * g.padded();
            conv::pad(
                g,
                &get(0)?[..batch * c_in * g.hw()],
                at_least(&mut s.pad, pad_len),
                p.pad as usize,
            );
            let wg = WGrad {
                g,
                c_in,
                c_out,
                mc: conv::wgrad_channels(isa),
                src: &s.pad[..pad_len],
                gout: &get(1)?[..batch * c_out * g.hw()],
            };
            conv::wgrad(
                isa,
                &wg,
                batch,
                at_least(&mut s.part, batch * wg.part_len()),
            );
            let bias_part = at_least(&mut s.bias_part, batch * c_out);
            ops::plane_sums(isa, wg.gout, g.hw(), 1.0, bias_part);
            let (gw, gb) = out.split_at_mut(p.b_off as usize);
            conv::wgrad_reduce(
                &wg,
                batch,
                &s.part,
                &s.bias_part,
                &mut gw[p.w_off as usize..],
                gb,
            );
        }
        "relu_backward" => {
            let n = p.n as usize;
            ops::relu_backward(isa, &get(0)?[..n], &mut out[..n]);
        }
        "dense_forward" => {
            let dims = dense_dims(p);
            let part = at_least(&mut s.dense, dense::forward_scratch(dims.0, dims.1, dims.2));
            let params = get(0)?;
            dense::forward(
                isa,
                dims,
                &params[p.w_off as usize..],
                &params[p.b_off as usize..],
                p.act == 1,
                get(1)?,
                part,
                out,
            );
        }
        "dense_backward_input" => dense::backward_input(
            isa,
            dense_dims(p),
            &get(0)?[p.w_off as usize..],
            get(1)?,
            out,
            &mut s.packed,
        ),
        "dense_backward_weight" => {
            let (gw, gb) = out.split_at_mut(p.b_off as usize);
            dense::backward_weight(
                isa,
                dense_dims(p),
                get(0)?,
                get(1)?,
                &mut gw[p.w_off as usize..],
                gb,
                &mut s.packed,
            );
        }
        "dropout" => ops::dropout(p, out),
        "softmax_xent" => {
            let loss = at_least(&mut host.loss, batch);
            ops::softmax_xent(p, get(0)?, &host.labels, loss, out);
        }
        "adam" => {
            let [params, m, v] = w else {
                return Err("Adam writes three buffers".into());
            };
            ops::adam(isa, p, get(0)?, params, m, v);
        }
        "gradcam" => {
            let (c, hw) = (p.c_in as usize, (p.h * p.w) as usize);
            ops::gradcam(isa, get(0)?, get(1)?, c, hw, &mut out[..batch * hw]);
        }
        "mean_pool" => {
            let (c, hw) = (p.c_in as usize, (p.h * p.w) as usize);
            let input = &get(0)?[..batch * c * hw];
            ops::plane_sums(isa, input, hw, 1.0 / hw as f32, &mut out[..batch * c]);
        }
        "mean_pool_backward" => {
            let (c, hw) = (p.c_in as usize, (p.h * p.w) as usize);
            ops::mean_pool_backward(&get(0)?[..batch * c], hw, &mut out[..batch * c * hw]);
        }
        "standardize" => {
            let hw = (p.h * p.w) as usize;
            ops::standardize(get(0)?, p.n_species as usize, hw, &mut out[..p.n as usize]);
        }
        "epoch_tally" => {
            super::cpu::epoch_tally(p, &host.loss, get(1)?, &host.labels, &mut host.tally);
        }
        other => {
            return Err(format!(
                "{other} is not run from a plan on the f32 backend (the host runs its input stage)"
            ))
        }
    }
    Ok(())
}

fn geom(p: &NnParams) -> Geom {
    Geom {
        h: p.h as usize,
        w: p.w as usize,
        k: p.k as usize,
    }
}

fn dense_dims(p: &NnParams) -> (usize, usize, usize) {
    (p.batch as usize, p.n_in as usize, p.n_out as usize)
}
