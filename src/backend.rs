//! The one backend policy. A user's `--backend auto|gpu|cpu` becomes the compute path here and nowhere else:
//! `auto` takes wgpu on a hardware GPU and the CPU twin otherwise (a software adapter is slower than the twin),
//! `gpu` takes any adapter, the software one included, and `cpu` the twins. Every stage, both networks included,
//! runs on what this resolves; where a network runs on that compute is its `Model::backend`. The benchmarks take
//! `cpu|gpu|both` instead, to time the paths side by side.

use glasscam_kernels::gpu::shared_context;
pub use glasscam_kernels::{BackendChoice, Compute};

use crate::error::{Error, Result};

/// A choice as the Python package and files spell it: `auto`, `gpu` or `cpu`.
pub fn parse(choice: &str) -> Result<BackendChoice> {
    choice
        .parse()
        .map_err(|e: String| Error::Input(format!("`backend`: {e}")))
}

/// The compute path for `choice`, and one line saying what was picked and why (with a driver's loop budget where
/// it has one): the library does not print, the caller shows the line.
pub fn resolve(choice: BackendChoice) -> Result<(Compute, String)> {
    Ok(Compute::resolve(choice)?)
}

/// Which paths a benchmark times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum BenchBackends {
    /// The CPU twin only.
    Cpu,
    /// The GPU path only, on any adapter (the software one included); refused without one.
    Gpu,
    /// The CPU twin, and the GPU path when an adapter exists.
    #[default]
    Both,
}

/// The computes a benchmark times, in table order (CPU first), and a line for each saying what it is.
pub fn bench_backends(choice: BenchBackends) -> Result<(Vec<Compute>, Vec<String>)> {
    let cpu = || {
        (
            Compute::Cpu,
            format!("cpu: CPU twin, {} threads", rayon::current_num_threads()),
        )
    };
    let mut computes = Vec::new();
    let mut lines = Vec::new();
    if choice != BenchBackends::Gpu {
        let (c, l) = cpu();
        computes.push(c);
        lines.push(l);
    }
    if choice != BenchBackends::Cpu {
        match shared_context() {
            Ok(ctx) => {
                let c = Compute::Gpu(ctx);
                lines.push(c.describe());
                if let Some(note) = c.note() {
                    lines.push(format!("note: {note}"));
                }
                computes.push(c);
            }
            Err(e) if choice == BenchBackends::Gpu => return Err(e.into()),
            Err(e) => lines.push(format!("no GPU adapter ({e}): the CPU twin only")),
        }
    }
    Ok((computes, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_by_name_and_the_cpu_needs_no_adapter() {
        assert_eq!(parse("cpu").unwrap(), BackendChoice::Cpu);
        let e = parse("tpu").unwrap_err().to_string();
        assert!(
            e.contains("`backend`") && e.contains("auto, gpu or cpu"),
            "{e}"
        );
        let (c, line) = resolve(BackendChoice::Cpu).unwrap();
        assert!(
            matches!(c, Compute::Cpu) && line.contains("as asked"),
            "{line}"
        );
        let (cs, lines) = bench_backends(BenchBackends::Cpu).unwrap();
        assert_eq!(cs.len(), 1);
        assert!(lines[0].starts_with("cpu: CPU twin"));
    }
}
