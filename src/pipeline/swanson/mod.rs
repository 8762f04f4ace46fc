//! `glasscam reproduce swanson`: Swanson et al. (2020) from nothing. Two cooling ramps of the `kam` system (slow
//! and fast, with snapshots along them and their inherent structures), the six liquid-vs-glass tasks and a null
//! task, the CNN and the graph network trained on each, every model scored on every task's test split (the
//! train-on-i / test-on-j AUC matrices), the graph network's attention metrics beside the CNN's Grad-CAM on one
//! task, then `report.html` and `results.json`.
//!
//! Stages are recorded and skipped through the shared `StageRunner`: the units are the two ramps (`slow`,
//! `fast`, each with a `ramp` and an `inherent` stage), the tasks (`task1` .. `task6`, `null`, each with a `cnn` and an `mpnn` model directory) and the
//! pipeline's own stages (`swanson/tasks`, `swanson/evaluate`, `swanson/attention`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::Compute;

use crate::analysis::plots::{field_map, particle_diameters, FieldMap};
use crate::analysis::{coarse_grain, normalise, pearson, CoarseGrain, GammaSet};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::{finite, write_json_atomic};
use crate::learn::cnn::gradcam::gradcam_both;
use crate::learn::cnn::{Cnn, ModelConfig};
use crate::learn::gnn::attention::{attention, AttentionInput, ConfigRow};
use crate::learn::gnn::Mpnn;
use crate::learn::model::{write_model, Model};
use crate::pipeline::runner::{where_ran, Call, Outcome, Stage, StageRunner};
use crate::sim::minimize::Selection;
use crate::sim::protocol::RunOptions;

pub mod landscape;
pub mod preset;
pub mod records;
pub mod report;
pub mod score;
pub mod stages;
pub mod task;
pub mod tasks;

use preset::{Ramp, SwansonPreset, SwansonTask, FAST, SLOW, UNIT};
use records::{MapsRecord, Matrices};
pub use stages::{SwansonSettings, SwansonStage};

/// Everything `reproduce swanson` needs besides the compute device and the caller's context.
#[derive(Clone, Debug)]
pub struct SwansonConfig {
    pub preset: SwansonPreset,
    /// Seed of the simulations and of the null task's labels (the networks' seeds are in their configs).
    pub seed: u64,
    pub out: PathBuf,
    pub force: bool,
}

/// Images per Grad-CAM batch of the attention stage.
const GRADCAM_BATCH: usize = 32;

/// What a `reproduce swanson` run did.
pub type SwansonOutcome = Outcome<SwansonStage>;

