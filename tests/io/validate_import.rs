//! The importers (`analyze --input`) on input that is not what they expect: empty files, a byte-order mark,
//! binary data, absurd atom counts and huge lines. Each gets a plain message that quotes at most a short piece
//! of the file, and the readers stream: a 1 GB line is never held in memory.

use std::io::Read;
use std::path::Path;

use glasscam::io::import::{
    parse_lammps_dump, parse_xyz, read_lammps_dump, read_xyz, Imported, SpeciesMap,
};
use glasscam::sim::system::{SystemDef, MAX_PARTICLES};

fn map() -> SpeciesMap {
    SpeciesMap::new(&SystemDef::abm(), None).expect("map")
}

/// A 2-atom extended-XYZ frame in a 10 x 10 box.
const FRAME: &str =
    "2\nLattice=\"10 0 0 0 10 0 0 0 1\" Properties=species:S:1:pos:R:3\nA 1 2 0\nB 3 4 0\n";

fn messages(got: &Imported) -> Vec<String> {
    got.errors.iter().map(|e| e.to_string()).collect()
}

#[test]
fn empty_and_blank_files_say_so() {
    let p = Path::new("e.xyz");
    assert_eq!(
        messages(&parse_xyz("", p, &map())),
        ["e.xyz: frame 0 (line 1): the file is empty: no frames"]
    );
    assert_eq!(
        messages(&parse_xyz("\n  \n", p, &map())),
        ["e.xyz: frame 0 (line 1): the file holds only blank lines: no frames"]
    );
    assert_eq!(
        messages(&parse_lammps_dump("", Path::new("e.dump"), &map())),
        ["e.dump: frame 0 (line 1): the file is empty: no frames"]
    );
}

#[test]
fn a_byte_order_mark_is_dropped_and_invisible_characters_are_escaped() {
    let got = parse_xyz(&format!("\u{feff}{FRAME}"), Path::new("bom.xyz"), &map());
    assert!(got.errors.is_empty(), "{:?}", messages(&got));
    assert_eq!(got.frames.len(), 1);
    assert_eq!(got.frames[0].positions, [1.0, 2.0, 3.0, 4.0]);
    // elsewhere it is not a BOM but a character of the line, and the message shows it
    let got = parse_xyz(&format!("{FRAME}\u{feff}2\n"), Path::new("bom.xyz"), &map());
    assert_eq!(
        messages(&got),
        ["bom.xyz: frame 1 (line 5): expected the atom count of a frame, found `\\u{feff}2`; frames after this \
          are not read"]
    );
}

#[test]
fn binary_input_is_named_as_binary() {
    let mut bytes = FRAME.as_bytes().to_vec();
    bytes.extend_from_slice(b"\x00\x01\x02\x03garbage\n");
    let got = read_xyz(bytes.as_slice(), Path::new("b.xyz"), &map());
    assert_eq!(got.frames.len(), 1, "the frame before is kept");
    assert_eq!(
        messages(&got),
        ["b.xyz: frame 1 (line 5): a NUL byte at column 1: this looks like a binary file, not text (`analyze \
          --input` reads LAMMPS text dumps, `dump custom`, and extended XYZ); frames after this are not read"]
    );
    let got = read_lammps_dump(&b"\xff\xfe\x10binary"[..], Path::new("b.dump"), &map());
    assert_eq!(
        messages(&got),
        ["b.dump: frame 0 (line 1): byte 0xff at column 1 is not UTF-8 text: this looks like a binary file, not \
          text (`analyze --input` reads LAMMPS text dumps, `dump custom`, and extended XYZ); frames after this \
          are not read"]
    );
}

#[test]
fn atom_counts_near_two_to_the_64_are_refused_without_a_panic() {
    let p = Path::new("n.xyz");
    assert_eq!(
        messages(&parse_xyz("18446744073709551615\nLattice=\"1 0 0 0 1 0 0 0 1\"\n", p, &map())),
        [format!(
            "n.xyz: frame 0 (line 1): atom count 18446744073709551615 is above the limit of {MAX_PARTICLES} \
             atoms; frames after this are not read"
        )]
    );
    assert_eq!(
        messages(&parse_xyz("18446744073709551616\n", p, &map())),
        ["n.xyz: frame 0 (line 1): expected the atom count of a frame, found `18446744073709551616`; frames after \
          this are not read"]
    );
    let dump = "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n18446744073709551615\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 \
                1\n0 1\nITEM: ATOMS id type x y z\n";
    assert_eq!(
        messages(&parse_lammps_dump(dump, Path::new("n.dump"), &map())),
        [format!(
            "n.dump: frame 0 (line 4): number of atoms 18446744073709551615 is above the limit of {MAX_PARTICLES}"
        )]
    );
}

