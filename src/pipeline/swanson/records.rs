//! The records the stages of `reproduce swanson` write and its report reads: the tasks built (`tasks.json`), the
//! cross-task scores (`matrices.json`) and the configuration the maps show (`maps.json`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::preset::{Ramp, SwansonTask, TaskInput};
use super::task::TaskKind;

/// `swanson/tasks/tasks.json`: what the tasks stage built.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TasksRecord {
    /// What the tasks' configurations are: the ramps' snapshots or their inherent structures.
    #[serde(default)]
    pub input: TaskInput,
    pub tasks: Vec<TaskRow>,
    /// Task 6's choice: the slow-ramp point nearest the fast glass in mean E_IS.
    pub equal_eis: EqualEis,
    /// Mean E_IS per particle against temperature along each ramp.
    pub curves: BTreeMap<String, Vec<EisPoint>>,
}

/// Mean and spread of E_IS per particle over a set of snapshots.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EisStats {
    pub mean: f64,
    /// Null for a single value.
    pub std: Option<f64>,
    pub n: usize,
}

/// One point of an E_IS(T) curve.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EisPoint {
    /// Ramp point (1-based from the top of the ramp; 0 for a temperature off the ramp grid, such as T_L).
    pub k: usize,
    pub t: f64,
    pub e_is: EisStats,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EqualEis {
    pub k: usize,
    pub t: f64,
    pub slow_e_is: EisStats,
    pub fast_glass_e_is: EisStats,
}

/// One task as built.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TaskRow {
    pub name: SwansonTask,
    pub kind: TaskKind,
    /// Ramp (`slow`/`fast`) and temperature of each class, liquid first.
    pub liquid: TaskClass,
    pub glass: TaskClass,
    pub replicas: usize,
    pub snapshots: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TaskClass {
    pub ramp: Ramp,
    pub t: f64,
    pub e_is: Option<EisStats>,
    pub snapshots: usize,
}

/// `swanson/evaluate/matrices.json`: every model scored on every task's test split.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Matrices {
    /// Row and column order (training task, test task).
    pub tasks: Vec<SwansonTask>,
    pub cnn: AucMatrix,
    pub mpnn: AucMatrix,
}

/// One model family's cross-task scores: `[train task][test task]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct AucMatrix {
    /// ROC AUC (glass positive); null where a test split lacks a class.
    pub auc: Vec<Vec<Option<f64>>>,
    /// Its standard error (Hanley & McNeil 1982) from the test split's class sizes.
    pub auc_se: Vec<Vec<Option<f64>>>,
    /// Accuracy over both classes at the model's decision (larger score wins).
    pub accuracy: Vec<Vec<Option<f64>>>,
    /// Test configurations scored (liquid, glass) per cell.
    pub n_test: Vec<Vec<[usize; 2]>>,
}

/// `swanson/attention/maps.json`: which configuration the two maps show.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MapsRecord {
    pub task: SwansonTask,
    pub snapshot: usize,
    /// Whether the CNN classified it correctly (a misclassified one is shown only when the CNN got every glass
    /// test configuration wrong).
    pub cnn_correct: bool,
    /// Pearson correlation of the two coarse-grained, normalised fields on that configuration.
    pub pearson: Option<f64>,
}
