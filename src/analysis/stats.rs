//! Correlation coefficients over particles (Pearson, Spearman with average ranks), means and standard
//! deviations over configurations, and the kernel density estimate behind the violin plots.

/// Pearson's correlation coefficient; NaN when either field is constant (the coefficient is undefined).
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for k in 0..n {
        let (a, b) = (x[k] - mx, y[k] - my);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Ranks 1..n, ties sharing the average of the ranks they span.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut k = 0;
    while k < order.len() {
        let mut e = k + 1;
        while e < order.len() && x[order[e]] == x[order[k]] {
            e += 1;
        }
        // Positions k..e (0-based) hold ranks k+1..e; their average is (k + 1 + e) / 2.
        let avg = 0.5 * (k + 1 + e) as f64;
        for &i in &order[k..e] {
            r[i] = avg;
        }
        k = e;
    }
    r
}

/// Spearman's rank correlation: Pearson of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Mean and sample standard deviation (n - 1) of the finite values, and how many there were.
pub fn mean_std(x: &[f64]) -> (f64, f64, usize) {
    let v: Vec<f64> = x.iter().copied().filter(|a| a.is_finite()).collect();
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, 0);
    }
    let m = v.iter().sum::<f64>() / n as f64;
    let s = if n > 1 {
        (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    (m, s, n)
}

/// Gaussian kernel density estimate of the finite values at `at`, with Silverman's bandwidth (floored so
/// that identical values still give a visible bump).
pub fn kde(x: &[f64], at: &[f64]) -> Vec<f64> {
    let v: Vec<f64> = x.iter().copied().filter(|a| a.is_finite()).collect();
    if v.is_empty() {
        return vec![0.0; at.len()];
    }
    let (_, s, n) = mean_std(&v);
    let h = (1.06 * s * (n as f64).powf(-0.2)).max(0.01);
    let norm = 1.0 / (n as f64 * h * (2.0 * std::f64::consts::PI).sqrt());
    at.iter()
        .map(|&t| {
            v.iter()
                .map(|&a| (-0.5 * ((t - a) / h).powi(2)).exp())
                .sum::<f64>()
                * norm
        })
        .collect()
}
