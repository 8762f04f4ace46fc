//! Files in and out: every loader and parser refuses bad input with the exact message, never panics, and the
//! JSON Schemas match the types that write the files.
//!
//! One test binary per area (each links the whole library once); a module per former test file.

#[path = "../common/mod.rs"]
mod common;

mod analysis_import;
mod glassbench;
mod proptest_parsers;
mod schemas;
mod system_file;
mod targets;
mod three_species;
mod validate_checkpoint;
mod validate_dataset;
mod validate_import;
mod validate_model;
mod validate_params;
