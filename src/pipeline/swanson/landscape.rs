//! The energy landscape along cooling ramps (Sastry, Debenedetti & Stillinger 1998; Swanson et al. 2020): E_IS(T)
//! per ramp as mean +- sd over replicas, the fast glass's E_IS level, and the ramp points the tasks pick, as
//! numbers (`Landscape`, JSON) and as a figure (PNG and SVG).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::plots::{both, s, Figure};
use crate::domain::Class;
use crate::error::{Error, Result};
use crate::io::json::write_json_atomic;
use crate::pipeline::swanson::task::{CurvePoint, RampData, Stats, TaskFile, TaskKind};

pub const FORMAT_VERSION: u32 = 1;

/// One ramp's E_IS(T).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Curve {
    /// "slow", "fast", ...
    pub label: String,
    pub source: PathBuf,
    /// Cooling rate |dT/dt| of the ramp (from its protocol), if known.
    pub cool_rate: Option<f64>,
    /// Highest T first.
    pub points: Vec<CurvePoint>,
}

/// A ramp point a task picks as its liquid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mark {
    pub task: String,
    /// The curve (label) the point lies on.
    pub curve: String,
    pub t: f64,
    pub e_is: Stats,
    /// Task 6's point (chosen by E_IS), drawn apart.
    pub equal_eis: bool,
}

/// What `landscape.json` holds: the numbers of the figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Landscape {
    pub format_version: u32,
    pub curves: Vec<Curve>,
    /// E_IS of the glass the horizontal line marks (the fast ramp's glass), if any.
    pub glass_level: Option<Level>,
    pub marks: Vec<Mark>,
}

/// A horizontal E_IS level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Level {
    pub label: String,
    pub e_is: Stats,
}

/// A ramp's curve; refused without inherent structures.
pub fn curve(label: &str, data: &RampData) -> Result<Curve> {
    Ok(Curve {
        label: label.into(),
        source: data.data.dir.clone(),
        cool_rate: data
            .data
            .manifest
            .protocol
            .get("cool_rate")
            .and_then(serde_json::Value::as_f64),
        points: data.curve()?,
    })
}

/// The landscape of a slow and a fast ramp: both curves, the fast glass's level, and the liquid point of every
/// pair task built on the slow ramp (task 6's marked).
pub fn swanson_landscape(
    slow: &RampData,
    fast: &RampData,
    tasks: &[TaskFile],
) -> Result<Landscape> {
    let glass = fast.select(&crate::pipeline::swanson::task::Pick::Own, Class::Glass)?;
    let glass_level = fast.e_is_stats(&glass.indices).map(|e_is| Level {
        label: "fast glass".into(),
        e_is,
    });
    let marks = tasks
        .iter()
        .filter(|t| t.kind == TaskKind::Pair && t.liquid().source_fingerprint == slow.fingerprint)
        .filter_map(|t| {
            let l = t.liquid();
            Some(Mark {
                task: t.name.clone(),
                curve: "slow".into(),
                t: l.target_t,
                e_is: l.e_is?,
                equal_eis: t.glass().source_fingerprint == fast.fingerprint,
            })
        })
        .collect();
    Ok(Landscape {
        format_version: FORMAT_VERSION,
        curves: vec![curve("slow", slow)?, curve("fast", fast)?],
        glass_level,
        marks,
    })
}

impl Figure for Landscape {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(s)?;
        let pts = self.curves.iter().flat_map(|c| c.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (0.0f64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
        for p in pts {
            x1 = x1.max(p.t);
            y0 = y0.min(p.e_is.mean - p.e_is.std);
            y1 = y1.max(p.e_is.mean + p.e_is.std);
        }
        if let Some(l) = &self.glass_level {
            y0 = y0.min(l.e_is.mean - l.e_is.std);
            y1 = y1.max(l.e_is.mean + l.e_is.std);
        }
        if !(y0.is_finite() && y1.is_finite()) {
            (y0, y1) = (-1.0, 0.0);
        }
        let pad = 0.08 * (y1 - y0).max(1e-3);
        (y0, y1) = (y0 - pad, y1 + pad);
        x1 = x1.max(0.1) * 1.05;
        x0 = x0.min(0.0);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Inherent-structure energy along the ramps",
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("T (ramp point)")
            .y_desc("E_IS per particle")
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(s)?;
        let colours = [
            RGBColor(31, 119, 180),
            RGBColor(214, 39, 40),
            GREEN,
            MAGENTA,
        ];
        for (i, c) in self.curves.iter().enumerate() {
            let col = colours[i % colours.len()];
            let v: Vec<(f64, f64)> = c.points.iter().map(|p| (p.t, p.e_is.mean)).collect();
            chart
                .draw_series(c.points.iter().map(|p| {
                    PathElement::new(
                        vec![
                            (p.t, p.e_is.mean - p.e_is.std),
                            (p.t, p.e_is.mean + p.e_is.std),
                        ],
                        col.stroke_width(1),
                    )
                }))
                .map_err(s)?;
            let label = match c.cool_rate {
                Some(r) => format!("{} ramp (rate {r:e})", c.label),
                None => format!("{} ramp", c.label),
            };
            chart
                .draw_series(LineSeries::new(v, col.stroke_width(2)))
                .map_err(s)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2))
                });
        }
        if let Some(l) = &self.glass_level {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, l.e_is.mean), (x1, l.e_is.mean)],
                    8,
                    5,
                    grey.stroke_width(2),
                ))
                .map_err(s)?
                .label(format!("{} E_IS {:.4}", l.label, l.e_is.mean))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2))
                });
        }
        // tasks that pick the same point share one circle and one label
        let mut groups: Vec<(f64, f64, Vec<&str>, bool)> = Vec::new();
        for m in &self.marks {
            match groups.iter_mut().find(|g| (g.0 - m.t).abs() < 1e-9) {
                Some(g) => {
                    g.2.push(&m.task);
                    g.3 |= m.equal_eis;
                }
                None => groups.push((m.t, m.e_is.mean, vec![&m.task], m.equal_eis)),
            }
        }
        let orange = RGBColor(255, 127, 14);
        for (t, e, names, equal) in groups {
            let (size, col) = if equal { (9, orange) } else { (6, BLACK) };
            chart
                .draw_series(std::iter::once(Circle::new(
                    (t, e),
                    size,
                    col.stroke_width(2),
                )))
                .map_err(s)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    names.join(", "),
                    (t, e + 0.04 * (y1 - y0)),
                    ("sans-serif", 13).into_font().color(&col),
                )))
                .map_err(s)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(s)?;
        Ok(())
    }
}

/// Writes `stem.json` (the numbers), `stem.png` and `stem.svg`; returns the three paths.
pub fn write_landscape(stem: &Path, landscape: &Landscape) -> Result<Vec<PathBuf>> {
    if landscape.curves.iter().all(|c| c.points.is_empty()) {
        return Err(Error::Plot {
            path: stem.to_path_buf(),
            message: "no ramp point has an inherent-structure energy; minimise the ramps first"
                .into(),
        });
    }
    let json = stem.with_extension("json");
    write_json_atomic(&json, landscape)?;
    let mut out = vec![json];
    out.extend(both(stem, (820, 560), landscape)?);
    Ok(out)
}
