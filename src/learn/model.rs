//! A trained network as the rest of the library sees it: the model-file header both networks write, and the
//! `Model` trait (train on a data set, inputs from a data set, logits, save and load) that the CNN and the graph
//! network implement and that scoring, the pipelines and a next network build on.

use std::path::{Path, PathBuf};
use std::time::Instant;

use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::fit::{Fitted, Metrics, Objective};
use super::split::{Sets, Split};
use crate::domain::Class;
use crate::error::{Error, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::write_json_atomic;

pub use super::weights::WEIGHTS;
/// The model directory's configuration file.
pub const CONFIG: &str = "config.json";
/// The model directory's training record.
pub const METRICS: &str = "metrics.json";

/// The network families.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// The CNN on gridized images (Oyama et al. 2022; docs/methods.md, "CNN").
    Cnn,
    /// Swanson's directed message-passing network with bond attention on kNN graphs (docs/methods.md, "Graph
    /// network").
    Mpnn,
    /// Bapst et al.'s graph network that predicts a value per particle and time point, such as its propensity
    /// (docs/methods.md, "Propensity network").
    Gn,
}

impl Arch {
    pub const BOTH: [Arch; 2] = [Arch::Cnn, Arch::Mpnn];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Cnn => "cnn",
            Arch::Mpnn => "mpnn",
            Arch::Gn => "gn",
        }
    }

    /// The `format` its model files carry.
    pub fn format(self) -> &'static str {
        match self {
            Arch::Cnn => "glasscam-cnn",
            Arch::Mpnn => "glasscam-mpnn",
            Arch::Gn => "glasscam-gn",
        }
    }

    /// The command that writes its model directories (for messages).
    pub fn trainer(self) -> &'static str {
        match self {
            Arch::Cnn => "`glasscam train`",
            Arch::Mpnn => "`glasscam train --arch mpnn`",
            Arch::Gn => "`glasscam train --arch gn`",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor's name and shape, listed in config.json for readers without a safetensors library.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
}

impl TensorInfo {
    /// The list of a network's `(name, shape, offset)` tensors.
    pub fn list<S: AsRef<str>>(tensors: &[(S, Vec<usize>, usize)]) -> Vec<TensorInfo> {
        tensors
            .iter()
            .map(|(name, shape, _)| TensorInfo {
                name: name.as_ref().to_string(),
                shape: shape.clone(),
            })
            .collect()
    }
}

/// What every model directory's `config.json` holds besides its network's own settings (flattened into it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Header {
    /// The architecture: "glasscam-cnn", "glasscam-mpnn" or "glasscam-gn".
    pub format: String,
    /// Format version of the architecture's files.
    pub version: u32,
    /// Class score order: ["liquid", "glass"] (empty for a network that predicts values, not classes).
    pub classes: Vec<Class>,
    /// Box side of the training data.
    pub box_l: f64,
    /// The training data set directory.
    pub data: String,
    /// `Dataset::fingerprint` of the training data: the split's replicas name replicas of that data set only.
    #[serde(default)]
    pub data_fingerprint: String,
    /// `sha256:<hex>` of model.safetensors, checked on load.
    #[serde(default)]
    pub weights_sha256: String,
    pub split: Split,
    pub best_epoch: usize,
    /// The kept epoch's validation accuracy (a regression: its mean validation Pearson correlation).
    pub validation_accuracy: f64,
    pub tensors: Vec<TensorInfo>,
    /// How to rebuild the network elsewhere.
    pub layout: String,
}

impl Header {
    /// The header of a network of `arch` at `version` trained on `data` with `split`, after the epoch loop
    /// `fitted` under objective `O`, with its tensors and layout; the weights' checksum is filled in when it is
    /// saved.
    pub fn trained<O: Objective>(
        (arch, version): (Arch, u32),
        data: &Dataset,
        split: &Split,
        fitted: &Fitted<O::Log>,
        tensors: Vec<TensorInfo>,
        layout: &str,
    ) -> Header {
        Header {
            format: arch.format().into(),
            version,
            classes: Class::BOTH.to_vec(),
            box_l: data.box_l(),
            data: data.dir.display().to_string(),
            data_fingerprint: data.fingerprint.clone(),
            weights_sha256: String::new(),
            split: split.clone(),
            best_epoch: fitted.best_epoch(),
            validation_accuracy: fitted.validation_value::<O>(),
            tensors,
            layout: layout.into(),
        }
    }

