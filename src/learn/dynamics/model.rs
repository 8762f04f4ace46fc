//! A trained propensity network on disk: `model.safetensors` (f32, the PyTorch names of `GnSpec::tensors`) and
//! `config.json` (the shared `Header`, the model file, the time grid and the targets' standardization), and the
//! network as a `Model`.

use std::path::{Path, PathBuf};

use glasscam_kernels::gnn::bapst::{self, GnGraph, GnSpec, GnTensor};
use glasscam_kernels::gnn::cpu::Real;
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::config::GnConfig;
use super::graph::{descriptor_scale, energy_scale, graphs, transformed};
use super::graph::{ColumnScale, DescriptorInputs, InherentInputs, Orthogonal};
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::fit::Regression;
use crate::learn::model::{read_config, save_files, Arch, Header, Model, Trained, WEIGHTS};
use crate::learn::weights;
use crate::sim::minimize::InherentSet;

/// `GnModelFile::header.version` this glasscam writes and reads.
pub const VERSION: u32 = 1;

pub const LAYOUT: &str = "nodes: every particle, x_v = onehot(species); edges: both directions of every pair closer \
    than `cutoff` (minimum image), x_e = (r_dst - r_src) / cutoff; with `inherent`, x_v = [onehot(species), u_x, \
    u_y, |u|, (e - inherent_energy[0]) / inherent_energy[1]] with u the displacement from the configuration to \
    its inherent structure and e the particle's energy there, and x_e = [(r_dst - r_src) / cutoff, (r'_dst - \
    r'_src) / cutoff] with r' the inherent structure's positions; with `descriptor_lengths`, the descriptor columns \
    `descriptors` (name, mean, std) follow in x_v, each as (d - mean) / std; every MLP is Linear, ReLU, Linear, ReLU (the \
    decoder: Linear, ReLU, Linear, ReLU, Linear); v_enc = node_encoder(x_v), e_enc = edge_encoder(x_e); v, e = \
    v_enc, e_enc; `steps` times: xv = [v, v_enc], e = edge_mlp([e, e_enc, xv[dst], xv[src]]), v = \
    node_mlp([sum of e over the edges into the node, xv]); z = decoder(v); prediction = target_mean + target_std \
    * z per time point; with `symmetrize`, the mean over the 8 rotations by multiples of 90 degrees, with and \
    without the mirror y -> -y, of x_e (and of u)";

/// `config.json` of a propensity-network model directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GnModelFile {
    #[serde(flatten)]
    pub header: Header,
    pub config: GnConfig,
    /// Species of the training data (width of the one-hot node inputs).
    pub n_species: usize,
    /// The time points [T] of the targets it predicts.
    pub times: Vec<f64>,
    /// Per time point, the training targets' mean and standard deviation: prediction = mean + std * output.
    pub target_mean: Vec<f64>,
    pub target_std: Vec<f64>,
    /// With `inherent`: the mean and standard deviation of the particles' energies in the inherent structures of
    /// the training configurations, which standardize that node input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherent_energy: Option<[f64; 2]>,
    /// With `descriptor_lengths`: the descriptor columns among the node inputs, in order, each with the mean and
    /// standard deviation over the training configurations' particles that standardize it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptors: Vec<ColumnScale>,
    /// With more than one of `members`: the epoch each member kept, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_epochs: Vec<usize>,
}

impl GnModelFile {
    pub fn spec(&self) -> GnSpec {
        self.config.spec(self.n_species, self.times.len())
    }

    /// The tensors in `model.safetensors`: `GnSpec::tensors` for one member; for more, each member's under
    /// `members.<k>.` (a PyTorch `nn.ModuleList` named `members`), one member's parameters after the other's.
    pub fn tensors(&self) -> Vec<GnTensor> {
        let spec = self.spec();
        let one = spec.tensors();
        if self.config.members == 1 {
            return one;
        }
        let n = spec.n_params();
        (0..self.config.members)
            .flat_map(|k| {
                one.iter().map(move |(name, shape, at)| {
                    (format!("members.{k}.{name}"), shape.clone(), at + k * n)
                })
            })
            .collect()
    }
}

/// A trained propensity network: its file and its parameters (f32), `GnModelFile::tensors` in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Gn {
    pub file: GnModelFile,
    pub params: Vec<f32>,
}

