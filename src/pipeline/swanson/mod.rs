//! `glasscam reproduce swanson`: Swanson et al. (2020) from nothing. Two cooling ramps of the `kam` system (slow
//! and fast, with snapshots along them and their inherent structures), the six liquid-vs-glass tasks and a null
//! task, the CNN and the graph network trained on each, every model scored on every task's test split (the
//! train-on-i / test-on-j AUC matrices), the graph network's attention metrics beside the CNN's Grad-CAM on one
//! task, then `report.html` and `results.json`.
//!
//! Stages are recorded and skipped as in the main paper's pipeline (`StageRunner`): the units are the two ramps
//! (`slow`, `fast`), the tasks (`task1` .. `task6`, `null`, each with a `cnn` and an `mpnn` model directory) and
//! the pipeline's own stages (`swanson/tasks`, `swanson/evaluate`, `swanson/attention`).

pub mod landscape;
pub mod preset;
pub mod report;
pub mod score;
pub mod task;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::Compute;

use crate::analysis::plots::{field_map, FieldMap};
use crate::analysis::{coarse_grain, normalise, CoarseGrain, GammaSet};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::{write_json_atomic, Dataset};
use crate::learn::cnn::train::Evaluation;
use crate::learn::gnn::attention::{attention, AttentionInput};
use crate::pipeline::oyama::{ReproduceOutcome, StageRunner, StageSettings};
use crate::pipeline::stages::Stage;
use crate::pipeline::swanson::preset::{
    task_names, AucMatrix, EisPoint, EisStats, EqualEis, MapsRecord, Matrices, Ramp, RampSettings,
    SwansonPreset, TaskClass, TaskInput, TaskRow, TasksRecord, FAST, SLOW, UNIT,
};
use crate::pipeline::swanson::score::{
    auc_standard_error, score, test_snapshots, Arch, Inputs, Loaded,
};
use crate::pipeline::swanson::task::{RampData, SwansonTask};
use crate::sim::minimize::{MinimizeSettings, Selection};
use crate::sim::protocol::RunOptions;
use crate::sim::system::SystemDef;

/// Everything `reproduce swanson` needs besides the compute device and the caller's context.
#[derive(Clone, Debug)]
pub struct SwansonConfig {
    pub preset: SwansonPreset,
    /// Seed of the simulations and of the null task's labels (the networks' seeds are in their configs).
    pub seed: u64,
    pub out: PathBuf,
    pub force: bool,
}

