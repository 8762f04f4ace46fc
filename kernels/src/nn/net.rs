//! A network on a backend: buffers for a batch capacity, and the steps the host needs (train step, scores,
//! Grad-CAM, gridization), each one plan run by the GPU path, the f32 CPU backend or the f64 CPU twin.

use super::cpu::{self, CpuExec};
use super::fast::{self, FastExec, Isa};
use super::gpu::{GpuExec, Launch, NnGpu};
use super::{
    forward_plan, gradcam_plan, train_plan, AdamSpec, Buf, GridSpec, Mode, NetSpec, NnParams,
    PlanOp, Precision, EPOCH_TALLY, GATHER_AUGMENT, GRIDIZE, GRIDIZE_BIN, GRID_SAMPLE, STANDARDIZE,
};
use crate::error::{KernelError, Result};
use crate::gpu::Compute;

enum Exec {
    /// The f64 twin.
    Cpu(CpuExec),
    /// The f32 CPU backend.
    Fast(Box<FastExec>),
    Gpu(Box<GpuExec>),
}

impl Exec {
    fn alloc(&mut self, b: Buf, len: usize) -> Result<()> {
        match self {
            Exec::Cpu(e) => {
                e.bufs.insert(b, vec![0.0; len]);
                Ok(())
            }
            Exec::Fast(e) => {
                e.alloc(b, len);
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
            Exec::Fast(e) => {
                e.write(b, data);
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
            Exec::Fast(e) => {
                e.write(b, &data.iter().map(|&x| x as f32).collect::<Vec<f32>>());
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
            Exec::Fast(e) => {
                e.write_labels(labels);
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
            Exec::Fast(e) => e.read(b, len),
            Exec::Gpu(e) => e.read(b, len),
        }
    }
    fn run(&mut self, plan: &[super::PlanOp]) -> Result<()> {
        match self {
            Exec::Cpu(e) => plan.iter().try_for_each(|op| e.run_op(op)),
            Exec::Fast(e) => plan.iter().try_for_each(|op| e.run_op(op)),
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
                Exec::Fast(e) => e.run_op(op)?,
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

/// A training set for [`Net::load_set`]: snapshots of `n` particles, gridized by `grid`, with the per-channel
/// standardization the images get before the network (mean 0 and std 1 leave them as they are).
pub struct TrainSet<'a> {
    /// Positions [set, n, 2], interleaved (x, y), in [0, box_l).
    pub positions: &'a [f64],
    /// Species of each of the n particles (the image channel).
    pub species: &'a [u32],
    /// Class of each snapshot.
    pub labels: &'a [u32],
    pub grid: GridSpec,
    /// Per channel (the network's input channels).
    pub mean: &'a [f64],
    pub std: &'a [f64],
}

/// The CPU paths' copy of the training set and its scratch (the GPU path keeps these in device buffers).
#[derive(Default)]
struct HostSet {
    pos: Vec<f64>,
    labels: Vec<u32>,
    species: Vec<u32>,
    order: Vec<u32>,
    tf: Vec<[f64; 4]>,
    batch_pos: Vec<f64>,
    batch_labels: Vec<u32>,
    bin_end: Vec<u32>,
    binned: Vec<[f64; 4]>,
}

/// What `load_set` recorded about the set on the backend.
struct SetInfo {
    size: usize,
    n_part: usize,
    grid: GridSpec,
    /// The epoch's order length, and whether its transforms apply (`begin_epoch`).
    order_len: usize,
    augment: bool,
    host: Option<Box<HostSet>>,
}

fn loaded(set: &mut Option<SetInfo>) -> Result<&mut SetInfo> {
    set.as_mut().ok_or_else(|| KernelError::Input {
        kernel: "gather_augment".into(),
        message: "no training set loaded: call Net::load_set first".into(),
    })
}

/// A network's parameters and work buffers on a backend.
pub struct Net {
    pub spec: NetSpec,
    exec: Exec,
    /// Largest batch the buffers hold.
    pub capacity: usize,
    /// Adam steps taken.
    pub t: u64,
    set: Option<SetInfo>,
}

impl Net {
    /// Allocates buffers for batches of up to `capacity` images and loads `params`; on the CPU, the f64 twin
    /// (`with_precision` chooses).
    pub fn new(compute: &Compute, spec: NetSpec, params: &[f32], capacity: usize) -> Result<Net> {
        Net::with_precision(compute, Precision::F64, spec, params, capacity)
    }

    /// As `new`, on the CPU in `precision`: `F32` runs the f32 backend (`nn::fast`) on the best vector unit of
    /// this CPU, `F64` the twin. The GPU path ignores it.
    pub fn with_precision(
        compute: &Compute,
        precision: Precision,
        spec: NetSpec,
        params: &[f32],
        capacity: usize,
    ) -> Result<Net> {
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
        let mut exec = match (compute, precision) {
            (Compute::Cpu, Precision::F64) => Exec::Cpu(CpuExec::default()),
            (Compute::Cpu, Precision::F32) => Exec::Fast(Box::new(FastExec::new(Isa::detect()))),
            (Compute::Gpu(ctx), _) => Exec::Gpu(Box::new(GpuExec::new(NnGpu::shared(ctx)?))),
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
            set: None,
        })
    }

    pub fn is_gpu(&self) -> bool {
        matches!(self.exec, Exec::Gpu(_))
    }

    /// The float type the network computes in: f32 on the GPU and the f32 backend, f64 on the twin.
    pub fn precision(&self) -> Precision {
        match self.exec {
            Exec::Cpu(_) => Precision::F64,
            Exec::Fast(_) | Exec::Gpu(_) => Precision::F32,
        }
    }

    /// The vector unit of the f32 CPU backend (None on the other paths).
    pub fn isa(&self) -> Option<Isa> {
        match &self.exec {
            Exec::Fast(e) => Some(e.isa),
            _ => None,
        }
    }

    /// Runs the f32 CPU backend on `isa` (or the best unit below it this CPU has); for tests of the code paths
    /// of other CPUs. No effect on the other paths.
    pub fn set_isa(&mut self, isa: Isa) {
        if let Exec::Fast(e) = &mut self.exec {
            e.isa = isa.min(Isa::detect());
        }
    }

    /// What runs the network, in words: "gpu", "cpu f64 twin", "cpu f32 (avx512)".
    pub fn describe(&self) -> String {
        match &self.exec {
            Exec::Cpu(_) => "cpu f64 twin".into(),
            Exec::Fast(e) => format!("cpu f32 ({})", e.isa.name()),
            Exec::Gpu(_) => "gpu".into(),
        }
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

    /// `profile_train_step` with each op named by its layer and pass (`NetSpec::op_label`: "conv2 forward",
    /// "conv2 backward weight", ...): the per-layer forward and backward times of a training step.
    pub fn profile_train_layers(
        &mut self,
        images: &[f32],
        labels: &[u32],
        seed: u32,
        adam: &AdamSpec,
    ) -> Result<Vec<(String, f64)>> {
        let (_, plan) = self.step_plan(images, labels, seed, adam)?;
        self.labelled_times(&plan)
    }

    /// The per-layer times of a Grad-CAM batch of class `cls`, as `profile_train_layers`.
    pub fn profile_gradcam_layers(
        &mut self,
        images: &[f32],
        cls: usize,
    ) -> Result<Vec<(String, f64)>> {
        let (forward, backward) = self.gradcam_plans(images, cls)?;
        let mut times = self.labelled_times(&forward)?;
        self.write_onehot(cls)?;
        times.extend(self.labelled_times(&backward)?);
        Ok(times)
    }

    fn labelled_times(&mut self, plan: &[PlanOp]) -> Result<Vec<(String, f64)>> {
        let times = self.exec.run_timed(plan)?;
        Ok(plan
            .iter()
            .zip(times)
            .map(|(op, (_, t))| (self.spec.op_label(op), t))
            .collect())
    }

    /// Keeps a training set on the backend for [`Net::train_set_step`]: on the GPU path the positions, labels
    /// and species are uploaded once here, and every batch is gathered, augmented, gridized and standardized on
    /// the device. Replaces any set loaded before.
    pub fn load_set(&mut self, set: &TrainSet) -> Result<()> {
        set.grid.check()?;
        let ns = self.spec.in_channels;
        let n = set.species.len();
        let size = set.labels.len();
        let bad = |message: String| KernelError::Input {
            kernel: "gather_augment".into(),
            message,
        };
        if n == 0 || size == 0 || set.positions.len() != size * n * 2 {
            return Err(bad(format!(
                "{} coordinates is not {size} snapshots of {n} particles",
                set.positions.len()
            )));
        }
        if set.grid.grid * set.grid.grid * ns != self.spec.act_len(0) {
            return Err(bad(format!(
                "images of {} channels of {}x{} pixels, the network takes {} values",
                ns,
                set.grid.grid,
                set.grid.grid,
                self.spec.act_len(0)
            )));
        }
        if set.mean.len() != ns || set.std.len() != ns {
            return Err(bad(format!(
                "{} means and {} standard deviations for {ns} channels",
                set.mean.len(),
                set.std.len()
            )));
        }
        if let Some(s) = set.species.iter().find(|&&s| s as usize >= ns) {
            return Err(bad(format!("species {s} but {ns} channels")));
        }
        if let Some(l) = set
            .labels
            .iter()
            .find(|&&l| l as usize >= self.spec.classes)
        {
            return Err(bad(format!("label {l} but {} classes", self.spec.classes)));
        }
        // gridize_bin carries particle indices in f32
        if n >= 1 << 24 {
            return Err(bad(format!(
                "{n} particles; at most {} per snapshot",
                (1 << 24) - 1
            )));
        }
        let norm: Vec<f64> = set
            .mean
            .iter()
            .zip(set.std)
            .flat_map(|(&m, &s)| [m, 1.0 / s])
            .collect();
        let cap = self.capacity;
        let keys = cap * (ns * set.grid.grid * set.grid.grid + 1);
        let host_set = |twin: bool| {
            Some(Box::new(HostSet {
                pos: set.positions.to_vec(),
                labels: set.labels.to_vec(),
                species: set.species.to_vec(),
                batch_pos: vec![0.0; cap * n * 2],
                // the f32 backend scatters without bins
                bin_end: vec![0; if twin { keys } else { 0 }],
                binned: vec![[0.0; 4]; if twin { cap * n } else { 0 }],
                ..HostSet::default()
            }))
        };
        let host = match &mut self.exec {
            Exec::Cpu(e) => {
                e.bufs.insert(Buf::Norm, norm);
                e.bufs.insert(Buf::Tally, vec![0.0; 2]);
                host_set(true)
            }
            Exec::Fast(e) => {
                e.write(
                    Buf::Norm,
                    &norm.iter().map(|&x| x as f32).collect::<Vec<_>>(),
                );
                e.write(Buf::Tally, &[0.0, 0.0]);
                host_set(false)
            }
            Exec::Gpu(e) => {
                let pos: Vec<f32> = set.positions.iter().map(|&x| x as f32).collect();
                let norm: Vec<f32> = norm.iter().map(|&x| x as f32).collect();
                for (b, len) in [
                    (Buf::SetPos, pos.len()),
                    (Buf::SetLabels, size),
                    (Buf::Species, n),
                    (Buf::Order, size),
                    (Buf::Transforms, size * 4),
                    (Buf::BatchPos, cap * n * 2),
                    (Buf::BinEnd, keys),
                    (Buf::Binned, cap * n * 4),
                    (Buf::Norm, norm.len()),
                    (Buf::Tally, 2),
                ] {
                    e.alloc(b, len)?;
                }
                e.write(Buf::SetPos, &pos)?;
                e.write(Buf::SetLabels, set.labels)?;
                e.write(Buf::Species, set.species)?;
                e.write(Buf::Norm, &norm)?;
                None
            }
        };
        self.set = Some(SetInfo {
            size,
            n_part: n,
            grid: set.grid,
            order_len: 0,
            augment: false,
            host,
        });
        Ok(())
    }

    /// Starts an epoch over the loaded set: `order` (set indices, the epoch's batches in turn) and, to augment,
    /// one symmetry (tx, ty, g, L) per set snapshot (see gather_augment.wgsl). Zeroes the epoch's tally.
    pub fn begin_epoch(&mut self, order: &[u32], transforms: Option<&[[f64; 4]]>) -> Result<()> {
        let info = loaded(&mut self.set)?;
        let size = info.size;
        if order.len() > size || order.iter().any(|&k| k as usize >= size) {
            return Err(KernelError::Input {
                kernel: "gather_augment".into(),
                message: format!("an order of {} indices into a set of {size}", order.len()),
            });
        }
        if let Some(tf) = transforms {
            if tf.len() != size
                || tf
                    .iter()
                    .any(|t| !(0.0..8.0).contains(&t[2]) || t[3] <= 0.0)
            {
                return Err(KernelError::Input {
                    kernel: "gather_augment".into(),
                    message: format!(
                        "{} transforms for a set of {size}; each (tx, ty, g in 0..8, L > 0)",
                        tf.len()
                    ),
                });
            }
        }
        info.order_len = order.len();
        info.augment = transforms.is_some();
        if let Some(h) = &mut info.host {
            h.order = order.to_vec();
            h.tf = transforms.map(<[_]>::to_vec).unwrap_or_default();
        }
        if let Exec::Gpu(e) = &mut self.exec {
            e.write(Buf::Order, order)?;
            if let Some(tf) = transforms {
                let flat: Vec<f32> = tf.iter().flatten().map(|&x| x as f32).collect();
                e.write(Buf::Transforms, &flat)?;
            }
        }
        self.exec.write(Buf::Tally, &[0.0, 0.0])
    }

    /// The input stage of a batch of the set: positions `order[start..start + len]` gathered (and augmented),
    /// gridized into the network's input and standardized. The GPU path returns its launches (nothing leaves the
    /// device); the CPU twin runs its host twins here and returns the standardization to run with the plan.
    fn set_input(&mut self, start: usize, len: usize) -> Result<Vec<PlanOp>> {
        let capacity = self.capacity;
        let ns = self.spec.in_channels;
        let info = loaded(&mut self.set)?;
        if len == 0 || len > capacity || start + len > info.order_len {
            return Err(KernelError::Input {
                kernel: "gather_augment".into(),
                message: format!(
                    "batch {start}..{} of an epoch order of {} (batches of 1..={capacity})",
                    start + len,
                    info.order_len
                ),
            });
        }
        let n = info.n_part;
        let gp = info.grid.params(len, n, ns);
        let gather = NnParams {
            batch: len as u32,
            n_part: n as u32,
            step: start as u32,
            act: u32::from(info.augment),
            ..Default::default()
        };
        let standardize = PlanOp {
            kernel: &STANDARDIZE,
            p: NnParams {
                n: (len * ns * gp.h as usize * gp.w as usize) as u32,
                ..gp
            },
            bufs: vec![Buf::Norm, Buf::Act(0)],
        };
        match (&mut self.exec, &mut info.host) {
            (exec @ (Exec::Cpu(_) | Exec::Fast(_)), Some(h)) => {
                h.batch_labels.resize(len, 0);
                cpu::gather_augment(
                    &gather,
                    &h.pos,
                    &h.labels,
                    &h.order,
                    &h.tf,
                    &mut h.batch_pos,
                    &mut h.batch_labels,
                );
                match exec {
                    Exec::Cpu(e) => {
                        cpu::gridize_bin(
                            &gp,
                            &h.batch_pos,
                            &h.species,
                            &mut h.bin_end,
                            &mut h.binned,
                        );
                        let act0 =
                            e.bufs
                                .get_mut(&Buf::Act(0))
                                .ok_or_else(|| KernelError::Input {
                                    kernel: "gridize".into(),
                                    message: "no input buffer".into(),
                                })?;
                        cpu::gridize(&gp, &h.bin_end, &h.binned, act0);
                        e.labels.clone_from(&h.batch_labels);
                    }
                    Exec::Fast(e) => {
                        let act0 = e.buf_mut(Buf::Act(0))?;
                        fast::grid::gridize(&gp, &h.batch_pos, &h.species, act0);
                        e.write_labels(&h.batch_labels);
                    }
                    Exec::Gpu(_) => unreachable!("matched the CPU paths"),
                }
                Ok(vec![standardize])
            }
            _ => Ok(vec![
                PlanOp {
                    kernel: &GATHER_AUGMENT,
                    p: gather,
                    bufs: vec![
                        Buf::SetPos,
                        Buf::SetLabels,
                        Buf::Order,
                        Buf::Transforms,
                        Buf::BatchPos,
                        Buf::Labels,
                    ],
                },
                PlanOp {
                    kernel: &GRIDIZE_BIN,
                    p: gp,
                    bufs: vec![Buf::BatchPos, Buf::Species, Buf::BinEnd, Buf::Binned],
                },
                PlanOp {
                    kernel: &GRIDIZE,
                    p: gp,
                    bufs: vec![Buf::BinEnd, Buf::Binned, Buf::Act(0)],
                },
                standardize,
            ]),
        }
    }

    /// The network's input for batch `order[start..start + len]` of the loaded set, as `train_set_step` feeds it
    /// (for tests: the GPU path against the twin, the twin against the host's images).
    pub fn set_images(&mut self, start: usize, len: usize) -> Result<Vec<f64>> {
        let plan = self.set_input(start, len)?;
        self.exec.run(&plan)?;
        self.exec.read(Buf::Act(0), len * self.spec.act_len(0))
    }

    /// One training step on batch `order[start..start + len]` of the loaded set (see `begin_epoch`): input stage,
    /// forward with dropout `seed`, backward, Adam, and the batch's loss and correct count added to the epoch's
    /// tally. Nothing is read back.
    pub fn train_set_step(
        &mut self,
        start: usize,
        len: usize,
        seed: u32,
        adam: &AdamSpec,
    ) -> Result<()> {
        let mut plan = self.set_input(start, len)?;
        self.t += 1;
        plan.extend(train_plan(&self.spec, len, seed, adam, self.t));
        plan.push(PlanOp {
            kernel: &EPOCH_TALLY,
            p: NnParams {
                batch: len as u32,
                n_out: self.spec.classes as u32,
                ..Default::default()
            },
            bufs: vec![
                Buf::Loss,
                Buf::Act(self.spec.n_acts() - 1),
                Buf::Labels,
                Buf::Tally,
            ],
        });
        self.exec.run(&plan)
    }

    /// The epoch's summed loss and number of correct predictions so far: one read.
    pub fn epoch_tally(&self) -> Result<(f64, usize)> {
        let t = self.exec.read(Buf::Tally, 2)?;
        Ok((t[0], t[1].round() as usize))
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
        let (forward, backward) = self.gradcam_plans(images, cls)?;
        let b = images.len() / self.spec.act_len(0);
        let k = self.spec.classes;
        let last = self.spec.n_acts() - 1;
        self.exec.run(&forward)?;
        self.write_onehot(cls)?;
        self.exec.run(&backward)?;
        let logits = self.exec.read(Buf::Act(last), b * k)?;
        let maps = self.exec.read(Buf::Maps, b * self.spec.pixels())?;
        Ok((logits, maps))
    }

    /// Loads a Grad-CAM batch: the eval forward plan and, to run after `write_onehot`, the backward plan.
    fn gradcam_plans(&mut self, images: &[f32], cls: usize) -> Result<(Vec<PlanOp>, Vec<PlanOp>)> {
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
        Ok((
            forward_plan(&self.spec, b, Mode::Eval),
            gradcam_plan(&self.spec, b),
        ))
    }

    /// dy^C / dscores of Grad-CAM, one-hot rows of class `cls` for the whole capacity (the plans read their
    /// batch's rows).
    fn write_onehot(&mut self, cls: usize) -> Result<()> {
        let k = self.spec.classes;
        let mut onehot = vec![0f32; self.capacity * k];
        for row in onehot.chunks_mut(k) {
            row[cls] = 1.0;
        }
        self.exec.write(Buf::Grad(self.spec.n_acts() - 1), &onehot)
    }
}

/// Gridization of `batch` snapshots (positions [batch, n, 2]) into images [batch, n_species, G, G]; on the CPU by
/// the f64 twin (`gridize_with` chooses).
pub fn gridize(
    compute: &Compute,
    grid: &GridSpec,
    positions: &[f64],
    species: &[u32],
    n_species: usize,
) -> Result<Vec<f32>> {
    gridize_with(compute, Precision::F64, grid, positions, species, n_species)
}

/// As `gridize`, on the CPU in `precision` (`F32`: the f32 backend's scatter, as `Net::train_set_step` runs it
/// with `Precision::F32`).
pub fn gridize_with(
    compute: &Compute,
    precision: Precision,
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
        Compute::Cpu if precision == Precision::F32 => {
            let mut out = vec![0.0; len];
            fast::grid::gridize(&p, positions, species, &mut out);
            Ok(out)
        }
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
