//! `glasscam gradcam`: Grad-CAM maps of one class for the test configurations (or all) of that class, read back
//! at the particles (Gamma = M^-1 L^C), and the list of configurations the network gets wrong.
//!
//! Writes `OUT/gamma.npy` float64 [S, N], `OUT/maps.npy` float32 [S, G, G] and `OUT/gradcam.json`
//! (`GradcamFile`): row k of both arrays is snapshot `snapshots[k]` of the data set. Snapshots listed in
//! `misclassified` are in the arrays but must be left out of any statistics.

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam_kernels::nn::net::{grid_sample, Net};
use glasscam_kernels::{BackendChoice, Compute};
use serde::{Deserialize, Serialize};

use super::data::images;
use super::model::{self, check_fits};
use super::{class_index, CLASS_NAMES};
use crate::dataset::{write_json_atomic, Dataset};
use crate::error::{Error, IoContext, Result};
use crate::npy;

/// `glasscam gradcam`
#[derive(Args, Debug, Clone)]
pub struct GradcamArgs {
    /// Model directory written by `glasscam train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data set directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Class C whose score y^C is explained.
    #[arg(long, default_value = "glass")]
    pub class: String,
    /// Configurations covered: `glass`, `liquid` or `both` classes' snapshots (default: those of --class).
    #[arg(long)]
    pub configs: Option<String>,
    /// Which replicas: `test` (the model's test split) or `all`.
    #[arg(long, default_value = "test")]
    pub split: String,
    #[arg(long)]
    pub out: PathBuf,
    /// Images per Grad-CAM batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
}

/// `gradcam.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GradcamFile {
    pub data: String,
    pub model: String,
    pub class: String,
    /// Data set snapshot index of each row of gamma.npy and maps.npy.
    pub snapshots: Vec<usize>,
    /// Predicted class name of each row.
    pub predicted: Vec<String>,
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

/// Grad-CAM of class `cls` over `snapshots` of `data`.
pub fn gradcam(
    compute: &Compute,
    model_dir: &Path,
    data: &Dataset,
    cls: usize,
    snapshots: &[usize],
    batch: usize,
) -> Result<GradcamResult> {
    let (file, params) = model::load(model_dir)?;
    check_fits(&file, model_dir, data)?;
    let spec = file.spec();
    let grid = file.config.grid_spec(data.box_l());
    let mut net = Net::new(compute, spec.clone(), &params, batch)?;
    let n = data.n_particles();
    let gg = spec.pixels();
    let norm = file.standardization();
    let mut out = GradcamResult {
        file: GradcamFile {
            data: data.dir.display().to_string(),
            model: model_dir.display().to_string(),
            class: CLASS_NAMES[cls].into(),
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
        let mut imgs = images(compute, data, &grid, part, part.len())?;
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
            let pred = usize::from(l[1] > l[0]);
            let m = l[0].max(l[1]);
            out.file
                .p_glass
                .push((l[1] - m).exp() / ((l[0] - m).exp() + (l[1] - m).exp()));
            out.file.predicted.push(CLASS_NAMES[pred].into());
            let label = data.manifest.snapshots[k].label;
            if label != pred as i64 {
                out.file.misclassified.push(k);
            }
        }
    }
    Ok(out)
}

/// Runs `glasscam gradcam`.
pub fn run_gradcam(args: &GradcamArgs) -> Result<()> {
    let cls = class_index(&args.class)?;
    let configs = args.configs.as_deref().unwrap_or(&args.class);
    if configs != "both" && class_index(configs).is_err() {
        return Err(Error::Input(format!(
            "unknown --configs `{configs}`: use glass, liquid or both"
        )));
    }
    let covered = |class: &str| match configs {
        "both" => class_index(class).is_ok(),
        c => class == c,
    };
    let data = Dataset::load(&args.data)?;
    let (file, _) = model::load(&args.model)?;
    let replicas: Option<std::collections::BTreeSet<usize>> = match args.split.as_str() {
        "all" => None,
        "test" => Some(file.split.test.iter().copied().collect()),
        other => {
            return Err(Error::Input(format!(
                "unknown split `{other}`: use test or all"
            )))
        }
    };
    let snapshots: Vec<usize> = data
        .manifest
        .snapshots
        .iter()
        .filter(|m| covered(&m.class) && replicas.as_ref().is_none_or(|r| r.contains(&m.replica)))
        .map(|m| m.index)
        .collect();
    if snapshots.is_empty() {
        return Err(Error::Dataset {
            path: data.dir.clone(),
            message: format!(
                "no {} snapshots in the {} split (the model's test replicas are {:?}...); use --split all for a \
                 data set the model was not trained on",
                configs,
                args.split,
                &file.split.test[..file.split.test.len().min(5)]
            ),
        });
    }
    let compute = Compute::select(args.backend)?;
    let r = gradcam(&compute, &args.model, &data, cls, &snapshots, args.batch)?;
    std::fs::create_dir_all(&args.out).at(&args.out)?;
    let s = snapshots.len() as u64;
    let g = r.file.grid as u64;
    npy::write(
        &args.out.join("gamma.npy"),
        &[s, data.n_particles() as u64],
        &r.gamma,
    )?;
    npy::write(&args.out.join("maps.npy"), &[s, g, g], &r.maps)?;
    write_json_atomic(&args.out.join("gradcam.json"), &r.file)?;
    println!(
        "Grad-CAM of class {} for {} snapshots ({} misclassified, to be left out) in {}",
        args.class,
        s,
        r.file.misclassified.len(),
        args.out.display()
    );
    Ok(())
}
