//! A three-species system (GlassBench's ka2d at 129 particles) through analyze (Voronoi, Tong-Tanaka with one
//! diameter per species), export and import: the exported snapshot reads back with its species and positions, and
//! analyses the same.

use crate::common::{ka2d_tiny, write_liquid};
use glasscam::analysis::analyze::{analyze, dataset_configs, imported_configs, AnalyzeInput};
use glasscam::analysis::{tong_tanaka, voronoi, CoarseGrain};
use glasscam::events::quiet;
use glasscam::io::export::{self, format_snapshot};
use glasscam::io::import::{self, read, SpeciesMap};

#[test]
fn a_three_species_system_goes_through_analyze_export_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let sys = ka2d_tiny();
    let ds = write_liquid(&dir.path().join("data"), &sys, 1, 1.0, 50).unwrap();
    let diam = sys.diameters();
    assert_eq!(diam.len(), 3);
    assert!(diam[0] != diam[1] && diam[1] != diam[2], "{diam:?}");
    assert_eq!(
        (0..3u32)
            .map(|s| ds.species.iter().filter(|&&x| x == s).count())
            .collect::<Vec<_>>(),
        [60, 33, 36]
    );

    let input = |configs| AnalyzeInput {
        system: &sys,
        source: "three species".into(),
        fingerprint: None,
        configs,
        gamma: None,
        coarse: CoarseGrain::default(),
        skipped: vec![],
    };
    let a = analyze(input(dataset_configs(&ds)), quiet()).unwrap();
    assert_eq!(a.done.len(), 1);
    let theta = &a.done[0].indicators.theta;
    // Tong-Tanaka with each particle's own species diameter: the one computed here, and not the one-diameter value
    let l = ds.box_l();
    let v = voronoi(ds.snapshot(0), [l, l]).unwrap();
    let want = tong_tanaka(&v, &ds.species, &diam);
    assert_eq!(theta, &want);
    let one = tong_tanaka(&v, &ds.species, &[diam[0]; 3]);
    assert!(theta.iter().zip(&one).any(|(a, b)| (a - b).abs() > 1e-3));
    let total: f64 = a.done[0].indicators.upsilon.iter().sum();
    assert!(
        (total - l * l).abs() < 1e-9 * l * l,
        "areas sum to {total}, the box is {}",
        l * l
    );

    // export as extended XYZ, read it back: species by name, positions to the stored precision
    let text = format_snapshot(&ds, 0, export::Format::Xyz).unwrap();
    assert!(
        text.contains("\nC "),
        "the third species is written by name"
    );
    let file = dir.path().join("snap.xyz");
    std::fs::write(&file, &text).unwrap();
    let map = SpeciesMap::new(&sys, None).unwrap();
    let imported = read(&file, import::Format::Xyz, &map).unwrap();
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    let frame = &imported.frames[0];
    assert_eq!(frame.species, ds.species);
    for (a, b) in frame.positions.iter().zip(ds.snapshot(0)) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // ... and it analyses as the data set did
    let b = analyze(
        input(imported_configs(imported, &sys, "snap.xyz", quiet())),
        quiet(),
    )
    .unwrap();
    for (x, y) in b.done[0].indicators.theta.iter().zip(theta) {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }

    // LAMMPS data: three atom types and their masses
    let data = format_snapshot(&ds, 0, export::Format::LammpsData).unwrap();
    assert!(data.contains("3 atom types"), "{data}");
}
