//! `glasscam import glassbench`: arguments and the summary of an import of GlassBench's KA2D archive.

use std::path::PathBuf;

use clap::Subcommand;
use glasscam::events::Ctx;
use glasscam::io::glassbench::{import_glassbench, GlassbenchImport};

/// What `glasscam import` reads.
#[derive(Subcommand)]
pub enum ImportWhat {
    /// GlassBench's KA2D archive (a temperature folder with train/ and test/) as a data set with targets.
    Glassbench {
        /// A temperature folder of KA2D_trajectories (e.g. KA2D_trajectories/T0.30), or of KA2D_models alone.
        dir: PathBuf,
        /// The same temperature's KA2D_models folder: its md_prop and bb_prop become the targets.
        #[arg(long)]
        models: Option<PathBuf>,
        /// The temperature, when neither file nor folder names give it.
        #[arg(long)]
        temperature: Option<String>,
        /// Times of the time codes present, ascending (comma-separated; the archive's T = 0.30 and 0.23 are
        /// built in).
        #[arg(long, value_delimiter = ',')]
        times: Option<Vec<f64>>,
        #[arg(long)]
        out: PathBuf,
        /// Replace a data set already at --out.
        #[arg(long)]
        force: bool,
    },
}

pub fn import(what: ImportWhat, ctx: Ctx) -> glasscam::Result<()> {
    match what {
        ImportWhat::Glassbench {
            dir,
            models,
            temperature,
            times,
            out,
            force,
        } => {
            let imp = GlassbenchImport {
                dir,
                models,
                times,
                temperature,
            };
            let s = import_glassbench(&imp, &out, force, ctx)?;
            let ceiling: Vec<String> = s
                .noise_ceiling_propensity
                .iter()
                .map(|c| c.map_or("n/a".into(), |c| format!("{c:.3}")))
                .collect();
            eprintln!(
                "imported {} configurations of {} particles ({} runs each) at T = {} into {}",
                s.configurations,
                s.n_particles,
                s.runs,
                s.temperature,
                out.display()
            );
            eprintln!("  times: {:?}", s.times);
            eprintln!(
                "  noise ceiling of the propensity (A): {}",
                ceiling.join(", ")
            );
            if let Some(d) = s.models_vs_runs {
                eprintln!("  largest |md_prop - propensity from the runs|: {d:.3e}");
            }
            Ok(())
        }
    }
}
