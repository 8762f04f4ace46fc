"""A model trained by the CLI predicts and explains in Python exactly as the CLI scored it."""

import json

import numpy as np
import pytest

import glasscam

# A tiny network on top of the paper's defaults (docs/methods.md, "CNN") (what a model file given to `glasscam train --model` means).
TINY_MODEL = dict(
    grid=16, cutoff=3.0, conv_channels=[4, 4], kernel=3, head="mean", hidden=8, dropout=0.0, batch=8, epochs=2,
    standardize=True,
)


def toml_of(fields):
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        return str(v)

    return "".join(f"{k} = {value(v)}\n" for k, v in fields.items())


@pytest.fixture(scope="module")
def trained(cli, cli_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    (d / "model.toml").write_text(toml_of(TINY_MODEL))
    cli("train", "--backend", "cpu", "--data", cli_data, "--model", d / "model.toml", "--out", d / "m")
    cli(
        "gradcam", "--backend", "cpu", "--split", "all", "--configs", "both", "--class", "glass",
        "--model", d / "m", "--data", cli_data, "--out", d / "gc",
    )
    return d / "m", d / "gc"


def test_gradcam_and_predictions_equal_the_clis(cli_data, trained):
    mdir, gc = trained
    data = glasscam.Dataset.load(cli_data)
    model = glasscam.Model.load(mdir, backend="cpu")
    assert (model.grid, model.n_species) == (16, 2) and model.box_l == data.box[0]
    f = json.loads((gc / "gradcam.json").read_text())
    snaps = np.array(f["snapshots"])
    assert len(snaps) == len(data)
    r = model.gradcam(data.positions[snaps], data.species, cls="glass")
    assert np.array_equal(r.probabilities[:, 1], np.array(f["p_glass"]))
    assert np.array_equal(r.gamma, np.load(gc / "gamma.npy"))
    assert r.maps.dtype == np.float32 and np.array_equal(r.maps, np.load(gc / "maps.npy"))
    p = model.predict(data)
    assert p.shape == (len(data), 2) and np.array_equal(p[snaps], r.probabilities)
    assert np.allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    predicted = np.where(p[snaps, 1] > p[snaps, 0], "glass", "liquid")
    assert predicted.tolist() == f["predicted"]
    # one configuration alone gives the same as within the batch
    assert np.array_equal(model.predict(data.positions[3], data.species), p[3])


def test_train_writes_the_model_the_cli_writes(cli_data, trained, tmp_path):
    mdir, _ = trained
    metrics = glasscam.train(cli_data, tmp_path / "m", preset="paper", backend="cpu", progress=False, **TINY_MODEL)
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == (mdir / "model.safetensors").read_bytes()
    assert (tmp_path / "m" / "config.json").read_bytes() == (mdir / "config.json").read_bytes()
    want = json.loads((mdir / "metrics.json").read_text())
    for key in ("validation", "test", "history", "best_epoch"):
        assert metrics[key] == want[key], key
    with pytest.raises(ValueError, match="unknown model preset `huge`"):
        glasscam.train(cli_data, tmp_path / "x", preset="huge")
    with pytest.raises(ValueError, match="config: unknown field `colour`"):
        glasscam.train(cli_data, tmp_path / "x", colour=1)


def test_test_split_scores_equal_metrics_json(cli_data, trained):
    mdir, _ = trained
    data = glasscam.Dataset.load(cli_data)
    model = glasscam.Model.load(mdir, backend="cpu")
    metrics = json.loads((mdir / "metrics.json").read_text())
    test_replicas = set(model.config["split"]["test"])
    rows = [s["index"] for s in data.manifest["snapshots"] if s["replica"] in test_replicas and s["label"] >= 0]
    p = model.predict(data.positions[rows], data.species, box=data.box)
    truth = data.labels[rows]
    pred = (p[:, 1] > p[:, 0]).astype(int)
    confusion = [[int(np.sum((truth == t) & (pred == q))) for q in (0, 1)] for t in (0, 1)]
    assert confusion == metrics["test"]["confusion"]
    assert metrics["test"]["n"] == len(rows)


def test_model_inputs_are_checked(cli_data, trained, tmp_path):
    mdir, _ = trained
    data = glasscam.Dataset.load(cli_data)
    model = glasscam.Model.load(mdir, backend="cpu")
    with pytest.raises(ValueError, match="box: .* trained on a box of side"):
        model.predict(data.positions[0], data.species, box=data.box[0] * 1.1)
    with pytest.raises(ValueError, match="species 2, but the model takes 2 species"):
        model.predict(data.positions[0], np.full(100, 2, dtype=np.uint32))
    with pytest.raises(ValueError, match="unknown class `solid`"):
        model.gradcam(data, cls="solid")
    with pytest.raises(ValueError, match="species: give the species"):
        model.predict(data.positions[0])
    with pytest.raises(glasscam.GlasscamError, match="model"):
        glasscam.Model.load(tmp_path, backend="cpu")


def test_progress_callback_gets_events_and_its_exception_stops_the_run(cli_data, trained):
    data = glasscam.Dataset.load(cli_data)
    model = glasscam.Model.load(trained[0], backend="cpu", batch=4)
    seen = []
    model.predict(data, progress=lambda kind, value: seen.append((kind, value)))
    assert seen[0] == ("begin", ("configurations", len(data)))
    assert sum(v for k, v in seen if k == "advance") == len(data)
    assert seen[-1] == ("end", None)

    class Stop(Exception):
        pass

    def stop(kind, value):
        if kind == "advance":
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        model.predict(data, progress=stop)
