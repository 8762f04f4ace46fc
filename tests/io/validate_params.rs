//! Every numeric parameter is validated where it is typed (`Protocol::validate`, `checkpoint_interval`,
//! `SystemDef::check`, `shard_range`): each bad value below is refused with its exact message, nothing is coerced,
//! and a run in which every replica blew up fails with the cause and a hint.

use crate::common;

use glasscam::events::{Cancel, Ctx, Recorder};
use glasscam::kernels::Compute;
use glasscam::sim::protocol::{self, Protocol, RunOptions};
use glasscam::sim::system::SystemDef;

fn tiny() -> SystemDef {
    SystemDef::from_toml(common::TINY_SYSTEM, "tiny.toml").expect("tiny system")
}

fn refused(p: &Protocol) -> String {
    match p.schedule(&tiny()) {
        Ok(_) => panic!("accepted a bad protocol: {p:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_protocol_values_are_refused_not_coerced() {
    let q = Protocol::quick;
    let cases: Vec<(Protocol, &str)> = vec![
        (
            Protocol { hold_time: -1.0, ..q() },
            "protocol: `hold_time` is -1: give a finite number >= 0",
        ),
        (
            Protocol { hold_time: f64::NAN, ..q() },
            "protocol: `hold_time` is NaN: give a finite number >= 0",
        ),
        (
            Protocol { equilibrate_time: -0.5, ..q() },
            "protocol: `equilibrate_time` is -0.5: give a finite number >= 0",
        ),
        (
            Protocol { equilibrate_time: f64::INFINITY, ..q() },
            "protocol: `equilibrate_time` is inf: give a finite number >= 0",
        ),
        (
            Protocol { cool_rate: 0.0, ..q() },
            "protocol: `cool_rate` is 0: give a finite number > 0",
        ),
        (
            Protocol { t_start: f64::NAN, ..q() },
            "protocol: `t_start` is NaN: give a finite number > 0",
        ),
        (
            Protocol { replicas: 0, ..q() },
            "protocol: `replicas` 0: give 1 to 10000000; split bigger runs into shards (`shard`)",
        ),
        (
            Protocol { replicas: usize::MAX, ..q() },
            "protocol: `replicas` 18446744073709551615: give 1 to 10000000; split bigger runs into shards (`shard`)",
        ),
        (
            Protocol { extra_temps: vec![0.5, 0.5], ..q() },
            "protocol: snapshot temperature 0.5 is given twice (`temps`); list each temperature once",
        ),
        (
            Protocol { extra_temps: vec![f64::NAN], ..q() },
            "protocol: snapshot temperature NaN (`temps`) must lie between 0 and the start temperature 4",
        ),
        (
            Protocol { cool_rate: 1e-300, ..q() },
            "protocol: the cooling ramp (`cool_rate`) at dt 0.005 needs 6.400e302 steps, more than the limit of \
             1e10 steps per replica: check the units (times in the system's time units, the rate per time unit)",
        ),
        (
            Protocol { equilibrate_time: 1e9, ..q() },
            "protocol: `equilibrate_time` at dt 0.005 needs 2.000e11 steps, more than the limit \
             of 1e10 steps per replica: check the units (times in the system's time units, the rate per time unit)",
        ),
    ];
    for (p, want) in cases {
        assert_eq!(refused(&p), want);
    }
    let mut p = q();
    p.md.dt = f64::INFINITY;
    assert_eq!(
        refused(&p),
        "protocol: `dt` is inf: give a finite number > 0"
    );
    let mut p = q();
    p.md.skin = -0.3;
    assert_eq!(
        refused(&p),
        "protocol: `md.skin` is -0.3: give a finite number > 0"
    );
    let p = Protocol {
        extra_temps: (1..=100_001).map(|k| k as f64 * 1e-6).collect(),
        ..q()
    };
    assert_eq!(
        refused(&p),
        "protocol: 100001 snapshot temperatures (`temps`, `ramp_snapshots`): give at most 100000"
    );
    assert_eq!(
        glasscam::sim::protocol::ramp_temps(2.0, 0.05, usize::MAX)
            .unwrap_err()
            .to_string(),
        "`ramp_snapshots` 18446744073709551615: give 1 to 100000 snapshots along the ramp (Swanson: 200)"
    );
    // and good values still give the schedule
    assert!(q().schedule(&tiny()).is_ok());
}

#[test]
fn checkpoint_interval_refuses_nan_negative_and_overflow() {
    use std::time::Duration;
    assert_eq!(
        protocol::checkpoint_interval(f64::NAN).unwrap_err().to_string(),
        "`checkpoint_every` NaN: give seconds >= 0 (0 checkpoints after every call into the MD backend)"
    );
    assert_eq!(
        protocol::checkpoint_interval(-1.0).unwrap_err().to_string(),
        "`checkpoint_every` -1: give seconds >= 0 (0 checkpoints after every call into the MD backend)"
    );
    assert_eq!(
        protocol::checkpoint_interval(f64::INFINITY)
            .unwrap_err()
            .to_string(),
        "`checkpoint_every` inf: give a finite number of seconds (at most 2e19; 86400 is a day)"
    );
    assert!(protocol::checkpoint_interval(1e30).is_err());
    assert_eq!(
        protocol::checkpoint_interval(2.5).unwrap(),
        Duration::from_millis(2500)
    );
    assert_eq!(protocol::checkpoint_interval(0.0).unwrap(), Duration::ZERO);
}

#[test]
fn system_temperatures_and_counts_are_checked() {
    let swapped = common::TINY_SYSTEM.replace("t_glass = 0.05", "t_glass = 1.5");
    assert_eq!(
        SystemDef::from_toml(&swapped, "s.toml").unwrap_err().to_string(),
        "s.toml: field `t_glass` (1.5) must lie below `t_liquid` (0.8): the glass is the colder state"
    );
    let huge = common::TINY_SYSTEM
        .replace("count = 65", "count = 18446744073709551615")
        .replace("count = 35", "count = 2");
    assert_eq!(
        SystemDef::from_toml(&huge, "s.toml").unwrap_err().to_string(),
        format!(
            "s.toml: the species counts add up to more than {} particles; give counts of a system that fits \
             in memory",
            glasscam::sim::system::MAX_PARTICLES
        )
    );
}

#[test]
fn a_system_file_in_other_units_is_refused_with_the_area_fraction() {
    let units = "density and the sigmas look like they are in different units: give both in reduced \
                 Lennard-Jones units (sigma of the first like pair about 1, density in particles per sigma^2)";
    // sigma in Angstrom-like numbers, density per sigma^2: the particles overlap thousands of times over
    let angstrom = common::TINY_SYSTEM
        .replace("sigma = 1.0", "sigma = 100.0")
        .replace("sigma = 0.88", "sigma = 88.0")
        .replace("sigma = 0.8\n", "sigma = 80.0\n");
    assert_eq!(
        SystemDef::from_toml(&angstrom, "a.toml").unwrap_err().to_string(),
        format!(
            "a.toml: the particles would cover 7.885e3 times the box (area fraction density * pi/4 * sigma^2, \
             about 0.8 for a glass former; density 1.09, sigma of the like pairs A 100, B 88); {units}"
        )
    );
    // a density per Angstrom^2 with sigma 1: a dilute gas
    let dilute = common::TINY_SYSTEM.replace("density = 1.09", "density = 1.09e-4");
    assert_eq!(
        SystemDef::from_toml(&dilute, "d.toml").unwrap_err().to_string(),
        format!(
            "d.toml: the particles would cover only 7.885e-5 of the box (area fraction density * pi/4 * \
             sigma^2, about 0.8 for a glass former, a dilute gas below 0.02; density 0.000109, sigma of the like \
             pairs A 1, B 0.88); {units}"
        )
    );
    // the presets sit well inside the bounds
    assert!(SystemDef::kam().check("kam").is_ok() && SystemDef::abm().check("abm").is_ok());
}

#[test]
fn shards_that_would_be_empty_are_refused() {
    assert_eq!(
        protocol::shard_range(3, 4, 2).unwrap_err().to_string(),
        "`shard` 3/4: 4 shards of 2 replicas leave some shards empty; use at most 2 shards (n <= `replicas`) or \
         more `replicas`"
    );
    assert_eq!(protocol::shard_range(1, 2, 5).unwrap(), 2..5);
}

fn run_tiny(
    dt: f64,
    replicas: usize,
) -> (
    glasscam::Result<glasscam::io::dataset::Manifest>,
    Vec<String>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Protocol::quick();
    p.replicas = replicas;
    p.md.dt = dt;
    p.equilibrate_time = 0.5;
    p.cool_rate = 2.0;
    p.hold_time = 0.0;
    let rec = Recorder::default();
    let cancel = Cancel::new();
    let ctx = Ctx::new(&rec, &cancel);
    let opts = RunOptions::new(&dir.path().join("o"), 1, Compute::Cpu);
    let r = protocol::run(&tiny(), &p, &opts, &ctx);
    (r, rec.lines(), dir)
}

#[test]
fn a_run_where_every_replica_blew_up_fails_with_cause_and_hint() {
    let (r, _, dir) = run_tiny(0.05, 2);
    let e = r.expect_err("every replica blew up").to_string();
    assert!(
        e.starts_with("simulate: 2 of 2 replicas blew up (2 x a force exceeded the blow-up limit (max_force); the first, replica 0, at step"),
        "{e}"
    );
    assert!(
        e.contains("a time step too large for the system (dt 0.05, try half)")
            && e.ends_with("no data set was written"),
        "{e}"
    );
    assert!(!dir
        .path()
        .join("o")
        .join(glasscam::io::dataset::MANIFEST)
        .exists());
}

#[test]
fn partial_failures_are_warned_through_the_observer() {
    let (r, lines, _dir) = run_tiny(0.0135, 8);
    let m = r.expect("some replicas survive");
    assert_eq!(m.failed.len(), 3, "{lines:?}");
    let want = "warning: 3 of 8 replicas blew up (3 x a force exceeded the blow-up limit (max_force); the first, \
                replica 0, at step 13); they are left out (manifest.json lists them)";
    assert!(lines.iter().any(|l| l == want), "{lines:?}");
}

mod propensity {
    use super::*;
    use glasscam::sim::propensity::{run_ensemble, EnsembleConfig};

    fn start() -> (glasscam_kernels::md::MdSetup, Vec<[f64; 2]>, Vec<Vec<u32>>) {
        let s = common::setup(&tiny());
        let pos = glasscam::sim::init::random_replicas(&s, 2, 0..1, 0.5).pos;
        // every other particle as the cage: enough for the engine, which only averages over it
        let cages = (0..s.n).map(|i| vec![((i + 1) % s.n) as u32]).collect();
        (s, pos, cages)
    }

    fn cfg(temps: Vec<f64>) -> EnsembleConfig {
        EnsembleConfig {
            temps,
            runs: 3,
            steps: 200,
            samples: 4,
            seed: 1,
        }
    }

    #[test]
    fn bad_ensembles_are_refused() {
        let (s, pos, cages) = start();
        let cases = [
            (
                cfg(vec![0.4, 0.4]),
                "propensity: temperature 0.4 is given twice (`temps`); list each temperature once",
            ),
            (
                cfg(vec![f64::NAN]),
                "propensity: temperature NaN (`temps`): give a finite temperature > 0",
            ),
            (
                EnsembleConfig { runs: 0, ..cfg(vec![0.4]) },
                "propensity: `runs` 0: give 1 to 10000000 runs per temperature (1 temperatures, at most 10000000 replicas)",
            ),
            (
                EnsembleConfig { runs: usize::MAX, ..cfg(vec![0.4, 0.5]) },
                "propensity: `runs` 18446744073709551615: give 1 to 5000000 runs per temperature (2 temperatures, at most 10000000 replicas)",
            ),
            (
                EnsembleConfig { steps: u64::MAX, ..cfg(vec![0.4]) },
                "propensity: `steps` 18446744073709551615: give 1 to 1e10 steps per run",
            ),
        ];
        for (c, want) in cases {
            let e = run_ensemble(
                &s,
                &pos,
                &cages,
                &c,
                &Compute::Cpu,
                glasscam::events::quiet(),
            )
            .err()
            .map(|e| e.to_string());
            assert_eq!(e.as_deref(), Some(want));
        }
    }

    #[test]
    fn an_ensemble_where_every_run_blew_up_is_an_error() {
        let (mut s, pos, cages) = start();
        s.max_force = 1e-3;
        let e = run_ensemble(
            &s,
            &pos,
            &cages,
            &cfg(vec![0.4]),
            &Compute::Cpu,
            glasscam::events::quiet(),
        )
        .err()
        .map(|e| e.to_string())
        .expect("every run blew up");
        assert_eq!(
            e,
            "propensity: 3 of 3 runs blew up (3 x a force exceeded the blow-up limit (max_force)); every run at \
             T = 0.4 failed, so there is no propensity there. Usually the time step is too large for the \
             temperature (dt 0.005, try half), the temperature is far above the system's (`temps`), or the \
             configuration is not one of this system (density, units)"
        );
    }

    #[test]
    fn xi_zero_is_refused_before_any_work() {
        let cg = glasscam::analysis::CoarseGrain {
            xi: 0.0,
            ..Default::default()
        };
        assert_eq!(
            cg.validate().unwrap_err().to_string(),
            "coarse-graining: `xi` 0: give a finite length > 0 (the paper's xi is 3, the cut-off 3 xi)"
        );
    }
}

mod training {
    use crate::common::write_synthetic;
    use glasscam::io::dataset::Dataset;
    use glasscam::kernels::Compute;
    use glasscam::learn::cnn::config::ModelConfig;
    use glasscam::learn::cnn::{select_snapshots, train, Covered, ReplicaSet};

    /// The quick network on a 16-pixel grid: trains in well under a second.
    fn cfg() -> ModelConfig {
        ModelConfig {
            grid: 16,
            cutoff: 3.0,
            epochs: 2,
            ..ModelConfig::quick()
        }
    }

    fn refused(c: ModelConfig, data: &Dataset) -> String {
        match train::train(data, &c, &Compute::Cpu, glasscam::events::quiet()) {
            Ok(_) => panic!("trained with bad settings"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_optimiser_settings_are_refused_and_a_diverging_loss_stops_training() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        write_synthetic(&dir, 25, 6, 6.0, 0.3, 3).expect("data");
        let data = Dataset::load(&dir).expect("load");
        let cases = [
            (
                ModelConfig { lr: f64::INFINITY, ..cfg() },
                "model settings: field `lr` = inf: learning rates must be finite and > 0 and at most 10 (default \
                 1e-3)",
            ),
            (
                ModelConfig { lr: 1e30, ..cfg() },
                "model settings: field `lr` = 1e30: learning rates must be finite and > 0 and at most 10 (default \
                 1e-3)",
            ),
            (
                ModelConfig { eps: 0.0, ..cfg() },
                "model settings: field `eps` = 0: give a finite number > 0 (default 1e-8)",
            ),
            (
                ModelConfig { eps: f64::NAN, ..cfg() },
                "model settings: field `eps` = NaN: give a finite number > 0 (default 1e-8)",
            ),
            (
                ModelConfig { batch: 1_000_000, ..cfg() },
                "model settings: field `batch` = 1000000: give 1 to 4096 images per step (the paper: 32)",
            ),
            (
                ModelConfig { epochs: 0, ..cfg() },
                "model settings: field `epochs` = 0: give 1 to 1000000 (the paper: 250)",
            ),
        ];
        for (c, want) in cases {
            assert_eq!(refused(c, &data), want);
        }
        // a huge Gaussian width: its window in pixels must not overflow
        let e = refused(
            ModelConfig {
                width: 1e30,
                ..cfg()
            },
            &data,
        );
        assert!(
            e.starts_with("kernel `gridize`: bad input: the Gaussian window (")
                && e.ends_with(
                    "does not fit a 16-pixel grid; use a larger grid or a smaller width"
                ),
            "{e}"
        );
        // Grad-CAM's snapshot selection says what is wrong for the split it was given
        let t =
            train::train(&data, &cfg(), &Compute::Cpu, glasscam::events::quiet()).expect("train");
        let mut liquids = data.clone();
        for m in &mut liquids.manifest.snapshots {
            m.label = 0;
            m.class = glasscam::domain::Class::Liquid;
        }
        let e = select_snapshots(&liquids, &t.model.file, Covered::Glass, ReplicaSet::All)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "data set {}: the data set holds no glass snapshots; choose `configs` glass, liquid or both to \
                 match what it holds",
                dir.display()
            )
        );
        let mut others = data.clone();
        for m in &mut others.manifest.snapshots {
            m.replica += 1000;
        }
        let e = select_snapshots(&others, &t.model.file, Covered::Glass, ReplicaSet::Test)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "...): the data set is not the one the model was trained on, or holds other replicas; set `split` \
                 to all to explain every snapshot"
            ),
            "{e}"
        );
        // a tiny Adam eps divides by an underflowed second moment (an absurd lr, which would overflow the weights,
        // is refused above)
        let e = refused(
            ModelConfig {
                eps: 1e-300,
                ..cfg()
            },
            &data,
        );
        assert_eq!(
            e,
            "training stopped: the training loss became NaN in epoch 1; the optimiser diverged: lower the \
             learning rate (`lr` = 1e-3, the paper's is 1e-3) and check Adam's `eps` = 1e-300 (default 1e-8). No \
             model was written"
        );
        // a NaN that reached the images (a data set built in memory, past the loaders' checks)
        let mut bad = data.clone();
        bad.positions[0] = f64::NAN;
        let e = refused(
            ModelConfig {
                eps: 1e-300,
                ..cfg()
            },
            &bad,
        );
        assert!(
            e.ends_with(
                "an input image holds NaN or infinite values: check the data set's positions and the model's \
                 `width` and `cutoff`. No model was written"
            ),
            "{e}"
        );
    }
}

