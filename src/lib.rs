//! glasscam: batched glass-former MD, CNN glass/liquid classification, Grad-CAM and structural analysis.

pub mod analysis;
pub mod dataset;
pub mod error;
pub mod import;
pub mod npy;
pub mod system;

pub use error::{Error, Result};
pub use glasscam_kernels as kernels;
