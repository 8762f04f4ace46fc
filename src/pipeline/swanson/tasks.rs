//! Swanson's tasks from the slow and the fast ramp: tasks 1-5 at Swanson's ramp points, task 6 at the slow-ramp
//! point of the fast glass's E_IS, the null task, and the tasks stage of `reproduce swanson` that builds and
//! records all seven with both ramps' E_IS(T) curves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::preset::{
    swanson_temperature, Ramp, SwansonTask, TaskInput, FAST, SLOW, SWANSON_POINTS,
};
use super::records::{EisPoint, EisStats, EqualEis, TaskClass, TaskRow, TasksRecord};
use super::task::{
    build_null_task, build_task, no_inherent, write_task, ClassRecord, Pick, RampData, Stats, Task,
    TaskFile, INHERENT_DIR, TASK_FILE, T_EPS,
};

use crate::domain::Class;
use crate::error::{Error, Result};
use crate::io::json::{finite, write_json_atomic};

/// What task 6 chose: the slow-ramp point nearest the fast glass in mean E_IS.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EqualEisChoice {
    /// Ramp point of the slow ramp (1-based from the top) and its temperature.
    pub k: usize,
    pub t: f64,
    pub slow_e_is: Stats,
    pub fast_glass_e_is: Stats,
}

/// Task 6's liquid: among the slow ramp's points above its glass, the one whose mean E_IS is nearest the fast
/// glass's mean E_IS (chosen by E_IS, not by index, since our rates differ from Swanson's).
pub fn equal_eis_point(slow: &RampData, fast: &RampData) -> Result<EqualEisChoice> {
    if fast.e_is.is_none() {
        return Err(no_inherent(fast.dir()));
    }
    let glass = fast.select(&Pick::Own, Class::Glass)?;
    let fast_glass_e_is = fast.e_is_stats(&glass.indices).ok_or_else(|| {
        Error::Input(format!(
            "{}: none of its glass snapshots has a converged inherent structure; minimise them again with a \
             larger --max-iter",
            fast.dir().display()
        ))
    })?;
    let t_g = slow.data.manifest.system.t_glass;
    slow.curve()?
        .into_iter()
        .filter(|p| p.t > t_g + T_EPS)
        .min_by(|a, b| {
            (a.e_is.mean - fast_glass_e_is.mean)
                .abs()
                .total_cmp(&(b.e_is.mean - fast_glass_e_is.mean).abs())
        })
        .map(|p| EqualEisChoice {
            k: p.k,
            t: p.t,
            slow_e_is: p.e_is,
            fast_glass_e_is,
        })
        .ok_or_else(|| {
            Error::Input(format!(
                "{} has no ramp point above T_G = {t_g} with inherent structures; simulate it with \
                 --ramp-snapshots K --inherent",
                slow.dir().display()
            ))
        })
}

/// Builds one of Swanson's tasks from the slow and the fast ramp. `seed` draws the null task's labels.
pub fn swanson_task(
    which: SwansonTask,
    slow: &RampData,
    fast: &RampData,
    seed: u64,
) -> Result<Task> {
    let name = which.name();
    let glass_t = Pick::Temperature(slow.data.manifest.system.t_glass);
    match which {
        SwansonTask::Liquid(i) => {
            let k = *SWANSON_POINTS
                .get((i as usize).wrapping_sub(1))
                .ok_or_else(|| {
                    Error::Input(format!(
                        "unknown task `task{i}`: Swanson's tasks are task1 .. task6 and null"
                    ))
                })?;
            build_task(
                &name,
                (slow, &Pick::Temperature(swanson_temperature(k))),
                (slow, &glass_t),
            )
        }
        SwansonTask::EqualEis => {
            let c = equal_eis_point(slow, fast)?;
            build_task(&name, (slow, &Pick::Point(c.k)), (fast, &Pick::Own))
        }
        SwansonTask::Null => build_null_task(&name, slow, &glass_t, seed),
    }
}

/// One built task of a preset: where it was written and its record.
#[derive(Clone, Debug)]
pub struct TaskSummary {
    pub which: SwansonTask,
    pub dir: PathBuf,
    pub info: TaskFile,
    /// Snapshots in the task.
    pub snapshots: usize,
}