#[test]
fn quoted_input_is_cut_short() {
    let long = "x".repeat(100_000);
    let got = parse_xyz(&format!("{long}\n"), Path::new("l.xyz"), &map());
    let m = messages(&got);
    assert_eq!(
        m,
        [format!(
            "l.xyz: frame 0 (line 1): expected the atom count of a frame, found `{}...` (100000 bytes); frames \
             after this are not read",
            "x".repeat(60)
        )]
    );
}

#[test]
fn a_one_gigabyte_line_is_refused_after_reading_one_mebibyte() {
    // a good frame, then 1 GiB without a newline, streamed: the reader stops after MAX_LINE + 1 bytes
    let huge = std::io::repeat(b'7').take(1 << 30);
    let counted = std::cell::Cell::new(0u64);
    struct Count<'a, R>(R, &'a std::cell::Cell<u64>);
    impl<R: Read> Read for Count<'_, R> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let k = self.0.read(b)?;
            self.1.set(self.1.get() + k as u64);
            Ok(k)
        }
    }
    let r = std::io::BufReader::new(Count(FRAME.as_bytes().chain(huge), &counted));
    let got = read_xyz(r, Path::new("big.xyz"), &map());
    assert_eq!(got.frames.len(), 1);
    assert_eq!(
        messages(&got),
        ["big.xyz: frame 1 (line 5): line is longer than 1 MiB: not a text trajectory of this format; frames after \
          this are not read"]
    );
    assert!(counted.get() < 2 << 20, "read {} bytes", counted.get());
}

mod export {
    use super::*;
    use glasscam::io::dataset::Dataset;
    use glasscam::io::export::{format_snapshot, Format};

    fn dataset(dir: &Path) -> Dataset {
        crate::common::write_synthetic(dir, 2, 4, 5.0, 0.3, 1).expect("data");
        Dataset::load(dir).expect("load")
    }

    #[test]
    fn exported_xyz_with_an_awkward_name_reads_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut ds = dataset(tmp.path());
        ds.manifest.system.name = "my glass (A=1) Lattice=3".into();
        let text = format_snapshot(&ds, 1, Format::Xyz).expect("export");
        assert!(
            text.contains(" system=\"my glass (A=1) Lattice=3\" "),
            "{}",
            text.lines().nth(1).unwrap_or("")
        );
        let map = SpeciesMap::new(&ds.manifest.system, None).expect("map");
        let got = parse_xyz(&text, Path::new("s.xyz"), &map);
        assert!(got.errors.is_empty(), "{:?}", messages(&got));
        let f = &got.frames[0];
        assert_eq!(f.box_l, [ds.box_l(), ds.box_l()]);
        assert_eq!(f.species, ds.species);
        for (a, b) in f.positions.iter().zip(ds.snapshot(1)) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }

    #[test]
    fn names_that_would_break_the_file_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ds = dataset(tmp.path());
        let refused = |name: &str, species: bool, format: Format| {
            let mut d = ds.clone();
            if species {
                d.manifest.system.species[0].name = name.into();
            } else {
                d.manifest.system.name = name.into();
            }
            format_snapshot(&d, 0, format)
                .expect_err("unsafe name")
                .to_string()
        };
        let tail = "so the file could not be read back; rename it (in the data set's manifest.json, or the system \
                    file it was simulated from)";
        assert_eq!(
            refused("two\nlines", false, Format::Xyz),
            format!("export: the system name `two\\nlines` holds a control character such as a newline, {tail}")
        );
        assert_eq!(
            refused("two\nlines", false, Format::LammpsData),
            format!("export: the system name `two\\nlines` holds a control character such as a newline, {tail}")
        );
        assert_eq!(
            refused("x Lattice=\"1 0 0 0 1 0 0 0 1\"", false, Format::Xyz),
            format!(
                "export: the system name `x Lattice=\\\"1 0 0 0 1 0 0 0 1\\\"` holds a quote or a backslash, which \
                 an extended XYZ header cannot carry, {tail}"
            )
        );
        assert_eq!(
            refused("A B", true, Format::Xyz),
            format!("export: the species name `A B` holds whitespace and names a column of the atom lines, {tail}")
        );
        // a LAMMPS data file names species only in a comment: whitespace is fine there
        let mut d = ds.clone();
        d.manifest.system.species[0].name = "big A".into();
        assert!(format_snapshot(&d, 0, Format::LammpsData)
            .expect("lammps data")
            .contains("# big A"));
    }
}
