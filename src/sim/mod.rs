//! Simulation: systems as data, seeded starts, the cooling protocol run for many replicas, inherent structures
//! (FIRE), isoconfigurational ensembles, propensity and targets, and the MD benchmarks.

pub mod bench;
pub mod init;
pub mod minimize;
pub mod propensity;
pub mod protocol;
pub mod relax;
pub mod system;
pub mod targets;
