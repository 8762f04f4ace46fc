//! Bapst et al.'s graph network (Nat. Phys. 16, 448 (2020); docs/methods.md, "Propensity network"), which predicts
//! a value per node and time point, on the CPU twin: its shapes and flat parameter layout with PyTorch names, the
//! forward pass with every activation kept, the masked squared-error loss, and the backward to every parameter.
//!
//! Layer order: v_enc = node_encoder([onehot(species); node inputs]), e_enc = edge_encoder(edge inputs: r_dst - r_src
//! over the cutoff, and whatever else the host puts beside it); v, e =
//! v_enc, e_enc; `steps` times with shared weights: xv = [v; v_enc], e = edge_mlp([e; e_enc; xv[dst]; xv[src]]),
//! v = node_mlp([sum of e into the node; xv]); y = decoder(v), one value per time point. Every MLP is two Linear
//! layers of `hidden` with ReLU after each; the decoder has a third, linear, to the outputs.

use super::cpu::*;
use super::GraphBatch;
use crate::error::{KernelError, Result};

/// The network's shapes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GnSpec {
    pub n_species: usize,
    /// Node inputs after the one-hot species (Bapst: 0).
    pub node_in: usize,
    /// Edge inputs (Bapst: 2, the relative vector).
    pub edge_in: usize,
    /// Width of every hidden layer (Bapst: 64).
    pub hidden: usize,
    /// Message-passing steps with shared weights (Bapst: 7).
    pub steps: usize,
    /// Values per node: one per time point.
    pub outputs: usize,
}

/// The MLPs, in flat-layout order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mlp {
    NodeEncoder,
    EdgeEncoder,
    Edge,
    Node,
    Decoder,
}

impl Mlp {
    pub const ALL: [Mlp; 5] = [
        Mlp::NodeEncoder,
        Mlp::EdgeEncoder,
        Mlp::Edge,
        Mlp::Node,
        Mlp::Decoder,
    ];

    /// The `nn.Sequential`'s name in the PyTorch definition.
    pub fn name(self) -> &'static str {
        match self {
            Mlp::NodeEncoder => "node_encoder",
            Mlp::EdgeEncoder => "edge_encoder",
            Mlp::Edge => "edge_mlp",
            Mlp::Node => "node_mlp",
            Mlp::Decoder => "decoder",
        }
    }
}

/// Width of Bapst's edge input: the relative vector (x, y).
pub const EDGE_IN: usize = 2;

/// One Linear layer: the offsets of its weight [n_out, n_in] and bias [n_out] in the flat vector, and whether a
/// ReLU follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lin {
    pub w: usize,
    pub b: usize,
    pub n_in: usize,
    pub n_out: usize,
    pub relu: bool,
}

/// One parameter tensor: PyTorch name, shape, offset into the flat vector.
pub type GnTensor = (String, Vec<usize>, usize);

impl GnSpec {
    pub fn check(&self) -> Result<()> {
        let sizes = [
            self.n_species,
            self.edge_in,
            self.hidden,
            self.steps,
            self.outputs,
        ];
        if sizes.contains(&0) {
            return Err(KernelError::Input {
                kernel: "gn".into(),
                message: format!(
                    "species {}, edge inputs {}, hidden {}, steps {}, outputs {}: each must be >= 1",
                    self.n_species, self.edge_in, self.hidden, self.steps, self.outputs
                ),
            });
        }
        Ok(())
    }

    /// The widths [input, hidden.., output] of an MLP.
    pub fn widths(&self, m: Mlp) -> Vec<usize> {
        let w = self.hidden;
        match m {
            Mlp::NodeEncoder => vec![self.n_species + self.node_in, w, w],
            Mlp::EdgeEncoder => vec![self.edge_in, w, w],
            Mlp::Edge => vec![6 * w, w, w],
            Mlp::Node => vec![3 * w, w, w],
            Mlp::Decoder => vec![w, w, w, self.outputs],
        }
    }

