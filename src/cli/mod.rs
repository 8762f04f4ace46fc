//! The binary's own modules: argument parsing lives in `main.rs` and here, console output only here. One file per
//! command group; each parses its arguments into the library's typed inputs and prints what the engine returns.

pub mod analyze;
pub mod baselines;
pub mod bench;
pub mod bench_nn;
pub mod dynamics;
pub mod gnn;
pub mod gradcam;
pub mod import;
pub mod propensity;
pub mod render;
pub mod reproduce;
pub mod signals;
pub mod simulate;
pub mod task;
pub mod train;

use glasscam::kernels::{BackendChoice, Compute};

/// The compute path for `--backend` (`glasscam::backend::resolve`, the one policy), saying on stderr which one
/// and why; the library does not print.
pub fn select_compute(choice: BackendChoice) -> glasscam::Result<Compute> {
    let (compute, line) = glasscam::backend::resolve(choice)?;
    eprintln!("{line}");
    Ok(compute)
}

/// One GPU device per adapter of `--adapters` (`glasscam::kernels::gpu::open_devices`), each named on stderr.
pub fn open_devices(list: &str) -> glasscam::Result<Vec<Compute>> {
    let devices = glasscam::kernels::gpu::open_devices(list)?;
    for (k, d) in devices.iter().enumerate() {
        eprintln!("device {k}: {}", d.describe());
    }
    Ok(devices.into_iter().map(Compute::Gpu).collect())
}

/// A library message for the command line: the library names the settings it refuses by their field names in
/// backticks (`runs`, `temps`, as a Python caller passes them); each one the invoked command takes as an option
/// becomes that option's flag (`--runs`). `options` pairs each argument's field name with its long flag.
pub fn with_flags(message: &str, options: &[(String, String)]) -> String {
    let mut out = message.to_string();
    for (field, flag) in options {
        out = out.replace(&format!("`{field}`"), &format!("--{flag}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_the_command_takes_become_flags_and_others_stay() {
        let options = vec![
            ("t_start".to_string(), "t-start".to_string()),
            ("runs".to_string(), "runs".to_string()),
        ];
        assert_eq!(
            with_flags(
                "`t_start` = 0.01 must lie above; `md.skin` is 0; `runs` and `runsx`",
                &options
            ),
            "--t-start = 0.01 must lie above; `md.skin` is 0; --runs and `runsx`"
        );
    }
}
