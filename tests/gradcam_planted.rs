//! Grad-CAM on a planted problem: 16x16 one-channel images with a dozen random unit dots (both classes);
//! "glass" (class 1) images also carry a filled 4x4 patch at a fixed place, nothing else differs. After
//! training, the glass-class Grad-CAM maps of glass images must put at least `MIN_FRACTION` (0.5) of their mass
//! inside the patch grown by the receptive-field radius of the last convolution (two 3x3 layers: 2 pixels, so an
//! 8x8 region, 25 % of the image): a feature-map pixel within that distance is one that sees the patch.

mod common;

use common::Rng;
use glasscam::kernels::nn::net::Net;
use glasscam::kernels::nn::{AdamSpec, Head, NetSpec};
use glasscam::kernels::Compute;

const G: usize = 16;
/// Patch rows 3..7, columns 9..13.
const ROWS: std::ops::Range<usize> = 3..7;
const COLS: std::ops::Range<usize> = 9..13;
/// Receptive-field radius of the last convolution's maps (two 3x3 layers).
const REACH: usize = 2;
/// Fraction of Grad-CAM mass the test requires inside the grown patch (which is 25 % of the image).
const MIN_FRACTION: f64 = 0.5;
const DOTS: usize = 12;

fn image(rng: &mut Rng, glass: bool) -> Vec<f32> {
    let mut img = vec![0f32; G * G];
    for _ in 0..DOTS {
        let i = (rng.next() * (G * G) as f64) as usize % (G * G);
        img[i] = 1.0;
    }
    if glass {
        for y in ROWS {
            for x in COLS {
                img[y * G + x] = 1.0;
            }
        }
    }
    img
}

fn batch(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<u32>) {
    let mut imgs = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let glass = i % 2 == 1;
        imgs.extend(image(rng, glass));
        labels.push(glass as u32);
    }
    (imgs, labels)
}

/// Fraction of the glass-class Grad-CAM mass of glass images inside the grown patch; -1 when the maps are empty.
fn planted_fraction(seed: u64) -> f64 {
    let spec = NetSpec {
        in_channels: 1,
        grid: G,
        conv: vec![4, 4],
        kernel: 3,
        hidden: 8,
        classes: 2,
        head: Head::Flatten,
        dropout: 0.0,
    };
    let mut net = Net::new(&Compute::Cpu, spec.clone(), &spec.init(seed), 16).expect("net");
    let mut rng = Rng(4000 + seed);
    let adam = AdamSpec {
        lr: 3e-3,
        ..AdamSpec::default()
    };
    for step in 0..1000u32 {
        let (imgs, labels) = batch(&mut rng, 16);
        net.train_step(&imgs, &labels, step, &adam).expect("step");
    }
    let (imgs, labels) = batch(&mut rng, 16);
    let (logits, maps) = net.gradcam(&imgs, 1).expect("gradcam");
    let correct = logits
        .chunks(2)
        .zip(&labels)
        .filter(|(l, &y)| usize::from(l[1] > l[0]) == y as usize)
        .count();
    assert_eq!(
        correct, 16,
        "seed {seed}: the planted problem was not learnt"
    );
    let grown = |r: &std::ops::Range<usize>, v: usize| v + REACH >= r.start && v < r.end + REACH;
    let (mut inside, mut total) = (0.0, 0.0);
    for (b, map) in maps.chunks(G * G).enumerate() {
        if labels[b] != 1 {
            continue;
        }
        for y in 0..G {
            for x in 0..G {
                total += map[y * G + x];
                if grown(&ROWS, y) && grown(&COLS, x) {
                    inside += map[y * G + x];
                }
            }
        }
    }
    if total == 0.0 {
        return -1.0;
    }
    inside / total
}

#[test]
fn gradcam_mass_falls_in_the_planted_patch() {
    // Grad-CAM of SPEC §6 takes ReLU(sum_m alpha_m A^m) with alpha the *mean* gradient over all pixels; with a
    // dense layer over the whole map the background's untrained weights enter that mean, and for about half of
    // the initialisations the glass map is empty (the sum is negative everywhere). The test therefore trains
    // eight seeds and requires: every net learns the problem, at least three give non-empty maps, and every
    // non-empty map set has at least MIN_FRACTION of its mass in the grown patch.
    let mut nonempty = Vec::new();
    for seed in 1..=8 {
        let fraction = planted_fraction(seed);
        eprintln!(
            "seed {seed}: Grad-CAM mass inside the grown patch: {fraction:.3} (-1: empty maps)"
        );
        if fraction >= 0.0 {
            assert!(
                fraction >= MIN_FRACTION,
                "seed {seed}: only {fraction:.3} of the Grad-CAM mass is in the grown patch (need {MIN_FRACTION})"
            );
            nonempty.push(fraction);
        }
    }
    assert!(
        nonempty.len() >= 3,
        "only {} of 8 seeds give non-empty glass maps",
        nonempty.len()
    );
}
