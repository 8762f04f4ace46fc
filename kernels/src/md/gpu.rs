//! Launch of `md_forces`, `md_step` and `md_crsd` on wgpu through the device's one launch path (`launch.rs`):
//! buffers, dispatch, and the grow-and-redo loop when a cell or neighbour list overflows its capacity.

use std::sync::Arc;

use super::{
    steps_within_budget, Advance, Cages, CrsdParams, MdBackend, MdParams, MdSetup, ReplicaState,
    Replicas, SpeciesParams, Thermo, MAX_CELLS, WG,
};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::md::kernels::{MD_CRSD, MD_FORCES, MD_STEP};

/// The buffers behind bindings 1-14 of `md_forces`, `md_step` and `md_fire` (`MD_BINDINGS` in `kernels.rs`; binding
/// 0 is the launch's parameter slot): one replica batch's state and lists.
pub(crate) struct MdState {
    pub pairs: wgpu::Buffer,
    pub species_params: wgpu::Buffer,
    pub species: wgpu::Buffer,
    pub pos: wgpu::Buffer,
    pub vel: wgpu::Buffer,
    pub force: wgpu::Buffer,
    pub pe: wgpu::Buffer,
    pub img: wgpu::Buffer,
    pub xref: wgpu::Buffer,
    pub cells: wgpu::Buffer,
    pub nbr: wgpu::Buffer,
    pub nn: wgpu::Buffer,
    pub state: wgpu::Buffer,
    pub overflow: wgpu::Buffer,
}

impl MdState {
    /// Uploads replicas `r` (as f32) and allocates lists of the given capacities; `kernel` names the buffers.
    pub(crate) fn new(
        ctx: &GpuContext,
        kernel: &str,
        s: &MdSetup,
        r: &Replicas,
        cell_cap: u32,
        nbr_cap: u32,
    ) -> Result<MdState> {
        let nr = r.count() as u64;
        let total = nr * s.n as u64;
        let nc = s.cells_per_side() as u64;
        debug_assert!(nc * nc <= MAX_CELLS as u64);
        let label = |what: &str| format!("{kernel} {what}");
        let f32x2 = |v: &[[f64; 2]]| -> Vec<[f32; 2]> {
            v.iter().map(|x| [x[0] as f32, x[1] as f32]).collect()
        };
        let pairs: Vec<_> = s.pairs.iter().map(|p| p.params()).collect();
        let sp: Vec<SpeciesParams> = s
            .mass
            .iter()
            .map(|&m| SpeciesParams {
                mass: m as f32,
                inv_mass: (1.0 / m) as f32,
                ..Default::default()
            })
            .collect();
        let zeroed = |what: &str, bytes: u64| ctx.zeroed(kernel, &label(what), bytes);
        let states: Vec<ReplicaState> = r.thermo.iter().map(Thermo::to_gpu).collect();
        Ok(MdState {
            pairs: ctx.storage(&label("pairs"), &pairs),
            species_params: ctx.storage(&label("species params"), &sp),
            species: ctx.storage(&label("species"), &s.species),
            pos: ctx.storage(&label("pos"), &f32x2(&r.pos)),
            vel: ctx.storage(&label("vel"), &f32x2(&r.vel)),
            force: zeroed("force", total * 8)?,
            pe: zeroed("pe", total * 4)?,
            img: ctx.storage(&label("img"), &r.img),
            xref: zeroed("xref", total * 8)?,
            cells: zeroed("cells", nr * nc * nc * cell_cap as u64 * 4)?,
            nbr: zeroed("nbr", total * nbr_cap as u64 * 4)?,
            nn: zeroed("nn", total * 4)?,
            state: ctx.storage(&label("state"), &states),
            overflow: ctx.storage(&label("overflow"), &[0u32; 4]),
        })
    }

    /// The buffers of bindings 1-14, in `MD_BINDINGS` order.
    pub(crate) fn entries(&self) -> Vec<&wgpu::Buffer> {
        vec![
            &self.pairs,
            &self.species_params,
            &self.species,
            &self.pos,
            &self.vel,
            &self.force,
            &self.pe,
            &self.img,
            &self.xref,
            &self.cells,
            &self.nbr,
            &self.nn,
            &self.state,
            &self.overflow,
        ]
    }

