//! `glasscam gradcam`: arguments, the console line, and the call to the CNN's Grad-CAM.

use std::path::PathBuf;

use clap::Args;
use glasscam::domain::Class;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::learn::cnn::{Covered, Precision, ReplicaSet};

use super::select_compute;

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
    /// The CNN's float type on the CPU: f32, the fast backend, or f64, the twin (the reference, 3 to 10 times
    /// slower) [default: the model's, as trained]. Ignored on the GPU.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
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
    let r = glasscam::learn::cnn::gradcam(
        (&compute, a.precision.unwrap_or(file.config.precision)),
        &a.model,
        &data,
        a.class,
        &snapshots,
        a.batch,
    )?;
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
