//! Ridge regression on standardized features for several targets at once, its penalty chosen per target by the
//! mean squared error on a validation set (Alkemade et al. 2022's "linear regression" baseline).

use crate::error::{Error, Result};

/// Rows of features and targets: `x` [R, F] and `y` [R, T], row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

impl Rows {
    pub fn len(&self, f: usize) -> usize {
        self.x.len().checked_div(f).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

/// A fitted ridge model: per target, weights on the standardized features and an intercept.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    pub mean: Vec<f64>,
    /// Feature scale (1 for a feature constant over the training rows, which then carries no weight).
    pub scale: Vec<f64>,
    /// [T][F]
    pub weights: Vec<Vec<f64>>,
    /// [T]
    pub intercept: Vec<f64>,
    /// [T] the penalty chosen for each target.
    pub lambda: Vec<f64>,
}

impl Ridge {
    /// Minimises mean_r (y_rt - b_t - w_t . z_r)^2 + lambda |w_t|^2 on `train` (z: features standardized by the
    /// training rows' mean and deviation) for each lambda of `lambdas`, and keeps per target the one with the
    /// smallest mean squared error on `validation` (the largest lambda among equals).
    pub fn fit(
        train: &Rows,
        validation: &Rows,
        f: usize,
        t: usize,
        lambdas: &[f64],
    ) -> Result<Ridge> {
        let r = train.len(f);
        if r < 2 || validation.is_empty() {
            return Err(Error::Input(format!(
                "ridge: {r} training rows and {} validation rows; both parts need particles",
                validation.len(f)
            )));
        }
        let mean: Vec<f64> = (0..f)
            .map(|j| (0..r).map(|k| train.x[k * f + j]).sum::<f64>() / r as f64)
            .collect();
        let scale: Vec<f64> = (0..f)
            .map(|j| {
                let v = (0..r)
                    .map(|k| (train.x[k * f + j] - mean[j]).powi(2))
                    .sum::<f64>()
                    / r as f64;
                if v > 0.0 {
                    v.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let z = |x: &[f64]| -> Vec<f64> {
            x.iter()
                .enumerate()
                .map(|(k, v)| (v - mean[k % f]) / scale[k % f])
                .collect()
        };
        let (zt, zv) = (z(&train.x), z(&validation.x));
        let ymean: Vec<f64> = (0..t)
            .map(|j| (0..r).map(|k| train.y[k * t + j]).sum::<f64>() / r as f64)
            .collect();
        // normal equations of the centred problem: G = Z'Z / R, B = Z'(y - ybar) / R
        let mut g = vec![0.0; f * f];
        let mut b = vec![0.0; f * t];
        for k in 0..r {
            let zr = &zt[k * f..(k + 1) * f];
            for a in 0..f {
                for c in a..f {
                    g[a * f + c] += zr[a] * zr[c];
                }
                for j in 0..t {
                    b[a * t + j] += zr[a] * (train.y[k * t + j] - ymean[j]);
                }
            }
        }
        for a in 0..f {
            for c in 0..a {
                g[a * f + c] = g[c * f + a];
            }
        }
        g.iter_mut().for_each(|x| *x /= r as f64);
        b.iter_mut().for_each(|x| *x /= r as f64);
        let rv = validation.len(f);
        let mut best: Vec<Option<(f64, f64, Vec<f64>)>> = vec![None; t];
        for &lambda in lambdas {
            let mut a = g.clone();
            for d in 0..f {
                a[d * f + d] += lambda;
            }
            let w = cholesky_solve(&a, &b, f, t).ok_or_else(|| {
                Error::Input(format!(
                    "ridge: the penalty {lambda:e} leaves the normal equations singular; give penalties > 0"
                ))
            })?;
            for j in 0..t {
                let mse = (0..rv)
                    .map(|k| {
                        let p: f64 = (0..f).map(|c| zv[k * f + c] * w[c * t + j]).sum::<f64>();
                        (validation.y[k * t + j] - ymean[j] - p).powi(2)
                    })
                    .sum::<f64>()
                    / rv as f64;
                if best[j]
                    .as_ref()
                    .is_none_or(|(m, l, _)| mse < *m || (mse == *m && lambda > *l))
                {
                    best[j] = Some((mse, lambda, (0..f).map(|c| w[c * t + j]).collect()));
                }
            }
        }
        let mut weights = Vec::with_capacity(t);
        let mut lambda = Vec::with_capacity(t);
        for bj in best {
            let (_, l, w) =
                bj.ok_or_else(|| Error::Input("ridge: give at least one penalty".into()))?;
            weights.push(w);
            lambda.push(l);
        }
        Ok(Ridge {
            mean,
            scale,
            weights,
            intercept: ymean,
            lambda,
        })
    }

    /// Predictions [R, T] for features `x` [R, F].
    pub fn predict(&self, x: &[f64]) -> Vec<f64> {
        let f = self.mean.len();
        let t = self.weights.len();
        let r = x.len().checked_div(f).unwrap_or(0);
        let mut out = Vec::with_capacity(r * t);
        for k in 0..r {
            let z: Vec<f64> = (0..f)
                .map(|c| (x[k * f + c] - self.mean[c]) / self.scale[c])
                .collect();
            for j in 0..t {
                out.push(
                    self.intercept[j]
                        + z.iter()
                            .zip(&self.weights[j])
                            .map(|(a, b)| a * b)
                            .sum::<f64>(),
                );
            }
        }
        out
    }
}

/// Solves A X = B for symmetric positive definite A [F, F] and B [F, T] (row-major); `None` if A is not positive
/// definite.
fn cholesky_solve(a: &[f64], b: &[f64], f: usize, t: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; f * f];
    for i in 0..f {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * f + k] * l[j * f + k]).sum();
            if i == j {
                let d = a[i * f + i] - s;
                if d.is_nan() || d <= 0.0 {
                    return None;
                }
                l[i * f + i] = d.sqrt();
            } else {
                l[i * f + j] = (a[i * f + j] - s) / l[j * f + j];
            }
        }
    }
    let mut x = b.to_vec();
    for c in 0..t {
        for i in 0..f {
            let s: f64 = (0..i).map(|k| l[i * f + k] * x[k * t + c]).sum();
            x[i * t + c] = (x[i * t + c] - s) / l[i * f + i];
        }
        for i in (0..f).rev() {
            let s: f64 = (i + 1..f).map(|k| l[k * f + i] * x[k * t + c]).sum();
            x[i * t + c] = (x[i * t + c] - s) / l[i * f + i];
        }
    }
    Some(x)
}
