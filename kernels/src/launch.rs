//! The one launch path of every kernel family: per device, compute pipelines cached by kernel name (their
//! bind-group layouts by access modes, so kernels with the same bindings take the same bind groups), one ring of
//! parameter slots (256-byte slots of one uniform buffer, bound at binding 0 with a dynamic offset), and
//! [`Encoder`], which records launches, copies and clears in order and submits them, a submission per ring.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::kernel::{Binding, Kernel};

/// Parameter blocks sit this many bytes apart (the largest uniform offset alignment wgpu allows).
pub const SLOT_BYTES: u64 = 256;
/// Slots in the ring: the launches of one submission.
pub const SLOTS: u64 = 128;

/// A kernel's compute pipeline and its group-0 layout.
pub struct Pipeline {
    pub layout: wgpu::BindGroupLayout,
    pub pipeline: wgpu::ComputePipeline,
}

/// What a `GpuContext` keeps for launching: its pipelines and layouts, and the parameter ring.
pub(crate) struct Launcher {
    pipelines: Mutex<HashMap<&'static str, Arc<Pipeline>>>,
    layouts: Mutex<HashMap<Vec<Binding>, wgpu::BindGroupLayout>>,
    ring: wgpu::Buffer,
    /// Held from writing the ring's slots until they are submitted: one device may serve several threads.
    recording: Mutex<()>,
}

impl Launcher {
    pub(crate) fn new(device: &wgpu::Device) -> Launcher {
        Launcher {
            pipelines: Mutex::default(),
            layouts: Mutex::default(),
            ring: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("parameter ring"),
                size: SLOT_BYTES * SLOTS,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            recording: Mutex::new(()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl GpuContext {
    /// The pipeline of `kernel` on this device, compiled on first use.
    pub fn pipeline(&self, kernel: &'static Kernel) -> Arc<Pipeline> {
        if let Some(p) = lock(&self.launcher.pipelines).get(kernel.name) {
            return p.clone();
        }
        let layout = self.layout_of(kernel);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.name),
                source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
            });
        let pl = self
            .device
            .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(kernel.name),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name),
                layout: Some(&pl),
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            });
        let p = Arc::new(Pipeline { layout, pipeline });
        // two threads may both have compiled it: the first one stored is everyone's
        lock(&self.launcher.pipelines)
            .entry(kernel.name)
            .or_insert(p)
            .clone()
    }

    /// The group-0 layout of `kernel`'s bindings, one per set of access modes.
    fn layout_of(&self, kernel: &Kernel) -> wgpu::BindGroupLayout {
        let access = kernel.access();
        let mut layouts = lock(&self.launcher.layouts);
        if let Some(l) = layouts.get(&access) {
            return l.clone();
        }
        let entries: Vec<wgpu::BindGroupLayoutEntry> = access
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::Uniform | Binding::UniformDynamic => {
                            wgpu::BufferBindingType::Uniform
                        }
                        Binding::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: matches!(b, Binding::UniformDynamic),
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = self
            .device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(kernel.name),
                entries: &entries,
            });
        layouts.insert(access, layout.clone());
        layout
    }

    /// The bind group of `kernel` with `bufs` at bindings 1, 2, ... and the parameter ring at binding 0 (one slot
    /// of the size of the kernel's parameter block, the first of its `structs`); it serves every launch of the
    /// kernel, and of any kernel with the same bindings, on these buffers.
    pub fn bind(&self, kernel: &'static Kernel, bufs: &[&wgpu::Buffer]) -> Result<wgpu::BindGroup> {
        let (Some(first), Some(params)) = (kernel.bindings.first(), kernel.structs.first()) else {
            return Err(input(kernel, "declares no parameter block".into()));
        };
        if first.access != Binding::UniformDynamic {
            return Err(input(
                kernel,
                "binding 0 is not the parameter slot (Binding::UniformDynamic)".into(),
            ));
        }
        if bufs.len() + 1 != kernel.bindings.len() {
            return Err(input(
                kernel,
                format!(
                    "{} buffers bound, the kernel has {}",
                    bufs.len(),
                    kernel.bindings.len() - 1
                ),
            ));
        }
        let slot = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: &self.launcher.ring,
            offset: 0,
            size: std::num::NonZeroU64::new(params().size as u64),
        });
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once(slot)
            .chain(bufs.iter().map(|b| b.as_entire_binding()))
            .enumerate()
            .map(|(i, resource)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource,
            })
            .collect();
        Ok(self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &self.pipeline(kernel).layout,
            entries: &entries,
        }))
    }

    /// An encoder for launches on this device; it holds the parameter ring until it is submitted or dropped, so
    /// a thread must submit one before it opens the next.
    pub fn encoder(&self, label: &'static str) -> Encoder<'_> {
        Encoder {
            ctx: self,
            label,
            pass: None,
            enc: Some(self.new_command_encoder(label)),
            params: Vec::new(),
            _ring: lock(&self.launcher.recording),
        }
    }

    fn new_command_encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }
}