    /// The Linear layers of every MLP (`Mlp::ALL` order), weights then bias, one MLP after the other.
    pub fn layers(&self) -> Vec<Vec<Lin>> {
        let mut off = 0;
        Mlp::ALL
            .iter()
            .map(|&m| {
                let ws = self.widths(m);
                (0..ws.len() - 1)
                    .map(|i| {
                        let (n_in, n_out) = (ws[i], ws[i + 1]);
                        let l = Lin {
                            w: off,
                            b: off + n_in * n_out,
                            n_in,
                            n_out,
                            relu: m != Mlp::Decoder || i + 2 < ws.len(),
                        };
                        off += n_in * n_out + n_out;
                        l
                    })
                    .collect()
            })
            .collect()
    }

    /// Every tensor with its PyTorch name (`<mlp>.<index in nn.Sequential>.weight|bias`), in flat order.
    pub fn tensors(&self) -> Vec<GnTensor> {
        let mut out = Vec::new();
        for (m, layers) in Mlp::ALL.iter().zip(self.layers()) {
            for (i, l) in layers.iter().enumerate() {
                // Linear, ReLU, Linear, ...: the Linear layers sit at even indices
                out.push((
                    format!("{}.{}.weight", m.name(), 2 * i),
                    vec![l.n_out, l.n_in],
                    l.w,
                ));
                out.push((format!("{}.{}.bias", m.name(), 2 * i), vec![l.n_out], l.b));
            }
        }
        out
    }

    pub fn n_params(&self) -> usize {
        self.layers()
            .iter()
            .flatten()
            .map(|l| l.n_in * l.n_out + l.n_out)
            .sum()
    }

    /// He-normal weights for the ReLU layers, Xavier-normal for the decoder's last, zero biases; seeded.
    pub fn init(&self, seed: u64) -> Vec<f64> {
        let mut out = vec![0.0; self.n_params()];
        let mut rng = crate::rng::SplitMix64(seed ^ 0x4261_7073_7447_4E00);
        for l in self.layers().iter().flatten() {
            let std = if l.relu {
                (2.0 / l.n_in as f64).sqrt()
            } else {
                (2.0 / (l.n_in + l.n_out) as f64).sqrt()
            };
            for v in &mut out[l.w..l.b] {
                *v = rng.normal(std);
            }
        }
        out
    }
}

/// A batch of graphs and the inputs of each edge (Bapst's: the minimum-image vector r_dst - r_src over the
/// cutoff) and node (after its one-hot species; none in Bapst's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GnGraph {
    pub graph: GraphBatch,
    /// [E, `GnSpec::edge_in`].
    pub vec: Vec<f64>,
    /// [V, `GnSpec::node_in`]; empty when it is 0.
    pub node: Vec<f64>,
}

impl GnGraph {
    /// Joins graphs into one batch.
    pub fn concat(parts: &[&GnGraph]) -> GnGraph {
        let gs: Vec<&GraphBatch> = parts.iter().map(|p| &p.graph).collect();
        GnGraph {
            graph: GraphBatch::concat(&gs),
            vec: parts.iter().flat_map(|p| p.vec.iter().copied()).collect(),
            node: parts.iter().flat_map(|p| p.node.iter().copied()).collect(),
        }
    }

    /// Refuses inputs of other widths than `spec`'s (the kernels index them unchecked).
    pub fn check_inputs(&self, spec: &GnSpec) -> Result<()> {
        let (nv, ne) = (self.graph.n_nodes(), self.graph.n_edges());
        if self.vec.len() != ne * spec.edge_in || self.node.len() != nv * spec.node_in {
            return Err(KernelError::Input {
                kernel: "gn".into(),
                message: format!(
                    "{} edge and {} node input values for {ne} edges and {nv} nodes, but the network takes {} per \
                     edge and {} per node",
                    self.vec.len(),
                    self.node.len(),
                    spec.edge_in,
                    spec.node_in
                ),
            });
        }
        Ok(())
    }
}

