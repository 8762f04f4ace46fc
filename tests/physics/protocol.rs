//! The cooling protocol: exact ramp ends, seeded determinism, kill-and-resume equality, refusals, and
//! blown-up replicas reported in the manifest; a finished run resumed is a no-op, other settings and damaged
//! state are refused by name, a second writer is locked out, a cancel stops within seconds.

use crate::common;

use std::path::Path;

use common::{scaled, tiny_protocol};
use glasscam::events::{quiet, Cancel, Ctx, Recorder};
use glasscam::io::dataset::Dataset;
use glasscam::sim::protocol::{run, Protocol, RunOptions};
use glasscam::sim::system::SystemDef;
use glasscam::Error;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::Compute;

fn tiny_system() -> SystemDef {
    scaled(SystemDef::kam(), 100)
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
        let want = if s.class == glasscam::domain::Class::Glass {
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
        assert!(parts.path().join(".partial/checkpoint.bin").exists());
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
    let mut o = interrupted_run(&sys, &p, dir.path(), Compute::Cpu, 100);
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("`resume`"), "{e}");
    o.resume = true;
    o.seed = 2;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("other settings"), "{e}");
    o.seed = 1;
    run(&sys, &p, &o, &quiet()).unwrap();
    o.resume = false;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(
        e.contains("already holds a data set") && e.contains("`force`"),
        "{e}"
    );
}

#[test]
fn a_run_where_every_replica_blew_up_is_an_error_naming_the_cause() {
    let sys = tiny_system();
    let mut p = tiny_protocol(3);
    // every force is "absurd": all replicas stop at once
    p.md.max_force = 1e-3;
    let dir = tempfile::tempdir().unwrap();
    let e = run(
        &sys,
        &p,
        &RunOptions::new(dir.path(), 1, Compute::Cpu),
        &quiet(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "simulate: 3 of 3 replicas blew up (3 x a force exceeded the blow-up limit (max_force); the first, \
             replica 0, at step "
        ),
        "{e}"
    );
    assert!(e.ends_with("no data set was written"), "{e}");
    assert!(!dir.path().join(glasscam::io::dataset::MANIFEST).exists());
    assert!(!dir.path().join(glasscam::sim::protocol::PARTIAL).exists());
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
            o.replicas = Some(glasscam::sim::protocol::shard_range(k, 3, 5).unwrap());
            o.chunk = if k == 1 { Some(1) } else { None };
            run(&sys, &p, &o, &quiet()).unwrap();
        }
        let merged = tempfile::tempdir().unwrap();
        let paths: Vec<_> = shards
            .iter()
            .rev()
            .map(|d| d.path().to_path_buf())
            .collect();
        glasscam::io::dataset::merge(&paths, merged.path(), false).unwrap();
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
        let e =
            glasscam::io::dataset::merge(&paths[..2], tempfile::tempdir().unwrap().path(), false)
                .unwrap_err()
                .to_string();
        assert!(e.contains("missing") || e.contains("cover"), "{e}");
        // merging over an existing data set needs --force
        let e = glasscam::io::dataset::merge(&paths, merged.path(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("use `force`"), "{e}");
        glasscam::io::dataset::merge(&paths, merged.path(), true).unwrap();
    }
    assert!(glasscam::sim::protocol::shard_range(3, 3, 5).is_err());
}

/// A run in `dir` stopped (with a checkpoint) after `steps` steps; returns its options, ready to resume.
fn interrupted_run(
    sys: &SystemDef,
    p: &Protocol,
    dir: &Path,
    c: Compute,
    steps: u64,
) -> RunOptions {
    let mut o = RunOptions::new(dir, 1, c);
    o.stop_after_steps = Some(steps);
    assert!(matches!(run(sys, p, &o, &quiet()), Err(Error::Interrupted)));
    o.stop_after_steps = None;
    o
}

