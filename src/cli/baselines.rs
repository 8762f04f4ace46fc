//! `glasscam baselines`: arguments, the table of Pearson correlations per time point, and the call to the
//! descriptor baselines.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use glasscam::analysis::baselines::{self, BaselineReport, BaselineSettings};
use glasscam::events::Ctx;
use glasscam::io::dataset::Dataset;
use glasscam::io::targets::Targets;
use glasscam::sim::minimize::InherentSet;

/// `glasscam baselines`
#[derive(Args, Debug, Clone)]
pub struct BaselinesArgs {
    /// Data set with targets (from `glasscam targets` or `glasscam import glassbench`).
    #[arg(long)]
    pub data: PathBuf,
    /// Its inherent structures (`glasscam minimize --data DATA`); the descriptors are computed on them. Without:
    /// on the configurations themselves.
    #[arg(long)]
    pub inherent: Option<PathBuf>,
    /// The target scored.
    #[arg(long, default_value = "propensity")]
    pub target: String,
    /// Coarse-graining lengths xi (0: the raw descriptor).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4")]
    pub lengths: Vec<f64>,
    /// Ridge penalties tried (the validation error picks one per time point and species).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1e-4,1e-3,1e-2,1e-1,1,10,100,1000"
    )]
    pub lambdas: Vec<f64>,
    /// Training, validation and test fractions of the replicas: the propensity network's `split`.
    #[arg(long, value_delimiter = ',', default_value = "0.8,0.1,0.1")]
    pub split: Vec<f64>,
    /// Seed of the split: the propensity network's `seed`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory for baselines.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace a baselines.json already in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn baselines(a: &BaselinesArgs, ctx: Ctx) -> glasscam::Result<()> {
    let split: [f64; 3] = a.split.as_slice().try_into().map_err(|_| {
        glasscam::Error::Input(format!(
            "--split {:?}: give three fractions, training, validation, test (e.g. 0.8,0.1,0.1)",
            a.split
        ))
    })?;
    let settings = BaselineSettings {
        target: a.target.clone(),
        lengths: a.lengths.clone(),
        lambdas: a.lambdas.clone(),
        split,
        seed: a.seed,
    };
    settings.check()?;
    let mut inputs = vec![a.data.as_path()];
    inputs.extend(a.inherent.as_deref());
    let out = glasscam::io::outdir::claim(&a.out, &inputs, false, a.force)?;
    glasscam::io::outdir::no_overwrite(
        &a.out.join(baselines::BASELINES_JSON),
        a.force,
        "baselines",
    )?;
    let t0 = Instant::now();
    let data = Dataset::load(&a.data)?;
    let targets = Targets::load(&a.data, &data)?;
    let inherent = a.inherent.as_deref().map(InherentSet::load).transpose()?;
    let report = baselines::baselines(&data, &targets, inherent.as_ref(), &settings, &ctx)?;
    baselines::write_baselines(&out, &report, a.force)?;
    print_table(&report);
    eprintln!(
        "{} rows in {:.1} s; wrote {}",
        report.rows.len(),
        t0.elapsed().as_secs_f64(),
        a.out.join(baselines::BASELINES_JSON).display()
    );
    Ok(())
}

/// Pearson per time point over A particles, one row per baseline, the noise ceiling last.
fn print_table(r: &BaselineReport) {
    let s = &r.sizes;
    println!(
        "{}: Pearson per time point over A particles of the {} test configurations (per configuration, averaged; \
         signed), fitted on {} and validated on {}; {} particles ({} A), {} runs",
        r.target, s.test, s.train, s.validation, s.particles, s.particles_a, s.runs
    );
    let width = r
        .rows
        .iter()
        .map(|x| x.name.len())
        .max()
        .unwrap_or(8)
        .max(13);
    let cell = |x: Option<f64>| x.map_or_else(|| format!("{:>7}", "-"), |v| format!("{v:>7.3}"));
    let mut head = format!("{:<width$}", "t");
    for t in &r.times {
        head.push_str(&format!(" {t:>7.3}"));
    }
    println!("{head}");
    if let Some(tau) = r.tau_alpha {
        let mut line = format!("{:<width$}", "t / tau_alpha");
        for t in &r.times {
            line.push_str(&format!(" {:>7.3}", t / tau));
        }
        println!("{line}");
    }
    for row in &r.rows {
        let mut line = format!("{:<width$}", row.name);
        for &x in &row.pearson_a {
            line.push_str(&format!(" {}", cell(x)));
        }
        println!("{line}");
    }
    let mut line = format!("{:<width$}", "noise ceiling");
    for &x in &r.noise_ceiling {
        line.push_str(&format!(" {}", cell(x)));
    }
    println!("{line}");
}
