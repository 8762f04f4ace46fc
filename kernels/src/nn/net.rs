//! A network on a backend: buffers for a batch capacity, and the steps the host needs (train step, scores,
//! Grad-CAM, gridization), each one plan run by the GPU path or by the CPU twin.

use super::cpu::{self, CpuExec};
use super::gpu::{GpuExec, Launch, NnGpu};
use super::{
    forward_plan, gradcam_plan, train_plan, AdamSpec, Buf, GridSpec, Mode, NetSpec, NnParams,
    GRIDIZE, GRIDIZE_BIN, GRID_SAMPLE,
};
use crate::error::{KernelError, Result};
use crate::gpu::Compute;

enum Exec {
    Cpu(CpuExec),
    Gpu(Box<GpuExec>),
}

impl Exec {
    fn alloc(&mut self, b: Buf, len: usize) -> Result<()> {
        match self {
            Exec::Cpu(e) => {
                e.bufs.insert(b, vec![0.0; len]);
                Ok(())
            }
            Exec::Gpu(e) => e.alloc(b, len),
        }
    }
    fn write(&mut self, b: Buf, data: &[f32]) -> Result<()> {
        match self {
            Exec::Cpu(e) => {
                let v = e.bufs.entry(b).or_default();
                if v.len() < data.len() {
                    v.resize(data.len(), 0.0);
                }
                for (d, s) in v.iter_mut().zip(data) {
                    *d = *s as f64;
                }
                Ok(())
            }
            Exec::Gpu(e) => e.write(b, data),
        }
    }
    fn write_f64(&mut self, b: Buf, data: &[f64]) -> Result<()> {
        match self {
            Exec::Cpu(e) => {
                let v = e.bufs.entry(b).or_default();
                v.clear();
                v.extend_from_slice(data);
                Ok(())
            }
            Exec::Gpu(e) => e.write(b, &data.iter().map(|&x| x as f32).collect::<Vec<f32>>()),
        }
    }
    fn write_labels(&mut self, labels: &[u32]) -> Result<()> {
        match self {
            Exec::Cpu(e) => {
                e.labels = labels.to_vec();
                Ok(())
            }
            Exec::Gpu(e) => e.write(Buf::Labels, labels),
        }
    }
    fn read(&self, b: Buf, len: usize) -> Result<Vec<f64>> {
        match self {
            Exec::Cpu(e) => e
                .bufs
                .get(&b)
                .map(|v| v[..len.min(v.len())].to_vec())
                .ok_or_else(|| KernelError::Input {
                    kernel: "nn".into(),
                    message: format!("no buffer {b:?}"),
                }),
            Exec::Gpu(e) => e.read(b, len),
        }
    }
    fn run(&mut self, plan: &[super::PlanOp]) -> Result<()> {
        match self {
            Exec::Cpu(e) => plan.iter().try_for_each(|op| e.run_op(op)),
            Exec::Gpu(e) => e.run(plan),
        }
    }
    /// Runs the plan one op at a time, waiting for the device after each: (kernel name, seconds) per op.
    fn run_timed(&mut self, plan: &[super::PlanOp]) -> Result<Vec<(&'static str, f64)>> {
        if let Exec::Gpu(e) = self {
            e.nn.ctx.wait()?;
        }
        let mut times = Vec::with_capacity(plan.len());
        for op in plan {
            let t = std::time::Instant::now();
            match self {
                Exec::Cpu(e) => e.run_op(op)?,
                Exec::Gpu(e) => {
                    e.run(std::slice::from_ref(op))?;
                    e.nn.ctx.wait()?;
                }
            }
            times.push((op.kernel.name, t.elapsed().as_secs_f64()));
        }
        Ok(times)
    }
}

/// What one training step returns.
#[derive(Clone, Debug)]
pub struct StepResult {
    /// Cross-entropy of each sample.
    pub loss: Vec<f64>,
    /// Class scores [batch, classes] (with dropout on).
    pub logits: Vec<f64>,
}

