//! The whole MPNN on the GPU, in f32, with every activation kept on the device: the forward pass of `net.rs`
//! (the CPU twin) as one encoder of gnn kernels, one submission, and only the logits and the last update's
//! attention read back. Layer by layer it is the twin's `forward_into`, launch for launch:
//! a = W_i f, h0 = ReLU(W_i f); per update s = segment_sum(h), m = reverse_sub(s, h), u = ReLU(a + W_h m),
//! q = ReLU(W_a u), score = v_a q + c, alpha = segment_softmax(score), h = alpha u; then
//! r = ReLU(W_o [onehot; segment_sum(h)] + b_o), g = segment_mean(r), logits = ffn2(ReLU(ffn1 g)).
//! With a seed (training), dropout after every update, the readout and ffn1, with the twin's masks
//! (`net::layer_seed`, the shared hash).

use std::sync::Arc;

use super::cpu::gnn_edge_features;
use super::gpu::*;
use super::net::{attention_ptr, layer_seed};
use super::{Attention, GraphBatch, MpnnSpec};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::launch::Encoder;

/// A batch of graphs on the device.
pub struct GpuGraphs {
    pub n_edges: usize,
    pub n_nodes: usize,
    pub n_graphs: usize,
    /// Segments of the attention softmax (graphs, or the whole batch).
    pub n_seg: usize,
    pub in_ptr: wgpu::Buffer,
    pub src: wgpu::Buffer,
    pub dst: wgpu::Buffer,
    pub rev: wgpu::Buffer,
    pub att_ptr: wgpu::Buffer,
    pub node_ptr: wgpu::Buffer,
    pub node_graph: wgpu::Buffer,
    pub species: wgpu::Buffer,
    /// Edge input features [E, n_species + 1] (`gnn_edge_features`, computed on the host: they are input data).
    pub f: wgpu::Buffer,
}

/// Activations of one message update on the device (`net::Step`).
pub struct GpuStep {
    pub m: wgpu::Buffer,
    pub u: wgpu::Buffer,
    pub q: wgpu::Buffer,
    pub score: wgpu::Buffer,
    pub alpha: wgpu::Buffer,
    pub h: wgpu::Buffer,
}

/// Every activation of a forward pass on the device (`net::Forward`).
pub struct GpuActs {
    pub a: wgpu::Buffer,
    pub h0: wgpu::Buffer,
    pub steps: Vec<GpuStep>,
    /// Incoming message sums per node (reused by every update and the readout).
    pub s: wgpu::Buffer,
    pub xr: wgpu::Buffer,
    pub r: wgpu::Buffer,
    pub g: wgpu::Buffer,
    pub y1: wgpu::Buffer,
    pub logits: wgpu::Buffer,
}

/// Gradient buffers of a backward pass on the device (`net::Scratch`), and the flat parameter gradient.
pub struct GpuGrads {
    pub dlogits: wgpu::Buffer,
    pub dy1: wgpu::Buffer,
    pub dg: wgpu::Buffer,
    pub dr: wgpu::Buffer,
    pub dxr: wgpu::Buffer,
    pub dh: wgpu::Buffer,
    pub dm: wgpu::Buffer,
    pub du: wgpu::Buffer,
    pub dalpha: wgpu::Buffer,
    pub dscore: wgpu::Buffer,
    pub dq: wgpu::Buffer,
    pub ds: wgpu::Buffer,
    /// Gradient of every parameter, `MpnnSpec::tensors` layout.
    pub grads: wgpu::Buffer,
}

/// What the evaluation forward returns: logits [graphs, classes] and the last update's attention per edge (empty
/// without attention or with depth 1).
#[derive(Clone, Debug, Default)]
pub struct GpuForward {
    pub logits: Vec<f64>,
    pub attention: Vec<f64>,
}

/// The network's parameters on one device.
pub struct GpuMpnn {
    pub ctx: Arc<GpuContext>,
    pub spec: MpnnSpec,
    /// The flat parameter vector (f32, `MpnnSpec::tensors` layout).
    pub params: wgpu::Buffer,
}

impl GpuMpnn {
    pub fn new(ctx: Arc<GpuContext>, spec: MpnnSpec, params: &[f32]) -> Result<GpuMpnn> {
        spec.check()?;
        let params = params_buffer(&ctx, "gnn", spec.n_params(), params)?;
        Ok(GpuMpnn { ctx, spec, params })
    }

