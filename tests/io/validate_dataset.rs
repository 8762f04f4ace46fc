//! A data set is checked on load: every coordinate finite and in the box, the manifest's system checked like a
//! system file, counts, box and snapshot records consistent with the arrays; damage is refused with a message
//! that names the file, the snapshot and the particle. Every load gives the data set's fingerprint.

use crate::common;

use std::path::Path;

use crate::common::write_synthetic;
use glasscam::io::dataset::{Dataset, Manifest};

use common::err_of;

/// A small synthetic data set (8 replicas x 2 snapshots of 36 particles) in `dir`, loaded.
fn data(dir: &Path) -> Dataset {
    write_synthetic(dir, 8, 6, 6.0, 0.3, 3).expect("data");
    Dataset::load(dir).expect("a good data set loads")
}

/// Rewrites the data set at `dir` with `edit` applied to its manifest and positions.
fn rewrite(
    d: &Dataset,
    dir: &Path,
    edit: impl FnOnce(&mut Manifest, &mut Vec<f64>, &mut Vec<u32>),
) {
    let (mut m, mut p, mut s) = (d.manifest.clone(), d.positions.clone(), d.species.clone());
    edit(&mut m, &mut p, &mut s);
    Dataset::write(dir, &m, &p, &s).expect("write");
}

#[test]
fn one_nan_coordinate_is_refused_naming_file_snapshot_and_particle() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    let n = d.n_particles();
    rewrite(&d, &dir, |_, p, _| p[(5 * n + 17) * 2 + 1] = f64::NAN);
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: positions.npy snapshot 5 particle 17: y = NaN is not finite; the data set is damaged, \
             simulate it again",
            dir.display()
        )
    );
}

#[test]
fn a_box_smaller_than_the_positions_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    // the box and the system's density say L = 4.5 (an area fraction the unit check still accepts), the positions
    // span [0, 6)
    rewrite(&d, &dir, |m, _, _| {
        m.box_l = 4.5;
        m.system.density = 36.0 / 20.25;
    });
    let e = err_of(Dataset::load(&dir));
    assert!(
        e.starts_with(&format!(
            "data set {}: positions.npy snapshot 0 particle ",
            dir.display()
        )) && e.contains("lies outside the box [0, 4.5] (is `box_l` in the manifest right?)"),
        "{e}"
    );
    // a box_l that disagrees with the system's density is refused before the arrays are read
    rewrite(&d, &dir, |m, _, _| m.box_l = 3.0);
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: manifest.json: `box_l` is 3 but the system (N 36, density 1) gives 6",
            dir.display()
        )
    );
}

#[test]
fn the_manifests_system_is_checked_like_a_system_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    rewrite(&d, &dir, |m, _, _| m.system.pairs[0].sigma = -1.0);
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: manifest.json field `system`: pair A-A: field `sigma` must be > 0, got -1",
            dir.display()
        )
    );
}

#[test]
fn species_counts_must_match_species_npy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    // 18 + 18 in the system, 19 + 17 in species.npy
    rewrite(&d, &dir, |_, _, s| s[18] = 0);
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: species.npy has 19 particles of species `A` but the manifest's system says 18; the \
             arrays do not belong to this manifest",
            dir.display()
        )
    );
    // counts that add up to another N than n_particles
    rewrite(&d, &dir, |m, _, _| m.system.species[0].count = 20);
    let e = err_of(Dataset::load(&dir));
    assert!(
        e.contains("field `n` is 36 but the species counts add up to 38"),
        "{e}"
    );
}

#[test]
fn counts_near_two_to_the_64_give_a_message_not_an_overflow() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    rewrite(&d, &dir, |m, _, _| {
        m.system.n = None;
        m.system.species[0].count = usize::MAX - 5;
    });
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: manifest.json field `system`: the species counts add up to more than 268435456 \
             particles; give counts of a system that fits in memory",
            dir.display()
        )
    );
}

#[test]
fn snapshot_records_out_of_range_are_refused_not_a_panic() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    rewrite(&d, &dir, |m, _, _| m.snapshots[3].index = 1000);
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "data set {}: manifest.json: snapshot record 3 gives `index` 1000; record k must describe row k of \
             positions.npy",
            dir.display()
        )
    );
    rewrite(&d, &dir, |m, _, _| m.snapshots[2].replica = 99);
    let e = err_of(Dataset::load(&dir));
    assert!(
        e.ends_with("manifest.json: snapshot 2 belongs to replica 99, outside this data set's replicas 0..8"),
        "{e}"
    );
    rewrite(&d, &dir, |m, _, _| m.snapshots[0].label = 1);
    let e = err_of(Dataset::load(&dir));
    assert!(
        e.ends_with("manifest.json: snapshot 0 has class `liquid` but label 1 (glass 1, liquid 0, other -1)"),
        "{e}"
    );
}

/// A version-1 `.npy` file with the given header dict and data bytes.
fn npy_bytes(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend_from_slice(data);
    b
}

