//! What the kernel tests share: seeded random data, the three model glass formers at any size, random starts and
//! short liquids (on the MD reference), small periodic kNN graphs, and one-kernel GPU-vs-twin runs of the nn
//! family. Built from this crate alone: the main crate depends on this one.
#![allow(dead_code)]

pub use crate::shared::{run_at, Rng};

use std::sync::Arc;

use glasscam_kernels::gnn::gpu::GnnKernel;
use glasscam_kernels::gnn::{Attention, GraphBatch, MpnnSpec};
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::md::reference::{self, RefMd, RefReplica};
use glasscam_kernels::md::{MdSetup, Pair, PairForm, Replicas, Thermo};
use glasscam_kernels::nn::cpu::CpuExec;
use glasscam_kernels::nn::gpu::{GpuExec, NnGpu};
use glasscam_kernels::nn::{Buf, NnKernel, NnParams, PlanOp};
use glasscam_kernels::tolerance::{assert_close, Tolerance};
use glasscam_kernels::{Binding, GpuContext};

/// A 2D Lennard-Jones glass former: number density, pair form and cutoff (in units of each pair's sigma), and
/// per species its particle count and mass, per species pair (sigma, epsilon).
#[derive(Clone, Debug)]
pub struct System {
    pub name: &'static str,
    pub density: f64,
    pub form: PairForm,
    pub cutoff: f64,
    pub counts: Vec<usize>,
    pub mass: Vec<f64>,
    /// Row-major species x species.
    pub pairs: Vec<(f64, f64)>,
}

impl System {
    /// Kob-Andersen 65:35 at density 1.09 (the main crate's `kam` preset).
    pub fn kam() -> System {
        System {
            name: "kam",
            density: 1.09,
            form: PairForm::LjSmoothLinear,
            cutoff: 2.5,
            counts: vec![1300, 700],
            mass: vec![1.0, 1.0],
            pairs: vec![(1.0, 1.0), (0.8, 1.5), (0.8, 1.5), (0.88, 0.5)],
        }
    }

    /// The 50:50 additive binary mixture at density 1.2 (the main crate's `abm` preset).
    pub fn abm() -> System {
        System {
            name: "abm",
            density: 1.2,
            form: PairForm::LjSmoothLinear,
            cutoff: 2.5,
            counts: vec![1000, 1000],
            mass: vec![1.0, 1.0],
            pairs: vec![(5.0 / 6.0, 1.0), (1.0, 1.0), (1.0, 1.0), (7.0 / 6.0, 1.0)],
        }
    }

    /// GlassBench's 2D ternary Kob-Andersen mixture (Jung, Biroli & Berthier 2023): 600 A + 330 B + 360 C in a
    /// square box of side 32.8962, LJ plus the KA2D polynomial, cut at 2.5 sigma, masses 1.
    pub fn ka2d() -> System {
        let (aa, ab, ac, bb, bc, cc) = (
            (1.0, 1.0),
            (0.8, 1.5),
            (0.9, 0.75),
            (0.88, 0.5),
            (0.8, 1.5),
            (0.94, 0.75),
        );
        System {
            name: "ka2d",
            density: 1290.0 / (KA2D_BOX * KA2D_BOX),
            form: PairForm::KA2D,
            cutoff: PairForm::KA2D_CUTOFF,
            counts: vec![600, 330, 360],
            mass: vec![1.0, 1.0, 1.0],
            pairs: vec![aa, ab, ac, ab, bb, bc, ac, bc, cc],
        }
    }
}

/// GlassBench's KA2D box side at N = 1290.
pub const KA2D_BOX: f64 = 32.8962;

/// `sys` at `n` particles: the same composition (the last species takes the rounding), density and potential.
pub fn scaled(mut sys: System, n: usize) -> System {
    let total: usize = sys.counts.iter().sum();
    let k = sys.counts.len();
    let mut left = n;
    for (i, c) in sys.counts.iter_mut().enumerate() {
        *c = if i + 1 == k { left } else { *c * n / total };
        left -= *c;
    }
    sys
}

/// The MD setup of `sys` with the main crate's default integrator settings (dt 0.005, skin 0.3, a chain of 3 with
/// tau 0.5, blow-up at |F| = 1e5); species in blocks, species 0 first.
pub fn setup(sys: &System) -> MdSetup {
    let n: usize = sys.counts.iter().sum();
    let skin = 0.3;
    MdSetup {
        n,
        box_l: (n as f64 / sys.density).sqrt(),
        species: (0..sys.counts.len())
            .flat_map(|s| std::iter::repeat_n(s as u32, sys.counts[s]))
            .collect(),
        mass: sys.mass.clone(),
        pairs: sys
            .pairs
            .iter()
            .map(|&(sigma, eps)| Pair::with_form(sigma, eps, sys.cutoff * sigma, skin, sys.form))
            .collect(),
        dt: 0.005,
        skin,
        tau_t: 0.5,
        n_chain: 3,
        max_force: 1e5,
    }
}

