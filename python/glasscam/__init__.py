"""glasscam on numpy arrays: batched glass-former simulation, structural indicators (Voronoi area, Tong-Tanaka
Theta, coarse-graining), the CNN with Grad-CAM, and dynamic propensity.

Every function calls the same Rust library functions as the ``glasscam`` command line, so the numbers are the CLI's.
Conventions follow freud: positions are float64 arrays of shape ``(N, 2)`` for one configuration or ``(B, N, 2)``
for a batch (processed in parallel over the batch); a box is a side ``L``, sides ``(Lx, Ly)`` or a 2D
``freud.box.Box``. Results are new numpy arrays. Wrong shapes or dtypes raise ``ValueError`` naming the argument;
errors of the library raise ``GlasscamError`` (or ``ValueError`` / ``OSError``) with its message. The GIL is released
while Rust computes, and Ctrl-C interrupts long runs.

Long runs (``simulate``, ``propensity``, ``Model.predict``/``gradcam``) take ``progress``: ``None`` shows a tqdm bar
when tqdm is installed and is silent otherwise, ``False`` is silent, and a callable ``progress(kind, value)``
receives every event: ``("begin", (what, total))``, ``("advance", n)``, ``("status" | "note" | "warn", text)``,
``("end", None)``.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _glasscam
from ._glasscam import GlasscamError, System, Voronoi

__version__: str = _glasscam.__version__

__all__ = [
    "GlasscamError",
    "System",
    "Dataset",
    "simulate",
    "Voronoi",
    "voronoi",
    "tong_tanaka",
    "coarse_grain",
    "normalise",
    "gridize",
    "train",
    "Model",
    "Gradcam",
    "Propensity",
    "propensity",
]

Progress = Union[None, bool, Callable[[str, Any], None]]
BoxLike = Union[float, Sequence[float], Any]
PathLike = Union[str, "os.PathLike[str]"]


def _progress(progress: Progress) -> Optional[Callable[[str, Any], None]]:
    """The callback to hand to the extension: the caller's, a tqdm bar, or none."""
    if progress is False:
        return None
    if callable(progress):
        return progress
    try:
        from tqdm.auto import tqdm  # type: ignore[import-not-found]
    except ImportError:
        return None
    bars: list = []

    def show(kind: str, value: Any) -> None:
        if kind == "begin":
            what, total = value
            bars.append(tqdm(total=total, unit=" " + what, unit_scale=True))
        elif kind == "advance" and bars:
            bars[-1].update(value)
        elif kind == "status" and bars:
            bars[-1].set_postfix_str(value)
        elif kind in ("note", "warn"):
            (tqdm.write if bars else print)(("warning: " if kind == "warn" else "") + value)
        elif kind == "end" and bars:
            bars.pop().close()

    return show


def _system(system: Union[System, str, PathLike]) -> System:
    if isinstance(system, System):
        return system
    name = os.fspath(system)
    return System.preset(name) if name in ("kam", "abm") else System.from_file(name)


