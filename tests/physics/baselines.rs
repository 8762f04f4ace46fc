//! The descriptor baselines: per-particle energies against the MD's totals, each descriptor against values
//! computed by hand on a square lattice, ridge on a known linear map and on noise, the network's split, and the
//! refusals.

use crate::common;

use common::{err_of, liquid, setup, write_annotated, Rng};
use glasscam::analysis::baselines::ridge::{Ridge, Rows};
use glasscam::analysis::baselines::{baselines, BaselineSettings, RowKind};
use glasscam::analysis::descriptors::{descriptors, particle_energies};
use glasscam::analysis::CoarseGrain;
use glasscam::events::quiet;
use glasscam::io::targets::Targets;
use glasscam::learn::dynamics::GnConfig;
use glasscam::learn::split::target_sets;
use glasscam::sim::minimize::{self, InherentSet, MinimizeSettings, Selection};
use glasscam::sim::system::SystemDef;
use glasscam_kernels::md::cpu::brute_force;
use glasscam_kernels::md::MdSetup;
use glasscam_kernels::Compute;

fn flat(pos: &[[f64; 2]]) -> Vec<f64> {
    pos.iter().flat_map(|p| [p[0], p[1]]).collect()
}

#[test]
fn per_particle_energies_sum_to_the_md_total_for_both_pair_forms() {
    let tiny = SystemDef::from_toml(common::TINY_SYSTEM, "tiny.toml").unwrap();
    for (sys, t) in [(tiny, 0.8), (common::ka2d_tiny(), 1.0)] {
        let s = setup(&sys);
        let reps = liquid(&s, 3, 2, t, 30);
        for k in 0..2 {
            let pos = &reps.pos[k * s.n..(k + 1) * s.n];
            let e = particle_energies(&s, &flat(pos)).unwrap();
            let total: f64 = e.iter().sum();
            let md = reps.thermo[k].pe;
            assert!(
                (total - md).abs() <= 1e-9 * md.abs(),
                "{}: sum of per-particle energies {total} but the MD reports {md}",
                sys.name
            );
            // and particle by particle against the O(N^2) sum without lists
            let (_, brute) = brute_force(&s, pos);
            for (i, (a, b)) in e.iter().zip(&brute).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    "particle {i}: {a} vs {b}"
                );
            }
        }
    }
}

/// A 4 x 4 square lattice of spacing `a` in a periodic box of 4 a, species 0 but particle 0 of `s0`.
fn lattice(a: f64, s0: u32) -> (MdSetup, Vec<f64>, Vec<f64>) {
    let sys = SystemDef::from_toml(common::TINY_SYSTEM, "tiny.toml").unwrap();
    let mut s = setup(&sys);
    s.n = 16;
    s.box_l = 4.0 * a;
    s.species = vec![0; 16];
    s.species[0] = s0;
    let pos: Vec<f64> = (0..16)
        .flat_map(|i| [(i % 4) as f64 * a + 0.3, (i / 4) as f64 * a + 0.2])
        .collect();
    (s, pos, sys.diameters())
}

