"""propensity() equals `glasscam propensity` for the same configuration and settings."""

import json

import numpy as np

import glasscam


def test_propensity_equals_the_clis(cli, cli_data, tmp_path):
    out = tmp_path / "prop"
    cli(
        "propensity", "--data", cli_data, "--snapshot", 1, "--runs", 2, "--steps", 60, "--samples", 4,
        "--backend", "cpu", "--no-plots", "--out", out,
    )
    data = glasscam.Dataset.load(cli_data)
    r = glasscam.propensity(data, 1, runs=2, steps=60, samples=4, backend="cpu", progress=False)
    curves = json.loads((out / "curves.json").read_text())
    assert r.temps == curves["temps"] and r.steps.tolist() == curves["steps"]
    assert np.array_equal(r.times, np.load(out / "times.npy"))
    assert np.array_equal(r.delta, np.load(out / "delta.npy"))
    assert np.array_equal(r.propensity, np.load(out / "propensity.npy"))
    assert r.propensity.shape == (3, len(curves["steps"]), 100)
    # the same from a System and an array
    r2 = glasscam.propensity(data.system, data.positions[1], runs=2, steps=60, samples=4, backend="cpu",
                             progress=False)
    assert r2.propensity.shape == r.propensity.shape