/// The same refusals as a user meets them: the binary's exit code and stderr.
mod cli {
    use std::path::Path;
    use std::process::Command;

    fn glasscam(args: &[&str], dir: &Path) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_glasscam"))
            .args(args)
            .current_dir(dir)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("run glasscam");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn last_line(s: &str) -> &str {
        s.trim_end().lines().last().unwrap_or("")
    }

    const QUICK: [&str; 10] = [
        "simulate",
        "--system",
        "tiny.toml",
        "--backend",
        "cpu",
        "--cool-rate",
        "2",
        "--equilibrate-time",
        "0.5",
        "--replicas",
    ];

    #[test]
    fn bad_values_exit_non_zero_with_the_message() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        std::fs::write(d.join("tiny.toml"), super::common::TINY_SYSTEM).expect("write");
        for (extra, want) in [
            (
                vec!["--hold-time", "-1"],
                "error: protocol: --hold-time is -1: give a finite number >= 0",
            ),
            (
                vec!["--checkpoint-every", "inf"],
                "error: --checkpoint-every inf: give a finite number of seconds (at most 2e19; 86400 is a day)",
            ),
            (
                vec!["--dt", "inf"],
                "error: protocol: --dt is inf: give a finite number > 0",
            ),
        ] {
            let mut args = QUICK.to_vec();
            args.extend(["2", "--out", "o"]);
            args.extend(extra);
            let (ok, err) = glasscam(&args, d);
            assert!(!ok);
            assert_eq!(last_line(&err), want, "{err}");
        }
        // every replica blows up: exit 1, no data set
        let mut args = QUICK.to_vec();
        args.extend(["2", "--out", "blown", "--dt", "0.05"]);
        let (ok, err) = glasscam(&args, d);
        assert!(!ok);
        assert!(
            last_line(&err).starts_with("error: simulate: 2 of 2 replicas blew up (")
                && err.contains("no data set was written"),
            "{err}"
        );
        assert!(!d.join("blown/manifest.json").exists());

