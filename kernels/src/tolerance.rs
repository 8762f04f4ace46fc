//! Named tolerances for GPU-vs-CPU comparisons: |a - b| <= max(abs, rel * max(|a|, |b|)).

#[derive(Clone, Copy, Debug)]
pub struct Tolerance {
    pub abs: f64,
    pub rel: f64,
}

impl Tolerance {
    /// f32 arithmetic against an f64 reference after a handful of operations.
    pub const F32_TIGHT: Tolerance = Tolerance {
        abs: 1e-5,
        rel: 1e-5,
    };
    /// f32 sums over tens to thousands of terms (forces, energies, reductions).
    pub const F32_SUM: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-4,
    };
    /// f32 trajectories over a few steps, or long reductions.
    pub const F32_LOOSE: Tolerance = Tolerance {
        abs: 1e-3,
        rel: 1e-3,
    };

    /// A whole f32 network against its f64 twin: scores and losses after several layers of sums over up to a few
    /// hundred thousand terms.
    pub const F32_NET: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-4,
    };
    /// An f32 network's gradients and Grad-CAM maps against its f64 twin, with `abs` a fraction of the tensor's
    /// largest element (`relative_to`): each element is a sum over the batch and the pixels, and a tensor's small
    /// elements are differences of large terms.
    pub const F32_NET_GRAD: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-3,
    };
    /// Parameters after a few Adam steps (lr 1e-3) in f32 against f64: a tenth of a step, since the rounding of a
    /// tiny gradient may change the size of its step.
    pub const F32_ADAM: Tolerance = Tolerance {
        abs: 1e-4,
        rel: 1e-4,
    };

    /// This tolerance with `abs` in units of `scale` (a tensor's largest element).
    pub fn relative_to(self, scale: f64) -> Tolerance {
        Tolerance {
            abs: self.abs * scale,
            rel: self.rel,
        }
    }

    pub fn accepts(&self, a: f64, b: f64) -> bool {
        let bound = self.abs.max(self.rel * a.abs().max(b.abs()));
        (a - b).abs() <= bound
    }
}

/// Checks `actual` against `expected` element by element; the error names the worst element.
pub fn compare(
    what: &str,
    actual: &[f64],
    expected: &[f64],
    tol: Tolerance,
) -> std::result::Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!(
            "{what}: length {} but expected {}",
            actual.len(),
            expected.len()
        ));
    }
    let mut worst: Option<(usize, f64)> = None;
    let mut failures = 0usize;
    for (i, (&a, &b)) in actual.iter().zip(expected).enumerate() {
        if !tol.accepts(a, b) || a.is_nan() != b.is_nan() {
            failures += 1;
            let excess = (a - b).abs() / tol.abs.max(tol.rel * a.abs().max(b.abs()));
            if worst.is_none_or(|(_, w)| excess > w || excess.is_nan()) {
                worst = Some((i, excess));
            }
        }
    }
    match worst {
        None => Ok(()),
        Some((i, _)) => Err(format!(
            "{what}: {failures} of {} elements out of tolerance (abs {:e}, rel {:e}); worst at index {i}: \
             actual {:e}, expected {:e}",
            actual.len(),
            tol.abs,
            tol.rel,
            actual[i],
            expected[i]
        )),
    }
}

/// Panics with `compare`'s message when the slices differ.
pub fn assert_close(what: &str, actual: &[f64], expected: &[f64], tol: Tolerance) {
    if let Err(msg) = compare(what, actual, expected, tol) {
        panic!("{msg}");
    }
}
