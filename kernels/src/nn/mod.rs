//! Gridization (`gridize`, `grid_sample`), the CNN kernels (convolution, dense, ReLU, dropout, softmax
//! cross-entropy, Adam) and `gradcam`: their declarations (kernels.rs), the network's shapes and
//! parameter layout, and the op plans that the GPU path, the f64 CPU twin and the f32 CPU backend (`fast`) all
//! execute in the same order.

pub mod common;
pub mod cpu;
pub mod fast;
pub mod gpu;
pub mod kernels;
pub mod net;

use crate::error::{KernelError, Result};

pub use common::{hash_u32, keep, Buf, NnParams, PlanOp, DENSE_BATCH, MAX_MAPS, WG};
pub use kernels::NnKernel;
pub use kernels::{
    ADAM, CONV2D_BACKWARD_INPUT, CONV2D_BACKWARD_WEIGHT, CONV2D_FORWARD, DENSE_BACKWARD_INPUT,
    DENSE_BACKWARD_WEIGHT, DENSE_FORWARD, DROPOUT, EPOCH_TALLY, GATHER_AUGMENT, GRADCAM, GRIDIZE,
    GRIDIZE_BIN, GRID_SAMPLE, MEAN_POOL, MEAN_POOL_BACKWARD, RELU_BACKWARD, SOFTMAX_XENT,
    STANDARDIZE,
};

/// The float type of the CNN on the CPU: `F32`, the fast backend (`nn::fast`, the CPU default), or `F64`, the
/// twin (`nn::cpu`), the reference the others are tested against. The GPU path is f32 whatever this says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    pub const ALL: [Precision; 2] = [Precision::F32, Precision::F64];

    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// `f32` or `f64` (what `--precision` takes).
    pub fn parse(s: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// Gridization settings: grid size, Gaussian width and window, box side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridSpec {
    /// Pixels per side G.
    pub grid: usize,
    pub box_l: f64,
    /// Gaussian width w (length units).
    pub width: f64,
    /// Window half-width in widths; the window is (2 radius + 1)^2 pixels, radius = ceil(cutoff w / h).
    pub cutoff: f64,
}

impl GridSpec {
    pub fn pixel(&self) -> f64 {
        self.box_l / self.grid as f64
    }
    pub fn radius(&self) -> usize {
        (self.cutoff * self.width / self.pixel()).ceil().max(0.0) as usize
    }
    /// The window must fit the periodic grid once, or a pixel would be counted twice.
    pub fn check(&self) -> Result<()> {
        let bad = |message: String| {
            Err(KernelError::Input {
                kernel: "gridize".into(),
                message,
            })
        };
        if self.grid == 0
            || self.box_l.is_nan()
            || self.box_l <= 0.0
            || self.width.is_nan()
            || self.width <= 0.0
        {
            return bad(format!(
                "grid {} box {} width {}: all must be positive",
                self.grid, self.box_l, self.width
            ));
        }
        // in f64: a huge width must not overflow the pixel count
        let across = 2.0 * (self.cutoff * self.width / self.pixel()).ceil() + 1.0;
        if across.is_nan() || across > self.grid as f64 {
            return bad(format!(
                "the Gaussian window ({across} pixels across for width {} and cutoff {} widths) does not fit a \
                 {}-pixel grid; use a larger grid or a smaller width",
                self.width,
                self.cutoff,
                self.grid
            ));
        }
        Ok(())
    }
    /// Parameters of `gridize` / `grid_sample` for `batch` snapshots of `n_part` particles.
    pub fn params(&self, batch: usize, n_part: usize, n_species: usize) -> NnParams {
        NnParams {
            batch: batch as u32,
            h: self.grid as u32,
            w: self.grid as u32,
            n_part: n_part as u32,
            n_species: n_species as u32,
            box_l: self.box_l as f32,
            width: self.width as f32,
            radius: self.radius() as u32,
            ..Default::default()
        }
    }
}

