//! The graph networks: Swanson's directed message-passing network with bond self-attention (docs/methods.md,
//! "Graph network"; Swanson et al. 2020): the batched graph layout (CSR over directed edges), the network's shapes
//! and flat parameter layout with PyTorch names, and its CPU twin (`cpu`: one f64 function per layer, forward and
//! backward; `net`: the whole network); the WGSL kernels (`kernels`, launched by `gpu`) and the whole network on the
//! device (`gpu_net`). Bapst et al.'s propensity network (docs/methods.md, "Propensity network") on the same layout
//! and layers: its twin (`bapst`) and its training step on the device (`gpu_bapst`).

pub mod bapst;
pub mod cpu;
pub mod gpu;
pub mod gpu_bapst;
pub mod gpu_net;
pub mod kernels;
pub mod net;

use crate::error::{KernelError, Result};

/// A batch of graphs as CSR over directed edges. Edges are grouped by graph, then by target node, then ordered by
/// source, so the edges into node v are `in_ptr[v]..in_ptr[v + 1]` and every segment sum runs in one fixed order.
/// Every directed edge has its reverse (`rev`, an involution): the graphs are symmetric.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphBatch {
    /// Nodes of graph g: `node_ptr[g]..node_ptr[g + 1]` (global node indices).
    pub node_ptr: Vec<u32>,
    /// Edges of graph g: `edge_ptr[g]..edge_ptr[g + 1]`.
    pub edge_ptr: Vec<u32>,
    /// Edges into node v: `in_ptr[v]..in_ptr[v + 1]`.
    pub in_ptr: Vec<u32>,
    /// Source node of each edge (global index).
    pub src: Vec<u32>,
    /// Target node of each edge (global index).
    pub dst: Vec<u32>,
    /// The edge dst -> src of each edge src -> dst.
    pub rev: Vec<u32>,
    /// Species of each node.
    pub species: Vec<u32>,
    /// Edge feature: the edge's length (minimum image under periodic boundaries).
    pub dist: Vec<f64>,
}

impl GraphBatch {
    pub fn n_graphs(&self) -> usize {
        self.node_ptr.len().saturating_sub(1)
    }
    pub fn n_nodes(&self) -> usize {
        self.species.len()
    }
    pub fn n_edges(&self) -> usize {
        self.src.len()
    }
    /// Graph of each node.
    pub fn node_graph(&self) -> Vec<u32> {
        let mut out = vec![0; self.n_nodes()];
        for g in 0..self.n_graphs() {
            for v in self.node_ptr[g]..self.node_ptr[g + 1] {
                out[v as usize] = g as u32;
            }
        }
        out
    }

    /// Joins graphs into one batch (node and edge indices shifted).
    pub fn concat(parts: &[&GraphBatch]) -> GraphBatch {
        let mut b = GraphBatch {
            node_ptr: vec![0],
            edge_ptr: vec![0],
            in_ptr: vec![0],
            ..Default::default()
        };
        for p in parts {
            let (n0, e0) = (b.n_nodes() as u32, b.n_edges() as u32);
            for g in 1..p.node_ptr.len() {
                b.node_ptr.push(n0 + p.node_ptr[g]);
                b.edge_ptr.push(e0 + p.edge_ptr[g]);
            }
            b.in_ptr.extend(p.in_ptr[1..].iter().map(|&x| x + e0));
            b.src.extend(p.src.iter().map(|&x| x + n0));
            b.dst.extend(p.dst.iter().map(|&x| x + n0));
            b.rev.extend(p.rev.iter().map(|&x| x + e0));
            b.species.extend_from_slice(&p.species);
            b.dist.extend_from_slice(&p.dist);
        }
        b
    }

    /// Checks the invariants every kernel relies on; the message names the first broken one.
    pub fn check(&self, n_species: usize) -> Result<()> {
        let bad = |message: String| {
            Err(KernelError::Input {
                kernel: "gnn".into(),
                message,
            })
        };
        let (v, e) = (self.n_nodes(), self.n_edges());
        if self.node_ptr.first() != Some(&0) || self.node_ptr.last() != Some(&(v as u32)) {
            return bad("node_ptr must run from 0 to the node count".into());
        }
        if self.edge_ptr.len() != self.node_ptr.len()
            || self.edge_ptr.first() != Some(&0)
            || self.edge_ptr.last() != Some(&(e as u32))
        {
            return bad(
                "edge_ptr must have one entry per graph + 1 and run from 0 to the edge count"
                    .into(),
            );
        }
        if self.in_ptr.len() != v + 1 || self.in_ptr[v] as usize != e {
            return bad("in_ptr must have one entry per node + 1 and end at the edge count".into());
        }
        if self.dst.len() != e || self.rev.len() != e || self.dist.len() != e {
            return bad("src, dst, rev and dist must have one entry per edge".into());
        }
        if let Some(s) = self.species.iter().find(|&&s| s as usize >= n_species) {
            return bad(format!(
                "a node has species {s} but the model takes {n_species} species; the model does not fit this data"
            ));
        }
        for node in 0..v {
            if self.in_ptr[node] == self.in_ptr[node + 1] {
                return bad(format!(
                    "node {node} has no edges (an isolated node, e.g. with k = 0): messages cannot reach it; use \
                     k >= 1"
                ));
            }
            for ed in self.in_ptr[node]..self.in_ptr[node + 1] {
                if self.dst[ed as usize] as usize != node {
                    return bad(format!(
                        "edge {ed} is listed into node {node} but its target is {}",
                        self.dst[ed as usize]
                    ));
                }
            }
        }
        for (i, &r) in self.rev.iter().enumerate() {
            let r = r as usize;
            if r >= e
                || self.rev[r] as usize != i
                || self.src[r] != self.dst[i]
                || self.dst[r] != self.src[i]
            {
                return bad(format!("edge {i} has no proper reverse edge"));
            }
        }
        Ok(())
    }
}

