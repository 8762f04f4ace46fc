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
    /// Benchmarks: `bench md` (particle-steps/s, CPU twin vs GPU).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Print the compute backend that would be used.
    Info {
        #[arg(long, default_value = "auto")]
        backend: glasscam::kernels::BackendChoice,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// MD throughput at N = 2000 (KAM by default) for 1, 16, 256 and 1024 replicas.
    Md {
        /// auto|gpu|cpu; without it both the CPU twin and (when an adapter exists) the GPU path run.
        #[arg(long)]
        backend: Option<glasscam::kernels::BackendChoice>,
        /// Replica counts (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,16,256,1024")]
        replicas: Vec<usize>,
        #[arg(long, default_value = "kam")]
        system: String,
        /// Seconds of timing per row.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

fn backends_for_bench(choice: Option<glasscam::kernels::BackendChoice>) -> Vec<glasscam::kernels::Compute> {
    use glasscam::kernels::{gpu::shared_context, BackendChoice, Compute};
    match choice {
        Some(BackendChoice::Cpu) => vec![Compute::Cpu],
        Some(c) => Compute::select(c).map(|g| vec![g]).unwrap_or_default(),
        None => {
            let mut v = vec![Compute::Cpu];
            match shared_context() {
                Ok(ctx) => {
                    eprintln!("gpu: {}", ctx.describe());
                    v.push(Compute::Gpu(ctx));
                }
                Err(e) => eprintln!("no GPU adapter ({e}): CPU twin only"),
            }
            v
        }
    }
}

fn main() {
    let cli = Cli::parse();
    let result: glasscam::Result<()> = match cli.command {
        Command::Bench { what } => match what {
            BenchWhat::Md {
                backend,
                replicas,
                system,
                seconds,
            } => glasscam::system::SystemDef::resolve(&system).and_then(|sys| {
                glasscam::bench::bench_md(&sys, &backends_for_bench(backend), &replicas, seconds)
                    .map(|_| ())
            }),
        },
        Command::Info { backend } => glasscam::kernels::Compute::select(backend)
            .map(|c| println!("{}", c.describe()))
            .map_err(Into::into),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
