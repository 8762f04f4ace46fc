#!/usr/bin/env python3
"""glasscam's graph network (docs/reference/model-files.md) in plain PyTorch, on the graphs `glasscam bench gnn` writes.

Timing (what `glasscam bench gnn --torch benches/torch_mpnn.py` runs once per round, alternating with its own rows):
training steps (forward with dropout, cross-entropy, backward, Adam) and attention passes (eval forward, no_grad)
in graphs/s, float32, on the exported graphs cut into batches of the model's batch size.

Check (`--check MODEL_DIR`, graphs exported with `glasscam bench gnn --model MODEL_DIR --export DIR`): loads the
model's safetensors weights by their PyTorch names into `MPNN`, computes the logits of every exported graph in
float64 and prints the largest difference to glasscam's f64 twin and to its f32 path.

Usage: torch_mpnn.py --graphs DIR [--seconds S] [--json FILE] [--check MODEL_DIR] [--threads N]
Needs only torch (no numpy; safetensors is read by hand when the package is absent).
"""

import argparse
import json
import struct
import sys
import time

import torch
from torch import nn


class MPNN(nn.Module):
    """The network of docs/methods.md, "Graph network"; parameter names match glasscam's model.safetensors."""

    def __init__(s, ns, h, depth, attention="graph", dropout=0.0):
        super().__init__()
        s.depth, s.att = depth, attention
        s.W_i = nn.Linear(ns + 1, h, bias=False)
        s.W_h = nn.Linear(h, h, bias=False)
        if attention != "none":
            s.W_a = nn.Linear(h, h, bias=False)
            s.v_a = nn.Linear(h, 1)
        s.W_o = nn.Linear(ns + h, h)
        s.ffn1 = nn.Linear(h, h)
        s.ffn2 = nn.Linear(h, 2)
        s.drop = nn.Dropout(dropout)

    def forward(s, x, src, dst, rev, dist, edge_graph, node_graph, n_graphs):
        """x: [V, ns] one-hot species; src, dst, rev: [E] long; dist: [E] standardized distance;
        edge_graph, node_graph: [E], [V] long graph index. Returns (logits [G, 2], last attention [E] or None)."""
        V, E = x.shape[0], src.shape[0]
        f = torch.cat([x[src], dist[:, None]], 1)
        a = s.W_i(f)
        h = torch.relu(a)
        alpha = None
        for _ in range(s.depth - 1):
            sv = torch.zeros(V, h.shape[1], dtype=h.dtype).index_add_(0, dst, h)
            u = torch.relu(a + s.W_h(sv[src] - h[rev]))
            if s.att != "none":
                e = s.v_a(torch.relu(s.W_a(u)))[:, 0]
                seg = edge_graph if s.att == "graph" else torch.zeros_like(edge_graph)
                ns_ = n_graphs if s.att == "graph" else 1
                # softmax per segment, scaled by the segment's edge count (mean weight 1)
                mx = torch.full((ns_,), -torch.inf, dtype=e.dtype).scatter_reduce(0, seg, e, "amax")
                ex = torch.exp(e - mx[seg].detach())
                z = torch.zeros(ns_, dtype=e.dtype).index_add_(0, seg, ex)
                cnt = torch.zeros(ns_, dtype=e.dtype).index_add_(0, seg, torch.ones_like(e))
                alpha = cnt[seg] * ex / z[seg]
                u = alpha[:, None] * u
            h = s.drop(u)
        sv = torch.zeros(V, h.shape[1], dtype=h.dtype).index_add_(0, dst, h)
        r = s.drop(torch.relu(s.W_o(torch.cat([x, sv], 1))))
        cnt = torch.zeros(n_graphs, dtype=r.dtype).index_add_(0, node_graph, torch.ones(V, dtype=r.dtype))
        g = torch.zeros(n_graphs, r.shape[1], dtype=r.dtype).index_add_(0, node_graph, r) / cnt[:, None]
        return s.ffn2(s.drop(torch.relu(s.ffn1(g)))), alpha


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
    dtypes = {"F32": torch.float32, "F64": torch.float64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(raw[8 + n + a : 8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=dtypes[t["dtype"]]).reshape(t["shape"]).clone()
    return out


def read_graphs(d):
    meta = json.load(open(f"{d}/meta.json"))
    dt = {"i32": torch.int32, "f64": torch.float64}
    arr = {}
    for name, kind in meta["files"]:
        buf = bytearray(open(f"{d}/{name}.bin", "rb").read())
        arr[name] = torch.frombuffer(buf, dtype=dt[kind]).clone() if buf else torch.zeros(0, dtype=dt[kind])
    for k in ["node_ptr", "edge_ptr", "in_ptr", "src", "dst", "rev", "species", "labels"]:
        arr[k] = arr[k].long()
    return meta, arr


def batch_tensors(meta, arr, g0, g1, dtype):
    """Inputs of graphs g0..g1 as one batch, indices shifted to start at 0."""
    n0, n1 = int(arr["node_ptr"][g0]), int(arr["node_ptr"][g1])
    e0, e1 = int(arr["edge_ptr"][g0]), int(arr["edge_ptr"][g1])
    x = torch.nn.functional.one_hot(arr["species"][n0:n1], meta["n_species"]).to(dtype)
    src = arr["src"][e0:e1] - n0
    dst = arr["dst"][e0:e1] - n0
    rev = arr["rev"][e0:e1] - e0
    dist = ((arr["dist"][e0:e1] - meta["dist_mean"]) / meta["dist_std"]).to(dtype)
    counts_n = arr["node_ptr"][g0 + 1 : g1 + 1] - arr["node_ptr"][g0:g1]
    counts_e = arr["edge_ptr"][g0 + 1 : g1 + 1] - arr["edge_ptr"][g0:g1]
    ng = g1 - g0
    node_graph = torch.repeat_interleave(torch.arange(ng), counts_n)
    edge_graph = torch.repeat_interleave(torch.arange(ng), counts_e)
    return (x, src, dst, rev, dist, edge_graph, node_graph, ng), arr["labels"][g0:g1]


def timed(batches, seconds, step):
    step(batches[0])  # warm-up
    n, i, t0 = 0, 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < seconds:
        b = batches[i % len(batches)]
        step(b)
        n += len(b[1])
        i += 1
    return n, time.perf_counter() - t0


def bench(meta, arr, seconds):
    torch.manual_seed(0)
    net = MPNN(meta["n_species"], meta["hidden"], meta["depth"], meta["attention"], meta["dropout"])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    G, B = meta["n_graphs"], max(1, meta["batch"])
    batches = [batch_tensors(meta, arr, g, min(g + B, G), torch.float32) for g in range(0, G, B)]

    def train_step(b):
        net.train()
        opt.zero_grad()
        logits, _ = net(*b[0])
        torch.nn.functional.cross_entropy(logits, b[1]).backward()
        opt.step()

    def attention_step(b):
        net.eval()
        with torch.no_grad():
            net(*b[0])

    rows = []
    for what, step in [("train", train_step), ("attention", attention_step)]:
        n, s = timed(batches, seconds, step)
        rows.append({"what": what, "graphs": n, "seconds": s})
        print(f"torch {what}: {n} graphs in {s:.2f} s, {n / s:.2f} graphs/s ({torch.get_num_threads()} threads)")
    return rows


def check(meta, arr, model_dir):
    cfg = json.load(open(f"{model_dir}/config.json"))
    net = MPNN(cfg["n_species"], cfg["config"]["hidden"], cfg["config"]["depth"], cfg["config"]["attention"])
    net.load_state_dict(load_safetensors(f"{model_dir}/model.safetensors"))
    net = net.double().eval()
    G = meta["n_graphs"]
    out = []
    with torch.no_grad():
        for g in range(G):  # one graph at a time: per-graph attention does not depend on the batch
            inputs, _ = batch_tensors(meta, arr, g, g + 1, torch.float64)
            out.append(net(*inputs)[0])
    ours = torch.cat(out).reshape(-1)
    for name in ["logits_f64", "logits_f32"]:
        d = (ours - arr[name]).abs().max().item()
        scale = arr[name].abs().max().item()
        print(f"max |torch - glasscam {name}| = {d:.3e} over {G} graphs (max |logit| {scale:.3f})")
    return ours


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--graphs", required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json")
    ap.add_argument("--check", metavar="MODEL_DIR")
    ap.add_argument("--threads", type=int)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    meta, arr = read_graphs(a.graphs)
    if a.check:
        if "logits_f64" not in arr:
            sys.exit("the export has no logits: write it with glasscam bench gnn --model DIR --export DIR")
        check(meta, arr, a.check)
        return
    rows = bench(meta, arr, a.seconds)
    if a.json:
        json.dump(rows, open(a.json, "w"))


if __name__ == "__main__":
    main()
