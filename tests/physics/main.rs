//! Physics and analysis: MD against physics, the cooling protocol, FIRE minima, propensity, and the structural
//! indicators and their correlations.
//!
//! One test binary per area (each links the whole library once); a module per former test file.

#[path = "../common/mod.rs"]
mod common;

mod analysis_analyze;
mod analysis_fields;
mod analysis_geometry;
mod baselines;
mod md_physics;
mod minimize;
mod propensity;
mod protocol;
mod relax;
mod targets;
