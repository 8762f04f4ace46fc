//! Launch of the graph-network kernels on wgpu: each kernel's dispatch size, `launch` (one launch recorded into
//! an encoder, buffers left on the device) and `run` (one launch from host data to host data, for the tests).
//! Pipelines are built once per device and kernel.

use std::sync::{Arc, Mutex, OnceLock};

use super::kernels;
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::kernel::{Binding, Kernel};

pub use super::kernels::{GnnParams, ACC, BIAS, RELU, WG};

/// A gnn kernel (declared in `gnn/kernels.rs`) and its workgroup count for given parameters.
pub struct GnnKernel {
    pub kernel: &'static Kernel,
    pub groups: fn(&GnnParams) -> u64,
}

/// One thread per value of `n` values.
fn threads(n: u64) -> u64 {
    n.div_ceil(WG as u64)
}

macro_rules! gnn_launch {
    ($id:ident, |$p:ident| $groups:expr) => {
        pub const $id: GnnKernel = GnnKernel {
            kernel: &kernels::$id,
            groups: |$p| $groups,
        };
    };
}

gnn_launch!(GNN_SEGMENT_SUM, |p| threads(p.rows as u64 * p.width as u64));
gnn_launch!(GNN_REVERSE_SUB, |p| threads(p.rows as u64 * p.width as u64));
// one workgroup per segment
gnn_launch!(GNN_SEGMENT_SOFTMAX, |p| p.rows as u64);
gnn_launch!(GNN_SEGMENT_MEAN, |p| threads(
    p.rows as u64 * p.width as u64
));
gnn_launch!(GNN_LINEAR, |p| threads(p.rows as u64 * p.n_out as u64));
gnn_launch!(GNN_LINEAR_BACKWARD_INPUT, |p| threads(
    p.rows as u64 * p.n_in as u64
));
// one workgroup per weight and bias
gnn_launch!(GNN_LINEAR_BACKWARD_WEIGHT, |p| {
    let bias = if p.flags & kernels::BIAS != 0 {
        p.n_out as u64
    } else {
        0
    };
    p.n_out as u64 * p.n_in as u64 + bias
});
gnn_launch!(GNN_RELU_BACKWARD, |p| threads(
    p.rows as u64 * p.width as u64
));
gnn_launch!(GNN_SCALE_ROWS, |p| threads(p.rows as u64 * p.width as u64));
// one thread per row
gnn_launch!(GNN_SCALE_ROWS_BACKWARD, |p| threads(p.rows as u64));
gnn_launch!(GNN_READOUT_INPUT, |p| threads(
    p.rows as u64 * (p.col as u64 + p.width as u64)
));
gnn_launch!(GNN_SEGMENT_SOFTMAX_BACKWARD, |p| p.rows as u64);
gnn_launch!(GNN_SEGMENT_MEAN_BACKWARD, |p| threads(
    p.rows as u64 * p.width as u64
));
gnn_launch!(GNN_REVERSE_SUB_BACKWARD, |p| threads(
    p.rows as u64 * p.width as u64
));
gnn_launch!(GNN_DROPOUT, |p| threads(p.rows as u64 * p.width as u64));
gnn_launch!(GNN_SEGMENT_SUM_BACKWARD, |p| threads(
    p.rows as u64 * p.width as u64
));

/// One binding's contents.
pub enum Arg<'a> {
    U32(&'a [u32]),
    F32(&'a [f32]),
}

type Pipes = Vec<(
    usize,
    &'static str,
    Arc<(wgpu::BindGroupLayout, wgpu::ComputePipeline)>,
)>;

fn pipeline(
    ctx: &Arc<GpuContext>,
    k: &GnnKernel,
) -> Arc<(wgpu::BindGroupLayout, wgpu::ComputePipeline)> {
    static CACHE: OnceLock<Mutex<Pipes>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut list = cache.lock().unwrap_or_else(|p| p.into_inner());
    let key = Arc::as_ptr(ctx) as usize;
    if let Some((_, _, p)) = list
        .iter()
        .find(|(c, n, _)| *c == key && *n == k.kernel.name)
    {
        return p.clone();
    }
    let layout = ctx.layout(k.kernel.name, &k.kernel.access());
    let pipe = ctx.pipeline_with(k.kernel, &layout);
    let p = Arc::new((layout, pipe));
    list.push((key, k.kernel.name, p.clone()));
    p
}

/// Records one launch of `k` with parameters `p` on `bufs` (bindings 1, 2, ...) into `enc`: its own parameter
/// buffer, bind group and compute pass. Buffers stay on the device; a whole forward or backward pass is one
/// encoder and one submission.
pub fn launch(
    ctx: &Arc<GpuContext>,
    enc: &mut wgpu::CommandEncoder,
    k: &GnnKernel,
    p: GnnParams,
    bufs: &[&wgpu::Buffer],
) -> Result<()> {
    if bufs.len() + 1 != k.kernel.bindings.len() {
        return Err(KernelError::Input {
            kernel: k.kernel.name.into(),
            message: format!(
                "{} buffers given, the kernel binds {}",
                bufs.len(),
                k.kernel.bindings.len() - 1
            ),
        });
    }
    let groups = (k.groups)(&p);
    if groups == 0 {
        return Ok(());
    }
    let pipe = pipeline(ctx, k);
    let params = ctx.uniform(k.kernel.name, &p);
    let mut entries: Vec<(&wgpu::Buffer, Option<u64>)> = vec![(&params, None)];
    entries.extend(bufs.iter().map(|b| (*b, None)));
    let bind = ctx.bind_layout(k.kernel.name, &pipe.0, &entries);
    let (x, y) = ctx.spill(k.kernel.name, groups)?;
    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(k.kernel.name),
        timestamp_writes: None,
    });
    pass.set_pipeline(&pipe.1);
    pass.set_bind_group(0, &bind, &[]);
    pass.dispatch_workgroups(x, y, 1);
    Ok(())
}

/// Runs `k` once with parameters `p` on `args` (bindings 1, 2, ...) and returns the contents of every
/// read-write binding after the launch, in binding order, as f64.
pub fn run(
    ctx: &Arc<GpuContext>,
    k: &GnnKernel,
    p: GnnParams,
    args: &[Arg],
) -> Result<Vec<Vec<f64>>> {
    let bufs: Vec<wgpu::Buffer> = args
        .iter()
        .map(|a| match a {
            Arg::U32(v) => ctx.storage(k.kernel.name, v),
            Arg::F32(v) => ctx.storage(k.kernel.name, v),
        })
        .collect();
    let refs: Vec<&wgpu::Buffer> = bufs.iter().collect();
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some(k.kernel.name),
        });
    launch(ctx, &mut enc, k, p, &refs)?;
    ctx.queue.submit([enc.finish()]);
    let mut out = Vec::new();
    for (i, b) in bufs.iter().enumerate() {
        if k.kernel.bindings[i + 1].access == Binding::ReadWrite {
            let v: Vec<f32> = ctx.read(k.kernel.name, b)?;
            out.push(v.iter().map(|&x| x as f64).collect());
        }
    }
    Ok(out)
}