/// KAM at `n` particles with its AB pairs in KA2D's form (cut at 2.5 sigma_AB either way): a table of two forms.
pub fn mixed_forms(n: usize) -> MdSetup {
    let mut s = setup(&scaled(System::kam(), n));
    let p = s.pairs[1];
    let ab = Pair::with_form(p.sigma, p.eps, p.rc, s.skin, PairForm::KA2D);
    s.pairs[1] = ab;
    s.pairs[2] = ab;
    s
}

/// Positions on a jittered triangular lattice, the species' places shuffled (Fisher-Yates over the sites).
pub fn lattice_start(s: &MdSetup, rng: &mut Rng) -> Vec<[f64; 2]> {
    let (n, l) = (s.n, s.box_l);
    let nx = ((n as f64 * 2.0 / 3f64.sqrt()).sqrt().ceil() as usize).max(1);
    let ny = n.div_ceil(nx);
    let (ax, ay) = (l / nx as f64, l / ny as f64);
    let mut sites: Vec<usize> = (0..nx * ny).collect();
    for i in (1..sites.len()).rev() {
        let j = (rng.next() * (i + 1) as f64) as usize;
        sites.swap(i, j.min(i));
    }
    sites[..n]
        .iter()
        .map(|&site| {
            let (ix, iy) = (site % nx, site / nx);
            let x = (ix as f64 + 0.5 * (iy % 2) as f64) * ax + 0.1 * ax * (rng.next() - 0.5);
            let y = iy as f64 * ay + 0.1 * ay * (rng.next() - 0.5);
            [x.rem_euclid(l), y.rem_euclid(l)]
        })
        .collect()
}

