//! The presets of `reproduce glassbench` (`presets/glassbench-quick.toml`, `presets/glassbench-paper.toml`): the
//! system and temperature, the quenched and relaxed starts, the isoconfigurational ensembles on a time grid in units
//! of tau_alpha with their train/test subset, FIRE, and the propensity network's model file; and GlassBench's
//! published T = 0.30 curves (`published.toml`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::baselines::BaselineSettings;
use crate::domain::Preset;
use crate::error::{Error, Result};
use crate::learn::dynamics::GnConfig;
use crate::sim::minimize::MinimizeSettings;
use crate::sim::protocol::{Overrides, Protocol};
use crate::sim::relax::RelaxConfig;
use crate::sim::system::SystemDef;

/// The quenched starts and their relaxation at the preset's temperature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartsSettings {
    /// Replicas quenched with the quick protocol to the preset's temperature.
    pub replicas: usize,
    /// Steps at T (the equilibration; F_s and tau_alpha are measured over it).
    pub relax_steps: u64,
    /// Log-spaced samples of F_s.
    pub samples: usize,
    /// F_s must reach 1/e within 1 / `min_decays` of the run for a start to count as equilibrated.
    pub min_decays: f64,
    /// F_s of cage-relative displacements (without 2D long-wavelength motion).
    pub cage: bool,
}

/// The isoconfigurational ensembles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSettings {
    /// Configurations (the first equilibrated starts); absent: every equilibrated start.
    #[serde(default)]
    pub configurations: Option<usize>,
    /// Runs per configuration (GlassBench: 20).
    pub runs: usize,
    /// Time points in units of the measured tau_alpha, ascending.
    pub times_tau: Vec<f64>,
    /// Fraction of the configurations that are test configurations (targets.json's `subset`).
    pub test_fraction: f64,
}

/// The sizes of `reproduce glassbench`, read from a preset file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlassbenchPreset {
    /// `quick` or `paper` (any name for a preset built in code).
    #[serde(default)]
    pub name: String,
    /// `ka2d` or a system file.
    pub system: String,
    pub temperature: f64,
    /// Seed of the quench, the relaxation, the ensembles and the subset (the network's is in its model file).
    pub seed: u64,
    /// The propensity network's model file under `presets/`.
    pub network: String,
    pub starts: StartsSettings,
    pub targets: EnsembleSettings,
    pub minimize: MinimizeSettings,
    /// The network's settings, read from `network`.
    #[serde(skip)]
    pub model: GnConfig,
}

impl GlassbenchPreset {
    /// A named preset, with its network's model file.
    pub fn new(preset: Preset) -> Result<GlassbenchPreset> {
        let text = match preset {
            Preset::Quick => include_str!("../../../presets/glassbench-quick.toml"),
            Preset::Paper => include_str!("../../../presets/glassbench-paper.toml"),
        };
        let mut p: GlassbenchPreset = toml::from_str(text)
            .map_err(|e| Error::Input(format!("presets/glassbench-{preset}.toml: {e}")))?;
        p.name = preset.name().into();
        let model = match p.network.as_str() {
            "quick-gn.toml" => include_str!("../../../presets/quick-gn.toml"),
            "paper-gn.toml" => include_str!("../../../presets/paper-gn.toml"),
            other => {
                return Err(Error::Input(format!(
                    "presets/glassbench-{preset}.toml: network `{other}`: use quick-gn.toml or paper-gn.toml"
                )))
            }
        };
        p.model = toml::from_str(model)
            .map_err(|e| Error::Input(format!("presets/{}: {e}", p.network)))?;
        p.check()?;
        Ok(p)
    }

