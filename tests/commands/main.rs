//! The command line: arguments, messages and exit codes of the `glasscam` binary, and kills at every point of a
//! run followed by `--resume`.
//!
//! One test binary per area (each links the whole library once); a module per former test file.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod gn;
mod kill_resume;
mod trust;