    /// Refuses a file of another architecture or version, or with a split that lists a replica twice.
    pub fn check(&self, arch: Arch, version: u32, config: &Path) -> Result<()> {
        let bad = |message: String| Error::Model {
            path: config.to_path_buf(),
            message,
        };
        if self.format != arch.format() {
            return Err(bad(format!(
                "format `{}`, expected `{}`",
                self.format,
                arch.format()
            )));
        }
        if self.version != version {
            return Err(bad(format!(
                "version {}, this glasscam reads version {version}; retrain the model with this glasscam",
                self.version
            )));
        }
        self.split.check().map_err(bad)
    }

    /// Refuses to read the model's own split on a data set it was not trained on: the split names replicas of its
    /// training data only. `other` says what to use instead.
    pub fn check_split_data(&self, data: &Dataset, other: &str) -> Result<()> {
        if self.data_fingerprint != data.fingerprint {
            return Err(Error::Dataset {
                path: data.dir.clone(),
                message: format!(
                    "the model's test split names replicas of its training data set {} ({}), not of this one \
                     ({}); {other}",
                    self.data,
                    crate::analysis::gamma::short(&self.data_fingerprint),
                    crate::analysis::gamma::short(&data.fingerprint)
                ),
            });
        }
        let (lo, hi) = data.manifest.replica_range;
        if let Some(r) = self.split.test.iter().find(|r| !(lo..hi).contains(*r)) {
            return Err(Error::Dataset {
                path: data.dir.clone(),
                message: format!(
                    "the model's test split lists replica {r}, but the data set holds replicas {lo}..{hi}"
                ),
            });
        }
        Ok(())
    }
}

/// The targets, evaluation and epoch log of a model's objective.
pub type TargetsOf<M> = <<M as Model>::Objective as Objective>::Targets;
pub type EvalOf<M> = <<M as Model>::Objective as Objective>::Eval;
pub type LogOf<M> = <<M as Model>::Objective as Objective>::Log;

/// A trained network: what `write_model` puts in a model directory.
#[derive(Clone, Debug)]
pub struct Trained<M: Model> {
    /// `config.json` and `model.safetensors`: the parameters of the best validation epoch.
    pub model: M,
    /// `metrics.json`.
    pub metrics: Metrics<EvalOf<M>, LogOf<M>>,
}

/// What a training ran on: the data set, its split into parts, and when it started.
pub struct Run<'a> {
    pub data: &'a Dataset,
    pub sets: &'a Sets,
    pub compute: &'a Compute,
    pub epochs: usize,
    /// `Model::backend` of the run's settings and compute.
    pub backend: String,
    pub started: Instant,
}

impl<M: Model> Trained<M> {
    /// The end of a training: `model` (with the loop's kept parameters) scored by its objective on the validation
    /// and the test inputs (`parts`, each with its targets), and the record of the run (`metrics.json`).
    pub fn conclude(
        model: M,
        objective: &M::Objective,
        parts: [(&M::Inputs, &TargetsOf<M>); 2],
        fitted: Fitted<LogOf<M>>,
        run: Run,
    ) -> Result<Trained<M>> {
        let [validation, test] = parts;
        let validation =
            objective.evaluate(&model.logits(run.compute, validation.0)?, validation.1);
        let test = objective.evaluate(&model.logits(run.compute, test.0)?, test.1);
        let metrics = Metrics::new(
            run.data,
            run.backend,
            run.sets,
            run.epochs,
            fitted,
            validation,
            test,
            run.started,
        );
        Ok(Trained { model, metrics })
    }
}