/// The standardized outputs [V, T] of each graph on the CPU twin in the precision of `params` (f32 for a model,
/// f64 for the reference), averaged over the square's symmetries when `symmetrize` (which turn the edge vectors
/// and the first `vectors` 2D vectors of the node inputs).
pub fn outputs<T: Real>(
    spec: &GnSpec,
    params: &[T],
    graphs: &[GnGraph],
    symmetrize: bool,
    vectors: usize,
) -> Vec<Vec<f64>> {
    graphs
        .iter()
        .map(|g| {
            if !symmetrize {
                return bapst::forward(spec, params, g)
                    .y()
                    .iter()
                    .map(|&x| x.f64())
                    .collect();
            }
            let frames = Orthogonal::square();
            let mut sum = vec![0.0; g.graph.n_nodes() * spec.outputs];
            for o in frames {
                let fw = bapst::forward(spec, params, &transformed(g, o, vectors));
                for (s, &y) in sum.iter_mut().zip(fw.y()) {
                    *s += y.f64();
                }
            }
            sum.iter().map(|s| s / frames.len() as f64).collect()
        })
        .collect()
}

/// The rows [V, T] of the nodes of species `species`, one graph after the other.
pub fn scored_rows(per_graph: &[Vec<f64>], graphs: &[GnGraph], species: u32, t: usize) -> Vec<f64> {
    per_graph
        .iter()
        .zip(graphs)
        .flat_map(|(y, g)| {
            g.graph
                .species
                .iter()
                .enumerate()
                .filter(move |(_, &s)| s == species)
                .flat_map(move |(v, _)| y[v * t..(v + 1) * t].iter().copied())
        })
        .collect()
}

impl Gn {
    pub fn spec(&self) -> GnSpec {
        self.file.spec()
    }

    /// The inherent-structure inputs this model takes from `set` (`--inherent`), refused when it takes none and
    /// `set` is given or the other way round.
    pub fn inherent_inputs<'a>(
        &self,
        set: Option<&'a InherentSet>,
    ) -> Result<Option<InherentInputs<'a>>> {
        let scale = self.file.inherent_energy.unwrap_or([0.0, 1.0]);
        inherent_inputs(&self.file.config, set, |_| Ok(scale))
    }

    /// The descriptor inputs this model takes, with their standardization.
    pub fn descriptor_inputs(&self) -> Option<DescriptorInputs> {
        let lengths = &self.file.config.descriptor_lengths;
        (!lengths.is_empty()).then(|| DescriptorInputs {
            lengths: lengths.clone(),
            columns: self.file.descriptors.clone(),
        })
    }

    /// The graphs of snapshots `idx` of `data` with every input this model takes.
    pub fn graphs(
        &self,
        data: &Dataset,
        idx: &[usize],
        inherent: Option<&InherentSet>,
    ) -> Result<Vec<GnGraph>> {
        let inputs = self.inherent_inputs(inherent)?;
        let desc = self.descriptor_inputs();
        graphs(
            data,
            self.file.config.cutoff,
            idx,
            inputs.as_ref(),
            desc.as_ref(),
        )
    }

    /// The standardized outputs [V, T] of each graph on the f32 CPU twin, the mean over the members.
    pub fn outputs(&self, graphs: &[GnGraph]) -> Vec<Vec<f64>> {
        let (c, spec) = (&self.file.config, self.spec());
        let members: Vec<Vec<Vec<f64>>> = self
            .params
            .chunks_exact(spec.n_params())
            .map(|p| outputs(&spec, p, graphs, c.symmetrize, c.node_vectors()))
            .collect();
        let k = members.len() as f64;
        let mut mean = members[0].clone();
        for m in &members[1..] {
            for (a, b) in mean.iter_mut().flatten().zip(m.iter().flatten()) {
                *a += b;
            }
        }
        mean.iter_mut().flatten().for_each(|a| *a /= k);
        mean
    }

    /// Predictions of every particle of snapshots `idx` of `data`, [S', T, N] row-major (the targets' layout),
    /// in the targets' units; `inherent`: the inherent structures of `data`, for a model that takes them.
    pub fn predict(
        &self,
        data: &Dataset,
        idx: &[usize],
        inherent: Option<&InherentSet>,
    ) -> Result<Vec<f32>> {
        let gs = self.graphs(data, idx, inherent)?;
        let (t, n) = (self.file.times.len(), data.n_particles());
        let ys = self.outputs(&gs);
        let mut out = vec![0f32; idx.len() * t * n];
        for (k, y) in ys.iter().enumerate() {
            for i in 0..n {
                for j in 0..t {
                    out[(k * t + j) * n + i] =
                        (self.file.target_mean[j] + self.file.target_std[j] * y[i * t + j]) as f32;
                }
            }
        }
        Ok(out)
    }

    /// Refuses targets on another time grid than the model's.
    pub fn check_times(&self, dir: &Path, times: &[f64]) -> Result<()> {
        if times != self.file.times.as_slice() {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                message: format!(
                    "the model predicts at times {:?} but the targets hold times {times:?}; score it on targets of \
                     its own time grid or retrain it on these",
                    self.file.times
                ),
            });
        }
        Ok(())
    }
}

