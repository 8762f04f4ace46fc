//! The cooling protocol of SPEC §3 run for many replicas: `schedule` (what is run), `runner` (chunks that fit
//! the device, progress and cancel through `events::Ctx`, resume, estimates) and `checkpoint` (the atomic,
//! checksummed state of an unfinished run).

pub mod checkpoint;
pub mod runner;
pub mod schedule;

use std::sync::OnceLock;

pub use runner::{default_chunk, md_backend, memory_estimate, run, RunOptions, PARTIAL};
pub use schedule::{shard_range, Protocol, Stage};

use crate::events::{Cancel, Ctx, Observer};

/// Transition only, for stages not yet handed a `Ctx` (reproduce, propensity): the cancel token and observer the
/// binary registered with `share_ctx`. Remove once every stage takes a `Ctx`.
static SHARED: OnceLock<(Cancel, &'static dyn Observer)> = OnceLock::new();

/// Registers the binary's cancel token and observer for `shared_ctx` (first call wins).
pub fn share_ctx(cancel: &Cancel, observer: &'static dyn Observer) {
    let _ = SHARED.set((cancel.clone(), observer));
}

/// The context registered with `share_ctx`, or a silent, never-cancelled one.
pub fn shared_ctx() -> Ctx<'static> {
    match SHARED.get() {
        Some((cancel, observer)) => Ctx::new(*observer, cancel),
        None => crate::events::quiet(),
    }
}

/// Transition wrapper: the binary installs the signal handler now; this does nothing.
pub fn catch_interrupts() {}

/// Transition wrapper for stages not yet handed a `Ctx`: whether the shared token was cancelled.
pub fn interrupted() -> bool {
    shared_ctx().cancel.is_cancelled()
}
