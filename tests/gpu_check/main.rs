//! Every GPU-vs-CPU test (`tests/<kernel>_should_match_cpu.rs`) in one binary, for `scripts/gpu-check` to carry to
//! a GPU machine. Not part of `cargo test` (`test = false` in Cargo.toml): each file also runs on its own there.
//! `tests/shaders_validate.rs` checks that every such file is listed here.

// each file brings its own `mod common;`: the copies are the same module, loaded once per test file
#![allow(clippy::duplicate_mod)]

#[path = "../adam_should_match_cpu.rs"]
mod adam_should_match_cpu;
#[path = "../conv2d_backward_input_should_match_cpu.rs"]
mod conv2d_backward_input_should_match_cpu;
#[path = "../conv2d_backward_weight_should_match_cpu.rs"]
mod conv2d_backward_weight_should_match_cpu;
#[path = "../conv2d_forward_should_match_cpu.rs"]
mod conv2d_forward_should_match_cpu;
#[path = "../dense_backward_input_should_match_cpu.rs"]
mod dense_backward_input_should_match_cpu;
#[path = "../dense_backward_weight_should_match_cpu.rs"]
mod dense_backward_weight_should_match_cpu;
#[path = "../dense_forward_should_match_cpu.rs"]
mod dense_forward_should_match_cpu;
#[path = "../dropout_should_match_cpu.rs"]
mod dropout_should_match_cpu;
#[path = "../epoch_tally_should_match_cpu.rs"]
mod epoch_tally_should_match_cpu;
#[path = "../gather_augment_should_match_cpu.rs"]
mod gather_augment_should_match_cpu;
#[path = "../gnn_dropout_should_match_cpu.rs"]
mod gnn_dropout_should_match_cpu;
#[path = "../gnn_forward_should_match_cpu.rs"]
mod gnn_forward_should_match_cpu;
#[path = "../gnn_linear_backward_input_should_match_cpu.rs"]
mod gnn_linear_backward_input_should_match_cpu;
#[path = "../gnn_linear_backward_weight_should_match_cpu.rs"]
mod gnn_linear_backward_weight_should_match_cpu;
#[path = "../gnn_linear_should_match_cpu.rs"]
mod gnn_linear_should_match_cpu;
#[path = "../gnn_readout_input_should_match_cpu.rs"]
mod gnn_readout_input_should_match_cpu;
#[path = "../gnn_relu_backward_should_match_cpu.rs"]
mod gnn_relu_backward_should_match_cpu;
#[path = "../gnn_reverse_sub_backward_should_match_cpu.rs"]
mod gnn_reverse_sub_backward_should_match_cpu;
#[path = "../gnn_reverse_sub_should_match_cpu.rs"]
mod gnn_reverse_sub_should_match_cpu;
#[path = "../gnn_scale_rows_backward_should_match_cpu.rs"]
mod gnn_scale_rows_backward_should_match_cpu;
#[path = "../gnn_scale_rows_should_match_cpu.rs"]
mod gnn_scale_rows_should_match_cpu;
#[path = "../gnn_segment_mean_backward_should_match_cpu.rs"]
mod gnn_segment_mean_backward_should_match_cpu;
#[path = "../gnn_segment_mean_should_match_cpu.rs"]
mod gnn_segment_mean_should_match_cpu;
#[path = "../gnn_segment_softmax_backward_should_match_cpu.rs"]
mod gnn_segment_softmax_backward_should_match_cpu;
#[path = "../gnn_segment_softmax_should_match_cpu.rs"]
mod gnn_segment_softmax_should_match_cpu;
#[path = "../gnn_segment_sum_backward_should_match_cpu.rs"]
mod gnn_segment_sum_backward_should_match_cpu;
#[path = "../gnn_segment_sum_should_match_cpu.rs"]
mod gnn_segment_sum_should_match_cpu;
#[path = "../gnn_train_step_should_match_cpu.rs"]
mod gnn_train_step_should_match_cpu;
#[path = "../gradcam_should_match_cpu.rs"]
mod gradcam_should_match_cpu;
#[path = "../grid_sample_should_match_cpu.rs"]
mod grid_sample_should_match_cpu;
#[path = "../gridize_bin_should_match_cpu.rs"]
mod gridize_bin_should_match_cpu;
#[path = "../gridize_should_match_cpu.rs"]
mod gridize_should_match_cpu;
#[path = "../loop_probe_should_match_cpu.rs"]
mod loop_probe_should_match_cpu;
#[path = "../md_crsd_should_match_cpu.rs"]
mod md_crsd_should_match_cpu;
#[path = "../md_fire_should_match_cpu.rs"]
mod md_fire_should_match_cpu;
#[path = "../md_forces_should_match_cpu.rs"]
mod md_forces_should_match_cpu;
#[path = "../md_step_should_match_cpu.rs"]
mod md_step_should_match_cpu;
#[path = "../mean_pool_backward_should_match_cpu.rs"]
mod mean_pool_backward_should_match_cpu;
#[path = "../mean_pool_should_match_cpu.rs"]
mod mean_pool_should_match_cpu;
#[path = "../relu_backward_should_match_cpu.rs"]
mod relu_backward_should_match_cpu;
#[path = "../softmax_xent_should_match_cpu.rs"]
mod softmax_xent_should_match_cpu;
#[path = "../standardize_should_match_cpu.rs"]
mod standardize_should_match_cpu;
#[path = "../train_step_should_match_cpu.rs"]
mod train_step_should_match_cpu;
