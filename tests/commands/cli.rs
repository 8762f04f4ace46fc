//! The `glasscam` binary as a user runs it: simulate a tiny system file, export XYZ and LAMMPS data, errors.

use crate::common;

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
fn bench_nn_times_a_model_file_on_both_cpu_paths_and_profiles_its_layers() {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/presets/quick-model.toml");
    let bench = |backend: &str| {
        let st = glasscam()
            .args(["bench", "nn", "--backend", backend, "--model", model])
            .args(["--grid", "16", "--seconds", "0", "--profile"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&st.stdout).to_string();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        out
    };
    let out = bench("cpu");
    // the quick model's network, at the grid asked for
    assert!(
        out.contains(
            "grid 16 channels 2 conv [4, 4, 4] kernel 3 head Mean hidden 16 dropout 0 batch 8"
        ),
        "{out}"
    );
    assert_eq!(check_nn_table(&out), ["cpu f32", "cpu twin f64"], "{out}");
    assert!(out.contains("flops per cycle"), "no peak: {out}");
    for path in ["cpu f32", "cpu twin f64"] {
        for what in ["training step", "Grad-CAM batch"] {
            let head = format!("), {what}: ");
            let profile = out
                .split("\n")
                .skip_while(|l| !(l.starts_with(path) && l.contains(&head)))
                .skip(2)
                .take_while(|l| l.starts_with("  "))
                .collect::<Vec<_>>();
            let has = |k: &str| profile.iter().any(|l| l.trim_start().starts_with(k));
            assert!(
                has("conv1 forward") && has("pool forward"),
                "{path} {what}: {out}"
            );
            if what == "training step" {
                assert!(has("conv3 backward weight") && has("adam"), "{path}: {out}");
            }
            // every GEMM row has its speed and share of the peak
            let gemm: Vec<_> = profile.iter().filter(|l| l.contains(" %")).collect();
            assert!(gemm.len() >= 3, "{path} {what}: {out}");
        }
    }
    // the GPU row when an adapter exists, and it must when CI says so (named, since `both` leaves out a software
    // adapter)
    if std::env::var("GLASSCAM_REQUIRE_GPU").as_deref() == Ok("1") {
        assert_eq!(check_nn_table(&bench("gpu")), ["gpu"]);
    }
}

/// The `bench nn` table as a reader (or scripts/gpu-check) takes it: the header's columns, one row per path with
/// three rates (those measured positive); returns the paths ("cpu f32", "cpu twin f64", "gpu").
fn check_nn_table(out: &str) -> Vec<String> {
    use regex::Regex;
    let header = Regex::new(
        r"(?m)^path \(medians over rounds\)\s+step img/s\s+train img/s\s+Grad-CAM img/s\s",
    )
    .unwrap();
    assert!(header.is_match(out), "no table header: {out}");
    let row = Regex::new(
        r"(?m)^(cpu f32|cpu twin f64|gpu)[ :].*?\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s+\d+\.\d / \d+\.\d \(",
    )
    .unwrap();
    let mut paths = Vec::new();
    for c in row.captures_iter(out) {
        for i in 2..=4 {
            let v: f64 = c[i].parse().unwrap();
            assert!(v > 0.0 && v.is_finite(), "rate {v} in {}", &c[0]);
        }
        paths.push(c[1].to_string());
    }
    paths
}

#[test]
fn bench_analysis_prints_a_table_of_parsable_times() {
    let st = glasscam()
        .args(["bench", "analysis", "--configs", "2"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let head = regex::Regex::new(
        r"(?m)^analysis bench: 2 configurations of 2000 particles \(density 1\.2, seed 1\)$",
    )
    .unwrap();
    assert!(head.is_match(&out), "{out}");
    let row = regex::Regex::new(r"(?m)^(Voronoi \(periodic\)|Tong-Tanaka|coarse-graining \(2 fields\)|total)\s+(\d+\.\d{3})\s+(\d+\.\d{3})$").unwrap();
    let rows: Vec<(String, f64, f64)> = row
        .captures_iter(&out)
        .map(|c| {
            (
                c[1].to_string(),
                c[2].parse().unwrap(),
                c[3].parse().unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "Voronoi (periodic)",
            "Tong-Tanaka",
            "coarse-graining (2 fields)",
            "total"
        ],
        "{out}"
    );
    for (name, median, min) in &rows {
        assert!(
            *min > 0.0 && min <= median,
            "{name}: median {median} min {min}"
        );
    }
    let rate =
        regex::Regex::new(r"(?m)^all cores \((\d+) threads, .*\): (\d+\.\d) configurations/s$")
            .unwrap();
    let c = rate
        .captures(&out)
        .unwrap_or_else(|| panic!("no throughput line: {out}"));
    assert!(
        c[1].parse::<usize>().unwrap() >= 1 && c[2].parse::<f64>().unwrap() > 0.0,
        "{out}"
    );
}

#[test]
fn bench_md_prints_a_row_per_replica_count_with_the_ratio_to_the_cpu_twin() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).unwrap();
    let st = glasscam()
        .args(["bench", "md", "--backend", "cpu", "--replicas", "1,3"])
        .args(["--seconds", "0.05", "--system"])
        .arg(&sys)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(
        out.lines().next().is_some_and(|h| h.split_whitespace().eq([
            "backend",
            "replicas",
            "particles",
            "steps",
            "seconds",
            "particle-steps/s",
            "vs",
            "cpu",
            "twin"
        ])),
        "{out}"
    );
    let row = regex::Regex::new(
        r"(?m)^cpu\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+\.\d{2})\s+(\d\.\d{3}e\d+)\s+1\.00x$",
    )
    .unwrap();
    let rows: Vec<(usize, usize, f64)> = row
        .captures_iter(&out)
        .map(|c| {
            (
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
                c[5].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!((rows[0].0, rows[1].0), (1, 3), "{out}");
    assert_eq!(rows[1].1, 3 * rows[0].1, "{out}");
    assert!(rows.iter().all(|r| r.2 > 0.0), "{out}");
}
