//! The presets of `reproduce swanson` (Swanson et al. 2020): Swanson's ramp grid and task points, the task ids,
//! the two cooling ramps and the networks' settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::Preset;
use crate::error::{Error, Result};
use crate::learn::cnn::ModelConfig;
use crate::learn::gnn::MpnnConfig;
use crate::sim::minimize::MinimizeSettings;
use crate::sim::protocol::Protocol;
use crate::sim::system::SystemDef;

/// Swanson's ramp points (of 200, from T = 2.0 to 0.05) of the liquids of tasks 1-5.
pub const SWANSON_POINTS: [usize; 5] = [1, 25, 107, 149, 160];
/// Swanson's ramp: T_k = 2.0 - 1.95 k / 200.
pub const SWANSON_T_START: f64 = 2.0;
pub const SWANSON_T_GLASS: f64 = 0.05;
pub const SWANSON_K: usize = 200;

/// The temperature of Swanson's ramp point k (1..=200).
pub fn swanson_temperature(k: usize) -> f64 {
    SWANSON_T_START - (SWANSON_T_START - SWANSON_T_GLASS) * k as f64 / SWANSON_K as f64
}

/// A named task preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskPreset {
    /// Swanson et al.'s six liquid-vs-glass tasks and a null task, from a slow and a fast ramp.
    Swanson,
}

impl std::str::FromStr for TaskPreset {
    type Err = Error;
    fn from_str(s: &str) -> Result<TaskPreset> {
        match s {
            "swanson" => Ok(TaskPreset::Swanson),
            _ => Err(Error::Input(format!(
                "unknown task preset `{s}`: use swanson (its tasks: task1 .. task6 and null)"
            ))),
        }
    }
}

/// One of Swanson's tasks: the task id of directories, records and matrices, written as its name (`task1` ..
/// `task6`, `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum SwansonTask {
    /// Tasks 1-5: the slow-ramp liquid at Swanson's point `SWANSON_POINTS[i - 1]` against the slow glass.
    Liquid(u8),
    /// Task 6: the slow-ramp point whose mean E_IS is nearest the fast glass's, against the fast glass.
    EqualEis,
    /// Slow-glass replicas split at random into two labels.
    Null,
}

impl SwansonTask {
    pub const ALL: [SwansonTask; 7] = [
        SwansonTask::Liquid(1),
        SwansonTask::Liquid(2),
        SwansonTask::Liquid(3),
        SwansonTask::Liquid(4),
        SwansonTask::Liquid(5),
        SwansonTask::EqualEis,
        SwansonTask::Null,
    ];

    /// `task1` .. `task6`, `null`: the directory name under the preset's output.
    pub fn name(self) -> String {
        match self {
            SwansonTask::Liquid(i) => format!("task{i}"),
            SwansonTask::EqualEis => "task6".into(),
            SwansonTask::Null => "null".into(),
        }
    }
}

impl std::fmt::Display for SwansonTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<SwansonTask> for String {
    fn from(t: SwansonTask) -> String {
        t.name()
    }
}

impl TryFrom<String> for SwansonTask {
    type Error = Error;
    fn try_from(s: String) -> Result<SwansonTask> {
        s.parse()
    }
}

impl JsonSchema for SwansonTask {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SwansonTask".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["task1", "task2", "task3", "task4", "task5", "task6", "null"]
        })
    }
}

impl std::str::FromStr for SwansonTask {
    type Err = Error;
    fn from_str(s: &str) -> Result<SwansonTask> {
        SwansonTask::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                Error::Input(format!(
                    "unknown task `{s}`: Swanson's tasks are task1, task2, task3, task4, task5, task6 and null"
                ))
            })
    }
}

/// The pipeline's own unit (its stages that span ramps and tasks).
pub const UNIT: &str = "swanson";
/// The two ramps' units.
pub const SLOW: &str = Ramp::Slow.name();
pub const FAST: &str = Ramp::Fast.name();

/// Which of the two ramps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Ramp {
    Slow,
    Fast,
}

impl Ramp {
    pub const BOTH: [Ramp; 2] = [Ramp::Slow, Ramp::Fast];

