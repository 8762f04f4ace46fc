//! `glasscam attention`: the bond attention of a trained graph network on a data set. Per configuration: the
//! attention of every directed edge at the last message update, a per-particle attention field (the sum over the
//! particle's incident edges, coarse-grained and normalised like Gamma), Swanson's metrics M1 (components of the
//! high-attention subgraph H), M2 (B-B edges in H) and M3 (A particles outside H), their attention-free twins
//! (H = the edges touching a B particle), and Pearson correlations of the field with Gamma, Upsilon and 1 - Theta.

use std::path::PathBuf;

use glasscam_kernels::gnn::{net, Attention, GraphBatch};
use serde::{Deserialize, Serialize};

use super::model::{self, MpnnModelFile};
use super::train::graphs;
use crate::analysis::plots::{field_panels, violin, FieldMap, ViolinClass};
use crate::analysis::{
    analyse_config, coarse_grain, normalise, pearson, CoarseGrain, ConfigInput, GammaSet,
};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::{write_json_atomic, Dataset};
use crate::io::npy;
use crate::learn::cnn::train::roc_auc;

/// What `attention` reads and where it writes.
#[derive(Clone, Debug)]
pub struct AttentionInput {
    /// Model directory written by `glasscam train --arch mpnn`.
    pub model: PathBuf,
    pub data: PathBuf,
    /// Every glass and liquid snapshot (true) or the model's test replicas only.
    pub all: bool,
    /// High-attention threshold on the per-graph normalised attention (Swanson: 0.0025).
    pub threshold: f64,
    /// Grad-CAM output directory for C(attention, Gamma).
    pub gradcam: Option<PathBuf>,
    pub out: PathBuf,
}

/// Swanson's three graph metrics of one configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphMetrics {
    /// M1: connected components of H.
    pub components: usize,
    /// M2: undirected B-B edges in H.
    pub bb_edges: usize,
    /// M3: A particles (species 0) touching no edge of H.
    pub a_outside: usize,
}

/// M1-M3 of the subgraph H made of the undirected edges {src e, dst e} with `high[e]`.
pub fn graph_metrics(g: &GraphBatch, high: &[bool]) -> GraphMetrics {
    let n = g.n_nodes();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut in_h = vec![false; n];
    let mut bb = std::collections::BTreeSet::new();
    for (e, _) in high.iter().enumerate().filter(|x| *x.1) {
        let (a, b) = (g.src[e] as usize, g.dst[e] as usize);
        in_h[a] = true;
        in_h[b] = true;
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
        if g.species[a] == 1 && g.species[b] == 1 {
            bb.insert((a.min(b), a.max(b)));
        }
    }
    let components = (0..n)
        .filter(|&v| in_h[v] && find(&mut parent, v) == v)
        .count();
    GraphMetrics {
        components,
        bb_edges: bb.len(),
        a_outside: (0..n).filter(|&v| !in_h[v] && g.species[v] == 0).count(),
    }
}

/// High-attention edges: (alpha - min) / (max - min) over the graph's edges above `threshold`.
pub fn high_attention(alpha: &[f64], threshold: f64) -> Vec<bool> {
    let lo = alpha.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = alpha.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let range = hi - lo;
    alpha
        .iter()
        .map(|&a| range > 0.0 && (a - lo) / range > threshold)
        .collect()
}

/// Edges touching a B particle (species 1): the attention-free H.
pub fn touches_b(g: &GraphBatch) -> Vec<bool> {
    (0..g.n_edges())
        .map(|e| g.species[g.src[e] as usize] == 1 || g.species[g.dst[e] as usize] == 1)
        .collect()
}

/// Per-particle attention: the sum over every directed edge in or out of the particle.
pub fn particle_field(g: &GraphBatch, alpha: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; g.n_nodes()];
    for e in 0..g.n_edges() {
        out[g.src[e] as usize] += alpha[e];
        out[g.dst[e] as usize] += alpha[e];
    }
    out
}