    fn off(&self, name: &str) -> usize {
        self.spec.offset(name)
    }

    /// Uploads a batch (its invariants checked first: the kernels index with its pointers unchecked).
    pub fn graphs(&self, b: &GraphBatch) -> Result<GpuGraphs> {
        b.check(self.spec.n_species)?;
        let fe = self.spec.edge_features();
        let mut f = vec![0f32; b.n_edges() * fe];
        gnn_edge_features(
            self.spec.n_species,
            (self.spec.dist_mean, self.spec.dist_std),
            &b.src,
            &b.species,
            &b.dist,
            &mut f,
        );
        let aptr = attention_ptr(&self.spec, b);
        let ctx = &self.ctx;
        Ok(GpuGraphs {
            n_edges: b.n_edges(),
            n_nodes: b.n_nodes(),
            n_graphs: b.n_graphs(),
            n_seg: aptr.len() - 1,
            in_ptr: upload(ctx, "in_ptr", &b.in_ptr)?,
            src: upload(ctx, "src", &b.src)?,
            dst: upload(ctx, "dst", &b.dst)?,
            rev: upload(ctx, "rev", &b.rev)?,
            att_ptr: upload(ctx, "att_ptr", &aptr)?,
            node_ptr: upload(ctx, "node_ptr", &b.node_ptr)?,
            node_graph: upload(ctx, "node_graph", &b.node_graph())?,
            species: upload(ctx, "species", &b.species)?,
            f: upload(ctx, "edge features", &f)?,
        })
    }

