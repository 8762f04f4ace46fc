//! Figures of the analysis, each as PNG and SVG: violin plots of the per-configuration correlation
//! coefficients (glass vs liquid, the paper's Fig. 3) and particle field maps (Figs. 1-2).
//!
//! Text in PNGs is drawn with the bundled Open Sans (Apache-2.0, `assets/fonts/`) through ab_glyph, so no
//! system font library is needed; SVGs carry text as text.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::domain::Class;

use super::stats::kde;
use crate::error::{Error, Result};

static FONT: &[u8] = include_bytes!("../../assets/fonts/OpenSans-Regular.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in and known to parse; a failure would only lose the PNG text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_err(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |message| Error::Plot {
        path: path.to_path_buf(),
        message: plain(message),
    }
}

/// plotters wraps an I/O error in Rust debug values (`ImageError(IoError(Custom { .. }))`): the operating
/// system's words are what the user needs (e.g. "No space left on device").
fn plain(message: String) -> String {
    for key in ["error: \"", "message: \""] {
        if let Some(k) = message.find(key) {
            let rest = &message[k + key.len()..];
            if let Some(end) = rest.find('"') {
                return format!("cannot write the file: {}", &rest[..end]);
            }
        }
    }
    message
}

pub(crate) fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// A figure that can be drawn on any plotters backend (PNG and SVG are distinct types).
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

/// Draws `fig` into `stem.png` and `stem.svg`; returns both paths.
pub(crate) fn both<F: Figure>(stem: &Path, size: (u32, u32), fig: &F) -> Result<Vec<PathBuf>> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        fig.draw(&root).map_err(plot_err(&png))?;
        root.present().map_err(s).map_err(plot_err(&png))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        fig.draw(&root).map_err(plot_err(&svg))?;
        root.present().map_err(s).map_err(plot_err(&svg))?;
    }
    Ok(vec![png, svg])
}

/// One violin group: the coefficients of one class for every pair.
#[derive(Clone, Debug)]
pub struct ViolinClass {
    pub class: Class,
    /// `values[pair]`: the coefficients over configurations (NaN entries are ignored).
    pub values: Vec<Vec<f64>>,
}

fn class_colour(class: Class) -> RGBColor {
    match class {
        Class::Glass => RGBColor(31, 119, 180),
        Class::Liquid => RGBColor(214, 39, 40),
        Class::Other => RGBColor(127, 127, 127),
    }
}

/// The colour mixed 55 % towards white.
fn pale(c: RGBColor) -> RGBColor {
    let m = |v: u8| (v as f64 + 0.55 * (255.0 - v as f64)).round() as u8;
    RGBColor(m(c.0), m(c.1), m(c.2))
}

struct ViolinFig<'a> {
    title: &'a str,
    pair_labels: &'a [&'a str],
    classes: &'a [ViolinClass],
    paper: &'a [Option<f64>],
}

impl Figure for ViolinFig<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        violin_body(root, self.title, self.pair_labels, self.classes, self.paper)
    }
}

/// Violin plots of coefficients: one group per pair, one violin per class, a bar at each class mean; the
/// paper's value (where it gives a number) is a black line. Writes `stem.png` and `stem.svg`.
pub fn violin(
    stem: &Path,
    title: &str,
    pair_labels: &[&str],
    classes: &[ViolinClass],
    paper: &[Option<f64>],
) -> Result<Vec<PathBuf>> {
    both(
        stem,
        (900, 600),
        &ViolinFig {
            title,
            pair_labels,
            classes,
            paper,
        },
    )
}