/// Adam's hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamSpec {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamSpec {
    fn default() -> Self {
        AdamSpec {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl AdamSpec {
    /// Parameters of `adam` for step t (1-based) over n parameters; bias corrections computed in f64.
    pub fn params(&self, n: usize, t: u64) -> NnParams {
        NnParams {
            n: n as u32,
            step: t as u32,
            lr: self.lr as f32,
            beta1: self.beta1 as f32,
            beta2: self.beta2 as f32,
            eps: self.eps as f32,
            bc1: (1.0 - self.beta1.powi(t as i32)) as f32,
            bc2: (1.0 - self.beta2.powi(t as i32)) as f32,
            ..Default::default()
        }
    }
}

/// One layer of the network with its slice of the flat parameter vector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    /// k x k convolution, circular padding, ReLU; weights OIHW.
    Conv {
        c_in: usize,
        c_out: usize,
        k: usize,
        w_off: usize,
        b_off: usize,
    },
    /// The mean of each of `c` feature maps (the `mean` head); no parameters.
    Pool { c: usize },
    /// Fully connected; weights [n_out, n_in]; ReLU when `relu`.
    Dense {
        n_in: usize,
        n_out: usize,
        relu: bool,
        w_off: usize,
        b_off: usize,
    },
}

/// What joins the last convolution to the first dense layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Head {
    /// All feature-map pixels in C,H,W order (docs/methods.md, "CNN").
    #[default]
    Flatten,
    /// The mean of each feature map (global average pooling): the dense layer sees one value per map.
    Mean,
}

/// The network of docs/methods.md, "CNN": convolutions (ReLU, circular padding, no pooling), flatten (or, with `Head::Mean`,
/// the mean of each map), dense + ReLU, dropout, dense to the class scores.
#[derive(Clone, Debug, PartialEq)]
pub struct NetSpec {
    pub in_channels: usize,
    pub grid: usize,
    /// Output channels of each convolution.
    pub conv: Vec<usize>,
    /// Odd kernel size.
    pub kernel: usize,
    pub hidden: usize,
    pub classes: usize,
    pub dropout: f64,
    pub head: Head,
}

