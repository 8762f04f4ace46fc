//! Scoring of the GlassBench pipeline: the network's predictions on the test configurations, Pearson per time
//! point per configuration then averaged (A particles only, and all species, as GlassBench and Bapst score),
//! `score.json`, the figure of Pearson against t / tau_alpha beside every baseline, the noise ceiling and
//! GlassBench's published curves, and a field map of predicted against true propensity.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::preset::Published;
use crate::analysis::baselines::scores;
use crate::analysis::plots::{configuration_panels, line_plot, particle_diameters, LinePlot};
use crate::error::{Error, Result};
use crate::io::dataset::Dataset;
use crate::learn::dynamics::TargetSet;

pub const SCORE: &str = "score.json";
/// `ScoreFile::format_version` this glasscam writes.
pub const FORMAT_VERSION: u32 = 1;

/// Pearson per time point, averaged over the test configurations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pearson {
    /// Over the A particles (species 0) of each configuration.
    pub a: Vec<Option<f64>>,
    /// Over every particle of each configuration.
    pub all: Vec<Option<f64>>,
}

/// The configuration the field map shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MapRecord {
    pub snapshot: usize,
    /// The time point shown (the one nearest tau_alpha), in units of tau_alpha.
    pub t_tau: f64,
    /// Pearson over this configuration's A particles at that time.
    pub pearson_a: Option<f64>,
}

/// `score.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ScoreFile {
    pub format_version: u32,
    pub target: String,
    /// [T] MD time units, and in units of tau_alpha.
    pub times: Vec<f64>,
    pub times_tau: Vec<f64>,
    pub tau_alpha: f64,
    /// The test configurations (snapshots of the targets' data set) scored.
    pub test_snapshots: Vec<usize>,
    pub network: Pearson,
    /// The target's noise ceiling per time point (A particles, every configuration; from targets.json).
    pub ceiling: Vec<Option<f64>>,
    pub map: MapRecord,
}

/// Pearson per time point of `pred` ([S, T, N] over `snapshots`) against `truth`, per configuration over the
/// particles of `mask`, averaged over the configurations where it is defined (the baselines' `scores`).
pub fn per_configuration(
    pred: &[f32],
    truth: &TargetSet,
    snapshots: &[usize],
    mask: &[bool],
) -> Vec<Option<f64>> {
    let (t, n) = (truth.n_times(), mask.len());
    let p: Vec<Vec<f64>> = (0..snapshots.len())
        .map(|k| {
            let block = &pred[k * t * n..(k + 1) * t * n];
            (0..n)
                .flat_map(|i| (0..t).map(move |j| f64::from(block[j * n + i])))
                .collect()
        })
        .collect();
    let y: Vec<Vec<f64>> = snapshots.iter().map(|&s| truth.node_major(s, n)).collect();
    scores(&p, &y, n, t, &|i| mask[i])
}

/// One curve of the Pearson figure.
pub struct Curve {
    pub label: String,
    /// (t / tau_alpha, Pearson)
    pub points: Vec<(f64, f64)>,
}

impl Curve {
    pub fn of(label: String, times_tau: &[f64], r: &[Option<f64>]) -> Curve {
        Curve {
            label,
            points: times_tau
                .iter()
                .zip(r)
                .filter_map(|(&t, r)| r.map(|r| (t, r)))
                .collect(),
        }
    }
}

/// Pearson against t / tau_alpha, to `stem.png`/`.svg`: ours (the network, the ceiling and the baselines); and to
/// `stem_glassbench.png`/`.svg`: the first `beside` of ours (solid) with GlassBench's published curves at their
/// temperature (dashed).
pub fn pearson_figure(
    stem: &Path,
    title: &str,
    (ours, beside): (Vec<Curve>, usize),
    published: &Published,
) -> Result<()> {
    let series: Vec<(String, Vec<(f64, f64)>)> =
        ours.into_iter().map(|c| (c.label, c.points)).collect();
    let plot = |stem: &Path, series: &[(String, Vec<(f64, f64)>)], dashed: &[usize]| {
        line_plot(
            stem,
            &LinePlot {
                title,
                x_label: "t / tau_alpha",
                y_label: "Pearson (A particles)",
                series,
                log_x: true,
                dashed,
            },
        )
    };
    plot(stem, &series, &[])?;
    let mut both: Vec<(String, Vec<(f64, f64)>)> = series.into_iter().take(beside).collect();
    let first = both.len();
    for c in published.curves.iter().filter(|c| c.figure) {
        both.push((
            format!("{} (GlassBench, T = {:.2})", c.name, published.temperature),
            published
                .times
                .iter()
                .zip(&c.pearson)
                .map(|(&t, &r)| (t / published.tau_alpha, r))
                .collect(),
        ));
    }
    let dashed: Vec<usize> = (first..both.len()).collect();
    let name = stem.file_name().unwrap_or_default().to_string_lossy();
    plot(
        &stem.with_file_name(format!("{name}_glassbench")),
        &both,
        &dashed,
    )?;
    Ok(())
}

/// Predicted beside true values of one configuration at one time point, to `stem.png` and `stem.svg`.
pub fn field_map_pair(
    stem: &Path,
    data: &Dataset,
    snapshot: usize,
    t_tau: f64,
    [pred, truth]: [&[f64]; 2],
) -> Result<()> {
    let d = particle_diameters(&data.species, &data.manifest.system.diameters());
    let pos = data.snapshot(snapshot);
    if pos.len() != 2 * pred.len() || pred.len() != truth.len() {
        return Err(Error::Input(format!(
            "field map of snapshot {snapshot}: {} positions for {} predicted and {} true values",
            pos.len() / 2,
            pred.len(),
            truth.len()
        )));
    }
    let fields = [
        (
            format!("predicted, snapshot {snapshot}, t = {t_tau:.2} tau_alpha"),
            pred,
        ),
        (
            format!("true propensity, snapshot {snapshot}, t = {t_tau:.2} tau_alpha"),
            truth,
        ),
    ];
    configuration_panels(stem, [data.box_l(); 2], (pos, &d), &fields, 2)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_is_per_configuration_over_the_mask_then_averaged() {
        // two configurations of 4 particles, 1 time point; the mask leaves particle 3 out
        let truth = TargetSet {
            name: "propensity".into(),
            times: vec![1.0],
            values: vec![1.0, 2.0, 3.0, 100.0, 1.0, 2.0, 3.0, -100.0],
            test: None,
        };
        let pred = [1.0f32, 2.0, 3.0, 0.0, 3.0, 2.0, 1.0, 0.0];
        let mask = [true, true, true, false];
        let r = per_configuration(&pred, &truth, &[0, 1], &mask);
        assert_eq!(r.len(), 1);
        // +1 and -1 average to 0
        assert!(r[0].expect("defined").abs() < 1e-12, "{r:?}");
        let r = per_configuration(&pred[..4], &truth, &[0], &mask);
        assert!((r[0].expect("defined") - 1.0).abs() < 1e-12);
        // the unmasked particle 3 spoils the correlation
        let r = per_configuration(&pred[..4], &truth, &[0], &[true; 4]);
        assert!(r[0].expect("defined") < 0.9);
    }
}