fn violin_body<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    pair_labels: &[&str],
    classes: &[ViolinClass],
    paper: &[Option<f64>],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let ng = pair_labels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(10)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..ng, -1.05..1.18)
        .map_err(s)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("coefficient")
        // Avoids a "-0.0" tick.
        .y_label_formatter(&|v: &f64| format!("{:.1}", if v.abs() < 1e-9 { 0.0 } else { *v }))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(s)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (ng, 0.0)],
            BLACK.mix(0.3),
        )))
        .map_err(s)?;
    let nc = classes.len().max(1) as f64;
    let slot = 0.8 / nc;
    let ys: Vec<f64> = (0..=200).map(|k| -1.0 + 2.0 * k as f64 / 200.0).collect();
    for (g, label) in pair_labels.iter().enumerate() {
        chart
            .draw_series(std::iter::once(Text::new(
                label.to_string(),
                (g as f64 + 0.35, 1.14),
                ("sans-serif", 18).into_font(),
            )))
            .map_err(s)?;
        for (c, cls) in classes.iter().enumerate() {
            let x0 = g as f64 + 0.1 + slot * (c as f64 + 0.5);
            let vals = &cls.values[g];
            let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                continue;
            }
            let dens = kde(&finite, &ys);
            let peak = dens.iter().cloned().fold(0.0, f64::max).max(1e-12);
            let half = 0.45 * slot;
            // Only where the density is visible, so the outline hugs the data.
            let pts: Vec<(f64, f64)> = ys
                .iter()
                .zip(&dens)
                .filter(|(_, d)| **d > 1e-3 * peak)
                .map(|(y, d)| (x0 - half * d / peak, *y))
                .collect();
            let mut poly = pts.clone();
            poly.extend(pts.iter().rev().map(|(x, y)| (2.0 * x0 - x, *y)));
            let col = class_colour(cls.class);
            chart
                // An opaque pale fill: translucent polygons rasterise with seams in the bitmap backend.
                .draw_series(std::iter::once(Polygon::new(
                    poly.clone(),
                    pale(col).filled(),
                )))
                .map_err(s)?;
            let mut outline = poly;
            if let Some(p) = outline.first().copied() {
                outline.push(p);
            }
            chart
                .draw_series(std::iter::once(PathElement::new(
                    outline,
                    col.stroke_width(2),
                )))
                .map_err(s)?;
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let anno = chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0 - 0.5 * half, mean), (x0 + 0.5 * half, mean)],
                    col.stroke_width(3),
                )))
                .map_err(s)?;
            if g == 0 {
                anno.label(cls.class.name()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 15, y + 5)], col.filled())
                });
            }
        }
        // The paper's value on top of the violins.
        if let Some(p) = paper.get(g).copied().flatten() {
            let xc = g as f64 + 0.5;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(xc - 0.42, p), (xc + 0.42, p)],
                    BLACK.stroke_width(2),
                )))
                .map_err(s)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("paper {p}"),
                    (xc + 0.05, p + 0.04),
                    ("sans-serif", 14).into_font(),
                )))
                .map_err(s)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(s)?;
    Ok(())
}

/// Viridis, sampled at 9 points and interpolated linearly.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// Colour of t in [0, 1] on the viridis map.
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let k = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: u8, q: u8| (p as f64 + f * (q as f64 - p as f64)).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A field map: particles as disks of their diameters, coloured by `colour` (mapped from its min..max), and
/// optionally with opacity `alpha` (values in [0, 1]), like the paper's Figs. 1-2.
pub struct FieldMap<'a> {
    pub title: &'a str,
    pub box_l: [f64; 2],
    /// [x0, y0, ...]
    pub positions: &'a [f64],
    /// Disk diameter per particle.
    pub diameters: &'a [f64],
    pub colour: &'a [f64],
    pub alpha: Option<&'a [f64]>,
}

impl Figure for FieldMap<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(s)?;
        let (w, _) = root.dim_in_pixel();
        let (main, bar) = root.split_horizontally(w.saturating_sub(90));
        let [lx, ly] = self.box_l;
        // Disks at the box edge stick out by their radius: leave that much margin so they do not cover the
        // title and the axes.
        let (mw, _) = main.dim_in_pixel();
        let dmax = self.diameters.iter().cloned().fold(0.0, f64::max);
        let rmax = (0.5 * dmax * mw.saturating_sub(70) as f64 / lx).ceil() as u32;
        let mut chart = ChartBuilder::on(&main)
            .caption(self.title, ("sans-serif", 20))
            .margin(8 + rmax)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0.0..lx, 0.0..ly)
            .map_err(s)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(s)?;
        let (pw, _) = chart.plotting_area().dim_in_pixel();
        let px_per_unit = pw as f64 / lx;
        let (lo, hi) = self
            .colour
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let n = self.colour.len();
        chart
            .draw_series((0..n).map(|i| {
                let c = viridis((self.colour[i] - lo) / span);
                let a = self.alpha.map(|a| a[i].clamp(0.0, 1.0)).unwrap_or(1.0);
                let r = (0.5 * self.diameters[i] * px_per_unit).max(1.0).round() as i32;
                Circle::new(
                    (self.positions[2 * i], self.positions[2 * i + 1]),
                    r,
                    c.mix(a).filled(),
                )
            }))
            .map_err(s)?;
        // Colour bar.
        let (bw, bh) = bar.dim_in_pixel();
        let (top, bottom) = (40i32, bh as i32 - 40);
        let steps = 100;
        for k in 0..steps {
            let t = k as f64 / (steps - 1) as f64;
            let y1 = bottom - ((bottom - top) as f64 * (k + 1) as f64 / steps as f64) as i32;
            let y0 = bottom - ((bottom - top) as f64 * k as f64 / steps as f64) as i32;
            bar.draw(&Rectangle::new([(10, y1), (30, y0)], viridis(t).filled()))
                .map_err(s)?;
        }
        let fmt = |v: f64| {
            if v.abs() >= 100.0 || (v != 0.0 && v.abs() < 0.01) {
                format!("{v:.2e}")
            } else {
                format!("{v:.3}")
            }
        };
        let style = ("sans-serif", 13).into_font();
        bar.draw(&Text::new(fmt(hi), (34, top - 6), style.clone()))
            .map_err(s)?;
        bar.draw(&Text::new(fmt(lo), (34, bottom - 6), style))
            .map_err(s)?;
        let _ = bw;
        Ok(())
    }
}

/// Draws a field map to `stem.png` and `stem.svg`.
pub fn field_map(stem: &Path, map: &FieldMap) -> Result<Vec<PathBuf>> {
    both(stem, (760, 680), map)
}