/// The snapshots of a ramp to minimise: those of its first `inherent_replicas` replicas, or all.
fn selection(ramp: &RampSettings, data: &Dataset) -> Selection {
    match ramp.inherent_replicas {
        None => Selection::All,
        Some(r) => {
            let reps: BTreeSet<usize> = data.manifest.snapshots.iter().map(|m| m.replica).collect();
            let keep: BTreeSet<usize> = reps.into_iter().take(r).collect();
            Selection::List(
                data.manifest
                    .snapshots
                    .iter()
                    .filter(|m| keep.contains(&m.replica))
                    .map(|m| m.index)
                    .collect(),
            )
        }
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Runs `reproduce swanson`.
pub fn run(c: &SwansonConfig, compute: &Compute, ctx: Ctx) -> Result<ReproduceOutcome> {
    let p = &c.preset;
    let total = Instant::now();
    let mut runner = StageRunner::open(&c.out, c.force, compute)?;
    // the two ramps
    let mut ramp_fp = Vec::new();
    for which in Ramp::BOTH {
        let ramp = p.ramps.settings(which, p.name)?;
        let settings = StageSettings::Ramp {
            system: p.system().clone(),
            ramp: ramp.clone(),
            minimize: p.minimize.clone(),
            seed: c.seed,
        };
        ramp_fp.push(
            runner.stage(which.name(), Stage::Ramp, settings, &[], ctx, |dir| {
                simulate_ramp(p.system(), &ramp, &p.minimize, c.seed, dir, compute, ctx)
            })?,
        );
    }
    let slow_dir = runner.dir(SLOW, Stage::Ramp);
    let fast_dir = runner.dir(FAST, Stage::Ramp);
    let tasks_dir = runner.dir(UNIT, Stage::Tasks);
    let tasks_fp = runner.stage(
        UNIT,
        Stage::Tasks,
        StageSettings::Tasks {
            tasks: task_names(),
            seed: c.seed,
            input: p.input,
        },
        &[&ramp_fp[0], &ramp_fp[1]],
        ctx,
        |dir| build_tasks(&slow_dir, &fast_dir, p.input, c.seed, dir),
    )?;
    // one CNN and one graph network per task
    let names = task_names();
    let mut model_fps = Vec::new();
    for name in &names {
        let data_dir = tasks_dir.join(name);
        let fp = runner.stage(
            name,
            Stage::TrainCnn,
            StageSettings::TrainCnn {
                model: p.cnn.clone(),
            },
            &[&tasks_fp],
            ctx,
            |dir| {
                let data = Dataset::load(&data_dir)?;
                let t = crate::learn::cnn::train(&data, &p.cnn, compute, ctx)?;
                crate::learn::cnn::write_model(dir, &t)
            },
        )?;
        model_fps.push(fp);
        let fp = runner.stage(
            name,
            Stage::TrainMpnn,
            StageSettings::TrainMpnn {
                model: p.mpnn.clone(),
            },
            &[&tasks_fp],
            ctx,
            |dir| {
                let data = Dataset::load(&data_dir)?;
                let t = crate::learn::gnn::train::train(&data, &p.mpnn, ctx)?;
                crate::learn::gnn::train::write_model(dir, &t)
            },
        )?;
        model_fps.push(fp);
    }
    let mut parents: Vec<&str> = vec![&tasks_fp];
    parents.extend(model_fps.iter().map(|s| s.as_str()));
    let model_dirs = |arch: Arch| -> Vec<PathBuf> {
        names
            .iter()
            .map(|n| {
                c.out.join(n).join(match arch {
                    Arch::Cnn => Stage::TrainCnn.dir(),
                    Arch::Mpnn => Stage::TrainMpnn.dir(),
                })
            })
            .collect()
    };
    runner.stage(
        UNIT,
        Stage::Evaluate,
        StageSettings::Evaluate {
            tasks: names.clone(),
        },
        &parents,
        ctx,
        |dir| {
            let m = Matrices {
                tasks: names.clone(),
                cnn: cross_scores(
                    compute,
                    &model_dirs(Arch::Cnn),
                    &tasks_dir,
                    &names,
                    Arch::Cnn,
                    ctx,
                )?,
                mpnn: cross_scores(
                    compute,
                    &model_dirs(Arch::Mpnn),
                    &tasks_dir,
                    &names,
                    Arch::Mpnn,
                    ctx,
                )?,
            };
            std::fs::create_dir_all(dir).at(dir)?;
            write_json_atomic(&dir.join("matrices.json"), &m)
        },
    )?;
    let at = p.attention_task.name();
    let ai = names.iter().position(|n| *n == at).ok_or_else(|| {
        Error::Input(format!(
            "attention task {at} is not one of the tasks {names:?}"
        ))
    })?;
    runner.stage(
        UNIT,
        Stage::Attention,
        StageSettings::Attention {
            task: at.clone(),
            threshold: p.threshold,
        },
        &[&tasks_fp, &model_fps[2 * ai], &model_fps[2 * ai + 1]],
        ctx,
        |dir| {
            interpret(
                compute,
                &model_dirs(Arch::Cnn)[ai],
                &model_dirs(Arch::Mpnn)[ai],
                &tasks_dir.join(&at),
                p.threshold,
                dir,
                ctx,
            )
        },
    )?;
    let results = crate::pipeline::swanson::report::collect(&c.out, p, runner.times(), compute)?;
    let html = crate::pipeline::swanson::report::render(&c.out, &results)?;
    runner.finish(&results, html, total, ctx)
}

/// One ramp: the protocol's run (continuing an interrupted one), then FIRE on every snapshot into `dir/inherent`.
fn simulate_ramp(
    sys: &SystemDef,
    ramp: &RampSettings,
    settings: &MinimizeSettings,
    seed: u64,
    dir: &Path,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let mut o = RunOptions::new(dir, seed, compute.clone());
    o.resume = dir.join(".partial").exists();
    crate::sim::protocol::run(sys, &ramp.protocol, &o, &ctx)?;
    let data = Dataset::load(dir)?;
    let inh =
        crate::sim::minimize::minimize(&data, &selection(ramp, &data), settings, compute, &ctx)?;
    crate::sim::minimize::write_inherent(
        &dir.join(crate::pipeline::swanson::task::INHERENT_DIR),
        &inh,
        true,
    )
}

fn eis(s: &crate::pipeline::swanson::task::Stats) -> EisStats {
    EisStats {
        mean: s.mean,
        std: finite(s.std),
        n: s.n,
    }
}

/// Files the glass of a two-ramp task (task 6: slow liquid, fast glass) under the replica ids of the slow ramp.
/// Both ramps run with one seed, so the fast ramp's replica r starts from the same configuration as the slow
/// ramp's replica r; with one id per start every task splits the same replicas into training, validation and
/// test, and no model is scored on a start it was trained on when it meets another task's test split (the tasks
/// share snapshots: task 6's liquid is task 4's). Without this, `build_task` keeps the two ramps' ids apart and
/// task 6's split would cover twice as many ids.
fn align_replicas(t: &mut crate::pipeline::swanson::task::Task) {
    let off = t.info.classes[1].replica_offset;
    if off == 0 {
        return;
    }
    for m in &mut t.manifest.snapshots {
        if m.label == Class::Glass.label() {
            m.replica -= off;
        }
    }
    let mut order: Vec<usize> = (0..t.manifest.snapshots.len()).collect();
    // replica-major again; within a class the rows keep their order, so `source_indices` still match
    order.sort_by_key(|&i| {
        (
            t.manifest.snapshots[i].replica,
            t.manifest.snapshots[i].label,
        )
    });
    let n2 = t.positions.len() / t.manifest.snapshots.len().max(1);
    let mut positions = Vec::with_capacity(t.positions.len());
    let mut snapshots = Vec::with_capacity(order.len());
    for (row, &i) in order.iter().enumerate() {
        positions.extend_from_slice(&t.positions[i * n2..(i + 1) * n2]);
        let mut m = t.manifest.snapshots[i].clone();
        m.index = row;
        snapshots.push(m);
    }
    let reps: std::collections::BTreeSet<usize> = snapshots.iter().map(|m| m.replica).collect();
    t.positions = positions;
    t.manifest.snapshots = snapshots;
    t.manifest.n_replicas = reps.len();
    t.manifest.replica_range = (
        reps.first().copied().unwrap_or(0),
        reps.last().map_or(0, |r| r + 1),
    );
    t.info.replicas = reps.len();
    t.info.classes[1].replica_offset = 0;
}

/// Builds the seven tasks under `dir` and records them, with both ramps' E_IS(T) curves and figure.
fn build_tasks(
    slow_dir: &Path,
    fast_dir: &Path,
    input: TaskInput,
    seed: u64,
    dir: &Path,
) -> Result<()> {
    // a ramp's minima are a data set of their own (`DIR/inherent`) that carries each minimum's E_IS
    let source = |d: &Path| match input {
        TaskInput::Snapshots => d.to_path_buf(),
        TaskInput::Inherent => d.join(crate::pipeline::swanson::task::INHERENT_DIR),
    };
    let slow = RampData::load(&source(slow_dir))?;
    let fast = RampData::load(&source(fast_dir))?;
    let choice = crate::pipeline::swanson::task::equal_eis_point(&slow, &fast)?;
    let ramp_of = |source: &Path| {
        if source == fast.data.dir {
            FAST
        } else {
            SLOW
        }
    };
    let mut tasks = Vec::new();
    let mut infos = Vec::new();
    for which in SwansonTask::ALL {
        let mut t = crate::pipeline::swanson::task::swanson_task(which, &slow, &fast, seed)?;
        align_replicas(&mut t);
        crate::pipeline::swanson::task::write_task(&dir.join(which.name()), &t, false)?;
        infos.push(t.info.clone());
        let class = |r: &crate::pipeline::swanson::task::ClassRecord| TaskClass {
            ramp: ramp_of(&r.source).into(),
            t: r.target_t,
            e_is: r.e_is.as_ref().map(eis),
            snapshots: r.source_indices.len(),
        };
        tasks.push(TaskRow {
            name: which.name(),
            kind: match t.info.kind {
                crate::pipeline::swanson::task::TaskKind::Pair => "pair".into(),
                crate::pipeline::swanson::task::TaskKind::Null => "null".into(),
            },
            liquid: class(t.info.liquid()),
            glass: class(t.info.glass()),
            replicas: t.info.replicas,
            snapshots: t.manifest.snapshots.len(),
        });
    }
    let mut curves = BTreeMap::new();
    for (name, ramp) in [(SLOW, &slow), (FAST, &fast)] {
        curves.insert(
            name.to_string(),
            ramp.curve()?
                .iter()
                .map(|p| EisPoint {
                    k: p.k,
                    t: p.t,
                    e_is: eis(&p.e_is),
                })
                .collect(),
        );
    }
    // the landscape of `glasscam task --preset swanson`: both curves, the fast glass's level, each task's point
    let land = crate::pipeline::swanson::landscape::swanson_landscape(&slow, &fast, &infos)?;
    crate::pipeline::swanson::landscape::write_landscape(&dir.join("e_is"), &land)?;
    write_json_atomic(
        &dir.join("tasks.json"),
        &TasksRecord {
            input,
            tasks,
            equal_eis: EqualEis {
                k: choice.k,
                t: choice.t,
                slow_e_is: eis(&choice.slow_e_is),
                fast_glass_e_is: eis(&choice.fast_glass_e_is),
            },
            curves,
        },
    )
}

/// Every model of `arch` (one per task, in `names` order) scored on every task's test split. A task's inputs
/// (images or graphs) are built once per input setting and shared by the models that read them.
fn cross_scores(
    compute: &Compute,
    models: &[PathBuf],
    tasks_dir: &Path,
    names: &[String],
    arch: Arch,
    ctx: Ctx,
) -> Result<AucMatrix> {
    let loaded: Vec<Loaded> = models
        .iter()
        .map(|d| Loaded::load(arch, d))
        .collect::<Result<_>>()?;
    let n = names.len();
    let mut m = AucMatrix {
        auc: vec![vec![None; n]; n],
        auc_se: vec![vec![None; n]; n],
        accuracy: vec![vec![None; n]; n],
        n_test: vec![vec![[0, 0]; n]; n],
    };
    for (j, test) in names.iter().enumerate() {
        let data = Dataset::load(&tasks_dir.join(test))?;
        let mut cache: BTreeMap<(String, Vec<usize>), Inputs> = BTreeMap::new();
        for (i, model) in loaded.iter().enumerate() {
            ctx.cancel.check()?;
            let (fractions, seed) = model.split_rule();
            let snaps = test_snapshots(&data, fractions, seed, &model.seen_replicas())?;
            let idx: Vec<usize> = snaps.iter().map(|s| s.0).collect();
            let labels: Vec<u32> = snaps.iter().map(|s| s.1).collect();
            let n_glass = labels.iter().filter(|&&l| l == 1).count();
            m.n_test[i][j] = [labels.len() - n_glass, n_glass];
            if snaps.is_empty() {
                ctx.warn(&format!(
                    "{}: the {} model of {} has seen every test replica of {test}; cell left empty",
                    arch.name(),
                    arch.name(),
                    names[i]
                ));
                continue;
            }
            let key = (model.input_key(), idx.clone());
            if !cache.contains_key(&key) {
                let inputs = Inputs::build(compute, model, &models[i], &data, &idx)?;
                cache.insert(key.clone(), inputs);
            }
            let e: Evaluation = score(compute, model, &cache[&key], &labels)?;
            m.auc[i][j] = finite(e.roc_auc);
            m.auc_se[i][j] = finite(auc_standard_error(
                e.roc_auc,
                n_glass,
                labels.len() - n_glass,
            ));
            m.accuracy[i][j] = e.accuracy.get("overall").copied().and_then(finite);
        }
        ctx.note(&format!(
            "reproduce: {} models scored on {test}'s test split",
            arch.name()
        ));
    }
    Ok(m)
}

/// Grad-CAM of the CNN and the attention of the graph network on the task's test configurations, and the two
/// maps of one glass configuration both classified correctly, side by side.
fn interpret(
    compute: &Compute,
    cnn: &Path,
    mpnn: &Path,
    task: &Path,
    threshold: f64,
    out: &Path,
    ctx: Ctx,
) -> Result<()> {
    let data = Dataset::load(task)?;
    let gradcam_dir = out.join("gradcam");
    std::fs::create_dir_all(&gradcam_dir).at(&gradcam_dir)?;
    crate::pipeline::oyama::gradcam_both(compute, cnn, &data, &gradcam_dir)?;
    let report = attention(
        &AttentionInput {
            model: mpnn.to_path_buf(),
            data: task.to_path_buf(),
            all: false,
            threshold,
            gradcam: Some(gradcam_dir.clone()),
            out: out.to_path_buf(),
        },
        ctx,
    )?;
    let gamma = GammaSet::load(&gradcam_dir)?;
    let (_, fields) = crate::io::npy::read::<f64>(&out.join("attention_field.npy"))?;
    let n = data.n_particles();
    // the first glass configuration the CNN got right, else the first glass configuration (the record says so)
    let glass = |r: &&crate::learn::gnn::attention::ConfigRow| {
        r.class == Class::Glass.name() && gamma.row(r.snapshot).is_some()
    };
    let pick = report
        .configs
        .iter()
        .enumerate()
        .find(|(_, r)| glass(r) && !gamma.is_misclassified(r.snapshot))
        .or_else(|| report.configs.iter().enumerate().find(|(_, r)| glass(r)));
    let Some((row, cfg)) = pick else {
        return Err(Error::Input(format!(
            "{}: no glass configuration in the test split to map",
            task.display()
        )));
    };
    let k = cfg.snapshot;
    let pos = data.snapshot(k);
    let box_l = [data.box_l(); 2];
    let raw = gamma.row(k).unwrap_or(&[]);
    let gamma_cg = normalise(&coarse_grain(pos, box_l, CoarseGrain::default(), &[raw])[0]);
    let att = &fields[row * n..(row + 1) * n];
    let diameters = data.manifest.system.diameters();
    let d: Vec<f64> = data
        .species
        .iter()
        .map(|&s| diameters[s as usize])
        .collect();
    for (stem, title, colour) in [
        (
            "map_attention",
            format!("graph network: attention field, glass snapshot {k}"),
            att,
        ),
        (
            "map_gradcam",
            format!("CNN: Grad-CAM Gamma, glass snapshot {k}"),
            &gamma_cg[..],
        ),
    ] {
        field_map(
            &out.join(stem),
            &FieldMap {
                title: &title,
                box_l,
                positions: pos,
                diameters: &d,
                colour,
                alpha: None,
            },
        )?;
    }
    write_json_atomic(
        &out.join("maps.json"),
        &MapsRecord {
            task: data
                .dir
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default(),
            snapshot: k,
            cnn_correct: !gamma.is_misclassified(k),
            pearson: finite(crate::analysis::pearson(att, &gamma_cg)),
        },
    )
}
