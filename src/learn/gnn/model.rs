//! A trained graph network on disk: `model.safetensors` (f32, PyTorch names) and `config.json` beside it (the
//! shared `Header` and the network's own settings), and the graph network as a `Model`.

use std::path::{Path, PathBuf};

use glasscam_kernels::gnn::{GraphBatch, MpnnSpec};
use glasscam_kernels::Compute;
use serde::{Deserialize, Serialize};

use super::config::MpnnConfig;
use super::train::{graphs, predict};
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::learn::fit::Classification;
use crate::learn::model::{read_config, save_files, Arch, Header, Model, Trained, WEIGHTS};
use crate::learn::weights;

/// `MpnnModelFile::header.version` this glasscam writes and reads (2: `data_fingerprint` added).
pub const VERSION: u32 = 2;

pub const LAYOUT: &str = "directed kNN graph (both directions of every symmetrised pair), edge e = v->w; \
    f_e = [onehot(species v); (|r_w - r_v| - dist_mean) / dist_std]; a = W_i f (no bias); h = ReLU(a); \
    repeat depth-1 times: s_v = sum of h over edges into v, m_vw = s_v - h_wv, u = ReLU(a + W_h m) (no bias), \
    with attention: alpha = E_g * softmax over the graph's edges (or the batch's, attention = batch) of \
    v_a(ReLU(W_a u)), u = alpha u; h = u; readout r_v = ReLU(W_o [onehot(species v); sum of h over edges into v]); \
    g = mean of r over the graph's nodes; scores [liquid, glass] = ffn2(ReLU(ffn1 g)); dropout only in training";

/// `config.json` of a graph-network model directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MpnnModelFile {
    #[serde(flatten)]
    pub header: Header,
    pub config: MpnnConfig,
    /// Species of the training data (width of the one-hot features).
    pub n_species: usize,
    /// The distance feature is (d - dist_mean) / dist_std (training graphs' mean and standard deviation).
    pub dist_mean: f64,
    pub dist_std: f64,
}

impl MpnnModelFile {
    pub fn spec(&self) -> MpnnSpec {
        self.config
            .spec(self.n_species, (self.dist_mean, self.dist_std))
    }
}

/// A trained graph network: its file and its parameters (f32) in `file.header.tensors` order.
#[derive(Clone, Debug, PartialEq)]
pub struct Mpnn {
    pub file: MpnnModelFile,
    pub params: Vec<f32>,
}

impl Mpnn {
    /// The parameters for the f64 twin (the attention analysis runs in f64 on the stored f32 values).
    pub fn params_f64(&self) -> Vec<f64> {
        self.params.iter().map(|&x| x as f64).collect()
    }
}

/// Writes weights and config into `dir`, with the weights' checksum in config.json.
pub fn save(dir: &Path, file: &MpnnModelFile, params: &[f32]) -> Result<()> {
    save_files(
        dir,
        (Arch::Mpnn, VERSION),
        (&file.spec().tensors(), params),
        "lower `lr` and check the data",
        file,
        |f| &mut f.header,
    )
}

/// Reads a graph-network model directory; every mismatch between config and weights is refused with what differs.
pub fn load(dir: &Path) -> Result<Mpnn> {
    let bad = |path: PathBuf, message: String| Error::Model { path, message };
    let (cpath, text) = read_config(dir, Arch::Mpnn)?;
    let file: MpnnModelFile = serde_json::from_slice(&text).map_err(|e| {
        bad(
            cpath.clone(),
            format!(
                "not a graph-network model config ({e}); a CNN model directory cannot be used here"
            ),
        )
    })?;
    file.header.check(Arch::Mpnn, VERSION, &cpath)?;
    file.config.check().map_err(|m| bad(cpath.clone(), m))?;
    let spec = file.spec();
    spec.check()
        .map_err(|e| bad(cpath.clone(), e.to_string()))?;
    let wpath = dir.join(WEIGHTS);
    let bytes = std::fs::read(&wpath).at(&wpath)?;
    let note = |_: &str| format!(" (hidden {}, {} species)", spec.hidden, spec.n_species);
    let params = weights::read(
        &wpath,
        &bytes,
        &file.header.weights_sha256,
        &spec.tensors(),
        spec.n_params(),
        note,
    )?;
    Ok(Mpnn { file, params })
}

/// Refuses data that does not fit a model: species count, k against the particles of a graph.
pub fn check_fits(file: &MpnnModelFile, model_dir: &Path, data: &Dataset) -> Result<()> {
    let ns = data.manifest.system.n_species();
    let bad = |message: String| Error::Model {
        path: model_dir.to_path_buf(),
        message,
    };
    if ns != file.n_species {
        return Err(bad(format!(
            "the model takes {} species (one-hot node features) but the data set {} has {ns}; retrain on this system",
            file.n_species,
            data.dir.display()
        )));
    }
    if file.config.k >= data.n_particles() {
        return Err(bad(format!(
            "the model uses k = {} neighbours but the data set {} has only {} particles",
            file.config.k,
            data.dir.display(),
            data.n_particles()
        )));
    }
    Ok(())
}

impl Model for Mpnn {
    const ARCH: Arch = Arch::Mpnn;
    type Config = MpnnConfig;
    type Inputs = Vec<GraphBatch>;
    type Objective = Classification;

    fn train(
        data: &Dataset,
        cfg: &MpnnConfig,
        compute: &Compute,
        ctx: Ctx,
    ) -> Result<Trained<Mpnn>> {
        super::train::train(data, cfg, compute, ctx)
    }

    fn header(&self) -> &Header {
        &self.file.header
    }

    fn split_rule(&self) -> ([f64; 3], u64) {
        (self.file.config.split, self.file.config.seed)
    }

    fn load(dir: &Path) -> Result<Mpnn> {
        load(dir)
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save(dir, &self.file, &self.params)
    }

    fn check_fits(&self, dir: &Path, data: &Dataset) -> Result<()> {
        check_fits(&self.file, dir, data)
    }

    fn input_key(&self) -> String {
        let c = &self.file.config;
        format!(
            "mpnn k {} window {:?} seed {}",
            c.k,
            c.window,
            if c.window.is_some() { c.seed } else { 0 }
        )
    }

    fn inputs(&self, _: &Compute, data: &Dataset, snapshots: &[usize]) -> Result<Vec<GraphBatch>> {
        graphs(data, &self.file.config, snapshots)
    }

    /// On the f32 CPU twin whatever `compute` is: the scores of the written model are the twin's.
    fn logits(&self, _: &Compute, graphs: &Vec<GraphBatch>) -> Result<Vec<f64>> {
        Ok(predict(
            &self.file.spec(),
            &self.params,
            graphs,
            self.file.config.batch,
        ))
    }

    /// Training on `compute` in f32 (the whole step in WGSL on a GPU); scores, attention and the reported
    /// metrics on the CPU twin.
    fn backend(_: &MpnnConfig, compute: &Compute) -> String {
        match compute {
            Compute::Cpu => "cpu twin (f32)".into(),
            Compute::Gpu(_) => format!("{} (f32)", compute.describe()),
        }
    }
}