/// The inherent-structure inputs of a network with settings `cfg` from `set`, with the energy scale from `scale`;
/// refused when the network takes them and `set` is missing, or the other way round.
pub fn inherent_inputs<'a>(
    cfg: &GnConfig,
    set: Option<&'a InherentSet>,
    scale: impl FnOnce(&'a InherentSet) -> Result<[f64; 2]>,
) -> Result<Option<InherentInputs<'a>>> {
    match (cfg.inherent, set) {
        (false, None) => Ok(None),
        (true, Some(set)) => Ok(Some(InherentInputs {
            set,
            energy: scale(set)?,
        })),
        (true, None) => Err(Error::Input(
            "the network takes the inherent structures (`inherent = true` in its model file): give those of this \
             data set with `--inherent DIR`, written by `glasscam minimize --data DATA --out DIR`"
                .into(),
        )),
        (false, Some(set)) => Err(Error::Input(format!(
            "inherent structures {} were given, but the network does not take them: set `inherent = true` in its \
             model file, or leave `--inherent` out",
            set.data.dir.display()
        ))),
    }
}

/// The node inputs of a new network with settings `cfg` (`set`: the inherent structures of `data`, which it takes
/// when `cfg.inherent`), standardized over snapshots `idx` of `data`.
pub fn scaled_inputs<'a>(
    data: &Dataset,
    cfg: &GnConfig,
    set: Option<&'a InherentSet>,
    idx: &[usize],
) -> Result<(Option<InherentInputs<'a>>, Option<DescriptorInputs>)> {
    let inherent = inherent_inputs(cfg, set, |set| energy_scale(data, set, idx))?;
    let lengths = &cfg.descriptor_lengths;
    let desc = match lengths.is_empty() {
        true => None,
        false => Some(DescriptorInputs {
            lengths: lengths.clone(),
            columns: descriptor_scale(data, set, idx, lengths)?,
        }),
    };
    Ok((inherent, desc))
}

/// Writes weights and config into `dir`, with the weights' checksum in config.json.
pub fn save(dir: &Path, file: &GnModelFile, params: &[f32]) -> Result<()> {
    save_files(
        dir,
        (Arch::Gn, VERSION),
        (&file.tensors(), params),
        "lower `lr` and check the targets",
        file,
        |f| &mut f.header,
    )
}

