//! Graph construction: the cell-list kNN against brute force (periodic), symmetry, the reverse-edge involution,
//! CSR grouping by target, window graphs, and refusals (k = 0, k >= particles).

use crate::common;

use common::Rng;
use glasscam::learn::gnn::graph::{build, knn_brute, knn_periodic, Region};

fn config(n: usize, box_l: f64, seed: u64) -> (Vec<f64>, Vec<u32>) {
    let mut rng = Rng(seed);
    let pos = rng.vec_f64(2 * n, 0.0, box_l);
    let species = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
    (pos, species)
}

#[test]
fn cell_list_knn_equals_brute_force_under_periodic_images() {
    for (n, k, seed) in [(300, 6, 1), (500, 1, 2), (200, 12, 3)] {
        let box_l = (n as f64 / 1.1).sqrt();
        let (pos, _) = config(n, box_l, seed);
        let fast = knn_periodic(&pos, k, box_l);
        let slow = knn_brute(&pos, k, Some(box_l));
        assert_eq!(fast, slow, "n {n} k {k}");
        assert!(fast.iter().all(|l| l.len() == k));
    }
}

#[test]
fn graph_is_symmetric_grouped_by_target_with_reverse_involution() {
    let (pos, species) = config(400, 19.0, 7);
    let (g, idx) = build(&pos, &species, 19.0, 6, Region::Periodic).unwrap();
    g.check(2).unwrap();
    assert_eq!(idx.len(), 400);
    let nbrs = knn_brute(&pos, 6, Some(19.0));
    // every kNN pair is an edge in both directions, and no other edge exists
    let mut expected = std::collections::BTreeSet::new();
    for (i, l) in nbrs.iter().enumerate() {
        for &j in l {
            expected.insert((i as u32, j));
            expected.insert((j, i as u32));
        }
    }
    let got: std::collections::BTreeSet<(u32, u32)> =
        g.src.iter().copied().zip(g.dst.iter().copied()).collect();
    assert_eq!(got, expected);
    assert_eq!(g.n_edges(), expected.len());
    for e in 0..g.n_edges() {
        let r = g.rev[e] as usize;
        assert_eq!(g.rev[r] as usize, e);
        assert_eq!((g.src[r], g.dst[r]), (g.dst[e], g.src[e]));
        assert!((g.dist[e] - g.dist[r]).abs() == 0.0);
        if e > 0 {
            assert!(
                (g.dst[e - 1], g.src[e - 1]) < (g.dst[e], g.src[e]),
                "edges sorted by target then source"
            );
        }
    }
    // every node has at least k incoming edges
    for v in 0..400 {
        assert!(g.in_ptr[v + 1] - g.in_ptr[v] >= 6);
    }
    // an edge across the boundary has its minimum-image length
    let e = (0..g.n_edges())
        .find(|&e| (pos[2 * g.src[e] as usize] - pos[2 * g.dst[e] as usize]).abs() > 9.5)
        .expect("some edge crosses the boundary");
    assert!(g.dist[e] < 9.5);
}

#[test]
fn window_graph_keeps_the_window_and_uses_plain_distances() {
    let (pos, species) = config(900, 30.0, 3);
    let (g, idx) = build(
        &pos,
        &species,
        30.0,
        3,
        Region::Window {
            side: 10.0,
            seed: 5,
        },
    )
    .unwrap();
    g.check(2).unwrap();
    assert!(
        idx.len() > 50 && idx.len() < 200,
        "{} particles in a 10 x 10 window",
        idx.len()
    );
    for e in 0..g.n_edges() {
        let (a, b) = (
            idx[g.src[e] as usize] as usize,
            idx[g.dst[e] as usize] as usize,
        );
        let d =
            ((pos[2 * a] - pos[2 * b]).powi(2) + (pos[2 * a + 1] - pos[2 * b + 1]).powi(2)).sqrt();
        assert!((d - g.dist[e]).abs() < 1e-12);
    }
}

#[test]
fn bad_k_is_refused_with_the_reason() {
    let (pos, species) = config(20, 5.0, 1);
    let e = build(&pos, &species, 5.0, 0, Region::Periodic)
        .unwrap_err()
        .to_string();
    assert!(e.contains("k = 0") && e.contains("isolated"), "{e}");
    let e = build(&pos, &species, 5.0, 20, Region::Periodic)
        .unwrap_err()
        .to_string();
    assert!(e.contains("k = 20") && e.contains("20"), "{e}");
    let e = build(
        &pos,
        &species,
        5.0,
        6,
        Region::Window { side: 1.0, seed: 1 },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("window"), "{e}");
}

#[test]
fn isolated_node_is_refused_by_the_batch_check() {
    let (pos, species) = config(30, 6.0, 2);
    let (mut g, _) = build(&pos, &species, 6.0, 2, Region::Periodic).unwrap();
    // cut node 0 off: drop its incoming edge range from the CSR (the check must notice)
    let cut = g.in_ptr[1];
    for p in g.in_ptr.iter_mut().skip(1).take(1) {
        *p = 0;
    }
    let e = g.check(2).unwrap_err().to_string();
    assert!(e.contains("node 0 has no edges"), "{e} (cut {cut})");
    let (g, _) = build(&pos, &species, 6.0, 2, Region::Periodic).unwrap();
    let e = g.check(1).unwrap_err().to_string();
    assert!(e.contains("species 1") && e.contains("1 species"), "{e}");
}
