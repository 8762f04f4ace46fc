//! The binary's own modules: argument parsing lives in `main.rs` and here, console output only here. One file per
//! command group; each parses its arguments into the library's typed inputs and prints what the engine returns.

pub mod analyze;
pub mod bench;
pub mod gnn;
pub mod nn;
pub mod propensity;
pub mod render;
pub mod reproduce;
pub mod signals;
pub mod task;

use glasscam::kernels::{BackendChoice, Compute};

/// Selects the backend and says which one on stderr (the library does not print).
pub fn select_compute(choice: BackendChoice) -> glasscam::Result<Compute> {
    let c = Compute::select(choice)?;
    eprintln!("backend: {}", c.describe());
    if let Some(note) = c.note() {
        eprintln!("note: {note}");
    }
    Ok(c)
}
