//! glasscam: batched glass-former MD, CNN and graph-network glass/liquid classification, Grad-CAM and attention,
//! structural analysis, and the papers' pipelines.
//!
//! The layers, each a folder: `sim` (systems, the cooling protocol, inherent structures, propensity), `learn` (the
//! learning core and the two networks), `analysis` (structural indicators and correlations), `pipeline` (the
//! staged reproductions of the papers) and `io` (data sets and the other file formats).

pub mod analysis;
pub mod backend;
pub mod domain;
pub mod error;
pub mod events;
pub mod io;
pub mod learn;
pub mod pipeline;
pub mod sim;

pub use error::{Error, Result};
pub use glasscam_kernels as kernels;
