//! `glasscam train --arch mpnn` and `glasscam attention`: arguments, console lines, and the calls to the gnn engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::dataset::Dataset;
use glasscam::domain::Class;
use glasscam::events::Ctx;
use glasscam::gnn::attention::AttentionInput;
use glasscam::gnn::MpnnConfig;

/// Which network `train` trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// The CNN on gridized images (SPEC §5).
    #[default]
    Cnn,
    /// Swanson's directed message-passing network with bond attention on kNN graphs (SPEC §10).
    Mpnn,
}

/// `glasscam train`: the network family, then the common arguments.
#[derive(Args, Debug, Clone)]
pub struct TrainCmd {
    /// cnn (default) or mpnn; with mpnn, `--model` is an MPNN model file (docs/gnn.md) and training runs on the
    /// CPU twin.
    #[arg(long, value_enum, default_value = "cnn")]
    pub arch: Arch,
    #[command(flatten)]
    pub args: super::nn::TrainArgs,
}

pub fn train(a: &super::nn::TrainArgs, ctx: Ctx) -> glasscam::Result<()> {
    let mut cfg = match &a.model {
        Some(p) => MpnnConfig::from_file(p)?,
        None => MpnnConfig::default(),
    };
    if let Some(e) = a.epochs {
        cfg.epochs = e;
    }
    let data = Dataset::load(&a.data)?;
    let t = glasscam::gnn::train::train(&data, &cfg, ctx)?;
    glasscam::gnn::train::write_model(&a.out, &t)?;
    let m = &t.metrics;
    println!(
        "test: accuracy glass {:.4} liquid {:.4}, ROC AUC {:.4} ({} graphs); best epoch {} of {}; model in {}",
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

/// `glasscam attention`
#[derive(Args, Debug, Clone)]
pub struct AttentionArgs {
    /// Model directory written by `glasscam train --arch mpnn`.
    #[arg(long)]
    pub model: PathBuf,
    /// Data set directory.
    #[arg(long)]
    pub data: PathBuf,
    /// `test`: the model's test replicas (default); `all`: every glass and liquid snapshot.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// High-attention threshold on the per-graph normalised attention (Swanson: 0.0025, 0.25 % of the range).
    #[arg(long, default_value_t = 0.0025)]
    pub threshold: f64,
    /// Grad-CAM output directory (`glasscam gradcam`) for C(attention, Gamma).
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn attention(a: &AttentionArgs, ctx: Ctx) -> glasscam::Result<()> {
    let input = AttentionInput {
        model: a.model.clone(),
        data: a.data.clone(),
        all: match a.split.as_str() {
            "test" => false,
            "all" => true,
            s => {
                return Err(glasscam::Error::Input(format!(
                    "--split `{s}`: use test or all"
                )))
            }
        },
        threshold: a.threshold,
        gradcam: a.gradcam.clone(),
        out: a.out.clone(),
    };
    let r = glasscam::gnn::attention::attention(&input, ctx)?;
    for m in &r.aucs {
        println!(
            "{:<14} ROC AUC {:.3} (mean glass {:.1}, liquid {:.1})",
            m.metric, m.auc, m.mean_glass, m.mean_liquid
        );
    }
    println!(
        "{} configurations; files in {}",
        r.configs.len(),
        a.out.display()
    );
    Ok(())
}