    /// Reads the overflow words and resets them. True when a list capacity was too small, which it then grows
    /// by a quarter (at most to `n`).
    pub(crate) fn grow_on_overflow(
        &self,
        ctx: &GpuContext,
        kernel: &str,
        n: usize,
        cell_cap: &mut u32,
        nbr_cap: &mut u32,
    ) -> Result<bool> {
        let o: Vec<u32> = ctx.read(kernel, &self.overflow)?;
        ctx.queue
            .write_buffer(&self.overflow, 0, bytemuck::cast_slice(&[0u32; 4]));
        let mut grew = false;
        for (seen, cap) in [(o[0], cell_cap), (o[1], nbr_cap)] {
            if seen > *cap {
                *cap = (seen + seen / 4 + 4).min(n as u32);
                grew = true;
            }
        }
        Ok(grew)
    }
}

/// The MD parameter block of a batch of `n_replicas` replicas for a dispatch of `steps` steps.
pub(crate) fn md_params(
    s: &MdSetup,
    n_replicas: usize,
    cell_cap: u32,
    nbr_cap: u32,
    steps: u32,
) -> MdParams {
    let nc = s.cells_per_side();
    MdParams {
        n: s.n as u32,
        n_replicas: n_replicas as u32,
        n_species: s.n_species() as u32,
        nc,
        box_l: s.box_l as f32,
        cell_size: (s.box_l / nc as f64) as f32,
        skin: s.skin as f32,
        dt: s.dt as f32,
        cell_cap,
        nbr_cap,
        n_chain: s.n_chain as u32,
        steps,
        n_dof: s.n_dof() as f32,
        tau_t: s.tau_t as f32,
        seg_len: 1,
        max_force: s.max_force as f32,
        ..Default::default()
    }
}

struct Buffers {
    md: MdState,
    backup: [wgpu::Buffer; 4],
    bind: wgpu::BindGroup,
}

/// The GPU backend for one batch (chunk) of replicas.
pub struct GpuMd {
    ctx: Arc<GpuContext>,
    pub setup: MdSetup,
    bufs: Option<Buffers>,
    n_replicas: usize,
    pub cell_cap: u32,
    pub nbr_cap: u32,
    /// Steps inside one dispatch (one kernel launch runs this many steps for every replica).
    pub steps_per_dispatch: u32,
    /// Dispatches per queue submission; overflow is checked once per submission.
    pub dispatches_per_submit: u32,
    /// How many times a capacity overflow made us grow and redo (for tests and logs).
    pub regrows: u32,
    step: u64,
}

impl GpuMd {
    pub fn new(ctx: Arc<GpuContext>, setup: MdSetup) -> Result<GpuMd> {
        setup.check()?;
        // Expected occupancies with room for fluctuations; overflow still grows them.
        let (cell_cap, nbr_cap) = setup.list_capacities();
        Ok(GpuMd {
            ctx,
            setup,
            bufs: None,
            n_replicas: 0,
            cell_cap,
            nbr_cap,
            steps_per_dispatch: 25,
            dispatches_per_submit: 40,
            regrows: 0,
            step: 0,
        })
    }

    fn params(&self, steps: u32) -> MdParams {
        MdParams {
            step0: self.step as u32,
            ..md_params(
                &self.setup,
                self.n_replicas,
                self.cell_cap,
                self.nbr_cap,
                steps,
            )
        }
    }

    fn make_buffers(&self, r: &Replicas) -> Result<Buffers> {
        let ctx = &self.ctx;
        let md = MdState::new(ctx, "md_step", &self.setup, r, self.cell_cap, self.nbr_cap)?;
        let backup = [&md.pos, &md.vel, &md.img, &md.state]
            .map(|b| ctx.storage_zeroed("md_step backup", b.size()));
        // md_forces and md_step have the same bindings: one bind group serves both
        let bind = ctx.bind(&MD_STEP, &md.entries())?;
        Ok(Buffers { md, backup, bind })
    }

