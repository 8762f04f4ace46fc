//! `glasscam reproduce swanson` end to end at a tiny size (the 100-particle system of tests/data/tiny.toml, 40
//! replicas, a few epochs): on the quick preset's input (the ramps' inherent structures) every stage runs and is
//! recorded, the report and results.json hold both AUC matrices with the null column at chance within the AUCs'
//! own uncertainty, a rerun skips every finished stage, a changed graph-network setting redoes only the stages
//! that read it, and `--input snapshots` redoes the tasks and everything after them.

use crate::common;
use crate::common::CancelAt;

use std::path::Path;

use glasscam::domain::Preset;
use glasscam::events::{Cancel, Ctx, Event, Recorder};
use glasscam::kernels::Compute;
use glasscam::pipeline::runner::{StageStatus, StagesFile};
use glasscam::pipeline::swanson::preset::{SwansonPreset, SwansonRamps, TaskInput};
use glasscam::pipeline::swanson::SwansonStage as Stage;
use glasscam::pipeline::swanson::{run, SwansonConfig};
use glasscam::sim::system::SystemDef;

const REPLICAS: usize = 40;

fn tiny(out: &Path) -> SwansonConfig {
    let mut preset = SwansonPreset::new(Preset::Quick);
    // the tiny system from T = 2 at rates 2 and 200, snapshots at Swanson's points and two more on the slow
    // ramp, at T_L and T_G only on the fast one
    preset.ramps = SwansonRamps {
        system: SystemDef::from_toml(common::TINY_SYSTEM, "tiny.toml").unwrap(),
        replicas: REPLICAS,
        t_start: 2.0,
        equilibrate_time: 1.0,
        slow_rate: 2.0,
        fast_rate: 200.0,
        slow_points: vec![60, 180],
        fast_points: vec![],
        // the quick preset's: every replica minimised, as its tasks are built from the minima
        inherent_replicas: None,
    };
    preset.cnn.grid = 16;
    preset.cnn.width = 0.6;
    preset.cnn.epochs = 3;
    preset.mpnn.hidden = 8;
    preset.mpnn.epochs = 2;
    SwansonConfig {
        preset,
        seed: 3,
        out: out.to_path_buf(),
        force: false,
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read_stages(out: &Path) -> StagesFile<Stage> {
    serde_json::from_str(&std::fs::read_to_string(out.join("stages.json")).unwrap()).unwrap()
}

fn count(ran: &[(String, Stage)], stage: Stage) -> usize {
    ran.iter().filter(|(_, s)| *s == stage).count()
}

#[test]
fn the_swanson_pipeline_runs_reports_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let mut c = tiny(&out);
    // the tasks of the quick preset are built from the ramps' minima; the test runs that default path
    assert_eq!(c.preset.input, TaskInput::Inherent, "quick's input");
    let ctx = glasscam::events::quiet();
    let first = run(&c, &Compute::Cpu, ctx).unwrap();
    // 2 ramps and their minima, the tasks, 7 CNNs, 7 graph networks, the matrices, the attention
    assert_eq!(first.ran.len(), 4 + 1 + 7 + 7 + 1 + 1, "{:?}", first.ran);
    for (stage, n) in [
        (Stage::Ramp, 2),
        (Stage::Inherent, 2),
        (Stage::Tasks, 1),
        (Stage::TrainCnn, 7),
        (Stage::TrainMpnn, 7),
        (Stage::Evaluate, 1),
        (Stage::Attention, 1),
    ] {
        assert_eq!(count(&first.ran, stage), n, "{stage}");
    }
    let f = read_stages(&out);
    assert_eq!(f.records.len(), 21);
    assert!(f.records.values().all(|r| r.status == StageStatus::Done));
    assert!(f.records.contains_key("task6/train-mpnn") && f.records.contains_key("slow/ramp"));

    let r = json(&out.join("results.json"));
    assert_eq!(r["pipeline"], "swanson");
    assert_eq!(r["preset"], "quick");
    assert_eq!(r["input"], "inherent", "results.json: quick's input");
    let tasks = json(&out.join("swanson/tasks/tasks.json"));
    assert_eq!(tasks["input"], "inherent");
    let task = json(&out.join("swanson/tasks/task6/task.json"));
    let sources: Vec<String> = task["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["source"].as_str().unwrap().replace('\\', "/"))
        .collect();
    assert!(
        sources[0].ends_with("slow/data/inherent") && sources[1].ends_with("fast/data/inherent"),
        "{sources:?}"
    );
    let e6 = &r["tasks"][5];
    assert!(e6["liquid"]["e_is"]["mean"].as_f64().unwrap() < 0.0, "{e6}");
    let names: Vec<&str> = r["matrices"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["task1", "task2", "task3", "task4", "task5", "task6", "null"]
    );
    for arch in ["cnn", "mpnn"] {
        let m = &r["matrices"][arch];
        let auc = m["auc"].as_array().unwrap();
        assert_eq!(auc.len(), 7, "{arch}");
        for (i, row) in auc.iter().enumerate() {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), 7, "{arch} row {i}");
            // every cell scored (the tasks share one replica split, so no test split is emptied by the
            // exclusion of replicas a model has seen)
            for (j, v) in row.iter().enumerate() {
                let a = v
                    .as_f64()
                    .unwrap_or_else(|| panic!("{arch} [{i}][{j}] empty: {m}"));
                assert!((0.0..=1.0).contains(&a), "{arch} [{i}][{j}] = {a}");
                let n = &m["n_test"][i][j];
                assert!(
                    n[0].as_u64().unwrap() >= 1 && n[1].as_u64().unwrap() >= 1,
                    "{n}"
                );
            }
            // the null column: chance within three of the AUC's own standard errors (the seven models share one
            // small null test split and, at this size, barely differ, so their mean is no sharper than one cell)
            let (a, se) = (
                row[6].as_f64().unwrap(),
                m["auc_se"][i][6].as_f64().unwrap(),
            );
            assert!(
                se > 0.05,
                "a tiny test split cannot give a small error: {se}"
            );
            assert!(
                (a - 0.5).abs() <= 3.0 * se,
                "{arch} row {i}: null AUC {a} +- {se}"
            );
        }
    }
    assert_eq!(r["swanson_auc"][5][5], 0.985);
    assert_eq!(r["training"].as_array().unwrap().len(), 7);
    assert_eq!(r["tasks"].as_array().unwrap().len(), 7);
    assert_eq!(r["tasks"][5]["glass"]["ramp"], "fast");
    assert_eq!(r["tasks"][0]["liquid"]["ramp"], "slow");
    assert!(r["equal_eis"]["t"].as_f64().unwrap() > 0.05);
    assert_eq!(r["stages"].as_array().unwrap().len(), 21);
    assert!(r["attention"]["metrics"].as_array().unwrap().len() >= 6);
    assert!(r["hardware"]["threads"].as_u64().unwrap() >= 1);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for needle in [
        "CNN (this run)",
        "graph network (this run)",
        "Swanson et al. (their code)",
        "E_IS(T)",
        "Attention metrics",
        "Grad-CAM and attention on the same glass configuration",
        "<td>task6</td>",
        "Stages",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    // three heatmaps, figures embedded (E_IS, two maps, metric violins), none missing
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.matches("src=\"data:image/png;base64,").count() >= 4);
    assert!(!html.contains("missing)"), "a figure is missing");
    // the matrix table shows results.json's numbers
    let a00 = r["matrices"]["cnn"]["auc"][0][0].as_f64().unwrap();
    assert!(html.contains(&format!("<tr><td>task1</td><td>{a00:.3}</td>")));

    // a rerun skips every finished stage
    let second = run(&c, &Compute::Cpu, ctx).unwrap();
    assert!(second.ran.is_empty(), "{:?}", second.ran);
    assert_eq!(second.skipped.len(), 21);

    // a graph-network setting retrains the graph networks and redoes what reads them, nothing else
    c.preset.mpnn.epochs = 1;
    let third = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(count(&third.ran, Stage::TrainMpnn), 7);
    assert_eq!(count(&third.ran, Stage::Evaluate), 1);
    assert_eq!(count(&third.ran, Stage::Attention), 1);
    assert_eq!(third.ran.len(), 9, "{:?}", third.ran);
    assert_eq!(third.skipped.len(), 12);
    assert_eq!(json(&out.join("task2/mpnn/metrics.json"))["epochs"], 1);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("inherent\nstructures (FIRE minima"),
        "the report does not say what the networks saw"
    );

    // `--input snapshots`: the ramps kept, the tasks rebuilt from the snapshots, and what reads them redone
    c.preset.input = TaskInput::Snapshots;
    let fourth = run(&c, &Compute::Cpu, ctx).unwrap();
    assert_eq!(count(&fourth.ran, Stage::Ramp), 0, "{:?}", fourth.ran);
    assert_eq!(count(&fourth.ran, Stage::Inherent), 0, "{:?}", fourth.ran);
    assert_eq!(fourth.ran.len(), 17, "{:?}", fourth.ran);
    let r = json(&out.join("results.json"));
    assert_eq!(r["input"], "snapshots");
    let task = json(&out.join("swanson/tasks/task1/task.json"));
    let source = task["classes"][0]["source"]
        .as_str()
        .unwrap()
        .replace('\\', "/");
    assert!(source.ends_with("slow/data"), "{source}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("snapshots (Swanson's)"), "the report's input");
}

/// Every file under `dir` (but the lock, which holds a PID), by relative path, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if !p.ends_with(glasscam::io::outdir::LOCK_FILE) {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                v.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    v.sort();
    v
}

