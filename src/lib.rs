//! glasscam: batched glass-former MD, CNN glass/liquid classification, Grad-CAM and structural analysis.

pub mod analysis;
pub mod bench;
pub mod dataset;
pub mod domain;
pub mod error;
pub mod events;
pub mod export;
pub mod gnn;
pub mod import;
pub mod init;
pub mod landscape;
pub mod minimize;
pub mod nn;
pub mod npy;
pub mod outdir;
pub mod paper;
pub mod propensity;
pub mod protocol;
pub mod report;
pub mod reproduce;
pub mod schemas;
pub mod score;
pub mod stages;
pub mod swanson;
pub mod system;
pub mod task;
pub mod weights;

pub use error::{Error, Result};
pub use glasscam_kernels as kernels;