    /// Reads the overflow words and resets them; true when a capacity was too small (and grows it).
    fn check_overflow(&mut self) -> Result<bool> {
        let b = self.bufs.as_ref().expect("buffers exist after upload");
        let grew = b.md.grow_on_overflow(
            &self.ctx,
            "md_step",
            self.setup.n,
            &mut self.cell_cap,
            &mut self.nbr_cap,
        )?;
        self.regrows += grew as u32;
        Ok(grew)
    }

    fn run_forces(&mut self) -> Result<()> {
        self.dispatch_steps()?;
        let p = self.params(0);
        let b = self.bufs.as_ref().expect("buffers exist after upload");
        let mut enc = self.ctx.encoder("md_forces");
        enc.launch(&MD_FORCES, &p, &b.bind, self.n_replicas as u64)?;
        enc.submit();
        Ok(())
    }

    /// Steps per dispatch now: `steps_per_dispatch`, or fewer where the driver's loop budget asks for it.
    fn dispatch_steps(&self) -> Result<u32> {
        steps_within_budget(
            "md_step",
            &self.setup,
            self.cell_cap,
            self.nbr_cap,
            self.steps_per_dispatch,
            self.ctx.loop_budget(),
        )
    }

    /// The replicas as they were saved at the start of the last submission.
    fn read_backup(&self) -> Result<Replicas> {
        let b = self.bufs.as_ref().expect("buffers exist after upload");
        self.read_state(&b.backup[0], &b.backup[1], &b.backup[2], &b.backup[3])
    }

    fn read_state(
        &self,
        pos: &wgpu::Buffer,
        vel: &wgpu::Buffer,
        img: &wgpu::Buffer,
        state: &wgpu::Buffer,
    ) -> Result<Replicas> {
        read_replicas(
            &self.ctx,
            "md_step",
            self.setup.n,
            self.n_replicas,
            [pos, vel, img, state],
        )
    }
}

/// Reads `n_replicas` replicas of `n` particles back from their pos, vel, img and state buffers (as f64).
pub(crate) fn read_replicas(
    ctx: &GpuContext,
    kernel: &str,
    n: usize,
    n_replicas: usize,
    [pos, vel, img, state]: [&wgpu::Buffer; 4],
) -> Result<Replicas> {
    let f64x2 = |v: Vec<[f32; 2]>| -> Vec<[f64; 2]> {
        v.iter().map(|x| [x[0] as f64, x[1] as f64]).collect()
    };
    let total = n_replicas * n;
    let mut pos = f64x2(ctx.read(kernel, pos)?);
    let mut vel = f64x2(ctx.read(kernel, vel)?);
    let mut img: Vec<[i32; 2]> = ctx.read(kernel, img)?;
    let states: Vec<ReplicaState> = ctx.read(kernel, state)?;
    pos.truncate(total);
    vel.truncate(total);
    img.truncate(total);
    Ok(Replicas {
        n,
        pos,
        vel,
        img,
        thermo: states
            .iter()
            .take(n_replicas)
            .map(Thermo::from_gpu)
            .collect(),
    })
}