fn input(kernel: &Kernel, message: String) -> KernelError {
    KernelError::Input {
        kernel: kernel.name.into(),
        message,
    }
}

/// Launches, copies and clears recorded in order; each launch's parameter block takes the next slot of the ring.
/// A full ring is submitted and recording goes on in a new submission (the queue keeps their order); `submit`
/// sends the rest.
pub struct Encoder<'a> {
    ctx: &'a GpuContext,
    label: &'static str,
    /// The compute pass consecutive launches share, ended by a copy, a clear or a submission.
    pass: Option<wgpu::ComputePass<'static>>,
    enc: Option<wgpu::CommandEncoder>,
    /// The parameter blocks of this submission's launches, a slot each.
    params: Vec<u8>,
    _ring: MutexGuard<'a, ()>,
}

impl Encoder<'_> {
    /// Records `kernel` with parameter block `params` on `bind` (from `GpuContext::bind`) over `groups`
    /// workgroups (spilling into y past the per-dimension limit; none: nothing is recorded).
    pub fn launch<P: bytemuck::Pod>(
        &mut self,
        kernel: &'static Kernel,
        params: &P,
        bind: &wgpu::BindGroup,
        groups: u64,
    ) -> Result<()> {
        let bytes = bytemuck::bytes_of(params);
        if bytes.len() as u64 > SLOT_BYTES {
            return Err(input(
                kernel,
                format!("a parameter block of {} bytes", bytes.len()),
            ));
        }
        let (x, y) = self.ctx.spill(kernel.name, groups)?;
        if x == 0 {
            return Ok(());
        }
        if self.params.len() as u64 == SLOTS * SLOT_BYTES {
            self.flush();
        }
        let offset = self.params.len() as u32;
        self.params.extend_from_slice(bytes);
        self.params.resize(offset as usize + SLOT_BYTES as usize, 0);
        let pipeline = self.ctx.pipeline(kernel);
        let (enc, label) = (&mut self.enc, self.label);
        let pass = self.pass.get_or_insert_with(|| {
            enc.as_mut()
                .expect("an encoder until submitted")
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(label),
                    timestamp_writes: None,
                })
                .forget_lifetime()
        });
        pass.set_pipeline(&pipeline.pipeline);
        pass.set_bind_group(0, bind, &[offset]);
        pass.dispatch_workgroups(x, y, 1);
        Ok(())
    }

    /// The command encoder, outside any compute pass.
    fn commands(&mut self) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.enc.as_mut().expect("an encoder until submitted")
    }

    /// Records a copy of the first `bytes` bytes of `src` into `dst` (none: nothing).
    pub fn copy(&mut self, src: &wgpu::Buffer, dst: &wgpu::Buffer, bytes: u64) {
        if bytes > 0 {
            self.commands().copy_buffer_to_buffer(src, 0, dst, 0, bytes);
        }
    }

    /// Records the zeroing of `buf`.
    pub fn clear(&mut self, buf: &wgpu::Buffer) {
        self.commands().clear_buffer(buf, 0, None);
    }

    /// Writes the recorded launches' parameter blocks to the ring and submits what was recorded.
    fn flush(&mut self) {
        self.pass = None;
        let enc = self
            .enc
            .replace(self.ctx.new_command_encoder(self.label))
            .expect("an encoder until submitted");
        if !self.params.is_empty() {
            // queued before the submission below, after every earlier one: their slots are read by then
            self.ctx
                .queue
                .write_buffer(&self.ctx.launcher.ring, 0, &self.params);
            self.params.clear();
        }
        self.ctx.queue.submit([enc.finish()]);
    }

    /// Submits everything recorded and frees the ring.
    pub fn submit(mut self) {
        self.flush();
    }
}
