//! The WGSL sources of every kernel, assembled from `shaders/` (shared parts first), and their naga validation.

use crate::error::{KernelError, Result};

/// A compute kernel: its name (file, pipeline label and CPU twin share it) and the WGSL files it is made of.
pub struct Kernel {
    pub name: &'static str,
    /// Shared parts first, the kernel's own file (with `main`) last.
    pub parts: &'static [&'static str],
}

impl Kernel {
    /// The assembled WGSL source.
    pub fn source(&self) -> String {
        self.parts.join("\n")
    }

    /// Parses and validates the source with naga (no GPU needed).
    pub fn validate(&self) -> Result<naga::Module> {
        let src = self.source();
        let module = naga::front::wgsl::parse_str(&src).map_err(|e| KernelError::Shader {
            kernel: self.name.to_string(),
            message: e.emit_to_string(&src),
        })?;
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .map_err(|e| KernelError::Shader {
            kernel: self.name.to_string(),
            message: format!("{:?}", e.into_inner()),
        })?;
        Ok(module)
    }
}

/// Size in bytes of the WGSL struct `name` as naga lays it out, for checking host mirrors.
pub fn struct_size(module: &naga::Module, name: &str) -> Option<u32> {
    module
        .types
        .iter()
        .find_map(|(_, ty)| match (&ty.name, &ty.inner) {
            (Some(n), naga::TypeInner::Struct { span, .. }) if n == name => Some(*span),
            _ => None,
        })
}

pub const MD_COMMON: &str = include_str!("../../shaders/md_common.wgsl");

pub const MD_FORCES: Kernel = Kernel {
    name: "md_forces",
    parts: &[MD_COMMON, include_str!("../../shaders/md_forces.wgsl")],
};

pub const MD_STEP: Kernel = Kernel {
    name: "md_step",
    parts: &[MD_COMMON, include_str!("../../shaders/md_step.wgsl")],
};

pub const MD_FIRE: Kernel = Kernel {
    name: "md_fire",
    parts: &[MD_COMMON, include_str!("../../shaders/md_fire.wgsl")],
};

/// Every kernel of the project; the naga test walks this list and checks that every file in `shaders/` is in it.
pub const ALL: &[&Kernel] = &[
    &MD_FORCES,
    &MD_STEP,
    &MD_FIRE,
    &GRIDIZE,
    &GRID_SAMPLE,
    &CONV2D_FORWARD,
    &CONV2D_BACKWARD_INPUT,
    &CONV2D_BACKWARD_WEIGHT,
    &RELU_BACKWARD,
    &DENSE_FORWARD,
    &DENSE_BACKWARD_INPUT,
    &DENSE_BACKWARD_WEIGHT,
    &DROPOUT,
    &SOFTMAX_XENT,
    &ADAM,
    &GRADCAM,
    &MEAN_POOL,
    &MEAN_POOL_BACKWARD,
];

pub const NN_COMMON: &str = include_str!("../../shaders/nn_common.wgsl");

macro_rules! nn_kernel {
    ($id:ident, $name:literal) => {
        pub const $id: Kernel = Kernel {
            name: $name,
            parts: &[
                NN_COMMON,
                include_str!(concat!("../../shaders/", $name, ".wgsl")),
            ],
        };
    };
}

nn_kernel!(GRIDIZE, "gridize");
nn_kernel!(GRID_SAMPLE, "grid_sample");
nn_kernel!(CONV2D_FORWARD, "conv2d_forward");
nn_kernel!(CONV2D_BACKWARD_INPUT, "conv2d_backward_input");
nn_kernel!(CONV2D_BACKWARD_WEIGHT, "conv2d_backward_weight");
nn_kernel!(RELU_BACKWARD, "relu_backward");
nn_kernel!(DENSE_FORWARD, "dense_forward");
nn_kernel!(DENSE_BACKWARD_INPUT, "dense_backward_input");
nn_kernel!(DENSE_BACKWARD_WEIGHT, "dense_backward_weight");
nn_kernel!(DROPOUT, "dropout");
nn_kernel!(SOFTMAX_XENT, "softmax_xent");
nn_kernel!(ADAM, "adam");
nn_kernel!(GRADCAM, "gradcam");
nn_kernel!(MEAN_POOL, "mean_pool");
nn_kernel!(MEAN_POOL_BACKWARD, "mean_pool_backward");
