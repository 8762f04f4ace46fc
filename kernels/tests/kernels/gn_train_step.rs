//! One whole training step of Bapst's propensity network on the GPU (`GpuGn::loss_and_grads`: forward, masked
//! squared error and backward with every activation on the device) against the f64 CPU twin
//! (`bapst::loss_and_grads`): the outputs, the loss and every parameter's gradient, on a batch of two periodic
//! cutoff graphs of 144 particles, scoring species 0, species 1 and every species; with Bapst's inputs (the species and the edge
//! vector) and with 4 more values per node and 2 more per edge.

use crate::common::Rng;
use glasscam_kernels::gnn::bapst::{
    cutoff_graph, forward, loss_and_grads, GnGraph, GnSpec, ALL_SPECIES,
};
use glasscam_kernels::gnn::gpu_bapst::GpuGn;
use glasscam_kernels::gpu::test_context;
use glasscam_kernels::tolerance::{assert_close, Tolerance};

/// Outputs: f32 through two message-passing steps of width 8 (sums of a dozen edges per node).
const OUT: Tolerance = Tolerance {
    abs: 1e-5,
    rel: 1e-4,
};
/// Gradients: f32 against f64 after the whole chain, summed over hundreds of edges in another order (the GPU's
/// strided partial sums against the twin's GEMM chunks).
const GRAD: Tolerance = Tolerance {
    abs: 2e-6,
    rel: 5e-4,
};

/// Two jittered 12 x 12 lattices of spacing 1 (every third particle species 1): every particle has neighbours
/// within 1.6.
fn batch() -> GnGraph {
    let mut rng = Rng(5);
    let species: Vec<u32> = (0..144).map(|i| u32::from(i % 3 == 0)).collect();
    let graphs: Vec<GnGraph> = (0..2)
        .map(|_| {
            let pos: Vec<f64> = (0..144)
                .flat_map(|i| [(i % 12) as f64, (i / 12) as f64])
                .map(|x| (x + 0.5 * (rng.next() - 0.5)).rem_euclid(12.0))
                .collect();
            cutoff_graph(&pos, &species, 12.0, 1.6)
        })
        .collect();
    GnGraph::concat(&graphs.iter().collect::<Vec<_>>())
}

#[test]
fn gn_train_step_should_match_cpu() {
    let Some(ctx) = test_context("gn_train_step_should_match_cpu") else {
        return;
    };
    let bapst = GnSpec {
        n_species: 2,
        node_in: 0,
        edge_in: 2,
        hidden: 8,
        steps: 2,
        outputs: 3,
    };
    let plain = batch();
    let mut rng = Rng(9);
    let mut more = plain.clone();
    more.node = (0..plain.graph.n_nodes() * 4)
        .map(|_| rng.next() - 0.5)
        .collect();
    more.vec = plain
        .vec
        .chunks_exact(2)
        .flat_map(|v| [v[0], v[1], rng.next() - 0.5, rng.next() - 0.5])
        .collect();
    let wider = GnSpec {
        node_in: 4,
        edge_in: 4,
        ..bapst
    };
    for (spec, g) in [(bapst, plain), (wider, more)] {
        train_step_matches(&ctx, spec, &g);
    }
}

fn train_step_matches(
    ctx: &std::sync::Arc<glasscam_kernels::gpu::GpuContext>,
    spec: GnSpec,
    g: &GnGraph,
) {
    let mut rng = Rng(8);
    // biases away from zero so that the ReLUs cut on both sides; the values exact in f32 for both paths
    let params: Vec<f64> = spec
        .init(4)
        .iter()
        .map(|&p| (p + 0.1 * (rng.next() - 0.5)) as f32 as f64)
        .collect();
    let p32: Vec<f32> = params.iter().map(|&x| x as f32).collect();
    let targets: Vec<f32> = (0..g.graph.n_nodes() * spec.outputs)
        .map(|_| rng.next() as f32)
        .collect();
    let t64: Vec<f64> = targets.iter().map(|&x| x as f64).collect();
    let gpu = GpuGn::new(ctx.clone(), spec, &p32).unwrap();
    for scored in [0, 1, ALL_SPECIES] {
        let what = format!(
            "gn train step, {} node and {} edge inputs, species {scored}",
            spec.node_in, spec.edge_in
        );
        let bb = gpu.batch(g, scored).unwrap();
        let want_y = forward(&spec, &params, g);
        assert_close(
            &format!("{what}: outputs"),
            &gpu.forward(&bb).unwrap(),
            want_y.y(),
            OUT,
        );
        let (loss, grads, _) = loss_and_grads(&spec, &params, g, scored, &t64);
        let (got_loss, got) = gpu.loss_and_grads(&bb, &targets).unwrap();
        assert_close(&format!("{what}: loss"), &[got_loss], &[loss], OUT);
        for (name, shape, off) in spec.tensors() {
            let n: usize = shape.iter().product();
            assert_close(
                &format!("{what}: gradient of {name}"),
                &got[off..off + n],
                &grads[off..off + n],
                GRAD,
            );
        }
        assert!(
            grads.iter().any(|&x| x.abs() > 1e-3),
            "{what}: a gradient to compare"
        );
    }
}
