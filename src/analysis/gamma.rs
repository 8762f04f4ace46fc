//! The Grad-CAM score file contract between the CNN stage and `analyze`: `gamma.npy` plus `gradcam.json`.
//!
//! A Grad-CAM directory holds
//! - `gamma.npy`    float64 [R, N]: row r is Gamma_i (docs/methods.md, "Grad-CAM") of every particle of snapshot `snapshots[r]`;
//! - `gradcam.json` `GradcamIndex`: which data-set snapshot each row is, and which of them the network
//!   misclassified (those are left out of the statistics, as in the paper).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::json::write_json_readable;
use crate::io::npy;

pub const GAMMA_NPY: &str = "gamma.npy";
pub const GRADCAM_JSON: &str = "gradcam.json";
pub const GRADCAM_FORMAT_VERSION: u32 = 1;

/// What `gradcam.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradcamIndex {
    #[serde(default = "format_one")]
    pub format_version: u32,
    /// Row r of gamma.npy belongs to snapshot `snapshots[r]` (its row in the data set's positions.npy, or the
    /// frame index of an imported trajectory).
    pub snapshots: Vec<usize>,
    /// Snapshots (a subset of `snapshots`) the network put in the wrong class; `analyze` skips them.
    #[serde(default)]
    pub misclassified: Vec<usize>,
    /// The class whose score was explained (default "glass", docs/methods.md, "Grad-CAM"); `glasscam gradcam` writes it as `class`.
    #[serde(default = "glass", alias = "class")]
    pub target_class: String,
    /// The data set the scores were computed on, and its fingerprint (`Dataset::fingerprint`): a consumer given
    /// another data set refuses the scores. Absent in files written by other tools, which are then trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fingerprint: Option<String>,
}

fn glass() -> String {
    "glass".into()
}

fn format_one() -> u32 {
    GRADCAM_FORMAT_VERSION
}

/// A loaded Grad-CAM directory.
#[derive(Clone, Debug)]
pub struct GammaSet {
    /// The directory it was read from (for messages).
    pub dir: PathBuf,
    pub index: GradcamIndex,
    pub n_particles: usize,
    /// [R * N] row-major.
    pub gamma: Vec<f64>,
}

impl GammaSet {
    /// Reads and checks `dir/gamma.npy` and `dir/gradcam.json`.
    pub fn load(dir: &Path) -> Result<GammaSet> {
        let bad = |message: String| Error::Dataset {
            path: dir.to_path_buf(),
            message,
        };
        let jpath = dir.join(GRADCAM_JSON);
        let text = std::fs::read_to_string(&jpath).map_err(|e| {
            bad(format!(
                "cannot read {GRADCAM_JSON} ({e}); is this a Grad-CAM output directory?"
            ))
        })?;
        let index: GradcamIndex = serde_json::from_str(&text)
            .map_err(|e| bad(format!("{GRADCAM_JSON} is not valid: {e}")))?;
        if index.format_version > GRADCAM_FORMAT_VERSION {
            return Err(bad(format!(
                "{GRADCAM_JSON} has format version {}, newer than this glasscam understands ({GRADCAM_FORMAT_VERSION})",
                index.format_version
            )));
        }
        let (shape, gamma) = npy::read::<f64>(&dir.join(GAMMA_NPY))?;
        if shape.len() != 2 || shape[0] as usize != index.snapshots.len() {
            return Err(bad(format!(
                "{GAMMA_NPY} has shape {shape:?}; {GRADCAM_JSON} lists {} snapshots, so expected [{}, N]",
                index.snapshots.len(),
                index.snapshots.len()
            )));
        }
        if let Some(k) = gamma.iter().position(|g| !g.is_finite()) {
            return Err(bad(format!(
                "{GAMMA_NPY} row {} particle {} is not finite ({})",
                k / shape[1] as usize,
                k % shape[1] as usize,
                gamma[k]
            )));
        }
        Ok(GammaSet {
            dir: dir.to_path_buf(),
            index,
            n_particles: shape[1] as usize,
            gamma,
        })
    }

    /// Writes a Grad-CAM directory (array first, index last).
    pub fn write(
        dir: &Path,
        index: &GradcamIndex,
        n_particles: usize,
        gamma: &[f64],
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        npy::write(
            &dir.join(GAMMA_NPY),
            &[index.snapshots.len() as u64, n_particles as u64],
            gamma,
        )?;
        write_json_readable(&dir.join(GRADCAM_JSON), index)
    }

    /// Refuses scores computed on another data set than `data` (fingerprint `fingerprint`): the same N is not
    /// enough, rows would be matched to the wrong configurations.
    pub fn check_data(&self, data: &str, fingerprint: &str) -> Result<()> {
        match &self.index.data_fingerprint {
            Some(f) if f != fingerprint => Err(Error::Input(format!(
                "the Grad-CAM output {} was computed on the data set {} ({}), not on {data} ({}): give the \
                 Grad-CAM directory made from {data}, or run `glasscam gradcam --data {data}` first",
                self.dir.display(),
                self.index.data.as_deref().unwrap_or("not recorded"),
                short(f),
                short(fingerprint)
            ))),
            Some(_) => Ok(()),
            // without one its rows cannot be matched to any data set's configurations
            None => Err(Error::Input(format!(
                "the Grad-CAM output {} records no data-set fingerprint, so nothing says it was computed on {data}: \
                 run `glasscam gradcam --data {data}` to make one that does",
                self.dir.display()
            ))),
        }
    }

    /// Gamma of snapshot `s`, if this set covers it.
    pub fn row(&self, s: usize) -> Option<&[f64]> {
        let r = self.index.snapshots.iter().position(|&x| x == s)?;
        Some(&self.gamma[r * self.n_particles..(r + 1) * self.n_particles])
    }

    pub fn is_misclassified(&self, s: usize) -> bool {
        self.index.misclassified.contains(&s)
    }
}

/// The start of a `sha256:<hex>` fingerprint, enough to tell two apart in a message.
pub fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(7 + 12)]
}
