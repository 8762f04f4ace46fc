//! FIRE minimisation (`md_fire`, CPU twin): analytic two-particle minimum, a displaced lattice that comes back,
//! energy never above the start, a replica's minimum independent of its batch, a capped replica reported.

use crate::common;

use common::{liquid, scaled, setup};
use glasscam::sim::system::SystemDef;
use glasscam_kernels::md::cpu::brute_force;
use glasscam_kernels::md::fire::cpu::CpuFire;
use glasscam_kernels::md::fire::{run_to_end, FireBackend, FireConfig, Minima, Outcome};
use glasscam_kernels::md::{MdSetup, Pair, Replicas, Thermo};
use glasscam_kernels::KernelError;

fn one_species(n: usize, box_l: f64) -> MdSetup {
    MdSetup {
        n,
        box_l,
        species: vec![0; n],
        mass: vec![1.0],
        pairs: vec![Pair::new(1.0, 1.0, 2.5, 0.3)],
        dt: 0.005,
        skin: 0.3,
        tau_t: 0.5,
        n_chain: 3,
        max_force: 1e5,
    }
}

fn replicas(n: usize, pos: Vec<[f64; 2]>) -> Replicas {
    let count = pos.len() / n;
    Replicas {
        n,
        vel: vec![[0.0; 2]; pos.len()],
        img: vec![[0; 2]; pos.len()],
        pos,
        thermo: vec![Thermo::default(); count],
    }
}

fn minimise(setup: &MdSetup, cfg: FireConfig, reps: &Replicas) -> Minima {
    let mut fire = CpuFire::new(setup.clone(), cfg).expect("valid setup");
    run_to_end(&mut fire, reps, 500, |_| Ok::<(), KernelError>(())).expect("minimise")
}

fn total_energy(setup: &MdSetup, pos: &[[f64; 2]]) -> f64 {
    brute_force(setup, pos).1.iter().sum()
}

#[test]
fn two_particles_relax_to_the_analytic_minimum_of_the_force_shifted_pair() {
    let setup = one_species(2, 6.0);
    let p = setup.pairs[0];
    // analytic: phi*'(r) = phi*'(rc), solved by bisection on the smoothed force (F/r = 0)
    let (mut lo, mut hi) = (1.0, 1.3);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if p.eval(mid * mid).0 > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let r_star = 0.5 * (lo + hi);
    assert!((r_star - 2f64.powf(1.0 / 6.0)).abs() < 0.01 && r_star != 2f64.powf(1.0 / 6.0));
    let mut cfg = FireConfig::for_md_dt(0.005);
    cfg.ftol = 1e-11;
    for start in [0.95, 1.5] {
        let m = minimise(
            &setup,
            cfg,
            &replicas(2, vec![[2.0, 3.0], [2.0 + start, 3.0]]),
        );
        assert_eq!(m.minima[0].outcome, Outcome::Converged);
        let x = &m.replicas.pos;
        let r = ((x[1][0] - x[0][0]).powi(2) + (x[1][1] - x[0][1]).powi(2)).sqrt();
        assert!(
            (r - r_star).abs() < 1e-10,
            "from r = {start}: minimum at r = {r}, analytic {r_star}"
        );
        let e_star = p.eval(r_star * r_star).1 / 2.0;
        assert!((m.minima[0].e_per_particle - e_star).abs() < 1e-12);
    }
}