/// A network's parameters and work buffers on a backend.
pub struct Net {
    pub spec: NetSpec,
    exec: Exec,
    /// Largest batch the buffers hold.
    pub capacity: usize,
    /// Adam steps taken.
    pub t: u64,
}

impl Net {
    /// Allocates buffers for batches of up to `capacity` images and loads `params`.
    pub fn new(compute: &Compute, spec: NetSpec, params: &[f32], capacity: usize) -> Result<Net> {
        spec.check()?;
        if params.len() != spec.n_params() {
            return Err(KernelError::Input {
                kernel: "nn".into(),
                message: format!(
                    "{} parameters given, the network has {}",
                    params.len(),
                    spec.n_params()
                ),
            });
        }
        let mut exec = match compute {
            Compute::Cpu => Exec::Cpu(CpuExec::default()),
            Compute::Gpu(ctx) => Exec::Gpu(Box::new(GpuExec::new(NnGpu::shared(ctx)?))),
        };
        let capacity = capacity.max(1);
        let np = spec.n_params();
        for b in [Buf::Params, Buf::Grads, Buf::AdamM, Buf::AdamV] {
            exec.alloc(b, np)?;
        }
        for i in 0..spec.n_acts() {
            exec.alloc(Buf::Act(i), capacity * spec.act_len(i))?;
            exec.alloc(Buf::Grad(i), capacity * spec.act_len(i))?;
        }
        exec.alloc(Buf::Labels, capacity)?;
        exec.alloc(Buf::Loss, capacity)?;
        exec.alloc(Buf::Maps, capacity * spec.pixels())?;
        exec.write(Buf::Params, params)?;
        Ok(Net {
            spec,
            exec,
            capacity,
            t: 0,
        })
    }

    pub fn is_gpu(&self) -> bool {
        matches!(self.exec, Exec::Gpu(_))
    }

    /// The parameters as f32 (what is saved).
    pub fn params(&self) -> Result<Vec<f32>> {
        Ok(self
            .exec
            .read(Buf::Params, self.spec.n_params())?
            .iter()
            .map(|&x| x as f32)
            .collect())
    }

    /// Parameters in f64 (exact for the CPU twin).
    pub fn params_f64(&self) -> Result<Vec<f64>> {
        self.exec.read(Buf::Params, self.spec.n_params())
    }

    /// Replaces the parameters (f64, for finite differences on the twin).
    pub fn set_params_f64(&mut self, p: &[f64]) -> Result<()> {
        self.exec.write_f64(Buf::Params, p)
    }

    /// Any logical buffer's first `len` values (for tests and debugging).
    pub fn read(&self, b: Buf, len: usize) -> Result<Vec<f64>> {
        self.exec.read(b, len)
    }

    /// Gradients of the last step.
    pub fn grads(&self) -> Result<Vec<f64>> {
        self.exec.read(Buf::Grads, self.spec.n_params())
    }

    fn load(&mut self, images: &[f32], labels: Option<&[u32]>) -> Result<usize> {
        let per = self.spec.act_len(0);
        let b = images.len() / per.max(1);
        if b == 0 || b * per != images.len() || b > self.capacity {
            return Err(KernelError::Input {
                kernel: "nn".into(),
                message: format!(
                    "{} image values is not a batch of 1..={} images of {} values",
                    images.len(),
                    self.capacity,
                    per
                ),
            });
        }
        self.exec.write(Buf::Act(0), images)?;
        if let Some(l) = labels {
            if l.len() != b || l.iter().any(|&x| x as usize >= self.spec.classes) {
                return Err(KernelError::Input {
                    kernel: "softmax_xent".into(),
                    message: format!(
                        "{} labels for {b} images, each must be below {}",
                        l.len(),
                        self.spec.classes
                    ),
                });
            }
            self.exec.write_labels(l)?;
        }
        Ok(b)
    }