/// The activations of one MLP: the output of each layer (after its ReLU).
pub type Acts<T> = Vec<Vec<T>>;

/// The activations of one message-passing step.
#[derive(Clone, Debug, Default)]
pub struct GnStep<T = f64> {
    /// The edge MLP's input [E, 6 hidden] and activations.
    pub ein: Vec<T>,
    pub edge: Acts<T>,
    /// The node MLP's input [V, 3 hidden] and activations.
    pub nin: Vec<T>,
    pub node: Acts<T>,
}

/// Everything a forward pass computed.
#[derive(Clone, Debug, Default)]
pub struct GnForward<T = f64> {
    /// Node inputs [V, n_species + node_in] and edge inputs [E, edge_in].
    pub xv: Vec<T>,
    pub xe: Vec<T>,
    pub node_enc: Acts<T>,
    pub edge_enc: Acts<T>,
    pub steps: Vec<GnStep<T>>,
    pub decoder: Acts<T>,
}

impl<T: Real> GnForward<T> {
    /// The outputs [V, outputs].
    pub fn y(&self) -> &[T] {
        self.decoder.last().map(|v| v.as_slice()).unwrap_or(&[])
    }
}

/// Runs the Linear layers `ls` on the `rows` rows of `x`, keeping every layer's output.
pub fn mlp_forward<T: Real>(ls: &[Lin], params: &[T], x: &[T], rows: usize) -> Acts<T> {
    let mut acts: Acts<T> = Vec::with_capacity(ls.len());
    for (i, l) in ls.iter().enumerate() {
        let mut y = vec![T::zero(); rows * l.n_out];
        let input = if i == 0 { x } else { &acts[i - 1] };
        gnn_linear(
            l.n_in,
            l.n_out,
            &params[l.w..l.b],
            Some(&params[l.b..l.b + l.n_out]),
            l.relu,
            input,
            &mut y,
        );
        acts.push(y);
    }
    acts
}

/// Backward of `mlp_forward` from the gradient `dy` of its output: the weight and bias gradients added into
/// `grads`, and the gradient of its input `x`.
pub fn mlp_backward<T: Real>(
    ls: &[Lin],
    params: &[T],
    x: &[T],
    acts: &Acts<T>,
    dy: Vec<T>,
    grads: &mut [T],
) -> Vec<T> {
    let mut d = dy;
    for (i, l) in ls.iter().enumerate().rev() {
        if l.relu {
            gnn_relu_backward(&acts[i], &mut d);
        }
        let input = if i == 0 { x } else { &acts[i - 1] };
        let (gw, gb) = grads[l.w..l.b + l.n_out].split_at_mut(l.n_in * l.n_out);
        gnn_linear_backward_weight(l.n_in, l.n_out, input, &d, gw, Some(gb));
        let mut dx = vec![T::zero(); d.len() / l.n_out * l.n_in];
        gnn_linear_backward_input(l.n_in, l.n_out, &params[l.w..l.b], &d, &mut dx);
        d = dx;
    }
    d
}

/// The node inputs [V, n_species + node_in]: the one-hot species, then the graph's node inputs.
pub fn node_inputs<T: Real>(spec: &GnSpec, g: &GnGraph) -> Vec<T> {
    let b = &g.graph;
    let extra: Vec<T> = g.node.iter().map(|&x| T::of(x)).collect();
    let mut xv = vec![T::zero(); b.n_nodes() * (spec.n_species + spec.node_in)];
    gnn_readout_input(spec.n_species, spec.node_in, &b.species, &extra, &mut xv);
    xv
}

/// The edge inputs [E, edge_in] in the network's precision.
pub fn edge_inputs<T: Real>(g: &GnGraph) -> Vec<T> {
    g.vec.iter().map(|&x| T::of(x)).collect()
}