fn modified(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn a_finished_run_resumed_is_a_no_op_and_other_settings_are_refused_by_name() {
    let sys = tiny_system();
    let p = tiny_protocol(2);
    let dir = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(dir.path(), 1, Compute::Cpu);
    let m = run(&sys, &p, &o, &quiet()).unwrap();
    let pos = dir.path().join("positions.npy");
    let before = (bytes(dir.path()), modified(&pos));
    // a kill during the final clean-up leaves scratch behind: --resume finishes the clean-up
    std::fs::create_dir_all(dir.path().join(".partial")).unwrap();
    std::fs::write(dir.path().join(".partial/chunk_00000.bin"), b"x").unwrap();
    o.resume = true;
    let rec = Recorder::default();
    let cancel = Cancel::new();
    let again = run(&sys, &p, &o, &Ctx::new(&rec, &cancel)).unwrap();
    assert_eq!(again, m);
    assert!(
        rec.lines().iter().any(|l| l.contains("already complete")),
        "{:?}",
        rec.lines()
    );
    assert_eq!(
        (bytes(dir.path()), modified(&pos)),
        before,
        "nothing recomputed"
    );
    assert!(!dir.path().join(".partial").exists());
    // other settings: refused, naming what differs, and nothing is touched
    o.seed = 2;
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(
        e.contains("seed: 1 then, 2 now") && e.contains("`force`"),
        "{e}"
    );
    let mut q = p.clone();
    q.cool_rate = 2.5;
    o.seed = 1;
    let e = run(&sys, &q, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("protocol.cool_rate: 2.0 then, 2.5 now"), "{e}");
    assert_eq!(modified(&pos), before.1);
    // --force replaces it
    o.force = true;
    o.seed = 2;
    let m2 = run(&sys, &p, &o, &quiet()).unwrap();
    assert_eq!(m2.seed, 2);
    assert_ne!(bytes(dir.path()), before.0);
}

#[test]
fn damaged_state_is_refused_with_the_file_and_the_fix() {
    let sys = tiny_system();
    let p = tiny_protocol(2);
    let dir = tempfile::tempdir().unwrap();
    let mut o = interrupted_run(&sys, &p, dir.path(), Compute::Cpu, 60);
    o.resume = true;
    let cp = dir.path().join(".partial/checkpoint.bin");
    let good = std::fs::read(&cp).unwrap();
    let mut bad = good.clone();
    let k = bad.len() / 2;
    bad[k] ^= 1;
    std::fs::write(&cp, &bad).unwrap();
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(
        e.contains("checkpoint.bin") && e.contains("checksum"),
        "{e}"
    );
    std::fs::write(&cp, &good).unwrap();
    // an unreadable run record: named, with the fix, never "start over" silently
    let key = dir.path().join(".partial/run.json");
    let text = std::fs::read_to_string(&key).unwrap();
    std::fs::write(&key, &text[..text.len() / 2]).unwrap();
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("run.json") && e.contains("`force`"), "{e}");
    std::fs::write(&key, &text).unwrap();
    run(&sys, &p, &o, &quiet()).unwrap();
}

#[test]
fn a_second_writer_is_refused_with_the_first_ones_pid() {
    let sys = tiny_system();
    let p = tiny_protocol(1);
    let dir = tempfile::tempdir().unwrap();
    let held = glasscam::io::outdir::OutDir::lock(dir.path()).unwrap();
    let o = RunOptions::new(dir.path(), 1, Compute::Cpu);
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains(&format!("PID {}", std::process::id())), "{e}");
    assert!(
        !dir.path().join(".partial").exists(),
        "the loser wrote nothing"
    );
    drop(held);
    run(&sys, &p, &o, &quiet()).unwrap();
}

#[test]
fn a_cancel_stops_within_seconds_with_a_checkpoint() {
    let sys = tiny_system();
    // long enough that it cannot finish before the cancel: 64 replicas, a slow ramp
    let mut p = tiny_protocol(64);
    p.cool_rate = 0.02;
    let dir = tempfile::tempdir().unwrap();
    let o = RunOptions::new(dir.path(), 1, Compute::Cpu);
    let cancel = Cancel::new();
    let c2 = cancel.clone();
    let when = std::sync::Arc::new(std::sync::Mutex::new(None));
    let w2 = when.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        *w2.lock().unwrap() = Some(std::time::Instant::now());
        c2.cancel();
    });
    let r = run(&sys, &p, &o, &Ctx::new(&glasscam::events::Silent, &cancel));
    let stopped = std::time::Instant::now();
    t.join().unwrap();
    assert!(matches!(r, Err(Error::Interrupted)), "{:?}", r.err());
    let lag = stopped - when.lock().unwrap().expect("cancelled");
    assert!(lag.as_secs_f64() < 3.0, "took {lag:?} to stop");
    assert!(dir.path().join(".partial/checkpoint.bin").exists());
}

#[test]
fn a_run_that_cannot_fit_in_memory_is_refused_up_front() {
    let sys = tiny_system();
    // the most replicas a protocol may ask for, in one chunk: far beyond any machine's memory at N = 100 (the
    // data set is written chunk by chunk, so it is the chunk that must fit)
    let p = tiny_protocol(glasscam::sim::protocol::schedule::MAX_REPLICAS);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big");
    let mut o = RunOptions::new(&out, 1, Compute::Cpu);
    o.chunk = Some(glasscam::sim::protocol::schedule::MAX_REPLICAS);
    let e = run(&sys, &p, &o, &quiet()).unwrap_err().to_string();
    assert!(e.contains("GiB of memory") && e.contains("`shard`"), "{e}");
    assert!(!out.exists(), "nothing written");
}

#[test]
fn a_run_resumed_on_another_backend_is_flagged_and_merge_refuses_it() {
    let Some(ctx) = test_context("mixed-backend resume") else {
        return;
    };
    let sys = tiny_system();
    let p = tiny_protocol(2);
    let dir = tempfile::tempdir().unwrap();
    interrupted_run(&sys, &p, dir.path(), Compute::Cpu, 60);
    let mut o = RunOptions::new(dir.path(), 1, Compute::Gpu(ctx));
    o.resume = true;
    let m = run(&sys, &p, &o, &quiet()).unwrap();
    assert!(
        m.backend.starts_with("mixed: cpu") && m.backend.contains(" + gpu"),
        "{}",
        m.backend
    );
    let e = glasscam::io::dataset::merge(&[dir.path().to_path_buf()], &dir.path().join("m"), false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("several backends"), "{e}");
}
