//! Launch of `md_fire` on wgpu: the MD buffers plus FIRE parameters and per-replica FIRE state, many iterations
//! per dispatch, and the grow-and-redo loop when a cell or neighbour list overflows.

use std::sync::Arc;

use super::{
    check_replicas, outcome, FireBackend, FireConfig, FireState, FireVars, Minima, Minimum,
};
use crate::error::{KernelError, Result};
use crate::gpu::GpuContext;
use crate::md::kernels;
use crate::md::{MdParams, MdSetup, ReplicaState, Replicas, SpeciesParams, Thermo};

/// Parameter blocks sit 256 bytes apart so each dispatch binds its own (uniform offset alignment).
const PARAM_STRIDE: u64 = 256;
const PARAM_SLOTS: u64 = 64;

/// The state a minimisation can be restarted from (what the grow-and-redo loop saves).
struct Saved {
    replicas: Replicas,
    fire: Vec<FireState>,
}

struct Buffers {
    params: wgpu::Buffer,
    pos: wgpu::Buffer,
    vel: wgpu::Buffer,
    pe: wgpu::Buffer,
    img: wgpu::Buffer,
    state: wgpu::Buffer,
    fire: wgpu::Buffer,
    overflow: wgpu::Buffer,
    /// Copies of pos, vel, img, state and fire taken at the start of each submission.
    backup: [wgpu::Buffer; 5],
    bind: wgpu::BindGroup,
}

/// The GPU backend of `md_fire` for one batch of replicas.
pub struct GpuFire {
    ctx: Arc<GpuContext>,
    pub setup: MdSetup,
    pub cfg: FireConfig,
    layout: wgpu::BindGroupLayout,
    pipe: wgpu::ComputePipeline,
    bufs: Option<Buffers>,
    n_replicas: usize,
    pub cell_cap: u32,
    pub nbr_cap: u32,
    /// FIRE iterations inside one dispatch.
    pub iters_per_dispatch: u32,
    /// How many times a capacity overflow made us grow and redo (for tests and logs).
    pub regrows: u32,
}

impl GpuFire {
    pub fn new(ctx: Arc<GpuContext>, setup: MdSetup, cfg: FireConfig) -> Result<GpuFire> {
        setup.check()?;
        cfg.check()?;
        let layout = ctx.layout("md_fire", &kernels::MD_FIRE.access());
        let pipe = ctx.pipeline_with(&kernels::MD_FIRE, &layout);
        let nc = setup.cells_per_side();
        let density = setup.n as f64 / (setup.box_l * setup.box_l);
        let rl = setup.pairs.iter().map(|p| p.rl).fold(0.0, f64::max);
        // Expected occupancies with room for fluctuations; overflow still grows them.
        let per_cell = setup.n as f64 / (nc * nc) as f64;
        let cell_cap = ((per_cell * 1.6).ceil() as u32 + 8).min(setup.n as u32);
        let nbr_cap = ((std::f64::consts::PI * rl * rl * density * 1.3).ceil() as u32 + 8)
            .min(setup.n as u32);
        Ok(GpuFire {
            ctx,
            setup,
            cfg,
            layout,
            pipe,
            bufs: None,
            n_replicas: 0,
            cell_cap,
            nbr_cap,
            iters_per_dispatch: 50,
            regrows: 0,
        })
    }

    fn params(&self, steps: u32) -> MdParams {
        let s = &self.setup;
        let nc = s.cells_per_side();
        MdParams {
            n: s.n as u32,
            n_replicas: self.n_replicas as u32,
            n_species: s.n_species() as u32,
            nc,
            box_l: s.box_l as f32,
            cell_size: (s.box_l / nc as f64) as f32,
            skin: s.skin as f32,
            dt: s.dt as f32,
            cell_cap: self.cell_cap,
            nbr_cap: self.nbr_cap,
            n_chain: 0,
            steps,
            n_dof: s.n_dof() as f32,
            tau_t: s.tau_t as f32,
            seg_len: 1,
            max_force: s.max_force as f32,
            ..Default::default()
        }
    }

    fn buffer_checked(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let limit = self.ctx.max_binding();
        if bytes > limit {
            return Err(KernelError::BufferTooLarge {
                kernel: "md_fire".into(),
                buffer: label.into(),
                bytes,
                limit,
            });
        }
        Ok(self.ctx.storage_zeroed(label, bytes))
    }

