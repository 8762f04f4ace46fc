//! Files in and out: the data set format and `merge`, data sets with targets, `.npy` arrays, trajectory import and snapshot export, the
//! one safe way to write an output directory, and the JSON Schemas of every file contract.

pub mod dataset;
pub mod export;
pub mod glassbench;
pub mod import;
pub mod json;
pub mod npy;
pub mod npz;
pub mod outdir;
pub mod schemas;
pub mod targets;
