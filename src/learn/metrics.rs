//! How well a model does: the two-class softmax and cross-entropy, accuracy per class, the confusion matrix, ROC
//! AUC and its standard error for a classifier; mean squared error and Pearson per target for a regression.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::analysis::stats::pearson;
use crate::domain::Class;
use crate::io::json::nan_as_null;

/// The two class scores (liquid, glass) shifted by their maximum, so that the exponentials cannot overflow.
struct Shifted {
    max: f64,
    exp: [f64; 2],
}

fn shifted(logits: &[f64]) -> Shifted {
    let max = logits[0].max(logits[1]);
    Shifted {
        max,
        exp: [(logits[0] - max).exp(), (logits[1] - max).exp()],
    }
}

/// The glass probability of two class scores (liquid, glass): their softmax's second component.
pub fn p_glass(logits: &[f64]) -> f64 {
    let s = shifted(logits);
    s.exp[1] / (s.exp[0] + s.exp[1])
}

/// The cross-entropy of two class scores against class `y` (0 liquid, 1 glass).
pub fn cross_entropy(logits: &[f64], y: u32) -> f64 {
    let s = shifted(logits);
    s.max + (s.exp[0] + s.exp[1]).ln() - logits[y as usize]
}

/// The class a pair of scores predicts (the larger; liquid on a tie), as its score index.
pub fn predicted(logits: &[f64]) -> usize {
    usize::from(logits[1] > logits[0])
}

/// Classification quality on one split.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evaluation {
    pub n: usize,
    /// Accuracy per class name, and "overall"; NaN (`null` in JSON) for a class the split does not hold.
    #[serde(deserialize_with = "nan_as_null")]
    #[schemars(with = "BTreeMap<String, Option<f64>>")]
    pub accuracy: BTreeMap<String, f64>,
    /// Area under the ROC curve of the glass probability (glass positive); NaN (`null` in JSON) when the split
    /// holds one class only.
    #[serde(deserialize_with = "nan_as_null")]
    #[schemars(with = "Option<f64>")]
    pub roc_auc: f64,
    /// Rows: true class, columns: predicted class, in `labels` order.
    pub confusion: Vec<Vec<usize>>,
    pub labels: Vec<String>,
    /// NaN (`null` in JSON) on an empty split.
    #[serde(deserialize_with = "nan_as_null")]
    #[schemars(with = "Option<f64>")]
    pub loss: f64,
}

impl Evaluation {
    /// Accuracy over both classes.
    pub fn overall(&self) -> f64 {
        self.accuracy["overall"]
    }

    /// Accuracy of one class (NaN when the split does not hold it).
    pub fn of(&self, class: Class) -> f64 {
        self.accuracy.get(class.name()).copied().unwrap_or(f64::NAN)
    }

    /// Test configurations per class (liquid, glass).
    pub fn counts(&self) -> [usize; 2] {
        [
            self.confusion[0].iter().sum(),
            self.confusion[1].iter().sum(),
        ]
    }

    /// The standard error of `roc_auc` from the class sizes (Hanley & McNeil 1982).
    pub fn auc_standard_error(&self) -> f64 {
        let [liquid, glass] = self.counts();
        auc_standard_error(self.roc_auc, glass, liquid)
    }
}

/// Accuracy per class, AUC, confusion matrix and mean loss of class scores against labels.
pub fn evaluate(logits: &[f64], labels: &[u32]) -> Evaluation {
    let mut confusion = vec![vec![0usize; 2]; 2];
    let mut scores = Vec::with_capacity(labels.len());
    let mut loss = 0.0;
    for (l, &y) in logits.chunks(2).zip(labels) {
        confusion[y as usize][predicted(l)] += 1;
        scores.push(p_glass(l));
        loss += cross_entropy(l, y);
    }
    let mut accuracy = BTreeMap::new();
    for (c, class) in Class::BOTH.iter().enumerate() {
        let total: usize = confusion[c].iter().sum();
        accuracy.insert(
            class.name().to_string(),
            if total == 0 {
                f64::NAN
            } else {
                confusion[c][c] as f64 / total as f64
            },
        );
    }
    let n = labels.len();
    accuracy.insert(
        "overall".into(),
        (confusion[0][0] + confusion[1][1]) as f64 / n.max(1) as f64,
    );
    Evaluation {
        n,
        accuracy,
        roc_auc: roc_auc(&scores, labels),
        confusion,
        labels: Class::BOTH.iter().map(|c| c.name().to_string()).collect(),
        loss: loss / n.max(1) as f64,
    }
}

/// Correct predictions among class scores against labels.
pub fn correct(logits: &[f64], labels: &[u32]) -> usize {
    logits
        .chunks(2)
        .zip(labels)
        .filter(|(l, &y)| predicted(l) == y as usize)
        .count()
}

/// ROC AUC by ranks (Mann-Whitney U), ties counted half; NaN when a class is absent.
pub fn roc_auc(scores: &[f64], labels: &[u32]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let n1 = labels.iter().filter(|&&l| l == 1).count() as f64;
    let n0 = labels.len() as f64 - n1;
    if n1 == 0.0 || n0 == 0.0 {
        return f64::NAN;
    }
    let r1: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == 1)
        .map(|(r, _)| r)
        .sum();
    (r1 - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)
}

