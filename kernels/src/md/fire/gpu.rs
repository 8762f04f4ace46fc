//! Launch of `md_fire` on wgpu through the device's one launch path (`launch.rs`): the MD buffers plus FIRE
//! parameters and per-replica FIRE state, many iterations per dispatch, and the grow-and-redo loop when a cell or
//! neighbour list overflows.

use std::sync::Arc;

use super::{
    check_replicas, outcome, FireBackend, FireConfig, FireState, FireVars, Minima, Minimum,
};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::launch::SLOTS;
use crate::md::gpu::{md_params, read_replicas, MdState};
use crate::md::kernels::MD_FIRE;
use crate::md::{steps_within_budget, MdParams, MdSetup, Replicas};

/// The state a minimisation can be restarted from (what the grow-and-redo loop saves).
struct Saved {
    replicas: Replicas,
    fire: Vec<FireState>,
}

struct Buffers {
    md: MdState,
    fire: wgpu::Buffer,
    /// Copies of pos, vel, img, state and fire taken at the start of each submission.
    backup: [wgpu::Buffer; 5],
    bind: wgpu::BindGroup,
}

fn no_replicas() -> KernelError {
    KernelError::Input {
        kernel: "md_fire".into(),
        message: "no replicas loaded: call upload first".into(),
    }
}

/// The GPU backend of `md_fire` for one batch of replicas.
pub struct GpuFire {
    ctx: Arc<GpuContext>,
    pub setup: MdSetup,
    pub cfg: FireConfig,
    bufs: Option<Buffers>,
    n_replicas: usize,
    pub cell_cap: u32,
    pub nbr_cap: u32,
    /// FIRE iterations inside one dispatch, at most (fewer where the driver's loop budget asks for it).
    pub iters_per_dispatch: u32,
    /// How many times a capacity overflow made us grow and redo (for tests and logs).
    pub regrows: u32,
}

impl GpuFire {
    pub fn new(ctx: Arc<GpuContext>, setup: MdSetup, cfg: FireConfig) -> Result<GpuFire> {
        setup.check()?;
        cfg.check()?;
        // Expected occupancies with room for fluctuations; overflow still grows them.
        let (cell_cap, nbr_cap) = setup.list_capacities();
        Ok(GpuFire {
            ctx,
            setup,
            cfg,
            bufs: None,
            n_replicas: 0,
            cell_cap,
            nbr_cap,
            iters_per_dispatch: 50,
            regrows: 0,
        })
    }

    fn params(&self, steps: u32) -> MdParams {
        MdParams {
            n_chain: 0,
            ..md_params(
                &self.setup,
                self.n_replicas,
                self.cell_cap,
                self.nbr_cap,
                steps,
            )
        }
    }

    fn make_buffers(&self, saved: &Saved) -> Result<Buffers> {
        let ctx = &self.ctx;
        let md = MdState::new(
            ctx,
            "md_fire",
            &self.setup,
            &saved.replicas,
            self.cell_cap,
            self.nbr_cap,
        )?;
        let fire_params = ctx.uniform("md_fire fire params", &self.cfg.params());
        let fire = ctx.storage("md_fire fire state", &saved.fire);
        let backup = [&md.pos, &md.vel, &md.img, &md.state, &fire]
            .map(|b| ctx.storage_zeroed("md_fire backup", b.size()));
        let mut entries = md.entries();
        entries.extend([&fire_params, &fire]);
        let bind = ctx.bind(&MD_FIRE, &entries)?;
        Ok(Buffers {
            md,
            fire,
            backup,
            bind,
        })
    }

    fn bufs(&self) -> Result<&Buffers> {
        self.bufs.as_ref().ok_or_else(no_replicas)
    }

    /// Reads the overflow words and resets them; true when a capacity was too small (and grows it).
    fn check_overflow(&mut self) -> Result<bool> {
        let b = self.bufs.as_ref().ok_or_else(no_replicas)?;
        let grew = b.md.grow_on_overflow(
            &self.ctx,
            "md_fire",
            self.setup.n,
            &mut self.cell_cap,
            &mut self.nbr_cap,
        )?;
        self.regrows += grew as u32;
        Ok(grew)
    }

