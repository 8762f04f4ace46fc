//! The staged pipelines (`reproduce oyama`, `reproduce swanson`, `reproduce glassbench`) and the liquid-vs-glass tasks they build.
//!
//! One test binary per area (each links the whole library once); a module per former test file.

#[path = "../common/mod.rs"]
mod common;

mod reproduce;
mod reproduce_glassbench;
mod reproduce_swanson;
mod stages;
mod task;
