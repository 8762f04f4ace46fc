"""From a simulation to a Grad-CAM (Gamma) map and its correlation with the Voronoi area, in a page of Python.

    pip install ./python matplotlib
    python examples/python/gamma_map.py [OUT_DIR]

Simulates quick KAM glasses and liquids, trains the quick CNN on them, explains a test glass with Grad-CAM, and
correlates the coarse-grained Gamma with the Voronoi area Upsilon and 1 - Theta (Tong-Tanaka), as the paper's Fig. 3.
Takes about ten minutes on a 2-core CPU (most of it training). Writes OUT_DIR/gamma_map.png.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import glasscam

out = Path(sys.argv[1] if len(sys.argv) > 1 else "glasscam-example")

# 1. Simulate: 24 replicas of KAM, each snapshotted as a liquid (T_L) and a glass (T_G). A rerun reuses the data.
data = glasscam.simulate("kam", replicas=24, preset="quick", seed=11, out=out / "data", resume=True)
print(data, "labels:", np.bincount(data.labels))

# 2. Train the quick CNN (presets/quick-model.toml: 300 epochs; 80/8/12 % of the replicas for training/validation/
#    test). Far fewer epochs separate the classes but leave p(glass) near 1/2 and the glass Grad-CAM map near zero.
metrics = glasscam.train(data, out / "model")
print("test accuracy:", metrics["test"]["accuracy"], "AUC:", round(metrics["test"]["roc_auc"], 3))

# 3. Grad-CAM of the class "glass" on the test glasses: Gamma per particle and the map on the grid.
model = glasscam.Model.load(out / "model")
test = set(model.config["split"]["test"])
rows = [s["index"] for s in data.manifest["snapshots"] if s["class"] == "glass" and s["replica"] in test]
pos = data.positions[rows]
cam = model.gradcam(pos, data.species, cls="glass", box=data.box)
print("p(glass) of the test glasses:", np.round(cam.probabilities[:, 1], 3))

# 4. Structural indicators of the same configurations (one batched call each), coarse-grained with xi = 3.
vor = glasscam.voronoi(pos, data.box)
theta = glasscam.tong_tanaka(pos, data.box, data.system.diameters, species=data.species, voronoi=vor)
fields = glasscam.coarse_grain(np.stack([cam.gamma, vor.areas, theta], axis=1), pos, data.box, xi=3.0)
gamma_cg, upsilon_cg, theta_cg = (glasscam.normalise(fields[:, k]) for k in range(3))

# 5. Pearson correlation per configuration, then the mean over the test glasses.
def pearson(a, b):
    return np.array([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b)])

c_gu = pearson(gamma_cg, upsilon_cg)
c_gt = pearson(gamma_cg, 1 - theta_cg)
print(f"C(Gamma, Upsilon)   = {c_gu.mean():+.3f} +- {c_gu.std():.3f}  over {len(rows)} glasses")
print(f"C(Gamma, 1 - Theta) = {c_gt.mean():+.3f} +- {c_gt.std():.3f}")

# 6. Plot: the Grad-CAM map, Gamma on the particles, and Gamma against Upsilon for the first test glass.
fig, ax = plt.subplots(1, 3, figsize=(14, 4.5))
L = data.box[0]
ax[0].imshow(cam.maps[0], origin="lower", extent=(0, L, 0, L), cmap="viridis")
ax[0].set_title("Grad-CAM map $L^{glass}$")
sc = ax[1].scatter(*pos[0].T, c=gamma_cg[0], s=6, cmap="viridis")
ax[1].set_aspect("equal")
ax[1].set_title(r"coarse-grained $\Gamma$ per particle")
fig.colorbar(sc, ax=ax[1])
ax[2].scatter(upsilon_cg[0], gamma_cg[0], s=3, alpha=0.5)
ax[2].set_xlabel(r"$\Upsilon$ (Voronoi area, coarse-grained)")
ax[2].set_ylabel(r"$\Gamma$ (coarse-grained)")
ax[2].set_title(f"C = {c_gu[0]:+.3f}")
fig.tight_layout()
fig.savefig(out / "gamma_map.png", dpi=110)
print("wrote", out / "gamma_map.png")
