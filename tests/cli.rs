//! The `glasscam` binary as a user runs it: simulate a tiny system file, export XYZ and LAMMPS data, errors.

mod common;

use std::process::Command;

fn glasscam() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[test]
fn simulate_then_export_xyz_and_lammps_data() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).unwrap();
    let out = dir.path().join("data");
    let st = glasscam()
        .args(["simulate", "--system"])
        .arg(&sys)
        .args([
            "--replicas",
            "2",
            "--cool-rate",
            "2",
            "--equilibrate-time",
            "0.5",
            "--hold-time",
            "0.2",
        ])
        .args(["--backend", "cpu", "--seed", "4", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(
        stderr.contains("wrote 4 snapshots of 2 replicas"),
        "{stderr}"
    );

    let xyz = dir.path().join("s.xyz");
    let st = glasscam()
        .arg("export")
        .arg(&out)
        .args(["--snapshot", "1", "--format", "xyz", "--out"])
        .arg(&xyz)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let text = std::fs::read_to_string(&xyz).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "100");
    assert!(
        lines[1].contains("Lattice=") && lines[1].contains("class=glass"),
        "{}",
        lines[1]
    );
    assert_eq!(lines.len(), 102);
    assert!(lines[2].starts_with("A ") && lines[101].starts_with("B "));

    let data = dir.path().join("s.data");
    let st = glasscam()
        .arg("export")
        .arg(&out)
        .args(["--snapshot", "0", "--format", "lammps-data", "--out"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(st.status.success());
    let text = std::fs::read_to_string(&data).unwrap();
    assert!(
        text.contains("100 atoms")
            && text.contains("2 atom types")
            && text.contains("Atoms # atomic")
    );
    let atoms: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Atoms"))
        .skip(2)
        .collect();
    assert_eq!(atoms.len(), 100);
    let f: Vec<f64> = atoms[0]
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let l = (100.0f64 / 1.09).sqrt();
    assert!(f[2] >= 0.0 && f[2] < l && f[4] == 0.0, "{}", atoms[0]);

    let st = glasscam()
        .arg("export")
        .arg(&out)
        .args(["--snapshot", "9", "--format", "xyz", "--out"])
        .arg(&xyz)
        .output()
        .unwrap();
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("snapshot 9 does not exist"));

    // an existing file is replaced only with --force, a data set's own file never
    let export = |k: &str, to: &std::path::Path, force: bool| {
        let mut c = glasscam();
        c.arg("export")
            .arg(&out)
            .args(["--snapshot", k, "--format", "xyz", "--out"])
            .arg(to);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let before = std::fs::read_to_string(&xyz).unwrap();
    let st = export("0", &xyz, false);
    assert!(!st.status.success());
    assert!(String::from_utf8_lossy(&st.stderr).contains("use --force"));
    assert!(export("0", &xyz, true).status.success());
    assert_ne!(std::fs::read_to_string(&xyz).unwrap(), before);
    let st = export("0", &out.join("positions.npy"), true);
    assert!(String::from_utf8_lossy(&st.stderr).contains("a file of the data set itself"));
}

#[test]
fn a_bad_system_file_exits_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("bad.toml");
    std::fs::write(
        &sys,
        common::TINY_SYSTEM.replace("density = 1.09", "density = -1"),
    )
    .unwrap();
    let st = glasscam()
        .args(["simulate", "--system"])
        .arg(&sys)
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let e = String::from_utf8_lossy(&st.stderr);
    assert!(
        e.contains("bad.toml") && e.contains("`density` must be > 0"),
        "{e}"
    );
}

#[test]
fn bench_nn_times_a_model_file_and_profiles_its_kernels() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/quick-model.toml");
    let st = glasscam()
        .args([
            "bench",
            "nn",
            "--model",
            model,
            "--grid",
            "16",
            "--steps",
            "1",
            "--profile",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    // the quick model's network, at the grid asked for
    assert!(
        out.contains("grid 16 channels 2 conv [4, 4, 4] kernel 3 hidden 16 batch 8"),
        "{out}"
    );
    let profile = out
        .split("per-kernel time")
        .nth(1)
        .unwrap_or_else(|| panic!("no profile: {out}"));
    for k in [
        "conv2d_forward",
        "mean_pool",
        "conv2d_backward_weight",
        "adam",
        "total",
    ] {
        assert!(profile.contains(k), "no {k} in the profile: {out}");
    }
}
