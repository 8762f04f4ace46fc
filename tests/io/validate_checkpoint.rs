//! `--resume` checks the checkpoint against the run before using it: a NaN in a running replica, a record edited
//! to self-consistent but wrong values (fewer thermostat records, a stage that does not exist, a wrong thermostat
//! chain, arrays for fewer replicas, a step that does not fit the stages) are refused with the file and the fix,
//! never resumed into a wrong data set and never a panic.

use crate::common;

use std::path::Path;

use glasscam::events::quiet;
use glasscam::sim::protocol::checkpoint::{self, Checkpoint};
use glasscam::sim::protocol::{run, Protocol, RunOptions};
use glasscam::sim::system::SystemDef;
use glasscam::Error;
use glasscam_kernels::Compute;

/// Two replicas of a 100-particle KAM system, stopped with a checkpoint after 60 steps; options ready to resume.
fn interrupted(dir: &Path) -> (SystemDef, Protocol, RunOptions) {
    let sys = common::scaled(SystemDef::kam(), 100);
    let p = common::tiny_protocol(2);
    let mut o = RunOptions::new(dir, 1, Compute::Cpu);
    o.stop_after_steps = Some(60);
    assert!(matches!(
        run(&sys, &p, &o, &quiet()),
        Err(Error::Interrupted)
    ));
    o.stop_after_steps = None;
    o.resume = true;
    (sys, p, o)
}

type Arrays = (Vec<Vec<f64>>, Vec<Vec<i32>>);

/// Rewrites the checkpoint in `dir` with `edit` applied (a valid container: fresh checksum), resumes, and returns
/// the error message with the file's path and the standard fix cut off.
fn resume_edited(dir: &Path, edit: impl FnOnce(&mut Checkpoint, &mut Arrays)) -> String {
    let (sys, p, o) = interrupted(dir);
    let path = dir.join(".partial").join(checkpoint::CHECKPOINT);
    let (mut cp, f, i) = checkpoint::read_raw(&path).expect("read");
    let mut arrays = (f, i);
    edit(&mut cp, &mut arrays);
    let f: Vec<&[f64]> = arrays.0.iter().map(|a| a.as_slice()).collect();
    let i: Vec<&[i32]> = arrays.1.iter().map(|a| a.as_slice()).collect();
    checkpoint::write_raw(&path, &cp, &f, &i).expect("write");
    let e = match run(&sys, &p, &o, &quiet()) {
        Ok(_) => panic!("an edited checkpoint was resumed"),
        Err(e) => e.to_string(),
    };
    let head = format!("{}: ", path.display());
    let tail = "; this run's scratch state cannot be used: delete only that file's directory";
    assert!(e.starts_with(&head) && e.contains(tail), "{e}");
    e[head.len()..e.find(tail).expect("tail")].to_string()
}

#[test]
fn a_nan_in_a_running_replica_is_refused_on_resume() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |_, (f, _)| f[0][2 * 37] = f64::NAN);
    assert_eq!(e, "replica 0 is marked running but its state holds NaN");
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |_, (f, _)| f[1][2 * 100 + 5] = f64::INFINITY);
    assert_eq!(e, "replica 1 is marked running but its state holds inf");
    let tmp = tempfile::tempdir().expect("tempdir");
    // in the JSON record a NaN can only be a null, which no number field accepts
    let e = resume_edited(tmp.path(), |cp, _| cp.thermo[1].eta[0] = f64::NAN);
    assert!(
        e.starts_with("record unreadable (invalid type: null, expected f64"),
        "{e}"
    );
}

#[test]
fn fewer_thermostat_records_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // self-consistent: one replica's record and arrays, where the chunk has two
    let e = resume_edited(tmp.path(), |cp, (f, i)| {
        cp.thermo.truncate(1);
        f[0].truncate(200);
        f[1].truncate(200);
        i[0].truncate(200);
    });
    assert_eq!(e, "1 thermostat records for the chunk's 2 replicas");
}

#[test]
fn arrays_for_too_few_replicas_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |_, (f, i)| {
        f[0].truncate(200);
        f[1].truncate(200);
        i[0].truncate(200);
    });
    assert_eq!(e, "array sizes do not match the run");
}

#[test]
fn a_huge_stage_index_or_a_step_off_the_stages_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |cp, _| cp.stage = 1_000_000);
    assert!(
        e.starts_with("stage 1000000 does not exist (the protocol has "),
        "{e}"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |cp, _| cp.step += 1000);
    assert_eq!(
        e,
        "step 1060 with 60 steps done of leg 0 does not fit the protocol's schedule"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |cp, _| cp.chunk = 7);
    assert_eq!(e, "it is for chunk 8 but chunk 1 is the next to run");
}

#[test]
fn fifty_thermostat_values_are_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |cp, _| {
        for t in &mut cp.thermo {
            t.eta = vec![0.0; 50];
        }
    });
    assert_eq!(e, "thermostat chain length differs from this build's");
}

#[test]
fn a_status_that_disagrees_with_the_failures_is_refused() {
    // marking a replica blown up to smuggle a NaN past the finiteness check must be listed as failed too
    let tmp = tempfile::tempdir().expect("tempdir");
    let e = resume_edited(tmp.path(), |cp, (f, _)| {
        cp.thermo[0].status = 1;
        f[0][0] = f64::NAN;
    });
    assert_eq!(
        e,
        "replica 0's thermostat status (1) disagrees with the list of failed replicas"
    );
}
