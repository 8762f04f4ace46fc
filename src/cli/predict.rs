//! `glasscam predict`: arguments, the console line, and the call to the propensity network's predictions.

use std::path::PathBuf;

use clap::Args;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::learn::dynamics::{self, Gn};
use glasscam::learn::model::Model;
use glasscam::learn::split::ReplicaSet;

/// `glasscam predict`
#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    /// Model directory written by `glasscam train --arch gn`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data set directory (with targets, the predictions are scored against them).
    #[arg(long)]
    pub data: PathBuf,
    /// Which configurations: the model's test replicas (of its training data set), or all.
    #[arg(long, value_enum, default_value = "test")]
    pub split: ReplicaSet,
    /// Output directory for predictions.npy and predictions.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace predictions already in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn predict(a: &PredictArgs, ctx: Ctx) -> glasscam::Result<()> {
    let data = Dataset::load(&a.data)?;
    let model = Gn::load(&a.model)?;
    let p = dynamics::predict(&model, &a.model, &data, a.split, ctx)?;
    dynamics::write_predictions(&a.out, &p, a.force)?;
    let f = &p.file;
    let score = match &f.pearson {
        Some(r) => {
            let r: Vec<String> = r.iter().map(|x| format!("{x:.3}")).collect();
            format!(
                "; Pearson per time point (species {}): [{}]",
                f.species,
                r.join(", ")
            )
        }
        None => String::new(),
    };
    println!(
        "{} of {} configurations at {} time points in {}{score}",
        f.target,
        f.snapshots.len(),
        f.times.len(),
        a.out.display()
    );
    Ok(())
}
