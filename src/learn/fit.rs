//! The one epoch loop of every network: shuffle, steps, the epoch's training numbers, validation, the best epoch
//! by validation and a progress event per epoch. What a network does in a step is its `Learner`; what "better"
//! means and what is logged is the task's `Objective` (a classification: accuracy, then loss; a regression: the
//! mean Pearson correlation per target, then the squared error).

use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::metrics::{evaluate, evaluate_regression, Evaluation, RegressionEvaluation};
use super::split::{batch_seed, epoch_seed, shuffle, Sets};
use crate::error::{Error, Result};
use crate::events::{Ctx, Event};
use crate::io::dataset::Dataset;
use crate::io::json::nan_as_null;

/// The sums of one epoch's training steps: loss summed over the samples, and the objective's score summed over
/// them (correct predictions for a classifier).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    pub loss: f64,
    pub score: f64,
}

/// Where a loss stopped being finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Divergence {
    /// The training loss of epoch `epoch`.
    Training { loss: f64, epoch: usize },
    /// The validation loss after epoch `epoch`.
    Validation { loss: f64, epoch: usize },
}

impl Divergence {
    /// Which loss became what, and when, for a message: `whose` names the network ("the MPNN's ", or "").
    pub fn describe(&self, whose: &str) -> String {
        match *self {
            Divergence::Training { loss, epoch } => {
                format!("{whose}training loss became {loss} in epoch {epoch}")
            }
            Divergence::Validation { loss, epoch } => {
                format!("{whose}validation loss became {loss} after epoch {epoch}")
            }
        }
    }
}

/// One optimiser step's share of an epoch.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// 1-based.
    pub epoch: usize,
    /// 0-based within the epoch.
    pub index: usize,
    /// Position of `samples` in the epoch's order.
    pub offset: usize,
    /// Training samples (indices into the training part), in order.
    pub samples: &'a [usize],
    /// The dropout seed of this batch.
    pub seed: u32,
}

/// A network being trained, as the epoch loop drives it.
pub trait Learner {
    /// Starts epoch `epoch` (1-based) with the training samples in `order`.
    fn begin_epoch(&mut self, epoch: usize, order: &[usize]) -> Result<()>;
    /// One optimiser step on a batch.
    fn step(&mut self, batch: &Batch) -> Result<()>;
    /// The epoch's training sums (and a fresh tally for the next).
    fn end_epoch(&mut self) -> Result<Tally>;
    /// Outputs on the validation inputs with the current parameters.
    fn validation_outputs(&mut self) -> Result<Vec<f64>>;
    /// The current parameters, as the model file stores them.
    fn params(&mut self) -> Result<Vec<f32>>;
    /// The error for a loss that is no longer finite: training stops there and no model is written.
    fn diverged(&self, d: Divergence) -> Error;
}

/// What a network is trained to do: how its outputs are scored, what an epoch's log holds and which epoch is
/// better.
pub trait Objective {
    /// The targets of a part of the data set (class labels, per-sample values).
    type Targets: ?Sized;
    /// Quality on a part (`metrics.json` `validation`, `test`).
    type Eval: Clone + std::fmt::Debug + Serialize + DeserializeOwned;
    /// One epoch's numbers (`metrics.json` `history`).
    type Log: Clone + std::fmt::Debug + Serialize + DeserializeOwned;

    fn evaluate(&self, outputs: &[f64], targets: &Self::Targets) -> Self::Eval;
    /// The loss of an evaluation (the loop stops on a non-finite one).
    fn loss(eval: &Self::Eval) -> f64;
    /// The log of epoch `epoch` from its training sums over `n_train` samples and its validation.
    fn log(&self, epoch: usize, tally: Tally, n_train: usize, validation: &Self::Eval)
        -> Self::Log;
    /// The line shown for an epoch.
    fn line(&self, log: &Self::Log, epochs: usize) -> String;
    /// Whether `candidate` beats the best epoch so far.
    fn better(&self, candidate: &Self::Log, best: &Self::Log) -> bool;
    /// The validation number the model file records for the kept epoch.
    fn validation_value(log: &Self::Log) -> f64;
}

/// Telling liquids (label 0) from glasses (label 1) by two class scores per sample.
#[derive(Clone, Copy, Debug, Default)]
pub struct Classification;

/// One epoch of a classifier.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// NaN (`null` in JSON) on an empty validation split.
    #[serde(deserialize_with = "nan_as_null")]
    pub validation_loss: f64,
    #[serde(deserialize_with = "nan_as_null")]
    pub validation_accuracy: f64,
}

impl Objective for Classification {
    type Targets = [u32];
    type Eval = Evaluation;
    type Log = EpochLog;

