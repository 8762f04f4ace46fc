//! The cooling protocol of SPEC §3 as a schedule: a random start, equilibration at the start temperature,
//! constant-rate ramps to each snapshot temperature (ending exactly on it), optional holds, and the snapshots.

use glasscam_kernels::md::Segment;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::system::{MdSettings, SystemDef};

/// A cooling protocol; `quick` and `paper` are presets, every field can be changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub preset: String,
    pub replicas: usize,
    /// Melt temperature, where the run starts and equilibrates.
    pub t_start: f64,
    /// Equilibration time at t_start (time units).
    pub equilibrate_time: f64,
    /// Cooling rate |dT/dt| (per time unit).
    pub cool_rate: f64,
    /// Snapshot temperatures besides T_L and T_G.
    #[serde(default)]
    pub extra_temps: Vec<f64>,
    /// Time held at each snapshot temperature before the snapshot (lets the thermostat catch up with a fast
    /// ramp; 0 in the paper's protocol).
    #[serde(default)]
    pub hold_time: f64,
    pub md: MdSettings,
}

impl Protocol {
    /// The paper's protocol: 5000 replicas, rate 8.33e-5 (about 9.5e6 steps per replica).
    pub fn paper() -> Protocol {
        Protocol {
            preset: "paper".into(),
            replicas: 5000,
            t_start: 4.0,
            equilibrate_time: 100.0,
            cool_rate: 8.33e-5,
            extra_temps: Vec::new(),
            hold_time: 0.0,
            md: MdSettings::default(),
        }
    }

    /// Fast cooling (about 5000 steps from 4.0 to 0.05) and 64 replicas: for demos and tests.
    pub fn quick() -> Protocol {
        Protocol {
            preset: "quick".into(),
            replicas: 64,
            t_start: 4.0,
            equilibrate_time: 5.0,
            cool_rate: 0.16,
            extra_temps: Vec::new(),
            hold_time: 2.5,
            md: MdSettings::default(),
        }
    }

    pub fn preset(name: &str) -> Result<Protocol> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(Error::Input(format!(
                "unknown preset `{other}`: use quick or paper"
            ))),
        }
    }

    /// Snapshot temperatures, highest first, each with its class.
    pub fn snapshot_temps(&self, sys: &SystemDef) -> Result<Vec<(f64, &'static str)>> {
        let mut temps: Vec<(f64, &'static str)> =
            vec![(sys.t_liquid, "liquid"), (sys.t_glass, "glass")];
        for &t in &self.extra_temps {
            if t != sys.t_liquid && t != sys.t_glass {
                temps.push((t, "other"));
            }
        }
        temps.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(t, _) in &temps {
            if !(t > 0.0 && t < self.t_start) {
                return Err(Error::Input(format!(
                    "snapshot temperature {t} must lie between 0 and the start temperature {}",
                    self.t_start
                )));
            }
        }
        Ok(temps)
    }

    /// The schedule: equilibration, then per snapshot temperature a ramp to it (its last target is exactly that
    /// temperature), an optional hold there, and the snapshot at the end.
    pub fn schedule(&self, sys: &SystemDef) -> Result<Vec<Stage>> {
        if self.cool_rate.is_nan()
            || self.cool_rate <= 0.0
            || self.md.dt.is_nan()
            || self.md.dt <= 0.0
        {
            return Err(Error::Input("cool rate and dt must be > 0".into()));
        }
        let eq = (self.equilibrate_time / self.md.dt).round() as u64;
        let mut stages = vec![Stage {
            segment: Segment {
                t_from: self.t_start,
                t_to: self.t_start,
                len: eq,
            },
            snapshot: None,
        }];
        let mut t = self.t_start;
        for (target, class) in self.snapshot_temps(sys)? {
            let len = (((t - target) / (self.cool_rate * self.md.dt)).round() as u64).max(1);
            let hold = (self.hold_time / self.md.dt).round() as u64;
            stages.push(Stage {
                segment: Segment {
                    t_from: t,
                    t_to: target,
                    len,
                },
                snapshot: if hold == 0 {
                    Some(class.to_string())
                } else {
                    None
                },
            });
            if hold > 0 {
                stages.push(Stage {
                    segment: Segment {
                        t_from: target,
                        t_to: target,
                        len: hold,
                    },
                    snapshot: Some(class.to_string()),
                });
            }
            t = target;
        }
        Ok(stages)
    }
}

/// One stretch of the schedule, and the class of the snapshot taken at its end (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub segment: Segment,
    pub snapshot: Option<String>,
}

/// Replica range of shard `k` of `n` (0-based) of a run of `replicas`: contiguous, sizes differ by at most one.
pub fn shard_range(k: usize, n: usize, replicas: usize) -> Result<std::ops::Range<usize>> {
    if n == 0 || k >= n {
        return Err(Error::Input(format!(
            "--shard {k}/{n}: use k/n with 0 <= k < n (k is 0-based, like SLURM_ARRAY_TASK_ID from 0)"
        )));
    }
    Ok(k * replicas / n..(k + 1) * replicas / n)
}