    fn make_buffers(&self, saved: &Saved) -> Result<Buffers> {
        let ctx = &self.ctx;
        let s = &self.setup;
        let r = &saved.replicas;
        let nr = r.count() as u64;
        let total = nr * s.n as u64;
        let nc = s.cells_per_side() as u64;
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
        let params = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("md_fire params"),
            size: PARAM_STRIDE * PARAM_SLOTS,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let pairs_b = ctx.storage("md_fire pairs", &pairs);
        let sp_b = ctx.storage("md_fire species params", &sp);
        let species_b = ctx.storage("md_fire species", &s.species);
        let pos = ctx.storage("md_fire pos", &f32x2(&r.pos));
        let vel = ctx.storage("md_fire vel", &f32x2(&r.vel));
        let force = self.buffer_checked("md_fire force", total * 8)?;
        let pe = self.buffer_checked("md_fire pe", total * 4)?;
        let img = ctx.storage("md_fire img", &r.img);
        let xref = self.buffer_checked("md_fire xref", total * 8)?;
        let cells =
            self.buffer_checked("md_fire cells", nr * nc * nc * self.cell_cap as u64 * 4)?;
        let nbr = self.buffer_checked("md_fire nbr", total * self.nbr_cap as u64 * 4)?;
        let nn = self.buffer_checked("md_fire nn", total * 4)?;
        let states: Vec<ReplicaState> = r.thermo.iter().map(Thermo::to_gpu).collect();
        let state = ctx.storage("md_fire state", &states);
        let overflow = ctx.storage("md_fire overflow", &[0u32; 4]);
        let fire_params = ctx.uniform("md_fire fire params", &self.cfg.params());
        let fire = ctx.storage("md_fire fire state", &saved.fire);
        let backup = [&pos, &vel, &img, &state, &fire]
            .map(|b| ctx.storage_zeroed("md_fire backup", b.size()));
        let bind = ctx.bind_layout(
            "md_fire",
            &self.layout,
            &[
                (&params, Some(std::mem::size_of::<MdParams>() as u64)),
                (&pairs_b, None),
                (&sp_b, None),
                (&species_b, None),
                (&pos, None),
                (&vel, None),
                (&force, None),
                (&pe, None),
                (&img, None),
                (&xref, None),
                (&cells, None),
                (&nbr, None),
                (&nn, None),
                (&state, None),
                (&overflow, None),
                (&fire_params, None),
                (&fire, None),
            ],
        );
        Ok(Buffers {
            params,
            pos,
            vel,
            pe,
            img,
            state,
            fire,
            overflow,
            backup,
            bind,
        })
    }

    fn bufs(&self) -> Result<&Buffers> {
        self.bufs.as_ref().ok_or_else(|| KernelError::Input {
            kernel: "md_fire".into(),
            message: "no replicas loaded: call upload first".into(),
        })
    }

    /// Reads the overflow words and resets them; true when a capacity was too small (and grows it).
    fn check_overflow(&mut self) -> Result<bool> {
        let b = self.bufs()?;
        let o: Vec<u32> = self.ctx.read("md_fire", &b.overflow)?;
        self.ctx
            .queue
            .write_buffer(&b.overflow, 0, bytemuck::cast_slice(&[0u32; 4]));
        let mut grew = false;
        if o[0] > self.cell_cap {
            self.cell_cap = (o[0] + o[0] / 4 + 4).min(self.setup.n as u32);
            grew = true;
        }
        if o[1] > self.nbr_cap {
            self.nbr_cap = (o[1] + o[1] / 4 + 4).min(self.setup.n as u32);
            grew = true;
        }
        if grew {
            self.regrows += 1;
        }
        Ok(grew)
    }

    /// Dispatches `chunks` (iterations per dispatch; 0 = lists and forces only) in one submission, saving the
    /// state first; on overflow grows the capacities and redoes the submission from the saved state.
    fn submit(&mut self, chunks: &[u32]) -> Result<()> {
        let mut fresh = false;
        loop {
            // new buffers hold no lists or forces yet: a lists-and-forces dispatch goes first
            let all: Vec<u32> = fresh
                .then_some(0)
                .into_iter()
                .chain(chunks.iter().copied())
                .collect();
            let b = self.bufs()?;
            let mut enc = self
                .ctx
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("md_fire"),
                });
            for (src, dst) in [&b.pos, &b.vel, &b.img, &b.state, &b.fire]
                .into_iter()
                .zip(&b.backup)
            {
                enc.copy_buffer_to_buffer(src, 0, dst, 0, src.size());
            }
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("md_fire"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipe);
                for (slot, &steps) in all.iter().enumerate() {
                    let offset = slot as u64 * PARAM_STRIDE;
                    self.ctx.queue.write_buffer(
                        &b.params,
                        offset,
                        bytemuck::bytes_of(&self.params(steps)),
                    );
                    pass.set_bind_group(0, &b.bind, &[offset as u32]);
                    pass.dispatch_workgroups(self.n_replicas as u32, 1, 1);
                }
            }
            self.ctx.queue.submit([enc.finish()]);
            if !self.check_overflow()? {
                return Ok(());
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
        let f64x2 = |v: Vec<[f32; 2]>| -> Vec<[f64; 2]> {
            v.iter().map(|x| [x[0] as f64, x[1] as f64]).collect()
        };
        let total = self.n_replicas * self.setup.n;
        let mut pos = f64x2(self.ctx.read("md_fire", pos)?);
        let mut vel = f64x2(self.ctx.read("md_fire", vel)?);
        let mut img: Vec<[i32; 2]> = self.ctx.read("md_fire", img)?;
        let states: Vec<ReplicaState> = self.ctx.read("md_fire", state)?;
        let mut fire: Vec<FireState> = self.ctx.read("md_fire", fire)?;
        pos.truncate(total);
        vel.truncate(total);
        img.truncate(total);
        fire.truncate(self.n_replicas);
        Ok(Saved {
            replicas: Replicas {
                n: self.setup.n,
                pos,
                vel,
                img,
                thermo: states
                    .iter()
                    .take(self.n_replicas)
                    .map(Thermo::from_gpu)
                    .collect(),
            },
            fire,
        })
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
        self.submit(&[0])
    }

    fn iterate(&mut self, iters: u32) -> Result<usize> {
        let per = self.iters_per_dispatch.max(1);
        let mut left = iters;
        while left > 0 {
            let mut chunks = Vec::new();
            while left > 0 && (chunks.len() as u64) + 1 < PARAM_SLOTS {
                let k = left.min(per);
                chunks.push(k);
                left -= k;
            }
            self.submit(&chunks)?;
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
        let saved = self.read(&b.pos, &b.vel, &b.img, &b.state, &b.fire)?;
        let pe: Vec<f32> = self.ctx.read("md_fire", &b.pe)?;
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