/// Forward pass.
pub fn forward<T: Real>(spec: &GnSpec, params: &[T], g: &GnGraph) -> GnForward<T> {
    let w = spec.hidden;
    let b = &g.graph;
    let (nv, ne) = (b.n_nodes(), b.n_edges());
    let ls = spec.layers();
    let xv = node_inputs(spec, g);
    let xe = edge_inputs(g);
    let node_enc = mlp_forward(&ls[0], params, &xv, nv);
    let edge_enc = mlp_forward(&ls[1], params, &xe, ne);
    let (v_enc, e_enc) = (&node_enc[1], &edge_enc[1]);
    let mut steps: Vec<GnStep<T>> = Vec::with_capacity(spec.steps);
    let mut xcat = vec![T::zero(); nv * 2 * w];
    let mut s = vec![T::zero(); nv * w];
    for k in 0..spec.steps {
        let (v, e) = match k {
            0 => (v_enc, e_enc),
            _ => (&steps[k - 1].node[1], &steps[k - 1].edge[1]),
        };
        // xv = [v; v_enc]
        gnn_columns(w, (w, 0), (2 * w, 0), false, v, &mut xcat);
        gnn_columns(w, (w, 0), (2 * w, w), false, v_enc, &mut xcat);
        let mut ein = vec![T::zero(); ne * 6 * w];
        gnn_columns(w, (w, 0), (6 * w, 0), false, e, &mut ein);
        gnn_columns(w, (w, 0), (6 * w, w), false, e_enc, &mut ein);
        gnn_edge_input(2 * w, (6 * w, 2 * w), &b.src, &b.dst, &xcat, &mut ein);
        let edge = mlp_forward(&ls[2], params, &ein, ne);
        gnn_segment_sum(&b.in_ptr, w, &edge[1], &mut s);
        let mut nin = vec![T::zero(); nv * 3 * w];
        gnn_columns(w, (w, 0), (3 * w, 0), false, &s, &mut nin);
        gnn_columns(2 * w, (2 * w, 0), (3 * w, w), false, &xcat, &mut nin);
        let node = mlp_forward(&ls[3], params, &nin, nv);
        steps.push(GnStep {
            ein,
            edge,
            nin,
            node,
        });
    }
    let last = &steps.last().map_or(v_enc, |s| &s.node[1]);
    let decoder = mlp_forward(&ls[4], params, last, nv);
    GnForward {
        xv,
        xe,
        node_enc,
        edge_enc,
        steps,
        decoder,
    }
}

/// Gradient of every parameter (flat layout) from the gradient `dy` [V, outputs] of the outputs.
pub fn backward<T: Real>(
    spec: &GnSpec,
    params: &[T],
    g: &GnGraph,
    fw: &GnForward<T>,
    dy: &[T],
) -> Vec<T> {
    let w = spec.hidden;
    let b = &g.graph;
    let (nv, ne) = (b.n_nodes(), b.n_edges());
    let ls = spec.layers();
    let mut grads = vec![T::zero(); spec.n_params()];
    let last = fw.steps.last().map_or(&fw.node_enc[1], |s| &s.node[1]);
    // dv: the gradient of the current step's node output; de_next: of its edge output through the next step
    let mut dv = mlp_backward(&ls[4], params, last, &fw.decoder, dy.to_vec(), &mut grads);
    let mut de_next = vec![T::zero(); ne * w];
    let mut dv_enc = vec![T::zero(); nv * w];
    let mut de_enc = vec![T::zero(); ne * w];
    let mut ds = vec![T::zero(); nv * w];
    let mut dxcat = vec![T::zero(); nv * 2 * w];
    for k in (0..spec.steps).rev() {
        let st = &fw.steps[k];
        let dnin = mlp_backward(&ls[3], params, &st.nin, &st.node, dv, &mut grads);
        gnn_columns(w, (3 * w, 0), (w, 0), false, &dnin, &mut ds);
        gnn_columns(2 * w, (3 * w, w), (2 * w, 0), false, &dnin, &mut dxcat);
        // the edge output feeds this step's node sums and the next step's edge input
        let mut de = vec![T::zero(); ne * w];
        gnn_segment_sum_backward(&b.dst, 0, w, &ds, &mut de);
        for (x, &y) in de.iter_mut().zip(&de_next) {
            *x += y;
        }
        let dein = mlp_backward(&ls[2], params, &st.ein, &st.edge, de, &mut grads);
        gnn_edge_input_backward(
            2 * w,
            (6 * w, 2 * w),
            &b.in_ptr,
            &b.rev,
            true,
            &dein,
            &mut dxcat,
        );
        gnn_columns(w, (6 * w, 0), (w, 0), false, &dein, &mut de_next);
        gnn_columns(w, (6 * w, w), (w, 0), true, &dein, &mut de_enc);
        dv = vec![T::zero(); nv * w];
        gnn_columns(w, (2 * w, 0), (w, 0), false, &dxcat, &mut dv);
        gnn_columns(w, (2 * w, w), (w, 0), true, &dxcat, &mut dv_enc);
    }
    // step 0 read the encoders' outputs as its v and e as well
    for (x, &y) in dv_enc.iter_mut().zip(&dv) {
        *x += y;
    }
    for (x, &y) in de_enc.iter_mut().zip(&de_next) {
        *x += y;
    }
    mlp_backward(&ls[0], params, &fw.xv, &fw.node_enc, dv_enc, &mut grads);
    mlp_backward(&ls[1], params, &fw.xe, &fw.edge_enc, de_enc, &mut grads);
    grads
}