/// A network family: how it trains on a data set, what it reads of a snapshot, its outputs, its files. A new
/// network implements this (and a `fit::Learner` for its steps) and shares the split, the epoch loop, the metrics,
/// the header and the scoring.
pub trait Model: Sized {
    const ARCH: Arch;
    /// The model file's settings (`train --model FILE`).
    type Config: Clone;
    /// What it reads of a list of snapshots: images, graphs.
    type Inputs;
    /// What it is trained to do.
    type Objective: Objective;

    /// Trains on `data` with `cfg` on `compute`, keeping the parameters of the best validation epoch.
    fn train(
        data: &Dataset,
        cfg: &Self::Config,
        compute: &Compute,
        ctx: Ctx,
    ) -> Result<Trained<Self>>;

    fn header(&self) -> &Header;
    /// The split fractions and seed of its training (a data set's test split is the one its trainer would take).
    fn split_rule(&self) -> ([f64; 3], u64);

    /// Reads a model directory; every mismatch between config and weights is refused with what differs.
    fn load(dir: &Path) -> Result<Self>;
    /// Writes `model.safetensors` and `config.json` (with the weights' checksum) into `dir`.
    fn save(&self, dir: &Path) -> Result<()>;

    /// Refuses a data set the model cannot read (species, box, particle count).
    fn check_fits(&self, dir: &Path, data: &Dataset) -> Result<()>;
    /// What its inputs depend on: models with equal keys read the same inputs of the same snapshots.
    fn input_key(&self) -> String;
    /// Its inputs for `snapshots` of `data` (after `check_fits`).
    fn inputs(
        &self,
        compute: &Compute,
        data: &Dataset,
        snapshots: &[usize],
    ) -> Result<Self::Inputs>;
    /// Its outputs (class scores, two per snapshot) on `inputs`.
    fn logits(&self, compute: &Compute, inputs: &Self::Inputs) -> Result<Vec<f64>>;

    /// Where it trains and scores with `cfg` on `compute`: the network's backend policy, recorded in
    /// `metrics.json` and in a pipeline's stage records.
    fn backend(cfg: &Self::Config, compute: &Compute) -> String;
}

/// One parameter tensor of a network: name, shape, offset into the flat parameter vector.
pub type Tensor<S> = (S, Vec<usize>, usize);

/// Writes `params` as the network's `tensors` into `dir/model.safetensors` (`advice` says what to change when a
/// weight is not finite) and `file` as `config.json`, with its header's version and the weights' checksum filled
/// in (`header` finds the header in the file).
pub fn save_files<F: Serialize + serde::de::DeserializeOwned + Clone, S: AsRef<str>>(
    dir: &Path,
    (arch, version): (Arch, u32),
    (tensors, params): (&[Tensor<S>], &[f32]),
    advice: &str,
    file: &F,
    header: fn(&mut F) -> &mut Header,
) -> Result<()> {
    let sum = super::weights::write(dir, (arch.format(), &[]), tensors, params, advice)?;
    let mut file = file.clone();
    let h = header(&mut file);
    h.version = version;
    h.weights_sha256 = sum;
    crate::io::json::write_json_readable(&dir.join(CONFIG), &file)
}

/// Writes the model directory: `metrics.json`, then `model.safetensors` and `config.json` (last: what makes the
/// model loadable, so a disk that fills up never leaves a loadable model without its metrics).
pub fn write_model<M: Model>(out: &Path, t: &Trained<M>) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    write_json_atomic(&out.join(METRICS), &t.metrics)?;
    t.model.save(out)
}

/// A model directory's `config.json` read as text, or a message naming the trainer that writes one.
pub fn read_config(dir: &Path, arch: Arch) -> Result<(PathBuf, Vec<u8>)> {
    let path = dir.join(CONFIG);
    let text = std::fs::read(&path).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!(
            "cannot read ({e}); is this a directory written by {}?",
            arch.trainer()
        ),
    })?;
    Ok((path, text))
}
