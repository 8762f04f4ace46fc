//! JSON Schemas of the files other programs read (`docs/schemas/`), generated from the Rust types that write them;
//! a test checks that the committed files equal these.

use schemars::{schema_for, Schema};

/// (file name under `docs/schemas/`, schema) for every file contract.
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "manifest.schema.json",
            schema_for!(crate::io::dataset::Manifest),
        ),
        (
            "results.schema.json",
            schema_for!(crate::pipeline::oyama::report::Results),
        ),
        (
            "swanson-results.schema.json",
            schema_for!(crate::pipeline::swanson::report::SwansonResults),
        ),
        (
            "gradcam.schema.json",
            schema_for!(crate::learn::cnn::gradcam::GradcamFile),
        ),
        (
            "model-config.schema.json",
            schema_for!(crate::learn::cnn::model::ModelFile),
        ),
        (
            "task.schema.json",
            schema_for!(crate::pipeline::swanson::task::TaskFile),
        ),
        (
            "landscape.schema.json",
            schema_for!(crate::pipeline::swanson::landscape::Landscape),
        ),
        (
            "targets.schema.json",
            schema_for!(crate::io::targets::TargetsMeta),
        ),
        (
            "gn-model-config.schema.json",
            schema_for!(crate::learn::dynamics::model::GnModelFile),
        ),
        (
            "baselines.schema.json",
            schema_for!(crate::analysis::baselines::BaselineReport),
        ),
        (
            "predictions.schema.json",
            schema_for!(crate::learn::dynamics::predict::PredictionsFile),
        ),
    ]
}

/// A schema as written to `docs/schemas/`: pretty JSON with a final newline.
pub fn text(schema: &Schema) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}