/// One disk diameter per particle, from its species and the diameter of each species.
pub fn particle_diameters(species: &[u32], diameters: &[f64]) -> Vec<f64> {
    species.iter().map(|&s| diameters[s as usize]).collect()
}

/// Several fields of one configuration (positions `[x0, y0, ...]` in a box `box_l`, one disk diameter per
/// particle) as panels of one figure, one per (title, field), `cols` per row, to `stem.png` and `stem.svg`.
pub fn configuration_panels(
    stem: &Path,
    box_l: [f64; 2],
    (positions, diameters): (&[f64], &[f64]),
    fields: &[(String, &[f64])],
    cols: usize,
) -> Result<Vec<PathBuf>> {
    let maps: Vec<FieldMap> = fields
        .iter()
        .map(|(title, colour)| FieldMap {
            title,
            box_l,
            positions,
            diameters,
            colour,
            alpha: None,
        })
        .collect();
    field_panels(stem, &maps, cols)
}

/// Field maps side by side in a grid of `cols` columns, one panel each at `field_map`'s size: several fields of one
/// configuration (e.g. the attention field beside Gamma, the Voronoi area and 1 - Theta).
struct FieldPanels<'a> {
    maps: &'a [FieldMap<'a>],
    cols: usize,
}

impl Figure for FieldPanels<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(s)?;
        let rows = self.maps.len().div_ceil(self.cols);
        for (area, map) in root.split_evenly((rows, self.cols)).iter().zip(self.maps) {
            map.draw(area)?;
        }
        Ok(())
    }
}

/// Draws `maps` as panels of one figure, `cols` per row, to `stem.png` and `stem.svg`.
pub fn field_panels(stem: &Path, maps: &[FieldMap], cols: usize) -> Result<Vec<PathBuf>> {
    let cols = cols.clamp(1, maps.len().max(1));
    let rows = maps.len().div_ceil(cols).max(1);
    both(
        stem,
        (760 * cols as u32, 680 * rows as u32),
        &FieldPanels { maps, cols },
    )
}

/// Curves with markers, one series per label (e.g. C(Gamma, 1 - Delta) against delta, one per temperature).
pub struct LinePlot<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: &'a [(String, Vec<(f64, f64)>)],
    /// Logarithmic x axis (positive x only).
    pub log_x: bool,
    /// Series drawn dashed, by index (e.g. published curves beside measured ones); the others solid.
    pub dashed: &'a [usize],
}

impl Figure for LinePlot<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(s)?;
        let pts = || {
            self.series
                .iter()
                .flat_map(|(_, v)| v.iter())
                .filter(|p| p.0.is_finite() && p.1.is_finite())
        };
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for &(x, y) in pts() {
            if self.log_x && x <= 0.0 {
                continue;
            }
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (1.0, 10.0, 0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 * 2.0 + 1.0;
        }
        let pad = 0.05 * (y1 - y0).max(1e-3);
        let (y0, y1) = (y0 - pad, y1 + pad);
        let colours = [
            BLUE,
            RED,
            GREEN,
            MAGENTA,
            CYAN,
            BLACK,
            RGBColor(255, 127, 14),
            RGBColor(140, 86, 75),
            RGBColor(127, 127, 127),
            RGBColor(188, 189, 34),
        ];
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label)
                    .y_desc(self.y_label)
                    .label_style(("sans-serif", 14))
                    .draw()
                    .map_err(s)?;
                for (k, (label, v)) in self.series.iter().enumerate() {
                    let c = colours[k % colours.len()];
                    let v: Vec<(f64, f64)> = v
                        .iter()
                        .copied()
                        .filter(|p| {
                            p.0.is_finite() && p.1.is_finite() && (!self.log_x || p.0 > 0.0)
                        })
                        .collect();
                    if self.dashed.contains(&k) {
                        chart
                            .draw_series(DashedLineSeries::new(v.clone(), 8, 5, c.stroke_width(2)))
                            .map_err(s)?;
                    } else {
                        chart
                            .draw_series(LineSeries::new(v.clone(), c.stroke_width(2)))
                            .map_err(s)?;
                    }
                    chart
                        .draw_series(v.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(s)?
                        .label(label.clone())
                        .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(s)?;
            }};
        }
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(self.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if self.log_x {
            body!(builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(s)?);
        } else {
            body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(s)?);
        }
        Ok(())
    }
}

/// Draws a line plot into `stem.png` and `stem.svg`.
pub fn line_plot(stem: &Path, plot: &LinePlot) -> Result<Vec<PathBuf>> {
    both(stem, (720, 520), plot)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_full_disk_is_said_in_the_systems_words_not_debug_values() {
        let m = super::plain(
            "backend error: Drawing backend error: ImageError(IoError(Custom { kind: Other, error: \"No space \
             left on device (os error 28)\" }))"
                .into(),
        );
        assert_eq!(
            m,
            "cannot write the file: No space left on device (os error 28)"
        );
        assert_eq!(super::plain("other".into()), "other");
    }
}