    /// Loss and gradients (into Grads) at the current parameters, no update; dropout with `seed`.
    pub fn loss_and_grads(
        &mut self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
    ) -> Result<StepResult> {
        let b = self.load(images, Some(labels))?;
        let mut plan = train_plan(&self.spec, b, seed, &AdamSpec::default(), 1);
        plan.pop();
        self.exec.run(&plan)?;
        self.step_result(b)
    }

    fn step_result(&self, b: usize) -> Result<StepResult> {
        let last = self.spec.n_acts() - 1;
        Ok(StepResult {
            loss: self.exec.read(Buf::Loss, b)?,
            logits: self.exec.read(Buf::Act(last), b * self.spec.classes)?,
        })
    }

    /// One training step (forward with dropout, backward, Adam).
    pub fn train_step(
        &mut self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        adam: &AdamSpec,
    ) -> Result<StepResult> {
        let (b, plan) = self.step_plan(images, labels, seed, adam)?;
        self.exec.run(&plan)?;
        self.step_result(b)
    }

    /// Loads a batch and counts an Adam step: the batch size and the plan of that training step.
    fn step_plan(
        &mut self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        adam: &AdamSpec,
    ) -> Result<(usize, Vec<super::PlanOp>)> {
        let b = self.load(images, Some(labels))?;
        self.t += 1;
        Ok((b, train_plan(&self.spec, b, seed, adam, self.t)))
    }

    /// One training step like `train_step`, run one kernel launch at a time with a wait after each: the wall time
    /// of every launch, in plan order, as (kernel name, seconds). For finding the costly kernels; slower than
    /// `train_step`, which submits the whole step at once.
    pub fn profile_train_step(
        &mut self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        adam: &AdamSpec,
    ) -> Result<Vec<(&'static str, f64)>> {
        let (_, plan) = self.step_plan(images, labels, seed, adam)?;
        self.exec.run_timed(&plan)
    }

    /// Class scores [batch, classes] without dropout.
    pub fn predict(&mut self, images: &[f32]) -> Result<Vec<f64>> {
        let b = self.load(images, None)?;
        self.exec.run(&forward_plan(&self.spec, b, Mode::Eval))?;
        self.exec
            .read(Buf::Act(self.spec.n_acts() - 1), b * self.spec.classes)
    }

    /// Grad-CAM maps [batch, G, G] for class `cls`, and the class scores [batch, classes].
    pub fn gradcam(&mut self, images: &[f32], cls: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        if cls >= self.spec.classes {
            return Err(KernelError::Input {
                kernel: "gradcam".into(),
                message: format!(
                    "class {cls} but the network has {} classes",
                    self.spec.classes
                ),
            });
        }
        let b = self.load(images, None)?;
        let k = self.spec.classes;
        let last = self.spec.n_acts() - 1;
        let mut onehot = vec![0f32; b * k];
        for row in onehot.chunks_mut(k) {
            row[cls] = 1.0;
        }
        self.exec.run(&forward_plan(&self.spec, b, Mode::Eval))?;
        self.exec.write(Buf::Grad(last), &onehot)?;
        self.exec.run(&gradcam_plan(&self.spec, b))?;
        let logits = self.exec.read(Buf::Act(last), b * k)?;
        let maps = self.exec.read(Buf::Maps, b * self.spec.pixels())?;
        Ok((logits, maps))
    }
}

