//! Launch of the graph-network kernels on wgpu: the host mirror of `GnnParams`, each kernel's bindings and
//! dispatch size, and a one-launch runner (pipelines built once per device and kernel).

use std::sync::{Arc, Mutex, OnceLock};

use super::kernels;
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::kernel::{Binding, Kernel};

pub use super::kernels::{GnnParams, WG};

/// A gnn kernel (declared in `gnn/kernels.rs`) and how it is dispatched: one workgroup per row (segment
/// reductions) or one thread per value.
pub struct GnnKernel {
    pub kernel: &'static Kernel,
    pub per_row_group: bool,
}

pub const GNN_SEGMENT_SUM: GnnKernel = GnnKernel {
    kernel: &kernels::GNN_SEGMENT_SUM,
    per_row_group: false,
};
pub const GNN_REVERSE_SUB: GnnKernel = GnnKernel {
    kernel: &kernels::GNN_REVERSE_SUB,
    per_row_group: false,
};
pub const GNN_SEGMENT_SOFTMAX: GnnKernel = GnnKernel {
    kernel: &kernels::GNN_SEGMENT_SOFTMAX,
    per_row_group: true,
};
pub const GNN_SEGMENT_MEAN: GnnKernel = GnnKernel {
    kernel: &kernels::GNN_SEGMENT_MEAN,
    per_row_group: false,
};

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

/// Runs `k` once with parameters `p` on `args` (bindings 1, 2, ...) and returns the contents of every
/// read-write binding after the launch, in binding order, as f64.
pub fn run(
    ctx: &Arc<GpuContext>,
    k: &GnnKernel,
    p: GnnParams,
    args: &[Arg],
) -> Result<Vec<Vec<f64>>> {
    if args.len() + 1 != k.kernel.bindings.len() {
        return Err(KernelError::Input {
            kernel: k.kernel.name.into(),
            message: format!(
                "{} buffers given, the kernel binds {}",
                args.len(),
                k.kernel.bindings.len() - 1
            ),
        });
    }
    let pipe = pipeline(ctx, k);
    let params = ctx.uniform(k.kernel.name, &p);
    let bufs: Vec<wgpu::Buffer> = args
        .iter()
        .map(|a| match a {
            Arg::U32(v) => ctx.storage(k.kernel.name, v),
            Arg::F32(v) => ctx.storage(k.kernel.name, v),
        })
        .collect();
    let mut entries: Vec<(&wgpu::Buffer, Option<u64>)> = vec![(&params, None)];
    entries.extend(bufs.iter().map(|b| (b, None)));
    let bind = ctx.bind_layout(k.kernel.name, &pipe.0, &entries);
    let groups = if k.per_row_group {
        p.rows as u64
    } else {
        (p.rows as u64 * p.width as u64).div_ceil(WG as u64)
    };
    let max = ctx.limits.max_compute_workgroups_per_dimension as u64;
    let x = groups.clamp(1, max);
    let y = groups.div_ceil(x);
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some(k.kernel.name),
        });
    if groups > 0 {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(k.kernel.name),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipe.1);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(x as u32, y as u32, 1);
    }
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
