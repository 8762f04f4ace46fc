//! The paper's numbers (Oyama, Koyama & Kawasaki 2022: Table II and §3's correlations and propensity peaks), in one
//! table that the analysis summary, the violin plots and the report all read.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::Class;

/// What the paper gives for a correlation: a value, or only its sign.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reference {
    Value(f64),
    Positive,
    Negative,
}

impl Reference {
    /// The sign the paper gives: 1 or -1.
    pub fn sign(self) -> f64 {
        match self {
            Reference::Value(v) => v.signum(),
            Reference::Positive => 1.0,
            Reference::Negative => -1.0,
        }
    }

    pub fn value(self) -> Option<f64> {
        match self {
            Reference::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether `mean` has the paper's sign (a zero mean has none).
    pub fn sign_agrees(self, mean: f64) -> bool {
        mean != 0.0 && mean.signum() == self.sign()
    }
}

/// As the summary files write it: `0.552`, `> 0` or `< 0`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Value(v) => write!(f, "{v}"),
            Reference::Positive => f.write_str("> 0"),
            Reference::Negative => f.write_str("< 0"),
        }
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Reads what `Display` writes.
impl std::str::FromStr for Reference {
    type Err = String;
    fn from_str(s: &str) -> Result<Reference, String> {
        match s.trim() {
            "> 0" => Ok(Reference::Positive),
            "< 0" => Ok(Reference::Negative),
            v => v
                .parse()
                .map(Reference::Value)
                .map_err(|_| format!("`{s}` is not a reference: write a number, `> 0` or `< 0`")),
        }
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Reference {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Reference".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The paper's value (e.g. \"0.552\") or sign (\"> 0\", \"< 0\")"
        })
    }
}

/// The paper's numbers for one system.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Paper {
    /// Test accuracy of the glass and the liquid class (Table II).
    pub accuracy_glass: f64,
    pub accuracy_liquid: f64,
    /// Pearson correlations (mean over configurations) by class and pair (in `analysis::PAIRS` order).
    pub correlations: Vec<(Class, usize, Reference)>,
    /// What the paper says about the signs, in words.
    pub signs: &'static str,
    /// The largest C(Gamma, 1 - Delta) (Fig. 4).
    pub propensity_peak: f64,
}

impl Paper {
    /// The paper's value or sign of a pair's Pearson correlation for a class; `None` where it gives none.
    pub fn correlation(&self, class: Class, pair: usize) -> Option<Reference> {
        self.correlations
            .iter()
            .find(|(c, p, _)| *c == class && *p == pair)
            .map(|(_, _, r)| *r)
    }
}

/// The paper's numbers for system `abm` or `kam`; `None` for any other system.
pub fn paper(system: &str) -> Option<Paper> {
    use Class::{Glass, Liquid};
    use Reference::{Negative, Positive, Value};
    match system {
        "abm" => Some(Paper {
            accuracy_glass: 1.00,
            accuracy_liquid: 1.00,
            correlations: vec![
                (Glass, 0, Value(0.552)),
                (Glass, 1, Value(0.403)),
                (Glass, 2, Value(0.355)),
                (Liquid, 1, Negative),
            ],
            signs: "C(Gamma, 1 - Theta) > 0 for glasses, < 0 for liquids",
            propensity_peak: 0.61,
        }),
        "kam" => Some(Paper {
            accuracy_glass: 1.00,
            accuracy_liquid: 0.998,
            correlations: vec![
                (Glass, 0, Negative),
                (Glass, 1, Negative),
                // Only C(Gamma, Upsilon) changes sign between KAM glass and liquid.
                (Liquid, 0, Positive),
                (Liquid, 1, Negative),
            ],
            signs: "C(Gamma, Upsilon) < 0 and C(Gamma, 1 - Theta) < 0 for glasses; only C(Gamma, Upsilon) changes \
                    sign between glass and liquid",
            propensity_peak: 0.68,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_print_as_the_summary_files_have_them_and_signs_compare() {
        let abm = paper("abm").unwrap();
        assert_eq!(
            abm.correlation(Class::Glass, 0).unwrap().to_string(),
            "0.552"
        );
        assert_eq!(
            abm.correlation(Class::Liquid, 1).unwrap().to_string(),
            "< 0"
        );
        assert_eq!(abm.correlation(Class::Liquid, 0), None);
        let kam = paper("kam").unwrap();
        assert!(kam.correlation(Class::Liquid, 0).unwrap().sign_agrees(0.1));
        assert!(!kam.correlation(Class::Glass, 0).unwrap().sign_agrees(0.1));
        assert!(!Reference::Positive.sign_agrees(0.0));
        assert!(paper("tiny").is_none());
        for r in [
            Reference::Value(0.403),
            Reference::Positive,
            Reference::Negative,
        ] {
            assert_eq!(r.to_string().parse::<Reference>().unwrap(), r);
        }
        assert!("about 0".parse::<Reference>().is_err());
    }
}
