//! The CNN (Oyama et al. 2022; docs/methods.md, "CNN") on the host: model configuration, the data set as images,
//! training (the engine of `glasscam train`), Grad-CAM (of `glasscam gradcam`), the model directory format, and
//! the nn and gridization benchmarks.
//!
//! A model directory holds `model.safetensors` (f32 tensors with PyTorch names and layouts: `conv{i}.weight`
//! OIHW, `conv{i}.bias`, `fc1.weight` [hidden, C*G*G], `fc1.bias`, `fc2.weight` [classes, hidden], `fc2.bias`),
//! `config.json` (`ModelFile`: the configuration, input channels, box side, the replica split) and `metrics.json`.

pub mod bench;
pub mod config;
pub mod data;
pub mod gradcam;
pub mod model;
pub mod train;

pub use bench::bench_path;
pub use config::{ModelConfig, Precision};
pub use gradcam::{gradcam, select_snapshots, write_gradcam, Covered, GradcamResult, ReplicaSet};
pub use model::Cnn;
pub use train::train;