/// `scored` for a loss over the nodes of every species.
pub const ALL_SPECIES: u32 = u32::MAX;

/// Node weights of the loss: 1 on species `scored` (every node with `ALL_SPECIES`), 0 elsewhere, and 1 over the
/// scored values (0 when none).
pub fn scored_weights<T: Real>(b: &GraphBatch, scored: u32, outputs: usize) -> (Vec<T>, f64) {
    let counts = |s: u32| scored == ALL_SPECIES || s == scored;
    let w: Vec<T> = b
        .species
        .iter()
        .map(|&s| if counts(s) { T::one() } else { T::zero() })
        .collect();
    let n = b.species.iter().filter(|&&s| counts(s)).count() * outputs;
    (w, if n > 0 { 1.0 / n as f64 } else { 0.0 })
}

/// Mean squared error over the nodes of species `scored` and every output, its gradient with respect to the
/// outputs, from outputs `y` and `targets` [V, outputs].
pub fn loss<T: Real>(
    spec: &GnSpec,
    b: &GraphBatch,
    scored: u32,
    y: &[T],
    targets: &[T],
) -> (f64, Vec<T>) {
    let (w, norm) = scored_weights::<T>(b, scored, spec.outputs);
    let mut sq = vec![T::zero(); y.len()];
    let mut dy = vec![T::zero(); y.len()];
    gnn_masked_mse(spec.outputs, norm, &w, y, targets, &mut sq, &mut dy);
    (sq.iter().map(|x| x.f64()).sum::<f64>() * norm, dy)
}

/// The loss and the gradient of every parameter on batch `g` with `targets` [V, outputs].
pub fn loss_and_grads<T: Real>(
    spec: &GnSpec,
    params: &[T],
    g: &GnGraph,
    scored: u32,
    targets: &[T],
) -> (f64, Vec<T>, GnForward<T>) {
    let fw = forward(spec, params, g);
    let (l, dy) = loss(spec, &g.graph, scored, fw.y(), targets);
    let grads = backward(spec, params, g, &fw, &dy);
    (l, grads, fw)
}

/// The minimum-image vector r_t - r_s in a periodic box of side `box_l`.
pub fn min_image(pos: &[f64], t: usize, s: usize, box_l: f64) -> [f64; 2] {
    let wrap = |d: f64| d - box_l * (d / box_l).round();
    [
        wrap(pos[2 * t] - pos[2 * s]),
        wrap(pos[2 * t + 1] - pos[2 * s + 1]),
    ]
}

