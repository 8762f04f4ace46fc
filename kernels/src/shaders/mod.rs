//! The WGSL sources of every kernel, assembled from the family's generated prelude and its parts (shared parts
//! first), and their naga validation; the parts every kernel of a family shares (`<family>/shaders/*_common.wgsl`)
//! and the one shared across families (`shaders/hash.wgsl`, here). Each family keeps its own kernels' WGSL in
//! `<family>/shaders/`; the kernels are declared by their families and gathered in `registry.rs`.

use crate::error::{KernelError, Result};
pub use crate::kernel::Kernel;

pub const MD_COMMON: &str = include_str!("../md/shaders/md_common.wgsl");
pub const NN_COMMON: &str = include_str!("../nn/shaders/nn_common.wgsl");
pub const GNN_COMMON: &str = include_str!("../gnn/shaders/gnn_common.wgsl");
/// The dropout hash (`hash_u32`, `keep`), shared by the nn and gnn families.
pub const HASH: &str = include_str!("hash.wgsl");

impl Kernel {
    /// The assembled WGSL source: the family's prelude, then the parts in order.
    pub fn source(&self) -> String {
        let mut s = self.prelude();
        for part in self.parts {
            s.push('\n');
            s.push_str(part);
        }
        s
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