    fn evaluate(&self, outputs: &[f64], labels: &[u32]) -> Evaluation {
        evaluate(outputs, labels)
    }

    fn loss(eval: &Evaluation) -> f64 {
        eval.loss
    }

    fn log(&self, epoch: usize, tally: Tally, n_train: usize, val: &Evaluation) -> EpochLog {
        EpochLog {
            epoch,
            train_loss: tally.loss / n_train.max(1) as f64,
            train_accuracy: tally.score / n_train.max(1) as f64,
            validation_loss: val.loss,
            validation_accuracy: val.overall(),
        }
    }

    fn line(&self, log: &EpochLog, epochs: usize) -> String {
        format!(
            "epoch {}/{epochs}: loss {:.4} acc {:.3} | val loss {:.4} acc {:.3}",
            log.epoch,
            log.train_loss,
            log.train_accuracy,
            log.validation_loss,
            log.validation_accuracy
        )
    }

    /// Higher validation accuracy; at equal accuracy, lower validation loss.
    fn better(&self, c: &EpochLog, best: &EpochLog) -> bool {
        c.validation_accuracy > best.validation_accuracy
            || (c.validation_accuracy == best.validation_accuracy
                && c.validation_loss < best.validation_loss)
    }

    fn validation_value(log: &EpochLog) -> f64 {
        log.validation_accuracy
    }
}

/// Predicting `targets` values per sample (for example a particle's propensity at several times) with a squared
/// error loss.
#[derive(Clone, Copy, Debug)]
pub struct Regression {
    pub targets: usize,
}

/// One epoch of a regression.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegressionLog {
    pub epoch: usize,
    pub train_mse: f64,
    #[serde(deserialize_with = "nan_as_null")]
    pub validation_mse: f64,
    /// The mean over targets of the validation Pearson correlation.
    #[serde(deserialize_with = "nan_as_null")]
    pub validation_pearson: f64,
}

impl Objective for Regression {
    type Targets = [f64];
    type Eval = RegressionEvaluation;
    type Log = RegressionLog;

    fn evaluate(&self, outputs: &[f64], targets: &[f64]) -> RegressionEvaluation {
        evaluate_regression(outputs, targets, self.targets)
    }

    fn loss(eval: &RegressionEvaluation) -> f64 {
        eval.mse
    }

    fn log(
        &self,
        epoch: usize,
        tally: Tally,
        n_train: usize,
        val: &RegressionEvaluation,
    ) -> RegressionLog {
        RegressionLog {
            epoch,
            train_mse: tally.loss / (n_train * self.targets).max(1) as f64,
            validation_mse: val.mse,
            validation_pearson: val.mean_pearson(),
        }
    }

    fn line(&self, log: &RegressionLog, epochs: usize) -> String {
        format!(
            "epoch {}/{epochs}: mse {:.4e} | val mse {:.4e} pearson {:.3}",
            log.epoch, log.train_mse, log.validation_mse, log.validation_pearson
        )
    }

    /// Higher mean validation Pearson correlation; at an equal one, lower validation error. An undefined
    /// correlation never wins over a defined one.
    fn better(&self, c: &RegressionLog, best: &RegressionLog) -> bool {
        match (
            c.validation_pearson.is_nan(),
            best.validation_pearson.is_nan(),
        ) {
            (false, true) => true,
            (true, false) => false,
            _ => {
                c.validation_pearson > best.validation_pearson
                    || (c.validation_pearson == best.validation_pearson
                        && c.validation_mse < best.validation_mse)
            }
        }
    }

    fn validation_value(log: &RegressionLog) -> f64 {
        log.validation_pearson
    }
}

/// The loop's settings.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub epochs: usize,
    pub batch: usize,
    /// The model's seed: shuffles and dropout seeds derive from it.
    pub seed: u64,
    /// Training samples.
    pub n_train: usize,
}

/// What the loop kept.
#[derive(Clone, Debug)]
pub struct Fitted<L> {
    pub history: Vec<L>,
    /// The best epoch (1-based) and its log; `None` after zero epochs.
    pub best: Option<(usize, L)>,
    /// The best epoch's parameters (after zero epochs: the initial ones).
    pub params: Vec<f32>,
    /// Training samples stepped over, and the loop's wall time.
    pub seen: usize,
    pub seconds: f64,
}

