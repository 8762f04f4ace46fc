//! Checked views of the caller's arrays (zero-copy when they are C-contiguous of the right dtype) and the box.

use std::borrow::Cow;

use numpy::{
    PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;

use crate::errors::bad_arg;

fn shape_text(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    if parts.len() == 1 {
        format!("({},)", parts[0])
    } else {
        format!("({})", parts.join(", "))
    }
}

/// A float64 array. Lists and other sequences are converted; an ndarray of another dtype is refused (no silent
/// casts), naming the argument and the expected shape.
pub fn f64_array<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    expect: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, f64>> {
    if let Ok(a) = obj.extract::<PyReadonlyArrayDyn<'py, f64>>() {
        return Ok(a);
    }
    if let Ok(a) = obj.cast::<PyUntypedArray>() {
        return Err(bad_arg(
            name,
            format!(
                "expected a float64 array of shape {expect}, got dtype {} (convert with .astype(numpy.float64))",
                a.dtype()
            ),
        ));
    }
    let np = obj.py().import("numpy")?;
    let conv = np.call_method1("asarray", (obj, "float64")).map_err(|e| {
        bad_arg(
            name,
            format!("expected a float64 array of shape {expect}: {e}"),
        )
    })?;
    Ok(conv.cast_into::<PyArrayDyn<f64>>()?.readonly())
}

/// The array's data in C order: borrowed when contiguous, copied otherwise.
pub fn data<'a, T: numpy::Element + Copy>(a: &'a PyReadonlyArrayDyn<'_, T>) -> Cow<'a, [T]> {
    match a.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(a.as_array().iter().copied().collect()),
    }
}

/// Positions of one configuration (N, 2) or a batch (B, N, 2): the array, B (1 for one configuration), N and
/// whether it was a batch.
pub struct Positions<'py> {
    pub array: PyReadonlyArrayDyn<'py, f64>,
    pub batch: usize,
    pub n: usize,
    pub batched: bool,
}

pub fn positions<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Positions<'py>> {
    let expect = "(N, 2) or (B, N, 2)";
    let array = f64_array(obj, name, expect)?;
    let shape = array.shape().to_vec();
    let (batch, n, batched) = match shape.as_slice() {
        [n, 2] => (1, *n, false),
        [b, n, 2] => (*b, *n, true),
        _ => {
            return Err(bad_arg(
                name,
                format!("expected shape {expect}, got {}", shape_text(&shape)),
            ))
        }
    };
    if n == 0 {
        return Err(bad_arg(name, "no particles (N = 0)"));
    }
    Ok(Positions {
        array,
        batch,
        n,
        batched,
    })
}

/// An array of exactly `shape`, or a ValueError naming `name`, `expect` and the shape it had.
pub fn f64_shaped<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    shape: &[usize],
) -> PyResult<PyReadonlyArrayDyn<'py, f64>> {
    let expect = shape_text(shape);
    let a = f64_array(obj, name, &expect)?;
    if a.shape() != shape {
        return Err(bad_arg(
            name,
            format!("expected shape {expect}, got {}", shape_text(a.shape())),
        ));
    }
    Ok(a)
}

/// Integer species indices of shape (N,) as u32 (uint32 borrowed; other integer dtypes converted).
pub fn species(obj: &Bound<'_, PyAny>, name: &str, n: usize) -> PyResult<Vec<u32>> {
    let expect = format!("({n},)");
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let a = arr.cast::<PyUntypedArray>()?;
    let kind: String = a.dtype().getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" {
        return Err(bad_arg(
            name,
            format!(
                "expected an integer array of shape {expect}, got dtype {}",
                a.dtype()
            ),
        ));
    }
    if a.shape() != [n] {
        return Err(bad_arg(
            name,
            format!("expected shape {expect}, got {}", shape_text(a.shape())),
        ));
    }
    let as_i64 = arr.call_method1("astype", ("int64",))?;
    let v: PyReadonlyArrayDyn<'_, i64> = as_i64.extract()?;
    data(&v)
        .iter()
        .map(|&s| {
            u32::try_from(s)
                .map_err(|_| bad_arg(name, format!("species index {s} is not in 0..2^32")))
        })
        .collect()
}

/// The box: a side L (square), (Lx, Ly), or an object with `Lx` and `Ly` (a 2D `freud.box.Box`).
pub fn box_sides(obj: &Bound<'_, PyAny>) -> PyResult<[f64; 2]> {
    let sides = if let Ok(l) = obj.extract::<f64>() {
        [l, l]
    } else if let (Ok(lx), Ok(ly)) = (obj.getattr("Lx"), obj.getattr("Ly")) {
        if let Ok(is2d) = obj.getattr("is2D") {
            if !is2d.extract::<bool>().unwrap_or(true) {
                return Err(bad_arg("box", "a 3D freud box: glasscam is 2D"));
            }
        }
        [lx.extract::<f64>()?, ly.extract::<f64>()?]
    } else if let Ok(v) = obj.extract::<Vec<f64>>() {
        match v.as_slice() {
            [lx, ly] => [*lx, *ly],
            _ => {
                return Err(bad_arg(
                    "box",
                    format!(
                        "expected a side L or sides (Lx, Ly), got {} values",
                        v.len()
                    ),
                ))
            }
        }
    } else {
        return Err(bad_arg(
            "box",
            "expected a side L, sides (Lx, Ly) or a 2D freud.box.Box",
        ));
    };
    if !sides.iter().all(|l| l.is_finite() && *l > 0.0) {
        return Err(bad_arg(
            "box",
            format!("sides must be positive, got {sides:?}"),
        ));
    }
    Ok(sides)
}
