//! Graph networks on the host: graphs from configurations, Swanson's MPNN model file, training
//! (`glasscam train --arch mpnn`), the model directory, and the attention metrics (`glasscam attention`).
//!
//! A model directory holds `model.safetensors` (f64 -> f32 tensors with the PyTorch names of `MpnnSpec::tensors`),
//! `config.json` (`MpnnModelFile`) and `metrics.json` (the CNN's `Metrics`).

pub mod attention;
pub mod bench;
pub mod config;
pub mod graph;
pub mod model;
pub mod train;

pub use config::{AttentionMode, MpnnConfig};
