//! The cooling protocol (docs/methods.md, "MD protocol") run for many replicas: `schedule` (what is run), `runner` (chunks that fit
//! the device, progress and cancel through `events::Ctx`, resume, estimates) and `checkpoint` (the atomic,
//! checksummed state of an unfinished run).

pub mod checkpoint;
pub mod runner;
pub mod schedule;

pub use runner::{
    checkpoint_interval, default_chunk, md_backend, memory_estimate, run, RunOptions, PARTIAL,
};
pub use schedule::{ramp_temps, shard_range, Leg, Overrides, Protocol};