#[test]
fn a_displaced_triangular_lattice_returns_to_the_lattice() {
    let (nx, ny, a) = (14usize, 16usize, 1.1);
    let box_l = nx as f64 * a;
    let dy = box_l / ny as f64;
    let n = nx * ny;
    let lattice: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            let (i, j) = (k % nx, k / nx);
            let shift = if j % 2 == 1 { 0.5 * a } else { 0.0 };
            [i as f64 * a + shift + 0.25, j as f64 * dy + 0.25]
        })
        .collect();
    let setup = one_species(n, box_l);
    let mut rng = common::Rng(7);
    let displaced: Vec<[f64; 2]> = lattice
        .iter()
        .map(|x| [x[0] + rng.uniform(-0.1, 0.1), x[1] + rng.uniform(-0.1, 0.1)])
        .collect();
    let m = minimise(
        &setup,
        FireConfig::for_md_dt(0.005),
        &replicas(n, displaced.clone()),
    );
    assert_eq!(m.minima[0].outcome, Outcome::Converged);
    // FIRE keeps the centre of mass (forces sum to zero), so the lattice comes back shifted by the mean displacement
    let unwrap = |k: usize| {
        let w = m.replicas.img[k];
        let x = m.replicas.pos[k];
        [x[0] + w[0] as f64 * box_l, x[1] + w[1] as f64 * box_l]
    };
    let mut mean = [0.0; 2];
    for (k, d) in displaced.iter().enumerate() {
        mean[0] += (d[0] - lattice[k][0]) / n as f64;
        mean[1] += (d[1] - lattice[k][1]) / n as f64;
    }
    let worst = (0..n)
        .map(|k| {
            let x = unwrap(k);
            let dx = x[0] - lattice[k][0] - mean[0];
            let dy = x[1] - lattice[k][1] - mean[1];
            (dx * dx + dy * dy).sqrt()
        })
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-8,
        "a particle ended {worst} from its lattice site"
    );
    let e_lattice = total_energy(&setup, &lattice) / n as f64;
    assert!((m.minima[0].e_per_particle - e_lattice).abs() < 1e-12);
}

#[test]
fn final_energy_is_never_above_the_start_and_every_liquid_converges() {
    for sys in [SystemDef::kam(), SystemDef::abm()] {
        let s = setup(&scaled(sys.clone(), 200));
        let reps = liquid(&s, 5, 4, 1.0, 100);
        let m = minimise(&s, FireConfig::for_md_dt(0.005), &reps);
        for (k, min) in m.minima.iter().enumerate() {
            let e0 = total_energy(&s, &reps.pos[k * 200..(k + 1) * 200]) / 200.0;
            let e1 = total_energy(&s, &m.replicas.pos[k * 200..(k + 1) * 200]) / 200.0;
            assert_eq!(min.outcome, Outcome::Converged, "{} replica {k}", sys.name);
            assert!(min.fmax < 1e-8);
            assert!(
                e1 < e0,
                "{} replica {k}: E went from {e0} to {e1}",
                sys.name
            );
            assert!((e1 - min.e_per_particle).abs() < 1e-12);
        }
    }
}

#[test]
fn a_replica_alone_reaches_the_same_minimum_bit_for_bit_as_among_64() {
    let s = setup(&scaled(SystemDef::kam(), 100));
    let reps = liquid(&s, 9, 64, 1.0, 30);
    let cfg = FireConfig::for_md_dt(0.005);
    let all = minimise(&s, cfg, &reps);
    let k = 37;
    let alone = replicas(100, reps.pos[k * 100..(k + 1) * 100].to_vec());
    let one = minimise(&s, cfg, &alone);
    assert_eq!(one.minima[0], all.minima[k]);
    assert_eq!(one.replicas.pos, all.replicas.pos[k * 100..(k + 1) * 100]);
    assert_eq!(one.pe, all.pe[k * 100..(k + 1) * 100]);
}

#[test]
fn a_replica_that_hits_the_iteration_cap_is_reported() {
    let s = setup(&scaled(SystemDef::kam(), 100));
    let reps = liquid(&s, 3, 2, 1.0, 30);
    let mut cfg = FireConfig::for_md_dt(0.005);
    cfg.max_iter = 10;
    let m = minimise(&s, cfg, &reps);
    assert_eq!(
        m.unconverged(),
        vec![(0, Outcome::NotConverged), (1, Outcome::NotConverged)]
    );
    assert!(m.minima.iter().all(|x| x.iterations == 10 && x.fmax > 1e-8));
}

#[test]
fn a_tolerance_at_or_below_zero_is_refused_with_what_to_use() {
    let mut cfg = FireConfig::for_md_dt(0.005);
    for bad in [0.0, -1e-6, f64::NAN] {
        cfg.ftol = bad;
        let e = CpuFire::new(one_species(2, 6.0), cfg)
            .err()
            .expect("refused");
        let msg = e.to_string();
        assert!(msg.contains("ftol") && msg.contains("positive"), "{msg}");
    }
}

#[test]
fn fire_reports_how_many_replicas_are_still_active() {
    let s = setup(&scaled(SystemDef::kam(), 100));
    let reps = liquid(&s, 4, 3, 1.0, 30);
    let mut fire = CpuFire::new(s, FireConfig::for_md_dt(0.005)).expect("setup");
    fire.upload(&reps).expect("upload");
    assert_eq!(fire.iterate(1).expect("iterate"), 3);
}