/// Where the bond attention's softmax runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Attention {
    /// No attention: messages are not scaled.
    Off,
    /// Softmax over the edges of each graph (the default: a graph's output does not depend on its batch).
    #[default]
    Graph,
    /// Softmax over every edge of the mini-batch, as Swanson's code does.
    Batch,
}

/// The network's shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MpnnSpec {
    pub n_species: usize,
    pub hidden: usize,
    /// T: T - 1 message updates, then the readout.
    pub depth: usize,
    pub attention: Attention,
    pub dropout: f64,
    pub classes: usize,
    /// The distance feature is (d - dist_mean) / dist_std (measured on the training graphs, so that the spread
    /// of neighbour distances, where liquids and glasses differ, is on the scale of the weights).
    pub dist_mean: f64,
    pub dist_std: f64,
}

/// One parameter tensor: PyTorch name, shape, offset into the flat vector.
pub type Tensor = (&'static str, Vec<usize>, usize);

impl MpnnSpec {
    /// Width of an edge's input features: the source's species one-hot and the distance.
    pub fn edge_features(&self) -> usize {
        self.n_species + 1
    }

    pub fn check(&self) -> Result<()> {
        let bad = |message: String| {
            Err(KernelError::Input {
                kernel: "gnn".into(),
                message,
            })
        };
        if self.n_species == 0 || self.hidden == 0 || self.classes < 2 {
            return bad("species, hidden width must be >= 1 and classes >= 2".into());
        }
        if self.depth < 1 {
            return bad("depth must be >= 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if !(self.dist_std > 0.0 && self.dist_std.is_finite() && self.dist_mean.is_finite()) {
            return bad(format!(
                "distance standardization mean {} std {}: std must be > 0 and both finite",
                self.dist_mean, self.dist_std
            ));
        }
        Ok(())
    }

    /// Every parameter tensor with its PyTorch name and shape ([out, in] for Linear weights), in flat order.
    pub fn tensors(&self) -> Vec<Tensor> {
        let (h, ns) = (self.hidden, self.n_species);
        let mut shapes: Vec<(&'static str, Vec<usize>)> =
            vec![("W_i.weight", vec![h, ns + 1]), ("W_h.weight", vec![h, h])];
        if self.attention != Attention::Off {
            shapes.push(("W_a.weight", vec![h, h]));
            shapes.push(("v_a.weight", vec![1, h]));
            shapes.push(("v_a.bias", vec![1]));
        }
        shapes.extend([
            ("W_o.weight", vec![h, ns + h]),
            ("W_o.bias", vec![h]),
            ("ffn1.weight", vec![h, h]),
            ("ffn1.bias", vec![h]),
            ("ffn2.weight", vec![self.classes, h]),
            ("ffn2.bias", vec![self.classes]),
        ]);
        let mut off = 0;
        shapes
            .into_iter()
            .map(|(n, s)| {
                let o = off;
                off += s.iter().product::<usize>();
                (n, s, o)
            })
            .collect()
    }

    pub fn n_params(&self) -> usize {
        self.tensors()
            .last()
            .map(|(_, s, o)| o + s.iter().product::<usize>())
            .unwrap_or(0)
    }

    /// Offset of tensor `name`.
    pub fn offset(&self, name: &str) -> usize {
        self.tensors()
            .into_iter()
            .find(|t| t.0 == name)
            .map(|t| t.2)
            .unwrap_or(usize::MAX)
    }

    /// Xavier-normal weights, zero biases (chemprop's `initialize_weights`), seeded; W_h and W_o scaled by 0.3 and
    /// v_a zero (see below).
    pub fn init(&self, seed: u64) -> Vec<f64> {
        let mut out = vec![0.0; self.n_params()];
        let mut rng = crate::rng::SplitMix64(seed ^ 0x6E6E_0000_4D50_4E4E);
        for (name, shape, off) in self.tensors() {
            // v_a = 0: the attention starts uniform (alpha = 1), so the first steps are not dominated by a few
            // edges of a softmax over thousands
            if shape.len() != 2 || name == "v_a.weight" {
                continue;
            }
            // W_h and W_o read sums over a node's ~2k incoming edges: scaled down so activations start O(1)
            let gain = if name == "W_h.weight" || name == "W_o.weight" {
                0.3
            } else {
                1.0
            };
            let std = gain * (2.0 / (shape[0] + shape[1]) as f64).sqrt();
            for v in &mut out[off..off + shape[0] * shape[1]] {
                *v = rng.normal(std);
            }
        }
        out
    }
}

/// Linear warm-up from `init_lr` to `max_lr` over `warmup` steps, then exponential decay to `final_lr` at `total`
/// steps (chemprop's NoamLR, as Swanson trains).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub init_lr: f64,
    pub max_lr: f64,
    pub final_lr: f64,
    pub warmup: u64,
    pub total: u64,
}

impl Schedule {
    /// Learning rate of step s (0-based).
    pub fn lr(&self, s: u64) -> f64 {
        if s < self.warmup {
            self.init_lr + (self.max_lr - self.init_lr) * s as f64 / self.warmup as f64
        } else if self.total <= self.warmup {
            self.max_lr
        } else {
            let gamma = (self.final_lr / self.max_lr).powf(1.0 / (self.total - self.warmup) as f64);
            self.max_lr * gamma.powf((s - self.warmup) as f64)
        }
    }
}