impl<L> Fitted<L> {
    /// The fits of the members of an ensemble as one: every member's history one after the other, the first
    /// member's best epoch, the members' parameters one after the other, their samples and times summed.
    pub fn joined(fits: Vec<Fitted<L>>) -> Fitted<L> {
        let mut it = fits.into_iter();
        let mut out = it.next().expect("an ensemble has at least one member");
        for f in it {
            out.history.extend(f.history);
            out.params.extend(f.params);
            out.seen += f.seen;
            out.seconds += f.seconds;
        }
        out
    }

    pub fn best_epoch(&self) -> usize {
        self.best.as_ref().map_or(0, |b| b.0)
    }

    /// The kept epoch's validation value under objective `O` (NaN after zero epochs).
    pub fn validation_value<O: Objective<Log = L>>(&self) -> f64 {
        self.best
            .as_ref()
            .map_or(f64::NAN, |b| O::validation_value(&b.1))
    }
}

/// Trains `learner` for `plan.epochs` epochs: each epoch shuffles the training samples with the seed's epoch
/// seed, steps through them in batches (checking `ctx`'s cancel token before each), reads the epoch's training
/// sums, evaluates on `validation`, logs a line and an `Advance`, and keeps the parameters of the best epoch.
pub fn fit<O: Objective, L: Learner + ?Sized>(
    learner: &mut L,
    objective: &O,
    validation: &O::Targets,
    n_validation: usize,
    plan: &Plan,
    ctx: Ctx,
) -> Result<Fitted<O::Log>> {
    ctx.observer.event(Event::Begin {
        what: "epochs",
        total: plan.epochs as u64,
    });
    let mut order: Vec<usize> = (0..plan.n_train).collect();
    let mut history = Vec::new();
    let mut best: Option<(usize, O::Log, Vec<f32>)> = None;
    let mut seen = 0usize;
    let start = Instant::now();
    for epoch in 1..=plan.epochs {
        shuffle(&mut order, epoch_seed(plan.seed, epoch));
        learner.begin_epoch(epoch, &order)?;
        for (index, samples) in order.chunks(plan.batch.max(1)).enumerate() {
            ctx.cancel.check()?;
            learner.step(&Batch {
                epoch,
                index,
                offset: index * plan.batch,
                samples,
                seed: batch_seed(plan.seed, epoch, index),
            })?;
            seen += samples.len();
        }
        let tally = learner.end_epoch()?;
        if !tally.loss.is_finite() {
            return Err(learner.diverged(Divergence::Training {
                loss: tally.loss,
                epoch,
            }));
        }
        let val = objective.evaluate(&learner.validation_outputs()?, validation);
        if !O::loss(&val).is_finite() && n_validation > 0 {
            return Err(learner.diverged(Divergence::Validation {
                loss: O::loss(&val),
                epoch,
            }));
        }
        let log = objective.log(epoch, tally, plan.n_train, &val);
        ctx.note(&objective.line(&log, plan.epochs));
        ctx.observer.event(Event::Advance(1));
        if best.as_ref().is_none_or(|b| objective.better(&log, &b.1)) {
            best = Some((epoch, log.clone(), learner.params()?));
        }
        history.push(log);
    }
    ctx.observer.event(Event::End);
    let seconds = start.elapsed().as_secs_f64();
    let (best, params) = match best {
        Some((epoch, log, params)) => (Some((epoch, log)), params),
        None => (None, learner.params()?),
    };
    Ok(Fitted {
        history,
        best,
        params,
        seen,
        seconds,
    })
}

/// `fit` of a classifier on the training part of `sets`, validated on its validation part, for `epochs` epochs
/// in batches of `batch` drawn from `seed`.
pub fn fit_classifier<L: Learner + ?Sized>(
    learner: &mut L,
    sets: &Sets,
    (epochs, batch, seed): (usize, usize, u64),
    ctx: Ctx,
) -> Result<Fitted<EpochLog>> {
    let plan = Plan {
        epochs,
        batch,
        seed,
        n_train: sets.train.len(),
    };
    let labels = &sets.validation.labels;
    fit(learner, &Classification, labels, labels.len(), &plan, ctx)
}

/// `metrics.json` of a model directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics<E = Evaluation, L = EpochLog> {
    pub data: String,
    /// Where the network trained (see `Model::backend`).
    pub backend: String,
    pub replicas: [usize; 3],
    pub snapshots: [usize; 3],
    pub epochs: usize,
    pub best_epoch: usize,
    pub validation: E,
    pub test: E,
    pub seconds: f64,
    pub train_samples_per_s: f64,
    pub history: Vec<L>,
}

