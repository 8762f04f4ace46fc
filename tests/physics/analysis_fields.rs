//! Coarse-graining (cell list vs the formula summed over all pairs), min-max normalisation, and the Pearson and
//! Spearman coefficients against hand-computed values.

use glasscam::analysis::bench::random_configs;
use glasscam::analysis::stats::{mean_std, ranks};
use glasscam::analysis::{coarse_grain, normalise, pearson, spearman, CoarseGrain};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The definition of docs/methods.md, "Order parameters", summed over every pair, minimum image.
fn coarse_grain_brute(p: &[f64], b: [f64; 2], cg: CoarseGrain, x: &[f64]) -> Vec<f64> {
    let n = p.len() / 2;
    let rc = cg.xi * cg.cutoff_factor;
    (0..n)
        .map(|i| {
            let (mut num, mut den) = (0.0, 0.0);
            for j in 0..n {
                let mut dx = p[2 * j] - p[2 * i];
                let mut dy = p[2 * j + 1] - p[2 * i + 1];
                dx -= b[0] * (dx / b[0]).round();
                dy -= b[1] * (dy / b[1]).round();
                let r = (dx * dx + dy * dy).sqrt();
                if r < rc {
                    let w = (-r / cg.xi).exp();
                    num += w * x[j];
                    den += w;
                }
            }
            num / den
        })
        .collect()
}

#[test]
fn coarse_grain_of_a_constant_field_is_the_constant() {
    let (l, all) = random_configs(1, 2000, 3);
    let p = &all[..4000];
    let c = vec![2.75; 2000];
    for cg in [
        CoarseGrain::default(),
        CoarseGrain {
            xi: 1.0,
            cutoff_factor: 3.0,
        },
        CoarseGrain {
            xi: 10.0,
            cutoff_factor: 3.0,
        },
    ] {
        let out = coarse_grain(p, [l, l], cg, &[&c]);
        for (i, v) in out[0].iter().enumerate() {
            assert!((v - 2.75).abs() < 1e-12, "xi {}: particle {i}: {v}", cg.xi);
        }
    }
}

#[test]
fn coarse_grain_cell_list_matches_all_pairs() {
    // 2000 particles (cell list, 9 cells a side), 635 (5 cells a side: the smallest stencil that does not wrap
    // onto itself) and 150 in a small box (all-pairs path, cut-off beyond half the box).
    for (n, seed) in [(2000usize, 11u64), (635, 13), (150, 12)] {
        let (l, all) = random_configs(1, n, seed);
        let p = &all[..2 * n];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
        let y: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 5.0 - 1.0).collect();
        let cg = CoarseGrain::default();
        let fast = coarse_grain(p, [l, l], cg, &[&x, &y]);
        for (f, field) in [&x, &y].iter().enumerate() {
            let slow = coarse_grain_brute(p, [l, l], cg, field);
            for i in 0..n {
                let (a, b) = (fast[f][i], slow[i]);
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
                    "n {n} field {f} particle {i}: cell list {a} vs all pairs {b}"
                );
            }
        }
    }
}

#[test]
fn normalised_fields_span_exactly_zero_to_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for _ in 0..20 {
        let x: Vec<f64> = (0..500)
            .map(|_| rng.random::<f64>() * 37.3 - 11.1)
            .collect();
        let y = normalise(&x);
        let lo = y.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = y.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(lo, 0.0);
        assert_eq!(hi, 1.0);
        assert!(y.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    // A constant field has no scale: documented to map to zeros.
    assert_eq!(normalise(&[3.0, 3.0, 3.0]), vec![0.0, 0.0, 0.0]);
}

#[test]
fn pearson_and_spearman_match_hand_values() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let y = [2.0, 4.0, 5.0, 4.0, 5.0];
    // Deviations (-2,-1,0,1,2) and (-2,0,1,0,1): sxy = 6, sxx = 10, syy = 6.
    let p = pearson(&x, &y);
    assert!((p - 6.0 / 60f64.sqrt()).abs() < 1e-15, "pearson {p}");
    // Average ranks of y: 2 -> 1, the 4s -> 2.5, the 5s -> 4.5.
    assert_eq!(ranks(&y), vec![1.0, 2.5, 4.5, 2.5, 4.5]);
    // Rank deviations (-2,-1,0,1,2) and (-2,-0.5,1.5,-0.5,1.5): sxy = 7, sxx = 10, syy = 9.
    let s = spearman(&x, &y);
    assert!((s - 7.0 / 90f64.sqrt()).abs() < 1e-15, "spearman {s}");
    // Perfect monotone but non-linear: Spearman 1, Pearson below 1; reversed: -1.
    let z: Vec<f64> = x.iter().map(|v: &f64| v.powi(3)).collect();
    assert!((spearman(&x, &z) - 1.0).abs() < 1e-15);
    assert!(pearson(&x, &z) < 0.99);
    let r: Vec<f64> = x.iter().map(|v| -v).collect();
    assert!((pearson(&x, &r) + 1.0).abs() < 1e-15);
    // Undefined for a constant field.
    assert!(pearson(&x, &[1.0; 5]).is_nan());
}

