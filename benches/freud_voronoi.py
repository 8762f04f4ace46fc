#!/usr/bin/env python3
"""Times freud's periodic 2D Voronoi on the configurations the Rust analysis bench uses.

Run `cargo bench --bench analysis` (or `glasscam bench analysis`) first: it writes
target/bench-analysis/configs.npy (float64 [S, N, 2], positions in [0, L)) and box.npy (float64 [2]).
Usage: python3 benches/freud_voronoi.py [DIR]
"""
import os
import sys
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "target", "bench-analysis")
    try:
        import numpy as np
    except ImportError:
        print("numpy is not installed (pip install numpy); cannot read the configurations")
        return 0
    try:
        import freud
    except ImportError:
        print("freud is not installed (pip install freud-analysis); nothing to compare against")
        return 0
    cpath, bpath = os.path.join(d, "configs.npy"), os.path.join(d, "box.npy")
    if not (os.path.exists(cpath) and os.path.exists(bpath)):
        print(f"{cpath} not found: run `cargo bench --bench analysis` first")
        return 1
    configs = np.load(cpath)
    lx, ly = np.load(bpath)
    box = freud.box.Box.from_box([lx, ly], dimensions=2)
    voro = freud.locality.Voronoi()
    times = []
    for conf in configs:
        # freud wants 3D points centred on the origin, z = 0 for 2D boxes.
        pts = np.zeros((conf.shape[0], 3))
        pts[:, :2] = conf - np.array([lx, ly]) / 2
        voro.compute((box, pts))  # warm-up for this configuration
        t0 = time.perf_counter()
        voro.compute((box, pts))
        times.append(time.perf_counter() - t0)
        total = voro.volumes.sum()
        assert abs(total - lx * ly) < 1e-6 * lx * ly, (total, lx * ly)
    times.sort()
    med = times[len(times) // 2]
    print(f"freud {freud.__version__} periodic Voronoi, {configs.shape[1]} points, {len(times)} configurations:")
    print(f"  median {1e3 * med:.3f} ms/config, min {1e3 * times[0]:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
