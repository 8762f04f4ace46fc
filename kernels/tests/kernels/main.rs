//! The kernel tests, one binary: every kernel of `registry::ALL` against its CPU twin in the module of its name
//! (GPU tests skip, saying so, without an adapter; `GLASSCAM_REQUIRE_GPU=1` makes that a failure), and beside
//! them the naga checks that need no GPU (`shaders`, which also checks that every kernel has its module), each
//! family under many dispatches at awkward sizes (`dispatch_stress`), whole networks on the GPU path against the
//! twin (`train_step`, `gnn_forward`, `gnn_train_step`, `gn_train_step`), the CNN's f32 CPU backend against the twin
//! (`cnn_f32`), and the fast CPU MD engine against the reference (`md_cpu`). `cargo test -p glasscam-kernels` runs
//! them all; scripts/gpu-check carries this binary to a GPU
//! machine.

mod common;
mod shared;

// the kernels, one module each
mod adam;
mod conv2d_backward_input;
mod conv2d_backward_weight;
mod conv2d_forward;
mod dense_backward_input;
mod dense_backward_weight;
mod dense_forward;
mod dropout;
mod epoch_tally;
mod gather_augment;
mod gnn_columns;
mod gnn_dropout;
mod gnn_edge_input;
mod gnn_edge_input_backward;
mod gnn_linear;
mod gnn_linear_backward_input;
mod gnn_linear_backward_weight;
mod gnn_masked_mse;
mod gnn_readout_input;
mod gnn_relu_backward;
mod gnn_reverse_sub;
mod gnn_reverse_sub_backward;
mod gnn_scale_rows;
mod gnn_scale_rows_backward;
mod gnn_segment_mean;
mod gnn_segment_mean_backward;
mod gnn_segment_softmax;
mod gnn_segment_softmax_backward;
mod gnn_segment_sum;
mod gnn_segment_sum_backward;
mod gradcam;
mod grid_sample;
mod gridize;
mod gridize_bin;
mod loop_probe;
mod md_crsd;
mod md_fire;
mod md_forces;
mod md_step;
mod mean_pool;
mod mean_pool_backward;
mod relu_backward;
mod softmax_xent;
mod standardize;

// beyond single kernels
mod cnn_f32;
mod dispatch_stress;
mod gn_train_step;
mod gnn_forward;
mod gnn_train_step;
mod md_cpu;
mod shaders;
mod train_step;