/// The graph of one periodic configuration from the sources of the edges into each node (`lists[t]`: ascending
/// particle indices within `cutoff` of t, symmetric): edges grouped by target and ordered by source, carrying
/// (r_dst - r_src) / `cutoff` under the minimum image.
pub fn graph_from_lists(
    pos: &[f64],
    species: &[u32],
    box_l: f64,
    cutoff: f64,
    lists: &[Vec<u32>],
) -> GnGraph {
    let mut in_ptr = vec![0u32];
    let (mut src, mut dst, mut vec, mut dist) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (t, list) in lists.iter().enumerate() {
        for &s in list {
            let [dx, dy] = min_image(pos, t, s as usize, box_l);
            src.push(s);
            dst.push(t as u32);
            vec.extend([dx / cutoff, dy / cutoff]);
            dist.push((dx * dx + dy * dy).sqrt());
        }
        in_ptr.push(src.len() as u32);
    }
    let rev = (0..src.len())
        .map(|e| {
            let (s, t) = (src[e] as usize, dst[e]);
            let seg = &src[in_ptr[s] as usize..in_ptr[s + 1] as usize];
            in_ptr[s] + seg.binary_search(&t).unwrap_or(0) as u32
        })
        .collect();
    let e = src.len() as u32;
    GnGraph {
        graph: GraphBatch {
            node_ptr: vec![0, lists.len() as u32],
            edge_ptr: vec![0, e],
            in_ptr,
            src,
            dst,
            rev,
            species: species.to_vec(),
            dist,
        },
        vec,
        node: Vec::new(),
    }
}

