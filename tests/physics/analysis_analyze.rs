//! The analyze stage end to end on a small data set with a Grad-CAM directory (the engine, typed), and on an
//! imported XYZ file (through the `glasscam analyze` command).

use glasscam::analysis::bench::random_configs;
use glasscam::analysis::{
    analyze, dataset_configs, pearson, write_analysis, AnalyzeInput, CoarseGrain, GammaSet,
    GradcamIndex,
};
use glasscam::domain::Class;
use glasscam::io::dataset::{Dataset, Manifest, SnapshotMeta};
use glasscam::sim::system::{Species, SystemDef};

/// An ABM-like system of n particles (half A, half B).
fn small_abm(n: usize) -> SystemDef {
    let mut s = SystemDef::abm();
    s.n = Some(n);
    s.species = vec![
        Species {
            name: "A".into(),
            count: n / 2,
            mass: 1.0,
            diameter: Some(5.0 / 6.0),
        },
        Species {
            name: "B".into(),
            count: n - n / 2,
            mass: 1.0,
            diameter: Some(7.0 / 6.0),
        },
    ];
    s
}

#[test]
fn analyze_data_set_with_gradcam_writes_indicators_correlations_summary_and_figures() {
    let n = 300;
    let s = 6;
    let system = small_abm(n);
    let (l, positions) = random_configs(s, n, 21);
    let snapshots: Vec<SnapshotMeta> = (0..s)
        .map(|k| SnapshotMeta {
            index: k,
            replica: k / 2,
            class: if k % 2 == 0 {
                Class::Liquid
            } else {
                Class::Glass
            },
            label: (k % 2) as i64,
            step: 0,
            target_t: 1.0,
            kinetic_t: 1.0,
            pe_per_particle: 0.0,
        })
        .collect();
    let manifest = Manifest {
        format_version: 1,
        program_version: "test".into(),
        system: system.clone(),
        protocol: serde_json::Value::Null,
        seed: 0,
        n_particles: n,
        box_l: l,
        n_replicas: s / 2,
        replica_range: (0, s / 2),
        snapshot_temps: vec![2.0, 0.05],
        backend: "test".into(),
        failed: vec![],
        snapshots,
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    Dataset::write(&data, &manifest, &positions, &system.species_of_particles())
        .expect("write data set");
    // Gamma = the Voronoi-free stand-in x + y, covering snapshots 0..5 with 3 misclassified.
    let covered = vec![0usize, 1, 2, 3, 5];
    let mut gamma = Vec::new();
    for &k in &covered {
        for i in 0..n {
            gamma.push(positions[k * 2 * n + 2 * i] + positions[k * 2 * n + 2 * i + 1]);
        }
    }
    let gdir = tmp.path().join("gradcam");
    let ds = Dataset::load(&data).expect("load");
    let index = GradcamIndex {
        format_version: 1,
        snapshots: covered,
        misclassified: vec![3],
        target_class: "glass".into(),
        data: None,
        data_fingerprint: Some(ds.fingerprint.clone()),
    };
    GammaSet::write(&gdir, &index, n, &gamma).expect("write gradcam");
    let out = tmp.path().join("out");
    let g = GammaSet::load(&gdir).expect("gamma");
    let a = analyze(
        AnalyzeInput {
            system: &ds.manifest.system,
            source: "test data".into(),
            fingerprint: Some(ds.fingerprint.clone()),
            configs: dataset_configs(&ds),
            gamma: Some(&g),
            coarse: CoarseGrain::default(),
            skipped: Vec::new(),
        },
        glasscam::events::quiet(),
    )
    .expect("analyze");
    write_analysis(&out, &a, true, Some(5), Some(&gdir)).expect("write");
    let rows: Vec<(usize, Option<usize>, Class)> = a
        .rows
        .iter()
        .map(|r| (r.snapshot, r.replica, r.class))
        .collect();
    assert_eq!(
        rows,
        [
            (0, Some(0), Class::Liquid),
            (1, Some(0), Class::Glass),
            (2, Some(1), Class::Liquid),
            (5, Some(2), Class::Glass)
        ]
    );
    if let Ok(dir) = std::env::var("GLASSCAM_KEEP_ANALYSIS") {
        // For looking at the figures by eye.
        let _ = std::fs::create_dir_all(&dir);
        for e in std::fs::read_dir(&out).expect("out").flatten() {
            let _ = std::fs::copy(e.path(), std::path::Path::new(&dir).join(e.file_name()));
        }
    }
    // Snapshots 0, 1, 2, 5 analysed (4 not covered, 3 misclassified).
    let (shape, snaps) =
        glasscam::io::npy::read::<i64>(&out.join("snapshots.npy")).expect("snapshots");
    assert_eq!(shape, vec![4]);
    assert_eq!(snaps, vec![0, 1, 2, 5]);
    for name in ["upsilon", "theta", "upsilon_cg", "theta_cg", "gamma_cg"] {
        let (shape, v) =
            glasscam::io::npy::read::<f64>(&out.join(format!("{name}.npy"))).expect(name);
        assert_eq!(shape, vec![4, n as u64], "{name}");
        assert!(v.iter().all(|x| x.is_finite()), "{name}");
    }
    let (_, ups) = glasscam::io::npy::read::<f64>(&out.join("upsilon.npy")).expect("upsilon");
    let area: f64 = ups[..n].iter().sum();
    assert!((area - l * l).abs() < 1e-9 * l * l);
    let csv = std::fs::read_to_string(out.join("correlations.csv")).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("snapshot,replica,class,pearson_gamma_upsilon"));
    assert!(lines[4].starts_with("5,2,glass,"), "{}", lines[4]);
    let fields: Vec<&str> = lines[4].split(',').collect();
    assert_eq!(fields.len(), 9);
    // each coefficient is the one of the written fields (to the CSV's 6 decimals), and the returned rows agree
    let row = |name: &str| {
        let (_, v) = glasscam::io::npy::read::<f64>(&out.join(format!("{name}.npy"))).expect(name);
        v[3 * n..4 * n].to_vec()
    };
    let (gcg, ucg) = (row("gamma_cg"), row("upsilon_cg"));
    let omt: Vec<f64> = row("theta_cg").iter().map(|t| 1.0 - t).collect();
    let want = [
        pearson(&gcg, &ucg),
        pearson(&gcg, &omt),
        pearson(&omt, &ucg),
    ];
    assert_eq!(a.rows[3].pearson, want);
    for (f, w) in fields[3..6].iter().zip(want) {
        let v: f64 = f.parse().expect("coefficient");
        assert!((v - w).abs() <= 5e-7, "CSV {v} vs {w}");
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary");
    assert!(summary.contains("glass,gamma_upsilon,pearson,"));
    assert!(
        summary.starts_with("class,pair,method,mean,std,count,paper,sign_agrees\n"),
        "{summary}"
    );
    let row = summary
        .lines()
        .find(|l| l.starts_with("glass,gamma_upsilon,pearson,"))
        .expect("ABM glass C(Gamma,Upsilon) row");
    let cols: Vec<&str> = row.split(',').collect();
    assert_eq!(
        cols[6], "0.552",
        "paper value beside ABM glass C(Gamma,Upsilon): {row}"
    );
    let mean: f64 = cols[3].parse().expect("mean");
    assert_eq!(cols[7], (mean > 0.0).to_string(), "sign column: {row}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("json"))
            .expect("parse");
    assert_eq!(json.as_array().map(|a| a.len()), Some(2 * 2 * 3));
    for f in [
        "violin_pearson.png",
        "violin_pearson.svg",
        "violin_spearman.png",
        "violin_spearman.svg",
        "map_gamma_cg_5.png",
        "map_upsilon_cg_alpha_gamma_5.svg",
        "map_1mtheta_cg_5.png",
        "analysis.json",
    ] {
        let meta = std::fs::metadata(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(meta.len() > 500, "{f} is only {} bytes", meta.len());
    }
}

#[test]
fn analyze_xyz_input_skips_a_bad_frame_and_analyses_the_rest() {
    // Frame k starts at line 1 + k (n + 2); frame 1's atom 5 is on line 1 + 122 + 2 + 5 = 130.
    let n = 120;
    let (l, positions) = random_configs(3, n, 33);
    let mut text = String::new();
    for k in 0..3 {
        text.push_str(&format!(
            "{n}\nLattice=\"{l} 0 0 0 {l} 0 0 0 1\" Properties=species:S:1:pos:R:2\n"
        ));
        for i in 0..n {
            let (x, y) = (
                positions[k * 2 * n + 2 * i],
                positions[k * 2 * n + 2 * i + 1],
            );
            let x = if k == 1 && i == 5 { f64::NAN } else { x };
            text.push_str(&format!("{} {x} {y}\n", if i % 2 == 0 { "A" } else { "B" }));
        }
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("traj.xyz");
    std::fs::write(&file, text).expect("write");
    let out = tmp.path().join("out");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_glasscam"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .args(["analyze", "--format", "xyz", "--system", "abm", "--input"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run glasscam analyze");
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(st.status.success(), "{err}");
    assert!(
        err.contains("warning: skipping") && err.contains("x is NaN"),
        "{err}"
    );
    let (_, snaps) = glasscam::io::npy::read::<i64>(&out.join("snapshots.npy")).expect("snapshots");
    assert_eq!(snaps, vec![0, 2]);
    let record = std::fs::read_to_string(out.join("analysis.json")).expect("record");
    assert!(
        record.contains("traj.xyz: frame 1 (line 130): x is NaN"),
        "{record}"
    );
    assert!(out.join("map_upsilon_cg_alpha_1mtheta_0.png").exists());
}
