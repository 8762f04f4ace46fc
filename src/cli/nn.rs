//! `glasscam train` and `glasscam gradcam`: arguments, console lines, and the calls to the nn engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::domain::Class;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::learn::cnn::{Covered, ModelConfig, ReplicaSet};

use super::select_compute;

/// `glasscam train`
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Data set directory (written by `glasscam simulate`).
    #[arg(long)]
    pub data: PathBuf,
    /// Model file (TOML or JSON, see `ModelConfig`); the SPEC defaults without one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Epochs (overrides the model file).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Output model directory.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
}

pub fn train(a: &TrainArgs, ctx: Ctx) -> glasscam::Result<()> {
    let mut cfg = match &a.model {
        Some(p) => ModelConfig::from_file(p)?,
        None => ModelConfig::default(),
    };
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    let data = Dataset::load(&a.data)?;
    let compute = select_compute(a.backend)?;
    let t = glasscam::learn::cnn::train(&data, &cfg, &compute, ctx)?;
    glasscam::learn::cnn::write_model(&a.out, &t)?;
    let m = &t.metrics;
    println!(
        "test: accuracy glass {:.4} liquid {:.4}, ROC AUC {:.4} ({} snapshots); best epoch {} of {}; model in {}",
        m.test.accuracy[Class::Glass.name()],
        m.test.accuracy[Class::Liquid.name()],
        m.test.roc_auc,
        m.test.n,
        m.best_epoch,
        m.epochs,
        a.out.display()
    );
    Ok(())
}

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
    #[arg(long, value_enum, default_value = "glass")]
    pub class: Class,
    /// Configurations covered (default: those of --class).
    #[arg(long, value_enum)]
    pub configs: Option<Covered>,
    /// Which replicas: the model's test split, or all.
    #[arg(long, value_enum, default_value = "test")]
    pub split: ReplicaSet,
    #[arg(long)]
    pub out: PathBuf,
    /// Images per Grad-CAM batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value = "auto")]
    pub backend: BackendChoice,
}

pub fn gradcam(a: &GradcamArgs) -> glasscam::Result<()> {
    if a.class == Class::Other {
        return Err(glasscam::Error::Input(
            "--class other: Grad-CAM explains the glass or the liquid score".into(),
        ));
    }
    let data = Dataset::load(&a.data)?;
    let (file, _) = glasscam::learn::cnn::model::load(&a.model)?;
    let covered = a.configs.unwrap_or(Covered::of(a.class));
    let snapshots = glasscam::learn::cnn::select_snapshots(&data, &file, covered, a.split)?;
    let compute = select_compute(a.backend)?;
    let r = glasscam::learn::cnn::gradcam(&compute, &a.model, &data, a.class, &snapshots, a.batch)?;
    glasscam::learn::cnn::write_gradcam(&a.out, &r)?;
    println!(
        "Grad-CAM of class {} for {} snapshots ({} misclassified, to be left out) in {}",
        a.class,
        snapshots.len(),
        r.file.misclassified.len(),
        a.out.display()
    );
    Ok(())
}
