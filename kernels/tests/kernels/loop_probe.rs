//! loop_probe: the GPU loop makes as many trips as its twin, up to the driver's loop budget; where the driver has
//! one (Mesa 22.3's lavapipe), the probe stops exactly there and the context reports it.

use glasscam_kernels::gpu::test_context;
use glasscam_kernels::probe::{loop_probe, PROBE_TRIPS};

#[test]
fn loop_probe_should_match_cpu_below_the_budget() {
    let Some(ctx) = test_context("loop_probe_should_match_cpu_below_the_budget") else {
        return;
    };
    let budget = ctx.loop_budget();
    eprintln!("{}: loop budget {budget:?}", ctx.describe());
    for trips in [0, 1, 2, 255, 256, 257, 60_000] {
        let want = loop_probe(trips);
        let got = ctx.run_loop_probe(trips).expect("probe");
        match budget {
            Some(b) if trips as u64 > b => assert_eq!(got as u64, b, "{trips} trips"),
            _ => assert_eq!(got, want, "{trips} trips"),
        }
    }
}

#[test]
fn loop_budget_is_where_the_driver_stops() {
    let Some(ctx) = test_context("loop_budget_is_where_the_driver_stops") else {
        return;
    };
    match ctx.loop_budget() {
        // a conforming driver runs every trip asked for
        None => assert_eq!(ctx.run_loop_probe(PROBE_TRIPS).expect("probe"), PROBE_TRIPS),
        Some(b) => {
            let b = b as u32;
            assert_eq!(ctx.run_loop_probe(b).expect("probe"), b);
            assert_eq!(ctx.run_loop_probe(b + 1).expect("probe"), b);
            assert!(
                ctx.loop_budget_note()
                    .is_some_and(|n| n.contains(&b.to_string())),
                "the start-up note names the budget"
            );
        }
    }
}
