//! `.npy` reading and writing (through npyz); files are written to a temporary name and renamed, so a
//! killed run never leaves a half-written array behind.

use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// Writes `data` with `shape` (C order) to `path` atomically.
pub fn write<T>(path: &Path, shape: &[u64], data: &[T]) -> Result<()>
where
    T: npyz::AutoSerialize + npyz::Serialize,
{
    let expected: u64 = shape.iter().product();
    if expected != data.len() as u64 {
        return Err(Error::Input(format!(
            "{}: shape {:?} holds {} values but {} were given",
            path.display(),
            shape,
            expected,
            data.len()
        )));
    }
    use npyz::WriterBuilder;
    let mut buf = Vec::with_capacity(128 + std::mem::size_of_val(data));
    {
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(std::io::Cursor::new(&mut buf))
            .begin_nd()
            .at(path)?;
        w.extend(data.iter()).at(path)?;
        w.finish().at(path)?;
    }
    crate::outdir::write_atomic(path, &buf)
}

/// Reads an array: its shape and its values in C order.
pub fn read<T>(path: &Path) -> Result<(Vec<u64>, Vec<T>)>
where
    T: npyz::Deserialize,
{
    let bytes = std::fs::read(path).at(path)?;
    let npy = npyz::NpyFile::new(&bytes[..]).at(path)?;
    let shape = npy.shape().to_vec();
    if npy.order() != npyz::Order::C {
        return Err(Error::Input(format!(
            "{}: Fortran-ordered arrays are not supported; save with numpy's default (C) order",
            path.display()
        )));
    }
    let data = npy.into_vec::<T>().map_err(|e| {
        Error::Input(format!(
            "{}: cannot read as {}: {e}",
            path.display(),
            std::any::type_name::<T>()
        ))
    })?;
    Ok((shape, data))
}
