"""Ctrl-C interrupts a long computation cleanly and leaves the extension usable."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import glasscam


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
