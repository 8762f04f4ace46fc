#!/usr/bin/env python3
"""The networks of `glasscam bench nn` in PyTorch, timed the same way: training steps (forward with dropout,
cross-entropy, backward, Adam) and Grad-CAM batches (forward, gradient of the class score with respect to the last
convolution's maps, alpha-weighted sum, ReLU), in images/s, on random images of the model's grid with 2 channels.

Usage: torch_cnn.py [--model presets/quick-model.toml] [--grid G] [--steps N] [--seconds S] [--threads T]
                    [--device cuda|cpu] [--json FILE]
Without --model: the paper's network (docs/methods.md, "CNN"; glasscam's ModelConfig defaults). --seconds times each
part for at least that long (and at least --steps steps); --threads sets torch's intra-op threads (default: as
installed). `glasscam bench nn --torch` runs this beside glasscam, alternating.
"""

import argparse
import json
import sys
import time
import tomllib

import torch
from torch import nn

# glasscam's ModelConfig defaults (src/nn/config.rs), the paper's network
DEFAULTS = {
    "grid": 128,
    "conv_channels": [8, 16, 16],
    "kernel": 5,
    "head": "flatten",
    "hidden": 64,
    "dropout": 0.5,
    "batch": 32,
    "lr": 1e-3,
}


class Net(nn.Module):
    def __init__(self, cfg, channels=2, classes=2):
        super().__init__()
        layers = []
        c_in = channels
        for c_out in cfg["conv_channels"]:
            # circular padding, as glasscam's periodic images
            layers.append(
                nn.Conv2d(c_in, c_out, cfg["kernel"], padding=cfg["kernel"] // 2, padding_mode="circular")
            )
            c_in = c_out
        self.convs = nn.ModuleList(layers)
        self.head = cfg["head"]
        flat = c_in if self.head == "mean" else c_in * cfg["grid"] ** 2
        self.fc1 = nn.Linear(flat, cfg["hidden"])
        self.drop = nn.Dropout(cfg["dropout"])
        self.fc2 = nn.Linear(cfg["hidden"], classes)

    def features(self, x):
        for conv in self.convs:
            x = torch.relu(conv(x))
        return x

    def classify(self, a):
        h = a.mean(dim=(2, 3)) if self.head == "mean" else a.flatten(1)
        return self.fc2(self.drop(torch.relu(self.fc1(h))))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(cfg, steps, device, seconds=0.0):
    torch.manual_seed(1)
    net = Net(cfg).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
    b, g = cfg["batch"], cfg["grid"]
    x = torch.rand(b, 2, g, g, device=device)
    y = (torch.arange(b, device=device) % 2).long()
    loss_fn = nn.CrossEntropyLoss()

    def train_step():
        net.train()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net.classify(net.features(x)), y)
        loss.backward()
        opt.step()

    def gradcam(cls=1):
        net.eval()
        a = net.features(x).detach().requires_grad_(True)
        score = net.classify(a)[:, cls].sum()
        (ga,) = torch.autograd.grad(score, a)
        alpha = ga.mean(dim=(2, 3), keepdim=True)
        return torch.relu((alpha * a).sum(dim=1))

    out = {}
    for name, fn in [("train_per_s", train_step), ("gradcam_per_s", gradcam)]:
        fn()  # warm-up: kernels chosen, memory allocated
        sync(device)
        t = time.perf_counter()
        n = 0
        while n < steps or time.perf_counter() - t < seconds:
            fn()
            n += 1
        sync(device)
        out[name] = n * b / (time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a glasscam model file (TOML); default: the paper's network")
    ap.add_argument("--grid", type=int, help="grid size G (default: the model's)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", help="also write the row here")
    a = ap.parse_args()
    cfg = dict(DEFAULTS)
    if a.model:
        with open(a.model, "rb") as f:
            cfg.update({k: v for k, v in tomllib.load(f).items() if k in DEFAULTS})
    if a.grid:
        cfg["grid"] = a.grid
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    row = {
        "backend": f"pytorch {torch.__version__} {device.type}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f" ({torch.get_num_threads()} threads)"),
        "model": a.model or "paper (defaults)",
        "grid": cfg["grid"],
        "batch": cfg["batch"],
        **bench(cfg, a.steps if a.seconds <= 0 else 2, device, a.seconds),
    }
    print(f"{row['backend']:<60} {row['train_per_s']:>14.1f} {row['gradcam_per_s']:>16.1f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(row, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
