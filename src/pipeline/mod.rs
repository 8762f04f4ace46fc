//! The papers' staged pipelines: `oyama` (Oyama, Koyama & Kawasaki 2022) and `swanson` (Swanson et al. 2020), each
//! with its own stages behind the one `runner::Stage` trait and the one stage runner, and what their reports share.

pub mod oyama;
pub mod report;
pub mod runner;
pub mod swanson;
