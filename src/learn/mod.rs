//! Learning: the core both networks share, the CNN on gridized images (`cnn`) and the graph network on kNN graphs
//! (`gnn`), and Bapst's graph network that predicts each particle's propensity (`dynamics`).

pub mod cnn;
pub mod dynamics;
pub mod fit;
pub mod gnn;
pub mod metrics;
pub mod model;
pub mod split;
pub mod weights;

/// The largest learning rate a model's settings may give. Adam moves every weight by about `lr` per step, so a
/// rate above this throws the weights about by more than their own scale in one step: a typing slip, not a
/// choice.
pub const MAX_LR: f64 = 10.0;

/// Refuses a learning rate that is not finite, > 0 and at most `MAX_LR`, naming the field, the range and the
/// usual value (`usual`, e.g. "default 1e-3").
pub fn check_lr(field: &str, lr: f64, usual: &str) -> std::result::Result<(), String> {
    if lr > 0.0 && lr <= MAX_LR {
        return Ok(());
    }
    Err(format!(
        "`{field}` = {lr:e}: learning rates must be finite and > 0 and at most {MAX_LR} ({usual})"
    ))
}
