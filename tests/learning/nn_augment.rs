//! The training augmentation (`ModelConfig::augment`): an exact symmetry of the periodic square box, so every
//! pair distance (minimum image) is unchanged; deterministic for a seed; different seeds give different images.

use glasscam::kernels::rng::mix;
use glasscam::learn::cnn::data::{augment, augment_seed};

fn min_image(d: f64, l: f64) -> f64 {
    d - l * (d / l).round()
}

fn dist(p: &[f64], i: usize, j: usize, l: f64) -> f64 {
    let dx = min_image(p[2 * i] - p[2 * j], l);
    let dy = min_image(p[2 * i + 1] - p[2 * j + 1], l);
    (dx * dx + dy * dy).sqrt()
}

#[test]
fn augmentation_keeps_pair_distances_and_is_deterministic() {
    let l = 7.3;
    let n = 40;
    let mut s = mix(11);
    let pos: Vec<f64> = (0..2 * n)
        .map(|_| {
            s = mix(s);
            (s >> 11) as f64 / (1u64 << 53) as f64 * l
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for epoch in 0..64 {
        let seed = augment_seed(3, epoch, 5);
        let a = augment(&pos, l, seed);
        assert_eq!(a, augment(&pos, l, seed), "not deterministic");
        assert!(a.iter().all(|&x| (0.0..l).contains(&x)), "not wrapped");
        for i in 0..n {
            for j in 0..i {
                let (d0, d1) = (dist(&pos, i, j, l), dist(&a, i, j, l));
                assert!((d0 - d1).abs() < 1e-9, "pair {i} {j}: {d0} -> {d1}");
            }
        }
        seen.insert(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }
    assert!(seen.len() > 60, "seeds should give different transforms");
    assert_ne!(augment_seed(3, 1, 5), augment_seed(3, 2, 5));
    assert_ne!(augment_seed(3, 1, 5), augment_seed(4, 1, 5));
}

#[test]
fn quick_model_file_is_the_quick_config() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/quick-model.toml");
    let cfg =
        glasscam::learn::cnn::config::ModelConfig::from_file(&p).expect("presets/quick-model.toml");
    assert_eq!(cfg, glasscam::learn::cnn::config::ModelConfig::quick());
}

#[test]
fn standardization_gives_each_channel_mean_0_and_std_1() {
    use glasscam::learn::cnn::model::Standardization;
    // 3 images of 2 channels x 4 pixels; channel 1 constant (no spread: std 1, only shifted)
    let imgs: Vec<f32> = (0..3)
        .flat_map(|s| {
            let a: Vec<f32> = (0..4).map(|p| (s * 4 + p) as f32).collect();
            a.into_iter().chain([5.0; 4])
        })
        .collect();
    let n = Standardization::measure(&imgs, 2, 4);
    assert!((n.mean[0] - 5.5).abs() < 1e-12, "{:?}", n.mean);
    assert!(
        (n.std[0] - (143.0f64 / 12.0).sqrt()).abs() < 1e-12,
        "{:?}",
        n.std
    );
    assert_eq!((n.mean[1], n.std[1]), (5.0, 1.0));
    let mut x = imgs.clone();
    n.apply(&mut x, 4);
    let ch0: Vec<f64> = (0..3)
        .flat_map(|s| x[s * 8..s * 8 + 4].to_vec())
        .map(f64::from)
        .collect();
    let m = ch0.iter().sum::<f64>() / 12.0;
    let v = ch0.iter().map(|y| (y - m).powi(2)).sum::<f64>() / 12.0;
    assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "mean {m} var {v}");
    assert!((0..3).all(|s| x[s * 8 + 4..s * 8 + 8].iter().all(|&y| y == 0.0)));
}

/// The training set kept on the backend (`Net::load_set`, the kernel gather_augment's CPU twin, which the GPU
/// kernel is tested against in the kernels crate) gives the host path's images exactly: each snapshot augmented
/// with `augment_transform` (`augment`), gridized and standardized on the host.
#[test]
fn the_set_on_the_cpu_twin_gives_the_host_paths_images_exactly() {
    use glasscam::kernels::nn::net::{gridize, Net, TrainSet};
    use glasscam::kernels::Compute;
    use glasscam::learn::cnn::config::ModelConfig;
    use glasscam::learn::cnn::data::augment_transform;
    use glasscam::learn::cnn::model::Standardization;
    let (set, n, box_l) = (5, 60, 16.0);
    let cfg = ModelConfig {
        grid: 16,
        width: 0.6,
        ..ModelConfig::quick()
    };
    let mut uniform = glasscam::kernels::rng::SplitMix64(7);
    let pos: Vec<f64> = (0..set * n * 2)
        .map(|_| uniform.next_f64() * box_l)
        .collect();
    let species: Vec<u32> = (0..n).map(|i| (i % 3 % 2) as u32).collect();
    let labels: Vec<u32> = (0..set as u32).map(|i| i % 2).collect();
    let norm = Standardization {
        mean: vec![0.4, 0.2],
        std: vec![0.5, 0.8],
    };
    let grid = cfg.grid_spec(box_l);
    let spec = cfg.net_spec(2);
    let mut net = Net::new(&Compute::Cpu, spec.clone(), &spec.init(3), 3).expect("net");
    net.load_set(&TrainSet {
        positions: &pos,
        species: &species,
        labels: &labels,
        grid,
        mean: &norm.mean,
        std: &norm.std,
    })
    .expect("load_set");
    let order = [3u32, 0, 4, 1, 2];
    let per = 2 * 16 * 16;
    for aug in [false, true] {
        let tf: Vec<[f64; 4]> = (0..set)
            .map(|k| augment_transform(box_l, augment_seed(9, 2, k)))
            .collect();
        net.begin_epoch(&order, aug.then_some(&tf[..]))
            .expect("epoch");
        let got = net.set_images(1, 3).expect("images");
        for (s, &k) in order[1..4].iter().enumerate() {
            let k = k as usize;
            let snap = &pos[k * n * 2..(k + 1) * n * 2];
            let moved = if aug {
                augment(snap, box_l, augment_seed(9, 2, k))
            } else {
                snap.to_vec()
            };
            let mut want = gridize(&Compute::Cpu, &grid, &moved, &species, 2).expect("gridize");
            norm.apply(&mut want, 16 * 16);
            let want: Vec<f64> = want.iter().map(|&x| x as f64).collect();
            assert_eq!(
                &got[s * per..(s + 1) * per],
                &want[..],
                "augment {aug} sample {s}"
            );
        }
    }
}
