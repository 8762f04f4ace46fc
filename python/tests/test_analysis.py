"""voronoi, tong_tanaka, coarse_grain, normalise against `glasscam analyze` (bit-identical: the same library
functions), against freud, batch against one configuration, and the shape and dtype checks."""

import numpy as np
import pytest

import glasscam


def random_periodic(n, box_l, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, box_l, size=(n, 2))


@pytest.fixture(scope="module")
def analyzed(cli, cli_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze")
    cli("analyze", "--data", cli_data, "--no-plots", "--out", out)
    return out


def test_indicators_equal_glasscam_analyze_bit_for_bit(cli_data, analyzed):
    data = glasscam.Dataset.load(cli_data)
    snaps = np.load(analyzed / "snapshots.npy")
    assert len(snaps) > 0
    pos = data.positions[snaps]
    diam = data.system.diameters
    v = glasscam.voronoi(pos, data.box)
    assert np.array_equal(v.areas, np.load(analyzed / "upsilon.npy"))
    assert np.array_equal(v.neighbour_counts, np.load(analyzed / "n_neighbours.npy"))
    theta = glasscam.tong_tanaka(pos, data.box, diam, species=data.species, voronoi=v)
    assert np.array_equal(theta, np.load(analyzed / "theta.npy"))
    # per-particle diameters and a fresh tessellation give the same
    per_particle = diam[data.species]
    assert np.array_equal(glasscam.tong_tanaka(pos, data.box, per_particle), theta)
    cg = glasscam.coarse_grain(np.stack([v.areas, theta], axis=1), pos, data.box, xi=3.0)
    assert cg.shape == (len(snaps), 2, 100)
    assert np.array_equal(glasscam.normalise(cg[:, 0]), np.load(analyzed / "upsilon_cg.npy"))
    assert np.array_equal(glasscam.normalise(cg[:, 1]), np.load(analyzed / "theta_cg.npy"))


def test_a_batch_equals_its_configurations_one_by_one():
    box = 30.0
    pos = np.stack([random_periodic(400, box, s) for s in range(3)])
    values = np.random.default_rng(9).normal(size=(3, 400))
    vb = glasscam.voronoi(pos, box)
    cb = glasscam.coarse_grain(values, pos, box, xi=2.0)
    tb = glasscam.tong_tanaka(pos, box, np.full(400, 1.0))
    for k in range(3):
        v = glasscam.voronoi(pos[k], (box, box))
        assert np.array_equal(vb.areas[k], v.areas)
        assert np.array_equal(vb.neighbours[k], v.neighbours)
        assert np.array_equal(cb[k], glasscam.coarse_grain(values[k], pos[k], box, xi=2.0))
        assert np.array_equal(tb[k], glasscam.tong_tanaka(pos[k], box, np.full(400, 1.0)))
    # areas tile the box
    assert np.allclose(vb.areas.sum(axis=1), box * box, rtol=1e-12)


def test_voronoi_equals_freud_on_2000_random_periodic_particles():
    freud = pytest.importorskip("freud")  # installed with the package's [test] extra; CI installs it
    box_l = (2000 / 1.2) ** 0.5
    pos = random_periodic(2000, box_l, 42)
    ours = glasscam.voronoi(pos, box_l)
    fbox = freud.box.Box.square(box_l)
    pts = np.zeros((2000, 3))
    pts[:, :2] = pos - box_l / 2  # freud's box is centred on the origin
    fv = freud.locality.Voronoi()
    fv.compute((fbox, pts))
    rel = np.abs(ours.areas - fv.volumes) / fv.volumes
    assert rel.max() <= 1e-4, f"worst particle {rel.argmax()}: {ours.areas[rel.argmax()]} vs {fv.volumes[rel.argmax()]}"
    mine = {(int(i), int(j)) for i, j in ours.neighbours}
    theirs = set(zip(fv.nlist.query_point_indices.tolist(), fv.nlist.point_indices.tolist()))
    assert mine == theirs
    # a freud box is accepted as the box (freud keeps its sides in float32)
    assert np.array_equal(glasscam.voronoi(pos, fbox).areas, glasscam.voronoi(pos, (fbox.Lx, fbox.Ly)).areas)


def test_shapes_and_dtypes_are_checked_with_clear_errors():
    pos = random_periodic(50, 10.0, 1)
    with pytest.raises(ValueError, match=r"positions: expected shape \(N, 2\) or \(B, N, 2\), got \(50, 3\)"):
        glasscam.voronoi(np.zeros((50, 3)), 10.0)
    with pytest.raises(ValueError, match=r"positions: expected a float64 array .* got dtype float32"):
        glasscam.voronoi(pos.astype(np.float32), 10.0)
    with pytest.raises(ValueError, match=r"box: sides must be positive"):
        glasscam.voronoi(pos, -1.0)
    with pytest.raises(ValueError, match=r"box: expected a side L or sides \(Lx, Ly\), got 3 values"):
        glasscam.voronoi(pos, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"values: expected shape \(50,\) or \(F, 50\)"):
        glasscam.coarse_grain(np.zeros(49), pos, 10.0)
    with pytest.raises(ValueError, match=r"values: expected shape \(2, 50\) or \(2, F, 50\)"):
        glasscam.coarse_grain(np.zeros(50), np.stack([pos, pos]), 10.0)
    with pytest.raises(ValueError, match=r"diameters: expected shape \(50,\)"):
        glasscam.tong_tanaka(pos, 10.0, np.ones(3))
    with pytest.raises(ValueError, match=r"species: expected an integer array of shape \(50,\), got dtype float64"):
        glasscam.gridize(pos, np.zeros(50), 10.0)
    with pytest.raises(ValueError, match=r"species: expected shape \(50,\), got \(49,\)"):
        glasscam.gridize(pos, np.zeros(49, dtype=np.uint32), 10.0)
    with pytest.raises(ValueError, match=r"gridize needs a square box"):
        glasscam.gridize(pos, np.zeros(50, dtype=np.uint32), (10.0, 11.0))
    # the library's own checks come through with its message
    dup = pos.copy()
    dup[1] = dup[0]
    with pytest.raises(ValueError):
        glasscam.voronoi(dup, 10.0)


def test_gridize_is_a_normalised_gaussian_per_particle():
    pos = random_periodic(30, 8.0, 3)
    species = (np.arange(30) % 2).astype(np.uint32)
    img = glasscam.gridize(pos, species, 8.0, grid=16, width=0.4, cutoff=3.0)
    assert img.shape == (2, 16, 16) and img.dtype == np.float32
    # every particle adds exactly 1 to its species' channel
    assert np.allclose(img.sum(axis=(1, 2)), [15, 15], rtol=1e-5)
    batch = glasscam.gridize(np.stack([pos, pos[::-1]]), species, 8.0, grid=16, width=0.4, cutoff=3.0)
    assert batch.shape == (2, 2, 16, 16) and np.array_equal(batch[0], img)
    # one particle at (4.1, 3.9): a Gaussian on the window of ceil(3 * 0.4 / 0.5) = 3 pixels around its pixel,
    # normalised over the window; rows are y, columns x
    one = glasscam.gridize(np.array([[4.1, 3.9]]), np.zeros(1, dtype=np.uint32), 8.0, grid=16, width=0.4, cutoff=3.0)
    c = (np.arange(16) + 0.5) * 0.5
    g = np.exp(-((c[:, None] - 3.9) ** 2 + (c[None, :] - 4.1) ** 2) / (2 * 0.4**2))
    win = np.zeros((16, 16), dtype=bool)
    win[7 - 3 : 7 + 4, 8 - 3 : 8 + 4] = True
    g[~win] = 0.0
    assert np.allclose(one[0], g / g.sum(), rtol=1e-6, atol=1e-9)
