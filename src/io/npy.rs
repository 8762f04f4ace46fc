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
    write_with(path, shape, |sink| {
        for x in data {
            sink.push(x)?;
        }
        Ok(())
    })
}

/// Where `write_with` sends an array's values, in C order.
pub struct Sink<'a, T: npyz::Serialize> {
    path: &'a Path,
    w: npyz::NpyWriter<T, &'a mut crate::io::outdir::AtomicFile>,
}

impl<T: npyz::Serialize> Sink<'_, T> {
    pub fn push(&mut self, x: &T) -> Result<()> {
        self.w.push(x).at(self.path)
    }
}

/// Writes an array of `shape` whose values `fill` hands over in pieces, atomically, without holding them all in
/// memory (a data set's positions, chunk by chunk); fewer or more values than the shape holds is an error and
/// leaves `path` as it was.
pub fn write_with<T>(
    path: &Path,
    shape: &[u64],
    fill: impl FnOnce(&mut Sink<'_, T>) -> Result<()>,
) -> Result<()>
where
    T: npyz::AutoSerialize + npyz::Serialize,
{
    use npyz::WriterBuilder;
    let mut file = crate::io::outdir::AtomicFile::create(path)?;
    {
        let w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut file)
            .begin_nd()
            .at(path)?;
        let mut sink = Sink { path, w };
        fill(&mut sink)?;
        sink.w.finish().map_err(|e| {
            Error::Input(format!(
                "{}: shape {shape:?} was not filled as declared: {e}",
                path.display()
            ))
        })?;
    }
    file.finish()
}

/// Parses a float array stored as float32 or float64 (a data set's positions: float32 since data set format 2,
/// float64 before), widened to f64.
pub fn parse_float(path: &Path, bytes: &[u8]) -> Result<(Vec<u64>, Vec<f64>)> {
    let mut rest = bytes;
    let f32s = npyz::NpyHeader::from_reader(&mut rest)
        .ok()
        .is_some_and(|h| h.dtype().descr().contains("f4"));
    if f32s {
        let (shape, v) = parse::<f32>(path, bytes)?;
        Ok((shape, v.into_iter().map(f64::from).collect()))
    } else {
        parse::<f64>(path, bytes)
    }
}

/// Reads an array: its shape and its values in C order.
pub fn read<T>(path: &Path) -> Result<(Vec<u64>, Vec<T>)>
where
    T: npyz::Deserialize,
{
    let bytes = std::fs::read(path).at(path)?;
    parse(path, &bytes)
}

/// Parses the bytes of a `.npy` file read from `path` (named in messages). The header's shape is checked against
/// the bytes that follow it before anything is allocated, so a damaged header cannot ask for terabytes.
pub fn parse<T>(path: &Path, bytes: &[u8]) -> Result<(Vec<u64>, Vec<T>)>
where
    T: npyz::Deserialize,
{
    // npyz multiplies the shape out unchecked (a panic, or a wrap in release): check it first
    if header_shape(bytes).is_none() {
        return Err(Error::Input(format!(
            "{}: not a .npy file glasscam can read (its header gives no shape, or one whose size overflows)",
            path.display()
        )));
    }
    let mut rest = bytes;
    let header = npyz::NpyHeader::from_reader(&mut rest).at(path)?;
    let shape = header.shape().to_vec();
    if header.order() != npyz::Order::C {
        return Err(Error::Input(format!(
            "{}: Fortran-ordered arrays are not supported; save with numpy's default (C) order",
            path.display()
        )));
    }
    let need = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .zip(header.dtype().num_bytes())
        .and_then(|(count, size)| count.checked_mul(size as u64));
    let data_bytes = rest.len() as u64;
    if need.is_none_or(|need| need > data_bytes) {
        return Err(Error::Input(format!(
            "{}: the header gives shape {shape:?}, which needs more than the {data_bytes} bytes of data in the \
             file; the file is truncated or damaged",
            path.display()
        )));
    }
    let data = npyz::NpyFile::with_header(header, rest)
        .into_vec::<T>()
        .map_err(|e| {
            Error::Input(format!(
                "{}: cannot read as {}: {e}",
                path.display(),
                std::any::type_name::<T>()
            ))
        })?;
    Ok((shape, data))
}

/// The shape in a `.npy` header, if the header is well formed and the element count fits in a u64.
fn header_shape(bytes: &[u8]) -> Option<Vec<u64>> {
    let (len, start): (usize, usize) = match bytes.get(..8)? {
        [0x93, b'N', b'U', b'M', b'P', b'Y', 1, _] => (
            u16::from_le_bytes([*bytes.get(8)?, *bytes.get(9)?]) as usize,
            10,
        ),
        [0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _] => {
            let b = bytes.get(8..12)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => return None,
    };
    let text = std::str::from_utf8(bytes.get(start..start.checked_add(len)?)?).ok()?;
    let after = &text[text.find("shape")? + "shape".len()..];
    let open = after.find('(')?;
    let inner = &after[open + 1..open + after[open..].find(')')?];
    let shape: Vec<u64> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
    Some(shape)
}
