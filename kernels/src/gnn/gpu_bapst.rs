//! Bapst's propensity network on the GPU, in f32, with every activation kept on the device: the forward pass,
//! the masked squared error and the backward of `bapst.rs` (the CPU twin), launch for launch, as one encoder
//! each; only the per-value squared errors and the parameter gradient are read back. Adam (with the global-norm
//! clip, which needs the whole gradient) runs on the host on the f64 master copy of the parameters.

use std::sync::Arc;

use super::bapst::{edge_inputs, node_inputs, scored_weights, GnGraph, GnSpec, Lin};
use super::gpu::*;
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::launch::Encoder;

/// The network's parameters on one device.
pub struct GpuGn {
    pub ctx: Arc<GpuContext>,
    pub spec: GnSpec,
    /// The flat parameter vector (f32, `GnSpec::tensors` layout).
    pub params: wgpu::Buffer,
}

/// The activations of one message-passing step on the device (`bapst::GnStep`).
pub struct GpuGnStep {
    pub ein: wgpu::Buffer,
    pub edge: Vec<wgpu::Buffer>,
    pub nin: wgpu::Buffer,
    pub node: Vec<wgpu::Buffer>,
}

/// A batch on the device: its graph and inputs, every activation of a forward pass and the gradient buffers.
pub struct GpuGnBatch {
    pub n_nodes: usize,
    pub n_edges: usize,
    /// 1 over the scored values (`bapst::scored_weights`).
    pub norm: f64,
    in_ptr: wgpu::Buffer,
    src: wgpu::Buffer,
    dst: wgpu::Buffer,
    rev: wgpu::Buffer,
    xv: wgpu::Buffer,
    xe: wgpu::Buffer,
    w: wgpu::Buffer,
    target: wgpu::Buffer,
    node_enc: Vec<wgpu::Buffer>,
    edge_enc: Vec<wgpu::Buffer>,
    steps: Vec<GpuGnStep>,
    decoder: Vec<wgpu::Buffer>,
    xcat: wgpu::Buffer,
    s: wgpu::Buffer,
    sq: wgpu::Buffer,
    dy: wgpu::Buffer,
    grads: wgpu::Buffer,
    // gradients: of a node output and an edge output, their encoder sums, the next step's edge input, temporaries
    dv: wgpu::Buffer,
    de: wgpu::Buffer,
    dv_enc: wgpu::Buffer,
    de_enc: wgpu::Buffer,
    de_next: wgpu::Buffer,
    ds: wgpu::Buffer,
    dxcat: wgpu::Buffer,
    dnin: wgpu::Buffer,
    dein: wgpu::Buffer,
    tv: [wgpu::Buffer; 2],
    te: [wgpu::Buffer; 2],
}

/// Parameters of a column copy of `width` values per row from column `ic` of rows of `xs` values to column `oc`
/// of rows of `os` values (`gnn_columns`).
fn cols(
    rows: usize,
    width: usize,
    (xs, ic): (usize, usize),
    (os, oc): (usize, usize),
    acc: bool,
) -> GnnParams {
    GnnParams {
        n_in: xs as u32,
        n_out: os as u32,
        col: ic as u32,
        out_col: oc as u32,
        flags: if acc { ACC } else { 0 },
        ..rw(rows, width)
    }
}

/// Parameters of Linear `l` over `rows` rows with `flags`.
fn linear(rows: usize, l: &Lin, flags: u32) -> GnnParams {
    lin(rows, l.n_in, l.n_out, l.w, l.b, flags)
}

impl GpuGn {
    pub fn new(ctx: Arc<GpuContext>, spec: GnSpec, params: &[f32]) -> Result<GpuGn> {
        spec.check()?;
        let params = params_buffer(&ctx, "gn", spec.n_params(), params)?;
        Ok(GpuGn { ctx, spec, params })
    }

    /// Replaces the parameters on the device (after a host optimiser step).
    pub fn set_params(&self, params: &[f32]) {
        self.ctx
            .queue
            .write_buffer(&self.params, 0, bytemuck::cast_slice(params));
    }

