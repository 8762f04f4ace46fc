//! What both networks draw from their seed: the train / validation / test split by replica, the shuffled order of
//! every epoch and the dropout seed of every batch. Splitting by replica keeps a replica's liquid and glass
//! snapshots on one side, so no model is tested on a start it was trained on.

use std::collections::BTreeSet;

use glasscam_kernels::rng::mix;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::dataset::Dataset;

/// Which replicas went where.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Split {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl Split {
    /// The replicas a model was trained or validated on: it must never be scored on them.
    pub fn seen(&self) -> Vec<usize> {
        self.train.iter().chain(&self.validation).copied().collect()
    }

    /// Refuses a split that lists a replica twice (an edited model file).
    pub fn check(&self) -> std::result::Result<(), String> {
        let mut seen = std::collections::BTreeMap::new();
        for (set, list) in [
            ("train", &self.train),
            ("validation", &self.validation),
            ("test", &self.test),
        ] {
            for &r in list {
                if let Some(other) = seen.insert(r, set) {
                    return Err(format!(
                        "`split`: replica {r} is listed in `{other}` and in `{set}`; the file was edited, retrain"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Which replicas a model is applied to (Grad-CAM, predictions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ReplicaSet {
    /// The model's test replicas.
    Test,
    /// Every replica (a data set the model was not trained on).
    All,
}

/// Fisher-Yates with splitmix64.
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = mix(seed);
    for i in (1..v.len()).rev() {
        s = mix(s);
        let j = (s % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The seed of epoch `epoch`'s shuffle of the training samples.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_add(epoch as u64)
}

/// The dropout seed of batch `batch` (0-based) of epoch `epoch` (1-based).
pub fn batch_seed(seed: u64, epoch: usize, batch: usize) -> u32 {
    mix(seed ^ ((epoch as u64) << 32) ^ batch as u64) as u32
}

/// Splits the replicas that have labelled (glass or liquid) snapshots by the fractions, after a seeded shuffle.
/// An empty split is refused with the counts.
pub fn split_replicas(data: &Dataset, fractions: [f64; 3], seed: u64) -> Result<Split> {
    let mut reps: Vec<usize> = data
        .manifest
        .snapshots
        .iter()
        .filter(|m| m.class.is_labelled())
        .map(|m| m.replica)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let r = reps.len();
    let split = cut(&mut reps, fractions, seed);
    for (name, part, f) in [
        ("training", &split.train, fractions[0]),
        ("validation", &split.validation, fractions[1]),
        ("test", &split.test, fractions[2]),
    ] {
        if part.is_empty() {
            return Err(Error::Dataset {
                path: data.dir.clone(),
                message: format!(
                    "the {name} split is empty: {r} replicas with glass or liquid snapshots and a fraction of {f}; \
                     simulate more replicas or change `split` in the model file"
                ),
            });
        }
    }
    Ok(split)
}

/// The replicas `reps` cut into training, validation and test by the fractions after a seeded shuffle (each part
/// sorted): the rule of every trainer's split.
pub fn cut(reps: &mut [usize], fractions: [f64; 3], seed: u64) -> Split {
    shuffle(reps, seed ^ 0x5EED_0001);
    let r = reps.len();
    let n_train = (fractions[0] * r as f64).round() as usize;
    let n_val = ((fractions[1] * r as f64).round() as usize).min(r - n_train.min(r));
    let n_train = n_train.min(r);
    Split {
        train: sorted(&reps[..n_train]),
        validation: sorted(&reps[n_train..n_train + n_val]),
        test: sorted(&reps[n_train + n_val..]),
    }
}

fn sorted(v: &[usize]) -> Vec<usize> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v
}

/// Labelled snapshots (index, class 0 liquid / 1 glass) of the given replicas, in data set order.
pub fn labelled(data: &Dataset, replicas: &[usize]) -> Vec<(usize, u32)> {
    let set: BTreeSet<usize> = replicas.iter().copied().collect();
    data.manifest
        .snapshots
        .iter()
        .filter(|m| m.class.is_labelled() && set.contains(&m.replica))
        .map(|m| (m.index, m.label as u32))
        .collect()
}

/// Every labelled snapshot of `data`, in data set order.
pub fn all_labelled(data: &Dataset) -> Vec<(usize, u32)> {
    data.manifest
        .snapshots
        .iter()
        .filter(|m| m.class.is_labelled())
        .map(|m| (m.index, m.label as u32))
        .collect()
}

/// One part of the split as a network trains on it: snapshot indices and their labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Part {
    pub snapshots: Vec<usize>,
    pub labels: Vec<u32>,
}

impl Part {
    /// The part of these (snapshot, label) pairs.
    pub fn of(pairs: Vec<(usize, u32)>) -> Part {
        Part {
            snapshots: pairs.iter().map(|x| x.0).collect(),
            labels: pairs.iter().map(|x| x.1).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// The split of a data set and its three parts (training, validation, test).
#[derive(Clone, Debug)]
pub struct Sets {
    pub split: Split,
    pub train: Part,
    pub validation: Part,
    pub test: Part,
}

impl Sets {
    /// The split of `data` by `fractions` drawn from `seed` and the labelled snapshots of each part.
    pub fn new(data: &Dataset, fractions: [f64; 3], seed: u64) -> Result<Sets> {
        let split = split_replicas(data, fractions, seed)?;
        Ok(Sets {
            train: Part::of(labelled(data, &split.train)),
            validation: Part::of(labelled(data, &split.validation)),
            test: Part::of(labelled(data, &split.test)),
            split,
        })
    }

    /// Replicas per part.
    pub fn replicas(&self) -> [usize; 3] {
        [
            self.split.train.len(),
            self.split.validation.len(),
            self.split.test.len(),
        ]
    }

    /// Labelled snapshots per part.
    pub fn snapshots(&self) -> [usize; 3] {
        [self.train.len(), self.validation.len(), self.test.len()]
    }
}

/// The labelled test snapshots of `data`: its test replicas under the replica split `fractions`/`seed` (the
/// trainers' rule), less any replica in `exclude` (those a model was trained or validated on, so that no model is
/// scored on a replica it has seen even when two data sets share replicas).
pub fn test_snapshots(
    data: &Dataset,
    fractions: [f64; 3],
    seed: u64,
    exclude: &[usize],
) -> Result<Part> {
    let split = split_replicas(data, fractions, seed)?;
    let seen: BTreeSet<usize> = exclude.iter().copied().collect();
    let test: Vec<usize> = split
        .test
        .into_iter()
        .filter(|r| !seen.contains(r))
        .collect();
    Ok(Part::of(labelled(data, &test)))
}

/// Refuses split fractions outside [0, 1] or without a training part (the networks' and the baselines' `split`).
pub fn check_fractions(split: [f64; 3]) -> std::result::Result<(), String> {
    if split.iter().any(|f| !(0.0..=1.0).contains(f)) || split[0] <= 0.0 {
        return Err(format!(
            "`split` = {split:?}: fractions in [0, 1], the training one > 0"
        ));
    }
    Ok(())
}

/// The split of a data set with targets (the propensity network's and the descriptor baselines', so both are
/// scored on the same test configurations): with the targets' `subset`, its test configurations are the test
/// part and its training ones are cut into training and validation replicas in the ratio of the first two
/// fractions; without, every replica is cut by the fractions.
pub fn target_sets(
    data: &Dataset,
    test: Option<&[bool]>,
    fractions: [f64; 3],
    seed: u64,
) -> Result<Sets> {
    let snaps = &data.manifest.snapshots;
    let replicas = |pick: &dyn Fn(usize) -> bool| -> Vec<usize> {
        snaps
            .iter()
            .filter(|m| pick(m.index))
            .map(|m| m.replica)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let split = match test {
        Some(t) => {
            let mut train = replicas(&|k| !t[k]);
            let f = fractions[0] / (fractions[0] + fractions[1]);
            let s = cut(&mut train, [f, 1.0 - f, 0.0], seed);
            Split {
                train: s.train,
                validation: s.validation,
                test: replicas(&|k| t[k]),
            }
        }
        None => cut(&mut replicas(&|_| true), fractions, seed),
    };
    // with a subset, a part holds its replicas' configurations of its side of the subset only
    let part = |reps: &[usize], testing: bool| {
        let set: BTreeSet<usize> = reps.iter().copied().collect();
        Part::of(
            snaps
                .iter()
                .filter(|m| set.contains(&m.replica) && test.is_none_or(|t| t[m.index] == testing))
                .map(|m| (m.index, 0))
                .collect(),
        )
    };
    let sets = Sets {
        train: part(&split.train, false),
        validation: part(&split.validation, false),
        test: part(&split.test, true),
        split,
    };
    for (name, p) in [
        ("training", &sets.train),
        ("validation", &sets.validation),
        ("test", &sets.test),
    ] {
        if p.is_empty() {
            return Err(Error::Dataset {
                path: data.dir.clone(),
                message: format!(
                    "the {name} part is empty ({} configurations in {} replicas, split {fractions:?}{}); use more \
                     configurations or change `split` (the model file's, or the baselines' option)",
                    snaps.len(),
                    sets.split.train.len() + sets.split.validation.len() + sets.split.test.len(),
                    if test.is_some() { ", with the targets' train/test subset" } else { "" }
                ),
            });
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_the_splitmix_draws_the_trainers_always_took() {
        // the constants that fix every trained model's bits: do not change them
        assert_eq!(epoch_seed(7, 3), 10);
        assert_eq!(batch_seed(7, 3, 2), mix(7 ^ (3 << 32) ^ 2) as u32);
        let mut v: Vec<usize> = (0..10).collect();
        shuffle(&mut v, 1);
        let mut w = v.clone();
        w.sort_unstable();
        assert_eq!(w, (0..10).collect::<Vec<_>>());
        assert_ne!(v, w, "a shuffle of 10 moves something");
    }

    #[test]
    fn a_split_listing_a_replica_twice_is_refused() {
        let s = Split {
            train: vec![0, 1],
            validation: vec![1],
            test: vec![2],
        };
        let e = s.check().unwrap_err();
        assert!(
            e.contains("replica 1 is listed in `train` and in `validation`"),
            "{e}"
        );
        assert_eq!(s.seen(), vec![0, 1, 1]);
    }
}
