//! `glasscam gradcam`: Grad-CAM maps of one class for the test configurations (or all) of that class, read back
//! at the particles (Gamma = M^-1 L^C), and the list of configurations the network gets wrong.
//!
//! Writes `OUT/gamma.npy` float64 [S, N], `OUT/maps.npy` float32 [S, G, G] and `OUT/gradcam.json`
//! (`GradcamFile`): row k of both arrays is snapshot `snapshots[k]` of the data set. Snapshots listed in
//! `misclassified` are in the arrays but must be left out of any statistics.

use std::path::Path;

use glasscam_kernels::nn::net::{grid_sample, Net};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::config::Precision;
use super::data::images;
use super::model::{self, check_fits, ModelFile};
use crate::analysis::{GammaSet, GradcamIndex};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::io::dataset::Dataset;
use crate::io::json::write_json_readable;
use crate::io::npy;
use crate::learn::metrics::{p_glass, predicted};

/// Which snapshots a Grad-CAM run covers, by class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Covered {
    Glass,
    Liquid,
    Both,
}

impl Covered {
    /// The configurations of one class.
    pub fn of(class: Class) -> Covered {
        match class {
            Class::Liquid => Covered::Liquid,
            _ => Covered::Glass,
        }
    }

    fn covers(self, class: Class) -> bool {
        match self {
            Covered::Glass => class == Class::Glass,
            Covered::Liquid => class == Class::Liquid,
            Covered::Both => class != Class::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Covered::Glass => "glass",
            Covered::Liquid => "liquid",
            Covered::Both => "both classes'",
        }
    }
}

pub use crate::learn::split::ReplicaSet;

/// `gradcam.json`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GradcamFile {
    pub data: String,
    /// `Dataset::fingerprint` of `data`: `analyze` and `propensity` refuse these scores with another data set.
    pub data_fingerprint: String,
    pub model: String,
    pub class: Class,
    /// Data set snapshot index of each row of gamma.npy and maps.npy.
    pub snapshots: Vec<usize>,
    /// Predicted class name of each row.
    pub predicted: Vec<Class>,
    /// Glass probability of each row.
    pub p_glass: Vec<f64>,
    /// Snapshots (data set indices) whose predicted class is not their true class: leave them out.
    pub misclassified: Vec<usize>,
    pub grid: usize,
    pub box_l: f64,
}

/// What a Grad-CAM run produced.
pub struct GradcamResult {
    pub file: GradcamFile,
    /// [S, N]
    pub gamma: Vec<f64>,
    /// [S, G, G]
    pub maps: Vec<f32>,
}

/// Grad-CAM of class `class` over `snapshots` of `data`, on the CPU in `precision`.
pub fn gradcam(
    (compute, precision): (&Compute, Precision),
    model_dir: &Path,
    data: &Dataset,
    class: Class,
    snapshots: &[usize],
    batch: usize,
) -> Result<GradcamResult> {
    let cls = class.score_index().ok_or_else(|| {
        Error::Input("Grad-CAM explains the glass or the liquid score, not `other`".into())
    })?;
    let (file, params) = model::load(model_dir)?;
    check_fits(&file, model_dir, data)?;
    let spec = file.spec();
    let grid = file.config.grid_spec(data.box_l());
    let mut net = Net::with_precision(compute, precision.kernel(), spec.clone(), &params, batch)?;
    let n = data.n_particles();
    let gg = spec.pixels();
    let norm = file.standardization();
    let mut out = GradcamResult {
        file: GradcamFile {
            data: data.dir.display().to_string(),
            data_fingerprint: data.fingerprint.clone(),
            model: model_dir.display().to_string(),
            class,
            snapshots: snapshots.to_vec(),
            predicted: Vec::new(),
            p_glass: Vec::new(),
            misclassified: Vec::new(),
            grid: spec.grid,
            box_l: data.box_l(),
        },
        gamma: Vec::with_capacity(snapshots.len() * n),
        maps: Vec::with_capacity(snapshots.len() * gg),
    };
    for part in snapshots.chunks(batch.max(1)) {
        let mut imgs = images((compute, precision), data, &grid, part, part.len())?;
        if let Some(norm) = &norm {
            norm.apply(&mut imgs, gg);
        }
        let (logits, maps) = net.gradcam(&imgs, cls)?;
        let pos: Vec<f64> = part
            .iter()
            .flat_map(|&k| data.snapshot(k).iter().copied())
            .collect();
        out.gamma
            .extend(grid_sample(compute, &grid, &maps, &pos, n)?);
        out.maps.extend(maps.iter().map(|&x| x as f32));
        for (&k, l) in part.iter().zip(logits.chunks(2)) {
            let pred = predicted(l);
            out.file.p_glass.push(p_glass(l));
            out.file.predicted.push(Class::BOTH[pred]);
            let label = data.manifest.snapshots[k].label;
            if label != pred as i64 {
                out.file.misclassified.push(k);
            }
        }
    }
    Ok(out)
}