/// Gridization of `batch` snapshots (positions [batch, n, 2]) into images [batch, n_species, G, G].
pub fn gridize(
    compute: &Compute,
    grid: &GridSpec,
    positions: &[f64],
    species: &[u32],
    n_species: usize,
) -> Result<Vec<f32>> {
    grid.check()?;
    let n = species.len();
    if n == 0 || !positions.len().is_multiple_of(2 * n) {
        return Err(KernelError::Input {
            kernel: "gridize".into(),
            message: format!(
                "{} coordinates is not a whole number of snapshots of {n} particles",
                positions.len()
            ),
        });
    }
    if let Some(s) = species.iter().find(|&&s| s as usize >= n_species) {
        return Err(KernelError::Input {
            kernel: "gridize".into(),
            message: format!("species {s} but {n_species} channels"),
        });
    }
    // gridize_bin carries particle indices in f32
    if n >= 1 << 24 {
        return Err(KernelError::Input {
            kernel: "gridize_bin".into(),
            message: format!("{n} particles; at most {} per snapshot", (1 << 24) - 1),
        });
    }
    let batch = positions.len() / (2 * n);
    let p = grid.params(batch, n, n_species);
    let len = batch * n_species * grid.grid * grid.grid;
    let keys = batch * (n_species * grid.grid * grid.grid + 1);
    match compute {
        Compute::Cpu => {
            let mut bin_end = vec![0u32; keys];
            let mut binned = vec![[0.0; 4]; batch * n];
            cpu::gridize_bin(&p, positions, species, &mut bin_end, &mut binned);
            let mut out = vec![0.0; len];
            cpu::gridize(&p, &bin_end, &binned, &mut out);
            Ok(out.iter().map(|&x| x as f32).collect())
        }
        Compute::Gpu(ctx) => {
            let nn = NnGpu::shared(ctx)?;
            let pos: Vec<f32> = positions.iter().map(|&x| x as f32).collect();
            let pos_b = nn.upload("gridize", "positions", &pos)?;
            let sp_b = nn.ctx.storage("species", species);
            nn.fits("gridize_bin", "bin_end", keys as u64 * 4)?;
            nn.fits("gridize_bin", "binned", (batch * n) as u64 * 16)?;
            nn.fits("gridize", "images", len as u64 * 4)?;
            let bin_end = nn.ctx.storage_zeroed("bin_end", keys as u64 * 4);
            let binned = nn.ctx.storage_zeroed("binned", (batch * n) as u64 * 16);
            let out = nn.ctx.storage_zeroed("images", len as u64 * 4);
            nn.run(&[
                Launch {
                    kernel: &GRIDIZE_BIN,
                    p,
                    bufs: vec![&pos_b, &sp_b, &bin_end, &binned],
                },
                Launch {
                    kernel: &GRIDIZE,
                    p,
                    bufs: vec![&bin_end, &binned, &out],
                },
            ])?;
            let v: Vec<f32> = nn.ctx.read("gridize", &out)?;
            Ok(v[..len].to_vec())
        }
    }
}

/// M^-1: fields [batch, G, G] read at positions [batch, n, 2], giving [batch, n] (f64).
pub fn grid_sample(
    compute: &Compute,
    grid: &GridSpec,
    fields: &[f64],
    positions: &[f64],
    n: usize,
) -> Result<Vec<f64>> {
    let gg = grid.grid * grid.grid;
    let batch = fields.len() / gg.max(1);
    if n == 0 || batch * gg != fields.len() || positions.len() != batch * n * 2 {
        return Err(KernelError::Input {
            kernel: "grid_sample".into(),
            message: format!(
                "{} field values and {} coordinates do not make {batch} maps of {}x{} and snapshots of {n} particles",
                fields.len(),
                positions.len(),
                grid.grid,
                grid.grid
            ),
        });
    }
    let p: NnParams = grid.params(batch, n, 1);
    match compute {
        Compute::Cpu => {
            let mut out = vec![0.0; batch * n];
            cpu::grid_sample(&p, fields, positions, &mut out);
            Ok(out)
        }
        Compute::Gpu(ctx) => {
            let nn = NnGpu::shared(ctx)?;
            let f: Vec<f32> = fields.iter().map(|&x| x as f32).collect();
            let pos: Vec<f32> = positions.iter().map(|&x| x as f32).collect();
            let f_b = nn.upload("grid_sample", "fields", &f)?;
            let pos_b = nn.upload("grid_sample", "positions", &pos)?;
            let out = nn.ctx.storage_zeroed("gamma", (batch * n) as u64 * 4);
            nn.run(&[Launch {
                kernel: &GRID_SAMPLE,
                p,
                bufs: vec![&f_b, &pos_b, &out],
            }])?;
            nn.read("grid_sample", &out, batch * n)
        }
    }
}