#[test]
fn each_descriptor_equals_its_hand_computed_value_on_a_square_lattice() {
    let a = 1.5;
    let xi = 0.9;
    let (s, pos, diam) = lattice(a, 0);
    let d = descriptors(&s, &diam, &pos, None, &[0.0, xi]).unwrap();
    let names = [
        "epot",
        "epot_cg0.9",
        "density",
        "density_cg0.9",
        "voronoi_area",
        "voronoi_area_cg0.9",
        "voronoi_perimeter",
        "voronoi_perimeter_cg0.9",
        "tong_tanaka",
        "tong_tanaka_cg0.9",
    ];
    assert_eq!(d.names, names);
    // LJ with linear smoothing at rc = 2.5, epsilon = sigma = 1: 4 neighbours at a, 4 at a sqrt 2 (2a is beyond rc)
    let rc: f64 = 2.5;
    let lj = |r: f64| 4.0 * (r.powi(-12) - r.powi(-6));
    let dlj = |r: f64| -24.0 * (2.0 * r.powi(-13) - r.powi(-7));
    let phi = |r: f64| lj(r) - lj(rc) - (r - rc) * dlj(rc);
    let e = 0.5 * 4.0 * (phi(a) + phi(a * 2f64.sqrt()));
    let dens_cg =
        4.0 * ((-a / xi).exp() + (-a * 2f64.sqrt() / xi).exp()) / (std::f64::consts::TAU * xi * xi);
    let want = [
        e,
        e,
        1.0 / (a * a),
        dens_cg,
        a * a,
        a * a,
        4.0 * a,
        4.0 * a,
        std::f64::consts::PI / 6.0,
        std::f64::consts::PI / 6.0,
    ];
    for (f, (name, w)) in names.iter().zip(want).enumerate() {
        for (i, v) in d.column(f).iter().enumerate() {
            assert!(
                (v - w).abs() <= 1e-9 * (1.0 + w.abs()),
                "{name} of particle {i}: {v}, by hand {w}"
            );
        }
    }
    // with one B particle the energies vary: the coarse-grained energy is the e^{-r/xi}-weighted mean (cut-off
    // 3 xi, self weight 1) of the raw ones
    let (s, pos, diam) = lattice(a, 1);
    let d = descriptors(&s, &diam, &pos, None, &[0.0, xi]).unwrap();
    let (raw, cg) = (d.column(0), d.column(1));
    let l = s.box_l;
    let rc = xi * CoarseGrain::default().cutoff_factor;
    for i in 0..16 {
        let (mut num, mut den) = (0.0, 0.0);
        for j in 0..16 {
            let mut dx = pos[2 * j] - pos[2 * i];
            let mut dy = pos[2 * j + 1] - pos[2 * i + 1];
            dx -= l * (dx / l).round();
            dy -= l * (dy / l).round();
            let r = dx.hypot(dy);
            if r < rc {
                num += (-r / xi).exp() * raw[j];
                den += (-r / xi).exp();
            }
        }
        assert!(
            (cg[i] - num / den).abs() <= 1e-9 * (1.0 + cg[i].abs()),
            "particle {i}"
        );
    }
    assert!(raw[0] != raw[5], "a B particle changes the energies");
}

#[test]
fn ridge_recovers_a_known_linear_map_and_prefers_a_large_penalty_on_noise() {
    let lambdas: Vec<f64> = (-6..=3).map(|k| 10f64.powi(k)).collect();
    let mut rng = Rng(17);
    let mut rows = |r: usize, f: usize, y: &dyn Fn(&[f64], f64) -> [f64; 2]| {
        let mut out = Rows::default();
        for _ in 0..r {
            let x: Vec<f64> = (0..f)
                .map(|c| (rng.next() - 0.5) * (1.0 + c as f64))
                .collect();
            let noise = rng.next() - 0.5;
            out.y.extend(y(&x, noise));
            out.x.extend(x);
        }
        out
    };
    // y0 = 3 + 2 x0 - x1 + 0.5 x3 (+ 1e-3 noise), y1 = -y0
    let map = |x: &[f64], e: f64| {
        let y = 3.0 + 2.0 * x[0] - x[1] + 0.5 * x[3] + 1e-3 * e;
        [y, -y]
    };
    let (train, val) = (rows(200, 4, &map), rows(100, 4, &map));
    let m = Ridge::fit(&train, &val, 4, 2, &lambdas).unwrap();
    assert!(m.lambda.iter().all(|&l| l <= 1e-3), "chosen {:?}", m.lambda);
    let coef: Vec<f64> = (0..4).map(|c| m.weights[0][c] / m.scale[c]).collect();
    for (c, w) in coef.iter().zip([2.0, -1.0, 0.0, 0.5]) {
        assert!((c - w).abs() < 1e-2, "weights {coef:?}");
    }
    let p = m.predict(&[0.0, 0.0, 0.0, 0.0]);
    assert!(
        (p[0] - 3.0).abs() < 1e-2 && (p[1] + 3.0).abs() < 1e-2,
        "{p:?}"
    );
    // features of pure noise, as many as a third of the rows: the validation error wants the strongest penalty
    let noise = |_: &[f64], e: f64| [e, 2.0 * e];
    let (train, val) = (rows(60, 20, &noise), rows(60, 20, &noise));
    let m = Ridge::fit(&train, &val, 20, 2, &lambdas).unwrap();
    assert!(m.lambda.iter().all(|&l| l >= 1.0), "chosen {:?}", m.lambda);
}

