//! The papers' staged pipelines: `oyama` (Oyama, Koyama & Kawasaki 2022) and `swanson` (Swanson et al. 2020).

pub mod oyama;
pub mod stages;
pub mod swanson;
