//! `train --arch mpnn` on the GPU (`gnn::train` with `Compute::Gpu`) against the CPU twin on a small
//! synthetic data set: the same metrics.json (keys, classes, confusion shape, epochs) and a loss curve within a
//! named tolerance, dropout included; `bench gnn`'s GPU timing runs.

use glasscam::kernels::gpu::test_context;
use glasscam::kernels::Compute;
use glasscam::learn::gnn::train as train_on;
use glasscam::learn::gnn::MpnnConfig;
use glasscam::learn::model::write_model;
use serde_json::Value;

/// Per-epoch mean training and validation loss, GPU (f32 parameters and Adam moments) against the CPU path (f32
/// forward and backward, f64 Adam master copy), dropout 0.1 with the same masks: measured differences at most
/// 2.7e-7 over three epochs (lavapipe),
/// so 1e-5 leaves room for another GPU's summation order and still catches a wrong gradient or schedule step.
const LOSS_ABS: f64 = 1e-5;

/// The shape of a JSON value: object keys (recursively) and array lengths, numbers and strings replaced by their
/// kind, so that two metrics.json files can be compared for layout.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Number(_) | Value::Null => Value::String("number".into()),
        Value::String(_) => Value::String("string".into()),
        Value::Bool(_) => Value::String("bool".into()),
    }
}

#[test]
fn gpu_training_matches_the_cpu_twin() {
    let Some(ctx) = test_context("gpu_training_matches_the_cpu_twin") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    crate::common::write_synthetic(&data_dir, 25, 6, 6.0, 0.3, 3).unwrap();
    let data = glasscam::io::dataset::Dataset::load(&data_dir).unwrap();
    // with dropout: the GPU draws the twin's masks
    let cfg = MpnnConfig {
        epochs: 3,
        dropout: 0.1,
        ..MpnnConfig::quick()
    };
    let quiet = glasscam::events::quiet;
    let cpu = train_on(&data, &cfg, &Compute::Cpu, quiet()).unwrap();
    let gpu = train_on(&data, &cfg, &Compute::Gpu(ctx), quiet()).unwrap();
    let (mc, mg) = (&cpu.metrics, &gpu.metrics);
    assert_eq!(mg.history.len(), 3);
    for (c, g) in mc.history.iter().zip(&mg.history) {
        eprintln!(
            "epoch {}: train loss cpu {:.6} gpu {:.6} (diff {:.1e}), validation {:.6} {:.6} (diff {:.1e})",
            c.epoch,
            c.train_loss,
            g.train_loss,
            (c.train_loss - g.train_loss).abs(),
            c.validation_loss,
            g.validation_loss,
            (c.validation_loss - g.validation_loss).abs()
        );
        for (what, a, b) in [
            ("training", c.train_loss, g.train_loss),
            ("validation", c.validation_loss, g.validation_loss),
        ] {
            assert!(
                (a - b).abs() <= LOSS_ABS,
                "epoch {}: {what} loss cpu {a} gpu {b}",
                c.epoch
            );
        }
    }
    assert!(mg.backend.starts_with("gpu:"), "{}", mg.backend);
    let read = |t, name: &str| -> Value {
        let out = dir.path().join(name);
        write_model(&out, t).unwrap();
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap()
    };
    let (jc, jg) = (read(&cpu, "cpu"), read(&gpu, "gpu"));
    assert_eq!(shape(&jc), shape(&jg), "metrics.json layouts differ");
    assert_eq!(jc["test"]["accuracy"].as_object().map(|m| m.len()), Some(3));
}

#[test]
fn bench_gnn_times_the_gpu_path() {
    let Some(ctx) = test_context("bench_gnn_times_the_gpu_path") else {
        return;
    };
    use glasscam::learn::gnn::bench::{bench_graphs, time_attention_gpu, time_train_gpu};
    let cfg = MpnnConfig::quick();
    let g = bench_graphs(None, &cfg, 2).unwrap();
    let spec = cfg.spec(
        g.n_species,
        glasscam::learn::gnn::train::dist_stats(&g.graphs),
    );
    // one warm-up call and at least one timed call each: whole batches of graphs, a positive time
    for (what, (n, s)) in [
        ("train", time_train_gpu(&ctx, &spec, &g, 2, 0.01).unwrap()),
        (
            "attention",
            time_attention_gpu(&ctx, &spec, &g, 2, 0.01).unwrap(),
        ),
    ] {
        assert!(
            n >= 2 && n % 2 == 0 && s > 0.0,
            "{what}: {n} graphs in {s} s"
        );
    }
}