impl NetSpec {
    pub fn check(&self) -> Result<()> {
        let bad = |message: String| {
            Err(KernelError::Input {
                kernel: "nn".into(),
                message,
            })
        };
        if self.in_channels == 0 || self.grid == 0 || self.hidden == 0 || self.conv.is_empty() {
            return bad(
                "input channels, grid, hidden width and the convolution list must be non-empty"
                    .into(),
            );
        }
        // the convolutions wrap indices with one add or subtract, which needs pad = kernel / 2 <= grid
        if self.kernel.is_multiple_of(2) || self.kernel > self.grid {
            return bad(format!(
                "kernel size {} must be odd and at most the grid size {}",
                self.kernel, self.grid
            ));
        }
        if self.classes < 2 {
            return bad(format!("{} classes; need at least 2", self.classes));
        }
        if let Some(&c) = self.conv.iter().find(|&&c| c == 0 || c > MAX_MAPS) {
            return bad(format!("convolution with {c} channels; use 1..={MAX_MAPS}"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if self.n_params() > u32::MAX as usize / 2 {
            return bad(format!(
                "{} parameters is more than the kernels index",
                self.n_params()
            ));
        }
        Ok(())
    }

    pub fn pixels(&self) -> usize {
        self.grid * self.grid
    }

    /// The layers in order with their parameter offsets.
    pub fn layers(&self) -> Vec<Layer> {
        let mut out = Vec::new();
        let mut off = 0;
        let mut c_in = self.in_channels;
        for &c_out in &self.conv {
            let nw = c_out * c_in * self.kernel * self.kernel;
            out.push(Layer::Conv {
                c_in,
                c_out,
                k: self.kernel,
                w_off: off,
                b_off: off + nw,
            });
            off += nw + c_out;
            c_in = c_out;
        }
        let flat = match self.head {
            Head::Flatten => c_in * self.pixels(),
            Head::Mean => {
                out.push(Layer::Pool { c: c_in });
                c_in
            }
        };
        out.push(Layer::Dense {
            n_in: flat,
            n_out: self.hidden,
            relu: true,
            w_off: off,
            b_off: off + flat * self.hidden,
        });
        off += flat * self.hidden + self.hidden;
        out.push(Layer::Dense {
            n_in: self.hidden,
            n_out: self.classes,
            relu: false,
            w_off: off,
            b_off: off + self.hidden * self.classes,
        });
        out
    }

    pub fn n_params(&self) -> usize {
        match self.layers().last() {
            Some(Layer::Dense { b_off, n_out, .. }) => b_off + n_out,
            _ => 0,
        }
    }

    /// Named tensors (PyTorch names and shapes) and their offsets in the flat vector.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>, usize)> {
        let mut out = Vec::new();
        let mut n_dense = 0;
        for (i, l) in self.layers().into_iter().enumerate() {
            match l {
                Layer::Conv {
                    c_in,
                    c_out,
                    k,
                    w_off,
                    b_off,
                } => {
                    out.push((
                        format!("conv{}.weight", i + 1),
                        vec![c_out, c_in, k, k],
                        w_off,
                    ));
                    out.push((format!("conv{}.bias", i + 1), vec![c_out], b_off));
                }
                Layer::Dense {
                    n_in,
                    n_out,
                    w_off,
                    b_off,
                    ..
                } => {
                    n_dense += 1;
                    let j = n_dense;
                    out.push((format!("fc{j}.weight"), vec![n_out, n_in], w_off));
                    out.push((format!("fc{j}.bias"), vec![n_out], b_off));
                }
                Layer::Pool { .. } => {}
            }
        }
        out
    }

    /// Elements per sample of activation `i`: 0 the image, then the output of layer i - 1: the convolutions'
    /// outputs, the map means (`Head::Mean`), the hidden layer and the class scores.
    pub fn act_len(&self, i: usize) -> usize {
        if i == 0 {
            return self.in_channels * self.pixels();
        }
        match self.layers()[i - 1] {
            Layer::Conv { c_out, .. } => c_out * self.pixels(),
            Layer::Pool { c } => c,
            Layer::Dense { n_out, .. } => n_out,
        }
    }

    /// Number of activations (image, conv outputs, map means with `Head::Mean`, hidden, scores).
    pub fn n_acts(&self) -> usize {
        self.layers().len() + 1
    }

    /// Index of the hidden layer's activation (where dropout acts).
    pub fn hidden_act(&self) -> usize {
        self.n_acts() - 2
    }

    /// Names of the layers as in `tensors` (conv1.., pool, fc1..), in order.
    pub fn layer_names(&self) -> Vec<String> {
        let (mut nc, mut nd) = (0, 0);
        self.layers()
            .iter()
            .map(|l| match l {
                Layer::Conv { .. } => {
                    nc += 1;
                    format!("conv{nc}")
                }
                Layer::Pool { .. } => "pool".into(),
                Layer::Dense { .. } => {
                    nd += 1;
                    format!("fc{nd}")
                }
            })
            .collect()
    }

    /// What an op of this network's plans does, for profiles: the layer and the pass ("conv2 backward weight",
    /// "fc1 forward", "fc1 dropout"), or the kernel's name for the ops that belong to no layer.
    pub fn op_label(&self, op: &PlanOp) -> String {
        let names = self.layer_names();
        let name = op.kernel.name;
        let pass = match name {
            "conv2d_forward" | "dense_forward" | "mean_pool" => "forward",
            "conv2d_backward_input" | "dense_backward_input" | "mean_pool_backward" => {
                "backward input"
            }
            "conv2d_backward_weight" | "dense_backward_weight" => "backward weight",
            "relu_backward" => "backward relu",
            "dropout" => "dropout",
            _ => return name.to_string(),
        };
        // the layer's output activation (or its gradient) is the highest one each of these ops binds
        let act = op
            .bufs
            .iter()
            .filter_map(|b| match b {
                Buf::Act(i) | Buf::Grad(i) => Some(*i),
                _ => None,
            })
            .max();
        match act.and_then(|a| names.get(a.wrapping_sub(1))) {
            Some(layer) => format!("{layer} {pass}"),
            None => name.to_string(),
        }
    }

    /// He-normal weights (std sqrt(2 / fan_in)), zero biases, from a seed; stored as f32.
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut out = vec![0f32; self.n_params()];
        let mut rng = crate::rng::SplitMix64(seed ^ crate::rng::GOLDEN);
        for l in self.layers() {
            let (w_off, nw, fan_in) = match l {
                Layer::Conv {
                    c_in,
                    c_out,
                    k,
                    w_off,
                    ..
                } => (w_off, c_out * c_in * k * k, c_in * k * k),
                Layer::Dense {
                    n_in, n_out, w_off, ..
                } => (w_off, n_out * n_in, n_in),
                Layer::Pool { .. } => continue,
            };
            let std = (2.0 / fan_in as f64).sqrt();
            for v in &mut out[w_off..w_off + nw] {
                *v = rng.normal(std) as f32;
            }
        }
        out
    }
}

fn op(kernel: &'static NnKernel, p: NnParams, bufs: &[Buf]) -> PlanOp {
    PlanOp {
        kernel,
        p,
        bufs: bufs.to_vec(),
    }
}

fn layer_params(spec: &NetSpec, l: &Layer, batch: usize) -> NnParams {
    match *l {
        Layer::Conv {
            c_in,
            c_out,
            k,
            w_off,
            b_off,
        } => NnParams {
            batch: batch as u32,
            c_in: c_in as u32,
            c_out: c_out as u32,
            h: spec.grid as u32,
            w: spec.grid as u32,
            k: k as u32,
            pad: (k / 2) as u32,
            act: 1,
            w_off: w_off as u32,
            b_off: b_off as u32,
            ..Default::default()
        },
        Layer::Dense {
            n_in,
            n_out,
            relu,
            w_off,
            b_off,
        } => NnParams {
            batch: batch as u32,
            n_in: n_in as u32,
            n_out: n_out as u32,
            act: relu as u32,
            w_off: w_off as u32,
            b_off: b_off as u32,
            ..Default::default()
        },
        Layer::Pool { c } => NnParams {
            batch: batch as u32,
            c_in: c as u32,
            h: spec.grid as u32,
            w: spec.grid as u32,
            ..Default::default()
        },
    }
}

/// What a forward pass is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Dropout on with this seed.
    Train {
        seed: u32,
    },
    Eval,
}