    pub const fn name(self) -> &'static str {
        match self {
            Ramp::Slow => "slow",
            Ramp::Fast => "fast",
        }
    }
}

/// One cooling ramp as its stage runs it: the protocol (its `extra_temps` are the snapshot temperatures along the
/// ramp). Which snapshots get an inherent structure is the inherent stage's setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RampSettings {
    pub protocol: Protocol,
}

/// The slow and the fast ramp of Swanson's tasks: one system and one start (T = 2, the same equilibration and
/// seed, so replica r of both ramps starts from one configuration), two constant rates (Swanson: t_cool = 2e7
/// and 2e5 steps, 100x apart), snapshots at points of Swanson's grid T_k = 2 - 1.95 k / 200 plus T_L and T_G,
/// and their inherent structures. The one definition of the two simulations, for `reproduce swanson` and for
/// anyone running them by hand with `simulate` (docs/methods.md, "Inherent structures").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwansonRamps {
    pub system: SystemDef,
    pub replicas: usize,
    /// Where both ramps start (Swanson: 2.0).
    pub t_start: f64,
    /// Equilibration at t_start before cooling (time units).
    pub equilibrate_time: f64,
    /// |dT/dt| of the slow ramp (per time unit).
    pub slow_rate: f64,
    /// |dT/dt| of the fast ramp (Swanson: 100x the slow one).
    pub fast_rate: f64,
    /// Points k (1..=200) of Swanson's grid snapshotted on the slow ramp besides the liquids of tasks 1-5
    /// (`SWANSON_POINTS`, always taken): the E_IS(T) curve and the candidates of task 6's liquid.
    pub slow_points: Vec<usize>,
    /// Points snapshotted on the fast ramp besides T_L and T_G (its glass): its E_IS(T) curve only.
    pub fast_points: Vec<usize>,
    /// Replicas whose snapshots are minimised (the first ones); `None`: all. E_IS picks task 6 and draws the
    /// curves; on a GPU a subset suffices and saves the minimisation of every snapshot.
    pub inherent_replicas: Option<usize>,
}

impl SwansonRamps {
    /// `quick`: N = 256 (a box of side 15.3), 64 replicas, slow 2e-3 and fast 0.04 per time unit, every snapshot
    /// minimised. The fast rate sets task 6: its glass falls out of equilibrium near T = 0.6, so task 6's liquid
    /// is a supercooled liquid below T_L = 0.8 (Swanson: 0.547). The two rates are 20x apart, not Swanson's 100x:
    /// the slow ramp only has to stay in equilibrium down to task 6's temperature, and a slow ramp at 4e-4 would
    /// not fit the quick budget (docs/guide/swanson.md, "The presets", has the numbers of both choices).
    /// `paper`: N = 2000, 1000 replicas, Swanson's lengths (2e7 and 2e5 steps of 0.005 from T = 2 to 0.05, 100x
    /// apart), for a GPU.
    pub fn for_preset(preset: Preset) -> SwansonRamps {
        match preset {
            Preset::Quick => SwansonRamps {
                system: kam(256),
                replicas: 64,
                t_start: SWANSON_T_START,
                equilibrate_time: 10.0,
                slow_rate: 2e-3,
                fast_rate: 0.04,
                slow_points: vec![10, 50, 75, 90, 120, 130, 140, 170, 180, 190],
                fast_points: vec![50, 100, 150],
                inherent_replicas: None,
            },
            Preset::Paper => SwansonRamps {
                system: kam(2000),
                replicas: 1000,
                t_start: SWANSON_T_START,
                equilibrate_time: 100.0,
                slow_rate: 1.95e-5,
                fast_rate: 1.95e-3,
                slow_points: vec![10, 40, 60, 80, 100, 120, 140, 170, 180, 190],
                fast_points: vec![50, 100, 150],
                inherent_replicas: Some(100),
            },
        }
    }

