//! The staged pipelines: `oyama` (Oyama, Koyama & Kawasaki 2022), `swanson` (Swanson et al. 2020) and
//! `glassbench` (GlassBench's structure-to-dynamics benchmark), each with its own stages behind the one
//! `runner::Stage` trait and the one stage runner, and what their reports share.

pub mod glassbench;
pub mod oyama;
pub mod report;
pub mod runner;
pub mod swanson;
