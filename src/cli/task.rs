//! `glasscam task`: arguments, console lines, and the calls to the task library (one task from two sources, or a
//! preset's tasks plus the E_IS(T) landscape of its ramps).

use std::path::PathBuf;

use clap::Args;
use glasscam::pipeline::swanson::preset::{SwansonTask, TaskPreset};
use glasscam::pipeline::swanson::task::{self, RampData, Source};
use glasscam::pipeline::swanson::tasks::build_swanson_tasks;
use glasscam::Error;

/// `glasscam task`
#[derive(Args, Debug, Clone)]
pub struct TaskArgs {
    /// The liquid class: DIR (its liquid snapshots), DIR:T=x (the ramp point nearest T = x) or DIR:k=i (the i-th
    /// ramp point from the top).
    #[arg(long, conflicts_with = "preset")]
    liquid: Option<String>,
    /// The glass class: DIR (its glass snapshots), DIR:T=y or DIR:k=j.
    #[arg(long, conflicts_with = "preset")]
    glass: Option<String>,
    /// Task name recorded in task.json [default: the --out directory's name].
    #[arg(long, conflicts_with = "preset")]
    name: Option<String>,
    /// A named set of tasks: `swanson` (task1 .. task6 and null from --slow and --fast, plus landscape.png/svg/json).
    #[arg(long)]
    preset: Option<String>,
    /// The slow ramp's data set, minimised (`simulate --ramp-snapshots K --inherent`).
    #[arg(long, requires = "preset")]
    slow: Option<PathBuf>,
    /// The fast ramp's data set, minimised.
    #[arg(long, requires = "preset")]
    fast: Option<PathBuf>,
    /// Only these tasks of the preset (comma-separated, e.g. task6,null).
    #[arg(long, value_delimiter = ',', requires = "preset")]
    only: Vec<String>,
    /// Seed of the null task's random labels.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Replace an existing task in --out.
    #[arg(long)]
    force: bool,
    /// The task directory (a data set `train` reads), or with --preset the directory of the preset's tasks.
    #[arg(long)]
    out: PathBuf,
}

pub fn task(a: &TaskArgs) -> glasscam::Result<()> {
    match &a.preset {
        Some(p) => preset(a, p.parse()?),
        None => pair(a),
    }
}

fn pair(a: &TaskArgs) -> glasscam::Result<()> {
    let (Some(l), Some(g)) = (&a.liquid, &a.glass) else {
        return Err(Error::Input(
            "task: give both classes, --liquid DIR[:T=x|:k=i] and --glass DIR[:T=y|:k=j], or --preset swanson \
             --slow DIR --fast DIR"
                .into(),
        ));
    };
    let name = a.name.clone().unwrap_or_else(|| {
        a.out
            .file_name()
            .map_or_else(|| "task".into(), |n| n.to_string_lossy().into_owned())
    });
    glasscam::io::outdir::no_overwrite(&a.out.join(task::TASK_FILE), a.force, "a task")?;
    let t = task::task_from_sources(&name, &Source::parse(l)?, &Source::parse(g)?)?;
    task::write_task(&a.out, &t, a.force)?;
    println!("{}", describe(&t.info, t.manifest.snapshots.len()));
    println!("wrote {}", a.out.display());
    Ok(())
}

fn preset(a: &TaskArgs, p: TaskPreset) -> glasscam::Result<()> {
    match p {
        TaskPreset::Swanson => {}
    }
    let (Some(slow), Some(fast)) = (&a.slow, &a.fast) else {
        return Err(Error::Input(
            "--preset swanson: give the two minimised ramps, --slow DIR and --fast DIR".into(),
        ));
    };
    let which: Vec<SwansonTask> = if a.only.is_empty() {
        SwansonTask::ALL.to_vec()
    } else {
        a.only
            .iter()
            .map(|s| s.trim().parse())
            .collect::<glasscam::Result<_>>()?
    };
    let slow = RampData::load(slow)?;
    let fast = RampData::load(fast)?;
    let built = build_swanson_tasks(&slow, &fast, &which, &a.out, a.seed, a.force)?;
    for b in &built {
        println!("{}", describe(&b.info, b.snapshots));
    }
    let infos: Vec<_> = built.iter().map(|b| b.info.clone()).collect();
    let land = glasscam::pipeline::swanson::landscape::swanson_landscape(&slow, &fast, &infos)?;
    let files =
        glasscam::pipeline::swanson::landscape::write_landscape(&a.out.join("landscape"), &land)?;
    println!(
        "wrote {} tasks and the E_IS(T) landscape ({}) to {}",
        built.len(),
        files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(", "),
        a.out.display()
    );
    Ok(())
}

/// One line per task: classes, temperatures, sizes and E_IS.
fn describe(info: &task::TaskFile, snapshots: usize) -> String {
    let class = |c: &task::ClassRecord| {
        let e = c
            .e_is
            .map(|e| format!(", E_IS {:.4} +- {:.4}", e.mean, e.std))
            .unwrap_or_default();
        format!(
            "{} {} at T = {} ({}, {} snapshots{e})",
            c.class,
            c.source.display(),
            task::fmt_t(c.target_t),
            c.pick,
            c.source_indices.len()
        )
    };
    format!(
        "{}: {} vs {}; {} replicas, {snapshots} snapshots",
        info.name,
        class(info.liquid()),
        class(info.glass()),
        info.replicas
    )
}
