//! tau_alpha from F_s(k, t) on a tiny KA2D liquid, every start at once, and the equilibration check: a
//! temperature whose starts cannot relax within the run is refused with what to change.

use crate::common::{err_of, ka2d_tiny, write_liquid};
use glasscam::events::quiet;
use glasscam::kernels::Compute;
use glasscam::sim::relax::{relax, tau_at_1_over_e, write_relax, RelaxConfig};

#[test]
fn tau_at_1_over_e_interpolates_in_log_time() {
    let times: Vec<f64> = (0..20).map(|k| 0.1 * 1.5f64.powi(k)).collect();
    let f: Vec<f64> = times.iter().map(|t| (-t / 3.0).exp()).collect();
    let tau = tau_at_1_over_e(&times, &f).unwrap();
    assert!((tau - 3.0).abs() < 0.1, "{tau}");
    assert_eq!(tau_at_1_over_e(&times[..3], &f[..3]), None);
}

#[test]
fn a_liquid_relaxes_and_its_equilibrated_end_states_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let ds = write_liquid(&tmp.path().join("liquid"), &ka2d_tiny(), 3, 0.6, 1000).unwrap();
    let cfg = RelaxConfig {
        temperature: 0.6,
        steps: 3000,
        samples: 20,
        min_decays: 3.0,
        seed: 2,
    };
    let r = relax(&ds, &[0, 1, 2], &cfg, &Compute::Cpu, quiet()).unwrap();
    let f = &r.file;
    assert!(
        (5.0..9.0).contains(&f.k),
        "first peak of S_AA at k = {}",
        f.k
    );
    for (c, fs) in f.f_s.iter().enumerate() {
        assert!(
            fs[0] > 0.9 && *fs.last().unwrap() < 0.2,
            "start {c}: F_s {fs:?}"
        );
    }
    let tau = f.tau_alpha.unwrap();
    assert!(tau > 0.3 && tau * 3.0 < 15.0, "tau_alpha {tau}");
    assert!(f.tau_alpha_spread.unwrap() < tau);
    let out = tmp.path().join("eq");
    write_relax(&out, &ds, &r, false).unwrap();
    let eq = glasscam::io::dataset::Dataset::load(&out).unwrap();
    assert_eq!(
        eq.n_snapshots(),
        f.starts.iter().filter(|c| c.equilibrated).count()
    );
    // the same starts at T = 0.3 for 100 steps cannot decay three times over
    let cold = RelaxConfig {
        temperature: 0.3,
        steps: 100,
        ..cfg
    };
    let e = err_of(relax(&ds, &[0, 1], &cold, &Compute::Cpu, quiet()));
    assert_eq!(
        e,
        "relax: every start fails the equilibration check at T = 0.3 (100 steps of dt 0.005): run longer (`steps`), \
         at least 3 tau_alpha, or choose a higher temperature"
    );
}
