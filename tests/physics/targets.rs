//! GlassBench's targets from batched ensembles on a tiny KA2D liquid: a seeded data set with targets that loads,
//! particles that move and bonds that break over time, a noise ceiling
//! that rises with the number of runs, and bad settings refused with what to change.

use crate::common::{err_of, ka2d_tiny, write_liquid};
use glasscam::events::quiet;
use glasscam::io::dataset::Dataset;
use glasscam::io::targets::{Targets, BOND_BREAKING, PROPENSITY, PROPENSITY_CAGE};
use glasscam::kernels::Compute;
use glasscam::sim::targets::{ensemble_targets, write_ensemble_targets, TargetsConfig};

fn cfg(runs: usize) -> TargetsConfig {
    TargetsConfig {
        temperature: 0.6,
        runs,
        steps: 1500,
        times: None,
        samples: 4,
        seed: 5,
        cage: true,
    }
}

#[test]
fn ensembles_give_a_data_set_with_targets_whose_ceiling_rises_with_the_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = write_liquid(&tmp.path().join("liquid"), &ka2d_tiny(), 2, 0.6, 1500).unwrap();
    let mut run = ensemble_targets(&ds, &[1, 0], &cfg(16), &Compute::Cpu, quiet()).unwrap();
    let again = ensemble_targets(&ds, &[1, 0], &cfg(16), &Compute::Cpu, quiet()).unwrap();
    assert_eq!(run.arrays, again.arrays, "seeded: the same targets twice");
    let out = tmp.path().join("t");
    let data = write_ensemble_targets(&out, &ds, &[1, 0], &mut run, false).unwrap();
    assert_eq!(data.snapshot(0), ds.snapshot(1));
    let t = Targets::load(&out, &Dataset::load(&out).unwrap()).unwrap();
    assert_eq!(t.shape(), [2, 4, 129]);
    assert_eq!(t.meta.times, vec![0.005, 0.055, 0.655, 7.5]);
    assert_eq!(t.names(), vec![BOND_BREAKING, PROPENSITY, PROPENSITY_CAGE]);
    let p = t.values(PROPENSITY).unwrap();
    let bb = t.values(BOND_BREAKING).unwrap();
    let mean_at = |v: &[f32], si: usize| v[si * 129..(si + 1) * 129].iter().sum::<f32>() / 129.0;
    // particles move further and bonds break as time goes on
    assert!(
        mean_at(p, 3) > 5.0 * mean_at(p, 0),
        "{} {}",
        mean_at(p, 3),
        mean_at(p, 0)
    );
    assert!(
        mean_at(bb, 0) > 0.99 && mean_at(bb, 3) < mean_at(bb, 0),
        "{} {}",
        mean_at(bb, 0),
        mean_at(bb, 3)
    );
    // the ceiling from more runs is higher at the late times (the same runs, nested)
    for (name, rows) in &run.ceiling_vs_runs {
        if name == BOND_BREAKING {
            continue;
        }
        let (first, last) = (&rows[0], rows.last().unwrap());
        assert_eq!((first.0, last.0), (2, 16));
        for si in 2..4 {
            let (a, b) = (first.1[si].unwrap(), last.1[si].unwrap());
            assert!(
                b > a + 0.1,
                "{name} at time {si}: ceiling {a} with 2 runs, {b} with 16"
            );
        }
    }
    let late = t.meta.noise_ceiling[PROPENSITY][3].unwrap();
    assert!(late > 0.5 && late < 1.0, "{late}");
}

#[test]
fn bad_target_settings_are_refused_with_what_to_change() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = write_liquid(&tmp.path().join("liquid"), &ka2d_tiny(), 1, 0.6, 200).unwrap();
    let run = |c: TargetsConfig| err_of(ensemble_targets(&ds, &[0], &c, &Compute::Cpu, quiet()));
    assert_eq!(
        run(TargetsConfig { runs: 1, ..cfg(1) }),
        "targets: `runs` 1: an ensemble of one run has no noise ceiling (it splits the runs in halves); give 2 or \
         more runs per configuration (GlassBench uses 20)"
    );
    assert_eq!(
        run(TargetsConfig {
            times: Some(vec![1.0, 10.0]),
            ..cfg(4)
        }),
        "targets: time 10 in `times` is beyond the run (1500 steps x dt 0.005 = 7.5); give more `steps` or drop the \
         time"
    );
    // a time is sampled at its nearest step: under half a step past the end is the last step, over it is refused
    let end = |t: f64| {
        TargetsConfig {
            times: Some(vec![1.0, t]),
            ..cfg(4)
        }
        .sample_steps(0.005)
    };
    assert_eq!(end(7.502).unwrap(), vec![200, 1500]);
    assert!(end(7.503)
        .unwrap_err()
        .to_string()
        .contains("beyond the run"));
    assert_eq!(
        run(TargetsConfig {
            times: Some(vec![1.0, 0.5]),
            ..cfg(4)
        }),
        "targets: time 0.5 in `times` is not after the one before it at time step 0.005; give strictly ascending \
         times at least dt apart"
    );
    assert_eq!(
        err_of(ensemble_targets(&ds, &[3], &cfg(4), &Compute::Cpu, quiet())),
        format!("targets: snapshot 3: {} has 1 snapshots", ds.dir.display())
    );
}
