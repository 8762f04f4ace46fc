//! The cooling protocol: exact ramp ends, seeded determinism, kill-and-resume equality, refusals, and
//! blown-up replicas reported in the manifest.

mod common;

use std::path::Path;

use common::scaled;
use glasscam::dataset::Dataset;
use glasscam::events::quiet;
use glasscam::protocol::{run, Protocol, RunOptions};
use glasscam::system::SystemDef;
use glasscam::Error;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::Compute;

fn tiny_system() -> SystemDef {
    scaled(SystemDef::kam(), 100)
}

/// A protocol that cools 4.0 -> 0.05 in about 400 steps.
fn tiny_protocol(replicas: usize) -> Protocol {
    let mut p = Protocol::quick();
    p.replicas = replicas;
    p.equilibrate_time = 0.5;
    p.cool_rate = 2.0;
    p.hold_time = 0.25;
    p
}

fn bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("positions.npy")).expect("positions.npy written")
}

fn computes() -> Vec<Compute> {
    let mut v = vec![Compute::Cpu];
    if let Some(ctx) = test_context("protocol tests (gpu half)") {
        v.push(Compute::Gpu(ctx));
    }
    v
}

#[test]
fn ramp_ends_exactly_at_the_glass_temperature() {
    let sys = tiny_system();
    let p = tiny_protocol(2);
    let stages = p.schedule(&sys).unwrap();
    let ramp = stages
        .iter()
        .rev()
        .find(|s| s.segment.t_from != s.segment.t_to)
        .unwrap();
    assert_eq!(ramp.segment.t_to, sys.t_glass);
    assert_eq!(
        ramp.segment.target_at(ramp.segment.len),
        sys.t_glass,
        "the last target of the ramp is T_G exactly"
    );
    // a run records exactly T_G and T_L as the snapshot targets
    let dir = tempfile::tempdir().unwrap();
    let m = run(
        &sys,
        &p,
        &RunOptions::new(dir.path(), 3, Compute::Cpu),
        &quiet(),
    )
    .unwrap();
    for s in &m.snapshots {
        let want = if s.class == "glass" {
            sys.t_glass
        } else {
            sys.t_liquid
        };
        assert_eq!(s.target_t, want);
        // this ramp is far too fast for the thermostat to follow: only sanity here
        assert!(s.kinetic_t > 0.0 && s.kinetic_t.is_finite());
    }
    assert_eq!(m.snapshots.len(), 4);
    // the rate is the protocol's: steps of the ramp from T_L to T_G
    let expect = ((sys.t_liquid - sys.t_glass) / (p.cool_rate * p.md.dt)).round() as u64;
    assert_eq!(ramp.segment.len, expect);
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let sys = tiny_system();
    let p = tiny_protocol(3);
    for c in computes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        run(&sys, &p, &RunOptions::new(a.path(), 5, c.clone()), &quiet()).unwrap();
        run(&sys, &p, &RunOptions::new(b.path(), 5, c.clone()), &quiet()).unwrap();
        run(&sys, &p, &RunOptions::new(d.path(), 6, c.clone()), &quiet()).unwrap();
        assert_eq!(
            bytes(a.path()),
            bytes(b.path()),
            "{}: same seed, different bytes",
            c.describe()
        );
        assert_ne!(
            bytes(a.path()),
            bytes(d.path()),
            "{}: seeds 5 and 6 gave the same data",
            c.describe()
        );
    }
}

