//! LAMMPS dump and extended XYZ readers: positions round-trip, species mapping, and bad frames reported with
//! file, frame and line while the good ones are kept.

use std::path::Path;

use glasscam::io::import::{parse_lammps_dump, parse_xyz, read, Format, SpeciesMap};
use glasscam::sim::system::SystemDef;
use glasscam::Error;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Conf {
    box_l: [f64; 2],
    pos: Vec<f64>,
    species: Vec<u32>,
}

fn conf(seed: u64, n: usize) -> Conf {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let box_l = [6.0 + rng.random::<f64>(), 5.0 + rng.random::<f64>()];
    let pos = (0..n)
        .flat_map(|_| {
            [
                rng.random::<f64>() * box_l[0],
                rng.random::<f64>() * box_l[1],
            ]
        })
        .collect();
    let species = (0..n).map(|i| (i % 2) as u32).collect();
    Conf {
        box_l,
        pos,
        species,
    }
}

/// A dump frame in the layout LAMMPS writes (atoms listed out of id order, origin at lo, types from 1).
fn dump_frame(c: &Conf, step: u64, lo: [f64; 2], scaled: bool) -> String {
    let n = c.species.len();
    let mut s = format!(
        "ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\nITEM: BOX BOUNDS pp pp pp\n{} {}\n{} {}\n-0.5 0.5\n",
        lo[0],
        lo[0] + c.box_l[0],
        lo[1],
        lo[1] + c.box_l[1]
    );
    s.push_str(if scaled {
        "ITEM: ATOMS id type xs ys zs\n"
    } else {
        "ITEM: ATOMS id type x y z\n"
    });
    for i in (0..n).rev() {
        let (x, y) = (c.pos[2 * i], c.pos[2 * i + 1]);
        let (x, y) = if scaled {
            (x / c.box_l[0], y / c.box_l[1])
        } else {
            (x + lo[0], y + lo[1])
        };
        s.push_str(&format!(
            "{} {} {:.17e} {:.17e} 0\n",
            i + 1,
            c.species[i] + 1,
            x,
            y
        ));
    }
    s
}

fn xyz_frame(c: &Conf, class: &str) -> String {
    let n = c.species.len();
    let mut s = format!(
        "{n}\nLattice=\"{} 0.0 0.0 0.0 {} 0.0 0.0 0.0 1.0\" Properties=species:S:1:pos:R:3 class={class} step=7 pbc=\"T T F\"\n",
        c.box_l[0], c.box_l[1]
    );
    for i in 0..n {
        let name = if c.species[i] == 0 { "A" } else { "B" };
        s.push_str(&format!(
            "{name} {:.17e} {:.17e} 0.0\n",
            c.pos[2 * i],
            c.pos[2 * i + 1]
        ));
    }
    s
}

fn assert_same(c: &Conf, f: &glasscam::io::import::Frame, tol: f64) {
    assert_eq!(f.species, c.species);
    assert_eq!(f.positions.len(), c.pos.len());
    for (k, (a, b)) in f.positions.iter().zip(&c.pos).enumerate() {
        assert!((a - b).abs() <= tol, "coordinate {k}: read {a}, wrote {b}");
    }
    assert!((f.box_l[0] - c.box_l[0]).abs() < 1e-12 && (f.box_l[1] - c.box_l[1]).abs() < 1e-12);
}

fn frame_error(e: &Error) -> (usize, usize, String) {
    match e {
        Error::Frame {
            frame,
            line,
            message,
            ..
        } => (*frame, *line, message.clone()),
        other => panic!("expected a frame error, got {other}"),
    }
}

#[test]
fn lammps_dump_round_trips_wrapped_and_scaled_frames() {
    let map = SpeciesMap::new(&SystemDef::abm(), None).expect("map");
    let (a, b) = (conf(1, 40), conf(2, 40));
    let text = dump_frame(&a, 100, [-3.0, 2.0], false) + &dump_frame(&b, 200, [0.0, 0.0], true);
    let got = parse_lammps_dump(&text, Path::new("run.dump"), &map);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.frames.len(), 2);
    assert_eq!(got.frames[0].step, Some(100));
    assert_same(&a, &got.frames[0], 1e-12);
    assert_same(&b, &got.frames[1], 1e-12);
}

#[test]
fn lammps_dump_bad_frames_are_reported_and_others_kept() {
    let map = SpeciesMap::new(&SystemDef::abm(), None).expect("map");
    let c = conf(3, 10);
    let good = dump_frame(&c, 0, [0.0, 0.0], false);
    // Frame 1: a NaN coordinate on its 3rd atom line. Frame 2: no y column. Frame 3: a particle far outside.
    let nan = good.replacen(&format!("{:.17e}", c.pos[2 * 7]), "nan", 1);
    let no_y = good.replace("ITEM: ATOMS id type x y z", "ITEM: ATOMS id type x q z");
    let outside = good.replacen(&format!("{:.17e}", c.pos[2 * 9]), "1.0e3", 1);
    let text = [good.clone(), nan, no_y, outside, good.clone()].concat();
    let lines_per_frame = good.lines().count();
    let got = parse_lammps_dump(&text, Path::new("bad.dump"), &map);
    assert_eq!(got.frames.len(), 2, "the good frames 0 and 4 are kept");
    assert_eq!(got.frames[1].index, 4);
    assert_eq!(got.errors.len(), 3);
    let (f, line, msg) = frame_error(&got.errors[0]);
    // Atom id 8 (particle 7) is the 3rd line after the 9 header lines (atoms are listed from id 10 down).
    assert_eq!((f, line), (1, lines_per_frame + 9 + 3), "{msg}");
    assert!(msg.contains("NaN"), "{msg}");
    let text0 = got.errors[0].to_string();
    assert!(text0.starts_with("bad.dump: frame 1 (line "), "{text0}");
    let (f, _, msg) = frame_error(&got.errors[1]);
    assert_eq!(f, 2);
    assert!(msg.contains("missing position columns"), "{msg}");
    let (f, line, msg) = frame_error(&got.errors[2]);
    assert_eq!((f, line), (3, 3 * lines_per_frame + 9 + 1));
    assert!(msg.contains("outside the box"), "{msg}");
}

