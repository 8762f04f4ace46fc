#!/usr/bin/env python3
"""glasscam's propensity network (Bapst et al. 2020; docs/reference/model-files.md) in plain PyTorch.

Check (`--check MODEL_DIR --data DATA --predictions PRED_DIR`): builds the cutoff graphs of the data set's
snapshots that `glasscam predict` wrote to PRED_DIR, loads the model's safetensors weights by their PyTorch names
into `GN`, predicts in float64 and prints the largest difference to `predictions.npy` (glasscam's f32 path);
exits 1 when it exceeds --tolerance (relative to the predictions' spread). A network with `inherent` needs
`--inherent IDIR` (the `glasscam minimize` output it predicted with): its inputs, the particles' energies in the
inherent structures included, are computed here from the positions and the manifest's pair potential. A network
with `descriptor_lengths` reads the descriptor columns that `glasscam predict` wrote beside its predictions
(`descriptors.npy`) and standardizes them here by the model's `descriptors`. An ensemble (`members` > 1) is an
`nn.ModuleList` of networks whose predictions are averaged.

Timing (`--time DATA --spec JSON [--graphs K] [--seconds S] [--json FILE]`, what `glasscam bench gn --torch
benches/torch_gn.py` runs once per round): training steps (one configuration per step: forward, masked squared
error, backward, clip, Adam) and prediction passes (forward, no_grad, one orientation) of a freshly initialised
network on the data set's first K snapshots, float32; rows of graphs and seconds.

Usage: torch_gn.py --check M --data D --predictions P [--inherent IDIR] | --time D --spec JSON [--graphs K] [--seconds S] [--json F]
Needs torch and numpy (safetensors is read by hand when the package is absent).
"""

import argparse
import json
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def mlp(sizes):
    """Linear, ReLU, Linear, ReLU, ... (a ReLU after every Linear but, with `final_linear`, the last)."""
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return layers


class GN(nn.Module):
    """The network of docs/methods.md, "Propensity network"; parameter names match glasscam's model.safetensors."""

    def __init__(s, ns, h, steps, outputs, node_in=0, edge_in=2):
        super().__init__()
        s.steps = steps
        s.node_encoder = nn.Sequential(*mlp([ns + node_in, h, h]))
        s.edge_encoder = nn.Sequential(*mlp([edge_in, h, h]))
        s.edge_mlp = nn.Sequential(*mlp([6 * h, h, h]))
        s.node_mlp = nn.Sequential(*mlp([3 * h, h, h]))
        s.decoder = nn.Sequential(*mlp([h, h, h]), nn.Linear(h, outputs))

    def forward(s, x, vec, src, dst):
        """x: [V, ns + node_in] one-hot species (and the inherent structure's node inputs); vec: [E, edge_in]
        (r_dst - r_src) / cutoff (and the inherent structure's); src, dst: [E] long.
        Returns the standardized outputs [V, T]."""
        v_enc, e_enc = s.node_encoder(x), s.edge_encoder(vec)
        v, e = v_enc, e_enc
        for _ in range(s.steps):
            xv = torch.cat([v, v_enc], 1)
            e = s.edge_mlp(torch.cat([e, e_enc, xv[dst], xv[src]], 1))
            agg = torch.zeros(x.shape[0], e.shape[1], dtype=e.dtype).index_add_(0, dst, e)
            v = s.node_mlp(torch.cat([agg, xv], 1))
        return s.decoder(v)


class Ensemble(nn.Module):
    """`members` networks of one shape; the prediction is their mean (safetensors names `members.<k>.*`)."""

    def __init__(s, members, *shape):
        super().__init__()
        s.members = nn.ModuleList([GN(*shape) for _ in range(members)])

    def forward(s, *inputs):
        return sum(m(*inputs) for m in s.members) / len(s.members)


def square_maps():
    """The square's 8 symmetries as 2 x 2 matrices acting on row vectors: rotations by k * 90 degrees after an
    optional mirror y -> -y (glasscam's `Orthogonal::square` order)."""
    out = []
    for reflect in (False, True):
        for k in range(4):
            c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][k]
            rot = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)  # v @ rot = R v
            mir = torch.tensor([[1, 0], [0, -1 if reflect else 1]], dtype=torch.float64)
            out.append(mir @ rot)
    return out


def turned(x, vec, m, ns, vectors):
    """The inputs under the map m: every pair of edge inputs and, with `vectors` (a network with `inherent`), a
    node's displacement u (its inputs ns, ns + 1); descriptors are scalars and stay."""
    m = m.to(vec.dtype)
    vec = torch.cat([vec[:, k:k + 2] @ m for k in range(0, vec.shape[1], 2)], 1)
    if vectors:
        x = torch.cat([x[:, :ns], x[:, ns:ns + 2] @ m, x[:, ns + 2:]], 1)
    return x, vec


def predict(net, x, vec, src, dst, symmetrize, ns, vectors):
    if not symmetrize:
        return net(x, vec, src, dst)
    return sum(net(*turned(x, vec, m, ns, vectors), src, dst) for m in square_maps()) / 8