#[test]
fn a_killed_and_resumed_run_equals_an_uninterrupted_one() {
    let sys = tiny_system();
    let p = tiny_protocol(4);
    for c in computes() {
        let whole = tempfile::tempdir().unwrap();
        let mut o = RunOptions::new(whole.path(), 9, c.clone());
        o.chunk = Some(2);
        run(&sys, &p, &o, &quiet()).unwrap();

        let parts = tempfile::tempdir().unwrap();
        let mut o = RunOptions::new(parts.path(), 9, c.clone());
        o.chunk = Some(2);
        // killed mid-ramp in the first chunk, then again in the second
        o.stop_after_steps = Some(150);
        let e = run(&sys, &p, &o, &quiet()).unwrap_err();
        assert!(
            matches!(e, Error::Interrupted),
            "expected an interruption, got {e}"
        );
        assert!(parts.path().join(".partial/checkpoint.json").exists());
        o.resume = true;
        o.stop_after_steps = Some(250);
        let mut tries = 0;
        loop {
            tries += 1;
            match run(&sys, &p, &o, &quiet()) {
                Ok(_) => break,
                Err(Error::Interrupted) if tries < 10 => continue,
                Err(e) => panic!("resume failed: {e}"),
            }
        }
        assert!(tries >= 2, "the test must interrupt more than once");
        assert_eq!(
            bytes(whole.path()),
            bytes(parts.path()),
            "{}: resumed run differs",
            c.describe()
        );
        let a = Dataset::load(whole.path()).unwrap();
        let b = Dataset::load(parts.path()).unwrap();
        assert_eq!(a.manifest.snapshots, b.manifest.snapshots);
    }
}

#[test]
fn resume_with_other_settings_and_overwriting_are_refused() {
    let sys = tiny_system();
    let p = tiny_protocol(2);
    let dir = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(dir.path(), 1, Compute::Cpu);
    o.stop_after_steps = Some(100);
    assert!(matches!(
        run(&sys, &p, &o, &quiet()),
        Err(Error::Interrupted)
    ));
    o.stop_after_steps = None;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("--resume"), "{e}");
    o.resume = true;
    o.seed = 2;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("other settings"), "{e}");
    o.seed = 1;
    run(&sys, &p, &o, &quiet()).unwrap();
    o.resume = false;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("already holds a data set"), "{e}");
}

#[test]
fn blown_up_replicas_are_named_in_the_manifest_and_left_out() {
    let sys = tiny_system();
    let mut p = tiny_protocol(3);
    // every force is "absurd": all replicas stop at once
    p.md.max_force = 1e-3;
    let dir = tempfile::tempdir().unwrap();
    let m = run(
        &sys,
        &p,
        &RunOptions::new(dir.path(), 1, Compute::Cpu),
        &quiet(),
    )
    .unwrap();
    assert_eq!(m.failed.len(), 3);
    assert!(m.snapshots.is_empty());
    for (k, f) in m.failed.iter().enumerate() {
        assert_eq!(f.replica, k);
        assert!(f.step <= 1, "failed at step {}", f.step);
        assert!(f.cause.contains("max_force"), "{}", f.cause);
    }
}

#[test]
fn merged_shards_equal_one_run_byte_for_byte() {
    let sys = tiny_system();
    let p = tiny_protocol(5);
    for c in computes() {
        let whole = tempfile::tempdir().unwrap();
        run(
            &sys,
            &p,
            &RunOptions::new(whole.path(), 12, c.clone()),
            &quiet(),
        )
        .unwrap();
        let shards: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
        // shards run in another order, one of them chunked differently
        for k in [2, 0, 1] {
            let mut o = RunOptions::new(shards[k].path(), 12, c.clone());
            o.replicas = Some(glasscam::protocol::shard_range(k, 3, 5).unwrap());
            o.chunk = if k == 1 { Some(1) } else { None };
            run(&sys, &p, &o, &quiet()).unwrap();
        }
        let merged = tempfile::tempdir().unwrap();
        let paths: Vec<_> = shards
            .iter()
            .rev()
            .map(|d| d.path().to_path_buf())
            .collect();
        glasscam::protocol::merge(&paths, merged.path()).unwrap();
        for f in [
            "positions.npy",
            "species.npy",
            "labels.npy",
            "box.npy",
            "manifest.json",
        ] {
            let a = std::fs::read(whole.path().join(f)).unwrap();
            let b = std::fs::read(merged.path().join(f)).unwrap();
            assert!(
                a == b,
                "{}: {f} differs between one run and merged shards",
                c.describe()
            );
        }
        // a missing shard is named
        let e = glasscam::protocol::merge(&paths[..2], tempfile::tempdir().unwrap().path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing") || e.contains("cover"), "{e}");
    }
    assert!(glasscam::protocol::shard_range(3, 3, 5).is_err());
}