/// Reads a propensity-network model directory; every mismatch between config and weights is refused with what
/// differs.
pub fn load(dir: &Path) -> Result<Gn> {
    let bad = |path: PathBuf, message: String| Error::Model { path, message };
    let (cpath, text) = read_config(dir, Arch::Gn)?;
    let file: GnModelFile = serde_json::from_slice(&text).map_err(|e| {
        bad(
            cpath.clone(),
            format!("not a propensity-network model config ({e}); train one with `glasscam train --arch gn`"),
        )
    })?;
    file.header.check(Arch::Gn, VERSION, &cpath)?;
    file.config.check().map_err(|m| bad(cpath.clone(), m))?;
    let t = file.times.len();
    if file.config.inherent
        && file
            .inherent_energy
            .is_none_or(|[_, s]| !(s > 0.0 && s.is_finite()))
    {
        return Err(bad(
            cpath,
            "the network takes the inherent structures but `inherent_energy` (the mean and standard deviation of \
             their energies) is missing or not positive; train it again"
                .into(),
        ));
    }
    let nd = file.config.n_descriptors();
    if file.descriptors.len() != nd
        || file
            .descriptors
            .iter()
            .any(|c| !(c.std > 0.0 && c.std.is_finite()))
    {
        return Err(bad(
            cpath,
            format!(
                "the network takes {nd} descriptor columns (`descriptor_lengths` {:?}) but `descriptors` lists {} \
                 with their standardization, or a standard deviation that is not positive; train it again",
                file.config.descriptor_lengths,
                file.descriptors.len()
            ),
        ));
    }
    if t == 0 || file.target_mean.len() != t || file.target_std.len() != t {
        return Err(bad(
            cpath,
            format!(
                "{} times, {} target means and {} standard deviations: one of each per time point is needed",
                t,
                file.target_mean.len(),
                file.target_std.len()
            ),
        ));
    }
    let spec = file.spec();
    spec.check()
        .map_err(|e| bad(cpath.clone(), e.to_string()))?;
    let wpath = dir.join(WEIGHTS);
    let bytes = std::fs::read(&wpath).at(&wpath)?;
    let note = |_: &str| {
        format!(
            " (hidden {}, {} species, {} time points)",
            spec.hidden, spec.n_species, spec.outputs
        )
    };
    let params = weights::read(
        &wpath,
        &bytes,
        &file.header.weights_sha256,
        &file.tensors(),
        spec.n_params() * file.config.members,
        note,
    )?;
    Ok(Gn { file, params })
}

impl Model for Gn {
    const ARCH: Arch = Arch::Gn;
    type Config = GnConfig;
    type Inputs = Vec<GnGraph>;
    type Objective = Regression;

    /// Trains on the data set's target `cfg.target`, without inherent structures (`train::train` takes them).
    fn train(data: &Dataset, cfg: &GnConfig, compute: &Compute, ctx: Ctx) -> Result<Trained<Gn>> {
        let targets = super::targets::load(data, &cfg.target)?;
        super::train::train(data, &targets, cfg, None, compute, ctx)
    }

    fn header(&self) -> &Header {
        &self.file.header
    }

    fn split_rule(&self) -> ([f64; 3], u64) {
        (self.file.config.split, self.file.config.seed)
    }

    fn load(dir: &Path) -> Result<Gn> {
        load(dir)
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save(dir, &self.file, &self.params)
    }

    fn check_fits(&self, dir: &Path, data: &Dataset) -> Result<()> {
        let ns = data.manifest.system.n_species();
        if ns != self.file.n_species {
            return Err(Error::Model {
                path: dir.to_path_buf(),
                message: format!(
                    "the model takes {} species (one-hot node inputs) but the data set {} has {ns}; retrain on \
                     this system",
                    self.file.n_species,
                    data.dir.display()
                ),
            });
        }
        Ok(())
    }

    fn input_key(&self) -> String {
        let c = &self.file.config;
        format!(
            "gn cutoff {} inherent {} descriptors {:?}",
            c.cutoff, c.inherent, c.descriptor_lengths
        )
    }

    /// The graphs without inherent structures (a network that takes them is refused with what to give).
    fn inputs(&self, _: &Compute, data: &Dataset, snapshots: &[usize]) -> Result<Vec<GnGraph>> {
        self.graphs(data, snapshots, None)
    }

    /// The standardized outputs [particles, T] of the scored species' particles, on the f32 CPU twin.
    fn logits(&self, _: &Compute, graphs: &Vec<GnGraph>) -> Result<Vec<f64>> {
        let ys = self.outputs(graphs);
        Ok(scored_rows(
            &ys,
            graphs,
            self.file.config.species,
            self.file.times.len(),
        ))
    }

    /// Training steps on `compute` in f32 (forward, loss and backward in WGSL on a GPU; the clip and Adam on the
    /// host); validation, test scores and predictions on the CPU twin.
    fn backend(_: &Self::Config, compute: &Compute) -> String {
        match compute {
            Compute::Cpu => "cpu twin (f32)".into(),
            Compute::Gpu(_) => format!("{} (f32)", compute.describe()),
        }
    }
}