    /// Refuses settings no run can use; the message names the field.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| {
            Err(Error::Input(format!(
                "glassbench preset {}: {m}",
                self.name
            )))
        };
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!(
                "`temperature` {}: give a positive temperature",
                self.temperature
            ));
        }
        if self.starts.replicas < 3 {
            return bad(format!(
                "`starts.replicas` {}: give at least 3 (training, validation and test configurations)",
                self.starts.replicas
            ));
        }
        let t = &self.targets;
        if t.times_tau.is_empty()
            || t.times_tau.iter().any(|x| !(x.is_finite() && *x > 0.0))
            || t.times_tau.windows(2).any(|w| w[1] <= w[0])
        {
            return bad(format!(
                "`targets.times_tau` {:?}: give positive times in units of tau_alpha, ascending",
                t.times_tau
            ));
        }
        if !(t.test_fraction > 0.0 && t.test_fraction < 1.0) {
            return bad(format!(
                "`targets.test_fraction` {}: give a fraction between 0 and 1",
                t.test_fraction
            ));
        }
        if t.configurations.is_some_and(|c| c < 3) {
            return bad(
                "`targets.configurations`: give at least 3 (training, validation and test)".into(),
            );
        }
        self.minimize.check()?;
        self.model
            .check()
            .map_err(|m| Error::Input(format!("glassbench preset {}: network: {m}", self.name)))
    }

    pub fn system(&self) -> Result<SystemDef> {
        SystemDef::resolve(&self.system)
    }

    /// The quench: the quick cooling protocol with a snapshot at the preset's temperature.
    pub fn protocol(&self, sys: &SystemDef) -> Result<Protocol> {
        Overrides {
            replicas: Some(self.starts.replicas),
            temps: vec![self.temperature],
            ..Overrides::default()
        }
        .apply("quick", sys)
    }

    /// The baselines: the network's target, split and seed (so that both score the same test configurations),
    /// the default lengths and penalties.
    pub fn baselines(&self) -> BaselineSettings {
        BaselineSettings {
            target: self.model.target.clone(),
            split: self.model.split,
            seed: self.model.seed,
            ..BaselineSettings::default()
        }
    }

    /// The relaxation at the preset's temperature.
    pub fn relax(&self) -> RelaxConfig {
        RelaxConfig {
            temperature: self.temperature,
            steps: self.starts.relax_steps,
            samples: self.starts.samples,
            min_decays: self.starts.min_decays,
            seed: self.seed,
            cage: self.starts.cage,
        }
    }
}

/// One published curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PublishedCurve {
    pub name: String,
    /// Whether the report's figure draws it (every curve is in its table).
    #[serde(default = "yes")]
    pub figure: bool,
    /// Pearson per time point of `Published::times`.
    pub pearson: Vec<f64>,
}

fn yes() -> bool {
    true
}

/// GlassBench's published curves at one temperature (`published.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Published {
    pub source: String,
    pub temperature: f64,
    pub tau_alpha: f64,
    pub times: Vec<f64>,
    pub curves: Vec<PublishedCurve>,
}

/// GlassBench's T = 0.30 displacement-propensity curves.
pub fn published() -> Result<Published> {
    toml::from_str(include_str!("published.toml"))
        .map_err(|e| Error::Input(format!("src/pipeline/glassbench/published.toml: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_presets_read_and_name_their_network() {
        let q = GlassbenchPreset::new(Preset::Quick).expect("quick");
        assert_eq!((q.system.as_str(), q.temperature), ("ka2d", 0.5));
        assert_eq!(q.network, "quick-gn.toml");
        let p = GlassbenchPreset::new(Preset::Paper).expect("paper");
        assert_eq!((p.temperature, p.targets.runs), (0.30, 20));
        assert_eq!(p.targets.configurations, Some(200));
        assert_eq!(p.model.hidden, 64);
        let proto = q.protocol(&q.system().expect("ka2d")).expect("protocol");
        assert!(proto.extra_temps.contains(&0.5));
    }

    #[test]
    fn the_published_curves_are_on_their_time_grid() {
        let p = published().expect("published.toml");
        assert_eq!(p.temperature, 0.30);
        assert!(p.curves.iter().all(|c| c.pearson.len() == p.times.len()));
        let botan = p.curves.iter().find(|c| c.name == "BOTAN").expect("BOTAN");
        assert_eq!(botan.pearson[4], 0.723);
    }

    #[test]
    fn a_preset_without_a_test_part_is_refused_by_field() {
        let mut q = GlassbenchPreset::new(Preset::Quick).expect("quick");
        q.targets.test_fraction = 1.0;
        let e = q.check().expect_err("test_fraction").to_string();
        assert!(e.contains("`targets.test_fraction`"), "{e}");
    }
}
