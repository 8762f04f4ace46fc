//! Swanson et al. (2020) reproduced: the presets of `reproduce swanson` (the two cooling ramps, the networks) and
//! the records its stages write. A leaf: the pipeline (`reproduce/swanson.rs`) writes these records and the
//! report (`report/swanson.rs`) reads them, and neither imports the other.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::Preset;
use crate::error::{Error, Result};
use crate::learn::cnn::ModelConfig;
use crate::learn::gnn::MpnnConfig;
use crate::pipeline::swanson::task::{
    swanson_temperature, SwansonTask, SWANSON_K, SWANSON_POINTS, SWANSON_T_START,
};
use crate::sim::minimize::MinimizeSettings;
use crate::sim::protocol::Protocol;
use crate::sim::system::SystemDef;

/// The pipeline's own unit (its stages that span ramps and tasks).
pub const UNIT: &str = "swanson";
/// The two ramps' units.
pub const SLOW: &str = Ramp::Slow.name();
pub const FAST: &str = Ramp::Fast.name();

/// Which of the two ramps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// One cooling ramp as a stage runs it: the protocol (its `extra_temps` are the snapshot temperatures along the
/// ramp) and which snapshots get an inherent structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RampSettings {
    pub protocol: Protocol,
    /// Replicas whose snapshots are minimised (the first ones); `None`: all.
    pub inherent_replicas: Option<usize>,
}

/// The slow and the fast ramp of Swanson's tasks: one system and one start (T = 2, the same equilibration and
/// seed, so replica r of both ramps starts from one configuration), two constant rates (Swanson: t_cool = 2e7
/// and 2e5 steps, 100x apart), snapshots at points of Swanson's grid T_k = 2 - 1.95 k / 200 plus T_L and T_G,
/// and their inherent structures. The one definition of the two simulations, for `reproduce swanson` and for
/// anyone running them by hand with `simulate` (`docs/inherent.md`).
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
    /// not fit the quick budget (docs/inherent.md has the numbers of both choices).
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
            inherent_replicas: self.inherent_replicas,
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
                // over 200 epochs every task's model did, at three seeds (docs/reproduce.md has the probes)
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
                // hard as their E_IS gaps, as Swanson's (docs/reproduce.md)
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

/// The tasks in matrix order: task1 .. task6, then null.
pub fn task_names() -> Vec<String> {
    SwansonTask::ALL.iter().map(|t| t.name()).collect()
}

/// `swanson/tasks/tasks.json`: what the tasks stage built.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TasksRecord {
    /// What the tasks' configurations are: the ramps' snapshots or their inherent structures.
    #[serde(default)]
    pub input: TaskInput,
    pub tasks: Vec<TaskRow>,
    /// Task 6's choice: the slow-ramp point nearest the fast glass in mean E_IS.
    pub equal_eis: EqualEis,
    /// Mean E_IS per particle against temperature along each ramp.
    pub curves: BTreeMap<String, Vec<EisPoint>>,
}

/// Mean and spread of E_IS per particle over a set of snapshots.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EisStats {
    pub mean: f64,
    /// Null for a single value.
    pub std: Option<f64>,
    pub n: usize,
}

/// One point of an E_IS(T) curve.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EisPoint {
    /// Ramp point (1-based from the top of the ramp; 0 for a temperature off the ramp grid, such as T_L).
    pub k: usize,
    pub t: f64,
    pub e_is: EisStats,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
pub struct EqualEis {
    pub k: usize,
    pub t: f64,
    pub slow_e_is: EisStats,
    pub fast_glass_e_is: EisStats,
}

/// One task as built.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TaskRow {
    pub name: String,
    /// `pair` or `null`.
    pub kind: String,
    /// Ramp (`slow`/`fast`) and temperature of each class, liquid first.
    pub liquid: TaskClass,
    pub glass: TaskClass,
    pub replicas: usize,
    pub snapshots: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct TaskClass {
    pub ramp: String,
    pub t: f64,
    pub e_is: Option<EisStats>,
    pub snapshots: usize,
}

/// `swanson/evaluate/matrices.json`: every model scored on every task's test split.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Matrices {
    /// Row and column order (training task, test task).
    pub tasks: Vec<String>,
    pub cnn: AucMatrix,
    pub mpnn: AucMatrix,
}

/// One model family's cross-task scores: `[train task][test task]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct AucMatrix {
    /// ROC AUC (glass positive); null where a test split lacks a class.
    pub auc: Vec<Vec<Option<f64>>>,
    /// Its standard error (Hanley & McNeil 1982) from the test split's class sizes.
    pub auc_se: Vec<Vec<Option<f64>>>,
    /// Accuracy over both classes at the model's decision (larger score wins).
    pub accuracy: Vec<Vec<Option<f64>>>,
    /// Test configurations scored (liquid, glass) per cell.
    pub n_test: Vec<Vec<[usize; 2]>>,
}

/// `swanson/attention/maps.json`: which configuration the two maps show.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct MapsRecord {
    pub task: String,
    pub snapshot: usize,
    /// Whether the CNN classified it correctly (a misclassified one is shown only when the CNN got every glass
    /// test configuration wrong).
    pub cnn_correct: bool,
    /// Pearson correlation of the two coarse-grained, normalised fields on that configuration.
    pub pearson: Option<f64>,
}

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
        // the graph network's schedule that trains on the quick minima (docs/reproduce.md)
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
}
