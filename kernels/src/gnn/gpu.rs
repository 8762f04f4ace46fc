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
