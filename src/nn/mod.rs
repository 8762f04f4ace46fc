//! The CNN stage on the host: model configuration, the data set as images with its replica split, training
//! (`glasscam train`), Grad-CAM (`glasscam gradcam`), the model directory format, and the nn benchmark.
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

pub use bench::bench_nn;
pub use config::ModelConfig;
pub use gradcam::{run_gradcam, GradcamArgs};
pub use train::{run_train, TrainArgs};

/// Class index of each label: 0 liquid, 1 glass (as the data set's `label`).
pub const CLASS_NAMES: [&str; 2] = ["liquid", "glass"];

/// Class index of a class name.
pub fn class_index(name: &str) -> crate::Result<usize> {
    CLASS_NAMES
        .iter()
        .position(|&c| c == name)
        .ok_or_else(|| crate::Error::Input(format!("unknown class `{name}`: use glass or liquid")))
}
