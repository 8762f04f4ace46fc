//! The graph network (Swanson et al. 2020; docs/methods.md, "Graph network") on the host: graphs from
//! configurations, Swanson's MPNN model file, training (`glasscam train --arch mpnn`), the model directory, the
//! attention metrics (`glasscam attention`) and the benchmark.
//!
//! A model directory holds `model.safetensors` (f32 tensors with the PyTorch names of `MpnnSpec::tensors`),
//! `config.json` (`MpnnModelFile`) and `metrics.json` (the shared `Metrics`).

pub mod attention;
pub mod bench;
pub mod config;
pub mod graph;
pub mod model;
pub mod train;

pub use config::{AttentionMode, MpnnConfig};
pub use model::Mpnn;
pub use train::train;
