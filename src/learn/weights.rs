//! Network weights on disk: `model.safetensors` (f32, one tensor per layer under its PyTorch name), written and
//! read the same way for the CNN and the graph network, with the SHA-256 that each `config.json` records.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, IoContext, Result};

pub const WEIGHTS: &str = "model.safetensors";

/// Writes `params` as the tensors `(name, shape, offset into params)` of `dir/model.safetensors`, tagged with
/// `format` and the `fixed` settings the weights were trained for (under the checksum, so an edit of
/// config.json that changes one is found), and returns the file's `sha256:<hex>`. The tags are one metadata
/// value, `format` = "glasscam-cnn; grid=64": the metadata is a hash map, written in no fixed order, so a second
/// key would make the bytes of two identical trainings differ. A non-finite weight is refused (`advice` says
/// what to change): such a model cannot predict anything.
pub fn write<S: AsRef<str>>(
    dir: &Path,
    (format, fixed): (&str, &[(&str, String)]),
    tensors: &[(S, Vec<usize>, usize)],
    params: &[f32],
    advice: &str,
) -> Result<String> {
    if let Some(i) = params.iter().position(|x| !x.is_finite()) {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message: format!(
                "refusing to write: weight {i} is {} (training diverged); {advice}",
                params[i]
            ),
        });
    }
    std::fs::create_dir_all(dir).at(dir)?;
    let bytes: &[u8] = bytemuck::cast_slice(params);
    let mut views = Vec::new();
    for (name, shape, off) in tensors {
        let n: usize = shape.iter().product();
        let view = TensorView::new(Dtype::F32, shape.clone(), &bytes[off * 4..(off + n) * 4])
            .map_err(|e| Error::Model {
                path: dir.to_path_buf(),
                message: format!("tensor {}: {e}", name.as_ref()),
            })?;
        views.push((name.as_ref(), view));
    }
    let mut tag = format.to_string();
    for (k, v) in fixed {
        tag.push_str(&format!("; {k}={v}"));
    }
    let meta = HashMap::from([("format".to_string(), tag)]);
    let path = dir.join(WEIGHTS);
    let weights = safetensors::serialize(views, Some(meta)).map_err(|e| Error::Model {
        path: path.clone(),
        message: format!("cannot write weights: {e}"),
    })?;
    crate::io::outdir::write_atomic(&path, &weights)?;
    Ok(sha256(&weights))
}

/// Reads the `n_params` parameters laid out as `tensors` from the bytes of `wpath`, after checking them against
/// the SHA-256 that config.json `recorded`. Every tensor must be there, F32 and of its shape; `shape_note` adds
/// to a shape mismatch what the config says the network is.
pub fn read<S: AsRef<str>>(
    wpath: &Path,
    bytes: &[u8],
    recorded: &str,
    tensors: &[(S, Vec<usize>, usize)],
    n_params: usize,
    shape_note: impl Fn(&str) -> String,
) -> Result<Vec<f32>> {
    let bad = |message: String| Error::Model {
        path: wpath.to_path_buf(),
        message,
    };
    check_sum(wpath, bytes, recorded)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        bad(format!(
            "corrupt weights file ({e}); retrain or copy the model directory again"
        ))
    })?;
    let mut params = vec![0f32; n_params];
    for (name, shape, off) in tensors {
        let name = name.as_ref();
        let t = st.tensor(name).map_err(|_| {
            bad(format!(
                "tensor `{name}` is missing; the weights do not belong to this config"
            ))
        })?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor `{name}` is {:?}, expected F32",
                t.dtype()
            )));
        }
        if t.shape() != shape.as_slice() {
            return Err(bad(format!(
                "tensor `{name}` has shape {:?}, config.json gives {shape:?}{}",
                t.shape(),
                shape_note(name)
            )));
        }
        let n: usize = shape.iter().product();
        for (d, c) in params[*off..off + n]
            .iter_mut()
            .zip(t.data().chunks_exact(4))
        {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    if let Some(i) = params.iter().position(|x| !x.is_finite()) {
        return Err(bad(format!(
            "parameter {i} is not finite; the weights are corrupt"
        )));
    }
    Ok(params)
}

/// The setting `key` the weights in `bytes` were trained for (see `write`); `None` in files written without it.
pub fn fixed(bytes: &[u8], key: &str) -> Option<String> {
    let (_, meta) = SafeTensors::read_metadata(bytes).ok()?;
    let tag = meta.metadata().as_ref()?.get("format")?;
    tag.split("; ")
        .skip(1)
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Refuses weights whose SHA-256 is not the one config.json records.
pub fn check_sum(wpath: &Path, bytes: &[u8], recorded: &str) -> Result<()> {
    let sum = sha256(bytes);
    if sum != recorded {
        return Err(Error::Model {
            path: wpath.to_path_buf(),
            message: format!(
                "checksum {sum} differs from config.json's `weights_sha256` ({}): the weights were changed or \
                 belong to another model; copy the model directory again or retrain",
                if recorded.is_empty() { "absent" } else { recorded }
            ),
        });
    }
    Ok(())
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        crate::io::dataset::hex(&sha2::Sha256::digest(bytes))
    )
}
