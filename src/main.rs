//! The `glasscam` command line.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "glasscam", version, about = "GPU-first engine for finding the structures that make a glass a glass")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the compute backend that would be used.
    Info {
        #[arg(long, default_value = "auto")]
        backend: glasscam::kernels::BackendChoice,
    },
    /// Structural indicators and their correlations with Grad-CAM (SPEC §7-8).
    Analyze(glasscam::analysis::cli::AnalyzeArgs),
}

fn main() {
    let cli = Cli::parse();
    let result: glasscam::Result<()> = match cli.command {
        Command::Info { backend } => glasscam::kernels::Compute::select(backend)
            .map(|c| println!("{}", c.describe()))
            .map_err(Into::into),
        Command::Analyze(args) => glasscam::analysis::cli::run(&args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