    /// Refuses settings that make no pair of ramps; the message names the field.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Input(m));
        if self.system.n_particles() < 4 || self.replicas < 2 {
            return bad(format!(
                "Swanson ramps: {} particles and replicas = {}; use at least 4 particles and 2 replicas",
                self.system.n_particles(),
                self.replicas
            ));
        }
        if !(self.slow_rate > 0.0 && self.fast_rate > self.slow_rate && self.fast_rate.is_finite())
        {
            return bad(format!(
                "Swanson ramps: slow_rate {} and fast_rate {}; the fast rate must exceed the slow one (Swanson: 100x)",
                self.slow_rate, self.fast_rate
            ));
        }
        if self.equilibrate_time.is_nan() || self.equilibrate_time < 0.0 {
            return bad(format!(
                "Swanson ramps: equilibrate_time {} must be >= 0",
                self.equilibrate_time
            ));
        }
        if self.t_start.is_nan() || self.t_start <= self.system.t_liquid {
            return bad(format!(
                "Swanson ramps: t_start {} must be above the system's T_L = {}",
                self.t_start, self.system.t_liquid
            ));
        }
        if let Some(&k) = self
            .slow_points
            .iter()
            .chain(&self.fast_points)
            .find(|&&k| k == 0 || k > SWANSON_K)
        {
            return bad(format!(
                "Swanson ramps: ramp point {k} is not on Swanson's grid; use 1..={SWANSON_K}"
            ));
        }
        Ok(())
    }

    /// The cooling protocol of one ramp: constant rate (no hold before a snapshot), the ramp's points as extra
    /// snapshot temperatures.
    pub fn protocol(&self, ramp: Ramp, preset: Preset) -> Result<Protocol> {
        self.check()?;
        let (rate, points, tasks) = match ramp {
            Ramp::Slow => (self.slow_rate, &self.slow_points, true),
            Ramp::Fast => (self.fast_rate, &self.fast_points, false),
        };
        Ok(Protocol {
            preset: format!("swanson-{preset}"),
            replicas: self.replicas,
            t_start: self.t_start,
            equilibrate_time: self.equilibrate_time,
            cool_rate: rate,
            extra_temps: ramp_points(tasks, points),
            hold_time: 0.0,
            md: Default::default(),
        })
    }

    /// One ramp as its stage runs it.
    pub fn settings(&self, ramp: Ramp, preset: Preset) -> Result<RampSettings> {
        Ok(RampSettings {
            protocol: self.protocol(ramp, preset)?,
        })
    }

    pub fn rate(&self, ramp: Ramp) -> f64 {
        match ramp {
            Ramp::Slow => self.slow_rate,
            Ramp::Fast => self.fast_rate,
        }
    }
}

/// The kam system at `n` particles (its 65:35 composition and density 1.09 kept).
pub fn kam(n: usize) -> SystemDef {
    let mut sys = SystemDef::kam();
    let a = (n as f64 * 0.65).round() as usize;
    sys.species[0].count = a;
    sys.species[1].count = n - a;
    sys.n = Some(n);
    sys
}

/// The snapshot temperatures of a ramp, highest first: Swanson's points of tasks 1-5 (on the slow ramp, whose
/// liquids the tasks take) and the `extra` points.
fn ramp_points(tasks: bool, extra: &[usize]) -> Vec<f64> {
    let mut k: Vec<usize> = extra.to_vec();
    if tasks {
        k.extend(SWANSON_POINTS);
    }
    k.sort_unstable();
    k.dedup();
    k.into_iter().map(swanson_temperature).collect()
}

/// What the networks of `reproduce swanson` see of each configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskInput {
    /// The instantaneous snapshots along the ramps, thermal vibrations included (Swanson's).
    #[default]
    Snapshots,
    /// Their inherent structures (the FIRE minima): vibrations removed, structure only.
    Inherent,
}

impl TaskInput {
    pub fn is_snapshots(&self) -> bool {
        *self == TaskInput::Snapshots
    }
}

