//! Every command at its edges: outputs that are its own input or a data set, locks held by another process, 3D
//! input, sizes beyond the machine, signals that come twice or to a command that never checks for them, an
//! interrupted minimisation, a damaged chunk, adapter choice and several devices at once, and a start-up without
//! `XDG_RUNTIME_DIR`.
#![cfg(unix)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::CancelAt;
use glasscam::events::{Cancel, Ctx, Event, Recorder};
use glasscam::kernels::Compute;
use glasscam::sim::protocol::{run, RunOptions};
use glasscam::sim::system::SystemDef;

fn glasscam() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env_remove("GLASSCAM_ADAPTER")
        .env_remove("GLASSCAM_FAILPOINT");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A refusal: exit code 1 and a stderr that holds every one of `want`.
fn refused(o: &Output, want: &[&str]) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    for w in want {
        assert!(e.contains(w), "missing {w:?} in: {e}");
    }
    e
}

fn ok(o: &Output) -> String {
    let e = stderr(o);
    assert!(o.status.success(), "{e}");
    e
}

struct Fixture {
    dir: tempfile::TempDir,
    system: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let system = dir.path().join("tiny.toml");
        std::fs::write(&system, common::TINY_SYSTEM).unwrap();
        Fixture { dir, system }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `simulate` of the tiny system, 2 replicas, about 400 steps.
    fn simulate(&self, out: &Path, extra: &[&str]) -> Command {
        self.simulate_at("2", out, extra)
    }

    /// `simulate` as above, cooling at `rate`.
    fn simulate_at(&self, rate: &str, out: &Path, extra: &[&str]) -> Command {
        let mut c = glasscam();
        c.args(["simulate", "--system"])
            .arg(&self.system)
            .args([
                "--replicas",
                "2",
                "--cool-rate",
                rate,
                "--equilibrate-time",
                "0.5",
            ])
            .args(["--hold-time", "0.2", "--seed", "4", "--out"])
            .arg(out)
            .args(extra);
        c
    }

