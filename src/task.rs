//! Snapshot sets along a cooling ramp (Swanson et al. 2020, SPEC §10): the ramp's snapshot temperatures.

use crate::error::{Error, Result};

/// `k` snapshot temperatures evenly spaced from `t_start` (excluded) down to `t_glass` (included), highest first:
/// T_i = t_start - (t_start - t_glass) i / k for i = 1..=k, Swanson's `linspace(1.99025, 0.05, 200)` for 2.0,
/// 0.05 and 200.
pub fn ramp_temps(t_start: f64, t_glass: f64, k: usize) -> Result<Vec<f64>> {
    if k == 0 {
        return Err(Error::Input(
            "--ramp-snapshots 0: ask for at least one snapshot along the ramp (Swanson: 200)"
                .into(),
        ));
    }
    if !(t_glass > 0.0 && t_start > t_glass) {
        return Err(Error::Input(format!(
            "--t-start {t_start} must lie above the glass temperature {t_glass} for a cooling ramp"
        )));
    }
    Ok((1..=k)
        .map(|i| {
            if i == k {
                t_glass
            } else {
                t_start - (t_start - t_glass) * i as f64 / k as f64
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swanson_ramp_points_match_their_temperature_grid() {
        let t = ramp_temps(2.0, 0.05, 200).expect("valid ramp");
        assert_eq!(t.len(), 200);
        assert!((t[0] - 1.99025).abs() < 1e-12);
        assert!((t[148] - 0.54725).abs() < 1e-12);
        assert_eq!(t[199], 0.05);
        assert!(ramp_temps(2.0, 0.05, 0).is_err());
        let e = ramp_temps(0.01, 0.05, 5).expect_err("t_start below T_G");
        assert!(e.to_string().contains("--t-start"), "{e}");
    }
}