impl MdBackend for GpuMd {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        if r.n != self.setup.n || r.pos.len() != r.n * r.count() {
            return Err(KernelError::Input {
                kernel: "md_forces".into(),
                message: format!(
                    "replicas of {} particles ({} positions for {} replicas) but the setup has {}",
                    r.n,
                    r.pos.len(),
                    r.count(),
                    self.setup.n
                ),
            });
        }
        if r.count() > self.ctx.limits.max_compute_workgroups_per_dimension as usize {
            return Err(KernelError::Input {
                kernel: "md_step".into(),
                message: format!(
                    "{} replicas in one chunk, the device dispatches at most {}",
                    r.count(),
                    self.ctx.limits.max_compute_workgroups_per_dimension
                ),
            });
        }
        self.n_replicas = r.count();
        loop {
            self.bufs = Some(self.make_buffers(r)?);
            self.run_forces()?;
            if !self.check_overflow()? {
                return Ok(());
            }
        }
    }

    fn advance(&mut self, adv: &Advance) -> Result<()> {
        let mut done = 0u64;
        while done < adv.steps {
            // capacities may have grown since the last submission, and with them the loop trips of a step
            let per_dispatch = self.dispatch_steps()? as u64;
            let per_submit = per_dispatch * self.dispatches_per_submit.max(1) as u64;
            let chunk = (adv.steps - done).min(per_submit);
            let b = self.bufs.as_ref().expect("upload before advance");
            let mut enc = self.ctx.encoder("md_step");
            for (src, dst) in [&b.md.pos, &b.md.vel, &b.md.img, &b.md.state]
                .into_iter()
                .zip(&b.backup)
            {
                enc.copy(src, dst, src.size());
            }
            let mut offset = 0u64;
            while offset < chunk {
                let steps = (chunk - offset).min(per_dispatch);
                let mut p = self.params(steps as u32);
                p.t_from = adv.segment.t_from as f32;
                p.t_to = adv.segment.t_to as f32;
                p.seg_len = adv.segment.len.max(1) as u32;
                p.seg_step0 = (adv.seg_done + done + offset) as u32;
                p.step0 = (adv.step0 + done + offset) as u32;
                enc.launch(&MD_STEP, &p, &b.bind, self.n_replicas as u64)?;
                offset += steps;
            }
            enc.submit();
            if self.check_overflow()? {
                // A list was truncated somewhere in this submission: grow, restore, redo it.
                let saved = self.read_backup()?;
                self.step = adv.step0 + done;
                self.upload(&saved)?;
                continue;
            }
            done += chunk;
        }
        self.step = adv.step0 + adv.steps;
        Ok(())
    }

    fn download(&mut self) -> Result<Replicas> {
        let b = self.bufs.as_ref().expect("upload before download");
        self.read_state(&b.md.pos, &b.md.vel, &b.md.img, &b.md.state)
    }

    fn thermo(&mut self) -> Result<Vec<Thermo>> {
        let b = self.bufs.as_ref().expect("upload before thermo");
        let states: Vec<ReplicaState> = self.ctx.read("md_step", &b.md.state)?;
        Ok(states
            .iter()
            .take(self.n_replicas)
            .map(Thermo::from_gpu)
            .collect())
    }

    fn forces(&mut self) -> Result<(Vec<[f64; 2]>, Vec<f64>)> {
        let b = self.bufs.as_ref().expect("upload before forces");
        let f: Vec<[f32; 2]> = self.ctx.read("md_forces", &b.md.force)?;
        let e: Vec<f32> = self.ctx.read("md_forces", &b.md.pe)?;
        let total = self.n_replicas * self.setup.n;
        Ok((
            f.iter()
                .take(total)
                .map(|x| [x[0] as f64, x[1] as f64])
                .collect(),
            e.iter().take(total).map(|&x| x as f64).collect(),
        ))
    }

    fn crsd(&mut self, cages: &Cages) -> Result<Vec<f64>> {
        let n = self.setup.n;
        let err = |message: String| KernelError::Input {
            kernel: "md_crsd".into(),
            message,
        };
        if cages.pos0.len() != n || cages.cage_end.len() != n {
            return Err(err(format!(
                "cages of {} particles, the setup has {n}",
                cages.pos0.len()
            )));
        }
        let b = self
            .bufs
            .as_ref()
            .ok_or_else(|| err("no replicas on the device: upload them first".into()))?;
        let total = n * self.n_replicas;
        let ctx = &self.ctx;
        let params = CrsdParams {
            n: n as u32,
            n_replicas: self.n_replicas as u32,
            box_l: self.setup.box_l as f32,
            pad: 0,
        };
        let pos0: Vec<[f32; 2]> = cages
            .pos0
            .iter()
            .map(|p| [p[0] as f32, p[1] as f32])
            .collect();
        let pos0 = ctx.storage("md_crsd pos0", &pos0);
        let cage_end = ctx.storage("md_crsd cage_end", &cages.cage_end);
        let cage = ctx.storage("md_crsd cage", &cages.cage);
        let out = ctx.zeroed("md_crsd", "md_crsd out", total as u64 * 4)?;
        let bind = ctx.bind(
            &MD_CRSD,
            &[&b.md.pos, &b.md.img, &pos0, &cage_end, &cage, &out],
        )?;
        let mut enc = ctx.encoder("md_crsd");
        enc.launch(&MD_CRSD, &params, &bind, (total as u64).div_ceil(WG as u64))?;
        enc.submit();
        ctx.read_f64("md_crsd", &out, total)
    }
}
