//! `glasscam attention`: the bond attention of a trained graph network on a data set. Per configuration: the
//! attention of every directed edge at the last message update, a per-particle attention field (the sum over the
//! particle's incident edges, coarse-grained and normalised like Gamma), Swanson's metrics M1 (components of the
//! high-attention subgraph H), M2 (B-B edges in H) and M3 (A particles outside H), their attention-free twins
//! (H = the edges touching a B particle), and Pearson correlations of the field with Gamma, Upsilon and 1 - Theta.

use std::path::PathBuf;

use glasscam_kernels::gnn::{net, Attention, GraphBatch};
use serde::{Deserialize, Serialize};

use super::model::{self, Mpnn};
use super::train::graphs;
use crate::analysis::plots::{configuration_panels, particle_diameters, violin, ViolinClass};
use crate::analysis::{
    analyse_config, coarse_grain, normalise, pearson, CoarseGrain, ConfigInput, GammaSet,
};
use crate::domain::Class;
use crate::error::{Error, IoContext, Result};
use crate::events::Ctx;
use crate::io::dataset::Dataset;
use crate::io::json::{nan_as_null, write_json_atomic};
use crate::io::npy;
use crate::learn::metrics::roc_auc;
use crate::learn::split::{all_labelled, labelled};

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
    pub class: Class,
    pub attention: GraphMetrics,
    pub attention_free: GraphMetrics,
    /// Pearson C(attention field, Gamma), C(., Upsilon), C(., 1 - Theta) (coarse-grained, normalised); NaN
    /// (`null`) where Gamma is not given or a field is constant.
    #[serde(deserialize_with = "nan_as_null")]
    pub pearson: [f64; 3],
}

/// ROC AUC of one metric used alone (glass positive, larger value = glass).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MetricAuc {
    pub metric: String,
    /// NaN (`null`) when the configurations hold one class only.
    #[serde(deserialize_with = "nan_as_null")]
    pub auc: f64,
    #[serde(deserialize_with = "nan_as_null")]
    pub mean_glass: f64,
    #[serde(deserialize_with = "nan_as_null")]
    pub mean_liquid: f64,
}

/// `attention.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AttentionReport {
    pub model: String,
    pub data: String,
    /// `Dataset::fingerprint` of `data`: what the rows' snapshot indices refer to.
    #[serde(default)]
    pub data_fingerprint: String,
    pub threshold: f64,
    pub aucs: Vec<MetricAuc>,
    pub configs: Vec<ConfigRow>,
}

impl AttentionReport {
    /// Refuses these rows for a data set other than the one they were computed on.
    pub fn check_data(&self, data: &Dataset) -> Result<()> {
        if self.data_fingerprint != data.fingerprint {
            return Err(Error::Dataset {
                path: data.dir.clone(),
                message: format!(
                    "the attention rows were computed on {} ({}), not on this data set ({}); run `attention` on it",
                    self.data,
                    crate::analysis::gamma::short(&self.data_fingerprint),
                    crate::analysis::gamma::short(&data.fingerprint)
                ),
            });
        }
        Ok(())
    }
}

/// The model, refused when it cannot give an attention field for whole configurations.
fn attention_model(dir: &std::path::Path) -> Result<Mpnn> {
    let m = model::load(dir)?;
    if m.file.spec().attention == Attention::Off {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message:
                "the model was trained with attention = \"none\": it has no attention to analyse"
                    .into(),
        });
    }
    if m.file.config.window.is_some() {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            message: "the model reads windows; the attention field and its correlations need whole periodic \
                      configurations (train without `window`)"
                .into(),
        });
    }
    Ok(m)
}

/// What the per-configuration loop collects: every edge's attention, the edges, the pointer of each
/// configuration into them, the coarse-grained fields, and the rows.
#[derive(Default)]
struct Collected {
    alpha: Vec<f64>,
    edges: Vec<u32>,
    ptr: Vec<u64>,
    fields: Vec<f64>,
    rows: Vec<ConfigRow>,
}

