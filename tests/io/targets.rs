//! A data set with targets round-trips through `write_targets` and `Targets::load` bit for bit, and every
//! mismatch (another data set, a particle count, a time grid, a dtype, a NaN) is refused naming the file and key.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{err_of, write_synthetic};
use glasscam::io::dataset::Dataset;
use glasscam::io::outdir::OutDir;
use glasscam::io::targets::{
    self, write_targets, Program, Source, Subset, Targets, TargetsMeta, BOND_BREAKING, PROPENSITY,
};

/// 4 replicas x 2 snapshots of 16 particles, and targets at 3 times.
fn fixture(dir: &Path) -> (Dataset, TargetsMeta, Vec<f32>, Vec<f32>) {
    write_synthetic(dir, 4, 4, 4.0, 0.3, 5).expect("data");
    let d = Dataset::load(dir).expect("load");
    let (s, t, n) = (d.n_snapshots(), 3, d.n_particles());
    let prop: Vec<f32> = (0..s * t * n)
        .map(|k| 0.1 + (k as f32).sqrt() * 0.37)
        .collect();
    let bb: Vec<f32> = (0..s * t * n).map(|k| 1.0 / (1.0 + k as f32)).collect();
    let names = [PROPENSITY, BOND_BREAKING];
    let meta = TargetsMeta {
        format_version: targets::FORMAT_VERSION,
        data_fingerprint: d.fingerprint.clone(),
        temperature: 0.45,
        times: vec![0.1, 1.0 / 3.0, 12.5],
        tau_alpha: Some(7.25),
        tau_alpha_spread: Some(0.5),
        n_runs: 8,
        targets: names
            .iter()
            .map(|n| (n.to_string(), targets::definition(n).unwrap().to_string()))
            .collect(),
        noise_ceiling: names
            .iter()
            .map(|n| (n.to_string(), vec![Some(0.91), None, Some(0.1 + 0.2)]))
            .collect::<BTreeMap<_, _>>(),
        subset: Some(
            (0..s)
                .map(|k| if k < 6 { Subset::Train } else { Subset::Test })
                .collect(),
        ),
        source: Source {
            program: Program::Glasscam,
            settings: serde_json::json!({"runs": 8, "seed": 3}),
        },
    };
    (d, meta, prop, bb)
}

fn write(
    d: &Dataset,
    meta: &TargetsMeta,
    prop: &[f32],
    bb: &[f32],
    force: bool,
) -> glasscam::Result<()> {
    let out = OutDir::lock(&d.dir)?;
    write_targets(
        &out,
        d,
        meta,
        &[(PROPENSITY, prop), (BOND_BREAKING, bb)],
        force,
    )
}

#[test]
fn targets_round_trip_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, meta, prop, bb) = fixture(tmp.path());
    write(&d, &meta, &prop, &bb, false).expect("write");
    let t = Targets::load(tmp.path(), &d).expect("load");
    assert_eq!(t.meta, meta);
    assert_eq!(t.shape(), [8, 3, 16]);
    assert_eq!(t.names(), vec![BOND_BREAKING, PROPENSITY]);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(t.values(PROPENSITY).unwrap()), bits(&prop));
    assert_eq!(bits(t.values(BOND_BREAKING).unwrap()), bits(&bb));
    assert_eq!(
        err_of(t.values("propensity_cage")),
        "no target `propensity_cage` in this data set; it has bond_breaking, propensity"
    );
    // a second write is refused without force and replaces the file with it
    let e = err_of(write(&d, &meta, &prop, &bb, false));
    assert!(
        e.ends_with("already holds targets; use `force` to overwrite it, or choose another output"),
        "{e}"
    );
    let mut m2 = meta.clone();
    m2.n_runs = 9;
    write(&d, &m2, &prop, &bb, true).expect("force");
    assert_eq!(Targets::load(tmp.path(), &d).unwrap().meta.n_runs, 9);
}

#[test]
fn targets_of_another_data_set_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, meta, prop, bb) = fixture(tmp.path());
    write(&d, &meta, &prop, &bb, false).expect("write");
    let other = tmp.path().join("other");
    write_synthetic(&other, 4, 4, 4.0, 0.3, 6).unwrap();
    let o = Dataset::load(&other).unwrap();
    let e = err_of(Targets::load(tmp.path(), &o));
    assert!(
        e.contains("targets.json: the targets annotate data set sha256:"),
        "{e}"
    );
    assert!(
        e.ends_with("give the data set they were computed on"),
        "{e}"
    );
}

