//! `glasscam analyze`: arguments, the summary table on stdout, and the calls to the analysis engine.

use std::path::PathBuf;

use clap::Args;
use glasscam::analysis::{self, AnalyzeInput, CoarseGrain, GammaSet, SummaryRow};
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::io::import::{self, Format, SpeciesMap};
use glasscam::sim::system::SystemDef;

/// `glasscam analyze`
#[derive(Clone, Debug, Args)]
pub struct AnalyzeArgs {
    /// Data set directory written by `glasscam simulate`.
    #[arg(long, conflicts_with = "input", required_unless_present = "input")]
    pub data: Option<PathBuf>,
    /// A trajectory written by another program (every frame is analysed).
    #[arg(long, requires = "format", requires = "system")]
    pub input: Option<PathBuf>,
    /// Format of --input.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// System of --input: `abm`, `kam`, `ka2d` or a TOML system file (gives the Tong-Tanaka diameters).
    #[arg(long)]
    pub system: Option<String>,
    /// Map the file's atom types to species, e.g. `1=A,2=B` (default: a type named like a species is that
    /// species, else integer type t is species t-1).
    #[arg(long)]
    pub types: Option<String>,
    /// Grad-CAM directory (`gamma.npy` + `gradcam.json`); without it only Upsilon and Theta are analysed.
    #[arg(long)]
    pub gradcam: Option<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Coarse-graining length xi.
    #[arg(long, default_value_t = 3.0)]
    pub xi: f64,
    /// Coarse-graining cut-off in units of xi.
    #[arg(long, default_value_t = 3.0)]
    pub cutoff: f64,
    /// Snapshot (data set row, or frame number) drawn as field maps; default: the first glass one analysed.
    #[arg(long)]
    pub config: Option<usize>,
    /// Skip the figures.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn analyze(a: &AnalyzeArgs, ctx: Ctx) -> glasscam::Result<()> {
    let gamma = a.gradcam.as_deref().map(GammaSet::load).transpose()?;
    let coarse = CoarseGrain {
        xi: a.xi,
        cutoff_factor: a.cutoff,
    };
    // Keeps the data set alive for the borrowed configurations.
    let dataset;
    let system;
    let input = match (&a.data, &a.input, a.format, &a.system) {
        (Some(dir), _, _, _) => {
            dataset = Dataset::load(dir)?;
            AnalyzeInput {
                system: &dataset.manifest.system,
                source: dir.display().to_string(),
                fingerprint: Some(dataset.fingerprint.clone()),
                configs: analysis::dataset_configs(&dataset),
                gamma: gamma.as_ref(),
                coarse,
                skipped: Vec::new(),
            }
        }
        (None, Some(file), Some(format), Some(sys)) => {
            system = SystemDef::resolve(sys)?;
            let map = SpeciesMap::new(&system, a.types.as_deref())?;
            let imported = import::read(file, format, &map)?;
            let skipped: Vec<String> = imported.errors.iter().map(|e| e.to_string()).collect();
            for e in &skipped {
                ctx.warn(&format!("skipping {e}"));
            }
            if imported.frames.is_empty() {
                // the reader reports at least one error for a file without frames; say the first here
                let first = skipped.first().map_or("", String::as_str);
                return Err(glasscam::Error::Input(match skipped.len() {
                    0 | 1 => format!("no usable frame: {first}"),
                    k => format!("no usable frame: {first} (and {} more, above)", k - 1),
                }));
            }
            let source = file.display().to_string();
            AnalyzeInput {
                system: &system,
                configs: analysis::imported_configs(imported, &system, &source, ctx),
                source,
                fingerprint: None,
                gamma: gamma.as_ref(),
                coarse,
                skipped,
            }
        }
        _ => {
            return Err(glasscam::Error::Input(
                "give --data DIR, or --input FILE with --format and --system".into(),
            ))
        }
    };
    let result = analysis::analyze(input, ctx)?;
    analysis::write_analysis(&a.out, &result, !a.no_plots, a.config, a.gradcam.as_deref())?;
    print_summary(&result.summary);
    println!(
        "wrote {} configurations' analysis to {}",
        result.done.len(),
        a.out.display()
    );
    Ok(())
}

fn print_summary(rows: &[SummaryRow]) {
    println!(
        "{:<8} {:<16} {:<9} {:>9} {:>9} {:>6} {:>7} {:>5}",
        "class", "pair", "method", "mean", "std", "n", "paper", "sign"
    );
    for r in rows.iter().filter(|r| r.count > 0) {
        println!(
            "{:<8} {:<16} {:<9} {:>9.4} {:>9.4} {:>6} {:>7} {:>5}",
            r.class.name(),
            r.pair,
            r.method,
            r.mean.unwrap_or(f64::NAN),
            r.std.unwrap_or(f64::NAN),
            r.count,
            r.paper.map(|p| p.to_string()).unwrap_or_default(),
            match r.sign_agrees {
                Some(true) => "ok",
                Some(false) => "DIFF",
                None => "",
            }
        );
    }
}
