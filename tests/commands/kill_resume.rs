//! Process-level kills: `glasscam simulate` killed with SIGKILL at many moments (by a timer, and inside its
//! atomic writes through the `GLASSCAM_FAILPOINT` hook), or stopped with SIGTERM, then `--resume`d until it
//! finishes, gives a data set whose every file is byte-identical to an uninterrupted run's. The system file
//! holds 17-digit values, as Python's `repr` writes them.
#![cfg(unix)]

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rand::{RngExt, SeedableRng};

/// The tiny test system with every float moved a few units in the last place, written with 17 significant
/// digits (Rust's `{:?}` is the shortest round-trip form, like Python's `repr`).
fn seventeen_digit_system() -> String {
    common::TINY_SYSTEM
        .lines()
        .map(|line| {
            let Some((name, value)) = line.split_once(" = ") else {
                return line.to_string();
            };
            match value.parse::<f64>() {
                Ok(x) if value.contains('.') => {
                    // the nearest value above x whose shortest form needs 17 significant digits; where none is
                    // near, x + 1 ulp written with 17 digits in exponent form (as `%.17g` would)
                    let text = (1..1000)
                        .map(|k| format!("{:?}", f64::from_bits(x.to_bits() + k)))
                        .find(|t| t.trim_start_matches(['0', '.']).replace('.', "").len() == 17)
                        .unwrap_or_else(|| format!("{:.16e}", f64::from_bits(x.to_bits() + 1)));
                    format!("{name} = {text}")
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    system: PathBuf,
    /// Cooling rate: set by `reference` so that an uninterrupted run takes about two seconds on this machine.
    cool_rate: std::cell::Cell<f64>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let system = root.join("tiny17.toml");
    std::fs::write(&system, seventeen_digit_system()).unwrap();
    Setup {
        _dir: dir,
        root,
        system,
        cool_rate: std::cell::Cell::new(0.1),
    }
}

/// `simulate` of about 8000 steps for 4 replicas in 2 chunks (a few seconds here), a checkpoint after every
/// call into the backend, so kills land before, inside and after many checkpoint writes.
fn simulate(s: &Setup, out: &Path, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .env_remove("GLASSCAM_FAILPOINT")
        .args(["simulate", "--system"])
        .arg(&s.system)
        .args(["--replicas", "4", "--chunk", "2", "--cool-rate"])
        .arg(s.cool_rate.get().to_string())
        .args(["--equilibrate-time", "0.5", "--hold-time", "0.2"])
        .args(["--backend", "cpu", "--seed", "3", "--checkpoint-every", "0"])
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        c.arg("--resume");
    }
    c
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = if e.path().is_file() {
                std::fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (name, bytes)
        })
        .collect();
    v.sort();
    v
}

/// The uninterrupted run, made long enough (a slower cooling) that kills land at many moments of it whatever
/// the machine's speed.
fn reference(s: &Setup) -> Vec<(String, Vec<u8>)> {
    let out = s.root.join("whole");
    loop {
        let t0 = std::time::Instant::now();
        let o = simulate(s, &out, false).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let secs = t0.elapsed().as_secs_f64();
        if secs >= 1.5 || s.cool_rate.get() < 1e-3 {
            break;
        }
        s.cool_rate.set(s.cool_rate.get() * (secs / 2.5).max(0.1));
        std::fs::remove_dir_all(&out).unwrap();
    }
    let f = files(&out);
    let names: Vec<&str> = f.iter().map(|x| x.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "box.npy",
            "labels.npy",
            "manifest.json",
            "positions.npy",
            "species.npy"
        ]
    );
    f
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_same(want: &[(String, Vec<u8>)], out: &Path, what: &str) {
    let got = files(out);
    assert_eq!(
        got.iter().map(|x| &x.0).collect::<Vec<_>>(),
        want.iter().map(|x| &x.0).collect::<Vec<_>>(),
        "{what}: other files"
    );
    for ((name, a), (_, b)) in want.iter().zip(&got) {
        assert!(a == b, "{what}: {name} differs from the uninterrupted run");
    }
}

fn wait_with_stderr(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
fn kill_9_at_many_moments_and_inside_writes_then_resume_is_byte_identical() {
    let s = setup();
    let want = reference(&s);
    let out = s.root.join("killed");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut timer_kills, mut write_kills) = (0, 0);
    for round in 0.. {
        assert!(round < 1500, "the run never finished");
        let mut cmd = simulate(&s, &out, true);
        let by_failpoint = round % 2 == 0;
        let o = if by_failpoint {
            // abort inside the K-th atomic write of this process: half-written temporary or just before rename
            let k = 1 + (round / 2) % 6;
            let kind = if (round / 2) % 2 == 0 {
                "write"
            } else {
                "rename"
            };
            cmd.env("GLASSCAM_FAILPOINT", format!("{kind}:{k}"))
                .output()
                .unwrap()
        } else {
            let mut child = cmd.spawn().unwrap();
            std::thread::sleep(Duration::from_millis(rng.random_range(20..150)));
            let _ = child.kill();
            wait_with_stderr(child)
        };
        if o.status.success() {
            if timer_kills >= 10 && write_kills >= 10 {
                break;
            }
            // finished with too few kills in this chain (a slow machine): start over
            (timer_kills, write_kills) = (0, 0);
            std::fs::remove_dir_all(&out).unwrap();
            continue;
        }
        assert!(
            o.status.code().is_none(),
            "killed, not an error: {}",
            stderr(&o)
        );
        if by_failpoint {
            write_kills += 1;
        } else {
            timer_kills += 1;
        }
    }
    eprintln!("{timer_kills} timer kills and {write_kills} inside writes in the last chain");
    // the run finished; resume again: already complete, nothing changes
    let o = simulate(&s, &out, true).output().unwrap();
    assert!(
        o.status.success() && stderr(&o).contains("already complete"),
        "{}",
        stderr(&o)
    );
    assert!(
        timer_kills >= 10 && write_kills >= 10,
        "{timer_kills} timer kills, {write_kills} in writes"
    );
    assert_same(&want, &out, "kill -9");
}

#[test]
fn sigterm_writes_a_checkpoint_and_resume_is_byte_identical() {
    let s = setup();
    let want = reference(&s);
    let out = s.root.join("term");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
    let mut stops = 0;
    for round in 0.. {
        assert!(round < 600, "the run never finished");
        let child = simulate(&s, &out, true).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(50..250)));
        let term = || {
            Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap()
        };
        term();
        // every third time a second signal follows at once: exit without a checkpoint
        let twice = round % 3 == 2;
        if twice {
            term();
        }
        let o = wait_with_stderr(child);
        if o.status.success() {
            // each stop may still advance the run by up to a backend call (about 0.5 s) of a ~2 s run, so a chain
            // holds only a few stops; the kill -9 test covers the many moments
            if stops >= 4 {
                break;
            }
            stops = 0;
            std::fs::remove_dir_all(&out).unwrap();
            continue;
        }
        let e = stderr(&o);
        if o.status.code().is_none() {
            // the signal came before the handler was installed (a loaded machine): the default action killed
            // it, like kill -9 at its start
            continue;
        }
        assert_eq!(o.status.code(), Some(130), "{e}");
        if !twice {
            assert!(
                e.contains("SIGTERM") && e.contains("checkpoint") && e.contains("--resume"),
                "{e}"
            );
        }
        stops += 1;
    }
    eprintln!("{stops} SIGTERM stops in the last chain");
    assert_same(&want, &out, "SIGTERM");
}
