//! The stages of `glasscam reproduce`, in the order they run, with the directories they own and the files that
//! mark them done. Shared by the pipeline (reproduce.rs) and the report (report.rs), which lists their timings.

use serde::{Deserialize, Serialize};

/// A stage of the pipeline, in the order they run.
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
    Simulate,
    Train,
    Gradcam,
    Analyze,
    Propensity,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Simulate,
        Stage::Train,
        Stage::Gradcam,
        Stage::Analyze,
        Stage::Propensity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Simulate => "simulate",
            Stage::Train => "train",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analyze",
            Stage::Propensity => "propensity",
        }
    }

    /// The directory (under the system's) that the stage writes and owns.
    pub fn dir(self) -> &'static str {
        match self {
            Stage::Simulate => "data",
            Stage::Train => "model",
            Stage::Gradcam => "gradcam",
            Stage::Analyze => "analysis",
            Stage::Propensity => "propensity",
        }
    }

    /// The stages whose outputs this one reads.
    pub fn parents(self) -> &'static [Stage] {
        match self {
            Stage::Simulate => &[],
            Stage::Train => &[Stage::Simulate],
            Stage::Gradcam => &[Stage::Simulate, Stage::Train],
            Stage::Analyze | Stage::Propensity => &[Stage::Simulate, Stage::Gradcam],
        }
    }

    /// Files (relative to the stage directory) that must exist for the stage to count as done.
    pub(crate) fn outputs(self) -> &'static [&'static str] {
        match self {
            Stage::Simulate => &["manifest.json", "positions.npy"],
            Stage::Train => &["metrics.json", "model.safetensors"],
            Stage::Gradcam => &["gradcam.json", "gamma.npy"],
            Stage::Analyze => &["summary.json", "correlations.csv"],
            Stage::Propensity => &["curves.json"],
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