/// Maxwell-Boltzmann velocities at temperature `t`, total momentum removed, scaled to a kinetic temperature of
/// exactly `t`.
pub fn velocities(s: &MdSetup, t: f64, rng: &mut Rng) -> Vec<[f64; 2]> {
    // Box-Muller, the cosine branch
    let mut normal = |sd: f64| {
        let (u1, u2) = (1.0 - rng.next(), rng.next());
        sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let m: Vec<f64> = s.species.iter().map(|&k| s.mass[k as usize]).collect();
    let mut v: Vec<[f64; 2]> = m
        .iter()
        .map(|mi| [normal((t / mi).sqrt()), normal((t / mi).sqrt())])
        .collect();
    let total: f64 = m.iter().sum();
    for a in 0..2 {
        let p: f64 = v.iter().zip(&m).map(|(vi, mi)| mi * vi[a]).sum();
        v.iter_mut().for_each(|vi| vi[a] -= p / total);
    }
    let ke2: f64 = v
        .iter()
        .zip(&m)
        .map(|(vi, mi)| mi * (vi[0] * vi[0] + vi[1] * vi[1]))
        .sum();
    let scale = (t * s.n_dof() / ke2).sqrt();
    v.iter_mut()
        .for_each(|vi| *vi = [vi[0] * scale, vi[1] * scale]);
    v
}

/// `count` fresh replicas: lattice starts with velocities at `t`, each from its own stream of `seed`, as they are
/// (the pinned runs of `md_cpu` start here; everything else relaxes them first: `random_replicas`).
pub fn lattice_replicas(s: &MdSetup, seed: u64, count: usize, t: f64) -> Replicas {
    let mut out = Replicas {
        n: s.n,
        ..Default::default()
    };
    for k in 0..count {
        let mut rng = Rng(glasscam_kernels::rng::mix(seed ^ ((k as u64) << 32)));
        out.pos.extend(lattice_start(s, &mut rng));
        out.vel.extend(velocities(s, t, &mut rng));
        out.img.extend(std::iter::repeat_n([0, 0], s.n));
        out.thermo.push(Thermo::default());
    }
    out
}

/// `count` disordered liquid configurations: random starts, then `steps` steps of the MD reference at temperature
/// `t`.
pub fn liquid(s: &MdSetup, seed: u64, count: usize, t: f64, steps: u64) -> Replicas {
    let start = random_replicas(s, seed, count, t);
    run_at(
        &mut RefMd::new(s.clone()).expect("valid setup"),
        &start,
        t,
        steps,
    )
}

/// `count` fresh replicas (`lattice_replicas`) with the worst of the lattice's overlaps relaxed away: 60 capped
/// steepest-descent moves on the reference's forces, each particle along its force by at most 0.02.
pub fn random_replicas(s: &MdSetup, seed: u64, count: usize, t: f64) -> Replicas {
    let mut r = lattice_replicas(s, seed, count, t);
    for pos in r.pos.chunks_mut(s.n) {
        let mut rep = RefReplica {
            pos: pos.to_vec(),
            force: vec![[0.0; 2]; s.n],
            pe: vec![0.0; s.n],
            ..Default::default()
        };
        for _ in 0..60 {
            reference::rebuild(s, &mut rep);
            reference::compute_forces(s, &mut rep);
            for (x, f) in rep.pos.iter_mut().zip(&rep.force) {
                let norm = (f[0] * f[0] + f[1] * f[1]).sqrt();
                if norm > 0.0 && norm.is_finite() {
                    let step = (1e-3 * norm).min(0.02) / norm;
                    *x = [
                        (x[0] + step * f[0]).rem_euclid(s.box_l),
                        (x[1] + step * f[1]).rem_euclid(s.box_l),
                    ];
                }
            }
        }
        pos.copy_from_slice(&rep.pos);
    }
    r
}

/// Positions and velocities rounded to f32 with the thermostat's chain, as the device holds them, so that the
/// twin starts from the same bits.
pub fn f32_exact(mut r: Replicas) -> Replicas {
    for x in r.pos.iter_mut().chain(r.vel.iter_mut()) {
        *x = [x[0] as f32 as f64, x[1] as f32 as f64];
    }
    for t in r.thermo.iter_mut() {
        t.eta = t.eta.map(|x| x as f32 as f64);
        t.veta = t.veta.map(|x| x as f32 as f64);
    }
    r
}

/// `s` with its box side rounded to f32, as the device holds it, so that the twin folds pairs across the boundary
/// by the same length: KA2D's side 32.8962 is 1.7e-6 off in f32, which at the stiff contacts of a hot liquid
/// moves a force by up to 5e-3.
pub fn f32_box(mut s: MdSetup) -> MdSetup {
    s.box_l = s.box_l as f32 as f64;
    s
}

pub fn flat(v: &[[f64; 2]]) -> Vec<f64> {
    v.iter().flat_map(|x| [x[0], x[1]]).collect()
}

/// One symmetric periodic kNN graph of `pos` ([n, 2] flat): i -> j for each of the k nearest j of i (ties by
/// index) and its reverse, edges grouped by target and ordered by source.
pub fn knn_graph(pos: &[f64], species: &[u32], box_l: f64, k: usize) -> GraphBatch {
    let n = species.len();
    let d2 = |i: usize, j: usize| {
        let w = |d: f64| d - box_l * (d / box_l).round();
        let (dx, dy) = (
            w(pos[2 * i] - pos[2 * j]),
            w(pos[2 * i + 1] - pos[2 * j + 1]),
        );
        dx * dx + dy * dy
    };
    // (target, source) of every directed edge, both ways, once
    let mut edges = std::collections::BTreeSet::new();
    for i in 0..n {
        let mut near: Vec<usize> = (0..n).filter(|&j| j != i).collect();
        near.sort_by(|&a, &b| d2(i, a).total_cmp(&d2(i, b)).then(a.cmp(&b)));
        for &j in &near[..k] {
            edges.insert((j as u32, i as u32));
            edges.insert((i as u32, j as u32));
        }
    }
    let edges: Vec<(u32, u32)> = edges.into_iter().collect();
    let at: std::collections::HashMap<(u32, u32), u32> = edges
        .iter()
        .enumerate()
        .map(|(e, &te)| (te, e as u32))
        .collect();
    let mut in_ptr = vec![0u32];
    for v in 0..n as u32 {
        in_ptr.push(edges.partition_point(|&(t, _)| t <= v) as u32);
    }
    GraphBatch {
        node_ptr: vec![0, n as u32],
        edge_ptr: vec![0, edges.len() as u32],
        in_ptr,
        src: edges.iter().map(|e| e.1).collect(),
        dst: edges.iter().map(|e| e.0).collect(),
        rev: edges.iter().map(|&(t, s)| at[&(s, t)]).collect(),
        species: species.to_vec(),
        dist: edges
            .iter()
            .map(|&(t, s)| d2(t as usize, s as usize).sqrt())
            .collect(),
    }
}

/// `count` periodic kNN graphs of `n` uniformly random particles (every third of species 1) at density 1.1,
/// seeded, as one batch.
pub fn random_batch(count: usize, n: usize, k: usize, seed: u64) -> GraphBatch {
    let box_l = (n as f64 / 1.1).sqrt();
    let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    // one hash chain for all the positions (the main crate's test graphs are drawn the same way)
    let mut h = glasscam_kernels::rng::mix(seed);
    let mut uniform = || {
        h = glasscam_kernels::rng::mix(h);
        (h >> 11) as f64 / (1u64 << 53) as f64 * box_l
    };
    let graphs: Vec<GraphBatch> = (0..count)
        .map(|_| {
            let pos: Vec<f64> = (0..2 * n).map(|_| uniform()).collect();
            knn_graph(&pos, &species, box_l, k)
        })
        .collect();
    GraphBatch::concat(&graphs.iter().collect::<Vec<_>>())
}

/// The quick preset's network shapes (hidden 16, depth 3, 2 species) with `attention`, initialised with `seed`
/// and random attention weights (v_a starts at 0: uniform attention, nothing for a test to compare), as f32
/// values.
pub fn gnn_quick_net(attention: Attention, seed: u64) -> (MpnnSpec, Vec<f64>) {
    let spec = MpnnSpec {
        n_species: 2,
        hidden: 16,
        depth: 3,
        attention,
        dropout: 0.0,
        classes: 2,
        dist_mean: 1.0,
        dist_std: 0.2,
    };
    let mut params = spec.init(seed);
    if attention != Attention::Off {
        let mut rng = Rng(seed);
        let o = spec.offset("v_a.weight");
        for v in &mut params[o..o + spec.hidden + 1] {
            *v = rng.uniform(-1.0, 1.0);
        }
    }
    // rounded to f32, so the GPU and the f64 twin start from the same parameters
    let params = params.iter().map(|&x| x as f32 as f64).collect();
    (spec, params)
}

/// One binding's contents for a single-kernel test.
pub enum Slot {
    F(Vec<f32>),
    Labels(Vec<u32>),
}

/// Runs `kernel` with `p` once on the GPU and once on its CPU twin from the same inputs (binding i + 1 gets
/// slots[i]) and compares every read-write binding. Returns false when the test skipped (no adapter).
pub fn gpu_matches_cpu(
    test: &str,
    kernel: &'static NnKernel,
    p: NnParams,
    slots: &[Slot],
    tol: Tolerance,
) -> bool {
    let Some(ctx) = test_context(test) else {
        return false;
    };
    let ids: Vec<Buf> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Slot::F(_) => Buf::Act(i),
            Slot::Labels(_) => Buf::Labels,
        })
        .collect();
    let op = PlanOp {
        kernel,
        p,
        bufs: ids.clone(),
    };
    let mut cpu = CpuExec::default();
    let mut gpu = GpuExec::new(NnGpu::shared(&ctx).expect("pipelines"));
    for (s, &id) in slots.iter().zip(&ids) {
        match s {
            Slot::F(v) => {
                cpu.bufs.insert(id, v.iter().map(|&x| x as f64).collect());
                gpu.alloc(id, v.len()).expect("alloc");
                gpu.write(id, v).expect("write");
            }
            Slot::Labels(v) => {
                cpu.labels = v.clone();
                gpu.alloc(id, v.len()).expect("alloc");
                gpu.write(id, v).expect("write");
            }
        }
    }
    cpu.run_op(&op).expect("cpu twin");
    gpu.run(std::slice::from_ref(&op)).expect("gpu");
    for (i, (s, &id)) in slots.iter().zip(&ids).enumerate() {
        if kernel.bindings[i + 1].access != Binding::ReadWrite {
            continue;
        }
        let Slot::F(v) = s else { continue };
        let got = gpu.read(id, v.len()).expect("read");
        let want = &cpu.bufs[&id];
        assert_close(
            &format!("{test}: {} binding {}", kernel.name, i + 1),
            &got,
            want,
            tol,
        );
    }
    true
}