    /// Runs up to `want` iterations (0: lists and forces only) in one submission, dispatches of at most
    /// `iters_per_dispatch` iterations or what the driver's loop budget allows, saving the state first; on
    /// overflow grows the capacities and redoes the submission from the saved state. Returns the iterations run.
    fn submit(&mut self, want: u32) -> Result<u32> {
        let mut fresh = false;
        loop {
            let per = steps_within_budget(
                "md_fire",
                &self.setup,
                self.cell_cap,
                self.nbr_cap,
                self.iters_per_dispatch,
                self.ctx.loop_budget(),
            )?;
            // new buffers hold no lists or forces yet: a lists-and-forces dispatch goes first
            let mut all: Vec<u32> = fresh.then_some(0).into_iter().collect();
            let mut done = 0;
            if want == 0 {
                all.push(0);
            }
            while done < want && (all.len() as u64) < SLOTS {
                let k = (want - done).min(per);
                all.push(k);
                done += k;
            }
            let b = self.bufs()?;
            let mut enc = self.ctx.encoder("md_fire");
            for (src, dst) in [&b.md.pos, &b.md.vel, &b.md.img, &b.md.state, &b.fire]
                .into_iter()
                .zip(&b.backup)
            {
                enc.copy(src, dst, src.size());
            }
            for &steps in &all {
                enc.launch(
                    &MD_FIRE,
                    &self.params(steps),
                    &b.bind,
                    self.n_replicas as u64,
                )?;
            }
            enc.submit();
            if !self.check_overflow()? {
                return Ok(done);
            }
            // a list was truncated somewhere in this submission: larger buffers, redo from the saved state
            let saved = self.read_saved()?;
            self.bufs = Some(self.make_buffers(&saved)?);
            fresh = true;
        }
    }

    fn read_saved(&self) -> Result<Saved> {
        let b = self.bufs()?;
        self.read(
            &b.backup[0],
            &b.backup[1],
            &b.backup[2],
            &b.backup[3],
            &b.backup[4],
        )
    }

    fn read(
        &self,
        pos: &wgpu::Buffer,
        vel: &wgpu::Buffer,
        img: &wgpu::Buffer,
        state: &wgpu::Buffer,
        fire: &wgpu::Buffer,
    ) -> Result<Saved> {
        let replicas = read_replicas(
            &self.ctx,
            "md_fire",
            self.setup.n,
            self.n_replicas,
            [pos, vel, img, state],
        )?;
        let mut fire: Vec<FireState> = self.ctx.read("md_fire", fire)?;
        fire.truncate(self.n_replicas);
        Ok(Saved { replicas, fire })
    }

    fn fire_states(&self) -> Result<Vec<FireVars>> {
        let b = self.bufs()?;
        let fire: Vec<FireState> = self.ctx.read("md_fire", &b.fire)?;
        Ok(fire
            .iter()
            .take(self.n_replicas)
            .map(FireVars::from_gpu)
            .collect())
    }
}

impl FireBackend for GpuFire {
    fn upload(&mut self, r: &Replicas) -> Result<()> {
        let n = self.setup.n;
        check_replicas(n, r)?;
        if r.count() > self.ctx.limits.max_compute_workgroups_per_dimension as usize {
            return Err(KernelError::Input {
                kernel: "md_fire".into(),
                message: format!(
                    "{} replicas in one batch, the device dispatches at most {}: minimise in chunks",
                    r.count(),
                    self.ctx.limits.max_compute_workgroups_per_dimension
                ),
            });
        }
        self.n_replicas = r.count();
        // FIRE starts at rest with a fresh state; an MD failure flag from before does not carry over
        let mut replicas = r.clone();
        replicas.vel.iter_mut().for_each(|v| *v = [0.0; 2]);
        replicas.thermo.iter_mut().for_each(|t| t.status = 0);
        let saved = Saved {
            fire: vec![FireVars::start(&self.cfg).to_gpu(); r.count()],
            replicas,
        };
        self.bufs = Some(self.make_buffers(&saved)?);
        self.submit(0).map(|_| ())
    }

    fn iterate(&mut self, iters: u32) -> Result<usize> {
        let mut left = iters;
        while left > 0 {
            left -= self.submit(left)?;
        }
        let cfg = self.cfg;
        Ok(self
            .fire_states()?
            .iter()
            .filter(|st| st.active(&cfg))
            .count())
    }

    fn download(&mut self) -> Result<Minima> {
        let b = self.bufs()?;
        let saved = self.read(&b.md.pos, &b.md.vel, &b.md.img, &b.md.state, &b.fire)?;
        let pe: Vec<f32> = self.ctx.read("md_fire", &b.md.pe)?;
        let n = self.setup.n;
        let mut replicas = saved.replicas;
        replicas.vel.iter_mut().for_each(|v| *v = [0.0; 2]);
        let minima = saved
            .fire
            .iter()
            .zip(&replicas.thermo)
            .map(|(g, th)| {
                let st = FireVars::from_gpu(g);
                Minimum {
                    e_per_particle: st.pe / n as f64,
                    fmax: st.fmax2.sqrt(),
                    iterations: st.iters,
                    outcome: outcome(&st, th.status),
                }
            })
            .collect();
        Ok(Minima {
            pe: pe
                .iter()
                .take(self.n_replicas * n)
                .map(|&x| x as f64)
                .collect(),
            replicas,
            minima,
        })
    }
}