class Dataset:
    """A data set in the CLI's format (``glasscam simulate`` writes it; ``glasscam train/gradcam/analyze`` read it).

    Attributes:
        positions: float64 (S, N, 2), snapshot k's positions wrapped into [0, L); ``positions.npy`` stores them as
            float32 (data set format 2), so ``save`` rounds them to the nearest float32.
        species: uint32 (N,), species index of each particle (the same in every snapshot).
        labels: int64 (S,), 1 glass, 0 liquid, -1 any other temperature.
        box: float64 (2,), box sides (L, L).
        manifest: dict, ``manifest.json``: system, protocol, seed, backend and per snapshot its replica, class,
            step, temperatures and potential energy.
        path: the directory it was loaded from or saved to, or None.
    """

    def __init__(
        self,
        positions: np.ndarray,
        species: np.ndarray,
        labels: np.ndarray,
        box: np.ndarray,
        manifest: dict,
        path: Optional[str] = None,
    ) -> None:
        self.positions = positions
        self.species = species
        self.labels = labels
        self.box = box
        self.manifest = manifest
        self.path = path

    @classmethod
    def load(cls, dir: PathLike) -> "Dataset":
        """Loads and checks a data set directory (as ``glasscam train`` does)."""
        positions, species, labels, box, manifest = _glasscam.load_dataset(os.fspath(dir))
        return cls(positions, species, labels, box, json.loads(manifest), os.fspath(dir))

    def save(self, dir: PathLike) -> None:
        """Writes the data set to ``dir`` in the CLI's format (arrays first, manifest last). The labels written are
        the manifest's; the manifest must describe ``positions`` (S snapshots of N particles)."""
        _glasscam.save_dataset(os.fspath(dir), json.dumps(self.manifest), self.positions, self.species)
        self.path = os.fspath(dir)

    @property
    def system(self) -> System:
        """The simulated system (the manifest's ``system``)."""
        return System(**self.manifest["system"])

    @property
    def classes(self) -> list:
        """Class name of every snapshot: "liquid", "glass" or "other"."""
        return [s["class"] for s in self.manifest["snapshots"]]

    def of_class(self, cls: str) -> np.ndarray:
        """Snapshot indices of class ``cls`` ("glass", "liquid" or "other")."""
        return np.array([s["index"] for s in self.manifest["snapshots"] if s["class"] == cls], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def __repr__(self) -> str:
        s, n, _ = self.positions.shape
        return f"Dataset({self.manifest['system']['name']!r}, snapshots={s}, particles={n}, path={self.path!r})"


def simulate(
    system: Union[System, str, PathLike],
    replicas: Optional[int] = None,
    preset: str = "quick",
    seed: int = 0,
    backend: str = "auto",
    cool_rate: Optional[float] = None,
    equilibrate_time: Optional[float] = None,
    hold_time: Optional[float] = None,
    dt: Optional[float] = None,
    temps: Sequence[float] = (),
    out: Optional[PathLike] = None,
    resume: bool = False,
    force: bool = False,
    progress: Progress = None,
) -> Dataset:
    """Melts, equilibrates at T = 4 and cools replicas of ``system`` at a constant rate, snapshotting each at T_L
    (liquid) and T_G (glass): ``glasscam simulate``.

    Args:
        system: a ``System``, "kam", "abm" or a system TOML file.
        replicas: number of replicas (default: the preset's).
        preset: "quick" (minutes on a CPU) or "paper" (the paper's protocol, for a GPU).
        seed: run seed; replica k is seeded from (seed, k).
        backend: "auto", "gpu" or "cpu" (as ``--backend``).
        cool_rate: cooling rate per time unit (default: the preset's).
        equilibrate_time: time at T = 4 before cooling (default: the preset's).
        hold_time: time held at each snapshot temperature (default: the preset's).
        dt: MD time step (default 0.005).
        temps: extra snapshot temperatures (class "other").
        out: directory to write the data set to (kept); by default a temporary one (deleted).
        resume: continue an unfinished (e.g. interrupted) run in ``out``, as ``--resume``.
        force: replace a data set or an unfinished run of other settings in ``out``, as ``--force``.
        progress: see the module's documentation.

    Returns:
        The data set, bit-identical to what ``glasscam simulate`` writes for the same arguments.
    """
    sys_ = _system(system)
    kw = dict(
        preset=preset,
        replicas=replicas,
        seed=int(seed),
        backend=backend,
        cool_rate=cool_rate,
        equilibrate_time=equilibrate_time,
        hold_time=hold_time,
        dt=dt,
        temps=[float(t) for t in temps],
        resume=resume,
        force=force,
        progress=_progress(progress),
    )
    if out is not None:
        _glasscam.simulate(sys_, os.fspath(out), **kw)
        return Dataset.load(out)
    with tempfile.TemporaryDirectory(prefix="glasscam-") as tmp:
        _glasscam.simulate(sys_, tmp, **kw)
        data = Dataset.load(tmp)
    data.path = None
    return data


def voronoi(positions: np.ndarray, box: BoxLike) -> Voronoi:
    """Periodic Voronoi tessellation (Upsilon = cell area) of (N, 2) positions, or of a (B, N, 2) batch.

    Returns a ``Voronoi`` with ``areas`` ((N,) or (B, N)), ``neighbour_counts``, ``neighbours`` (uint32 (M, 2)
    pairs (i, j), sorted by i, each i's neighbours counterclockwise; a list of arrays for a batch), ``edge_lengths``
    and ``vectors`` (i to j's nearest image). Neighbours share an edge of positive length.
    """
    return _glasscam.voronoi(positions, box)


def tong_tanaka(
    positions: np.ndarray,
    box: BoxLike,
    diameters: np.ndarray,
    species: Optional[np.ndarray] = None,
    voronoi: Optional[Voronoi] = None,
) -> np.ndarray:
    """Tong-Tanaka order parameter Theta of every particle: (N,) or (B, N).

    Args:
        positions: (N, 2) or (B, N, 2).
        box: side, sides or freud box.
        diameters: one per particle (N,), or with ``species`` one per species (e.g. ``System.diameters``).
        species: integer species index per particle (N,), optional.
        voronoi: the ``voronoi(positions, box)`` result, to reuse it instead of recomputing the tessellation.
    """
    return _glasscam.tong_tanaka(positions, box, diameters, species, voronoi)


def coarse_grain(
    values: np.ndarray, positions: np.ndarray, box: BoxLike, xi: float = 3.0, cutoff: float = 3.0
) -> np.ndarray:
    """Coarse-grains per-particle fields: Xbar_i = sum_j X_j e^(-r_ij/xi) / sum_j e^(-r_ij/xi) over
    r_ij < cutoff * xi (i included, minimum image).

    ``values`` is (N,) or (F, N) for positions (N, 2), and (B, N) or (B, F, N) for a batch (B, N, 2); the result
    has the shape of ``values``. Several fields of one configuration share the pair weights.
    """
    return _glasscam.coarse_grain(values, positions, box, xi, cutoff)


def normalise(values: np.ndarray) -> np.ndarray:
    """Min-max normalisation to [0, 1] along the last axis (as ``glasscam analyze`` does after coarse-graining)."""
    return _glasscam.normalise(values)


def gridize(
    positions: np.ndarray,
    species: np.ndarray,
    box: BoxLike,
    grid: int = 64,
    width: float = 0.5,
    cutoff: float = 4.0,
    n_species: Optional[int] = None,
    backend: str = "cpu",
) -> np.ndarray:
    """The CNN's input images: one normalised Gaussian (width ``width``, window ``cutoff`` widths) per particle on a
    periodic ``grid`` x ``grid`` image per species. Returns float32 (S, G, G) or (B, S, G, G) with S =
    ``n_species`` (default: the largest species index + 1). The box must be square."""
    return _glasscam.gridize(positions, species, box, grid, width, cutoff, n_species, backend)


def train(
    data: Union[Dataset, PathLike],
    out: PathLike,
    preset: str = "quick",
    backend: str = "auto",
    progress: Progress = None,
    **config: Any,
) -> dict:
    """Trains the CNN on a data set (``glasscam train``) and writes the model directory ``out``
    (``model.safetensors``, ``config.json``, ``metrics.json``); load it with ``Model.load(out)``.

    Args:
        data: a saved ``Dataset`` (it needs a ``path``) or a data set directory.
        preset: the base configuration: "quick" (presets/quick-model.toml, for quick data sets) or "paper".
        config: ``ModelConfig`` fields that replace the preset's, e.g. ``epochs=60``, ``grid=32``.

    Returns:
        ``metrics.json`` as a dict (accuracy per class, ROC AUC, confusion matrices, history).
    """
    if isinstance(data, Dataset):
        if data.path is None:
            raise ValueError("data: this Dataset is not on disk: save() it first or simulate(..., out=DIR)")
        path = data.path
    else:
        path = os.fspath(data)
    text = _glasscam.train(path, os.fspath(out), preset, json.dumps(config), backend, _progress(progress))
    return json.loads(text)


class Gradcam(NamedTuple):
    """Grad-CAM of one class: ``probabilities`` (.., 2) [p_liquid, p_glass], ``gamma`` per particle (.., N)
    float64, ``maps`` (.., G, G) float32."""

    probabilities: np.ndarray
    gamma: np.ndarray
    maps: np.ndarray


def _inputs(positions: Any, species: Optional[np.ndarray], box: Optional[BoxLike]) -> tuple:
    if isinstance(positions, Dataset):
        return positions.positions, positions.species, positions.box if box is None else box
    if species is None:
        raise ValueError("species: give the species index of every particle (N,), or pass a Dataset")
    return positions, species, box


class Model:
    """A CNN model directory written by ``glasscam train`` (``model.safetensors``, ``config.json``)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @classmethod
    def load(cls, dir: PathLike, backend: str = "auto", batch: int = 32) -> "Model":
        """Loads a model directory; ``backend`` as ``--backend``; ``batch`` images per network call."""
        return cls(_glasscam.Model.load(os.fspath(dir), backend, batch))

    @property
    def config(self) -> dict:
        """``config.json``: the configuration, input channels, box side, replica split."""
        return json.loads(self._inner.config_json())

    @property
    def box_l(self) -> float:
        """Box side of the training data (with ``grid`` it fixes the pixel size)."""
        return self._inner.box_l

    @property
    def grid(self) -> int:
        return self._inner.grid

    @property
    def n_species(self) -> int:
        return self._inner.n_species

    def predict(
        self,
        positions: Union[np.ndarray, Dataset],
        species: Optional[np.ndarray] = None,
        box: Optional[BoxLike] = None,
        progress: Progress = False,
    ) -> np.ndarray:
        """Class probabilities [p_liquid, p_glass]: (2,) for positions (N, 2), (B, 2) for (B, N, 2) or a
        ``Dataset``. ``box``, when given, is checked against the model's."""
        pos, sp, b = _inputs(positions, species, box)
        return self._inner.predict(pos, sp, b, _progress(progress))

    def gradcam(
        self,
        positions: Union[np.ndarray, Dataset],
        species: Optional[np.ndarray] = None,
        cls: str = "glass",
        box: Optional[BoxLike] = None,
        progress: Progress = False,
    ) -> Gradcam:
        """Grad-CAM of class ``cls`` ("glass" or "liquid"): the maps L^C and per-particle Gamma = M^-1 L^C, as
        ``glasscam gradcam`` computes them."""
        pos, sp, b = _inputs(positions, species, box)
        return Gradcam(*self._inner.gradcam(pos, sp, cls, b, _progress(progress)))

    def __repr__(self) -> str:
        return repr(self._inner)


class Propensity(NamedTuple):
    """Dynamic propensity of one configuration: ``temps`` (T,), ``steps`` and ``times`` (K,), ``propensity``
    Delta_i(t) (T, K, N), ``delta`` (T, K), ``failed`` runs [(temperature index, run)], ``md_seconds``, ``backend``.
    """

    temps: list
    steps: np.ndarray
    times: np.ndarray
    propensity: np.ndarray
    delta: np.ndarray
    failed: list
    md_seconds: float
    backend: str


def propensity(
    system: Union[System, str, PathLike, Dataset],
    positions: Union[np.ndarray, int],
    temps: Optional[Sequence[float]] = None,
    runs: Optional[int] = None,
    steps: Optional[int] = None,
    samples: Optional[int] = None,
    seed: int = 1,
    backend: str = "auto",
    progress: Progress = None,
) -> Propensity:
    """Isoconfigurational ensemble (``glasscam propensity``): ``runs`` velocity draws at each temperature from one
    configuration, as replicas of one batched simulation; cage-relative squared displacements (cages: the t = 0
    Voronoi neighbours) averaged over runs at log-spaced times.

    Args:
        system: a ``System`` (or preset name / file) with ``positions`` (N, 2); or a ``Dataset`` with
            ``positions`` a snapshot index (its protocol's MD settings are used, as the CLI does).
        temps: temperatures (default T*, 1.25 T*, 1.5 T* of the system).
        runs, steps, samples: runs per temperature, steps per run, sample times (default 30, 1e4, 24).
    """
    protocol = None
    if isinstance(system, Dataset):
        data = system
        if not isinstance(positions, (int, np.integer)):
            raise ValueError("positions: with a Dataset, give a snapshot index")
        if not 0 <= positions < len(data):
            raise ValueError(f"positions: snapshot {positions}, but the data set has {len(data)}")
        sys_ = data.system
        pos = data.positions[int(positions)]
        protocol = json.dumps(data.manifest["protocol"])
    else:
        sys_ = _system(system)
        pos = positions
    t = None if temps is None else [float(x) for x in temps]
    d = _glasscam.propensity(
        sys_, pos, t, runs, steps, samples, int(seed), backend, protocol, _progress(progress)
    )
    return Propensity(**d)