/// (batch, c_in, c_out, h, w, k): output counts 1, 255 (3*5*17), 257, a real layer (4*8*16*16), and larger
/// kernels (7, and 15 on a 15-row grid, where the circular padding reaches the far edge).
pub const CONV_SIZES: [(u32, u32, u32, u32, u32, u32); 6] = [
    (1, 1, 1, 1, 1, 1),
    (1, 2, 3, 5, 17, 3),
    (1, 1, 1, 1, 257, 3),
    (4, 2, 8, 16, 16, 5),
    (2, 2, 3, 9, 11, 7),
    (1, 1, 2, 15, 16, 15),
];

/// A convolution's parameters at `w_off` 3 and the length of its parameter vector (2 spare entries after).
pub fn conv_params(s: (u32, u32, u32, u32, u32, u32), act: u32) -> (NnParams, usize) {
    let (batch, c_in, c_out, h, w, k) = s;
    let n_w = (c_out * c_in * k * k) as usize;
    let p = NnParams {
        batch,
        c_in,
        c_out,
        h,
        w,
        k,
        pad: k / 2,
        act,
        w_off: 3,
        b_off: 3 + n_w as u32,
        ..Default::default()
    };
    (p, 3 + n_w + c_out as usize + 2)
}

/// (batch, n_in, n_out): inputs or outputs at 1, 255, 257, and a flattened 16-channel 16x16 map into 64.
pub const DENSE_SIZES: [(u32, u32, u32); 5] = [
    (1, 1, 1),
    (1, 255, 1),
    (3, 257, 2),
    (1, 3, 255),
    (4, 4096, 64),
];

