//! The one error type of the kernels crate: every variant names the kernel or buffer and what was wrong.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum KernelError {
    #[error(
        "no GPU adapter found (wgpu saw none). Install a Vulkan driver (on Debian: \
         `apt-get install mesa-vulkan-drivers libvulkan1` gives the software one) or run with --backend cpu"
    )]
    NoAdapter,
    /// The adapter asked for (`--adapter`, `GLASSCAM_ADAPTER`, `--adapters`) is not there or not one.
    #[error("{message}")]
    Adapter { message: String },
    #[error("the adapter `{adapter}` refused the device request: {message}")]
    RequestDevice { adapter: String, message: String },
    #[error("shader `{kernel}` is invalid: {message}")]
    Shader { kernel: String, message: String },
    #[error(
        "kernel `{kernel}`: buffer `{buffer}` needs {bytes} bytes but the device allows {limit} per binding; \
         run fewer replicas at once (`simulate --chunk`; fewer `--replicas` for a `bench` row)"
    )]
    BufferTooLarge {
        kernel: String,
        buffer: String,
        bytes: u64,
        limit: u64,
    },
    #[error("kernel `{kernel}`: reading a buffer back from the device failed: {message}")]
    Readback { kernel: String, message: String },
    #[error("kernel `{kernel}`: bad input: {message}")]
    Input { kernel: String, message: String },
    #[error(
        "kernel `{kernel}` cannot run on this driver at {n} particles per replica: one step loops up to {needed} \
         times per invocation, and the driver ends every shader's loops after {budget} in total (Mesa 22.3's \
         lavapipe does; Mesa 25's does not). Install a newer Mesa (scripts/install-vulkan-driver), use a hardware GPU, or \
         run with --backend cpu"
    )]
    LoopBudget {
        kernel: String,
        needed: u64,
        budget: u64,
        n: usize,
    },
}

pub type Result<T> = std::result::Result<T, KernelError>;
