//! `glasscam attention` draws the first configuration's attention field beside Grad-CAM Gamma, the Voronoi area and
//! 1 - Theta: one figure (PNG and SVG) whose four panels show the same particles at the same places.

use crate::common;

use std::collections::BTreeMap;

use glasscam::domain::Class;
use glasscam::kernels::Compute;
use glasscam::learn::gnn::attention::{attention, AttentionInput};
use glasscam::learn::gnn::MpnnConfig;

/// Panel size of `field_panels` (that of a single field map).
const PANEL: (i64, i64) = (760, 680);

/// A disk as drawn: centre x, y and radius in pixels, relative to its panel's corner.
type Disk = (i64, i64, i64);

#[test]
fn attention_field_map_sits_beside_gamma_voronoi_area_and_one_minus_theta() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let quiet = glasscam::events::quiet();
    // 25 replicas x 2 snapshots of 36 particles, a tiny CNN for Gamma and a tiny MPNN for the attention
    let (data, cnn) = common::trained_tiny(tmp.path());
    let all: Vec<usize> = (0..data.n_snapshots()).collect();
    let gc = glasscam::learn::cnn::gradcam::gradcam(
        (&Compute::Cpu, glasscam::learn::cnn::Precision::F32),
        &cnn,
        &data,
        Class::Glass,
        &all,
        16,
    )
    .expect("gradcam");
    let gc_dir = tmp.path().join("gradcam");
    glasscam::learn::cnn::gradcam::write_gradcam(&gc_dir, &gc).expect("write gradcam");
    let cfg = MpnnConfig {
        hidden: 8,
        depth: 2,
        epochs: 1,
        ..Default::default()
    };
    let mpnn = glasscam::learn::gnn::train(&data, &cfg, &Compute::Cpu, quiet).expect("train mpnn");
    let model = tmp.path().join("mpnn");
    glasscam::learn::model::write_model(&model, &mpnn).expect("write mpnn");
    let out = tmp.path().join("att");
    let report = attention(
        &AttentionInput {
            model,
            data: data.dir.clone(),
            all: false,
            threshold: 0.0025,
            gradcam: Some(gc_dir),
            out: out.clone(),
        },
        quiet,
    )
    .expect("attention");

    let k = report.configs[0].snapshot;
    let stem = out.join(format!("attention_map_{k}"));
    let png = std::fs::read(stem.with_extension("png")).expect("the PNG figure exists");
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(stem.with_extension("svg")).expect("the SVG figure exists");
    assert!(svg.contains(&format!("viewBox=\"0 0 {} {}\"", 2 * PANEL.0, 2 * PANEL.1)));
    for title in [
        "attention field, snapshot",
        "Grad-CAM Gamma",
        "Voronoi area Upsilon",
        "1 - Theta",
    ] {
        assert!(svg.contains(title), "no panel titled `{title}`");
    }
    // every circle is a particle: group them by panel, each relative to its panel's corner
    let re = regex::Regex::new(r#"<circle cx="(-?\d+)" cy="(-?\d+)" r="(\d+)""#).expect("regex");
    let mut panels: BTreeMap<(i64, i64), Vec<Disk>> = BTreeMap::new();
    for c in re.captures_iter(&svg) {
        let num = |i: usize| c[i].parse::<i64>().expect("integer");
        let (x, y, r) = (num(1), num(2), num(3));
        let (col, row) = (x.div_euclid(PANEL.0), y.div_euclid(PANEL.1));
        panels
            .entry((row, col))
            .or_default()
            .push((x - col * PANEL.0, y - row * PANEL.1, r));
    }
    assert_eq!(
        panels.keys().copied().collect::<Vec<_>>(),
        [(0, 0), (0, 1), (1, 0), (1, 1)],
        "four panels in a 2 x 2 grid"
    );
    let mut first = panels[&(0, 0)].clone();
    first.sort_unstable();
    assert_eq!(first.len(), data.n_particles(), "one disk per particle");
    for (at, disks) in &panels {
        let mut d = disks.clone();
        d.sort_unstable();
        assert_eq!(
            d, first,
            "panel {at:?} shows other particles than the attention field"
        );
    }
}
