//! The propensity network's predictions under the maps that must not change them: relabelling the particles,
//! translating the configuration through the periodic box and, with `symmetrize`, rotating it by 90 degrees or
//! mirroring it (f64 twin, so that only rounding differs).

use crate::common::Rng;
use glasscam::learn::dynamics::graph::build;
use glasscam::learn::dynamics::model::outputs;
use glasscam_kernels::gnn::bapst::GnSpec;

const L: f64 = 9.0;

/// A map of the box onto itself.
type BoxMap = fn(f64, f64) -> (f64, f64);

fn spec() -> GnSpec {
    GnSpec {
        n_species: 2,
        hidden: 8,
        steps: 2,
        outputs: 3,
    }
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

fn predict(pos: &[f64], species: &[u32], symmetrize: bool) -> Vec<f64> {
    let g = build(pos, species, L, 1.6).unwrap();
    let params = spec().init(5);
    outputs(&spec(), &params, &[g], symmetrize).remove(0)
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
    let pos2: Vec<f64> = perm
        .iter()
        .flat_map(|&i| [pos[2 * i], pos[2 * i + 1]])
        .collect();
    let species2: Vec<u32> = perm.iter().map(|&i| species[i]).collect();
    for symmetrize in [false, true] {
        let (a, b) = (
            predict(&pos, &species, symmetrize),
            predict(&pos2, &species2, symmetrize),
        );
        let t = spec().outputs;
        let a_permuted: Vec<f64> = perm
            .iter()
            .flat_map(|&i| a[i * t..(i + 1) * t].to_vec())
            .collect();
        assert_same("relabelled", &a_permuted, &b);
    }
}

#[test]
fn predictions_do_not_change_under_a_periodic_translation() {
    let (pos, species) = config();
    let moved: Vec<f64> = pos
        .chunks(2)
        .flat_map(|p| [(p[0] + 4.37).rem_euclid(L), (p[1] - 7.1).rem_euclid(L)])
        .collect();
    assert_same(
        "translated",
        &predict(&pos, &species, false),
        &predict(&moved, &species, false),
    );
}

#[test]
fn symmetrized_predictions_do_not_change_under_the_box_rotations_and_mirrors() {
    let (pos, species) = config();
    let base = predict(&pos, &species, true);
    let maps: [(&str, BoxMap); 4] = [
        ("rotated by 90 degrees", |x, y| (L - y, x)),
        ("rotated by 180 degrees", |x, y| (L - x, L - y)),
        ("mirrored in x", |x, y| (x, L - y)),
        ("mirrored in the diagonal", |x, y| (y, x)),
    ];
    for (what, f) in maps {
        let moved: Vec<f64> = pos
            .chunks(2)
            .flat_map(|p| {
                let (x, y) = f(p[0], p[1]);
                [x.rem_euclid(L), y.rem_euclid(L)]
            })
            .collect();
        assert_same(what, &base, &predict(&moved, &species, true));
        // without the symmetrization the network itself is not invariant: the test above has something to show
        let (a, b) = (
            predict(&pos, &species, false),
            predict(&moved, &species, false),
        );
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(
            worst > 1e-4,
            "{what}: the plain network is already invariant ({worst:e})"
        );
    }
}