        // the same shard twice: an overlap, named as one
        for out in ["s0", "s0again"] {
            let mut args = QUICK.to_vec();
            args.extend(["4", "--shard", "0/2", "--out", out]);
            let (ok, err) = glasscam(&args, d);
            assert!(ok, "{err}");
        }
        let (ok, err) = glasscam(&["merge", "s0", "s0again", "--out", "m"], d);
        assert!(!ok);
        assert_eq!(
            last_line(&err),
            "error: merge: s0again (replicas 0..2) overlaps s0 (replicas up to 2): give each shard once, all from \
             one run's split into shards k/n"
        );

        // propensity --xi 0 is refused before any MD
        let (ok, err) = glasscam(
            &[
                "propensity",
                "--data",
                "s0",
                "--snapshot",
                "0",
                "--xi",
                "0",
                "--backend",
                "cpu",
                "--out",
                "p",
            ],
            d,
        );
        assert!(!ok);
        assert_eq!(
            last_line(&err),
            "error: coarse-graining: --xi 0: give a finite length > 0 (the paper's xi is 3, the cut-off 3 xi)"
        );

        // an empty XYZ file says so
        std::fs::write(d.join("e.xyz"), "").expect("write");
        let (ok, err) = glasscam(
            &[
                "analyze",
                "--input",
                "e.xyz",
                "--format",
                "xyz",
                "--system",
                "tiny.toml",
                "--out",
                "a",
            ],
            d,
        );
        assert!(!ok);
        assert_eq!(
            last_line(&err),
            "error: no usable frame: e.xyz: frame 0 (line 1): the file is empty: no frames"
        );
    }
}
