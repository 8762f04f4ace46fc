//! glasscam errors as Python exceptions, with glasscam's messages.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::PyErr;

create_exception!(
    _glasscam,
    GlasscamError,
    PyException,
    "An error reported by the glasscam library (a data set, model or system file that cannot be used, a \
     kernel failure). The message names the file or field and says what to do."
);

/// Bad input -> ValueError, file system -> OSError, cancel -> KeyboardInterrupt, the rest -> GlasscamError.
pub fn to_py(e: glasscam::Error) -> PyErr {
    use glasscam::Error as E;
    let msg = e.to_string();
    match e {
        E::Input(_) | E::Geometry(_) => PyValueError::new_err(msg),
        E::Io { source, .. } => PyOSError::new_err((source.raw_os_error().unwrap_or(0), msg)),
        E::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        _ => GlasscamError::new_err(msg),
    }
}

/// A ValueError naming the argument.
pub fn bad_arg(name: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{name}: {message}"))
}