/// Builds and writes the chosen Swanson tasks (all seven for `SwansonTask::ALL`) under `out_dir/<name>`.
/// Every task is built before any is written, so a refused one leaves nothing behind.
pub fn build_swanson_tasks(
    slow: &RampData,
    fast: &RampData,
    which: &[SwansonTask],
    out_dir: &Path,
    seed: u64,
    force: bool,
) -> Result<Vec<TaskSummary>> {
    let tasks: Vec<(SwansonTask, Task)> = which
        .iter()
        .map(|&w| Ok((w, swanson_task(w, slow, fast, seed)?)))
        .collect::<Result<_>>()?;
    for (w, _) in &tasks {
        crate::io::outdir::no_overwrite(&out_dir.join(w.name()).join(TASK_FILE), force, "a task")?;
    }
    tasks
        .into_iter()
        .map(|(w, t)| {
            let dir = out_dir.join(w.name());
            write_task(&dir, &t, force)?;
            Ok(TaskSummary {
                which: w,
                dir,
                snapshots: t.manifest.snapshots.len(),
                info: t.info,
            })
        })
        .collect()
}

/// E_IS statistics as the records hold them (no spread for a single value).
fn eis(s: &Stats) -> EisStats {
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
fn align_replicas(t: &mut Task) {
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
pub fn build_tasks(
    slow_dir: &Path,
    fast_dir: &Path,
    input: TaskInput,
    seed: u64,
    dir: &Path,
) -> Result<()> {
    // a ramp's minima are a data set of their own (`DIR/inherent`) that carries each minimum's E_IS
    let source = |d: &Path| match input {
        TaskInput::Snapshots => d.to_path_buf(),
        TaskInput::Inherent => d.join(INHERENT_DIR),
    };
    let slow = RampData::load(&source(slow_dir))?;
    let fast = RampData::load(&source(fast_dir))?;
    let choice = equal_eis_point(&slow, &fast)?;
    let ramp_of = |source: &Path| {
        if source == fast.data.dir {
            Ramp::Fast
        } else {
            Ramp::Slow
        }
    };
    let mut tasks = Vec::new();
    let mut infos = Vec::new();
    for which in SwansonTask::ALL {
        let mut t = swanson_task(which, &slow, &fast, seed)?;
        align_replicas(&mut t);
        write_task(&dir.join(which.name()), &t, false)?;
        infos.push(t.info.clone());
        let class = |r: &ClassRecord| TaskClass {
            ramp: ramp_of(&r.source),
            t: r.target_t,
            e_is: r.e_is.as_ref().map(eis),
            snapshots: r.source_indices.len(),
        };
        tasks.push(TaskRow {
            name: which,
            kind: t.info.kind,
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
    let land = super::landscape::swanson_landscape(&slow, &fast, &infos)?;
    super::landscape::write_landscape(&dir.join("e_is"), &land)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::swanson::task::tests::{fake, temps};
    use crate::pipeline::swanson::task::TaskKind;

    #[test]
    fn swanson_tasks_pick_their_points_and_task6_by_e_is() {
        // slow: E_IS falls linearly with T; fast glass sits at the slow ramp's level near T = 1.0
        let slow = fake("slow", 6, &temps(40), |t| -3.40 + 0.05 * t);
        let fast = fake("fast", 6, &temps(40), |_| -3.40 + 0.05 * 1.0);
        let c = equal_eis_point(&slow, &fast).expect("task 6 point");
        assert!((c.t - 1.0).abs() <= 1.95 / 40.0 / 2.0 + 1e-12, "{c:?}");
        let t6 = swanson_task(SwansonTask::EqualEis, &slow, &fast, 1).expect("task6");
        assert_eq!(t6.info.liquid().target_t, c.t);
        assert_eq!(t6.info.liquid().pick, Pick::Point(c.k));
        let t4 = swanson_task(SwansonTask::Liquid(4), &slow, &fast, 1).expect("task4");
        assert!((t4.info.liquid().target_t - 0.5375).abs() < 1e-12);
        assert_eq!(t4.info.glass().target_t, 0.05);
        let null = swanson_task(SwansonTask::Null, &slow, &fast, 9).expect("null");
        assert_eq!(null.info.kind, TaskKind::Null);
        assert_eq!(null.info.liquid().source_indices.len(), 3);
        assert_eq!(null.info.glass().source_indices.len(), 3);
        assert_eq!(null.info.liquid().target_t, 0.05);
        let other = swanson_task(SwansonTask::Null, &slow, &fast, 10).expect("null");
        assert_ne!(
            null.info.liquid().source_indices,
            other.info.liquid().source_indices,
            "the seed draws the labels"
        );
        // without inherent structures task 6 cannot be chosen
        let mut bare = fast.clone();
        bare.e_is = None;
        let e = equal_eis_point(&slow, &bare)
            .expect_err("no E_IS")
            .to_string();
        assert!(e.contains("glasscam minimize"), "{e}");
    }
}