/// One configuration's row of `attention.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConfigRow {
    pub snapshot: usize,
    pub class: String,
    pub attention: GraphMetrics,
    pub attention_free: GraphMetrics,
    /// Pearson C(attention field, Gamma), C(., Upsilon), C(., 1 - Theta) (coarse-grained, normalised); NaN where
    /// Gamma is not given.
    pub pearson: [f64; 3],
}

/// ROC AUC of one metric used alone (glass positive, larger value = glass).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricAuc {
    pub metric: String,
    pub auc: f64,
    pub mean_glass: f64,
    pub mean_liquid: f64,
}

/// `attention.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttentionReport {
    pub model: String,
    pub data: String,
    pub threshold: f64,
    pub aucs: Vec<MetricAuc>,
    pub configs: Vec<ConfigRow>,
}

/// Runs the analysis and writes `out`.
pub fn attention(args: &AttentionInput, ctx: Ctx) -> Result<AttentionReport> {
    let (file, params): (MpnnModelFile, Vec<f64>) = model::load(&args.model)?;
    let data = Dataset::load(&args.data)?;
    model::check_fits(&file, &args.model, &data)?;
    let spec = file.spec();
    if spec.attention == Attention::Off {
        return Err(Error::Model {
            path: args.model.clone(),
            message:
                "the model was trained with attention = \"none\": it has no attention to analyse"
                    .into(),
        });
    }
    if file.config.window.is_some() {
        return Err(Error::Model {
            path: args.model.clone(),
            message: "the model reads windows; the attention field and its correlations need whole periodic \
                      configurations (train without `window`)"
                .into(),
        });
    }
    let snaps: Vec<(usize, u32)> = match args.all {
        false => crate::learn::cnn::data::labelled(&data, &file.split.test),
        true => data
            .manifest
            .snapshots
            .iter()
            .filter(|m| m.label == 0 || m.label == 1)
            .map(|m| (m.index, m.label as u32))
            .collect(),
    };
    let gamma = args.gradcam.as_deref().map(GammaSet::load).transpose()?;
    if let Some(g) = &gamma {
        g.check_data(&data.dir.display().to_string(), &data.fingerprint)?;
    }
    std::fs::create_dir_all(&args.out).at(&args.out)?;
    let n = data.n_particles();
    let box_l = [data.box_l(); 2];
    let diameters = data.manifest.system.diameters();
    let d: Vec<f64> = data
        .species
        .iter()
        .map(|&s| diameters[s as usize])
        .collect();
    let (mut all_alpha, mut all_edges, mut ptr, mut fields) =
        (Vec::new(), Vec::new(), vec![0u64], Vec::new());
    let mut rows = Vec::new();
    for (i, &(k, label)) in snaps.iter().enumerate() {
        ctx.cancel.check()?;
        let g = graphs(&data, &file.config, &[k])?.remove(0);
        let fw = net::forward(&spec, &params, &g, None);
        let alpha = fw.last_attention().to_vec();
        let field = particle_field(&g, &alpha);
        let pos = data.snapshot(k);
        let smooth = coarse_grain(pos, box_l, CoarseGrain::default(), &[&field]);
        let field_cg = normalise(&smooth[0]);
        let (ind, _) = analyse_config(
            &ConfigInput {
                positions: pos,
                box_l,
                species: &data.species,
                diameters: &diameters,
                gamma: gamma.as_ref().and_then(|gs| gs.row(k)),
            },
            CoarseGrain::default(),
        )?;
        let one_m_theta: Vec<f64> = ind.theta_cg.iter().map(|t| 1.0 - t).collect();
        rows.push(ConfigRow {
            snapshot: k,
            class: Class::from_label(label as i64).name().to_string(),
            attention: graph_metrics(&g, &high_attention(&alpha, args.threshold)),
            attention_free: graph_metrics(&g, &touches_b(&g)),
            pearson: [
                ind.gamma_cg
                    .as_ref()
                    .map_or(f64::NAN, |gm| pearson(&field_cg, gm)),
                pearson(&field_cg, &ind.upsilon_cg),
                pearson(&field_cg, &one_m_theta),
            ],
        });
        all_alpha.extend_from_slice(&alpha);
        all_edges.extend(g.src.iter().zip(&g.dst).flat_map(|(&s, &t)| [s, t]));
        ptr.push(all_alpha.len() as u64);
        fields.extend_from_slice(&field_cg);
        if i == 0 {
            // the first configuration's attention field beside Gamma (with --gradcam), the Voronoi area and
            // 1 - Theta: the same particles in every panel
            let mut panels: Vec<(String, &[f64])> = vec![(
                format!("attention field, snapshot {k} ({})", rows[0].class),
                &field_cg,
            )];
            match &ind.gamma_cg {
                Some(g) => panels.push(("Grad-CAM Gamma".into(), g)),
                None => panels[0].0.push_str(" (no Gamma: give --gradcam)"),
            }
            panels.push(("Voronoi area Upsilon".into(), &ind.upsilon_cg));
            panels.push(("1 - Theta".into(), &one_m_theta));
            let maps: Vec<FieldMap> = panels
                .iter()
                .map(|(title, colour)| FieldMap {
                    title,
                    box_l,
                    positions: pos,
                    diameters: &d,
                    colour,
                    alpha: None,
                })
                .collect();
            field_panels(&args.out.join(format!("attention_map_{k}")), &maps, 2)?;
        }
    }
    let s = snaps.len() as u64;
    npy::write(
        &args.out.join("attention.npy"),
        &[all_alpha.len() as u64],
        &all_alpha,
    )?;
    npy::write(
        &args.out.join("attention_edges.npy"),
        &[all_alpha.len() as u64, 2],
        &all_edges,
    )?;
    npy::write(&args.out.join("attention_ptr.npy"), &[s + 1], &ptr)?;
    npy::write(
        &args.out.join("attention_field.npy"),
        &[s, n as u64],
        &fields,
    )?;
    let labels: Vec<u32> = snaps.iter().map(|x| x.1).collect();
    type Get = fn(&ConfigRow) -> f64;
    let metrics: [(&str, Get); 6] = [
        ("M1 attention", |r| r.attention.components as f64),
        ("M2 attention", |r| r.attention.bb_edges as f64),
        ("M3 attention", |r| r.attention.a_outside as f64),
        ("M1 B-edges", |r| r.attention_free.components as f64),
        ("M2 B-edges", |r| r.attention_free.bb_edges as f64),
        ("M3 B-edges", |r| r.attention_free.a_outside as f64),
    ];
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let mut aucs = Vec::new();
    let mut classes = vec![
        ViolinClass {
            class: Class::Liquid,
            values: Vec::new(),
        },
        ViolinClass {
            class: Class::Glass,
            values: Vec::new(),
        },
    ];
    for (name, get) in metrics {
        let v: Vec<f64> = rows.iter().map(get).collect();
        let of = |c: u32| -> Vec<f64> {
            v.iter()
                .zip(&labels)
                .filter(|x| *x.1 == c)
                .map(|x| *x.0)
                .collect()
        };
        aucs.push(MetricAuc {
            metric: name.into(),
            auc: roc_auc(&v, &labels),
            mean_glass: mean(&of(1)),
            mean_liquid: mean(&of(0)),
        });
        // per particle, so the six metrics share one axis
        for (c, vc) in classes.iter_mut().enumerate() {
            vc.values
                .push(of(c as u32).iter().map(|x| x / n as f64).collect());
        }
    }
    let names: Vec<&str> = metrics.iter().map(|m| m.0).collect();
    violin(
        &args.out.join("attention_metrics"),
        "Swanson's metrics per particle, by class",
        &names,
        &classes,
        &[None; 6],
    )?;
    let report = AttentionReport {
        model: args.model.display().to_string(),
        data: data.dir.display().to_string(),
        threshold: args.threshold,
        aucs,
        configs: rows,
    };
    write_json_atomic(&args.out.join("attention.json"), &report)?;
    Ok(report)
}
