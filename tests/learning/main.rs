//! Learning: the networks' gradients, training, model files, Grad-CAM and attention, and the propensity network's
//! graphs, invariances and training.
//!
//! One test binary per area (each links the whole library once); a module per former test file.

#[path = "../common/mod.rs"]
mod common;

mod gn_graph;
mod gn_invariance;
mod gn_train;
mod gnn_attention_maps;
mod gnn_bad_input;
mod gnn_gradients;
mod gnn_graph;
mod gnn_train_gpu;
mod gradcam_planted;
mod nn_augment;
mod nn_bad_input;
mod nn_gradients;
mod nn_train_gradcam;