fn glasscam() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[test]
fn minimize_writes_inherent_structures_linked_to_their_snapshots() {
    use glasscam::io::dataset::Dataset;
    use glasscam::sim::minimize::read_inherent;
    let dir = tempfile::tempdir().expect("tempdir");
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).expect("write system");
    let data = dir.path().join("data");
    let st = glasscam()
        .args(["simulate", "--system"])
        .arg(&sys)
        .args(["--replicas", "3", "--cool-rate", "2"])
        .args(["--equilibrate-time", "0.5", "--hold-time", "0.2"])
        .args(["--backend", "cpu", "--seed", "4", "--out"])
        .arg(&data)
        .output()
        .expect("run simulate");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let out = dir.path().join("is");
    let st = glasscam()
        .args(["minimize", "--data"])
        .arg(&data)
        .args(["--snapshots", "glass", "--backend", "cpu", "--out"])
        .arg(&out)
        .output()
        .expect("run minimize");
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{stderr}");
    assert!(stderr.contains("minimised 3 snapshots"), "{stderr}");
    let src = Dataset::load(&data).expect("source");
    let is = Dataset::load(&out).expect("minima load as a data set");
    let info = read_inherent(&out).expect("inherent.json");
    assert_eq!(is.n_snapshots(), 3);
    assert_eq!(info.ftol, 1e-8);
    assert!(info.not_converged.is_empty());
    for m in &info.snapshots {
        let s = &src.manifest.snapshots[m.source_index];
        assert_eq!((s.class.name(), s.replica), ("glass", m.replica));
        assert_eq!(m.outcome, "converged");
        assert!(m.fmax < 1e-8 && m.iterations > 0);
        assert!(
            m.e_is < m.pe_per_particle,
            "E_IS above the snapshot's energy"
        );
        assert_eq!(is.manifest.snapshots[m.index].pe_per_particle, m.e_is);
    }
    // bad input: ftol <= 0, a snapshot past the end, an existing result
    let fresh = dir.path().join("is2");
    for (args, says, to) in [
        (vec!["--ftol", "0"], "must be a positive number", &fresh),
        (vec!["--ftol", "-1e-3"], "must be a positive number", &fresh),
        (
            vec!["--snapshots", "99"],
            "snapshot 99 does not exist",
            &fresh,
        ),
        (
            vec!["--snapshots", "solid"],
            "use all, glass, liquid",
            &fresh,
        ),
        (vec![], "use --force", &out),
    ] {
        let st = glasscam()
            .args(["minimize", "--data"])
            .arg(&data)
            .args(["--backend", "cpu"])
            .args(&args)
            .arg("--out")
            .arg(to)
            .output()
            .expect("run minimize");
        let stderr = String::from_utf8_lossy(&st.stderr);
        assert!(
            !st.status.success() && stderr.contains(says),
            "{args:?}: {stderr}"
        );
    }
}