/// Finding 7: interrupted during the slow ramp's minimisation, the rerun skips the finished ramp (its files
/// untouched, the log says so) and minimises again; both ramps and their minima end as an uninterrupted run's
/// bytes. Each run stops once both ramps are minimised.
#[test]
fn an_interrupted_minimisation_keeps_the_finished_ramp() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let mut c = tiny(&out);
    c.preset.ramps.replicas = 6;
    let run_until = |at: fn(&Event<'_>) -> bool| {
        let stop = CancelAt {
            cancel: Cancel::new(),
            at,
            lines: Recorder::default(),
        };
        let r = run(&c, &Compute::Cpu, Ctx::new(&stop, &stop.cancel));
        assert!(matches!(r, Err(glasscam::Error::Interrupted)), "{r:?}");
        stop.lines.lines().join("\n")
    };
    let minimised = |e: &Event<'_>| matches!(e, Event::Note(s) if s.starts_with("reproduce: fast/inherent done"));
    run_until(minimised);
    let reference = dir.path().join("reference");
    // the same path for both runs: inherent.json names its source data set
    std::fs::rename(&out, &reference).unwrap();

    run_until(|e| matches!(e, Event::Begin { what, .. } if *what == "snapshots minimised"));
    let f = read_stages(&out);
    assert_eq!(f.records["slow/ramp"].status, StageStatus::Done);
    assert_eq!(f.records["slow/inherent"].status, StageStatus::Started);
    assert!(!out.join("slow/data/inherent/inherent.json").exists());
    let md = ["manifest.json", "positions.npy"].map(|n| out.join("slow/data").join(n));
    let stamp = |p: &Path| {
        (
            std::fs::metadata(p).unwrap().modified().unwrap(),
            std::fs::read(p).unwrap(),
        )
    };
    let before: Vec<_> = md.iter().map(|p| stamp(p)).collect();

    let log = run_until(minimised);
    assert!(
        log.contains("reproduce: slow/ramp: done before, skipped"),
        "{log}"
    );
    assert!(
        !log.contains("reproduce: slow/ramp ..."),
        "the finished ramp ran again: {log}"
    );
    assert!(log.contains("reproduce: slow/inherent ..."), "{log}");
    let after: Vec<_> = md.iter().map(|p| stamp(p)).collect();
    assert!(before == after, "the finished ramp's files were rewritten");
    for ramp in ["slow/data", "fast/data"] {
        let (want, have) = (tree(&reference.join(ramp)), tree(&out.join(ramp)));
        assert_eq!(
            want.iter().map(|f| &f.0).collect::<Vec<_>>(),
            have.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        assert!(want == have, "{ramp} differs from the uninterrupted run's");
    }
}

