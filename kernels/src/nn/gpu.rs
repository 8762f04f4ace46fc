//! Launch of the nn kernels on wgpu: one pipeline per kernel with its explicit layout, parameter blocks in
//! 256-byte slots of one uniform buffer (dynamic offsets), a whole plan encoded into one compute pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::{Buf, NnParams, PlanOp};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::kernel::{Family, Kernel};
use crate::registry::ALL;

/// Parameter blocks sit 256 bytes apart (the largest uniform offset alignment wgpu allows).
const PARAM_STRIDE: u64 = 256;
/// Dispatches per submission (slots of the parameter buffer).
const PARAM_SLOTS: u64 = 128;

/// The nn pipelines on one device.
pub struct NnGpu {
    pub ctx: Arc<GpuContext>,
    /// One pipeline per nn-family kernel of `registry::ALL`, by name.
    pipes: HashMap<&'static str, (wgpu::BindGroupLayout, wgpu::ComputePipeline)>,
    params: wgpu::Buffer,
    /// Held from writing the parameter slots to submitting them: one NnGpu may serve several threads.
    submit: Mutex<()>,
}

/// One launch: kernel, parameters, and the buffers bound at 1, 2, ...
pub struct Launch<'a> {
    pub kernel: &'static Kernel,
    pub p: NnParams,
    pub bufs: Vec<&'a wgpu::Buffer>,
}

/// One launch with its bind group built (a network keeps its bind groups; see `GpuExec`).
pub struct Bound<'a> {
    pub kernel: &'static Kernel,
    pub p: NnParams,
    pub bind: &'a wgpu::BindGroup,
}

impl NnGpu {
    pub fn new(ctx: Arc<GpuContext>) -> Result<NnGpu> {
        let pipes = ALL
            .iter()
            .filter(|k| k.family == Family::Nn)
            .map(|k| {
                let layout = ctx.layout(k.name, &k.access());
                let pipe = ctx.pipeline_with(k, &layout);
                (k.name, (layout, pipe))
            })
            .collect();
        let params = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("nn params"),
            size: PARAM_STRIDE * PARAM_SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Ok(NnGpu {
            ctx,
            pipes,
            params,
            submit: Mutex::new(()),
        })
    }

    /// The pipelines for `ctx`, built once per device and process (building them compiles 13 shaders).
    pub fn shared(ctx: &Arc<GpuContext>) -> Result<Arc<NnGpu>> {
        type Cache = Mutex<Vec<(Arc<GpuContext>, Arc<NnGpu>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        let mut list = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, nn)) = list.iter().find(|(c, _)| Arc::ptr_eq(c, ctx)) {
            return Ok(nn.clone());
        }
        let nn = Arc::new(NnGpu::new(ctx.clone())?);
        list.push((ctx.clone(), nn.clone()));
        Ok(nn)
    }

    fn pipe(&self, k: &Kernel) -> Result<&(wgpu::BindGroupLayout, wgpu::ComputePipeline)> {
        self.pipes.get(k.name).ok_or_else(|| KernelError::Input {
            kernel: k.name.into(),
            message: "no nn pipeline: the kernel is not of the nn family in registry::ALL".into(),
        })
    }

    /// The bind group of one launch: the parameter slot at binding 0, then `bufs`.
    pub fn bind(&self, kernel: &'static Kernel, bufs: &[&wgpu::Buffer]) -> Result<wgpu::BindGroup> {
        let (layout, _) = self.pipe(kernel)?;
        if bufs.len() + 1 != kernel.bindings.len() {
            return Err(KernelError::Input {
                kernel: kernel.name.into(),
                message: format!(
                    "{} buffers bound, the kernel has {}",
                    bufs.len(),
                    kernel.bindings.len() - 1
                ),
            });
        }
        let mut entries: Vec<(&wgpu::Buffer, Option<u64>)> =
            vec![(&self.params, Some(std::mem::size_of::<NnParams>() as u64))];
        entries.extend(bufs.iter().map(|b| (*b, None)));
        Ok(self.ctx.bind_layout(kernel.name, layout, &entries))
    }

    /// Runs the launches in order (one compute pass per 128 launches) and submits them.
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

    /// Runs launches whose bind groups are already built (see `bind`), in order, one compute pass per 128.
    pub fn submit(&self, launches: &[Bound]) -> Result<()> {
        let _guard = self.submit.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in launches.chunks(PARAM_SLOTS as usize) {
            let mut blob = vec![0u8; chunk.len() * PARAM_STRIDE as usize];
            for (i, l) in chunk.iter().enumerate() {
                let at = i * PARAM_STRIDE as usize;
                blob[at..at + std::mem::size_of::<NnParams>()]
                    .copy_from_slice(bytemuck::bytes_of(&l.p));
            }
            self.ctx.queue.write_buffer(&self.params, 0, &blob);
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("nn") });
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("nn"),
                    timestamp_writes: None,
                });
                for (i, l) in chunk.iter().enumerate() {
                    let (x, y) = self.ctx.spill(l.kernel.name, l.kernel.workgroups(&l.p))?;
                    if x == 0 {
                        continue;
                    }
                    pass.set_pipeline(&self.pipe(l.kernel)?.1);
                    pass.set_bind_group(0, l.bind, &[(i as u64 * PARAM_STRIDE) as u32]);
                    pass.dispatch_workgroups(x, y, 1);
                }
            }
            self.ctx.queue.submit([enc.finish()]);
        }
        Ok(())
    }

    /// A storage buffer of f32 values, refusing what the device cannot bind.
    pub fn upload(&self, kernel: &str, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        self.fits(kernel, label, data.len() as u64 * 4)?;
        Ok(self.ctx.storage(label, data))
    }

    pub fn fits(&self, kernel: &str, label: &str, bytes: u64) -> Result<()> {
        if bytes > self.ctx.max_binding() {
            return Err(KernelError::BufferTooLarge {
                kernel: kernel.into(),
                buffer: label.into(),
                bytes,
                limit: self.ctx.max_binding(),
            });
        }
        Ok(())
    }

    /// Reads an f32 buffer back as f64, the first `len` values.
    pub fn read(&self, kernel: &str, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f64>> {
        let v: Vec<f32> = self.ctx.read(kernel, buffer)?;
        Ok(v.iter().take(len).map(|&x| x as f64).collect())
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
