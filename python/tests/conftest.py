"""Shared fixtures: the `glasscam` CLI binary and small data sets it writes (the tests make their own data)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The 100-particle KAM-like system the Rust tests use too (with T* for propensity).
TINY_SYSTEM = (ROOT / "tests" / "data" / "tiny.toml").read_text()

# A fast protocol for the tiny system: the CLI flags and the same as simulate() keywords.
TINY_PROTOCOL = dict(cool_rate=2.0, equilibrate_time=0.5, hold_time=0.2)
TINY_REPLICAS = 10
TINY_SEED = 4


def _find_cli() -> str:
    """The CLI binary: $GLASSCAM_BIN, else the workspace's target (release first), else `glasscam` on PATH."""
    env = os.environ.get("GLASSCAM_BIN")
    candidates = [env] if env else []
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates += [str(target / "release" / "glasscam"), str(target / "debug" / "glasscam")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    found = shutil.which("glasscam")
    if found:
        return found
    pytest.fail(
        "the glasscam CLI binary was not found: build it (`cargo build --release`) or set GLASSCAM_BIN",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def cli():
    """Runs the CLI; fails the test with its stderr when it fails."""
    exe = _find_cli()

    def run(*args):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.fail(f"glasscam {' '.join(map(str, args))} failed:\n{r.stderr}", pytrace=False)
        return r

    return run


@pytest.fixture(scope="session")
def tiny_system_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("system") / "tiny.toml"
    p.write_text(TINY_SYSTEM)
    return p


@pytest.fixture(scope="session")
def cli_data(cli, tiny_system_file, tmp_path_factory):
    """A data set written by `glasscam simulate` (10 replicas of the tiny system, CPU twin)."""
    out = tmp_path_factory.mktemp("cli") / "data"
    cli(
        "simulate", "--system", tiny_system_file, "--replicas", TINY_REPLICAS,
        "--cool-rate", TINY_PROTOCOL["cool_rate"], "--equilibrate-time", TINY_PROTOCOL["equilibrate_time"],
        "--hold-time", TINY_PROTOCOL["hold_time"], "--backend", "cpu", "--seed", TINY_SEED, "--out", out,
    )
    return out


def files_of(d: Path) -> dict:
    """Every regular file's bytes under d (relative names)."""
    return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir()) if p.is_file()}