/// The snapshots of a ramp to minimise: those of its first `replicas` replicas, or all.
fn selection(replicas: Option<usize>, data: &Dataset) -> Selection {
    match replicas {
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

/// The fingerprints the later stages read: the tasks stage's, and per task the CNN's and the graph network's.
struct Trained {
    tasks: String,
    models: Vec<[String; 2]>,
}

/// Runs `reproduce swanson`.
pub fn run(c: &SwansonConfig, compute: &Compute, ctx: Ctx) -> Result<SwansonOutcome> {
    let total = Instant::now();
    let mut runner = StageRunner::open(&c.out, c.force)?;
    let ramps = ramps(c, &mut runner, compute, ctx)?;
    let trained = train(c, &mut runner, &ramps, compute, ctx)?;
    evaluate(c, &mut runner, &trained, compute, ctx)?;
    interpret_stage(c, &mut runner, &trained, compute, ctx)?;
    let p = &c.preset;
    let results = report::collect(&c.out, p, runner.times(), compute)?;
    let html = report::render(&c.out, &results)?;
    runner.finish(&results, html, total, ctx)
}

/// The two ramps, each its MD and then its minimisation (two stages: an interrupted minimisation keeps the
/// finished ramp); returns their fingerprints (slow ramp, slow minima, fast ramp, fast minima).
fn ramps(
    c: &SwansonConfig,
    runner: &mut StageRunner<SwansonStage>,
    compute: &Compute,
    ctx: Ctx,
) -> Result<Vec<String>> {
    let p = &c.preset;
    let mut fps = Vec::new();
    for which in Ramp::BOTH {
        let ramp = p.ramps.settings(which, p.name)?;
        let call = Call {
            unit: which.name(),
            stage: SwansonStage::Ramp,
            settings: SwansonSettings::Ramp {
                system: Box::new(p.system().clone()),
                ramp: ramp.clone(),
                seed: c.seed,
            },
            parents: &[],
            backend: compute.describe(),
        };
        let md = runner.stage(call, ctx, |dir| {
            let mut o = RunOptions::new(dir, c.seed, compute.clone());
            // only an interrupted simulation's checkpoint is continued: a finished ramp is skipped by its record
            o.resume = dir.join(".partial").exists();
            crate::sim::protocol::run(p.system(), &ramp.protocol, &o, &ctx).map(|_| ())
        })?;
        let data_dir = runner.dir(which.name(), SwansonStage::Ramp);
        let replicas = p.ramps.inherent_replicas;
        let call = Call {
            unit: which.name(),
            stage: SwansonStage::Inherent,
            settings: SwansonSettings::Inherent {
                minimize: p.minimize.clone(),
                replicas,
            },
            parents: &[&md],
            backend: compute.describe(),
        };
        let minima = runner.stage(call, ctx, |dir| {
            let data = Dataset::load(&data_dir)?;
            let inh = crate::sim::minimize::minimize(
                &data,
                &selection(replicas, &data),
                &p.minimize,
                compute,
                &ctx,
            )?;
            crate::sim::minimize::write_inherent(dir, &inh, true)
        })?;
        fps.extend([md, minima]);
    }
    Ok(fps)
}

/// The tasks from both ramps, then one CNN and one graph network per task, both on `compute`.
fn train(
    c: &SwansonConfig,
    runner: &mut StageRunner<SwansonStage>,
    ramps: &[String],
    compute: &Compute,
    ctx: Ctx,
) -> Result<Trained> {
    let p = &c.preset;
    let slow_dir = runner.dir(SLOW, SwansonStage::Ramp);
    let fast_dir = runner.dir(FAST, SwansonStage::Ramp);
    let parents: Vec<&str> = ramps.iter().map(String::as_str).collect();
    let call = Call {
        unit: UNIT,
        stage: SwansonStage::Tasks,
        settings: SwansonSettings::Tasks {
            tasks: SwansonTask::ALL.to_vec(),
            seed: c.seed,
            input: p.input,
        },
        parents: &parents,
        backend: Compute::Cpu.describe(),
    };
    let tasks = runner.stage(call, ctx, |dir| {
        tasks::build_tasks(&slow_dir, &fast_dir, p.input, c.seed, dir)
    })?;
    let tasks_dir = runner.dir(UNIT, SwansonStage::Tasks);
    let mut models = Vec::new();
    for task in SwansonTask::ALL {
        let data_dir = tasks_dir.join(task.name());
        let cnn = train_one::<Cnn>(
            runner,
            task,
            SwansonStage::TrainCnn,
            SwansonSettings::TrainCnn {
                model: p.cnn.clone(),
            },
            &p.cnn,
            (&tasks, &data_dir),
            compute,
            ctx,
        )?;
        let mpnn = train_one::<Mpnn>(
            runner,
            task,
            SwansonStage::TrainMpnn,
            SwansonSettings::TrainMpnn {
                model: p.mpnn.clone(),
            },
            &p.mpnn,
            (&tasks, &data_dir),
            compute,
            ctx,
        )?;
        models.push([cnn, mpnn]);
    }
    Ok(Trained { tasks, models })
}

/// One network of family `M` trained on one task's data set.
#[allow(clippy::too_many_arguments)]
fn train_one<M: Model>(
    runner: &mut StageRunner<SwansonStage>,
    task: SwansonTask,
    stage: SwansonStage,
    settings: SwansonSettings,
    cfg: &M::Config,
    (tasks_fp, data_dir): (&str, &Path),
    compute: &Compute,
    ctx: Ctx,
) -> Result<String> {
    let call = Call {
        unit: &task.name(),
        stage,
        settings,
        parents: &[tasks_fp],
        backend: M::backend(cfg, compute),
    };
    runner.stage(call, ctx, |dir| {
        let data = Dataset::load(data_dir)?;
        write_model(dir, &M::train(&data, cfg, compute, ctx)?)
    })
}

/// The model directories of one family (`stage`), one per task in `SwansonTask::ALL` order.
fn model_dirs(out: &Path, stage: SwansonStage) -> Vec<PathBuf> {
    SwansonTask::ALL
        .iter()
        .map(|t| out.join(t.name()).join(stage.dir()))
        .collect()
}

/// Where the cross-task scoring and the attention stage run: the CNN on `compute`, the graph network's scores
/// and attention on its CPU twin.
fn scored_on(cnn: &ModelConfig, compute: &Compute) -> String {
    where_ran(&[
        ("CNN", Cnn::backend(cnn, compute)),
        ("graph network", Compute::Cpu.describe()),
    ])
}

/// Every model scored on every task's test split: the two AUC matrices.
fn evaluate(
    c: &SwansonConfig,
    runner: &mut StageRunner<SwansonStage>,
    trained: &Trained,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let tasks_dir = runner.dir(UNIT, SwansonStage::Tasks);
    let mut parents: Vec<&str> = vec![&trained.tasks];
    parents.extend(trained.models.iter().flatten().map(|s| s.as_str()));
    let call = Call {
        unit: UNIT,
        stage: SwansonStage::Evaluate,
        settings: SwansonSettings::Evaluate {
            tasks: SwansonTask::ALL.to_vec(),
        },
        parents: &parents,
        backend: scored_on(&c.preset.cnn, compute),
    };
    let names: Vec<String> = SwansonTask::ALL.iter().map(|t| t.name()).collect();
    runner.stage(call, ctx, |dir| {
        let m = Matrices {
            tasks: SwansonTask::ALL.to_vec(),
            cnn: score::cross_scores::<Cnn>(
                compute,
                &model_dirs(&c.out, SwansonStage::TrainCnn),
                &tasks_dir,
                &names,
                ctx,
            )?,
            mpnn: score::cross_scores::<Mpnn>(
                compute,
                &model_dirs(&c.out, SwansonStage::TrainMpnn),
                &tasks_dir,
                &names,
                ctx,
            )?,
        };
        std::fs::create_dir_all(dir).at(dir)?;
        write_json_atomic(&dir.join("matrices.json"), &m)
    })?;
    Ok(())
}

/// Grad-CAM and attention on the preset's attention task.
fn interpret_stage(
    c: &SwansonConfig,
    runner: &mut StageRunner<SwansonStage>,
    trained: &Trained,
    compute: &Compute,
    ctx: Ctx,
) -> Result<()> {
    let p = &c.preset;
    let at = p.attention_task;
    let ai = SwansonTask::ALL
        .iter()
        .position(|t| *t == at)
        .ok_or_else(|| {
            Error::Input(format!("attention task {at} is not one of Swanson's tasks"))
        })?;
    let [cnn_fp, mpnn_fp] = &trained.models[ai];
    let call = Call {
        unit: UNIT,
        stage: SwansonStage::Attention,
        settings: SwansonSettings::Attention {
            task: at,
            threshold: p.threshold,
        },
        parents: &[&trained.tasks, cnn_fp, mpnn_fp],
        backend: scored_on(&c.preset.cnn, compute),
    };
    let task_dir = runner.dir(UNIT, SwansonStage::Tasks).join(at.name());
    let cnn = c.out.join(at.name()).join(SwansonStage::TrainCnn.dir());
    let mpnn = c.out.join(at.name()).join(SwansonStage::TrainMpnn.dir());
    runner.stage(call, ctx, |dir| {
        interpret(
            compute,
            [&cnn, &mpnn],
            (at, &task_dir),
            p.threshold,
            dir,
            ctx,
        )
    })?;
    Ok(())
}

/// Grad-CAM of the CNN and the attention of the graph network on the task's test configurations, and the two
/// maps of one glass configuration both classified correctly, side by side.
fn interpret(
    compute: &Compute,
    models: [&Path; 2],
    (id, task): (SwansonTask, &Path),
    threshold: f64,
    out: &Path,
    ctx: Ctx,
) -> Result<()> {
    let [cnn, mpnn] = models;
    let data = Dataset::load(task)?;
    let gradcam_dir = out.join("gradcam");
    std::fs::create_dir_all(&gradcam_dir).at(&gradcam_dir)?;
    gradcam_both(compute, cnn, &data, GRADCAM_BATCH, &gradcam_dir)?;
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
    let glass = |r: &&ConfigRow| r.class == Class::Glass && gamma.row(r.snapshot).is_some();
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
    let d = particle_diameters(&data.species, &diameters);
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
            task: id,
            snapshot: k,
            cnn_correct: !gamma.is_misclassified(k),
            pearson: finite(pearson(att, &gamma_cg)),
        },
    )
}
