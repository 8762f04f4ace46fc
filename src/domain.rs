//! The closed sets of the domain as enums: snapshot class and run preset. Strings appear only at the edges (files,
//! command line); serde and `FromStr` use the same lower-case names as the files always have.

use serde::{Deserialize, Serialize};

/// The class of a snapshot. `Other` marks snapshots at extra temperatures (`--temps`, ramp points) that belong to
/// neither class until a task says so.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Liquid,
    Glass,
    Other,
}

impl Class {
    /// The two classes a network tells apart, in class-score order (index 0 liquid, 1 glass).
    pub const BOTH: [Class; 2] = [Class::Liquid, Class::Glass];

    pub fn name(self) -> &'static str {
        match self {
            Class::Liquid => "liquid",
            Class::Glass => "glass",
            Class::Other => "other",
        }
    }

    /// The label stored in `labels.npy`: 1 glass, 0 liquid, -1 other.
    pub fn label(self) -> i64 {
        match self {
            Class::Liquid => 0,
            Class::Glass => 1,
            Class::Other => -1,
        }
    }

    pub fn from_label(label: i64) -> Class {
        match label {
            0 => Class::Liquid,
            1 => Class::Glass,
            _ => Class::Other,
        }
    }

    /// Whether a network learns it: glass or liquid.
    pub fn is_labelled(self) -> bool {
        self != Class::Other
    }

    /// Index of the class score (0 liquid, 1 glass); `None` for `Other`.
    pub fn score_index(self) -> Option<usize> {
        match self {
            Class::Liquid => Some(0),
            Class::Glass => Some(1),
            Class::Other => None,
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Class {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Class> {
        match s {
            "liquid" => Ok(Class::Liquid),
            "glass" => Ok(Class::Glass),
            "other" => Ok(Class::Other),
            _ => Err(crate::Error::Input(format!(
                "unknown class `{s}`: use glass, liquid or other"
            ))),
        }
    }
}

/// A run size: `quick` for a laptop in minutes, `paper` for the papers' sizes on a GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Quick,
    Paper,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Paper => "paper",
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Preset {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Preset> {
        match s {
            "quick" => Ok(Preset::Quick),
            "paper" => Ok(Preset::Paper),
            _ => Err(crate::Error::Input(format!(
                "unknown preset `{s}`: use quick or paper"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_labels_and_json_agree_with_the_files() {
        for c in [Class::Liquid, Class::Glass, Class::Other] {
            assert_eq!(c.name().parse::<Class>().unwrap(), c);
            assert_eq!(Class::from_label(c.label()), c);
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.name())
            );
        }
        assert_eq!(Class::Glass.label(), 1);
        assert_eq!(Class::BOTH[1].score_index(), Some(1));
        let e = "solid".parse::<Class>().unwrap_err().to_string();
        assert!(e.contains("use glass, liquid or other"), "{e}");
        assert_eq!("paper".parse::<Preset>().unwrap(), Preset::Paper);
        assert!("short".parse::<Preset>().is_err());
    }
}