#[test]
fn the_command_line_keeps_each_pipeline_to_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_glasscam"))
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .args(args)
            .arg("--out")
            .arg(dir.path().join("x"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = run(&["reproduce", "swanson", "--xi", "2"]);
    assert!(e.contains("--xi belongs to `reproduce oyama`"), "{e}");
    let e = run(&["reproduce", "swanson", "--system", "abm"]);
    assert!(e.contains("--system belongs to `reproduce oyama`"), "{e}");
    let e = run(&["reproduce", "oyama", "--input", "inherent"]);
    assert!(e.contains("--input belongs to `reproduce swanson`"), "{e}");
    // today's spelling (no pipeline) is the main paper's
    let e = run(&["reproduce", "--preset", "quick", "--mpnn-epochs", "3"]);
    assert!(
        e.contains("--mpnn-epochs belongs to `reproduce swanson`"),
        "{e}"
    );
    let e = run(&["reproduce", "glassbench", "--xi", "2"]);
    assert!(e.contains("--xi belongs to another pipeline"), "{e}");
    let e = run(&["reproduce", "nobody"]);
    assert!(
        e.contains("oyama") && e.contains("swanson") && e.contains("glassbench"),
        "{e}"
    );
    assert!(
        !dir.path().join("x").exists(),
        "nothing is written before the flags are checked"
    );
}

/// `reproduce swanson` on the GPU (the software adapter in CI): both networks train there, and the stage records,
/// `results.json` and each model's `metrics.json` say so; the steps that stay on the CPU say that.
#[test]
fn on_the_gpu_both_networks_train_there_and_the_records_say_so() {
    let Some(ctx) = glasscam::kernels::gpu::test_context(
        "on_the_gpu_both_networks_train_there_and_the_records_say_so",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sw");
    let c = tiny(&out);
    let gpu = Compute::Gpu(ctx);
    run(&c, &gpu, glasscam::events::quiet()).unwrap();
    let f = read_stages(&out);
    let gpu_name = gpu.describe();
    for (key, r) in &f.records {
        let want = match r.stage {
            Stage::Ramp | Stage::Inherent | Stage::TrainCnn => gpu_name.clone(),
            Stage::TrainMpnn => format!("{gpu_name} (f32)"),
            Stage::Tasks => Compute::Cpu.describe(),
            Stage::Evaluate | Stage::Attention => format!(
                "{gpu_name} (CNN); {} (graph network)",
                Compute::Cpu.describe()
            ),
        };
        eprintln!("stages.json {key}: {}", r.backend);
        assert_eq!(r.backend, want, "{key}");
    }
    let results = json(&out.join("results.json"));
    let trained_on: Vec<&str> = results["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stage"] == "train-cnn" || s["stage"] == "train-mpnn")
        .map(|s| s["backend"].as_str().unwrap())
        .collect();
    assert_eq!(trained_on.len(), 14);
    assert!(
        trained_on.iter().all(|b| b.starts_with("gpu:")),
        "{trained_on:?}"
    );
    for net in ["cnn", "mpnn"] {
        let m = json(&out.join("task1").join(net).join("metrics.json"));
        let backend = m["backend"].as_str().unwrap();
        assert!(backend.starts_with("gpu:"), "{net}: {backend}");
    }
}
