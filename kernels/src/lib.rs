//! glasscam's compute kernels. For each kernel: its WGSL (in its family's `shaders/`), its parameters (host
//! mirrors of the WGSL structs), its bindings, its launch on wgpu (one path for all: `launch.rs`), and its CPU
//! twin, the reference it is tested against (tests/kernels/, a module per kernel). The twins are also the CPU path
//! of the networks; MD has a fast CPU engine of its own beside its reference (`md::cpu`, `md::reference`).

pub mod error;
pub mod gnn;
pub mod gpu;
pub mod kernel;
pub mod launch;
pub mod md;
pub mod nn;
pub mod probe;
pub mod registry;
pub mod rng;
pub mod shaders;
pub mod tolerance;

pub use error::{KernelError, Result};
pub use gpu::{BackendChoice, Binding, Compute, GpuContext};
pub use launch::Encoder;
/// The naga the kernels are validated with (tests reflect shaders through it).
pub use naga;