/// The sizes of `reproduce swanson`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SwansonPreset {
    pub name: Preset,
    pub ramps: SwansonRamps,
    pub minimize: MinimizeSettings,
    pub cnn: ModelConfig,
    pub mpnn: MpnnConfig,
    /// The task whose models the attention stage reads (a glass configuration of its test split is mapped).
    pub attention_task: SwansonTask,
    /// High-attention threshold on the per-graph normalised attention (Swanson: 0.0025).
    pub threshold: f64,
    /// Snapshots (Swanson's) or their inherent structures as the tasks' configurations.
    pub input: TaskInput,
}

impl SwansonPreset {
    pub fn new(preset: Preset) -> SwansonPreset {
        let ramps = SwansonRamps::for_preset(preset);
        match preset {
            Preset::Quick => SwansonPreset {
                name: preset,
                ramps,
                minimize: MinimizeSettings::default(),
                // the quick CNN with pixels of 0.48 length units on the box of side 15.3 (its 64 pixels on the N = 2000
                // box: 0.67), under the Gaussian width 0.5
                cnn: ModelConfig {
                    grid: 32,
                    epochs: 100,
                    split: QUICK_SPLIT,
                    ..ModelConfig::quick()
                },
                // `MpnnConfig::quick()` warmed up over 5 epochs in batches of 8 to a peak rate of 5e-3, for 200
                // epochs. On inherent structures the loss sits at ln 2 for tens of epochs before it falls; at the
                // peak of 1e-2 and 100 epochs the task-5 and task-6 models never left it (constant scores), at 5e-3
                // over 200 epochs every task's model did, at three seeds (docs/guide/swanson.md, "The presets", has the probes)
                mpnn: MpnnConfig {
                    max_lr: 5e-3,
                    warmup_epochs: 5.0,
                    batch: 8,
                    epochs: 200,
                    split: QUICK_SPLIT,
                    ..MpnnConfig::quick()
                },
                attention_task: SwansonTask::Liquid(1),
                threshold: 0.0025,
                // at N = 256 and the quick rates a liquid snapshot carries thermal vibrations about 3x the glass's,
                // which every model reads, so every cell of both matrices is near 1; on the minima the tasks are as
                // hard as their E_IS gaps, as Swanson's (docs/guide/swanson.md)
                input: TaskInput::Inherent,
            },
            Preset::Paper => SwansonPreset {
                name: preset,
                ramps,
                minimize: MinimizeSettings::default(),
                cnn: ModelConfig::default(),
                mpnn: MpnnConfig {
                    epochs: 30,
                    ..MpnnConfig::default()
                },
                attention_task: SwansonTask::Liquid(1),
                threshold: 0.0025,
                // Swanson's input; whether N = 2000 and the slow paper rates still leave the vibrations dominant
                // is not measured
                input: TaskInput::Snapshots,
            },
        }
    }

    pub fn system(&self) -> &SystemDef {
        &self.ramps.system
    }
}