/// Forward pass: Act(0) (the images) to Act(last) (the class scores).
pub fn forward_plan(spec: &NetSpec, batch: usize, mode: Mode) -> Vec<PlanOp> {
    let mut ops = Vec::new();
    let layers = spec.layers();
    let hidden_act = spec.hidden_act();
    for (i, l) in layers.iter().enumerate() {
        let p = layer_params(spec, l, batch);
        match l {
            Layer::Conv { .. } => ops.push(op(
                &CONV2D_FORWARD,
                p,
                &[Buf::Params, Buf::Act(i), Buf::Act(i + 1)],
            )),
            Layer::Dense { .. } => ops.push(op(
                &DENSE_FORWARD,
                p,
                &[Buf::Params, Buf::Act(i), Buf::Act(i + 1)],
            )),
            Layer::Pool { .. } => ops.push(op(&MEAN_POOL, p, &[Buf::Act(i), Buf::Act(i + 1)])),
        }
        if i + 1 == hidden_act {
            if let Mode::Train { seed } = mode {
                if spec.dropout > 0.0 {
                    ops.push(op(
                        &DROPOUT,
                        dropout_params(spec, batch, seed),
                        &[Buf::Act(i + 1)],
                    ));
                }
            }
        }
    }
    ops
}

fn dropout_params(spec: &NetSpec, batch: usize, seed: u32) -> NnParams {
    NnParams {
        n: (batch * spec.hidden) as u32,
        seed,
        p: spec.dropout as f32,
        ..Default::default()
    }
}

