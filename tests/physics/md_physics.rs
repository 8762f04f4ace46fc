//! MD physics checks on the CPU engine (f64): NVE energy conservation, NVT mean kinetic temperature, the
//! Nose-Hoover chain's conserved quantity. (The GPU's NVE drift: the kernels crate's `md_step` tests.)

use crate::common;

use common::{scaled, setup};
use glasscam::sim::init;
use glasscam::sim::system::SystemDef;
use glasscam_kernels::md::cpu::CpuMd;
use glasscam_kernels::md::{Advance, MdBackend, MdSetup, Replicas, Segment};

/// Runs `total` steps at constant target `t` in blocks of `every`, returning the state after each block.
fn trace(b: &mut dyn MdBackend, start: &Replicas, t: f64, total: u64, every: u64) -> Vec<Replicas> {
    b.upload(start).unwrap();
    let seg = Segment {
        t_from: t,
        t_to: t,
        len: total,
    };
    let mut out = Vec::new();
    let mut done = 0;
    while done < total {
        b.advance(&Advance {
            segment: seg,
            seg_done: done,
            step0: done,
            steps: every,
        })
        .unwrap();
        done += every;
        out.push(b.download().unwrap());
    }
    out
}

/// A KAM liquid at T_L = 0.8 equilibrated with the thermostat.
fn kam_liquid(n: usize, seed: u64, steps: u64) -> (MdSetup, Replicas) {
    let s = setup(&scaled(SystemDef::kam(), n));
    let start = init::random_replicas(&s, seed, 0..1, 0.8);
    let mut cpu = CpuMd::new(s.clone()).unwrap();
    let eq = trace(&mut cpu, &start, 0.8, steps, steps);
    (s, eq.into_iter().last().unwrap())
}

fn nve(s: &MdSetup) -> MdSetup {
    let mut s = s.clone();
    s.n_chain = 0;
    s
}

/// Largest |E(t) - E(0)| per particle over the trace (E = KE + PE).
fn max_energy_excursion(start_e: f64, trace: &[Replicas], n: usize) -> f64 {
    trace
        .iter()
        .map(|r| ((r.thermo[0].ke + r.thermo[0].pe) - start_e).abs() / n as f64)
        .fold(0.0, f64::max)
}

#[test]
fn nve_energy_drift_of_a_kam_liquid_is_bounded_over_1e4_steps() {
    let (s, liquid) = kam_liquid(2000, 1, 3000);
    let s = nve(&s);
    let mut cpu = CpuMd::new(s.clone()).unwrap();
    cpu.upload(&liquid).unwrap();
    let e0 = {
        let r = cpu.download().unwrap();
        // KE of the uploaded velocities (the state holds the thermostat's last value)
        let ke: f64 = r
            .vel
            .iter()
            .map(|v| 0.5 * (v[0] * v[0] + v[1] * v[1]))
            .sum();
        ke + r.thermo[0].pe
    };
    let tr = trace(&mut cpu, &liquid, 0.8, 10_000, 500);
    let excursion = max_energy_excursion(e0, &tr, s.n);
    println!("CPU NVE, KAM N=2000, 1e4 steps, dt 0.005: max |E - E0| / N = {excursion:.3e}");
    // measured 1.4e-4 (E/N is about -2.6, so 5e-5 relative): a broken integrator drifts far beyond this
    assert!(
        excursion < 5e-4,
        "energy per particle wandered by {excursion:e}"
    );
}

#[test]
fn nvt_mean_kinetic_temperature_is_within_one_percent_of_target() {
    for t in [0.8, 2.0] {
        let (s, liquid) = kam_liquid(500, 3, 3000);
        let mut cpu = CpuMd::new(s.clone()).unwrap();
        // re-equilibrate at t, then sample
        let eq = trace(&mut cpu, &liquid, t, 3000, 3000).pop().unwrap();
        let tr = trace(&mut cpu, &eq, t, 30_000, 10);
        let mean: f64 = tr
            .iter()
            .map(|r| 2.0 * r.thermo[0].ke / s.n_dof())
            .sum::<f64>()
            / tr.len() as f64;
        println!(
            "NVT at T = {t}: mean kinetic temperature {mean:.5} over {} samples",
            tr.len()
        );
        assert!(
            (mean / t - 1.0).abs() < 0.01,
            "mean kinetic temperature {mean} vs target {t}"
        );
    }
}

#[test]
fn nose_hoover_chain_conserves_its_extended_energy() {
    let (s, liquid) = kam_liquid(1000, 4, 2000);
    let t = 0.8;
    let mut cpu = CpuMd::new(s.clone()).unwrap();
    let tr = trace(&mut cpu, &liquid, t, 10_000, 500);
    let h = |r: &Replicas| r.thermo[0].ke + r.thermo[0].pe + r.thermo[0].bath_energy(&s, t);
    let h0 = h(&tr[0]);
    let worst = tr
        .iter()
        .map(|r| (h(r) - h0).abs() / s.n as f64)
        .fold(0.0, f64::max);
    println!("NVT extended energy, KAM N=1000, 1e4 steps: max |H - H0| / N = {worst:.3e}");
    // measured 3.9e-4; a thermostat integrated wrongly (e.g. a missing half step) breaks this by orders
    assert!(
        worst < 1e-3,
        "extended energy per particle wandered by {worst:e}"
    );
}
