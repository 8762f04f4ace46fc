//! Snapshots along the whole ramp: `simulate --t-start --ramp-snapshots K --inherent` as a user runs it.

mod common;

fn glasscam() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_glasscam"));
    c.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    c
}

#[test]
fn ramp_snapshots_are_evenly_spaced_in_t_with_classes_and_inherent_energies() {
    use glasscam::dataset::Dataset;
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
        .map(|s| s.class.as_str())
        .collect();
    assert_eq!(
        classes,
        ["other", "other", "other", "liquid", "other", "glass"]
    );
    assert_eq!(data.manifest.protocol["t_start"], 2.0);
    assert_eq!(data.manifest.protocol["hold_time"], 0.0);
    let info = glasscam::minimize::read_inherent(&out.join("inherent")).expect("inherent.json");
    assert_eq!(info.snapshots.len(), 12);
    assert!(info
        .snapshots
        .iter()
        .all(|m| m.outcome == "converged" && m.e_is < m.pe_per_particle));
}