#[test]
fn a_damaged_npy_header_cannot_ask_for_terabytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    data(&dir);
    let path = dir.join("positions.npy");
    let huge = npy_bytes(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 36, 2), }",
        &[0u8; 64],
    );
    std::fs::write(&path, &huge).expect("write");
    let e = err_of(Dataset::load(&dir));
    assert_eq!(
        e,
        format!(
            "{}: the header gives shape [99999999999, 36, 2], which needs more than the 64 bytes of data in the \
             file; the file is truncated or damaged",
            path.display()
        )
    );
    // a shape whose product overflows u64 is refused before npyz multiplies it out
    let wrap = npy_bytes(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }",
        &[],
    );
    let e = err_of(glasscam::io::npy::parse::<f64>(&path, &wrap));
    assert_eq!(
        e,
        format!(
            "{}: not a .npy file glasscam can read (its header gives no shape, or one whose size overflows)",
            path.display()
        )
    );
}

#[test]
fn the_fingerprint_follows_the_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let da = data(&a);
    let da2 = Dataset::load(&a).expect("load again");
    assert_eq!(da.fingerprint, da2.fingerprint);
    assert!(da.fingerprint.starts_with("sha256:") && da.fingerprint.len() == 7 + 64);
    // same N, same manifest, one coordinate moved: another data set
    rewrite(&da, &b, |_, p, _| p[0] = (p[0] + 0.5) % 6.0);
    let db = Dataset::load(&b).expect("load");
    assert_ne!(da.fingerprint, db.fingerprint);
}

/// Bytes of a `.npy` header as npyz writes it for a small array (a multiple of 64).
const NPY_HEADER: u64 = 128;

#[test]
fn positions_are_stored_as_float32_and_read_back_as_the_rounded_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    let (s, n) = (d.n_snapshots() as u64, d.n_particles() as u64);
    assert_eq!(
        d.manifest.format_version,
        glasscam::io::dataset::FORMAT_VERSION
    );
    // 8 bytes per particle and snapshot: half of format 1's float64
    let size = std::fs::metadata(dir.join("positions.npy"))
        .expect("positions.npy")
        .len();
    assert_eq!(size, NPY_HEADER + s * n * 2 * 4);
    let (_, raw) =
        glasscam::io::npy::read::<f32>(&dir.join("positions.npy")).expect("float32 array");
    assert_eq!(raw.len() as u64, s * n * 2);
    // full-precision positions written go through f32 exactly once: a round trip keeps the rounded values
    let precise: Vec<f64> = d.positions.iter().map(|x| x + 1e-9).collect();
    rewrite(&d, &dir, |_, p, _| p.clone_from(&precise));
    let back = Dataset::load(&dir).expect("load");
    for (k, (&got, &x)) in back.positions.iter().zip(&precise).enumerate() {
        assert_eq!(got, f64::from(x as f32), "value {k}");
        assert!(
            (got - x).abs() <= 6.0 * f64::from(f32::EPSILON),
            "value {k}: {got} vs {x}"
        );
    }
    // and a second write of what was read changes no byte (load then write is a fixed point)
    let before = std::fs::read(dir.join("positions.npy")).expect("read");
    Dataset::write(&dir, &back.manifest, &back.positions, &back.species).expect("write");
    assert_eq!(
        std::fs::read(dir.join("positions.npy")).expect("read"),
        before
    );
}

#[test]
fn a_format_1_data_set_with_float64_positions_still_loads_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    let (s, n) = (d.n_snapshots() as u64, d.n_particles() as u64);
    // what glasscam wrote before format 2: float64 positions under a version-1 manifest
    let precise: Vec<f64> = d.positions.iter().map(|x| x + 1e-9).collect();
    glasscam::io::npy::write(&dir.join("positions.npy"), &[s, n, 2], &precise).expect("write f64");
    let mut m = d.manifest.clone();
    m.format_version = 1;
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).expect("json"),
    )
    .expect("write manifest");
    let size = std::fs::metadata(dir.join("positions.npy"))
        .expect("positions.npy")
        .len();
    assert_eq!(size, NPY_HEADER + s * n * 2 * 8);
    let old = Dataset::load(&dir).expect("a format-1 data set loads");
    assert_eq!(old.manifest.format_version, 1);
    assert_eq!(
        old.positions, precise,
        "float64 positions are read bit for bit"
    );
    // the fingerprint is of the bytes as stored, so the float32 copy is another data set
    let copy = tmp.path().join("copy");
    Dataset::write(&copy, &old.manifest, &old.positions, &old.species).expect("write");
    let new = Dataset::load(&copy).expect("load");
    assert_ne!(new.fingerprint, old.fingerprint);
}

#[test]
fn positions_handed_over_in_pieces_must_fill_the_shape() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("d");
    let d = data(&dir);
    let before = std::fs::read(dir.join("positions.npy")).expect("read");
    let short = &d.positions[..d.positions.len() - 2];
    let e = err_of(Dataset::write_with(&dir, &d.manifest, &d.species, |sink| {
        glasscam::io::dataset::store(sink, short)
    }));
    assert!(
        e.starts_with(&format!(
            "{}: shape [16, 36, 2] was not filled as declared",
            dir.join("positions.npy").display()
        )),
        "{e}"
    );
    // the old array is untouched (only its temporary file was written)
    assert_eq!(
        std::fs::read(dir.join("positions.npy")).expect("read"),
        before
    );
    // in two pieces it is the same file as in one
    let half = d.positions.len() / 2;
    Dataset::write_with(&dir, &d.manifest, &d.species, |sink| {
        glasscam::io::dataset::store(sink, &d.positions[..half])?;
        glasscam::io::dataset::store(sink, &d.positions[half..])
    })
    .expect("write in pieces");
    assert_eq!(
        std::fs::read(dir.join("positions.npy")).expect("read"),
        before
    );
}