/// One configuration: its graph's last-step attention, the particle field, the metrics with and without
/// attention, the correlations, and (for the first) the field maps.
#[allow(clippy::too_many_arguments)]
fn add_config(
    c: &mut Collected,
    m: &Mpnn,
    params: &[f64],
    data: &Dataset,
    gamma: Option<&GammaSet>,
    (k, label): (usize, u32),
    threshold: f64,
    maps: Option<&std::path::Path>,
) -> Result<()> {
    let g = graphs(data, &m.file.config, &[k])?.remove(0);
    let fw = net::forward(&m.file.spec(), params, &g, None);
    let alpha = fw.last_attention().to_vec();
    let field = particle_field(&g, &alpha);
    let pos = data.snapshot(k);
    let box_l = [data.box_l(); 2];
    let diameters = data.manifest.system.diameters();
    let smooth = coarse_grain(pos, box_l, CoarseGrain::default(), &[&field]);
    let field_cg = normalise(&smooth[0]);
    let (ind, _) = analyse_config(
        &ConfigInput {
            positions: pos,
            box_l,
            species: &data.species,
            diameters: &diameters,
            gamma: gamma.and_then(|gs| gs.row(k)),
        },
        CoarseGrain::default(),
    )?;
    let one_m_theta: Vec<f64> = ind.theta_cg.iter().map(|t| 1.0 - t).collect();
    let class = Class::from_label(label as i64);
    c.rows.push(ConfigRow {
        snapshot: k,
        class,
        attention: graph_metrics(&g, &high_attention(&alpha, threshold)),
        attention_free: graph_metrics(&g, &touches_b(&g)),
        pearson: [
            ind.gamma_cg
                .as_ref()
                .map_or(f64::NAN, |gm| pearson(&field_cg, gm)),
            pearson(&field_cg, &ind.upsilon_cg),
            pearson(&field_cg, &one_m_theta),
        ],
    });
    c.alpha.extend_from_slice(&alpha);
    c.edges
        .extend(g.src.iter().zip(&g.dst).flat_map(|(&s, &t)| [s, t]));
    c.ptr.push(c.alpha.len() as u64);
    c.fields.extend_from_slice(&field_cg);
    let Some(out) = maps else {
        return Ok(());
    };
    // the attention field beside Gamma (with --gradcam), the Voronoi area and 1 - Theta: the same particles in
    // every panel
    let d = particle_diameters(&data.species, &diameters);
    let mut panels: Vec<(String, &[f64])> = vec![(
        format!("attention field, snapshot {k} ({class})"),
        &field_cg,
    )];
    match &ind.gamma_cg {
        Some(g) => panels.push(("Grad-CAM Gamma".into(), g)),
        None => panels[0].0.push_str(" (no Gamma: give --gradcam)"),
    }
    panels.push(("Voronoi area Upsilon".into(), &ind.upsilon_cg));
    panels.push(("1 - Theta".into(), &one_m_theta));
    configuration_panels(
        &out.join(format!("attention_map_{k}")),
        box_l,
        (pos, &d),
        &panels,
        2,
    )?;
    Ok(())
}

/// The ROC AUC and class means of each metric used alone, and their violin plot (per particle, so the six
/// metrics share one axis).
fn metric_aucs(rows: &[ConfigRow], n: usize, out: &std::path::Path) -> Result<Vec<MetricAuc>> {
    let labels: Vec<u32> = rows.iter().map(|r| r.class.label() as u32).collect();
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
    let mut classes: Vec<ViolinClass> = Class::BOTH
        .iter()
        .map(|&class| ViolinClass {
            class,
            values: Vec::new(),
        })
        .collect();
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
        for (c, vc) in classes.iter_mut().enumerate() {
            vc.values
                .push(of(c as u32).iter().map(|x| x / n as f64).collect());
        }
    }
    let names: Vec<&str> = metrics.iter().map(|m| m.0).collect();
    violin(
        &out.join("attention_metrics"),
        "Swanson's metrics per particle, by class",
        &names,
        &classes,
        &[None; 6],
    )?;
    Ok(aucs)
}

/// Runs the analysis and writes `out`.
pub fn attention(args: &AttentionInput, ctx: Ctx) -> Result<AttentionReport> {
    let m = attention_model(&args.model)?;
    let data = Dataset::load(&args.data)?;
    model::check_fits(&m.file, &args.model, &data)?;
    let snaps: Vec<(usize, u32)> = if args.all {
        all_labelled(&data)
    } else {
        // the split names replicas of the training data: on other data they would be arbitrary ones
        m.file.header.check_split_data(
            &data,
            "set `split` to all for a data set the model was not trained on",
        )?;
        labelled(&data, &m.file.header.split.test)
    };
    let gamma = args.gradcam.as_deref().map(GammaSet::load).transpose()?;
    if let Some(g) = &gamma {
        g.check_data(&data.dir.display().to_string(), &data.fingerprint)?;
    }
    std::fs::create_dir_all(&args.out).at(&args.out)?;
    let params = m.params_f64();
    let mut c = Collected {
        ptr: vec![0],
        ..Collected::default()
    };
    for (i, &snap) in snaps.iter().enumerate() {
        ctx.cancel.check()?;
        let maps = (i == 0).then_some(args.out.as_path());
        add_config(
            &mut c,
            &m,
            &params,
            &data,
            gamma.as_ref(),
            snap,
            args.threshold,
            maps,
        )?;
    }
    let (s, n) = (snaps.len() as u64, data.n_particles());
    let e = c.alpha.len() as u64;
    npy::write(&args.out.join("attention.npy"), &[e], &c.alpha)?;
    npy::write(&args.out.join("attention_edges.npy"), &[e, 2], &c.edges)?;
    npy::write(&args.out.join("attention_ptr.npy"), &[s + 1], &c.ptr)?;
    npy::write(
        &args.out.join("attention_field.npy"),
        &[s, n as u64],
        &c.fields,
    )?;
    let report = AttentionReport {
        model: args.model.display().to_string(),
        data: data.dir.display().to_string(),
        data_fingerprint: data.fingerprint.clone(),
        threshold: args.threshold,
        aucs: metric_aucs(&c.rows, n, &args.out)?,
        configs: c.rows,
    };
    write_json_atomic(&args.out.join("attention.json"), &report)?;
    Ok(report)
}