    /// A finished data set at `name` (CPU twin).
    fn data(&self, name: &str) -> PathBuf {
        let out = self.path(name);
        ok(&self.simulate(&out, &["--backend", "cpu"]).output().unwrap());
        out
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn assert_same_files(a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        let (x, y) = (
            std::fs::read(a.join(name)).unwrap(),
            std::fs::read(b.join(name)).unwrap(),
        );
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Finding 1: no command overwrites its own input, or another data set's files, and `merge a a` names the fault.
#[test]
fn writers_refuse_their_own_input_and_other_data_sets() {
    let f = Fixture::new();
    let data = f.data("data");
    let other = f.path("other");
    std::fs::create_dir(&other).unwrap();
    for (name, bytes) in files(&data) {
        std::fs::write(other.join(name), bytes).unwrap();
    }
    let before = files(&other);
    let minimize = |out: &Path, force: bool| {
        let mut c = glasscam();
        c.args(["minimize", "--backend", "cpu", "--data"])
            .arg(&data)
            .arg("--out")
            .arg(out);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    refused(
        &minimize(&data, true),
        &["own input", "choose another output"],
    );
    refused(
        &minimize(&other, false),
        &["holds a data set", "use --force"],
    );
    let mut c = glasscam();
    c.args(["export"])
        .arg(&data)
        .args(["--snapshot", "0", "--format", "xyz", "--force", "--out"]);
    refused(
        &c.arg(other.join("positions.npy")).output().unwrap(),
        &["is a file of the data set in"],
    );
    for cmd in [
        vec!["train", "--backend", "cpu", "--data"],
        vec!["analyze", "--no-plots", "--data"],
    ] {
        let o = glasscam()
            .args(&cmd)
            .arg(&data)
            .arg("--out")
            .arg(&other)
            .output()
            .unwrap();
        refused(&o, &["holds a data set", "do not go into a data set"]);
    }
    assert!(files(&other) == before, "the other data set was changed");
    let o = glasscam()
        .arg("merge")
        .arg(&data)
        .arg(&data)
        .arg("--out")
        .arg(f.path("merged"))
        .output()
        .unwrap();
    refused(&o, &["are the same shard", "give each shard once"]);
}

/// Finding 9: every writing command takes the output lock; a held one is refused with the holder's PID.
#[test]
fn every_writer_is_refused_a_directory_another_process_holds() {
    let f = Fixture::new();
    let data = f.data("data");
    let held = f.path("held");
    let _lock = glasscam::io::outdir::OutDir::lock(&held).unwrap();
    let pid = format!("PID {}", std::process::id());
    let model = f.path("model");
    let gradcam = f.path("gc");
    let d = data.to_str().unwrap();
    let (m, g) = (model.to_str().unwrap(), gradcam.to_str().unwrap());
    let commands: Vec<Vec<&str>> = vec![
        vec!["train", "--backend", "cpu", "--data", d],
        vec!["train", "--arch", "mpnn", "--backend", "cpu", "--data", d],
        vec!["gradcam", "--backend", "cpu", "--model", m, "--data", d],
        vec!["attention", "--model", m, "--data", d],
        vec!["analyze", "--data", d, "--gradcam", g],
        vec![
            "propensity",
            "--backend",
            "cpu",
            "--snapshot",
            "1",
            "--data",
            d,
        ],
        vec!["minimize", "--backend", "cpu", "--data", d],
        vec!["merge", d],
    ];
    for cmd in &commands {
        let o = glasscam()
            .args(cmd)
            .arg("--out")
            .arg(&held)
            .output()
            .unwrap();
        refused(&o, &[&pid, "in use by another glasscam process"]);
    }
    let o = glasscam()
        .arg("export")
        .arg(&data)
        .args(["--snapshot", "0", "--format", "xyz", "--out"])
        .arg(held.join("s.xyz"))
        .output()
        .unwrap();
    refused(&o, &[&pid]);
    assert!(!held.join("s.xyz").exists());
}

/// Finding 12 and a low one: a bad `--out` (a file, a link to nothing) is refused before the input is even read.
#[test]
fn a_bad_out_is_refused_before_any_work() {
    let f = Fixture::new();
    let file = f.path("a-file");
    std::fs::write(&file, "x").unwrap();
    let dangling = f.path("dangling");
    std::os::unix::fs::symlink(f.path("nowhere"), &dangling).unwrap();
    let missing = f.path("no-such-data");
    for cmd in [
        vec!["train", "--backend", "cpu", "--data"],
        vec!["gradcam", "--backend", "cpu", "--model", "m", "--data"],
        vec!["analyze", "--data"],
    ] {
        for (out, why) in [
            (&file, "exists and is not a directory"),
            (&dangling, "symbolic link to nothing"),
        ] {
            let o = glasscam()
                .args(&cmd)
                .arg(&missing)
                .arg("--out")
                .arg(out)
                .output()
                .unwrap();
            let e = refused(&o, &[why]);
            assert!(!e.contains("no-such-data"), "the input was read first: {e}");
        }
    }
}

/// Finding 2: a 3D trajectory is refused, naming the file and the third dimension.
#[test]
fn a_3d_trajectory_is_refused_not_projected() {
    let f = Fixture::new();
    let xyz = f.path("three-d.xyz");
    std::fs::write(
        &xyz,
        "3\nLattice=\"10 0 0 0 10 0 0 0 10\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n\
         A 1 1 1\nB 2 2 5\nA 3 3 9\n",
    )
    .unwrap();
    let dump = f.path("three-d.dump");
    std::fs::write(
        &dump,
        "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n\
         ITEM: ATOMS id type x y z\n1 1 1 1 0.5\n2 2 2 2 7.5\n",
    )
    .unwrap();
    for (file, format, z) in [
        (&xyz, "xyz", "third pos column"),
        (&dump, "lammps-dump", "z from"),
    ] {
        let o = glasscam()
            .args(["analyze", "--no-plots", "--format", format, "--system"])
            .arg(&f.system)
            .arg("--input")
            .arg(file)
            .arg("--out")
            .arg(f.path(format))
            .output()
            .unwrap();
        let name = file.file_name().unwrap().to_str().unwrap();
        refused(&o, &[name, "is 3D", z]);
    }
}

/// Finding 3 and low ones: sizes are bounded up front with what they would need; zero and negative ones are
/// refused by name; nothing aborts.
#[test]
fn sizes_beyond_the_machine_are_refused_up_front() {
    let f = Fixture::new();
    for (args, want) in [
        (
            vec![
                "bench",
                "md",
                "--backend",
                "cpu",
                "--replicas",
                "1000000000000",
                "--seconds",
                "1",
            ],
            vec!["--replicas 1000000000000", "needs about", "available"],
        ),
        (
            vec![
                "bench",
                "gridize",
                "--backend",
                "cpu",
                "--batch",
                "100000000000000",
            ],
            vec!["--batch 100000000000000", "needs about"],
        ),
        (
            vec!["bench", "gridize", "--backend", "cpu", "--seconds=-1"],
            vec!["--seconds -1", "above 0"],
        ),
        (
            vec!["bench", "md", "--backend", "cpu", "--seconds=NaN"],
            vec!["--seconds NaN"],
        ),
        (
            vec!["bench", "analysis", "--configs", "0"],
            vec!["--configs 0", "at least 1"],
        ),
        (
            vec!["bench", "nn", "--backend", "cpu", "--grid", "10000000"],
            vec!["--grid is 10000000", "1..=1024"],
        ),
        (
            vec![
                "bench",
                "propensity",
                "--backend",
                "cpu",
                "--replicas",
                "100000000000",
            ],
            vec!["needs about"],
        ),
    ] {
        let o = glasscam().args(&args).output().unwrap();
        let e = refused(&o, &want);
        assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
    }
    let (_, model) = common::trained_tiny(f.dir.path());
    for (batch, want) in [("0", "at least 1"), ("1000000000000000", "needs about")] {
        let o = glasscam()
            .args(["gradcam", "--backend", "cpu", "--batch", batch, "--model"])
            .arg(&model)
            .arg("--data")
            .arg(f.path("data"))
            .arg("--out")
            .arg(f.path("gc"))
            .output()
            .unwrap();
        refused(&o, &[&format!("--batch {batch}"), want]);
    }
    let o = f
        .simulate(&f.path("c0"), &["--backend", "cpu", "--chunk", "0"])
        .output()
        .unwrap();
    refused(&o, &["--chunk 0", "at least 1"]);
    for t in ["nan", "1.5"] {
        let o = glasscam()
            .args([
                "attention",
                "--data",
                "d",
                "--model",
                "m",
                "--out",
                "o",
                "--threshold",
                t,
            ])
            .output()
            .unwrap();
        refused(&o, &["--threshold", "from 0 up to 1"]);
    }
}

/// Finding 4: two SIGTERMs within a second (as `timeout` may send) are one: a checkpoint, and the resumed run
/// gives the bytes of an uninterrupted one.
#[test]
fn a_signal_repeated_within_a_second_is_one_signal() {
    let f = Fixture::new();
    // slow cooling and a checkpoint after every call: a few seconds, stoppable at any moment
    let slow = |out: &Path, resume: bool| {
        let mut c = f.simulate_at(
            "0.005",
            out,
            &["--backend", "cpu", "--checkpoint-every", "0"],
        );
        if resume {
            c.arg("--resume");
        }
        c.stdout(Stdio::null()).stderr(Stdio::piped());
        c
    };
    let whole = f.path("whole");
    ok(&slow(&whole, false).output().unwrap());
    let out = f.path("twice");
    let mut child = slow(&out, false).spawn().unwrap();
    // signal once the MD has begun (the chunk plan is printed just before it), not after a fixed sleep that a fast
    // machine outruns
    let (began, begun) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut text = String::new();
        for line in std::io::BufReader::new(err).lines() {
            let line = line.unwrap();
            if line.contains("chunk(s)") {
                let _ = began.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    begun.recv_timeout(Duration::from_secs(60)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..2 {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
    let status = child.wait().unwrap();
    let e = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{e}");
    assert!(e.contains("checkpoint written"), "{e}");
    assert!(!e.contains("second signal"), "{e}");
    ok(&slow(&out, true).output().unwrap());
    assert!(files(&whole) == files(&out), "resumed data set differs");
}

/// Finding 5: a command that never checks the cancel token (here `analyze` blocked on a FIFO) stops on the
/// first signal with exit 130 and says so truly.
#[test]
fn a_command_blocked_on_a_fifo_stops_on_the_first_signal() {
    let f = Fixture::new();
    let fifo = f.path("fifo.xyz");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let child = glasscam()
        .args(["analyze", "--no-plots", "--format", "xyz", "--system"])
        .arg(&f.system)
        .arg("--input")
        .arg(&fifo)
        .arg("--out")
        .arg(f.path("a"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    let t0 = Instant::now();
    while !waiter.is_finished() {
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("analyze ignored SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = waiter.join().unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(130), "{e}");
    assert!(e.contains("stopped") && !e.contains("checkpoint"), "{e}");
}

/// Finding 6: `simulate --inherent --resume` on a data set whose minimisation never finished writes `inherent`;
/// once written, it is complete.
#[test]
fn inherent_resume_writes_the_missing_minima() {
    let f = Fixture::new();
    let data = f.data("data");
    let o = f
        .simulate(&data, &["--backend", "cpu", "--inherent", "--resume"])
        .output()
        .unwrap();
    let e = ok(&o);
    assert!(
        e.contains("already complete") && e.contains("inherent structures of all 4"),
        "{e}"
    );
    let inherent = data.join("inherent");
    assert!(inherent.join("inherent.json").exists());
    let before = files(&inherent);
    let e = ok(&f
        .simulate(&data, &["--backend", "cpu", "--inherent", "--resume"])
        .output()
        .unwrap());
    assert!(!e.contains("inherent structures of all"), "{e}");
    assert!(files(&inherent) == before);
}

/// Finding 11: a damaged chunk file is found before the run goes on, and only that chunk is run again; the data
/// set is byte-identical to an uninterrupted run's.
#[test]
fn a_damaged_chunk_is_redone_alone_before_the_rest() {
    let f = Fixture::new();
    let sys = SystemDef::from_toml(common::TINY_SYSTEM, "tiny").unwrap();
    let p = common::tiny_protocol(6);
    let opts = |dir: &Path| {
        let mut o = RunOptions::new(dir, 2, Compute::Cpu);
        o.chunk = Some(2);
        o
    };
    let whole = f.path("whole");
    run(&sys, &p, &opts(&whole), &glasscam::events::quiet()).unwrap();
    let out = f.path("damaged");
    let stopper = CancelAt {
        cancel: Cancel::new(),
        at: |e| matches!(e, Event::Status(s) if s.starts_with("3/3")),
        lines: Recorder::default(),
    };
    let r = run(&sys, &p, &opts(&out), &Ctx::new(&stopper, &stopper.cancel));
    assert!(matches!(r, Err(glasscam::Error::Interrupted)), "{r:?}");
    let part = out.join(glasscam::sim::protocol::PARTIAL);
    let chunk = |c: usize| part.join(glasscam::sim::protocol::checkpoint::chunk_file(c));
    assert!(chunk(0).exists() && chunk(1).exists());
    let bytes = std::fs::read(chunk(1)).unwrap();
    std::fs::write(chunk(1), &bytes[..bytes.len() / 2]).unwrap();
    let kept = std::fs::metadata(chunk(0)).unwrap().modified().unwrap();
    let rec = Recorder::default();
    let never = Cancel::new();
    let mut o = opts(&out);
    o.resume = true;
    // the damage is found before the unfinished chunk 3 goes on
    let stop_first = CancelAt {
        cancel: never.clone(),
        at: |e| matches!(e, Event::Status(s) if s.starts_with("3/3")),
        lines: Recorder::default(),
    };
    let r = run(&sys, &p, &o, &Ctx::new(&stop_first, &never));
    assert!(matches!(r, Err(glasscam::Error::Interrupted)), "{r:?}");
    let lines = stop_first.lines.lines().join("\n");
    assert!(
        lines.contains("chunk 2 of 3 is damaged") && lines.contains("running that chunk again"),
        "{lines}"
    );
    assert_eq!(
        std::fs::metadata(chunk(0)).unwrap().modified().unwrap(),
        kept
    );
    let r = run(&sys, &p, &o, &Ctx::new(&rec, &Cancel::new()));
    r.unwrap();
    assert!(files(&whole) == files(&out), "the resumed data set differs");
}

/// Findings 13 and 14: `info` lists the adapters; `--adapter` and `GLASSCAM_ADAPTER` choose one, refuse a name
/// that matches none with the list, and the choice is recorded in the manifest.
#[test]
fn adapters_are_listed_chosen_and_recorded() {
    let f = Fixture::new();
    let o = glasscam().arg("info").output().unwrap();
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("{out}");
    assert!(out.contains("adapters (") && out.contains("  0: "), "{out}");
    assert!(
        out.contains("max storage binding") && out.contains("workgroup memory"),
        "{out}"
    );
    let o = glasscam()
        .args(["info", "--backend", "gpu", "--adapter", "no-such-gpu"])
        .output()
        .unwrap();
    refused(
        &o,
        &[
            "--adapter no-such-gpu",
            "no adapter has this name",
            "the adapters are 0: ",
        ],
    );
    let o = glasscam()
        .env("GLASSCAM_ADAPTER", "99")
        .args(["info", "--backend", "gpu"])
        .output()
        .unwrap();
    refused(&o, &["there is no adapter 99"]);
    let data = f.path("on0");
    ok(&f
        .simulate(&data, &["--backend", "gpu", "--adapter", "0"])
        .output()
        .unwrap());
    let manifest = std::fs::read_to_string(data.join("manifest.json")).unwrap();
    let name = out.lines().find(|l| l.starts_with("  0: ")).unwrap()[5..]
        .split(" (")
        .next()
        .unwrap()
        .to_string();
    assert!(
        manifest.contains(&format!("gpu: {name}")),
        "{name}: {manifest}"
    );
}

/// Finding 15: `simulate`, `minimize` and `propensity` on two devices (the software adapter opened twice) give the bytes of a
/// one-device run.
#[test]
fn two_devices_give_the_bytes_of_one() {
    let f = Fixture::new();
    let one = f.path("one");
    let two = f.path("two");
    ok(&f
        .simulate(&one, &["--backend", "gpu", "--chunk", "1"])
        .output()
        .unwrap());
    let e = ok(&f.simulate(&two, &["--adapters", "0,0"]).output().unwrap());
    assert!(
        e.contains("device 1:") && e.contains("2 chunk(s) of up to 1"),
        "{e}"
    );
    assert!(
        files(&one) == files(&two),
        "simulate on two devices differs"
    );
    // a command reading the data set `one`, writing `out`, on the devices `how` names
    let on = |args: &[&str], out: &Path, how: &[&str]| {
        glasscam()
            .args(args)
            .arg("--data")
            .arg(&one)
            .arg("--out")
            .arg(out)
            .args(how)
            .output()
            .unwrap()
    };
    let prop = |out: &Path, how: &[&str]| {
        let args = [
            "propensity",
            "--snapshot",
            "1",
            "--runs",
            "3",
            "--steps",
            "200",
            "--samples",
            "4",
            "--temps",
            "0.37,0.5",
            "--no-plots",
        ];
        on(&args, out, how)
    };
    let minimize = |out: &Path, how: &[&str]| on(&["minimize", "--batch", "4"], out, how);
    ok(&minimize(&f.path("m1"), &["--backend", "gpu"]));
    ok(&minimize(&f.path("m2"), &["--adapters", "0,0"]));
    assert!(
        files(&f.path("m1")) == files(&f.path("m2")),
        "minimize on two devices differs"
    );
    ok(&prop(&f.path("p1"), &["--backend", "gpu"]));
    ok(&prop(&f.path("p2"), &["--adapters", "0,0"]));
    assert_same_files(
        &f.path("p1"),
        &f.path("p2"),
        &[
            "times.npy",
            "delta.npy",
            "propensity.npy",
            "one_minus_delta_cg.npy",
        ],
    );
}

/// No command prints an "error" that is not one: without `XDG_RUNTIME_DIR`, `info` and `simulate --backend auto`
/// print no such line.
#[test]
fn no_error_line_without_a_runtime_dir() {
    let f = Fixture::new();
    let info = glasscam()
        .env_remove("XDG_RUNTIME_DIR")
        .arg("info")
        .output()
        .unwrap();
    let sim = f
        .simulate(&f.path("auto"), &["--backend", "auto"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    for o in [info, sim] {
        ok(&o);
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert!(
            !text.lines().any(|l| l.to_lowercase().contains("error")),
            "{text}"
        );
    }
}

/// Low findings: `labels.npy` is checked against the manifest; the fingerprint is the manifest's content, not its
/// text; a liquid colder than the glass is refused; `--resume` on a finished data set whose lock cannot be taken
/// says "already complete"; `train` without `--model` takes the data set's preset's network.
#[test]
fn files_fingerprints_and_messages_at_the_low_edges() {
    let f = Fixture::new();
    let data = f.data("data");
    let fp = glasscam::io::dataset::Dataset::load(&data)
        .unwrap()
        .fingerprint;
    // the same manifest, re-serialised compactly: the same data set
    let text = std::fs::read_to_string(data.join("manifest.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    std::fs::write(
        data.join("manifest.json"),
        serde_json::to_string(&v).unwrap(),
    )
    .unwrap();
    assert_ne!(
        std::fs::read_to_string(data.join("manifest.json")).unwrap(),
        text
    );
    assert_eq!(
        glasscam::io::dataset::Dataset::load(&data)
            .unwrap()
            .fingerprint,
        fp
    );

    // labels.npy that says otherwise than the manifest
    let copy = f.path("relabelled");
    std::fs::create_dir(&copy).unwrap();
    for (name, bytes) in files(&data) {
        std::fs::write(copy.join(name), bytes).unwrap();
    }
    let flipped: Vec<i64> = vec![1, 0, 1, 0];
    glasscam::io::npy::write(&copy.join("labels.npy"), &[4], &flipped).unwrap();
    let o = glasscam()
        .arg("export")
        .arg(&copy)
        .args(["--snapshot", "0", "--format", "xyz", "--out"])
        .arg(f.path("x.xyz"))
        .output()
        .unwrap();
    refused(
        &o,
        &["labels.npy does not match the manifest", "snapshot 0"],
    );

    let o = glasscam()
        .args(["task", "--liquid"])
        .arg(format!("{}:T=0.05", data.display()))
        .arg("--glass")
        .arg(format!("{}:T=0.8", data.display()))
        .arg("--out")
        .arg(f.path("task"))
        .output()
        .unwrap();
    refused(&o, &["colder than the glass", "swap --liquid and --glass"]);

    // a lock that cannot be taken (here a directory in the lock file's place, as a read-only directory would)
    std::fs::create_dir(data.join(".glasscam.lock")).unwrap();
    let e = ok(&f
        .simulate(&data, &["--backend", "cpu", "--resume"])
        .output()
        .unwrap());
    assert!(e.contains("already complete"), "{e}");
    std::fs::remove_dir(data.join(".glasscam.lock")).unwrap();

    let o = glasscam()
        .args(["train", "--backend", "cpu", "--epochs", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(f.path("model"))
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(e.contains("the quick preset's network"), "{e}");

    let o = glasscam()
        .args(["analyze", "--no-plots", "--xi", "1e308", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(f.path("an"))
        .output()
        .unwrap();
    refused(&o, &["--xi 1e308", "beyond any box"]);
}

/// Low finding: a Grad-CAM output that records no data-set fingerprint is refused, not matched to any data set.
#[test]
fn a_gradcam_without_a_fingerprint_is_refused() {
    let f = Fixture::new();
    let data = f.data("data");
    let gdir = f.path("gc");
    let index = glasscam::analysis::GradcamIndex {
        format_version: 1,
        snapshots: vec![1],
        misclassified: vec![],
        target_class: "glass".into(),
        data: None,
        data_fingerprint: None,
    };
    glasscam::analysis::GammaSet::write(&gdir, &index, 100, &[0.0; 100]).unwrap();
    let o = glasscam()
        .args(["analyze", "--no-plots", "--data"])
        .arg(&data)
        .arg("--gradcam")
        .arg(&gdir)
        .arg("--out")
        .arg(f.path("an"))
        .output()
        .unwrap();
    refused(
        &o,
        &["records no data-set fingerprint", "glasscam gradcam --data"],
    );
}

/// Low finding: a task's fingerprint is that of its sources' content and picks, not of the paths they were given
/// by.
#[test]
fn a_tasks_fingerprint_does_not_depend_on_the_path_spelling() {
    let f = Fixture::new();
    f.data("data");
    let task = |source: &str, out: &str| {
        let o = glasscam()
            .current_dir(f.dir.path())
            .args(["task", "--liquid"])
            .arg(format!("{source}:T=0.8"))
            .arg("--glass")
            .arg(format!("{source}:T=0.05"))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        ok(&o);
        let text = std::fs::read_to_string(f.path(out).join("task.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["fingerprint"].as_str().unwrap().to_string()
    };
    let absolute = f.path("data");
    assert_eq!(task(absolute.to_str().unwrap(), "t1"), task("./data", "t2"));
}

/// Low finding: the set-up that precedes the first MD progress (initial configurations, the MD's buffers), which
/// takes minutes at 1e5 replicas, says what it does, after the chunk plan and before the MD.
#[test]
fn the_set_up_of_a_run_says_what_it_does() {
    let f = Fixture::new();
    let e = ok(&f
        .simulate(&f.path("data"), &["--backend", "cpu"])
        .output()
        .unwrap());
    let at = |s: &str| e.find(s).unwrap_or_else(|| panic!("no {s:?} in: {e}"));
    let plan = at("2 replicas in 1 chunk(s)");
    let starts =
        at("setting up chunk 1/1: the initial configurations of 2 replicas, then the MD's buffers");
    let begun = at("chunk 1/1 set up in ");
    assert!(plan < starts && starts < begun, "{e}");
    assert!(e[begun..].contains(" s; the MD begins"), "{e}");
}

/// Low finding: a pipeline's own file given as `out` (its name, or the file itself inside a pipeline's output) is
/// refused by name before any work, not as a directory that cannot be made.
#[test]
fn a_pipeline_file_as_out_is_refused_by_name() {
    let f = Fixture::new();
    let pipe = f.path("pipe");
    std::fs::create_dir_all(pipe.join("kam/data")).unwrap();
    std::fs::write(pipe.join("stages.json"), "{}").unwrap();
    std::fs::write(pipe.join("kam/data/manifest.json"), "{}").unwrap();
    let o = f
        .simulate(&pipe.join("stages.json"), &["--backend", "cpu"])
        .output()
        .unwrap();
    refused(
        &o,
        &[
            "stages.json is named as a pipeline's own file (stages.json: a `reproduce` output directory's stage \
             records)",
            "give the directory (",
        ],
    );
    let o = f
        .simulate(Path::new("report.html"), &["--backend", "cpu"])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    refused(
        &o,
        &[
            "--out report.html is named as a pipeline's own file",
            "choose another name",
        ],
    );
    assert!(!f.path("report.html").exists());
    let o = glasscam()
        .args(["reproduce", "--preset", "quick", "--out"])
        .arg(pipe.join("results.json"))
        .output()
        .unwrap();
    refused(
        &o,
        &["results.json: a `reproduce` output directory's results"],
    );
    let o = f
        .simulate(&pipe.join("kam/data/manifest.json"), &["--backend", "cpu"])
        .output()
        .unwrap();
    refused(
        &o,
        &[
            "is a file inside the pipeline output",
            "choose an output directory outside it",
        ],
    );
}