/// A minimum as a data set stores it (format 2: f32 positions) is the same minimum: E_IS re-evaluated from the
/// rounded positions differs by far less than the GPU/twin agreement (1e-5 per particle), and FIRE restarted
/// there goes back to the f64 minimum in a few hundred iterations. At the paper's box (N = 2000, L ~ 43) a
/// coordinate moves by at most half an f32 ulp, 1.9e-6; the energy changes only to second order (the force
/// vanishes there), 1e-10 to 1e-9 per particle. The force does not: rounding a stiff close pair gives max |F| ~ 1e-3
/// (kam) to 1e-2 (abm), the GPU path's own tolerance, since it holds positions in f32 too. So a stored minimum
/// keeps E_IS (recorded in f64 besides) and basin, not the twin's 1e-8 force tolerance.
#[test]
fn a_minimum_stored_in_float32_keeps_its_energy_and_its_basin() {
    for sys in [SystemDef::kam(), SystemDef::abm()] {
        let n = 2000;
        let s = setup(&scaled(sys.clone(), n));
        let reps = liquid(&s, 21, 1, 1.0, 50);
        let m = minimise(&s, FireConfig::for_md_dt(0.005), &reps);
        assert_eq!(m.minima[0].outcome, Outcome::Converged, "{}", sys.name);
        let stored: Vec<[f64; 2]> = m
            .replicas
            .pos
            .iter()
            .map(|x| [f64::from(x[0] as f32), f64::from(x[1] as f32)])
            .collect();
        let moved = m
            .replicas
            .pos
            .iter()
            .zip(&stored)
            .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
            .fold(0.0, f64::max);
        assert!(
            moved > 0.0 && moved <= 0.5 * f64::from(f32::EPSILON) * 64.0,
            "{moved}"
        );
        let e64 = total_energy(&s, &m.replicas.pos) / n as f64;
        let e32 = total_energy(&s, &stored) / n as f64;
        assert!(
            (e32 - e64).abs() < 1e-8,
            "{}: E_IS {e64} from f64, {e32} from f32 positions",
            sys.name
        );
        let fmax = brute_force(&s, &stored)
            .0
            .iter()
            .map(|f| f[0].hypot(f[1]))
            .fold(0.0, f64::max);
        assert!(
            fmax < 5e-2,
            "{}: max |F| {fmax} at the stored minimum",
            sys.name
        );
        let again = minimise(&s, FireConfig::for_md_dt(0.005), &replicas(n, stored));
        assert_eq!(again.minima[0].outcome, Outcome::Converged);
        let back = again
            .replicas
            .pos
            .iter()
            .zip(&m.replicas.pos)
            .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
            .fold(0.0, f64::max);
        assert!(
            back < 1e-4,
            "{}: the restarted minimum moved {back}",
            sys.name
        );
        assert!((again.minima[0].e_per_particle - e64).abs() < 1e-12);
        eprintln!(
            "{}: |dx| <= {moved:.2e}, |dE_IS| = {:.2e}, max |F| {fmax:.2e} at the stored minimum, {} FIRE \
             iterations back to max |F| < 1e-8 (from the liquid: {}), back within {back:.1e}",
            sys.name,
            (e32 - e64).abs(),
            again.minima[0].iterations,
            m.minima[0].iterations
        );
    }
}

/// `bench minimize`: a row whose replicas all converge within the budget measures minimisations/s (replicas over
/// seconds); a row cut short by the budget derives them from its throughput and the iterations one minimisation
/// takes, and says so.
#[test]
fn bench_minimize_measures_what_converges_and_derives_the_rest() {
    use glasscam::kernels::Compute;
    use glasscam::sim::bench::bench_minimize;
    let sys = scaled(SystemDef::kam(), 100);
    let quiet = glasscam::events::quiet();
    let ctx = &quiet;
    let b = bench_minimize(&sys, &[Compute::Cpu], &[3, 1], 60.0, ctx).expect("bench");
    assert_eq!(
        b.rows.iter().map(|r| r.replicas).collect::<Vec<_>>(),
        [1, 3]
    );
    for r in &b.rows {
        assert!(r.measured && r.converged == r.replicas, "{r:?}");
        assert!((r.minimisations_per_s - r.replicas as f64 / r.seconds).abs() < 1e-9);
        let ips = r.iterations as f64 * 100.0 / r.seconds;
        assert!((r.iteration_particles_per_s - ips).abs() <= 1e-9 * ips);
    }
    let (name, iters, from) = &b.iterations_per_minimisation[0];
    // the mean over the largest row that converged
    assert_eq!((name.as_str(), from.as_str()), ("cpu", "the 3-replica row"));
    assert_eq!(*iters, b.rows[1].iterations as f64 / 3.0);
    // a budget no row can meet: one call of one iteration each, minimisations/s derived from a full minimisation
    let b = bench_minimize(&sys, &[Compute::Cpu], &[2], 1e-9, ctx).expect("bench");
    let r = &b.rows[0];
    assert!(
        !r.measured && r.converged == 0 && r.iterations == 2,
        "{r:?}"
    );
    let (_, iters, from) = &b.iterations_per_minimisation[0];
    assert!(
        from.starts_with("one replica minimised to the end"),
        "{from}"
    );
    let want = r.iteration_particles_per_s / (iters * 100.0);
    assert!((r.minimisations_per_s - want).abs() <= 1e-12 * want);
    let e = common::err_of(bench_minimize(&sys, &[Compute::Cpu], &[0, 4], 1.0, ctx));
    assert!(e.contains("`replicas`") && e.contains("at least 1"), "{e}");
    let e = common::err_of(bench_minimize(&sys, &[Compute::Cpu], &[1], 0.0, ctx));
    assert!(e.contains("`seconds` 0"), "{e}");
}
