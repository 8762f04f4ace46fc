//! `glasscam train [--arch cnn|mpnn]`: arguments, the console line, and the call to the network's trainer (the
//! same for every `Model`).

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam::domain::Class;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::learn::cnn::{Cnn, ModelConfig};
use glasscam::learn::dynamics::{Gn, GnConfig};
use glasscam::learn::fit::{Classification, Metrics};
use glasscam::learn::gnn::{Mpnn, MpnnConfig};
use glasscam::learn::model::{write_model, Arch, Model};

use super::select_compute;

/// `glasscam train`: the network family, then the common arguments.
#[derive(Args, Debug, Clone)]
pub struct TrainCmd {
    /// cnn (default) or mpnn; with mpnn, `--model` is an MPNN model file (docs/reference/model-files.md).
    #[arg(long, value_enum, default_value = "cnn")]
    pub arch: Arch,
    /// With `--arch gn`: the data set's target to learn (`propensity`, `bond_breaking`, ...; overrides the
    /// model file's `target`).
    #[arg(long)]
    pub target: Option<String>,
    #[command(flatten)]
    pub args: TrainArgs,
}

/// The arguments both networks take.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Data set directory (written by `glasscam simulate` or `glasscam task`).
    #[arg(long)]
    pub data: PathBuf,
    /// Model file (TOML or JSON) of the network's settings; the defaults without one.
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

pub fn train(t: &TrainCmd, ctx: Ctx) -> glasscam::Result<()> {
    let a = &t.args;
    if t.target.is_some() && t.arch != Arch::Gn {
        return Err(glasscam::Error::Input(format!(
            "--target: the {} network classifies glasses and liquids; a per-particle target is learned with \
             `--arch gn`",
            t.arch
        )));
    }
    match t.arch {
        Arch::Cnn => {
            let mut cfg = match &a.model {
                Some(p) => ModelConfig::from_file(p)?,
                None => ModelConfig::default(),
            };
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            train_as::<Cnn>(a, &cfg, ctx)
        }
        Arch::Mpnn => {
            let mut cfg = match &a.model {
                Some(p) => MpnnConfig::from_file(p)?,
                None => MpnnConfig::default(),
            };
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            train_as::<Mpnn>(a, &cfg, ctx)
        }
        Arch::Gn => {
            let mut cfg = match &a.model {
                Some(p) => GnConfig::from_file(p)?,
                None => GnConfig::default(),
            };
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            cfg.target = t.target.clone().unwrap_or(cfg.target);
            train_gn(a, &cfg, ctx)
        }
    }
}

/// Trains a network of family `M` with `cfg` and writes its model directory.
fn train_as<M>(a: &TrainArgs, cfg: &M::Config, ctx: Ctx) -> glasscam::Result<()>
where
    M: Model<Objective = Classification>,
{
    let data = Dataset::load(&a.data)?;
    let compute = select_compute(a.backend)?;
    let t = M::train(&data, cfg, &compute, ctx)?;
    write_model(&a.out, &t)?;
    print_test(&t.metrics, M::ARCH, &a.out);
    Ok(())
}

/// Trains the propensity network on the data set's target `cfg.target` and writes its model directory.
fn train_gn(a: &TrainArgs, cfg: &GnConfig, ctx: Ctx) -> glasscam::Result<()> {
    let data = Dataset::load(&a.data)?;
    let compute = select_compute(a.backend)?;
    let t = Gn::train(&data, cfg, &compute, ctx)?;
    write_model(&a.out, &t)?;
    let m = &t.metrics;
    let pearson: Vec<String> = m.test.pearson.iter().map(|p| format!("{p:.3}")).collect();
    println!(
        "test: Pearson per time point [{}] ({} particles of species {}); best epoch {} of {}; model in {}",
        pearson.join(", "),
        m.test.n,
        cfg.species,
        m.best_epoch,
        m.epochs,
        a.out.display()
    );
    Ok(())
}

/// The test line of a classifier's training.
fn print_test(m: &Metrics, arch: Arch, out: &Path) {
    let what = match arch {
        Arch::Cnn => "snapshots",
        Arch::Mpnn | Arch::Gn => "graphs",
    };
    println!(
        "test: accuracy glass {:.4} liquid {:.4}, ROC AUC {:.4} ({} {what}); best epoch {} of {}; model in {}",
        m.test.of(Class::Glass),
        m.test.of(Class::Liquid),
        m.test.roc_auc,
        m.test.n,
        m.best_epoch,
        m.epochs,
        out.display()
    );
}
