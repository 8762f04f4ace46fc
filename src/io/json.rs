//! JSON files: atomic writes, writes that must read back, versioned reads, and the one serde helper for numbers
//! that JSON holds as `null` (an undefined metric: NaN).

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, IoContext, Result};

/// Writes JSON to a temporary file and renames it into place (see `outdir::write_atomic`).
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Input(format!("{}: cannot serialise: {e}", path.display())))?;
    crate::io::outdir::write_atomic(path, text.as_bytes())
}

/// Writes JSON like `write_json_atomic`, for a file glasscam reads back: refuses a value that would not read back
/// (serde_json writes NaN and infinity as `null`, which no f64 field accepts), so a NaN is never stored.
pub fn write_json_readable<T: Serialize + DeserializeOwned>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Input(format!("{}: cannot serialise: {e}", path.display())))?;
    serde_json::from_str::<T>(&text).map_err(|e| {
        Error::Input(format!(
            "{}: refusing to write a value that is not finite (NaN or infinity; JSON stores it as null, which \
             cannot be read back): {e}",
            path.display()
        ))
    })?;
    crate::io::outdir::write_atomic(path, text.as_bytes())
}

/// Reads the JSON file `file` of `dir` as a `T`; one whose format version (`version`) is newer than `max_version`
/// is refused. `redo` names the command that writes it again (for the message).
pub fn read_json_file<T: DeserializeOwned>(
    dir: &Path,
    file: &str,
    max_version: u32,
    version: fn(&T) -> u32,
    redo: &str,
) -> Result<T> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).at(&path)?;
    let value: T = serde_json::from_str(&text).map_err(|e| Error::Dataset {
        path: dir.to_path_buf(),
        message: format!("{file} is not valid: {e}; rewrite it with {redo}"),
    })?;
    if version(&value) > max_version {
        return Err(Error::Dataset {
            path: dir.to_path_buf(),
            message: format!(
                "{file} has format version {}, newer than this glasscam's {max_version}; update glasscam",
                version(&value)
            ),
        });
    }
    Ok(value)
}

/// Reads a JSON file a pipeline stage wrote; a file that is not a `T` is refused with how to redo it.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).at(path)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Input(format!(
            "{}: {e}; rerun the stage that writes it (delete its entry in stages.json)",
            path.display()
        ))
    })
}

/// A value whose numbers JSON may hold as `null`.
pub trait NanAsNull: Sized {
    fn read<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error>;
}

impl NanAsNull for f64 {
    fn read<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

impl NanAsNull for Vec<f64> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<f64>, D::Error> {
        let v = Vec::<Option<f64>>::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

impl<const N: usize> NanAsNull for [f64; N] {
    fn read<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<[f64; N], D::Error> {
        let v = Vec::<f64>::read(d)?;
        let n = v.len();
        v.try_into().map_err(|_| {
            serde::de::Error::invalid_length(n, &format!("an array of {N} numbers").as_str())
        })
    }
}

impl NanAsNull for BTreeMap<String, f64> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let m = BTreeMap::<String, Option<f64>>::deserialize(d)?;
        Ok(m.into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect())
    }
}

/// Reads numbers that JSON may hold as `null`: serde_json writes an undefined metric (NaN: an AUC on a split with
/// one class, an accuracy of a class with no samples, a correlation of a constant field) as `null`, which a plain
/// f64 field refuses; read back, it is NaN again (`#[serde(deserialize_with = "nan_as_null")]` on an f64, a
/// `Vec<f64>`, an `[f64; N]` or a map of f64).
pub fn nan_as_null<'de, D: Deserializer<'de>, T: NanAsNull>(
    d: D,
) -> std::result::Result<T, D::Error> {
    T::read(d)
}

/// A finite number, or `None` (`null` in JSON) for NaN and infinity: for records that show an undefined value as
/// absent.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Row {
        #[serde(deserialize_with = "nan_as_null")]
        x: f64,
        #[serde(deserialize_with = "nan_as_null")]
        a: [f64; 2],
        #[serde(deserialize_with = "nan_as_null")]
        m: BTreeMap<String, f64>,
    }

    #[test]
    fn nan_is_written_as_null_and_read_back_as_nan() {
        let r = Row {
            x: f64::NAN,
            a: [1.0, f64::NAN],
            m: [("k".to_string(), f64::NAN)].into(),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(text, r#"{"x":null,"a":[1.0,null],"m":{"k":null}}"#);
        let back: Row = serde_json::from_str(&text).unwrap();
        assert!(back.x.is_nan() && back.a[1].is_nan() && back.m["k"].is_nan());
        assert_eq!(back.a[0], 1.0);
        assert!(serde_json::from_str::<Row>(r#"{"x":1,"a":[1],"m":{}}"#).is_err());
        assert_eq!((finite(f64::NAN), finite(2.0)), (None, Some(2.0)));
    }
}