impl<E, L> Metrics<E, L> {
    /// The record of a training of `epochs` epochs on `data` that began at `started`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        data: &Dataset,
        backend: String,
        sets: &Sets,
        epochs: usize,
        fitted: Fitted<L>,
        validation: E,
        test: E,
        started: Instant,
    ) -> Metrics<E, L> {
        Metrics {
            data: data.dir.display().to_string(),
            backend,
            replicas: sets.replicas(),
            snapshots: sets.snapshots(),
            epochs,
            best_epoch: fitted.best_epoch(),
            validation,
            test,
            seconds: started.elapsed().as_secs_f64(),
            train_samples_per_s: fitted.seen as f64 / fitted.seconds.max(1e-9),
            history: fitted.history,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A third model on the shared loop: a linear regression y = w x of two targets per sample, trained by
    /// gradient descent on the batches the loop hands it.
    struct Linear {
        w: [f64; 2],
        x: Vec<f64>,
        y: Vec<f64>,
        val_x: Vec<f64>,
        tally: Tally,
    }

    impl Learner for Linear {
        fn begin_epoch(&mut self, _: usize, _: &[usize]) -> Result<()> {
            Ok(())
        }
        fn step(&mut self, b: &Batch) -> Result<()> {
            for &i in b.samples {
                for t in 0..2 {
                    let e = self.w[t] * self.x[i] - self.y[2 * i + t];
                    self.tally.loss += e * e;
                    self.w[t] -= 0.1 * e * self.x[i];
                }
            }
            Ok(())
        }
        fn end_epoch(&mut self) -> Result<Tally> {
            Ok(std::mem::take(&mut self.tally))
        }
        fn validation_outputs(&mut self) -> Result<Vec<f64>> {
            Ok(self
                .val_x
                .iter()
                .flat_map(|&x| [self.w[0] * x, self.w[1] * x])
                .collect())
        }
        fn params(&mut self) -> Result<Vec<f32>> {
            Ok(self.w.iter().map(|&w| w as f32).collect())
        }
        fn diverged(&self, d: Divergence) -> Error {
            Error::Input(format!("{d:?}"))
        }
    }

    #[test]
    fn a_regression_trains_on_the_shared_loop_and_keeps_its_best_epoch() {
        let x: Vec<f64> = (0..16).map(|i| 0.1 + i as f64 / 16.0).collect();
        let y: Vec<f64> = x.iter().flat_map(|&x| [2.0 * x, -x]).collect();
        let val_x = vec![0.3, 0.6, 0.9];
        let val_y: Vec<f64> = val_x.iter().flat_map(|&x| [2.0 * x, -x]).collect();
        let mut m = Linear {
            w: [0.0, 0.0],
            x,
            y,
            val_x,
            tally: Tally::default(),
        };
        let plan = Plan {
            epochs: 30,
            batch: 4,
            seed: 1,
            n_train: 16,
        };
        let r = Regression { targets: 2 };
        let f = fit(&mut m, &r, &val_y[..], 3, &plan, crate::events::quiet()).unwrap();
        assert_eq!(f.history.len(), 30);
        let (epoch, log) = f.best.clone().unwrap();
        assert!(log.validation_mse < 1e-6, "{log:?}");
        assert!(f.history.iter().all(|l| !r.better(l, &log)), "{epoch}");
        assert!((f.params[0] - 2.0).abs() < 1e-3 && (f.params[1] + 1.0).abs() < 1e-3);
        assert_eq!(f.seen, 30 * 16);
    }

    #[test]
    fn a_diverging_loss_stops_the_loop_with_the_learners_message() {
        // inputs of 100 make the fixed step of 0.1 overshoot by a factor of about 1000 per sample
        let x = vec![100.0; 8];
        let y: Vec<f64> = x.iter().flat_map(|&x| [x, x]).collect();
        let mut m = Linear {
            w: [0.0, 0.0],
            x,
            y,
            val_x: vec![1.0],
            tally: Tally::default(),
        };
        let plan = Plan {
            epochs: 30,
            batch: 4,
            seed: 1,
            n_train: 8,
        };
        let r = Regression { targets: 2 };
        let e = fit(
            &mut m,
            &r,
            &[1.0, 1.0][..],
            1,
            &plan,
            crate::events::quiet(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Training"), "{e}");
    }

    #[test]
    fn a_classifier_prefers_accuracy_then_loss() {
        let log = |acc: f64, loss: f64| EpochLog {
            epoch: 1,
            train_loss: 0.0,
            train_accuracy: 0.0,
            validation_loss: loss,
            validation_accuracy: acc,
        };
        let c = Classification;
        assert!(c.better(&log(0.9, 1.0), &log(0.8, 0.1)));
        assert!(c.better(&log(0.9, 0.1), &log(0.9, 0.2)));
        assert!(!c.better(&log(0.9, 0.2), &log(0.9, 0.2)));
    }
}
