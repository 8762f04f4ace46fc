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
    /// Train the glass/liquid CNN on a data set.
    Train(glasscam::nn::TrainArgs),
    /// Grad-CAM maps and per-particle Gamma from a trained model.
    Gradcam(glasscam::nn::GradcamArgs),
}

fn main() {
    let cli = Cli::parse();
    let result: glasscam::Result<()> = match cli.command {
        Command::Info { backend } => glasscam::kernels::Compute::select(backend)
            .map(|c| println!("{}", c.describe()))
            .map_err(Into::into),
        Command::Train(args) => glasscam::nn::run_train(&args),
        Command::Gradcam(args) => glasscam::nn::run_gradcam(&args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