    /// Device buffers for every activation of a forward pass over `g`.
    pub fn acts(&self, g: &GpuGraphs) -> Result<GpuActs> {
        let (h, ns) = (self.spec.hidden, self.spec.n_species);
        let (ne, nv, ng) = (g.n_edges, g.n_nodes, g.n_graphs);
        let z = |label: &str, n: usize| zeroed(&self.ctx, label, n);
        let att = self.spec.attention != Attention::Off;
        let steps = (1..self.spec.depth)
            .map(|_| {
                Ok(GpuStep {
                    m: z("m", ne * h)?,
                    u: z("u", ne * h)?,
                    q: z("q", if att { ne * h } else { 0 })?,
                    score: z("score", if att { ne } else { 0 })?,
                    alpha: z("alpha", if att { ne } else { 0 })?,
                    h: z("h", ne * h)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GpuActs {
            a: z("a", ne * h)?,
            h0: z("h0", ne * h)?,
            steps,
            s: z("s", nv * h)?,
            xr: z("xr", nv * (ns + h))?,
            r: z("r", nv * h)?,
            g: z("g", ng * h)?,
            y1: z("y1", ng * h)?,
            logits: z("logits", ng * self.spec.classes)?,
        })
    }

    /// Records dropout of layer `layer` (`net::layer_seed`) on the `n` values of `buf`, in place, when `seed` is
    /// given and the network has dropout; forward on an activation, backward on its gradient (the same mask).
    fn encode_dropout(
        &self,
        enc: &mut Encoder,
        seed: Option<u32>,
        layer: usize,
        n: usize,
        buf: &wgpu::Buffer,
    ) -> Result<()> {
        match seed {
            Some(s) if self.spec.dropout > 0.0 => {
                let p = GnnParams {
                    seed: layer_seed(s, layer),
                    p: self.spec.dropout as f32,
                    ..rw(n, 1)
                };
                launch(&self.ctx, enc, &GNN_DROPOUT, p, &[buf])
            }
            _ => Ok(()),
        }
    }

    /// Records the forward pass over `g` into `enc`, writing `x`; `seed` = Some(s) turns dropout on (training).
    pub fn encode_forward(
        &self,
        enc: &mut Encoder,
        g: &GpuGraphs,
        x: &GpuActs,
        seed: Option<u32>,
    ) -> Result<()> {
        let (h, ns, fe) = (
            self.spec.hidden,
            self.spec.n_species,
            self.spec.edge_features(),
        );
        let (ne, nv, ng) = (g.n_edges, g.n_nodes, g.n_graphs);
        let ctx = &self.ctx;
        let p = &self.params;
        let wi = self.off("W_i.weight");
        launch(
            ctx,
            enc,
            &GNN_LINEAR,
            lin(ne, fe, h, wi, 0, 0),
            &[p, &g.f, &x.a],
        )?;
        // h0 = ReLU(W_i f) by a second pass of the 3-input layer rather than a ReLU kernel over a: same cost
        launch(
            ctx,
            enc,
            &GNN_LINEAR,
            lin(ne, fe, h, wi, 0, RELU),
            &[p, &g.f, &x.h0],
        )?;
        let bytes = (ne * h * 4) as u64;
        for t in 0..x.steps.len() {
            let prev = if t == 0 { &x.h0 } else { &x.steps[t - 1].h };
            let st = &x.steps[t];
            launch(
                ctx,
                enc,
                &GNN_SEGMENT_SUM,
                rw(nv, h),
                &[&g.in_ptr, prev, &x.s],
            )?;
            launch(
                ctx,
                enc,
                &GNN_REVERSE_SUB,
                rw(ne, h),
                &[&g.src, &g.rev, &x.s, prev, &st.m],
            )?;
            // u = ReLU(a + W_h m): a copied in, the Linear adds onto it
            enc.copy(&x.a, &st.u, bytes);
            let wh = lin(ne, h, h, self.off("W_h.weight"), 0, ACC | RELU);
            launch(ctx, enc, &GNN_LINEAR, wh, &[p, &st.m, &st.u])?;
            if self.spec.attention == Attention::Off {
                enc.copy(&st.u, &st.h, bytes);
                self.encode_dropout(enc, seed, t + 1, ne * h, &st.h)?;
                continue;
            }
            let wa = lin(ne, h, h, self.off("W_a.weight"), 0, RELU);
            launch(ctx, enc, &GNN_LINEAR, wa, &[p, &st.u, &st.q])?;
            let va = lin(ne, h, 1, self.off("v_a.weight"), self.off("v_a.bias"), BIAS);
            launch(ctx, enc, &GNN_LINEAR, va, &[p, &st.q, &st.score])?;
            launch(
                ctx,
                enc,
                &GNN_SEGMENT_SOFTMAX,
                rw(g.n_seg, 1),
                &[&g.att_ptr, &st.score, &st.alpha],
            )?;
            launch(
                ctx,
                enc,
                &GNN_SCALE_ROWS,
                rw(ne, h),
                &[&st.alpha, &st.u, &st.h],
            )?;
            self.encode_dropout(enc, seed, t + 1, ne * h, &st.h)?;
        }
        let last = x.steps.last().map(|s| &s.h).unwrap_or(&x.h0);
        launch(
            ctx,
            enc,
            &GNN_SEGMENT_SUM,
            rw(nv, h),
            &[&g.in_ptr, last, &x.s],
        )?;
        let ro = GnnParams {
            col: ns as u32,
            ..rw(nv, h)
        };
        launch(ctx, enc, &GNN_READOUT_INPUT, ro, &[&g.species, &x.s, &x.xr])?;
        let wo = lin(
            nv,
            ns + h,
            h,
            self.off("W_o.weight"),
            self.off("W_o.bias"),
            BIAS | RELU,
        );
        launch(ctx, enc, &GNN_LINEAR, wo, &[p, &x.xr, &x.r])?;
        let depth = self.spec.depth;
        self.encode_dropout(enc, seed, depth, nv * h, &x.r)?;
        launch(
            ctx,
            enc,
            &GNN_SEGMENT_MEAN,
            rw(ng, h),
            &[&g.node_ptr, &x.r, &x.g],
        )?;
        let f1 = lin(
            ng,
            h,
            h,
            self.off("ffn1.weight"),
            self.off("ffn1.bias"),
            BIAS | RELU,
        );
        launch(ctx, enc, &GNN_LINEAR, f1, &[p, &x.g, &x.y1])?;
        self.encode_dropout(enc, seed, depth + 1, ng * h, &x.y1)?;
        let f2 = lin(
            ng,
            h,
            self.spec.classes,
            self.off("ffn2.weight"),
            self.off("ffn2.bias"),
            BIAS,
        );
        launch(ctx, enc, &GNN_LINEAR, f2, &[p, &x.y1, &x.logits])
    }

    /// Device buffers for the backward pass over `g`.
    pub fn grad_buffers(&self, g: &GpuGraphs) -> Result<GpuGrads> {
        let (h, ns) = (self.spec.hidden, self.spec.n_species);
        let (ne, nv, ng) = (g.n_edges, g.n_nodes, g.n_graphs);
        let z = |label: &str, n: usize| zeroed(&self.ctx, label, n);
        Ok(GpuGrads {
            dlogits: z("dlogits", ng * self.spec.classes)?,
            dy1: z("dy1", ng * h)?,
            dg: z("dg", ng * h)?,
            dr: z("dr", nv * h)?,
            dxr: z("dxr", nv * (ns + h))?,
            dh: z("dh", ne * h)?,
            dm: z("dm", ne * h)?,
            du: z("du", ne * h)?,
            dalpha: z("dalpha", ne)?,
            dscore: z("dscore", ne)?,
            dq: z("dq", ne * h)?,
            ds: z("ds", nv * h)?,
            grads: z("grads", self.spec.n_params())?,
        })
    }

    /// Records the backward pass (`net::backward_with`, launch for launch) into `enc`: from `d.dlogits` (written
    /// by the caller) through the activations `x` of a forward pass over `g` to `d.grads`, which is cleared
    /// first and then summed into (W_h and W_a are shared by the updates). W_i's gradient is summed per use of
    /// its pre-activation a (the skip into every update, and h0) rather than from a summed da: the same sum in
    /// another order, without a buffer and an add kernel.
    pub fn encode_backward(
        &self,
        enc: &mut Encoder,
        g: &GpuGraphs,
        x: &GpuActs,
        d: &GpuGrads,
        seed: Option<u32>,
    ) -> Result<()> {
        let (h, ns, fe, nc) = (
            self.spec.hidden,
            self.spec.n_species,
            self.spec.edge_features(),
            self.spec.classes,
        );
        let (ne, nv, ng) = (g.n_edges, g.n_nodes, g.n_graphs);
        let ctx = &self.ctx;
        let p = &self.params;
        let off = |n: &str| self.off(n);
        // the weight (and bias) gradient of one Linear, summed into d.grads
        let wgrad = |enc: &mut Encoder,
                     rows: usize,
                     (n_in, n_out): (usize, usize),
                     (w, b): (&str, Option<&str>),
                     xb: &wgpu::Buffer,
                     dy: &wgpu::Buffer| {
            let flags = ACC | if b.is_some() { BIAS } else { 0 };
            let bo = b.map_or(0, off);
            let q = lin(rows, n_in, n_out, off(w), bo, flags);
            launch(
                ctx,
                enc,
                &GNN_LINEAR_BACKWARD_WEIGHT,
                q,
                &[xb, dy, &d.grads],
            )
        };
        let dinput = |enc: &mut Encoder,
                      rows: usize,
                      (n_in, n_out): (usize, usize),
                      w: &str,
                      flags: u32,
                      dy: &wgpu::Buffer,
                      dx: &wgpu::Buffer| {
            let q = lin(rows, n_in, n_out, off(w), 0, flags);
            launch(ctx, enc, &GNN_LINEAR_BACKWARD_INPUT, q, &[p, dy, dx])
        };
        let relu_b = |enc: &mut Encoder, n: usize, act: &wgpu::Buffer, gr: &wgpu::Buffer| {
            launch(ctx, enc, &GNN_RELU_BACKWARD, rw(n, 1), &[act, gr])
        };
        enc.clear(&d.grads);
        // head
        let f2 = ("ffn2.weight", Some("ffn2.bias"));
        wgrad(enc, ng, (h, nc), f2, &x.y1, &d.dlogits)?;
        dinput(enc, ng, (h, nc), f2.0, 0, &d.dlogits, &d.dy1)?;
        let depth = self.spec.depth;
        self.encode_dropout(enc, seed, depth + 1, ng * h, &d.dy1)?;
        relu_b(enc, ng * h, &x.y1, &d.dy1)?;
        let f1 = ("ffn1.weight", Some("ffn1.bias"));
        wgrad(enc, ng, (h, h), f1, &x.g, &d.dy1)?;
        dinput(enc, ng, (h, h), f1.0, 0, &d.dy1, &d.dg)?;
        // readout
        let mb = &[&g.node_ptr, &g.node_graph, &d.dg, &d.dr];
        launch(ctx, enc, &GNN_SEGMENT_MEAN_BACKWARD, rw(nv, h), mb)?;
        self.encode_dropout(enc, seed, depth, nv * h, &d.dr)?;
        relu_b(enc, nv * h, &x.r, &d.dr)?;
        let wo = ("W_o.weight", Some("W_o.bias"));
        wgrad(enc, nv, (ns + h, h), wo, &x.xr, &d.dr)?;
        dinput(enc, nv, (ns + h, h), wo.0, 0, &d.dr, &d.dxr)?;
        let sb = GnnParams {
            col: ns as u32,
            ..rw(ne, h)
        };
        launch(
            ctx,
            enc,
            &GNN_SEGMENT_SUM_BACKWARD,
            sb,
            &[&g.dst, &d.dxr, &d.dh],
        )?;
        let bytes = (ne * h * 4) as u64;
        let wi = ("W_i.weight", None);
        for (i, st) in x.steps.iter().enumerate().rev() {
            self.encode_dropout(enc, seed, i + 1, ne * h, &d.dh)?;
            if self.spec.attention != Attention::Off {
                let sr = &[&st.alpha, &st.u, &d.dh, &d.dalpha, &d.du];
                launch(ctx, enc, &GNN_SCALE_ROWS_BACKWARD, rw(ne, h), sr)?;
                let sm = &[&g.att_ptr, &st.alpha, &d.dalpha, &d.dscore];
                launch(ctx, enc, &GNN_SEGMENT_SOFTMAX_BACKWARD, rw(g.n_seg, 1), sm)?;
                let va = ("v_a.weight", Some("v_a.bias"));
                wgrad(enc, ne, (h, 1), va, &st.q, &d.dscore)?;
                dinput(enc, ne, (h, 1), va.0, 0, &d.dscore, &d.dq)?;
                relu_b(enc, ne * h, &st.q, &d.dq)?;
                wgrad(enc, ne, (h, h), ("W_a.weight", None), &st.u, &d.dq)?;
                dinput(enc, ne, (h, h), "W_a.weight", ACC, &d.dq, &d.du)?;
            } else {
                enc.copy(&d.dh, &d.du, bytes);
            }
            relu_b(enc, ne * h, &st.u, &d.du)?;
            // u = ReLU(a + W_h m): du reaches a (and so W_i) and W_h
            wgrad(enc, ne, (fe, h), wi, &g.f, &d.du)?;
            wgrad(enc, ne, (h, h), ("W_h.weight", None), &st.m, &d.du)?;
            dinput(enc, ne, (h, h), "W_h.weight", 0, &d.du, &d.dm)?;
            let rb = &[&g.in_ptr, &g.rev, &d.dm, &d.ds];
            launch(ctx, enc, &GNN_REVERSE_SUB_BACKWARD, rw(nv, h), rb)?;
            // dh = ds[dst] - dm[rev]: gnn_reverse_sub with dst for src
            let rs = &[&g.dst, &g.rev, &d.ds, &d.dm, &d.dh];
            launch(ctx, enc, &GNN_REVERSE_SUB, rw(ne, h), rs)?;
        }
        // h0 = ReLU(a)
        relu_b(enc, ne * h, &x.h0, &d.dh)?;
        wgrad(enc, ne, (fe, h), wi, &g.f, &d.dh)
    }

    /// The evaluation forward over `b`: uploaded, one submission, then the logits and the last attention read
    /// back.
    pub fn forward(&self, b: &GraphBatch) -> Result<GpuForward> {
        let g = self.graphs(b)?;
        let x = self.acts(&g)?;
        self.eval(&g, &x)
    }

    /// The evaluation forward over graphs already on the device, into `x`.
    pub fn eval(&self, g: &GpuGraphs, x: &GpuActs) -> Result<GpuForward> {
        let mut enc = self.ctx.encoder("gnn forward");
        self.encode_forward(&mut enc, g, x, None)?;
        enc.submit();
        let logits = read(&self.ctx, &x.logits, g.n_graphs * self.spec.classes)?;
        let attention = match x.steps.last() {
            Some(st) if self.spec.attention != Attention::Off => {
                read(&self.ctx, &st.alpha, g.n_edges)?
            }
            _ => Vec::new(),
        };
        Ok(GpuForward { logits, attention })
    }
}

/// A batch ready for a training step on the device: its graphs, activations and gradient buffers.
pub struct GpuBatch {
    pub g: GpuGraphs,
    pub x: GpuActs,
    pub d: GpuGrads,
}

impl GpuMpnn {
    /// Uploads `b` and allocates the buffers of a training step over it.
    pub fn batch(&self, b: &GraphBatch) -> Result<GpuBatch> {
        let g = self.graphs(b)?;
        let x = self.acts(&g)?;
        let d = self.grad_buffers(&g)?;
        Ok(GpuBatch { g, x, d })
    }

    /// Forward, loss and backward over `bb` with labels `labels` and dropout seed `seed` (None: no dropout),
    /// leaving the gradient in `bb.d.grads`; returns
    /// (per-graph losses, logits). The loss is the twin's (`net::loss`, the CNN's softmax cross-entropy) on the
    /// host: the logits are a few values per batch and the loss is wanted on the host anyway, so one readback
    /// between the forward and the backward submission costs less than a kernel of another family.
    pub fn loss_and_grads(
        &self,
        bb: &GpuBatch,
        labels: &[u32],
        seed: Option<u32>,
    ) -> Result<(Vec<f64>, Vec<f64>)> {
        if labels.len() != bb.g.n_graphs {
            return Err(KernelError::Input {
                kernel: "gnn".into(),
                message: format!("{} labels for {} graphs", labels.len(), bb.g.n_graphs),
            });
        }
        let ctx = &self.ctx;
        let mut enc = ctx.encoder("gnn forward");
        self.encode_forward(&mut enc, &bb.g, &bb.x, seed)?;
        enc.submit();
        let logits = read(ctx, &bb.x.logits, bb.g.n_graphs * self.spec.classes)?;
        let (losses, dlogits) = super::net::loss(&self.spec, &logits, labels);
        let d32: Vec<f32> = dlogits.iter().map(|&x| x as f32).collect();
        ctx.queue
            .write_buffer(&bb.d.dlogits, 0, bytemuck::cast_slice(&d32));
        let mut enc = ctx.encoder("gnn backward");
        self.encode_backward(&mut enc, &bb.g, &bb.x, &bb.d, seed)?;
        enc.submit();
        Ok((losses, logits))
    }
}

/// Adam on the device for a `GpuMpnn`: the nn family's `adam` kernel on the flat parameter and gradient buffers,
/// its moments kept on the device.
pub struct GpuAdam {
    nn: Arc<crate::nn::gpu::NnGpu>,
    m: wgpu::Buffer,
    v: wgpu::Buffer,
    n: usize,
}

impl GpuAdam {
    pub fn new(net: &GpuMpnn) -> Result<GpuAdam> {
        let n = net.spec.n_params();
        Ok(GpuAdam {
            nn: crate::nn::gpu::NnGpu::shared(&net.ctx)?,
            m: zeroed(&net.ctx, "adam m", n)?,
            v: zeroed(&net.ctx, "adam v", n)?,
            n,
        })
    }

    /// One Adam step t (1-based) of `net`'s parameters along `grads` with learning rate `lr` (the schedule's).
    pub fn step(&self, net: &GpuMpnn, grads: &wgpu::Buffer, lr: f64, t: u64) -> Result<()> {
        let spec = crate::nn::AdamSpec {
            lr,
            ..Default::default()
        };
        self.nn.run(&[crate::nn::gpu::Launch {
            kernel: &crate::nn::kernels::ADAM,
            p: spec.params(self.n, t),
            bufs: vec![grads, &net.params, &self.m, &self.v],
        }])
    }
}

/// A storage buffer holding `data`, refused when the device cannot bind it.
fn upload<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
    ctx.upload("gnn", label, data)
}

/// A zeroed f32 storage buffer of `n` values, refused when the device cannot bind it.
fn zeroed(ctx: &GpuContext, label: &str, n: usize) -> Result<wgpu::Buffer> {
    ctx.zeroed("gnn", label, n as u64 * 4)
}

/// The first `n` f32 values of `buf`, as f64.
pub fn read(ctx: &GpuContext, buf: &wgpu::Buffer, n: usize) -> Result<Vec<f64>> {
    ctx.read_f64("gnn", buf, n)
}