def pair_energies(pos, species, box, system):
    """Each particle's potential energy, half of each pair's (docs/methods.md, "Descriptor baselines"): the system's
    pair form, `lj-poly` (GlassBench's ka2d) or Lennard-Jones with linear smoothing, within cutoff x sigma."""
    names = [sp["name"] for sp in system["species"]]
    ns = len(names)
    sig, eps = np.zeros((ns, ns)), np.zeros((ns, ns))
    for p in system["pairs"]:
        a, b = names.index(p["a"]), names.index(p["b"])
        sig[a, b] = sig[b, a] = p["sigma"]
        eps[a, b] = eps[b, a] = p["epsilon"]
    d = pos[None, :, :] - pos[:, None, :]
    d = d - box * np.round(d / box)
    r = np.sqrt((d**2).sum(-1))
    np.fill_diagonal(r, np.inf)
    s, e = sig[species][:, species], eps[species][:, species]
    rc = system["cutoff"] * s
    lj = lambda x: 4 * e * ((s / x) ** 12 - (s / x) ** 6)
    with np.errstate(invalid="ignore"):  # the diagonal's r = inf, masked below
        if system["potential"] == "lj-poly":
            c = system["poly"]
            phi = lj(r) + 4 * e * (c["c0"] + c["c2"] * (r / s) ** 2 + c["c4"] * (r / s) ** 4)
        else:
            dlj = -24 * e * (2 * s**12 / rc**13 - s**6 / rc**7)
            phi = lj(r) - lj(rc) - (r - rc) * dlj
    return 0.5 * np.where(r < rc, phi, 0.0).sum(1)


def inherent_inputs(cfg, x, vec, src, dst, pos, minimum, species, box, system):
    """The inputs of a network with `inherent`: [onehot, u_x, u_y, |u|, (e' - m) / s] and the edge vectors in
    the configuration and then in the inherent structure `minimum`."""
    m, s = cfg["inherent_energy"]
    u = minimum - pos
    u = u - box * np.round(u / box)
    e = (pair_energies(minimum, species, box, system) - m) / s
    node = np.column_stack([u, np.sqrt((u**2).sum(1)), e])
    d = minimum[dst.numpy()] - minimum[src.numpy()]
    d = d - box * np.round(d / box)
    vec_is = torch.from_numpy(d / cfg["config"]["cutoff"])
    return torch.cat([x, torch.from_numpy(node)], 1), torch.cat([vec, vec_is], 1)


def cutoff_graph(pos, box, cutoff):
    """Edges both ways between particles closer than `cutoff` (minimum image), grouped by target, by source."""
    d = pos[None, :, :] - pos[:, None, :]  # d[t, s] = r_s - r_t
    d = d - box * np.round(d / box)
    r = np.sqrt((d**2).sum(-1))
    np.fill_diagonal(r, np.inf)
    dst, src = np.nonzero(r < cutoff)  # row-major: by target, then by source
    vec = -d[dst, src] / cutoff  # r_dst - r_src
    return torch.from_numpy(src).long(), torch.from_numpy(dst).long(), torch.from_numpy(vec)


