//! Training the propensity network on targets that are a known function of local structure (the synthetic data
//! set with targets): the error falls far below the targets' variance, the kept epoch is the best by validation,
//! the model directory round-trips, predictions come back in the targets' units, and bad input is refused.

use crate::common::{self, err_of};
use glasscam::events::quiet;
use glasscam::learn::dynamics::{train, Gn, GnConfig};
use glasscam::learn::fit::{Objective, Regression};
use glasscam::learn::model::{write_model, Model};
use glasscam_kernels::Compute;

fn cfg() -> GnConfig {
    GnConfig {
        hidden: 16,
        steps: 1,
        cutoff: 1.6,
        lr: 2e-3,
        epochs: 60,
        split: [0.75, 0.25, 0.0],
        ..GnConfig::default()
    }
}

#[test]
fn the_network_learns_a_function_of_local_structure_and_keeps_its_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (data, targets) = common::write_annotated(&dir.path().join("data"), 16, 8, 3, 1).unwrap();
    let t = train(&data, &targets, &cfg(), None, &Compute::Cpu, quiet()).unwrap();
    let m = &t.metrics;
    // standardized units: 1 is the variance of the targets; a network that learned nothing stays near it
    assert!(m.test.mse < 0.2, "test mse {}", m.test.mse);
    assert!(
        m.test.pearson.iter().all(|&p| p > 0.9),
        "{:?}",
        m.test.pearson
    );
    let first = m.history[0].train_mse;
    let lowest = m
        .history
        .iter()
        .map(|l| l.train_mse)
        .fold(f64::INFINITY, f64::min);
    assert!(
        lowest < 0.3 * first,
        "training mse from {first} to at best {lowest}"
    );
    // the kept epoch is the best by validation, and the test set was never looked at for it
    let best = &m.history[m.best_epoch - 1];
    assert!(m
        .history
        .iter()
        .all(|l| !Regression { targets: 3 }.better(l, best)));
    assert_eq!(m.replicas, [6, 2, 8]);
    // predictions in the targets' units match them on a test configuration, on the scored species (the loss
    // never sees the others, so their outputs mean nothing)
    let k = t.model.file.header.split.test[0];
    let y = t.model.predict(&data, &[k], None).unwrap();
    let n = data.n_particles();
    let truth = &targets.values[k * 3 * n..(k + 1) * 3 * n];
    let scored: Vec<(f64, f64)> = (0..y.len())
        .filter(|&i| data.species[i % n] == 0)
        .map(|i| (y[i] as f64, truth[i] as f64))
        .collect();
    let err: f64 = scored.iter().map(|(a, b)| (a - b).powi(2)).sum::<f64>() / scored.len() as f64;
    let var: f64 = {
        let mean = scored.iter().map(|p| p.1).sum::<f64>() / scored.len() as f64;
        scored.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>() / scored.len() as f64
    };
    assert!(
        err < 0.2 * var,
        "prediction error {err} against variance {var}"
    );
    // the model directory round-trips
    let out = dir.path().join("model");
    write_model(&out, &t).unwrap();
    let back = Gn::load(&out).unwrap();
    assert_eq!(back.params, t.model.params);
    assert_eq!(back.file.times, t.model.file.times);
    assert_eq!(back.file.target_std, t.model.file.target_std);
    assert_eq!(back.predict(&data, &[k], None).unwrap(), y);
}

#[test]
fn training_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (data, targets) = common::write_annotated(dir.path(), 8, 6, 2, 2).unwrap();
    let c = GnConfig { epochs: 2, ..cfg() };
    let a = train(&data, &targets, &c, None, &Compute::Cpu, quiet()).unwrap();
    let b = train(&data, &targets, &c, None, &Compute::Cpu, quiet()).unwrap();
    assert_eq!(a.model.params, b.model.params);
}

#[test]
fn bad_input_is_refused_with_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let (data, targets) = common::write_annotated(&dir.path().join("data"), 8, 6, 2, 2).unwrap();
    // a cutoff that leaves particles alone
    let c = GnConfig {
        cutoff: 0.5,
        epochs: 1,
        ..cfg()
    };
    let e = err_of(train(&data, &targets, &c, None, &Compute::Cpu, quiet()));
    assert!(
        e.contains("no neighbour within the cutoff 0.5") && e.contains("raise `cutoff`"),
        "{e}"
    );
    // targets of another shape
    let mut short = targets.clone();
    short.values.pop();
    let e = err_of(train(&data, &short, &cfg(), None, &Compute::Cpu, quiet()));
    assert!(e.contains("expected [S, T, N] = [8, 2, 36]"), "{e}");
    // a species the system does not have
    let c = GnConfig {
        species: 2,
        ..cfg()
    };
    let e = err_of(train(&data, &targets, &c, None, &Compute::Cpu, quiet()));
    assert!(
        e.contains("`species` = 2 but the system has 2 species"),
        "{e}"
    );
    // a model on another time grid
    let c = GnConfig { epochs: 1, ..cfg() };
    let t = train(&data, &targets, &c, None, &Compute::Cpu, quiet()).unwrap();
    let e = err_of(t.model.check_times(dir.path(), &[1.0, 5.0]));
    assert!(
        e.contains("the model predicts at times [1.0, 10.0] but the targets hold times [1.0, 5.0]"),
        "{e}"
    );
    // a corrupt weights file
    let out = dir.path().join("model");
    write_model(&out, &t).unwrap();
    let w = out.join("model.safetensors");
    let mut bytes = std::fs::read(&w).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&w, &bytes).unwrap();
    let e = err_of(Gn::load(&out));
    assert!(
        e.contains("differs from config.json's `weights_sha256`"),
        "{e}"
    );
    // settings out of range, each named
    for (c, want) in [
        (
            GnConfig {
                members: 0,
                ..cfg()
            },
            "`members` must be >= 1",
        ),
        (
            GnConfig {
                average: 1.0,
                ..cfg()
            },
            "`average` = 1 must be in [0, 1)",
        ),
        (
            GnConfig {
                weight_decay: -0.1,
                ..cfg()
            },
            "`weight_decay` = -0.1 must be >= 0",
        ),
        (
            GnConfig {
                descriptor_lengths: vec![0.0, 2.0, 2.0],
                ..cfg()
            },
            "`descriptor_lengths` [0.0, 2.0, 2.0] lists a length twice",
        ),
    ] {
        let e = err_of(train(&data, &targets, &c, None, &Compute::Cpu, quiet()));
        assert!(e.contains(want), "{e}");
    }
}

