//! The propensity network's predictions under the maps that must not change them: relabelling the particles,
//! translating the configuration through the periodic box and, with `symmetrize`, rotating it by 90 degrees or
//! mirroring it (f64 twin, so that only rounding differs); with Bapst's inputs and with an inherent structure's
//! beside them (mapped with the configuration).

use crate::common::Rng;
use glasscam::learn::dynamics::graph::{build, with_inherent, INHERENT_EDGE_IN, INHERENT_NODE_IN};
use glasscam::learn::dynamics::model::outputs;
use glasscam_kernels::gnn::bapst::GnSpec;

const L: f64 = 9.0;

/// A map of the box onto itself.
type BoxMap = fn(f64, f64) -> (f64, f64);

fn spec(inherent: bool) -> GnSpec {
    let (node_in, edge_in) = match inherent {
        true => (INHERENT_NODE_IN, INHERENT_EDGE_IN),
        false => (0, 2),
    };
    GnSpec {
        n_species: 2,
        node_in,
        edge_in,
        hidden: 8,
        steps: 2,
        outputs: 3,
    }
}

/// A stand-in for the inherent structure of `pos`: every particle moved by a seeded step of up to 0.3 (taken from
/// its own coordinates, so that it follows the particle through every map).
fn stand_in(pos: &[f64]) -> Vec<f64> {
    pos.chunks(2)
        .flat_map(|p| {
            let h = (p[0] * 12.9898 + p[1] * 78.233).sin() * 43758.5453;
            let (a, r) = (
                h.fract() * std::f64::consts::TAU,
                0.3 * (h * 7.0).fract().abs(),
            );
            [
                (p[0] + r * a.cos()).rem_euclid(L),
                (p[1] + r * a.sin()).rem_euclid(L),
            ]
        })
        .collect()
}

/// A jittered lattice of 81 particles in a box of 9 (every particle has neighbours within 1.6).
fn config() -> (Vec<f64>, Vec<u32>) {
    let mut rng = Rng(11);
    let pos = (0..81)
        .flat_map(|i| [(i % 9) as f64, (i / 9) as f64])
        .map(|x| (x + 0.5 * (rng.next() - 0.5) + 0.3).rem_euclid(L))
        .collect();
    let species = (0..81).map(|i| u32::from(i % 4 == 1)).collect();
    (pos, species)
}

/// Predictions of a seeded network; with `inherent`, its stand-in inherent structure `min` and energies that
/// depend on the species and the displacement's length.
fn predict(pos: &[f64], species: &[u32], symmetrize: bool, min: Option<&[f64]>) -> Vec<f64> {
    let mut g = build(pos, species, L, 1.6).unwrap();
    if let Some(min) = min {
        let e: Vec<f64> = (0..species.len())
            .map(|i| {
                let d = |a: usize| {
                    let x = min[2 * i + a] - pos[2 * i + a];
                    x - L * (x / L).round()
                };
                f64::from(species[i]) - 3.0 * d(0).hypot(d(1))
            })
            .collect();
        with_inherent(&mut g, (pos, min), &e, [-0.2, 0.5], L, 1.6);
    }
    let spec = spec(min.is_some());
    let params = spec.init(5);
    let vectors = usize::from(min.is_some());
    outputs(&spec, &params, &[g], symmetrize, vectors).remove(0)
}

/// `predict` with Bapst's inputs, then with a stand-in inherent structure of `pos` mapped by `f`.
fn both(
    pos: &[f64],
    species: &[u32],
    symmetrize: bool,
    f: impl Fn(&[f64]) -> Vec<f64>,
) -> [Vec<f64>; 2] {
    let min = f(&stand_in(pos));
    let pos = f(pos);
    [
        predict(&pos, species, symmetrize, None),
        predict(&pos, species, symmetrize, Some(&min)),
    ]
}

fn assert_same(what: &str, a: &[f64], b: &[f64]) {
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-9, "{what}: worst difference {worst:e}");
}

#[test]
fn predictions_follow_a_relabelling_of_the_particles() {
    let (pos, species) = config();
    let n = species.len();
    // a seeded permutation: new particle k is old particle perm[k]
    let mut perm: Vec<usize> = (0..n).collect();
    let mut rng = Rng(3);
    for i in (1..n).rev() {
        perm.swap(i, (rng.next() * (i + 1) as f64) as usize % (i + 1));
    }
    let relabel = |p: &[f64]| -> Vec<f64> {
        perm.iter()
            .flat_map(|&i| [p[2 * i], p[2 * i + 1]])
            .collect()
    };
    let species2: Vec<u32> = perm.iter().map(|&i| species[i]).collect();
    for symmetrize in [false, true] {
        let a = both(&pos, &species, symmetrize, |p| p.to_vec());
        let b = both(&pos, &species2, symmetrize, relabel);
        let t = spec(false).outputs;
        for (a, b) in a.iter().zip(&b) {
            let a_permuted: Vec<f64> = perm
                .iter()
                .flat_map(|&i| a[i * t..(i + 1) * t].to_vec())
                .collect();
            assert_same("relabelled", &a_permuted, b);
        }
    }
}

#[test]
fn predictions_do_not_change_under_a_periodic_translation() {
    let (pos, species) = config();
    let moved = |q: &[f64]| -> Vec<f64> {
        q.chunks(2)
            .flat_map(|p| [(p[0] + 4.37).rem_euclid(L), (p[1] - 7.1).rem_euclid(L)])
            .collect()
    };
    let a = both(&pos, &species, false, |p| p.to_vec());
    let b = both(&pos, &species, false, moved);
    for (a, b) in a.iter().zip(&b) {
        assert_same("translated", a, b);
    }
}

#[test]
fn symmetrized_predictions_do_not_change_under_the_box_rotations_and_mirrors() {
    let (pos, species) = config();
    let base = both(&pos, &species, true, |p| p.to_vec());
    let plain = both(&pos, &species, false, |p| p.to_vec());
    let maps: [(&str, BoxMap); 4] = [
        ("rotated by 90 degrees", |x, y| (L - y, x)),
        ("rotated by 180 degrees", |x, y| (L - x, L - y)),
        ("mirrored in x", |x, y| (x, L - y)),
        ("mirrored in the diagonal", |x, y| (y, x)),
    ];
    for (what, f) in maps {
        let moved = |q: &[f64]| -> Vec<f64> {
            q.chunks(2)
                .flat_map(|p| {
                    let (x, y) = f(p[0], p[1]);
                    [x.rem_euclid(L), y.rem_euclid(L)]
                })
                .collect()
        };
        let sym = both(&pos, &species, true, moved);
        let unsym = both(&pos, &species, false, moved);
        for k in 0..2 {
            assert_same(what, &base[k], &sym[k]);
            // without the symmetrization the network itself is not invariant: the test above has something to
            // show
            let worst = plain[k]
                .iter()
                .zip(&unsym[k])
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                worst > 1e-4,
                "{what}: the plain network is already invariant ({worst:e})"
            );
        }
    }
}
