"""Overhead of calling voronoi + tong_tanaka + coarse_grain from Python against `glasscam bench analysis` (Rust),
measured in one run on the same configurations.

    python python/benches/overhead.py [--configs 16] [--glasscam target/release/glasscam]

Runs the Rust bench (which writes its configurations), then times the same three stages from Python: one
configuration per call on one thread (against the bench's single-thread median per configuration), and the whole
batch in one call of each function (parallel over the batch, against the bench's all-core rate, which also
normalises and correlates: more work than the Python side does). Alternates Rust and Python runs `--rounds` times.
"""

import argparse
import os
import re
import subprocess
import tempfile
import time

import numpy as np

import glasscam


def rust_bench(exe, configs, out):
    text = subprocess.run(
        [exe, "bench", "analysis", "--configs", str(configs), "--out", out], capture_output=True, text=True,
        check=True,
    ).stdout
    total = re.search(r"^total\s+([\d.]+)\s+([\d.]+)", text, re.M)
    rate = re.search(r"all cores \((\d+) threads.*: ([\d.]+) configurations/s", text)
    return float(total.group(1)) / 1e3, float(total.group(2)) / 1e3, float(rate.group(2)), int(rate.group(1))


def python_stages(pos, box, species, diam):
    v = glasscam.voronoi(pos, box)
    theta = glasscam.tong_tanaka(pos, box, diam, species=species, voronoi=v)
    fields = np.stack([v.areas, theta], axis=-2)
    return glasscam.coarse_grain(fields, pos, box)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--glasscam", default=os.environ.get("GLASSCAM_BIN", "target/release/glasscam"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        species = (np.arange(2000) % 2).astype(np.uint32)  # as the Rust bench: half A, half B of the ABM
        diam = glasscam.System.preset("abm").diameters
        rows = []
        for _ in range(a.rounds):
            r_med, r_min, r_rate, threads = rust_bench(a.glasscam, a.configs, d)
            pos = np.load(os.path.join(d, "configs.npy"))
            box = np.load(os.path.join(d, "box.npy"))
            per = []
            for c in range(len(pos)):
                t0 = time.perf_counter()
                python_stages(pos[c], box, species, diam)
                per.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            python_stages(pos, box, species, diam)
            p_rate = len(pos) / (time.perf_counter() - t0)
            rows.append((r_med, float(np.median(per)), r_min, min(per), r_rate, p_rate))
        print(f"{a.configs} configurations of 2000 particles, {threads} threads; per round: Rust vs Python")
        print(f"{'median ms/config':>18} {'':>8} {'min ms/config':>16} {'':>8} {'batch configs/s':>18}")
        for r_med, p_med, r_min, p_min, r_rate, p_rate in rows:
            print(
                f"{1e3 * r_med:8.3f} {1e3 * p_med:8.3f} ({p_med / r_med - 1:+6.1%}) "
                f"{1e3 * r_min:8.3f} {1e3 * p_min:8.3f} ({p_min / r_min - 1:+6.1%}) "
                f"{r_rate:8.1f} {p_rate:8.1f} ({r_rate / p_rate - 1:+6.1%} time)"
            )
        best = lambda k: min(r[k] for r in rows)
        print(
            f"best of {a.rounds}: Python costs {best(3) / best(2) - 1:+.1%} per configuration (min), "
            f"median of medians {np.median([r[1] / r[0] - 1 for r in rows]):+.1%}"
        )


if __name__ == "__main__":
    main()
