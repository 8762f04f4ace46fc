"""Ctrl-C interrupts a long computation cleanly and leaves the extension usable."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import glasscam


@pytest.fixture(autouse=True)
def sigint_raises_keyboard_interrupt():
    # A shell that starts a job in the background without job control hands it SIGINT ignored, and Python then
    # installs no handler: Ctrl-C is what these tests are about, so they put Python's own handler in place.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_ctrl_c_interrupts_a_long_batch_promptly():
    rng = np.random.default_rng(5)
    one = rng.uniform(0, 20.0, size=(500, 2))
    small = np.tile(one, (20, 1, 1))
    t0 = time.perf_counter()
    glasscam.voronoi(small, 20.0)
    per_config = (time.perf_counter() - t0) / 20
    batch = np.tile(one, (int(4.0 / per_config) + 100, 1, 1))  # about 4 s of work on one core
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        glasscam.voronoi(batch, 20.0)
    elapsed = time.perf_counter() - t0
    timer.join()
    assert elapsed < 1.5, f"took {elapsed:.2f} s to stop"
    # the extension is still usable afterwards
    assert glasscam.voronoi(one, 20.0).areas.shape == (500,)


def test_ctrl_c_stops_a_simulation_with_a_checkpoint_and_resume_finishes_it_identically(tiny_system_file, tmp_path):
    run = dict(replicas=4, seed=7, backend="cpu", progress=False)  # quick preset: ~1 s of MD on the tiny system
    whole = glasscam.simulate(tiny_system_file, out=tmp_path / "whole", **run)
    events = []

    def ctrl_c_at_third_advance(kind, value):
        events.append(kind)
        if kind == "advance" and events.count("advance") == 3:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        glasscam.simulate(tiny_system_file, out=tmp_path / "cut", **{**run, "progress": ctrl_c_at_third_advance})
    assert events[:2] == ["note", "begin"]
    assert not (tmp_path / "cut" / "manifest.json").exists(), "the run finished although it was interrupted"
    # the library names the keyword a Python caller passes, not the CLI's flag
    with pytest.raises(ValueError, match="unfinished run of these settings; add `resume`") as refused:
        glasscam.simulate(tiny_system_file, out=tmp_path / "cut", **run)
    assert "--" not in str(refused.value)
    resumed = glasscam.simulate(tiny_system_file, out=tmp_path / "cut", resume=True, **run)
    assert np.array_equal(resumed.positions, whole.positions)
    for name in ("positions.npy", "species.npy", "labels.npy", "box.npy"):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
