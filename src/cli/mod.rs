//! The binary's own modules: argument parsing lives in `main.rs` and here, console output only here.

pub mod render;
pub mod signals;
