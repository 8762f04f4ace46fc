//! The one error type of the glasscam crate: variants name the file, field or kernel and say what to do.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("{path}: {message}")]
    SystemFile { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data set {path}: {message}")]
    Dataset { path: PathBuf, message: String },
    #[error(transparent)]
    Kernel(#[from] glasscam_kernels::KernelError),
    #[error("{0}")]
    Input(String),
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// A frame of an imported trajectory (LAMMPS dump, extended XYZ) that cannot be used.
    #[error("{path}: frame {frame} (line {line}): {message}")]
    Frame {
        path: PathBuf,
        frame: usize,
        line: usize,
        message: String,
    },
    /// A configuration the structural analysis cannot handle (e.g. two particles at one position).
    #[error("{0}")]
    Geometry(String),
    #[error("{path}: cannot draw the plot: {message}")]
    Plot { path: PathBuf, message: String },
    /// A cancel (a signal) stopped a stage; what survives depends on the stage, the caller says how to go on.
    #[error("interrupted")]
    Interrupted,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Attaches a path to an io error.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