def load_safetensors(path):
    """safetensors file -> {name: tensor}; by hand (8-byte header length, JSON header, raw little-endian data)."""
    try:
        from safetensors.torch import load_file

        return load_file(path)
    except ImportError:
        pass
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(raw[8 + n + a : 8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(t["shape"]).clone()
    return out


def load_model(model_dir, dtype):
    cfg = json.load(open(f"{model_dir}/config.json"))
    c = cfg["config"]
    node_in, edge_in = (4, 4) if c.get("inherent") else (0, 2)
    shape = (cfg["n_species"], c["hidden"], c["steps"], len(cfg["times"]), node_in + len(cfg.get("descriptors", [])),
             edge_in)
    members = c.get("members", 1)
    net = Ensemble(members, *shape) if members > 1 else GN(*shape)
    net.load_state_dict(load_safetensors(f"{model_dir}/model.safetensors"))
    return net.to(dtype), cfg


def load_data(data):
    manifest = json.load(open(f"{data}/manifest.json"))
    pos = np.load(f"{data}/positions.npy").astype(np.float64)
    species = np.load(f"{data}/species.npy").astype(np.int64)
    return pos, species, manifest["box_l"]


def check(model_dir, data, pred_dir, tolerance, inherent=None):
    net, cfg = load_model(model_dir, torch.float64)
    c = cfg["config"]
    if c.get("inherent") and not inherent:
        sys.exit("the network takes the inherent structures: give those of --data with --inherent IDIR")
    pos, species, box = load_data(data)
    meta = json.load(open(f"{pred_dir}/predictions.json"))
    got = np.load(f"{pred_dir}/predictions.npy").astype(np.float64)
    x = torch.nn.functional.one_hot(torch.from_numpy(species), cfg["n_species"]).double()
    mean, std = torch.tensor(cfg["target_mean"]), torch.tensor(cfg["target_std"])
    if cfg.get("descriptors"):
        names = [d["name"] for d in cfg["descriptors"]]
        if meta.get("descriptors") != names:
            sys.exit(f"{pred_dir} holds no descriptor columns {names}: write it with this glasscam's `predict`")
        desc = np.load(f"{pred_dir}/descriptors.npy")
        d_mean = np.array([d["mean"] for d in cfg["descriptors"]])
        d_std = np.array([d["std"] for d in cfg["descriptors"]])
    worst, spread = 0.0, float(got.std()) or 1.0
    if inherent:
        system = json.load(open(f"{data}/manifest.json"))["system"]
        minima = np.load(f"{inherent}/positions.npy").astype(np.float64)
        rows = {m["source_index"]: m["index"] for m in json.load(open(f"{inherent}/inherent.json"))["snapshots"]}
    with torch.no_grad():
        for k, snap in enumerate(meta["snapshots"]):
            src, dst, vec = cutoff_graph(pos[snap], box, c["cutoff"])
            xk = x
            if inherent:
                xk, vec = inherent_inputs(cfg, x, vec, src, dst, pos[snap], minima[rows[snap]], species, box, system)
            if cfg.get("descriptors"):
                xk = torch.cat([xk, torch.from_numpy((desc[k] - d_mean) / d_std)], 1)
            vectors = bool(c.get("inherent"))
            y = mean + std * predict(net, xk, vec, src, dst, c["symmetrize"], cfg["n_species"], vectors)  # [N, T]
            worst = max(worst, float(np.abs(y.numpy().T - got[k]).max()))
    rel = worst / spread
    print(f"{len(meta['snapshots'])} configurations: largest |torch - glasscam predict| = {worst:.3e} "
          f"({rel:.2e} of the predictions' standard deviation)")
    return rel <= tolerance


def timed(seconds, step, n):
    """Runs step(k) over graphs k = 0, 1, ... (cycling) for `seconds` after one warm-up step: (graphs, seconds)."""
    step(0)
    t0, k = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or k == 0:
        step(k % n)
        k += 1
    return k, time.perf_counter() - t0


def bench(data, spec, n_graphs, seconds):
    """Training steps and prediction passes of a freshly initialised network of `spec` (the model file's fields
    and n_species, outputs) on the first `n_graphs` snapshots, zero targets, float32."""
    torch.manual_seed(0)
    node_in, edge_in = spec.get("node_in", 0), spec.get("edge_in", 2)
    net = GN(spec["n_species"], spec["hidden"], spec["steps"], spec["outputs"], node_in, edge_in)
    pos, species, box = load_data(data)
    x = torch.nn.functional.one_hot(torch.from_numpy(species), spec["n_species"]).float()
    # inputs of the inherent structure: only their widths matter to the timing
    x = torch.cat([x, torch.randn(x.shape[0], node_in)], 1)
    graphs = [cutoff_graph(p, box, spec["cutoff"]) for p in pos[:n_graphs]]
    graphs = [(s, d, torch.cat([v] * (edge_in // 2), 1).float()) for s, d, v in graphs]
    scored = np.ones_like(species, bool) if spec.get("all_species") else species == spec["species"]
    w = torch.from_numpy(scored.astype(np.float32))[:, None]
    target = torch.zeros(x.shape[0], spec["outputs"])
    opt = torch.optim.Adam(net.parameters(), lr=spec["lr"])

    def train_step(k):
        s, d, v = graphs[k]
        opt.zero_grad()
        loss = ((net(x, v, s, d) - target) ** 2 * w).sum() / (w.sum() * target.shape[1])
        loss.backward()
        if spec["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), spec["clip"])
        opt.step()

    def predict_step(k):
        s, d, v = graphs[k]
        with torch.no_grad():
            net(x, v, s, d)

    rows = []
    for what, step in (("train", train_step), ("predict", predict_step)):
        n, sec = timed(seconds, step, len(graphs))
        rows.append({"what": what, "graphs": n, "seconds": sec})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="MODEL_DIR")
    ap.add_argument("--data")
    ap.add_argument("--predictions", metavar="PRED_DIR")
    ap.add_argument("--inherent", metavar="IDIR", help="with --check: the inherent structures of --data")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--time", metavar="DATA")
    ap.add_argument("--spec", help="JSON: the model file's fields with n_species and outputs")
    ap.add_argument("--graphs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.check:
        if not (a.data and a.predictions):
            sys.exit("--check needs --data and --predictions")
        sys.exit(0 if check(a.check, a.data, a.predictions, a.tolerance, a.inherent) else 1)
    if a.time:
        r = bench(a.time, json.loads(a.spec), a.graphs, a.seconds)
        text = json.dumps(r)
        if a.json:
            open(a.json, "w").write(text)
        else:
            print(text)
        return
    ap.error("give --check or --time")


if __name__ == "__main__":
    main()