#[test]
fn baselines_score_on_the_networks_split_and_find_the_planted_structure() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = write_annotated(dir.path(), 12, 8, 2, 5).unwrap();
    let targets = Targets::load(dir.path(), &data).unwrap();
    let settings = BaselineSettings::default();
    let net = GnConfig::default();
    assert_eq!((settings.split, settings.seed), (net.split, net.seed));
    let r = baselines(&data, &targets, None, &settings, &quiet()).unwrap();
    let test: Vec<bool> = targets
        .meta
        .subset
        .as_ref()
        .unwrap()
        .iter()
        .map(|&s| s == glasscam::io::targets::Subset::Test)
        .collect();
    let sets = target_sets(&data, Some(&test), net.split, net.seed).unwrap();
    assert_eq!(r.split, sets.split);
    assert_eq!(
        (r.sizes.train, r.sizes.validation, r.sizes.test),
        (sets.train.len(), sets.validation.len(), sets.test.len())
    );
    assert_eq!(r.rows.len(), 5 * 4 + 1);
    assert_eq!(r.rows[0].name, "epot");
    let ridge = r.rows.last().unwrap();
    assert_eq!(ridge.kind, RowKind::Ridge);
    // the target is a weighted count of near neighbours: the local density sees it, and ridge at least as well
    for t in 0..2 {
        let best = r.rows[..20]
            .iter()
            .filter_map(|x| x.pearson_all[t])
            .map(f64::abs)
            .fold(0.0, f64::max);
        let rr = ridge.pearson_all[t].unwrap();
        assert!(
            best > 0.5 && rr > 0.5,
            "time {t}: best descriptor {best}, ridge {rr}"
        );
    }
}

#[test]
fn baselines_refuse_what_they_cannot_score_with_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = write_annotated(&dir.path().join("a"), 6, 8, 1, 5).unwrap();
    let targets = Targets::load(&data.dir, &data).unwrap();
    let ctx = quiet();
    // unknown target
    let s = BaselineSettings {
        target: "nope".into(),
        ..Default::default()
    };
    let e = err_of(baselines(&data, &targets, None, &s, &ctx));
    assert!(
        e.contains("no target `nope`") && e.contains("propensity"),
        "{e}"
    );
    // a data set without targets
    let plain =
        common::write_liquid(&dir.path().join("plain"), &common::ka2d_tiny(), 1, 1.0, 5).unwrap();
    let e = err_of(Targets::load(&plain.dir, &plain));
    assert!(e.contains("glasscam targets"), "{e}");
    // inherent structures: of this data set they are taken ...
    let inh = minimize::minimize(
        &data,
        &Selection::All,
        &MinimizeSettings::default(),
        &Compute::Cpu,
        &ctx,
    )
    .unwrap();
    let idir = dir.path().join("inh");
    minimize::write_inherent(&idir, &inh, false).unwrap();
    let set = InherentSet::load(&idir).unwrap();
    // (6 configurations: half for training and half for validation of the non-test ones)
    let halves = BaselineSettings {
        split: [0.5, 0.5, 0.0],
        ..Default::default()
    };
    let r = baselines(&data, &targets, Some(&set), &halves, &ctx).unwrap();
    assert_eq!(r.rows[0].name, "epot_is");
    // ... but not those of another data set: the same records, every particle half a box away
    let l = data.box_l();
    let moved: Vec<f64> = inh
        .positions
        .iter()
        .map(|&x| (x as f64 + 0.5 * l) % l)
        .collect();
    let mdir = dir.path().join("moved");
    glasscam::io::dataset::Dataset::write(&mdir, &inh.manifest, &moved, &inh.species).unwrap();
    let other = InherentSet {
        data: glasscam::io::dataset::Dataset::load(&mdir).unwrap(),
        info: set.info.clone(),
    };
    let e = err_of(baselines(&data, &targets, Some(&other), &halves, &ctx));
    assert!(
        e.contains("another data set") && e.contains("glasscam minimize"),
        "{e}"
    );
    // a split without a test part (targets without a train/test subset)
    let file = data.dir.join("targets.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    meta.as_object_mut().unwrap().remove("subset");
    std::fs::write(&file, meta.to_string()).unwrap();
    let targets = Targets::load(&data.dir, &data).unwrap();
    let e = err_of(baselines(&data, &targets, None, &halves, &ctx));
    assert!(
        e.contains("test part is empty") && e.contains("`split`"),
        "{e}"
    );
}