#[test]
fn mean_and_std_skip_undefined_coefficients() {
    let (m, s, n) = mean_std(&[1.0, f64::NAN, 3.0]);
    assert_eq!(n, 2);
    assert!((m - 2.0).abs() < 1e-15);
    assert!((s - 2f64.sqrt()).abs() < 1e-15);
}

#[test]
fn exp_neg_matches_std_exp_to_two_ulp() {
    use glasscam::analysis::coarse::exp_neg;
    let mut worst: f64 = 0.0;
    for k in 0..=200_000 {
        let x = -40.0 * k as f64 / 200_000.0;
        let (a, b) = (exp_neg(x), x.exp());
        worst = worst.max(((a - b) / b).abs());
    }
    assert!(worst < 4.5e-16, "worst relative error {worst}");
    assert!(exp_neg(-800.0) < 1e-300);
    assert_eq!(exp_neg(0.0), 1.0);
}

#[test]
fn sign_agreement_reads_the_papers_signs_and_numbers() {
    use glasscam::analysis::paper::Reference;
    assert!(Reference::Value(0.552).sign_agrees(0.1));
    assert!(!Reference::Value(0.552).sign_agrees(-0.7));
    assert!(Reference::Negative.sign_agrees(-0.2));
    assert!(!Reference::Negative.sign_agrees(0.2));
    assert!(!Reference::Positive.sign_agrees(0.0));
    assert!(Reference::Positive.sign_agrees(0.3));
    // the summary of an ABM liquid row compares with the paper's "< 0"
    let rows = vec![glasscam::analysis::CorrelationRow {
        snapshot: 0,
        replica: None,
        class: glasscam::domain::Class::Liquid,
        pearson: [0.1, 0.2, 0.3],
        spearman: [0.1, 0.2, 0.3],
    }];
    let s = glasscam::analysis::analyze::summarise("abm", &rows);
    let r = s
        .iter()
        .find(|r| r.pair == "gamma_1mtheta" && r.method == "pearson")
        .unwrap();
    assert_eq!(r.paper, Some(Reference::Negative));
    assert_eq!(r.sign_agrees, Some(false));
    assert!(s
        .iter()
        .filter(|r| r.method == "spearman")
        .all(|r| r.paper.is_none()));
}

#[test]
fn coarse_grain_memory_follows_n_not_the_box_area() {
    use glasscam::analysis::coarse::{cell_grid, MAX_CELLS_PER_PARTICLE};
    // 300 particles in a 1e5 box: rc/2-wide cells would be 2.2e4 a side (5e8 cells, 4 GB of cell starts)
    for l in [1e5, 1e6] {
        let (ncx, ncy) = cell_grid(300, [l, l], 9.0).expect("a cell list");
        assert!(ncx * ncy <= MAX_CELLS_PER_PARTICLE * 300, "{ncx} x {ncy}");
        assert!(l / ncx as f64 >= 4.5, "cells at least rc/2 wide");
    }
    // a tiny cut-off or a huge box cannot overflow the count
    assert!(cell_grid(300, [1e300, 1e300], 1e-300).is_some());
    // and the widened cells give the same field as all pairs: a cluster of 300 in one corner, wrapping the edge
    let l = 1e5;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let p: Vec<f64> = (0..600)
        .map(|_| (rng.random::<f64>() * 40.0 - 20.0).rem_euclid(l))
        .collect();
    let x: Vec<f64> = (0..300).map(|_| rng.random::<f64>()).collect();
    let cg = CoarseGrain::default();
    let fast = coarse_grain(&p, [l, l], cg, &[&x]);
    let slow = coarse_grain_brute(&p, [l, l], cg, &x);
    for i in 0..300 {
        let (a, b) = (fast[0][i], slow[i]);
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
            "particle {i}: {a} vs {b}"
        );
    }
}