/// Settings beyond Bapst's: descriptor inputs, a moving average of the parameters, weight decay.
fn regularized() -> GnConfig {
    GnConfig {
        epochs: 3,
        descriptor_lengths: vec![0.0, 1.5],
        average: 0.9,
        weight_decay: 0.5,
        ..cfg()
    }
}

#[test]
fn an_ensemble_predicts_its_members_mean_and_its_first_member_is_the_network_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (data, targets) = common::write_annotated(&dir.path().join("data"), 8, 6, 2, 2).unwrap();
    let one = train(
        &data,
        &targets,
        &regularized(),
        None,
        &Compute::Cpu,
        quiet(),
    )
    .unwrap();
    let c = GnConfig {
        members: 2,
        ..regularized()
    };
    let two = train(&data, &targets, &c, None, &Compute::Cpu, quiet()).unwrap();
    let n = one.model.params.len();
    assert_eq!(two.model.params.len(), 2 * n);
    assert_eq!(two.model.params[..n], one.model.params[..]);
    assert_ne!(two.model.params[n..], one.model.params[..]);
    assert_eq!(two.model.file.member_epochs.len(), 2);
    assert!(one.model.file.member_epochs.is_empty());
    // the node inputs: 5 descriptors raw and at 1.5, standardized over the training configurations
    let names: Vec<&str> = one
        .model
        .file
        .descriptors
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(names.len(), 10);
    assert_eq!(names[9], "tong_tanaka_cg1.5");
    assert_eq!(one.model.spec().node_in, 10);
    // predictions: the mean of the members', each member a network alone
    let k = two.model.file.header.split.test.clone();
    let member = |p: &[f32]| {
        let mut m = two.model.clone();
        m.file.config.members = 1;
        m.params = p.to_vec();
        m.predict(&data, &k, None).unwrap()
    };
    let (a, b) = (
        member(&two.model.params[..n]),
        member(&two.model.params[n..]),
    );
    assert_eq!(a, one.model.predict(&data, &k, None).unwrap());
    let both = two.model.predict(&data, &k, None).unwrap();
    let scale = a.iter().map(|x| x.abs()).fold(0f32, f32::max);
    for ((m, x), y) in both.iter().zip(&a).zip(&b) {
        assert!((m - 0.5 * (x + y)).abs() <= 1e-5 * scale, "{m} {x} {y}");
    }
    // saved as a PyTorch ModuleList `members`, and loaded back
    let out = dir.path().join("model");
    write_model(&out, &two).unwrap();
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let names = st.names();
    assert!(names.iter().any(|n| n.starts_with("members.1.decoder.")));
    assert!(names.iter().all(|n| n.starts_with("members.")), "{names:?}");
    let back = Gn::load(&out).unwrap();
    assert_eq!(back.params, two.model.params);
    assert_eq!(back.predict(&data, &k, None).unwrap(), both);
    // a config whose descriptor columns do not match its settings is refused
    let cpath = out.join("config.json");
    let mut j: serde_json::Value = serde_json::from_slice(&std::fs::read(&cpath).unwrap()).unwrap();
    j["descriptors"].as_array_mut().unwrap().pop();
    std::fs::write(&cpath, serde_json::to_vec(&j).unwrap()).unwrap();
    let e = err_of(Gn::load(&out));
    assert!(
        e.contains("takes 10 descriptor columns") && e.contains("lists 9"),
        "{e}"
    );
}

/// Per-epoch training error, GPU steps (f32 in WGSL) against the CPU twin's (f32, other summation order), both
/// with the host's f64 Adam: measured at most 3.7e-8 over three epochs (lavapipe), so 1e-5 leaves room for another
/// GPU's summation order and still catches a wrong gradient (the error itself is about 1).
const GPU_MSE: f64 = 1e-5;

#[test]
fn gpu_training_steps_match_the_cpu_twin() {
    let Some(ctx) = glasscam::kernels::gpu::test_context("gpu_training_steps_match_the_cpu_twin")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (data, targets) = common::write_annotated(dir.path(), 8, 6, 2, 2).unwrap();
    let c = GnConfig { epochs: 3, ..cfg() };
    let cpu = train(&data, &targets, &c, None, &Compute::Cpu, quiet()).unwrap();
    let gpu = train(&data, &targets, &c, None, &Compute::Gpu(ctx), quiet()).unwrap();
    for (a, b) in cpu.metrics.history.iter().zip(&gpu.metrics.history) {
        let d = (a.train_mse - b.train_mse).abs();
        eprintln!(
            "epoch {}: train mse cpu {} gpu {} (diff {d:.1e})",
            a.epoch, a.train_mse, b.train_mse
        );
        assert!(
            d < GPU_MSE,
            "epoch {}: train mse cpu {} gpu {}",
            a.epoch,
            a.train_mse,
            b.train_mse
        );
    }
    assert!(gpu.metrics.backend.contains("(f32)") && gpu.metrics.backend != cpu.metrics.backend);
}