/// Backward pass from Grad(last) down: weight gradients into Grads when `weights`, input gradients down to
/// Grad(stop) (Grad(stop) is left as the gradient with respect to the post-ReLU activation `stop`).
pub fn backward_plan(
    spec: &NetSpec,
    batch: usize,
    mode: Mode,
    weights: bool,
    stop: usize,
) -> Vec<PlanOp> {
    let mut ops = Vec::new();
    let layers = spec.layers();
    let hidden_act = spec.hidden_act();
    for (i, l) in layers.iter().enumerate().rev() {
        // Grad(i + 1) is the gradient w.r.t. the layer's (post-dropout) output; make it pre-activation.
        let out_act = i + 1;
        if out_act == hidden_act {
            if let Mode::Train { seed } = mode {
                if spec.dropout > 0.0 {
                    ops.push(op(
                        &DROPOUT,
                        dropout_params(spec, batch, seed),
                        &[Buf::Grad(out_act)],
                    ));
                }
            }
        }
        let relu = match l {
            Layer::Conv { .. } => true,
            Layer::Pool { .. } => false,
            Layer::Dense { relu, .. } => *relu,
        };
        if relu {
            let n = (batch * spec.act_len(out_act)) as u32;
            ops.push(op(
                &RELU_BACKWARD,
                NnParams {
                    n,
                    ..Default::default()
                },
                &[Buf::Act(out_act), Buf::Grad(out_act)],
            ));
        }
        let p = layer_params(spec, l, batch);
        let (kw, ki) = match l {
            Layer::Conv { .. } => (&CONV2D_BACKWARD_WEIGHT, &CONV2D_BACKWARD_INPUT),
            Layer::Dense { .. } => (&DENSE_BACKWARD_WEIGHT, &DENSE_BACKWARD_INPUT),
            Layer::Pool { .. } => {
                // no parameters; never the first layer
                ops.push(op(
                    &MEAN_POOL_BACKWARD,
                    p,
                    &[Buf::Grad(out_act), Buf::Grad(i)],
                ));
                if i == stop {
                    break;
                }
                continue;
            }
        };
        if weights {
            ops.push(op(kw, p, &[Buf::Act(i), Buf::Grad(out_act), Buf::Grads]));
        }
        // The image's own gradient is never needed.
        if i == 0 {
            break;
        }
        ops.push(op(ki, p, &[Buf::Params, Buf::Grad(out_act), Buf::Grad(i)]));
        if i == stop {
            break;
        }
    }
    ops
}

/// One training step: forward with dropout, loss and its gradient, backward, Adam step `t` (1-based).
pub fn train_plan(spec: &NetSpec, batch: usize, seed: u32, adam: &AdamSpec, t: u64) -> Vec<PlanOp> {
    let mode = Mode::Train { seed };
    let last = spec.n_acts() - 1;
    let mut ops = forward_plan(spec, batch, mode);
    ops.push(op(
        &SOFTMAX_XENT,
        NnParams {
            batch: batch as u32,
            n_out: spec.classes as u32,
            ..Default::default()
        },
        &[Buf::Act(last), Buf::Labels, Buf::Loss, Buf::Grad(last)],
    ));
    ops.extend(backward_plan(spec, batch, mode, true, 0));
    ops.push(op(
        &ADAM,
        adam.params(spec.n_params(), t),
        &[Buf::Grads, Buf::Params, Buf::AdamM, Buf::AdamV],
    ));
    ops
}

/// Grad-CAM after an eval forward pass, Grad(last) holding dy^C/dscores (one-hot rows): input gradients down to
/// the last convolution's output, then `gradcam` into Maps.
pub fn gradcam_plan(spec: &NetSpec, batch: usize) -> Vec<PlanOp> {
    let nc = spec.conv.len();
    let mut ops = backward_plan(spec, batch, Mode::Eval, false, nc);
    // backward_plan stops after producing Grad(nc) from the first dense layer; the conv layer nc's own ReLU is
    // not applied: Grad-CAM wants the gradient w.r.t. the post-ReLU maps A.
    ops.push(op(
        &GRADCAM,
        NnParams {
            batch: batch as u32,
            c_in: spec.conv[nc - 1] as u32,
            h: spec.grid as u32,
            w: spec.grid as u32,
            ..Default::default()
        },
        &[Buf::Act(nc), Buf::Grad(nc), Buf::Maps],
    ));
    ops
}
