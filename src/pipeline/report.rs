//! What the pipelines' reports share: the machine and stage-time records of `results.json`, figures embedded as
//! data URIs, numbers for tables, and rendering a template from `templates/` with minijinja (HTML escaping on).

use std::path::Path;

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{Error, Result};

/// The machine a report was made on.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Hardware {
    pub cpu: String,
    pub threads: usize,
    pub os: String,
}

/// One recorded stage as a report lists it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StageTime<S> {
    /// The unit: a system, a ramp, a task or the pipeline's own.
    pub system: String,
    pub stage: S,
    pub seconds: f64,
    pub backend: String,
}

/// The processor, thread count and operating system of this machine.
pub fn hardware() -> Hardware {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    Hardware {
        cpu,
        threads: rayon::current_num_threads(),
        os: std::env::consts::OS.into(),
    }
}

/// A figure embedded as a data URI, or the path of one that is missing.
#[derive(Serialize)]
pub struct Figure {
    alt: String,
    /// `data:image/png;base64,...` (only base64 characters: safe in an attribute unescaped).
    src: Option<String>,
    path: String,
}

pub fn figure(path: &Path) -> Figure {
    use base64::Engine;
    Figure {
        alt: path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default(),
        src: std::fs::read(path).ok().map(|b| {
            format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        }),
        path: path.display().to_string(),
    }
}

/// `x` with three decimals; a dash for none or a non-finite value.
pub fn num(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite())
        .map_or("–".into(), |x| format!("{x:.3}"))
}

/// Renders `templates/<name>` (its text `source`) with `view`, HTML escaping on, the `num` filter and the shared
/// stage table (`templates/stages.html`, included by every report).
pub fn render_template<T: Serialize>(name: &str, source: &str, view: &T) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_filter("num", num);
    env.add_template("stages.html", include_str!("../../templates/stages.html"))
        .map_err(|e| Error::Input(format!("templates/stages.html: {e}")))?;
    env.add_template(name, source)
        .map_err(|e| Error::Input(format!("templates/{name}: {e}")))?;
    env.get_template(name)
        .and_then(|t| t.render(minijinja::value::Serde(view)))
        .map_err(|e| Error::Input(format!("templates/{name}: cannot render the report: {e}")))
}
