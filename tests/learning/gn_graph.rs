//! The propensity network's cutoff graphs: the cell list against the brute-force reference, and the refusals (a
//! cutoff that leaves a particle without neighbours, a cutoff of half the box or more).

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
    ));
    assert!(
        e.contains("snapshot 1: particle") && e.contains("raise `cutoff`"),
        "{e}"
    );
}
