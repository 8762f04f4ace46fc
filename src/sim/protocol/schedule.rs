//! The cooling protocol (Oyama et al. 2022; docs/methods.md, "MD protocol") as a schedule: a random start, equilibration at the start temperature,
//! constant-rate ramps to each snapshot temperature (ending exactly on it), optional holds, and the snapshots.

use glasscam_kernels::md::Segment;
use serde::{Deserialize, Serialize};

use crate::domain::Class;
use crate::error::{Error, Result};
use crate::sim::system::{MdSettings, SystemDef};

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

    /// Checks every field against the others and the system: finite, in range, no duplicate snapshot
    /// temperatures, and step counts within `MAX_STEPS`. Nothing is coerced: a bad value is refused with the
    /// field's name. `schedule` (and so every run, CLI or Python) calls it.
    pub fn validate(&self, sys: &SystemDef) -> Result<()> {
        let bad = |m: String| Err(Error::Input(format!("protocol: {m}")));
        if self.replicas == 0 || self.replicas > MAX_REPLICAS {
            return bad(format!(
                "`replicas` {}: give 1 to {MAX_REPLICAS}; split bigger runs into shards (`shard`)",
                self.replicas
            ));
        }
        let md = &self.md;
        for (field, x, zero_ok) in [
            ("`t_start`", self.t_start, false),
            ("`cool_rate`", self.cool_rate, false),
            ("`equilibrate_time`", self.equilibrate_time, true),
            ("`hold_time`", self.hold_time, true),
            ("`dt`", md.dt, false),
            ("`md.skin`", md.skin, false),
            ("`md.tau_t`", md.tau_t, false),
            ("`md.max_force`", md.max_force, false),
        ] {
            let ok = x.is_finite() && if zero_ok { x >= 0.0 } else { x > 0.0 };
            if !ok {
                let want = if zero_ok { ">= 0" } else { "> 0" };
                return bad(format!("{field} is {x}: give a finite number {want}"));
            }
        }
        if self.extra_temps.len() > MAX_SNAPSHOT_TEMPS {
            return bad(format!(
                "{} snapshot temperatures (`temps`, `ramp_snapshots`): give at most {MAX_SNAPSHOT_TEMPS}",
                self.extra_temps.len()
            ));
        }
        for &t in &self.extra_temps {
            if !(t.is_finite() && t > 0.0 && t < self.t_start) {
                return bad(format!(
                    "snapshot temperature {t} (`temps`) must lie between 0 and the start temperature {}",
                    self.t_start
                ));
            }
        }
        let mut sorted = self.extra_temps.clone();
        sorted.sort_by(f64::total_cmp);
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!(
                "snapshot temperature {} is given twice (`temps`); list each temperature once",
                w[0]
            ));
        }
        let mut total = add_steps(0, "`equilibrate_time`", self.equilibrate_time, md.dt)?;
        let mut t = self.t_start;
        for (target, _) in self.snapshot_temps(sys)? {
            total = add_steps(
                total,
                "the cooling ramp (`cool_rate`)",
                (t - target) / self.cool_rate,
                md.dt,
            )?;
            total = add_steps(total, "`hold_time`", self.hold_time, md.dt)?;
            t = target;
        }
        Ok(())
    }

    /// Snapshot temperatures, highest first, each with its class.
    pub fn snapshot_temps(&self, sys: &SystemDef) -> Result<Vec<(f64, Class)>> {
        let mut temps: Vec<(f64, Class)> =
            vec![(sys.t_liquid, Class::Liquid), (sys.t_glass, Class::Glass)];
        for &t in &self.extra_temps {
            if t != sys.t_liquid && t != sys.t_glass {
                temps.push((t, Class::Other));
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
    pub fn schedule(&self, sys: &SystemDef) -> Result<Vec<Leg>> {
        self.validate(sys)?;
        // validate bounds every step count by MAX_STEPS, so these conversions are exact
        let eq = (self.equilibrate_time / self.md.dt).round() as u64;
        let mut legs = vec![Leg {
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
            legs.push(Leg {
                segment: Segment {
                    t_from: t,
                    t_to: target,
                    len,
                },
                snapshot: if hold == 0 { Some(class) } else { None },
            });
            if hold > 0 {
                legs.push(Leg {
                    segment: Segment {
                        t_from: target,
                        t_to: target,
                        len: hold,
                    },
                    snapshot: Some(class),
                });
            }
            t = target;
        }
        Ok(legs)
    }
}

/// Most replicas one run may ask for (the paper uses 5000; more goes through `--shard`).
pub const MAX_REPLICAS: usize = 10_000_000;
/// Most snapshot temperatures besides T_L and T_G (each is a snapshot of every replica; Swanson's ramp has 200).
pub const MAX_SNAPSHOT_TEMPS: usize = 100_000;
/// Most MD steps one replica may run (the paper's protocol is about 9.5e6): beyond it a step count is a typo
/// or a unit mistake, and would take years.
pub const MAX_STEPS: u64 = 10_000_000_000;

/// Adds the steps of `time` at `dt` to `total`, refusing a count beyond `MAX_STEPS` (checked in f64 before any
/// conversion, so nothing saturates or wraps).
fn add_steps(total: u64, what: &str, time: f64, dt: f64) -> Result<u64> {
    let steps = (time / dt).round();
    if !(steps.is_finite() && total as f64 + steps <= MAX_STEPS as f64) {
        return Err(Error::Input(format!(
            "protocol: {what} at dt {dt} needs {steps:.3e} steps, more than the limit of {limit:.0e} steps \
             per replica: check the units (times in the system's time units, the rate per time unit)",
            limit = MAX_STEPS as f64
        )));
    }
    Ok(total + steps as u64)
}

/// One leg of the schedule (a constant-rate stretch of the thermostat's target), and the class of the snapshot
/// taken at its end (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct Leg {
    pub segment: Segment,
    pub snapshot: Option<Class>,
}

/// `k` snapshot temperatures evenly spaced from `t_start` (excluded) down to `t_glass` (included), highest first:
/// T_i = t_start - (t_start - t_glass) i / k for i = 1..=k, Swanson's `linspace(1.99025, 0.05, 200)` for 2.0,
/// 0.05 and 200.
pub fn ramp_temps(t_start: f64, t_glass: f64, k: usize) -> Result<Vec<f64>> {
    if k == 0 || k > MAX_SNAPSHOT_TEMPS {
        return Err(Error::Input(format!(
            "`ramp_snapshots` {k}: give 1 to {MAX_SNAPSHOT_TEMPS} snapshots along the ramp (Swanson: 200)"
        )));
    }
    if !(t_glass > 0.0 && t_start > t_glass) {
        return Err(Error::Input(format!(
            "`t_start` {t_start} must lie above the glass temperature {t_glass} for a cooling ramp"
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

/// Changes to a preset's protocol, as `simulate` and the Python package take them; an absent field keeps the
/// preset's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub replicas: Option<usize>,
    pub cool_rate: Option<f64>,
    pub equilibrate_time: Option<f64>,
    pub hold_time: Option<f64>,
    pub dt: Option<f64>,
    /// Snapshot temperatures besides T_L and T_G.
    pub temps: Vec<f64>,
    /// Where the run melts, equilibrates and starts cooling.
    pub t_start: Option<f64>,
    /// K snapshots evenly spaced in T from `t_start` down to T_G, with no hold before each.
    pub ramp_snapshots: Option<usize>,
}

impl Overrides {
    /// The protocol of preset `preset` with these changes for `sys`. A ramp takes its snapshots without holds, so
    /// `hold_time` with `ramp_snapshots` is refused.
    pub fn apply(&self, preset: &str, sys: &SystemDef) -> Result<Protocol> {
        let mut proto = Protocol::preset(preset)?;
        if let Some(r) = self.replicas {
            proto.replicas = r;
        }
        if let Some(x) = self.cool_rate {
            proto.cool_rate = x;
        }
        if let Some(x) = self.equilibrate_time {
            proto.equilibrate_time = x;
        }
        if let Some(x) = self.hold_time {
            proto.hold_time = x;
        }
        if let Some(x) = self.dt {
            proto.md.dt = x;
        }
        proto.extra_temps = self.temps.clone();
        if let Some(t) = self.t_start {
            proto.t_start = t;
        }
        if let (Some(_), Some(h)) = (self.ramp_snapshots, self.hold_time) {
            return Err(Error::Input(format!(
                "`hold_time` {h} with `ramp_snapshots`: a ramp takes its snapshots without holds; drop `hold_time`"
            )));
        }
        if let Some(k) = self.ramp_snapshots {
            proto
                .extra_temps
                .extend(ramp_temps(proto.t_start, sys.t_glass, k)?);
            proto.hold_time = 0.0;
        }
        Ok(proto)
    }
}

/// Replica range of shard `k` of `n` (0-based) of a run of `replicas`: contiguous, sizes differ by at most one.
pub fn shard_range(k: usize, n: usize, replicas: usize) -> Result<std::ops::Range<usize>> {
    if n == 0 || k >= n {
        return Err(Error::Input(format!(
            "`shard` {k}/{n}: use k/n with 0 <= k < n (k is 0-based, like SLURM_ARRAY_TASK_ID from 0)"
        )));
    }
    if n > replicas {
        return Err(Error::Input(format!(
            "`shard` {k}/{n}: {n} shards of {replicas} replicas leave some shards empty; use at most {replicas} \
             shards (n <= `replicas`) or more `replicas`"
        )));
    }
    Ok(k * replicas / n..(k + 1) * replicas / n)
}