/// The snapshots of `data` that a Grad-CAM run over `covered` configurations of the `split` replicas takes.
pub fn select_snapshots(
    data: &Dataset,
    model: &ModelFile,
    covered: Covered,
    split: ReplicaSet,
) -> Result<Vec<usize>> {
    let replicas: Option<std::collections::BTreeSet<usize>> = match split {
        ReplicaSet::All => None,
        ReplicaSet::Test => {
            // the split names replicas of the training data: on other data they would be arbitrary ones
            model.header.check_split_data(
                data,
                "set `split` to all for a data set the model was not trained on",
            )?;
            Some(model.header.split.test.iter().copied().collect())
        }
    };
    let snapshots: Vec<usize> = data
        .manifest
        .snapshots
        .iter()
        .filter(|m| {
            covered.covers(Class::from_label(m.label))
                && replicas.as_ref().is_none_or(|r| r.contains(&m.replica))
        })
        .map(|m| m.index)
        .collect();
    if snapshots.is_empty() {
        let message = match split {
            ReplicaSet::Test => format!(
                "no {} snapshots of the model's test replicas ({:?}...): the data set is not the one the model was \
                 trained on, or holds other replicas; set `split` to all to explain every snapshot",
                covered.name(),
                &model.header.split.test[..model.header.split.test.len().min(5)]
            ),
            ReplicaSet::All => format!(
                "the data set holds no {} snapshots; choose `configs` glass, liquid or both to match what it holds",
                match covered {
                    Covered::Both => "glass or liquid",
                    c => c.name(),
                }
            ),
        };
        return Err(Error::Dataset {
            path: data.dir.clone(),
            message,
        });
    }
    Ok(snapshots)
}

/// Writes `gamma.npy`, `maps.npy` and `gradcam.json` (last, so its presence means the arrays are complete).
pub fn write_gradcam(out: &Path, r: &GradcamResult) -> Result<()> {
    std::fs::create_dir_all(out).at(out)?;
    let s = r.file.snapshots.len() as u64;
    let g = r.file.grid as u64;
    let n = (r.gamma.len() as u64).checked_div(s).unwrap_or(0);
    npy::write(&out.join("gamma.npy"), &[s, n], &r.gamma)?;
    npy::write(&out.join("maps.npy"), &[s, g, g], &r.maps)?;
    write_json_readable(&out.join("gradcam.json"), &r.file)
}

/// Grad-CAM of each class over its own test configurations, joined into one directory for `analyze`; on the CPU
/// in the precision the model was trained in.
pub fn gradcam_both(
    compute: &Compute,
    model: &Path,
    data: &Dataset,
    batch: usize,
    out: &Path,
) -> Result<()> {
    let (file, _) = super::model::load(model)?;
    let mut rows: Vec<f64> = Vec::new();
    let mut index = GradcamIndex {
        format_version: crate::analysis::gamma::GRADCAM_FORMAT_VERSION,
        snapshots: Vec::new(),
        misclassified: Vec::new(),
        target_class: "own class (glass for glass configurations, liquid for liquid ones)".into(),
        data: Some(data.dir.display().to_string()),
        data_fingerprint: Some(data.fingerprint.clone()),
    };
    for class in [Class::Glass, Class::Liquid] {
        let snapshots = select_snapshots(data, &file, Covered::of(class), ReplicaSet::Test)?;
        let r = gradcam(
            (compute, file.config.precision),
            model,
            data,
            class,
            &snapshots,
            batch,
        )?;
        write_gradcam(&out.join(class.name()), &r)?;
        rows.extend_from_slice(&r.gamma);
        index.snapshots.extend(&r.file.snapshots);
        index.misclassified.extend(&r.file.misclassified);
    }
    GammaSet::write(out, &index, data.n_particles(), &rows)
}
