//! Launch of the nn kernels on wgpu, through the device's one launch path (`launch.rs`): `NnGpu` sizes each
//! launch by its kernel's dispatch rule; `GpuExec` keeps a plan's buffers and bind groups on the device.

use std::collections::HashMap;
use std::sync::Arc;

use super::kernels::NnKernel;
use super::{Buf, NnParams, PlanOp};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::kernel::Family;

/// Launches of nn kernels on one device.
pub struct NnGpu {
    pub ctx: Arc<GpuContext>,
}

/// One launch: kernel, parameters, and the buffers bound at 1, 2, ...
pub struct Launch<'a> {
    pub kernel: &'static NnKernel,
    pub p: NnParams,
    pub bufs: Vec<&'a wgpu::Buffer>,
}

/// One launch with its bind group built (a network keeps its bind groups; see `GpuExec`).
pub struct Bound<'a> {
    pub kernel: &'static NnKernel,
    pub p: NnParams,
    pub bind: &'a wgpu::BindGroup,
}

impl NnGpu {
    pub fn new(ctx: Arc<GpuContext>) -> Result<NnGpu> {
        Ok(NnGpu { ctx })
    }

    /// The launcher for `ctx` (the pipelines themselves are the device's, compiled on first use).
    pub fn shared(ctx: &Arc<GpuContext>) -> Result<Arc<NnGpu>> {
        NnGpu::new(ctx.clone()).map(Arc::new)
    }

    /// The bind group of one launch: the parameter slot at binding 0, then `bufs`.
    pub fn bind(
        &self,
        kernel: &'static NnKernel,
        bufs: &[&wgpu::Buffer],
    ) -> Result<wgpu::BindGroup> {
        if kernel.family != Family::Nn {
            return Err(KernelError::Input {
                kernel: kernel.name.into(),
                message: "not a kernel of the nn family".into(),
            });
        }
        self.ctx.bind(&kernel.kernel, bufs)
    }

    /// Runs the launches in order and submits them.
    pub fn run(&self, launches: &[Launch]) -> Result<()> {
        let binds = launches
            .iter()
            .map(|l| self.bind(l.kernel, &l.bufs))
            .collect::<Result<Vec<_>>>()?;
        let bound: Vec<Bound> = launches
            .iter()
            .zip(&binds)
            .map(|(l, bind)| Bound {
                kernel: l.kernel,
                p: l.p,
                bind,
            })
            .collect();
        self.submit(&bound)
    }

    /// Runs launches whose bind groups are already built (see `bind`), in order.
    pub fn submit(&self, launches: &[Bound]) -> Result<()> {
        let mut enc = self.ctx.encoder("nn");
        for l in launches {
            enc.launch(&l.kernel.kernel, &l.p, l.bind, l.kernel.workgroups(&l.p))?;
        }
        enc.submit();
        Ok(())
    }

    /// A storage buffer of f32 values, refusing what the device cannot bind.
    pub fn upload(&self, kernel: &str, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        self.ctx.upload(kernel, label, data)
    }

    pub fn fits(&self, kernel: &str, label: &str, bytes: u64) -> Result<()> {
        self.ctx.fits(kernel, label, bytes)
    }

    /// Reads an f32 buffer back as f64, the first `len` values.
    pub fn read(&self, kernel: &str, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f64>> {
        self.ctx.read_f64(kernel, buffer, len)
    }
}

/// A plan op's bind group, by kernel and bound buffers.
type BindKey = (&'static str, Vec<Buf>);

/// The GPU's storage for a plan: one buffer per logical buffer, and the bind groups built for them, kept until a
/// buffer is reallocated (a network's steps reuse them instead of building them per launch).
pub struct GpuExec {
    pub nn: Arc<NnGpu>,
    pub bufs: HashMap<Buf, wgpu::Buffer>,
    binds: HashMap<BindKey, wgpu::BindGroup>,
}

impl GpuExec {
    pub fn new(nn: Arc<NnGpu>) -> GpuExec {
        GpuExec {
            nn,
            bufs: HashMap::new(),
            binds: HashMap::new(),
        }
    }

    /// (Re)allocates `b` with `len` zeroed 4-byte elements.
    pub fn alloc(&mut self, b: Buf, len: usize) -> Result<()> {
        self.nn.fits("nn", &format!("{b:?}"), len as u64 * 4)?;
        let buf = self
            .nn
            .ctx
            .storage_zeroed(&format!("{b:?}"), len as u64 * 4);
        self.bufs.insert(b, buf);
        // bind groups name buffers, not logical ones: those of the old buffer would bind it still
        self.binds.retain(|(_, bufs), _| !bufs.contains(&b));
        Ok(())
    }

    fn get(&self, b: Buf) -> Result<&wgpu::Buffer> {
        self.bufs.get(&b).ok_or_else(|| KernelError::Input {
            kernel: "nn".into(),
            message: format!("buffer {b:?} was never allocated"),
        })
    }

    pub fn write<T: bytemuck::Pod>(&self, b: Buf, data: &[T]) -> Result<()> {
        let buf = self.get(b)?;
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if bytes.len() as u64 > buf.size() {
            return Err(KernelError::Input {
                kernel: "nn".into(),
                message: format!("{} bytes for buffer {b:?} of {}", bytes.len(), buf.size()),
            });
        }
        if !bytes.is_empty() {
            self.nn.ctx.queue.write_buffer(buf, 0, bytes);
        }
        Ok(())
    }

    pub fn read(&self, b: Buf, len: usize) -> Result<Vec<f64>> {
        self.nn.read("nn", self.get(b)?, len)
    }

    /// Runs a plan, building each op's bind group the first time its kernel meets its buffers.
    pub fn run(&mut self, plan: &[PlanOp]) -> Result<()> {
        for op in plan {
            let key = (op.kernel.name, op.bufs.clone());
            if !self.binds.contains_key(&key) {
                let bufs = op
                    .bufs
                    .iter()
                    .map(|&b| self.get(b))
                    .collect::<Result<Vec<_>>>()?;
                let bind = self.nn.bind(op.kernel, &bufs)?;
                self.binds.insert(key, bind);
            }
        }
        let mut bound = Vec::with_capacity(plan.len());
        for op in plan {
            let bind = self
                .binds
                .get(&(op.kernel.name, op.bufs.clone()))
                .ok_or_else(|| KernelError::Input {
                    kernel: op.kernel.name.into(),
                    message: "bind group missing after it was built".into(),
                })?;
            bound.push(Bound {
                kernel: op.kernel,
                p: op.p,
                bind,
            });
        }
        self.nn.submit(&bound)
    }
}
