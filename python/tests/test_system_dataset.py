"""System construction, simulate() against `glasscam simulate`, Dataset save/load in the CLI's format."""

import json

import numpy as np
import pytest

import glasscam
from conftest import TINY_PROTOCOL, TINY_REPLICAS, TINY_SEED, TINY_SYSTEM, files_of


def test_presets_and_system_files_give_the_libraries_systems(tiny_system_file):
    kam = glasscam.System.preset("kam")
    assert (kam.name, kam.n, kam.n_species, kam.density) == ("kam", 2000, 2, 1.09)
    assert kam.box_l == pytest.approx((2000 / 1.09) ** 0.5, rel=1e-15)
    assert kam.species.dtype == np.uint32 and kam.species.shape == (2000,)
    assert np.bincount(kam.species).tolist() == [1300, 700]
    tiny = glasscam.System.from_file(tiny_system_file)
    assert tiny == glasscam.System.from_toml(TINY_SYSTEM)
    assert tiny.diameters.tolist() == [1.0, 0.88]
    # System(...) from the same fields as the TOML file
    fields = json.loads(tiny.to_json())
    assert glasscam.System(**fields) == tiny


def test_bad_systems_raise_with_the_librarys_messages(tmp_path):
    with pytest.raises(ValueError, match="unknown preset `lj`"):
        glasscam.System.preset("lj")
    with pytest.raises(ValueError, match="missing field `density`"):
        glasscam.System(name="x", species=[], pairs=[], t_liquid=1.0, t_glass=0.1)
    bad = TINY_SYSTEM.replace("density = 1.09", "density = -1")
    with pytest.raises(glasscam.GlasscamError, match="density"):
        glasscam.System.from_toml(bad, "bad.toml")
    with pytest.raises(glasscam.GlasscamError, match="nothere.toml"):
        glasscam.System.from_file(tmp_path / "nothere.toml")


def test_simulate_writes_exactly_what_the_cli_writes(cli_data, tiny_system_file, tmp_path):
    out = tmp_path / "py"
    data = glasscam.simulate(
        tiny_system_file, replicas=TINY_REPLICAS, seed=TINY_SEED, backend="cpu", out=out, progress=False,
        **TINY_PROTOCOL,
    )
    want = files_of(cli_data)
    assert sorted(want) == ["box.npy", "labels.npy", "manifest.json", "positions.npy", "species.npy"]
    assert files_of(out) == want
    assert data.positions.shape == (2 * TINY_REPLICAS, 100, 2) and data.positions.dtype == np.float64
    assert data.labels.tolist() == [0, 1] * TINY_REPLICAS
    assert data.classes[:2] == ["liquid", "glass"]
    # without out: a temporary directory, the same numbers
    mem = glasscam.simulate(
        glasscam.System.from_file(tiny_system_file), replicas=2, seed=TINY_SEED, backend="cpu", progress=False,
        **TINY_PROTOCOL,
    )
    assert mem.path is None
    assert np.array_equal(mem.positions, data.positions[:4])


def test_dataset_round_trips_through_save_and_load(cli_data, tmp_path):
    data = glasscam.Dataset.load(cli_data)
    assert len(data) == 2 * TINY_REPLICAS and data.box.tolist() == [data.manifest["box_l"]] * 2
    data.save(tmp_path / "copy")
    assert files_of(tmp_path / "copy") == files_of(cli_data)
    back = glasscam.Dataset.load(tmp_path / "copy")
    for name in ("positions", "species", "labels", "box"):
        a, b = getattr(data, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.manifest == data.manifest
    assert back.system == glasscam.System.from_toml(TINY_SYSTEM)
    assert data.of_class("glass").tolist() == list(range(1, 2 * TINY_REPLICAS, 2))


def test_dataset_errors_name_the_directory(tmp_path, cli_data):
    with pytest.raises(glasscam.GlasscamError, match="manifest.json"):
        glasscam.Dataset.load(tmp_path)
    data = glasscam.Dataset.load(cli_data)
    data.positions = data.positions[:3]
    with pytest.raises(ValueError, match=r"positions: the manifest describes 20 snapshots of 100 particles"):
        data.save(tmp_path / "bad")