#[test]
fn the_weight_sums_behind_the_local_density_equal_a_direct_sum_on_both_paths() {
    let mut rng = Rng(23);
    // box 20 with xi = 1 takes the cell list, box 5 the all-pairs path
    for (n, l) in [(400usize, 20.0f64), (20, 5.0)] {
        let pos: Vec<f64> = (0..2 * n).map(|_| rng.next() * l).collect();
        let field: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let cg = CoarseGrain {
            xi: 1.0,
            cutoff_factor: 3.0,
        };
        let (with_field, w) =
            glasscam::analysis::coarse_grain_with_weights(&pos, [l, l], cg, &[&field]);
        let (none, w0) = glasscam::analysis::coarse_grain_with_weights(&pos, [l, l], cg, &[]);
        assert!(none.is_empty() && with_field.len() == 1);
        for i in 0..n {
            let mut sum = 0.0;
            for j in 0..n {
                let mut dx = pos[2 * j] - pos[2 * i];
                let mut dy = pos[2 * j + 1] - pos[2 * i + 1];
                dx -= l * (dx / l).round();
                dy -= l * (dy / l).round();
                let r = dx.hypot(dy);
                if r < 3.0 {
                    sum += (-r).exp();
                }
            }
            assert!(
                (w[i] - sum).abs() <= 1e-12 * sum,
                "box {l}, particle {i}: {} vs {sum}",
                w[i]
            );
            assert_eq!(w[i], w0[i]);
        }
    }
}

#[test]
fn an_inherent_structure_adds_the_distance_each_particle_moved_to_reach_it() {
    let a = 1.5;
    let (s, pos, diam) = lattice(a, 0);
    // the "configuration": particle i displaced by (0.01 i, -0.02 i), particle 3 across the periodic boundary
    let l = s.box_l;
    let start: Vec<f64> = pos
        .chunks(2)
        .enumerate()
        .flat_map(|(i, p)| {
            let shift = if i == 3 { l } else { 0.0 };
            [p[0] + 0.01 * i as f64 + shift, p[1] - 0.02 * i as f64]
        })
        .collect();
    let d = descriptors(&s, &diam, &pos, Some(&start), &[0.0, 0.9]).unwrap();
    assert_eq!(d.names[0], "epot_is");
    assert_eq!(&d.names[10..], ["is_distance", "is_distance_cg0.9"]);
    for (i, v) in d.column(10).iter().enumerate() {
        let want = (0.01f64 * i as f64).hypot(0.02 * i as f64);
        assert!(
            (v - want).abs() < 1e-12,
            "particle {i}: {v}, by hand {want}"
        );
    }
    // the coarse-grained distance is a weighted mean of the raw ones: between their extremes, and not raw
    let (raw, cg) = (d.column(10), d.column(11));
    let (lo, hi) = (
        raw.iter().cloned().fold(f64::MAX, f64::min),
        raw.iter().cloned().fold(0.0, f64::max),
    );
    assert!(cg.iter().all(|&c| c >= lo && c <= hi) && cg != raw);
}
