//! `glasscam reproduce glassbench` end to end at a tiny size (the 129-particle ka2d of tests/data/ka2d-tiny.toml, 8
//! starts at T = 0.8, 4 runs to one tau_alpha, a network of width 8 for 2 epochs): every stage runs and writes its
//! outputs, the targets carry the train/test subset that the network's and the baselines' test split follow, the
//! report and results.json hold the scores, a rerun skips every stage, and a preset too small to split is refused
//! before anything runs.

use std::path::Path;

use glasscam::domain::Preset;
use glasscam::io::targets::{Subset, TargetsMeta};
use glasscam::kernels::Compute;
use glasscam::pipeline::glassbench::preset::GlassbenchPreset;
use glasscam::pipeline::glassbench::{run, GlassbenchConfig, GlassbenchStage as Stage};
use glasscam::pipeline::runner::Stage as _;

fn tiny(out: &Path) -> GlassbenchConfig {
    let mut p = GlassbenchPreset::new(Preset::Quick).unwrap();
    p.name = "test".into();
    p.system = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ka2d-tiny.toml").into();
    p.temperature = 0.8;
    p.starts.replicas = 8;
    p.starts.relax_steps = 8000;
    p.starts.samples = 20;
    p.starts.min_decays = 2.0;
    p.targets.runs = 4;
    p.targets.times_tau = vec![0.1, 0.3, 1.0];
    p.model.hidden = 8;
    p.model.steps = 1;
    p.model.epochs = 2;
    p.model.split = [0.6, 0.4, 0.0];
    GlassbenchConfig {
        preset: p,
        out: out.to_path_buf(),
        force: false,
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_glassbench_pipeline_runs_scores_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gb");
    let c = tiny(&out);
    let ctx = glasscam::events::quiet();
    let first = run(&c, &Compute::Cpu, ctx).unwrap();
    let ran: Vec<Stage> = first.ran.iter().map(|r| r.1).collect();
    assert_eq!(
        ran,
        [
            Stage::Starts,
            Stage::TauAlpha,
            Stage::Targets,
            Stage::Inherent,
            Stage::Baselines,
            Stage::Network,
            Stage::Score
        ]
    );
    let unit = out.join("ka2d-tiny");
    for stage in ran {
        for f in stage.outputs() {
            assert!(unit.join(stage.dir()).join(f).exists(), "{stage}: {f}");
        }
    }
    // the subset of targets.json is the network's test split, and the score is on exactly those configurations
    let meta: TargetsMeta =
        serde_json::from_value(json(&unit.join(Stage::Targets.dir()).join("targets.json")))
            .unwrap();
    let subset = meta.subset.expect("the pipeline writes a subset");
    let test: Vec<usize> = (0..subset.len())
        .filter(|&k| subset[k] == Subset::Test)
        .collect();
    assert!(!test.is_empty() && test.len() < subset.len());
    assert_eq!(meta.times.len(), 3);
    assert!(meta.tau_alpha.is_some_and(|t| t > 0.0));
    let score = json(&unit.join(Stage::Score.dir()).join("score.json"));
    let scored: Vec<usize> = serde_json::from_value(score["test_snapshots"].clone()).unwrap();
    assert_eq!(scored, test);
    assert_eq!(score["network"]["a"].as_array().unwrap().len(), 3);
    for fig in [
        "pearson.png",
        "pearson.svg",
        "pearson_glassbench.png",
        "map.png",
        "map.svg",
    ] {
        assert!(unit.join(Stage::Score.dir()).join(fig).exists(), "{fig}");
    }
    // the baselines scored the same test configurations, one row per descriptor and length and one for ridge
    let base = json(&unit.join(Stage::Baselines.dir()).join("baselines.json"));
    assert_eq!(base["sizes"]["test"].as_u64(), Some(test.len() as u64));
    assert!(base["rows"].as_array().unwrap().len() > 2);
    let results = json(&first.results);
    assert_eq!(results["same_test_configurations"], true);
    assert_eq!(results["baselines"], base["rows"]);
    assert_eq!(results["pipeline"], "glassbench");
    assert_eq!(results["sizes"]["test"].as_u64(), Some(test.len() as u64));
    assert_eq!(results["sizes"]["particles"].as_u64(), Some(129));
    assert!(results["stages"].as_array().unwrap().len() >= 6);
    // the quick model takes the inherent structures: the baselines then have the distance to them too
    assert_eq!(
        results["network_model"],
        "width 8, steps 1, cutoff 2; inputs: the configuration and its inherent structure, 24 descriptors; loss on \
         every species"
    );
    let names: Vec<&str> = base["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"is_distance_cg2"), "{names:?}");
    let net = json(&unit.join(Stage::Network.dir()).join("config.json"));
    assert!(net["inherent_energy"][1].as_f64().unwrap() > 0.0);
    let html = std::fs::read_to_string(&first.report).unwrap();
    for want in [
        "Pearson per time point",
        "GlassBench",
        "T = 0.3",
        "noise ceiling",
    ] {
        assert!(html.contains(want), "report lacks {want}");
    }
    // a rerun is complete: every stage skipped, nothing run
    let again = run(&c, &Compute::Cpu, ctx).unwrap();
    assert!(again.ran.is_empty(), "{:?}", again.ran);
    assert_eq!(again.skipped.len(), first.ran.len());
}

#[test]
fn a_preset_too_small_to_split_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gb");
    let mut c = tiny(&out);
    c.preset.starts.replicas = 2;
    let e = run(&c, &Compute::Cpu, glasscam::events::quiet())
        .expect_err("two starts")
        .to_string();
    assert!(e.contains("`starts.replicas` 2"), "{e}");
    assert!(!out.join("stages.json").exists());
}
