//! The stages of `glasscam reproduce` (both pipelines), in the order they run, with the directories they own and
//! the files that mark them done. Shared by the pipelines (reproduce.rs, reproduce/swanson.rs) and the reports
//! (report.rs, report/swanson.rs), which list their timings.

use serde::{Deserialize, Serialize};

/// A stage of a pipeline, in the order they run.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    // Oyama et al.: per system
    Simulate,
    Train,
    Gradcam,
    Analyze,
    Propensity,
    // Swanson et al.
    /// One cooling ramp with snapshots along it and their inherent structures.
    Ramp,
    /// The six liquid-vs-glass tasks and the null task, from the two ramps.
    Tasks,
    /// The CNN trained on one task.
    #[serde(rename = "train-cnn")]
    TrainCnn,
    /// The graph network trained on one task.
    #[serde(rename = "train-mpnn")]
    TrainMpnn,
    /// Every model scored on every task's test split: the AUC matrices.
    Evaluate,
    /// The graph network's attention metrics and Grad-CAM of the same configurations.
    Attention,
}

impl Stage {
    /// The main paper's pipeline (`reproduce oyama`), per system.
    pub const OYAMA: [Stage; 5] = [
        Stage::Simulate,
        Stage::Train,
        Stage::Gradcam,
        Stage::Analyze,
        Stage::Propensity,
    ];

    /// Swanson et al.'s pipeline (`reproduce swanson`); the ramp stage runs per ramp, the training stages per task.
    pub const SWANSON: [Stage; 6] = [
        Stage::Ramp,
        Stage::Tasks,
        Stage::TrainCnn,
        Stage::TrainMpnn,
        Stage::Evaluate,
        Stage::Attention,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Simulate => "simulate",
            Stage::Train => "train",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analyze",
            Stage::Propensity => "propensity",
            Stage::Ramp => "ramp",
            Stage::Tasks => "tasks",
            Stage::TrainCnn => "train-cnn",
            Stage::TrainMpnn => "train-mpnn",
            Stage::Evaluate => "evaluate",
            Stage::Attention => "attention",
        }
    }

    /// The directory (under the system's, or the pipeline unit's) that the stage writes and owns.
    pub fn dir(self) -> &'static str {
        match self {
            Stage::Simulate | Stage::Ramp => "data",
            Stage::Train => "model",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analysis",
            Stage::Propensity => "propensity",
            Stage::Tasks => "tasks",
            Stage::TrainCnn => "cnn",
            Stage::TrainMpnn => "mpnn",
            Stage::Evaluate => "evaluate",
            Stage::Attention => "attention",
        }
    }

    /// The stages whose outputs this one reads (of the same system for the main paper's pipeline; the Swanson
    /// pipeline reads them across ramps and tasks, and passes their fingerprints itself).
    pub fn parents(self) -> &'static [Stage] {
        match self {
            Stage::Simulate | Stage::Ramp => &[],
            Stage::Train => &[Stage::Simulate],
            Stage::Gradcam => &[Stage::Simulate, Stage::Train],
            Stage::Analyze | Stage::Propensity => &[Stage::Simulate, Stage::Gradcam],
            Stage::Tasks => &[Stage::Ramp],
            Stage::TrainCnn | Stage::TrainMpnn => &[Stage::Tasks],
            Stage::Evaluate | Stage::Attention => {
                &[Stage::Tasks, Stage::TrainCnn, Stage::TrainMpnn]
            }
        }
    }

    /// Files (relative to the stage directory) that must exist for the stage to count as done.
    pub(crate) fn outputs(self) -> &'static [&'static str] {
        match self {
            Stage::Simulate => &["manifest.json", "positions.npy"],
            Stage::Ramp => &["manifest.json", "positions.npy", "inherent/inherent.json"],
            Stage::Train | Stage::TrainCnn | Stage::TrainMpnn => {
                &["metrics.json", "model.safetensors"]
            }
            Stage::Gradcam => &["gradcam.json", "gamma.npy"],
            Stage::Analyze => &["summary.json", "correlations.csv"],
            Stage::Propensity => &["curves.json"],
            Stage::Tasks => &["tasks.json"],
            Stage::Evaluate => &["matrices.json"],
            Stage::Attention => &["attention.json", "gradcam/gradcam.json"],
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