/// The quick preset's replica split (training, validation, test): 30 % of the replicas are test replicas, so
/// that every cell of the AUC matrices, the null column's above all, is scored on about 20 of them per class.
const QUICK_SPLIT: [f64; 3] = [0.6, 0.1, 0.3];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_presets_are_a_slow_and_a_fast_ramp_from_one_start() {
        // Swanson's 100x for the paper; 20x for quick (its fast rate sets task 6's T)
        for (preset, ratio) in [(Preset::Quick, 20.0), (Preset::Paper, 100.0)] {
            let p = SwansonPreset::new(preset);
            let r = &p.ramps;
            r.check().expect("preset is valid");
            let s = r.protocol(Ramp::Slow, preset).expect("slow");
            let f = r.protocol(Ramp::Fast, preset).expect("fast");
            assert!((f.cool_rate / s.cool_rate - ratio).abs() < 1e-9, "{preset}");
            assert_eq!((s.t_start, f.t_start), (2.0, 2.0));
            assert_eq!(s.equilibrate_time, f.equilibrate_time, "one start for both");
            assert_eq!((s.hold_time, f.hold_time), (0.0, 0.0), "constant rates");
            assert_eq!(s.replicas, f.replicas);
            // only the slow ramp carries the task liquids
            for k in SWANSON_POINTS {
                let t = swanson_temperature(k);
                assert!(s.extra_temps.contains(&t), "{preset}: slow lacks k = {k}");
                assert!(!f.extra_temps.contains(&t), "{preset}: fast has k = {k}");
            }
            // the schedule exists: the ramp points plus T_L and T_G, highest first
            let sys = p.system();
            let temps = s.snapshot_temps(sys).expect("temps");
            assert_eq!(temps.len(), s.extra_temps.len() + 2, "{preset}");
            assert_eq!(temps.last().map(|t| t.0), Some(0.05));
            assert_eq!(
                s.extra_temps.len(),
                r.slow_points.len() + SWANSON_POINTS.len()
            );
            let want = if preset == Preset::Quick { 256 } else { 2000 };
            assert_eq!(sys.n_particles(), want);
            assert_eq!(sys.species[0].count, (want as f64 * 0.65).round() as usize);
        }
    }

    #[test]
    fn each_preset_says_what_its_networks_see() {
        // quick: the minima, of every replica (a task built from them needs them all); paper: Swanson's snapshots
        let quick = SwansonPreset::new(Preset::Quick);
        assert_eq!(quick.input, TaskInput::Inherent);
        assert_eq!(quick.ramps.inherent_replicas, None);
        assert_eq!(
            SwansonPreset::new(Preset::Paper).input,
            TaskInput::Snapshots
        );
        // the graph network's schedule that trains on the quick minima (docs/guide/swanson.md)
        let m = &quick.mpnn;
        assert_eq!((m.hidden, m.batch, m.epochs), (16, 8, 200));
        assert_eq!((m.max_lr, m.warmup_epochs), (5e-3, 5.0));
    }

    #[test]
    fn ramps_that_make_no_pair_are_refused_by_field() {
        let good = SwansonRamps::for_preset(Preset::Quick);
        type Spoil = fn(&mut SwansonRamps);
        let cases: [(Spoil, &str); 4] = [
            (|r| r.fast_rate = r.slow_rate, "fast rate must exceed"),
            (|r| r.replicas = 1, "at least 4 particles and 2 replicas"),
            (|r| r.slow_points.push(201), "ramp point 201"),
            (|r| r.t_start = 0.5, "t_start 0.5"),
        ];
        for (spoil, want) in cases {
            let mut r = good.clone();
            spoil(&mut r);
            let e = r
                .protocol(Ramp::Slow, Preset::Quick)
                .expect_err(want)
                .to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn swanson_ramp_points_match_their_temperature_grid() {
        let t = crate::sim::protocol::ramp_temps(2.0, 0.05, 200).expect("valid ramp");
        assert_eq!(t.len(), 200);
        assert!((t[0] - 1.99025).abs() < 1e-12);
        assert!((t[148] - 0.54725).abs() < 1e-12);
        assert_eq!(t[199], 0.05);
        assert!(crate::sim::protocol::ramp_temps(2.0, 0.05, 0).is_err());
        let e = crate::sim::protocol::ramp_temps(0.01, 0.05, 5).expect_err("t_start below T_G");
        assert!(e.to_string().contains("`t_start`"), "{e}");
        for (i, &k) in SWANSON_POINTS.iter().enumerate() {
            assert!((swanson_temperature(k) - t[k - 1]).abs() < 1e-12, "{i}");
        }
    }

    #[test]
    fn task_ids_and_presets_parse_from_their_names() {
        assert!(SwansonTask::ALL
            .iter()
            .all(|t| t.name().parse::<SwansonTask>().ok() == Some(*t)));
        let e = "task7"
            .parse::<SwansonTask>()
            .expect_err("task7")
            .to_string();
        assert!(e.contains("task1, task2"), "{e}");
        let e = "oyama"
            .parse::<TaskPreset>()
            .expect_err("preset")
            .to_string();
        assert!(e.contains("use swanson"), "{e}");
        assert_eq!(
            serde_json::to_string(&SwansonTask::EqualEis).unwrap(),
            "\"task6\""
        );
        assert_eq!(
            serde_json::from_str::<SwansonTask>("\"null\"").unwrap(),
            SwansonTask::Null
        );
    }
}
