//! Snapshots along the whole ramp: `simulate --t-start --ramp-snapshots K --inherent` as a user runs it.

use crate::common;

fn glasscam() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[test]
fn ramp_snapshots_are_evenly_spaced_in_t_with_classes_and_inherent_energies() {
    use glasscam::io::dataset::Dataset;
    let dir = tempfile::tempdir().expect("tempdir");
    let sys = dir.path().join("tiny.toml");
    std::fs::write(&sys, common::TINY_SYSTEM).expect("write system");
    let out = dir.path().join("ramp");
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
        ])
        .args(["--t-start", "2.0", "--ramp-snapshots", "5", "--inherent"])
        .args(["--backend", "cpu", "--seed", "4", "--out"])
        .arg(&out)
        .output()
        .expect("run simulate");
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{stderr}");
    let data = Dataset::load(&out).expect("data set");
    // 5 ramp points (1.61, 1.22, 0.83, 0.44, 0.05 = T_G) plus T_L = 0.8, per replica
    let temps: Vec<f64> = data.manifest.snapshot_temps.clone();
    let want = [1.61, 1.22, 0.83, 0.8, 0.44, 0.05];
    assert_eq!(temps.len(), want.len(), "{temps:?}");
    for (t, w) in temps.iter().zip(want) {
        assert!((t - w).abs() < 1e-12, "{temps:?}");
    }
    assert_eq!(data.n_snapshots(), 12);
    let classes: Vec<&str> = data.manifest.snapshots[..6]
        .iter()
        .map(|s| s.class.name())
        .collect();
    assert_eq!(
        classes,
        ["other", "other", "other", "liquid", "other", "glass"]
    );
    assert_eq!(data.manifest.protocol["t_start"], 2.0);
    assert_eq!(data.manifest.protocol["hold_time"], 0.0);
    let info =
        glasscam::sim::minimize::read_inherent(&out.join("inherent")).expect("inherent.json");
    assert_eq!(info.snapshots.len(), 12);
    assert!(info
        .snapshots
        .iter()
        .all(|m| m.outcome == "converged" && m.e_is < m.pe_per_particle));
}

/// A slow (rate 2) and a fast (rate 200) ramp of the tiny system, 8 replicas, 5 ramp points, minimised; made
/// once per test binary.
fn ramps() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let sys = dir.path().join("tiny.toml");
        std::fs::write(&sys, common::TINY_SYSTEM).expect("write system");
        for (name, rate, seed) in [("slow", "2", "4"), ("fast", "200", "5")] {
            let st = glasscam()
                .args(["simulate", "--system"])
                .arg(&sys)
                .args(["--replicas", "8", "--cool-rate", rate])
                .args(["--equilibrate-time", "0.5", "--t-start", "2.0"])
                .args(["--ramp-snapshots", "5", "--inherent", "--backend", "cpu"])
                .args(["--seed", seed, "--out"])
                .arg(dir.path().join(name))
                .output()
                .expect("run simulate");
            assert!(
                st.status.success(),
                "{}",
                String::from_utf8_lossy(&st.stderr)
            );
        }
        dir
    })
    .path()
}

/// Runs `glasscam task ARGS`; returns (success, stdout + stderr).
fn task(args: &[&str]) -> (bool, String) {
    let st = glasscam()
        .current_dir(ramps())
        .arg("task")
        .args(args)
        .output()
        .expect("run glasscam task");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&st.stdout),
        String::from_utf8_lossy(&st.stderr)
    );
    (st.status.success(), text)
}