    /// Uploads batch `g` (its invariants checked first: the kernels index with its pointers unchecked), with the
    /// nodes of species `scored` in the loss, and allocates the buffers of a training step over it.
    pub fn batch(&self, g: &GnGraph, scored: u32) -> Result<GpuGnBatch> {
        let b = &g.graph;
        b.check(self.spec.n_species)?;
        g.check_inputs(&self.spec)?;
        let (h, t) = (self.spec.hidden, self.spec.outputs);
        let (nv, ne) = (b.n_nodes(), b.n_edges());
        let ctx = &self.ctx;
        let xv: Vec<f32> = node_inputs(&self.spec, g);
        let xe: Vec<f32> = edge_inputs(g);
        let (w, norm) = scored_weights::<f32>(b, scored, t);
        let z = |label: &str, n: usize| ctx.zeroed("gn", label, n as u64 * 4);
        let up_u = |label: &str, v: &[u32]| ctx.upload("gn", label, v);
        let widths = |rows: usize, ls: &[Lin]| -> Result<Vec<wgpu::Buffer>> {
            ls.iter().map(|l| z("activation", rows * l.n_out)).collect()
        };
        let ls = self.spec.layers();
        let steps = (0..self.spec.steps)
            .map(|_| {
                Ok(GpuGnStep {
                    ein: z("ein", ne * 6 * h)?,
                    edge: widths(ne, &ls[2])?,
                    nin: z("nin", nv * 3 * h)?,
                    node: widths(nv, &ls[3])?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GpuGnBatch {
            n_nodes: nv,
            n_edges: ne,
            norm,
            in_ptr: up_u("in_ptr", &b.in_ptr)?,
            src: up_u("src", &b.src)?,
            dst: up_u("dst", &b.dst)?,
            rev: up_u("rev", &b.rev)?,
            xv: ctx.upload("gn", "node inputs", &xv)?,
            xe: ctx.upload("gn", "edge inputs", &xe)?,
            w: ctx.upload("gn", "loss weights", &w)?,
            target: z("targets", nv * t)?,
            node_enc: widths(nv, &ls[0])?,
            edge_enc: widths(ne, &ls[1])?,
            steps,
            decoder: widths(nv, &ls[4])?,
            xcat: z("xv", nv * 2 * h)?,
            s: z("s", nv * h)?,
            sq: z("sq", nv * t)?,
            dy: z("dy", nv * t)?,
            grads: z("grads", self.spec.n_params())?,
            dv: z("dv", nv * h)?,
            de: z("de", ne * h)?,
            dv_enc: z("dv_enc", nv * h)?,
            de_enc: z("de_enc", ne * h)?,
            de_next: z("de_next", ne * h)?,
            ds: z("ds", nv * h)?,
            dxcat: z("dxv", nv * 2 * h)?,
            dnin: z("dnin", nv * 3 * h)?,
            dein: z("dein", ne * 6 * h)?,
            tv: [z("tmp", nv * h)?, z("tmp", nv * h)?],
            te: [z("tmp", ne * h)?, z("tmp", ne * h)?],
        })
    }

    /// Records the Linear layers `ls` over `rows` rows of `x` into `acts` (`bapst::mlp_forward`).
    fn mlp_forward(
        &self,
        enc: &mut Encoder,
        ls: &[Lin],
        rows: usize,
        x: &wgpu::Buffer,
        acts: &[wgpu::Buffer],
    ) -> Result<()> {
        for (i, l) in ls.iter().enumerate() {
            let input = if i == 0 { x } else { &acts[i - 1] };
            let flags = BIAS | if l.relu { RELU } else { 0 };
            launch(
                &self.ctx,
                enc,
                &GNN_LINEAR,
                linear(rows, l, flags),
                &[&self.params, input, &acts[i]],
            )?;
        }
        Ok(())
    }

    /// Records the backward of `mlp_forward` from the output gradient `dy` (overwritten): weight and bias
    /// gradients summed into `grads`, the input gradient into `dx` when given; `tmp` holds the hidden layers'.
    #[allow(clippy::too_many_arguments)]
    fn mlp_backward(
        &self,
        enc: &mut Encoder,
        (ls, rows): (&[Lin], usize),
        x: &wgpu::Buffer,
        acts: &[wgpu::Buffer],
        dy: &wgpu::Buffer,
        tmp: &[wgpu::Buffer; 2],
        dx: Option<&wgpu::Buffer>,
        grads: &wgpu::Buffer,
    ) -> Result<()> {
        let ctx = &self.ctx;
        let mut d = dy;
        for (i, l) in ls.iter().enumerate().rev() {
            if l.relu {
                launch(
                    ctx,
                    enc,
                    &GNN_RELU_BACKWARD,
                    rw(rows * l.n_out, 1),
                    &[&acts[i], d],
                )?;
            }
            let input = if i == 0 { x } else { &acts[i - 1] };
            let wq = linear(rows, l, ACC | BIAS);
            launch(
                ctx,
                enc,
                &GNN_LINEAR_BACKWARD_WEIGHT,
                wq,
                &[input, d, grads],
            )?;
            let next = match (i, dx) {
                (0, None) => break,
                (0, Some(dx)) => dx,
                _ => &tmp[i % 2],
            };
            let iq = linear(rows, l, 0);
            launch(
                ctx,
                enc,
                &GNN_LINEAR_BACKWARD_INPUT,
                iq,
                &[&self.params, d, next],
            )?;
            d = next;
        }
        Ok(())
    }

    /// Records the forward pass over `bb`.
    pub fn encode_forward(&self, enc: &mut Encoder, bb: &GpuGnBatch) -> Result<()> {
        let h = self.spec.hidden;
        let (nv, ne) = (bb.n_nodes, bb.n_edges);
        let ctx = &self.ctx;
        let ls = self.spec.layers();
        self.mlp_forward(enc, &ls[0], nv, &bb.xv, &bb.node_enc)?;
        self.mlp_forward(enc, &ls[1], ne, &bb.xe, &bb.edge_enc)?;
        let (v_enc, e_enc) = (&bb.node_enc[1], &bb.edge_enc[1]);
        for k in 0..bb.steps.len() {
            let (v, e) = match k {
                0 => (v_enc, e_enc),
                _ => (&bb.steps[k - 1].node[1], &bb.steps[k - 1].edge[1]),
            };
            let st = &bb.steps[k];
            let c = |enc: &mut Encoder, p: GnnParams, x: &wgpu::Buffer, out: &wgpu::Buffer| {
                launch(ctx, enc, &GNN_COLUMNS, p, &[x, out])
            };
            c(enc, cols(nv, h, (h, 0), (2 * h, 0), false), v, &bb.xcat)?;
            c(enc, cols(nv, h, (h, 0), (2 * h, h), false), v_enc, &bb.xcat)?;
            c(enc, cols(ne, h, (h, 0), (6 * h, 0), false), e, &st.ein)?;
            c(enc, cols(ne, h, (h, 0), (6 * h, h), false), e_enc, &st.ein)?;
            let ei = GnnParams {
                n_out: (6 * h) as u32,
                out_col: (2 * h) as u32,
                ..rw(ne, 2 * h)
            };
            launch(
                ctx,
                enc,
                &GNN_EDGE_INPUT,
                ei,
                &[&bb.src, &bb.dst, &bb.xcat, &st.ein],
            )?;
            self.mlp_forward(enc, &ls[2], ne, &st.ein, &st.edge)?;
            launch(
                ctx,
                enc,
                &GNN_SEGMENT_SUM,
                rw(nv, h),
                &[&bb.in_ptr, &st.edge[1], &bb.s],
            )?;
            c(enc, cols(nv, h, (h, 0), (3 * h, 0), false), &bb.s, &st.nin)?;
            c(
                enc,
                cols(nv, 2 * h, (2 * h, 0), (3 * h, h), false),
                &bb.xcat,
                &st.nin,
            )?;
            self.mlp_forward(enc, &ls[3], nv, &st.nin, &st.node)?;
        }
        let last = bb.steps.last().map_or(v_enc, |s| &s.node[1]);
        self.mlp_forward(enc, &ls[4], nv, last, &bb.decoder)
    }

    /// Records the loss's per-value squared errors and output gradient, then the backward pass into the
    /// parameter gradient (cleared first).
    pub fn encode_backward(&self, enc: &mut Encoder, bb: &GpuGnBatch) -> Result<()> {
        let (h, t) = (self.spec.hidden, self.spec.outputs);
        let (nv, ne) = (bb.n_nodes, bb.n_edges);
        let ctx = &self.ctx;
        let ls = self.spec.layers();
        let y = &bb.decoder[ls[4].len() - 1];
        let mse = GnnParams {
            p: bb.norm as f32,
            ..rw(nv, t)
        };
        launch(
            ctx,
            enc,
            &GNN_MASKED_MSE,
            mse,
            &[&bb.w, y, &bb.target, &bb.sq, &bb.dy],
        )?;
        enc.clear(&bb.grads);
        let last = bb.steps.last().map_or(&bb.node_enc[1], |s| &s.node[1]);
        let g = &bb.grads;
        self.mlp_backward(
            enc,
            (&ls[4], nv),
            last,
            &bb.decoder,
            &bb.dy,
            &bb.tv,
            Some(&bb.dv),
            g,
        )?;
        for buf in [&bb.de_next, &bb.dv_enc, &bb.de_enc] {
            enc.clear(buf);
        }
        let c = |enc: &mut Encoder, p: GnnParams, x: &wgpu::Buffer, out: &wgpu::Buffer| {
            launch(ctx, enc, &GNN_COLUMNS, p, &[x, out])
        };
        for st in bb.steps.iter().rev() {
            self.mlp_backward(
                enc,
                (&ls[3], nv),
                &st.nin,
                &st.node,
                &bb.dv,
                &bb.tv,
                Some(&bb.dnin),
                g,
            )?;
            c(
                enc,
                cols(nv, h, (3 * h, 0), (h, 0), false),
                &bb.dnin,
                &bb.ds,
            )?;
            c(
                enc,
                cols(nv, 2 * h, (3 * h, h), (2 * h, 0), false),
                &bb.dnin,
                &bb.dxcat,
            )?;
            // the edge output feeds this step's node sums and the next step's edge input
            let sb = GnnParams {
                col: 0,
                ..rw(ne, h)
            };
            launch(
                ctx,
                enc,
                &GNN_SEGMENT_SUM_BACKWARD,
                sb,
                &[&bb.dst, &bb.ds, &bb.de],
            )?;
            c(enc, cols(ne, h, (h, 0), (h, 0), true), &bb.de_next, &bb.de)?;
            self.mlp_backward(
                enc,
                (&ls[2], ne),
                &st.ein,
                &st.edge,
                &bb.de,
                &bb.te,
                Some(&bb.dein),
                g,
            )?;
            let eb = GnnParams {
                n_out: (6 * h) as u32,
                out_col: (2 * h) as u32,
                flags: ACC,
                ..rw(nv, 2 * h)
            };
            launch(
                ctx,
                enc,
                &GNN_EDGE_INPUT_BACKWARD,
                eb,
                &[&bb.in_ptr, &bb.rev, &bb.dein, &bb.dxcat],
            )?;
            c(
                enc,
                cols(ne, h, (6 * h, 0), (h, 0), false),
                &bb.dein,
                &bb.de_next,
            )?;
            c(
                enc,
                cols(ne, h, (6 * h, h), (h, 0), true),
                &bb.dein,
                &bb.de_enc,
            )?;
            c(
                enc,
                cols(nv, h, (2 * h, 0), (h, 0), false),
                &bb.dxcat,
                &bb.dv,
            )?;
            c(
                enc,
                cols(nv, h, (2 * h, h), (h, 0), true),
                &bb.dxcat,
                &bb.dv_enc,
            )?;
        }
        // step 0 read the encoders' outputs as its v and e as well
        c(enc, cols(nv, h, (h, 0), (h, 0), true), &bb.dv, &bb.dv_enc)?;
        c(
            enc,
            cols(ne, h, (h, 0), (h, 0), true),
            &bb.de_next,
            &bb.de_enc,
        )?;
        self.mlp_backward(
            enc,
            (&ls[0], nv),
            &bb.xv,
            &bb.node_enc,
            &bb.dv_enc,
            &bb.tv,
            None,
            g,
        )?;
        self.mlp_backward(
            enc,
            (&ls[1], ne),
            &bb.xe,
            &bb.edge_enc,
            &bb.de_enc,
            &bb.te,
            None,
            g,
        )
    }

    /// Forward, loss and backward over `bb` with targets [V, T]: returns the loss (mean squared error over the
    /// scored values) and the gradient of every parameter.
    pub fn loss_and_grads(&self, bb: &GpuGnBatch, targets: &[f32]) -> Result<(f64, Vec<f64>)> {
        let t = self.spec.outputs;
        if targets.len() != bb.n_nodes * t {
            return Err(KernelError::Input {
                kernel: "gn".into(),
                message: format!(
                    "{} targets for {} nodes x {t} outputs",
                    targets.len(),
                    bb.n_nodes
                ),
            });
        }
        let ctx = &self.ctx;
        ctx.queue
            .write_buffer(&bb.target, 0, bytemuck::cast_slice(targets));
        let mut enc = ctx.encoder("gn step");
        self.encode_forward(&mut enc, bb)?;
        self.encode_backward(&mut enc, bb)?;
        enc.submit();
        let sq = ctx.read_f64("gn", &bb.sq, bb.n_nodes * t)?;
        let grads = ctx.read_f64("gn", &bb.grads, self.spec.n_params())?;
        Ok((sq.iter().sum::<f64>() * bb.norm, grads))
    }

    /// The outputs [V, T] of a forward pass over `bb`.
    pub fn forward(&self, bb: &GpuGnBatch) -> Result<Vec<f64>> {
        let mut enc = self.ctx.encoder("gn forward");
        self.encode_forward(&mut enc, bb)?;
        enc.submit();
        let y = &bb.decoder[bb.decoder.len() - 1];
        self.ctx.read_f64("gn", y, bb.n_nodes * self.spec.outputs)
    }
}