/// The standard error of a ROC AUC from `n_pos` positives and `n_neg` negatives (Hanley & McNeil 1982), the
/// yardstick for "near 0.5" on a small test set.
pub fn auc_standard_error(auc: f64, n_pos: usize, n_neg: usize) -> f64 {
    let (p, n) = (n_pos as f64, n_neg as f64);
    if p == 0.0 || n == 0.0 || !auc.is_finite() {
        return f64::NAN;
    }
    let q1 = auc / (2.0 - auc);
    let q2 = 2.0 * auc * auc / (1.0 + auc);
    ((auc * (1.0 - auc) + (p - 1.0) * (q1 - auc * auc) + (n - 1.0) * (q2 - auc * auc)) / (p * n))
        .max(0.0)
        .sqrt()
}

/// Regression quality on one split: `targets` values per sample (for example a particle's propensity at several
/// times), compared target by target.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegressionEvaluation {
    pub n: usize,
    /// Mean squared error over every sample and target; NaN (`null`) on an empty split.
    #[serde(deserialize_with = "nan_as_null")]
    #[schemars(with = "Option<f64>")]
    pub mse: f64,
    /// Pearson correlation of prediction and target, per target; NaN (`null`) where either is constant.
    #[serde(deserialize_with = "nan_as_null")]
    #[schemars(with = "Vec<Option<f64>>")]
    pub pearson: Vec<f64>,
}

impl RegressionEvaluation {
    /// The mean of the per-target Pearson correlations (NaN if any is undefined).
    pub fn mean_pearson(&self) -> f64 {
        self.pearson.iter().sum::<f64>() / self.pearson.len().max(1) as f64
    }
}

/// MSE and Pearson per target of `outputs` against `targets`, both [samples, targets] row-major.
pub fn evaluate_regression(
    outputs: &[f64],
    targets: &[f64],
    per_sample: usize,
) -> RegressionEvaluation {
    let per = per_sample.max(1);
    let n = targets.len() / per;
    let mse = outputs
        .iter()
        .zip(targets)
        .map(|(o, t)| (o - t) * (o - t))
        .sum::<f64>()
        / targets.len().max(1) as f64;
    let column =
        |v: &[f64], j: usize| -> Vec<f64> { v.iter().skip(j).step_by(per).copied().collect() };
    RegressionEvaluation {
        n,
        mse: if targets.is_empty() { f64::NAN } else { mse },
        pearson: (0..per)
            .map(|j| pearson(&column(outputs, j), &column(targets, j)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_metrics_written_as_null_read_back_as_nan() {
        let e = Evaluation {
            n: 2,
            accuracy: [("glass".to_string(), 1.0), ("liquid".to_string(), f64::NAN)].into(),
            roc_auc: roc_auc(&[0.2, 0.9], &[1, 1]),
            confusion: vec![vec![0, 0], vec![0, 2]],
            labels: vec!["liquid".into(), "glass".into()],
            loss: 0.1,
        };
        let text = serde_json::to_string(&e).expect("serialise");
        assert!(
            text.contains("\"roc_auc\":null") && text.contains("\"liquid\":null"),
            "{text}"
        );
        let back: Evaluation =
            serde_json::from_str(&text).expect("a metrics file with null reads back");
        assert!(back.roc_auc.is_nan() && back.accuracy["liquid"].is_nan());
        assert_eq!(back.accuracy["glass"], 1.0);
        assert_eq!(back.loss, 0.1);
    }

    #[test]
    fn softmax_and_cross_entropy_agree_and_do_not_overflow() {
        let l = [1000.0, 1001.0];
        let p = p_glass(&l);
        assert!((p - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-15);
        assert!((cross_entropy(&l, 1) + p.ln()).abs() < 1e-12);
        assert!((cross_entropy(&l, 0) + (1.0 - p).ln()).abs() < 1e-12);
        assert_eq!((predicted(&[0.0, 0.0]), predicted(&[0.0, 1.0])), (0, 1));
        let e = evaluate(&[0.0, 1.0, 2.0, 0.0, 0.0, 3.0], &[1, 0, 0]);
        assert_eq!(e.confusion, vec![vec![1, 1], vec![0, 1]]);
        assert_eq!(e.counts(), [2, 1]);
        assert_eq!(correct(&[0.0, 1.0, 2.0, 0.0, 0.0, 3.0], &[1, 0, 0]), 2);
    }

    #[test]
    fn auc_standard_error_matches_hanley_mcneil() {
        // Hanley & McNeil (1982), Table 1 style check: AUC 0.5 with 10 + 10 gives sqrt((0.25 + 9 (1/3 - 1/4) +
        // 9 (1/3 - 1/4)) / 100)
        let want = ((0.25 + 18.0 * (1.0 / 3.0 - 0.25)) / 100.0f64).sqrt();
        assert!((auc_standard_error(0.5, 10, 10) - want).abs() < 1e-12);
        assert_eq!(auc_standard_error(1.0, 10, 10), 0.0);
        assert!(auc_standard_error(0.5, 0, 10).is_nan());
        assert!(auc_standard_error(0.9, 50, 50) < auc_standard_error(0.9, 10, 10));
    }

    #[test]
    fn regression_metrics_per_target() {
        // two targets: the first predicted exactly, the second anti-correlated
        let targets = [1.0, 0.0, 2.0, 1.0, 3.0, 2.0];
        let outputs = [1.0, 2.0, 2.0, 1.0, 3.0, 0.0];
        let e = evaluate_regression(&outputs, &targets, 2);
        assert_eq!(e.n, 3);
        assert!((e.pearson[0] - 1.0).abs() < 1e-12 && (e.pearson[1] + 1.0).abs() < 1e-12);
        assert!((e.mse - 8.0 / 6.0).abs() < 1e-12);
        assert!(evaluate_regression(&[], &[], 2).mse.is_nan());
    }
}