#[test]
fn the_swanson_preset_writes_seven_tasks_that_train_reads_and_the_landscape() {
    use glasscam::io::dataset::Dataset;
    use glasscam::pipeline::swanson::task::{read_task, Pick, TaskKind};
    let out = tempfile::tempdir().expect("tempdir");
    let o = out.path().join("tasks");
    let o = o.to_str().expect("utf-8 path");
    let (ok, text) = task(&[
        "--preset", "swanson", "--slow", "slow", "--fast", "fast", "--out", o,
    ]);
    assert!(ok, "{text}");
    let o = std::path::Path::new(o);
    let slow_glass = |d: &Dataset| {
        d.manifest
            .snapshots
            .iter()
            .filter(|m| m.target_t == 0.05)
            .count()
    };
    // tasks 1-5: Swanson's T_k mapped to the nearest of 1.61, 1.22, 0.83, 0.44, 0.05
    for (name, t) in [
        ("task1", 1.61),
        ("task2", 1.61),
        ("task3", 0.83),
        ("task4", 0.44),
        ("task5", 0.44),
    ] {
        let info = read_task(&o.join(name)).expect("task.json");
        assert_eq!(info.kind, TaskKind::Pair);
        assert!(
            (info.liquid().target_t - t).abs() < 1e-12,
            "{name}: {info:?}"
        );
        assert_eq!(info.glass().target_t, 0.05);
        assert_eq!(info.replicas, 8);
        let d = Dataset::load(&o.join(name)).expect("a task is a data set");
        assert_eq!(d.n_snapshots(), 16);
        assert_eq!(slow_glass(&d), 8);
        // each replica: one liquid and one glass snapshot
        for m in &d.manifest.snapshots {
            let want = if m.target_t == 0.05 { 1 } else { 0 };
            assert_eq!(m.label, want, "{name}: {m:?}");
        }
    }
    // task 6: a slow ramp point above T_G chosen by E_IS against the fast glass; replicas of the two sets distinct
    let t6 = read_task(&o.join("task6")).expect("task6");
    assert!(
        matches!(t6.liquid().pick, Pick::Point(k) if (1..5).contains(&k)),
        "{t6:?}"
    );
    assert!(t6.glass().source.ends_with("fast"));
    assert_eq!(t6.replicas, 16);
    let (l, g) = (
        t6.liquid().e_is.expect("E_IS"),
        t6.glass().e_is.expect("E_IS"),
    );
    let land: glasscam::pipeline::swanson::landscape::Landscape = serde_json::from_str(
        &std::fs::read_to_string(o.join("landscape.json")).expect("landscape.json"),
    )
    .expect("landscape.json parses");
    let slow_curve = &land.curves[0];
    assert_eq!(slow_curve.points.len(), 5);
    assert_eq!(land.curves[1].points.len(), 5);
    // no other slow point above T_G is nearer the fast glass
    for p in slow_curve.points.iter().filter(|p| p.t > 0.05) {
        assert!(
            (p.e_is.mean - g.mean).abs() >= (l.mean - g.mean).abs() - 1e-15,
            "{p:?} vs {l:?}"
        );
    }
    assert_eq!(land.glass_level.expect("fast glass level").e_is, g);
    assert!(land.marks.iter().any(|m| m.task == "task6" && m.equal_eis));
    for f in ["landscape.png", "landscape.svg"] {
        assert!(std::fs::metadata(o.join(f)).expect(f).len() > 1000, "{f}");
    }
    // null: slow glasses only, replicas split in two labelled halves
    let null = read_task(&o.join("null")).expect("null");
    assert_eq!(null.kind, TaskKind::Null);
    assert_eq!(null.liquid().source_indices.len(), 4);
    assert_eq!(null.glass().source_indices.len(), 4);
    let d = Dataset::load(&o.join("null")).expect("null data set");
    assert_eq!(slow_glass(&d), 8);
    // `train` takes a task in place of a data set
    let model = out.path().join("model.toml");
    std::fs::write(
        &model,
        "grid = 16\ncutoff = 3.0\nconv_channels = [4]\nkernel = 3\nhidden = 4\nbatch = 8\nepochs = 2\n",
    )
    .expect("model file");
    let st = glasscam()
        .args(["train", "--backend", "cpu", "--data"])
        .arg(o.join("task6"))
        .arg("--model")
        .arg(&model)
        .arg("--out")
        .arg(out.path().join("m6"))
        .output()
        .expect("run train");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let metrics = std::fs::read_to_string(out.path().join("m6/metrics.json")).expect("metrics");
    let m: serde_json::Value = serde_json::from_str(&metrics).expect("json");
    // 16 replicas split 13 / 1 / 2, each replica's snapshots on one side
    assert_eq!(m["replicas"], serde_json::json!([13, 1, 2]), "{metrics}");
}

#[test]
fn a_task_from_two_sources_and_the_bad_inputs_it_refuses() {
    let out = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| out.path().join(n).to_string_lossy().into_owned();
    let (ok, text) = task(&[
        "--liquid",
        "slow:k=2",
        "--glass",
        "fast:T=0.05",
        "--out",
        &p("t"),
    ]);
    assert!(ok, "{text}");
    assert!(
        text.contains("liquid slow at T = 1.22 (k=2, 8 snapshots"),
        "{text}"
    );
    let refused = |args: &[&str], want: &str| {
        let (ok, text) = task(args);
        assert!(!ok, "accepted: {args:?}");
        assert!(text.contains(want), "{args:?}: {text}");
    };
    refused(
        &["--liquid", "slow:k=2", "--glass", "fast", "--out", &p("t")],
        "already holds a task; use --force",
    );
    refused(
        &["--liquid", "slow:k=9", "--glass", "slow", "--out", &p("a")],
        "ramp point k=9 does not exist: slow has 5 ramp points, k = 1..5 (T = 1.61 .. 0.05)",
    );
    refused(
        &["--liquid", "slow:T=3", "--glass", "slow", "--out", &p("a")],
        "T=3 lies outside the ramp",
    );
    refused(
        &[
            "--liquid",
            "slow:T=0.06",
            "--glass",
            "slow:k=5",
            "--out",
            &p("a"),
        ],
        "share 8 snapshots of slow",
    );
    refused(
        &[
            "--liquid",
            "slow:T=hot",
            "--glass",
            "slow",
            "--out",
            &p("a"),
        ],
        "write DIR, DIR:T=0.5",
    );
    refused(
        &[
            "--preset",
            "oyama",
            "--slow",
            "slow",
            "--fast",
            "fast",
            "--out",
            &p("a"),
        ],
        "unknown task preset `oyama`: use swanson",
    );
    refused(
        &[
            "--preset",
            "swanson",
            "--slow",
            "slow",
            "--fast",
            "fast",
            "--only",
            "task7",
            "--out",
            &p("a"),
        ],
        "unknown task `task7`",
    );
    refused(&["--liquid", "slow", "--out", &p("a")], "give both classes");
    // a class with no snapshots: a data set of liquid minima only, asked for its glass
    let st = glasscam()
        .current_dir(ramps())
        .args([
            "minimize",
            "--data",
            "slow",
            "--snapshots",
            "liquid",
            "--backend",
            "cpu",
            "--out",
        ])
        .arg(out.path().join("liq"))
        .output()
        .expect("run minimize");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    refused(
        &["--liquid", "slow", "--glass", &p("liq"), "--out", &p("a")],
        "the glass class is empty",
    );
    assert!(
        !out.path().join("a").exists(),
        "a refused task left files behind"
    );
}