/// The graph of one periodic configuration by brute force (the reference the host's cell-list builder is tested
/// against): an edge each way between every pair closer than `cutoff` under the minimum image. `cutoff` must be
/// below half the box side, so that each pair has one image within it.
pub fn cutoff_graph(pos: &[f64], species: &[u32], box_l: f64, cutoff: f64) -> GnGraph {
    let n = species.len();
    let lists: Vec<Vec<u32>> = (0..n)
        .map(|t| {
            (0..n)
                .filter(|&s| {
                    let [dx, dy] = min_image(pos, t, s, box_l);
                    s != t && (dx * dx + dy * dy).sqrt() < cutoff
                })
                .map(|s| s as u32)
                .collect()
        })
        .collect();
    graph_from_lists(pos, species, box_l, cutoff, &lists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// A jittered square lattice of `side`^2 particles at spacing 1 (every third of species 1), so that every
    /// particle has neighbours within 1.6.
    fn lattice(side: usize, seed: u64) -> (Vec<f64>, Vec<u32>, f64) {
        let mut rng = SplitMix64(seed);
        let mut pos = Vec::new();
        for i in 0..side * side {
            pos.push((i % side) as f64 + 0.5 * (rng.next_f64() - 0.5));
            pos.push((i / side) as f64 + 0.5 * (rng.next_f64() - 0.5));
        }
        let species = (0..side * side).map(|i| u32::from(i % 3 == 0)).collect();
        (pos, species, side as f64)
    }

    fn random(rng: &mut SplitMix64, n: usize) -> Vec<f64> {
        (0..n).map(|_| 2.0 * rng.next_f64() - 1.0).collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// |analytic - numeric| within 1e-6 relative to the larger (central differences of h = 1e-5 in f64).
    fn close(what: &str, analytic: f64, numeric: f64) {
        let tol = 1e-6 * analytic.abs().max(numeric.abs()).max(1e-3);
        assert!(
            (analytic - numeric).abs() <= tol,
            "{what}: analytic {analytic:e}, finite difference {numeric:e} (tolerance {tol:e})"
        );
    }

    /// Checks the gradient `grad` of the scalar `f` at `x` on `picks` coordinates by central differences.
    fn check_fd(what: &str, x: &[f64], grad: &[f64], picks: usize, f: impl Fn(&[f64]) -> f64) {
        let h = 1e-5;
        let stride = (x.len() / picks).max(1);
        for i in (0..x.len()).step_by(stride) {
            let (mut a, mut b) = (x.to_vec(), x.to_vec());
            a[i] += h;
            b[i] -= h;
            close(
                &format!("{what}[{i}]"),
                grad[i],
                (f(&a) - f(&b)) / (2.0 * h),
            );
        }
    }

    fn small() -> (GnSpec, GnGraph) {
        let (pos, species, l) = lattice(5, 3);
        let g = cutoff_graph(&pos, &species, l, 1.6);
        let spec = GnSpec {
            n_species: 2,
            node_in: 0,
            edge_in: EDGE_IN,
            hidden: 5,
            steps: 2,
            outputs: 3,
        };
        (spec, g)
    }

    /// `small` with 3 node inputs besides the species and 2 more edge inputs, random.
    fn small_with_inputs() -> (GnSpec, GnGraph) {
        let (mut spec, mut g) = small();
        let mut rng = SplitMix64(11);
        spec.node_in = 3;
        spec.edge_in = 4;
        g.node = random(&mut rng, g.graph.n_nodes() * 3);
        g.vec = g
            .vec
            .chunks_exact(2)
            .flat_map(|v| [v[0], v[1], rng.next_f64() - 0.5, rng.next_f64() - 0.5])
            .collect();
        g.check_inputs(&spec).unwrap();
        (spec, g)
    }

    #[test]
    fn the_loss_over_every_species_is_the_mean_over_every_node() {
        let (spec, g) = small();
        let mut rng = SplitMix64(5);
        let v = g.graph.n_nodes();
        let (y, t) = (random(&mut rng, v * 3), random(&mut rng, v * 3));
        let sq = |keep: &dyn Fn(u32) -> bool| {
            let (mut sum, mut n) = (0.0, 0);
            for i in (0..v).filter(|&i| keep(g.graph.species[i])) {
                sum += (0..3)
                    .map(|j| (y[3 * i + j] - t[3 * i + j]).powi(2))
                    .sum::<f64>();
                n += 3;
            }
            sum / n as f64
        };
        let (all, _) = loss(&spec, &g.graph, ALL_SPECIES, &y, &t);
        assert!((all - sq(&|_| true)).abs() < 1e-12);
        let (one, _) = loss(&spec, &g.graph, 1, &y, &t);
        assert!((one - sq(&|s| s == 1)).abs() < 1e-12);
        assert!((all - one).abs() > 1e-3);
    }

    #[test]
    fn the_cutoff_graph_is_symmetric_and_has_no_isolated_node() {
        let (_, g) = small();
        g.graph.check(2).unwrap();
        for e in 0..g.graph.n_edges() {
            let r = g.graph.rev[e] as usize;
            assert_eq!(g.vec[2 * r], -g.vec[2 * e]);
            assert_eq!(g.vec[2 * r + 1], -g.vec[2 * e + 1]);
        }
    }

    #[test]
    fn gnn_columns_backward_matches_finite_differences() {
        // out = [a; b] (concatenation), L = c . out: the split gives dL/da and dL/db
        let mut rng = SplitMix64(1);
        let (rows, wa, wb) = (7, 3, 4);
        let (a, b, c) = (
            random(&mut rng, rows * wa),
            random(&mut rng, rows * wb),
            random(&mut rng, rows * (wa + wb)),
        );
        let f = |a: &[f64], b: &[f64]| {
            let mut out = vec![0.0; rows * (wa + wb)];
            gnn_columns(wa, (wa, 0), (wa + wb, 0), false, a, &mut out);
            gnn_columns(wb, (wb, 0), (wa + wb, wa), false, b, &mut out);
            dot(&c, &out)
        };
        let mut da = vec![0.0; rows * wa];
        let mut db = vec![1.0; rows * wb];
        gnn_columns(wa, (wa + wb, 0), (wa, 0), false, &c, &mut da);
        // accumulate onto a gradient that already holds 1 per value
        gnn_columns(wb, (wa + wb, wa), (wb, 0), true, &c, &mut db);
        let db: Vec<f64> = db.iter().map(|x| x - 1.0).collect();
        check_fd("columns da", &a, &da, 21, |x| f(x, &b));
        check_fd("columns db", &b, &db, 28, |x| f(&a, x));
    }

    #[test]
    fn gnn_edge_input_backward_matches_finite_differences() {
        let (_, g) = small();
        let b = &g.graph;
        let mut rng = SplitMix64(2);
        let (wv, col) = (3, 2);
        let stride = col + 2 * wv;
        let xv = random(&mut rng, b.n_nodes() * wv);
        let c = random(&mut rng, b.n_edges() * stride);
        let f = |x: &[f64]| {
            let mut out = vec![0.0; b.n_edges() * stride];
            gnn_edge_input(wv, (stride, col), &b.src, &b.dst, x, &mut out);
            dot(&c, &out)
        };
        let mut d = vec![0.0; xv.len()];
        gnn_edge_input_backward(wv, (stride, col), &b.in_ptr, &b.rev, false, &c, &mut d);
        check_fd("edge input", &xv, &d, 40, f);
    }

    #[test]
    fn gnn_masked_mse_matches_finite_differences() {
        let (spec, g) = small();
        let mut rng = SplitMix64(4);
        let n = g.graph.n_nodes() * spec.outputs;
        let (y, t) = (random(&mut rng, n), random(&mut rng, n));
        let (l, dy) = loss(&spec, &g.graph, 0, &y, &t);
        assert!(l > 0.0);
        check_fd("mse", &y, &dy, 30, |y| loss(&spec, &g.graph, 0, y, &t).0);
        // species 1 only: the other nodes' outputs do not count
        let (_, dy1) = loss(&spec, &g.graph, 1, &y, &t);
        for v in 0..g.graph.n_nodes() {
            if g.graph.species[v] != 1 {
                assert!(dy1[v * spec.outputs..(v + 1) * spec.outputs]
                    .iter()
                    .all(|&x| x == 0.0));
            }
        }
    }

    #[test]
    fn the_whole_loss_matches_finite_differences_in_every_tensor() {
        whole_loss_matches_finite_differences(small());
        whole_loss_matches_finite_differences(small_with_inputs());
    }

    fn whole_loss_matches_finite_differences((spec, g): (GnSpec, GnGraph)) {
        let mut rng = SplitMix64(5);
        // biases away from zero, so that every ReLU is exercised on both sides
        let params: Vec<f64> = spec
            .init(7)
            .iter()
            .map(|&p| p + 0.1 * (2.0 * rng.next_f64() - 1.0))
            .collect();
        let t = random(&mut rng, g.graph.n_nodes() * spec.outputs);
        let (_, grads, _) = loss_and_grads(&spec, &params, &g, 0, &t);
        let f = |p: &[f64]| {
            let fw = forward(&spec, p, &g);
            loss(&spec, &g.graph, 0, fw.y(), &t).0
        };
        for (name, shape, off) in spec.tensors() {
            let n: usize = shape.iter().product();
            let h = 1e-5;
            for i in [off, off + n / 2, off + n - 1] {
                let (mut a, mut b) = (params.clone(), params.clone());
                a[i] += h;
                b[i] -= h;
                close(
                    &format!("{name}[{}]", i - off),
                    grads[i],
                    (f(&a) - f(&b)) / (2.0 * h),
                );
            }
        }
        assert!(grads.iter().all(|x| x.is_finite()));
        assert!(grads.iter().filter(|&&x| x != 0.0).count() > spec.n_params() / 2);
    }

    #[test]
    fn f32_forward_matches_the_f64_twin() {
        let (spec, g) = small_with_inputs();
        let p64 = spec.init(9);
        let p32: Vec<f32> = p64.iter().map(|&x| x as f32).collect();
        let y64 = forward(&spec, &p64, &g);
        let y32 = forward(&spec, &p32, &g);
        for (a, b) in y64.y().iter().zip(y32.y()) {
            assert!((a - *b as f64).abs() <= 1e-4 * a.abs().max(1.0), "{a} {b}");
        }
    }
}
