//! Bapst et al.'s graph network (Nat. Phys. 2020; docs/methods.md, "Propensity network") on the host: cutoff
//! graphs of configurations, the model file, training on a data set's per-particle targets (`glasscam train
//! --arch gn`), predictions (`glasscam predict`) and the model directory.
//!
//! A model directory holds `model.safetensors` (f32 tensors with the PyTorch names of `GnSpec::tensors`),
//! `config.json` (`GnModelFile`) and `metrics.json` (the shared `Metrics` of a regression).

pub mod bench;
pub mod config;
pub mod graph;
pub mod model;
pub mod predict;
pub mod targets;
pub mod train;

pub use config::GnConfig;
pub use model::Gn;
pub use predict::{predict, write_predictions};
pub use targets::TargetSet;
pub use train::train;
