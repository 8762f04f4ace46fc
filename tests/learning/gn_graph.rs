//! The propensity network's cutoff graphs: the cell list against the brute-force reference, the refusals (a
//! cutoff that leaves a particle without neighbours, a cutoff of half the box or more), the descriptor node inputs
//! and what the rotations turn.

use crate::common::{self, Rng};
use glasscam::learn::dynamics::graph::build;
use glasscam_kernels::gnn::bapst::cutoff_graph;

#[test]
fn the_cell_list_graph_equals_brute_force_under_periodic_images() {
    // 2 x 2 cells (brute force inside `build` too), 3 x 3 and many cells
    for (n, box_l, cutoff, seed) in [(60, 7.0, 2.0, 1), (150, 12.0, 2.0, 2), (400, 19.0, 1.5, 3)] {
        let mut rng = Rng(seed);
        let pos = rng.vec_f64(2 * n, 0.0, box_l);
        let species: Vec<u32> = (0..n).map(|i| u32::from(i % 3 == 0)).collect();
        let want = cutoff_graph(&pos, &species, box_l, cutoff);
        match build(&pos, &species, box_l, cutoff) {
            Ok(got) => {
                assert_eq!(got, want, "n {n} cutoff {cutoff}");
                got.graph.check(2).unwrap();
            }
            // a uniform configuration may leave a particle alone: then the reference has an isolated node too
            Err(m) => {
                assert!(m.contains("no neighbour within the cutoff"), "{m}");
                assert!(want.graph.check(2).is_err());
            }
        }
    }
}

#[test]
fn a_cutoff_that_leaves_a_particle_alone_is_refused_with_the_cutoff_to_use() {
    // two particles 1.5 apart and a third 3.0 from both, in a box of 10
    let pos = [1.0, 1.0, 2.5, 1.0, 1.75, 4.0];
    let e = build(&pos, &[0, 0, 1], 10.0, 2.0).unwrap_err();
    assert!(
        e.contains("particle 2 has no neighbour within the cutoff 2")
            && e.contains("raise `cutoff` in the model file above 3.0"),
        "{e}"
    );
    assert!(build(&pos, &[0, 0, 1], 10.0, 3.2).is_ok());
    let e = build(&pos, &[0, 0, 1], 10.0, 5.0).unwrap_err();
    assert!(e.contains("must be below half the box side (5)"), "{e}");
}

#[test]
fn a_data_set_graph_error_names_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = common::write_annotated(dir.path(), 2, 6, 1, 3).unwrap();
    // a lattice of spacing 1: a cutoff of 0.5 leaves every particle alone
    let e = common::err_of(glasscam::learn::dynamics::graph::graphs(
        &data,
        0.5,
        &[1],
        None,
        None,
    ));
    assert!(
        e.contains("snapshot 1: particle") && e.contains("raise `cutoff`"),
        "{e}"
    );
}

#[test]
fn descriptor_inputs_are_the_baselines_columns_standardized_over_the_given_configurations() {
    use glasscam::analysis::descriptors::n_columns;
    use glasscam::learn::dynamics::graph::{described, descriptor_scale, graphs, DescriptorInputs};
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = common::write_annotated(dir.path(), 4, 6, 1, 3).unwrap();
    let lengths = vec![0.0, 1.5];
    let idx = [0, 2, 3];
    let columns = descriptor_scale(&data, None, &idx, &lengths).unwrap();
    let f = n_columns(false, 2);
    assert_eq!(f, 10);
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(&names[..3], ["epot", "epot_cg1.5", "density"]);
    let d = DescriptorInputs { lengths, columns };
    let gs = graphs(&data, 1.6, &idx, None, Some(&d)).unwrap();
    let n = data.n_particles();
    for g in &gs {
        assert_eq!(g.node.len(), n * f);
    }
    // over the configurations the scale came from, every column has mean 0 and deviation 1
    for c in 0..f {
        let all: Vec<f64> = gs
            .iter()
            .flat_map(|g| g.node.iter().skip(c).step_by(f).copied())
            .collect();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / all.len() as f64;
        assert!(
            mean.abs() < 1e-9 && (var - 1.0).abs() < 1e-9,
            "column {c}: {mean} {var}"
        );
    }
    // and each node's inputs are its own descriptors
    let raw = described(&data, None, 2, &d.lengths).unwrap();
    for (i, c) in [(0, 0), (7, 4), (35, 9)] {
        let want = (raw.values[i * f + c] - d.columns[c].mean) / d.columns[c].std;
        assert!((gs[1].node[i * f + c] - want).abs() < 1e-12);
    }
}

#[test]
fn the_rotations_turn_the_edge_vectors_and_only_the_leading_node_vectors() {
    use glasscam::learn::dynamics::graph::{transformed, Orthogonal};
    let pos = [1.0, 1.0, 2.0, 1.5, 1.5, 2.5];
    let mut g = cutoff_graph(&pos, &[0, 0, 1], 10.0, 2.0);
    g.node = vec![1.0, 0.0, 7.0, 8.0, 0.0, 2.0, 7.0, 8.0, 3.0, 4.0, 7.0, 8.0];
    let quarter = Orthogonal {
        angle: std::f64::consts::FRAC_PI_2,
        reflect: false,
    };
    // one vector (the displacement to the inherent structure): (x, y) -> (-y, x), the rest untouched
    let t = transformed(&g, quarter, 1);
    assert_eq!(
        t.node,
        [0.0, 1.0, 7.0, 8.0, -2.0, 0.0, 7.0, 8.0, -4.0, 3.0, 7.0, 8.0]
    );
    assert_eq!(&t.vec[..2], [-g.vec[1], g.vec[0]]);
    // none (descriptors only): the node inputs are scalars and stay
    assert_eq!(transformed(&g, quarter, 0).node, g.node);
}
