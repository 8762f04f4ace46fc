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