#[test]
fn xyz_round_trips_and_reports_bad_frames() {
    let map = SpeciesMap::new(&SystemDef::abm(), None).expect("map");
    let (a, b) = (conf(4, 25), conf(5, 25));
    let fa = xyz_frame(&a, "glass");
    let bad_lattice = xyz_frame(&b, "liquid").replace("0.0 0.0 0.0 ", "0.5 0.0 0.0 ");
    let missing = xyz_frame(&b, "liquid").replace(
        "Properties=species:S:1:pos:R:3",
        "Properties=species:S:1:velo:R:3",
    );
    let fb = xyz_frame(&b, "liquid");
    let text = [fa, bad_lattice, missing, fb].concat();
    let got = parse_xyz(&text, Path::new("run.xyz"), &map);
    assert_eq!(got.frames.len(), 2);
    assert_same(&a, &got.frames[0], 1e-12);
    assert_same(&b, &got.frames[1], 1e-12);
    assert_eq!(got.frames[0].class.as_deref(), Some("glass"));
    assert_eq!(got.frames[1].index, 3);
    assert_eq!(got.frames[0].step, Some(7));
    assert_eq!(got.errors.len(), 2);
    let (f, line, msg) = frame_error(&got.errors[0]);
    assert_eq!((f, line), (1, 27 + 2), "{msg}");
    assert!(msg.contains("rectangular"), "{msg}");
    let (f, _, msg) = frame_error(&got.errors[1]);
    assert_eq!(f, 2);
    assert!(msg.contains("missing columns"), "{msg}");
}

#[test]
fn species_map_by_name_index_and_explicit() {
    let abm = SystemDef::abm();
    let m = SpeciesMap::new(&abm, None).expect("map");
    assert_eq!(m.map("A"), Ok(0));
    assert_eq!(m.map("2"), Ok(1));
    assert!(m.map("3").unwrap_err().contains("`types`"));
    let m = SpeciesMap::new(&abm, Some("7=B, 9=0")).expect("map");
    assert_eq!(m.map("7"), Ok(1));
    assert_eq!(m.map("9"), Ok(0));
    assert!(m.map("1").is_err());
    assert!(SpeciesMap::new(&abm, Some("1=C")).is_err());
}

#[test]
fn reading_a_missing_file_names_it() {
    let map = SpeciesMap::new(&SystemDef::abm(), None).expect("map");
    let e = read(
        Path::new("/nonexistent/traj.dump"),
        Format::LammpsDump,
        &map,
    )
    .expect_err("missing");
    assert!(e.to_string().contains("/nonexistent/traj.dump"), "{e}");
}

#[test]
fn lammps_dump_box_problems_are_named() {
    let map = SpeciesMap::new(&SystemDef::abm(), None).expect("map");
    let c = conf(6, 8);
    let good = dump_frame(&c, 0, [0.0, 0.0], false);
    // Frame 0: reversed x bounds (line 6). Frame 1: one atom more announced than listed. Frame 2: tilted box.
    let hi = format!("0 {}\n", c.box_l[0]);
    let reversed = good.replacen(&hi, &format!("{} 0\n", c.box_l[0]), 1);
    let count = good.replacen(
        "ITEM: NUMBER OF ATOMS\n8\n",
        "ITEM: NUMBER OF ATOMS\n9\n",
        1,
    );
    let tilted = good
        .replacen(
            "ITEM: BOX BOUNDS pp pp pp",
            "ITEM: BOX BOUNDS xy xz yz pp pp pp",
            1,
        )
        .replacen(&hi, &format!("0 {} 0.5\n", c.box_l[0]), 1);
    let text = [reversed, count, tilted, good.clone()].concat();
    let got = parse_lammps_dump(&text, Path::new("box.dump"), &map);
    assert_eq!(got.frames.len(), 1);
    assert_eq!(got.frames[0].index, 3);
    let msgs: Vec<(usize, usize, String)> = got.errors.iter().map(frame_error).collect();
    assert_eq!(msgs.len(), 3);
    assert_eq!((msgs[0].0, msgs[0].1), (0, 6), "{}", msgs[0].2);
    assert!(msgs[0].2.contains("empty or reversed"), "{}", msgs[0].2);
    assert_eq!(msgs[1].0, 1);
    assert!(
        msgs[1].2.contains("NUMBER OF ATOMS says 9"),
        "{}",
        msgs[1].2
    );
    assert_eq!(msgs[2].0, 2);
    assert!(msgs[2].2.contains("triclinic"), "{}", msgs[2].2);
}