/// A dense layer's parameters at `w_off` 5 and the length of its parameter vector (1 spare entry after).
pub fn dense_params((batch, n_in, n_out): (u32, u32, u32), act: u32) -> (NnParams, usize) {
    let n_w = (n_in * n_out) as usize;
    let p = NnParams {
        batch,
        n_in,
        n_out,
        act,
        w_off: 5,
        b_off: 5 + n_w as u32,
        ..Default::default()
    };
    (p, 5 + n_w + n_out as usize + 1)
}

/// (batch, maps, h, w)
pub const POOL_SIZES: [(u32, u32, u32, u32); 4] = [
    (1, 1, 1, 1),
    (2, 3, 15, 17),
    (3, 2, 257, 1),
    (2, 16, 64, 64),
];

/// The parameters of `mean_pool` / `mean_pool_backward` for (batch, maps, h, w).
pub fn pool_params((batch, c, h, w): (u32, u32, u32, u32)) -> NnParams {
    NnParams {
        batch,
        c_in: c,
        h,
        w,
        ..Default::default()
    }
}

/// Row (edge, node or segment) counts of every gnn kernel test besides a real batch: 1, workgroup - 1 and
/// workgroup + 1 (WG = 256).
pub const GNN_ROWS: [usize; 3] = [1, 255, 257];

/// The real batch of the gnn kernel tests: two periodic kNN graphs (k = 6) of 300 particles.
pub fn gnn_real() -> GraphBatch {
    random_batch(2, 300, 6, 77)
}

/// f32 values in [-1, 1) and the same values in f64 for the twin.
pub fn gnn_values(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<f64>) {
    let v = rng.vec_f32(n, -1.0, 1.0);
    let d = v.iter().map(|&x| x as f64).collect();
    (v, d)
}

/// Random CSR segments: `rows` segments of 1..=`max_len` items each; returns the pointer array.
pub fn gnn_segments(rng: &mut Rng, rows: usize, max_len: usize) -> Vec<u32> {
    let mut ptr = vec![0u32];
    for _ in 0..rows {
        let len = 1 + (rng.next() * max_len as f64) as u32 % max_len as u32;
        ptr.push(ptr.last().copied().unwrap_or(0) + len);
    }
    ptr
}

/// One binding's contents for a single gnn launch.
pub enum Arg<'a> {
    U32(&'a [u32]),
    F32(&'a [f32]),
}

/// Runs `k` once with parameters `p` on `args` (bindings 1, 2, ...) and returns the contents of every read-write
/// binding after the launch, in binding order, as f64.
pub fn run(
    ctx: &Arc<GpuContext>,
    k: &'static GnnKernel,
    p: glasscam_kernels::gnn::gpu::GnnParams,
    args: &[Arg],
) -> glasscam_kernels::Result<Vec<Vec<f64>>> {
    let bufs: Vec<wgpu::Buffer> = args
        .iter()
        .map(|a| match a {
            Arg::U32(v) => ctx.storage(k.name, v),
            Arg::F32(v) => ctx.storage(k.name, v),
        })
        .collect();
    let refs: Vec<&wgpu::Buffer> = bufs.iter().collect();
    let mut enc = ctx.encoder("gnn test");
    glasscam_kernels::gnn::gpu::launch(ctx, &mut enc, k, p, &refs)?;
    enc.submit();
    let mut out = Vec::new();
    for (i, b) in bufs.iter().enumerate() {
        if k.bindings[i + 1].access == Binding::ReadWrite {
            out.push(ctx.read_f64(k.name, b, usize::MAX)?);
        }
    }
    Ok(out)
}
