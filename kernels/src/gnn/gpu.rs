//! Launch of the graph-network kernels on wgpu, through the device's one launch path (`launch.rs`): `launch`
//! records one kernel over buffers left on the device into an [`Encoder`], a whole forward or backward pass one
//! encoder.

use std::sync::Arc;

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::launch::Encoder;

pub use super::kernels::*;

/// Records one launch of `k` with parameters `p` on `bufs` (bindings 1, 2, ...) into `enc`.
pub fn launch(
    ctx: &Arc<GpuContext>,
    enc: &mut Encoder,
    k: &'static GnnKernel,
    p: GnnParams,
    bufs: &[&wgpu::Buffer],
) -> Result<()> {
    let bind = ctx.bind(&k.kernel, bufs)?;
    enc.launch(&k.kernel, &p, &bind, (k.groups)(&p))
}

/// Parameters of a per-value launch over `rows` rows of `width`.
pub fn rw(rows: usize, width: usize) -> GnnParams {
    GnnParams {
        rows: rows as u32,
        width: width as u32,
        ..Default::default()
    }
}

/// A network's flat f32 parameter vector on the device, refused when it does not hold the network's `n_params`
/// (`kernel` names the network in the message).
pub fn params_buffer(
    ctx: &GpuContext,
    kernel: &str,
    n_params: usize,
    params: &[f32],
) -> Result<wgpu::Buffer> {
    if params.len() != n_params {
        return Err(crate::error::KernelError::Input {
            kernel: kernel.into(),
            message: format!(
                "{} parameters given, the network has {n_params}",
                params.len()
            ),
        });
    }
    ctx.upload(kernel, &format!("{kernel} params"), params)
}

/// Parameters of a Linear launch: `rows` rows, weight `w` (and bias `b`) offsets in the flat vector.
pub fn lin(rows: usize, n_in: usize, n_out: usize, w: usize, b: usize, flags: u32) -> GnnParams {
    GnnParams {
        rows: rows as u32,
        n_in: n_in as u32,
        n_out: n_out as u32,
        w_off: w as u32,
        b_off: b as u32,
        flags,
        ..Default::default()
    }
}