#[test]
fn a_target_file_whose_particle_count_does_not_match_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, meta, prop, bb) = fixture(tmp.path());
    write(&d, &meta, &prop, &bb, false).expect("write");
    let path = tmp.path().join("propensity.npy");
    glasscam::io::npy::write(&path, &[8, 3, 15], &prop[..8 * 3 * 15]).unwrap();
    let e = err_of(Targets::load(tmp.path(), &d));
    assert_eq!(
        e,
        format!(
            "{}: shape [8, 3, 15], but the data set and targets.json give [S, T, N] = [8, 3, 16] (snapshots, time \
             points, particles); the targets belong to another data set or time grid",
            path.display()
        )
    );
    // the writer refuses the same before writing anything
    let tmp2 = tempfile::tempdir().unwrap();
    let (d2, meta2, prop2, bb2) = fixture(tmp2.path());
    let e = err_of(write(&d2, &meta2, &prop2[1..], &bb2, false));
    assert!(
        e.contains("propensity.npy: shape [383], but the data set"),
        "{e}"
    );
    assert!(!tmp2.path().join("targets.json").exists());
}

/// An edit of a good record that makes it bad.
type Edit = Box<dyn Fn(&mut TargetsMeta)>;

#[test]
fn bad_targets_are_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, meta, prop, bb) = fixture(tmp.path());
    let file = tmp.path().join("targets.json");
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|m| m.times = vec![1.0, 1.0, 2.0]),
            "`times` must be strictly ascending, but times[1] = 1 follows 1",
        ),
        (
            Box::new(|m| m.times[0] = -0.5),
            "`times[0]` is -0.5; times are finite and not negative (MD time units)",
        ),
        (
            Box::new(|m| m.subset.as_mut().unwrap().pop().map(|_| ()).unwrap()),
            "`subset` has 7 entries but the data set has 8 snapshots; give one per snapshot or none",
        ),
        (
            Box::new(|m| m.noise_ceiling.get_mut(PROPENSITY).unwrap()[0] = Some(1.5)),
            "`noise_ceiling.propensity` holds 1.5; a correlation lies in [-1, 1] (null where unknown)",
        ),
        (
            Box::new(|m| {
                m.noise_ceiling.remove(BOND_BREAKING);
            }),
            "`noise_ceiling` has no entry for `bond_breaking`; give [T] values (null where unknown)",
        ),
        (
            Box::new(|m| m.n_runs = 0),
            "`n_runs` is 0; a target is a mean over at least one run",
        ),
        (
            Box::new(|m| m.format_version = 99),
            "format version 99 is newer than this glasscam understands (1); update glasscam",
        ),
    ];
    for (edit, want) in cases {
        let mut m = meta.clone();
        edit(&mut m);
        // refused on write, and on load when written by another tool
        assert_eq!(
            err_of(write(&d, &m, &prop, &bb, true)),
            format!("{}: {want}", file.display())
        );
        std::fs::write(&file, serde_json::to_string(&m).unwrap()).unwrap();
        let e = err_of(Targets::load(tmp.path(), &d));
        assert_eq!(e, format!("{}: {want}", file.display()));
    }
    // a NaN in an array, and a float64 array
    write(&d, &meta, &prop, &bb, true).unwrap();
    let mut p = prop.clone();
    p[16 * 3 + 16 + 5] = f32::NAN;
    let path = tmp.path().join("propensity.npy");
    glasscam::io::npy::write(&path, &[8, 3, 16], &p).unwrap();
    assert_eq!(
        err_of(Targets::load(tmp.path(), &d)),
        format!(
            "{}: snapshot 1 time 1 particle 5 is NaN; targets must be finite",
            path.display()
        )
    );
    let wide: Vec<f64> = prop.iter().map(|&x| x as f64).collect();
    glasscam::io::npy::write(&path, &[8, 3, 16], &wide).unwrap();
    assert_eq!(
        err_of(Targets::load(tmp.path(), &d)),
        format!(
            "{}: dtype `<f8`, but a target array is float32 (`<f4`); save it with .astype(np.float32)",
            path.display()
        )
    );
}
