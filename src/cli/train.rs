//! `glasscam train [--arch cnn|mpnn]`: arguments, the console line, and the call to the network's trainer (the
//! same for every `Model`).

use std::path::{Path, PathBuf};

use clap::Args;
use glasscam::domain::Class;
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::kernels::BackendChoice;
use glasscam::learn::cnn::{Cnn, ModelConfig, Precision};
use glasscam::learn::dynamics::{self, GnConfig};
use glasscam::learn::fit::{Classification, Metrics};
use glasscam::learn::gnn::{Mpnn, MpnnConfig};
use glasscam::learn::model::{write_model, Arch, Model};
use glasscam::sim::minimize::InherentSet;

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
    /// With `--arch gn`: the inherent structures of the data set (`glasscam minimize`), for a network whose model
    /// file sets `inherent = true`.
    #[arg(long)]
    pub inherent: Option<PathBuf>,
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
    /// cnn: the float type on the CPU, f32 (the fast backend) or f64 (the twin, the reference, 3 to 10 times
    /// slower); overrides the model file's `precision` (default f32). Ignored on the GPU.
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
}

pub fn train(t: &TrainCmd, ctx: Ctx) -> glasscam::Result<()> {
    let a = &t.args;
    for (given, flag) in [
        (t.target.is_some(), "--target"),
        (t.inherent.is_some(), "--inherent"),
    ] {
        if given && t.arch != Arch::Gn {
            return Err(glasscam::Error::Input(format!(
                "{flag}: the {} network classifies glasses and liquids; a per-particle target is learned with \
                 `--arch gn`",
                t.arch
            )));
        }
    }
    let _out = glasscam::io::outdir::claim(&a.out, &[&a.data], false, false)?;
    match t.arch {
        Arch::Cnn => {
            let file = a.model.as_deref().map(ModelConfig::from_file).transpose()?;
            let data = Dataset::load(&a.data)?;
            let mut cfg = file.unwrap_or_else(|| default_cnn(&data));
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            cfg.precision = a.precision.unwrap_or(cfg.precision);
            train_as::<Cnn>(a, &data, &cfg, ctx)
        }
        Arch::Mpnn => {
            if a.precision.is_some() {
                return Err(glasscam::Error::Input(
                    "--precision belongs to the CNN: the graph network trains in f32 on the CPU"
                        .into(),
                ));
            }
            let mut cfg = match &a.model {
                Some(p) => MpnnConfig::from_file(p)?,
                None => MpnnConfig::default(),
            };
            let data = Dataset::load(&a.data)?;
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            train_as::<Mpnn>(a, &data, &cfg, ctx)
        }
        Arch::Gn => {
            if a.precision.is_some() {
                return Err(glasscam::Error::Input(
                    "--precision belongs to the CNN: the propensity network trains in f32 on the CPU".into(),
                ));
            }
            let mut cfg = match &a.model {
                Some(p) => GnConfig::from_file(p)?,
                None => GnConfig::default(),
            };
            cfg.epochs = a.epochs.unwrap_or(cfg.epochs);
            cfg.target = t.target.clone().unwrap_or(cfg.target);
            train_gn(a, &cfg, t.inherent.as_deref(), ctx)
        }
    }
}

/// The CNN for a data set without `--model`: the one its simulation preset (recorded in its manifest) wants. The
/// paper's network learns nothing on the quick preset's glasses (docs/methods.md, "CNN").
fn default_cnn(data: &Dataset) -> ModelConfig {
    let preset = data
        .manifest
        .protocol
        .get("preset")
        .and_then(|p| p.as_str());
    if preset == Some("quick") {
        eprintln!("model: the quick preset's network (presets/quick-model.toml), as the data set's preset is quick; --model FILE for another");
        ModelConfig::quick()
    } else {
        ModelConfig::default()
    }
}

/// Trains a network of family `M` with `cfg` and writes its model directory.
fn train_as<M>(a: &TrainArgs, data: &Dataset, cfg: &M::Config, ctx: Ctx) -> glasscam::Result<()>
where
    M: Model<Objective = Classification>,
{
    let compute = select_compute(a.backend)?;
    let t = M::train(data, cfg, &compute, ctx)?;
    write_model(&a.out, &t)?;
    print_test(&t.metrics, M::ARCH, &a.out);
    Ok(())
}

/// Trains the propensity network on the data set's target `cfg.target` and writes its model directory.
fn train_gn(
    a: &TrainArgs,
    cfg: &GnConfig,
    inherent: Option<&Path>,
    ctx: Ctx,
) -> glasscam::Result<()> {
    let data = Dataset::load(&a.data)?;
    let inherent = inherent.map(InherentSet::load).transpose()?;
    let targets = dynamics::targets::load(&data, &cfg.target)?;
    let compute = select_compute(a.backend)?;
    let t = dynamics::train(&data, &targets, cfg, inherent.as_ref(), &compute, ctx)?;
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
        "test: accuracy glass {:.4} liquid {:.4}, ROC AUC {:.4} ({} {what}); best epoch {} of {}; trained on {}; \
         model in {}",
        m.test.of(Class::Glass),
        m.test.of(Class::Liquid),
        m.test.roc_auc,
        m.test.n,
        m.best_epoch,
        m.epochs,
        m.backend,
        out.display()
    );
    if at_chance(m.validation.roc_auc) {
        eprintln!(
            "warning: the validation ROC AUC is {:.3}, at chance: the network tells the classes apart no better than \
             a coin. Try another model file (--model; presets/quick-model.toml for quick data sets), more epochs, or \
             data whose classes differ more",
            m.validation.roc_auc
        );
    }
}

/// A validation result no better than guessing (or none at all).
fn at_chance(auc: f64) -> bool {
    auc.is_nan() || (auc - 0.5).abs() <= 0.05
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_validation_auc_near_a_half_or_missing_is_at_chance() {
        for auc in [0.5, 0.46, 0.54, f64::NAN] {
            assert!(super::at_chance(auc), "{auc}");
        }
        for auc in [0.0, 0.3, 0.7, 1.0] {
            assert!(!super::at_chance(auc), "{auc}");
        }
    }
}
