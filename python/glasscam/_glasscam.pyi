"""Type stubs of the pyo3 extension behind `glasscam` (python/src/lib.rs). Use the documented wrappers in
`glasscam` rather than these functions directly."""

from os import PathLike
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, PathLike[str]]
_Box = Union[float, Sequence[float], Any]
_Progress = Optional[Callable[[str, Any], None]]

class GlasscamError(Exception):
    """An error reported by the glasscam library; the message names the file or field and says what to do."""

class System:
    """A 2D glass-former: species, LJ pairs, density, cut-off and state points, as in a system TOML file."""

    def __init__(self, **fields: Any) -> None:
        """The fields of a system TOML file: name, density, species=[{name, count, mass?, diameter?}],
        pairs=[{a, b, sigma, epsilon}], t_liquid, t_glass, and optionally cutoff (2.5), n, t_star, dim (2)."""
    @staticmethod
    def preset(name: str) -> System:
        """A built-in system: "kam" or "abm"."""
    @staticmethod
    def from_file(path: _Path) -> System:
        """A system TOML file."""
    @staticmethod
    def from_toml(text: str, origin: str = "<string>") -> System:
        """A system from TOML text; `origin` names it in error messages."""
    def to_json(self) -> str:
        """The system as JSON (the data set manifest's `system`)."""
    @property
    def name(self) -> str: ...
    @property
    def n(self) -> int:
        """Number of particles N."""
    @property
    def n_species(self) -> int: ...
    @property
    def density(self) -> float: ...
    @property
    def box_l(self) -> float:
        """Side L of the square periodic box, sqrt(N / density)."""
    @property
    def t_liquid(self) -> float: ...
    @property
    def t_glass(self) -> float: ...
    @property
    def t_star(self) -> Optional[float]: ...
    @property
    def diameters(self) -> npt.NDArray[np.float64]:
        """Tong-Tanaka diameter of each species (n_species,)."""
    @property
    def species(self) -> npt.NDArray[np.uint32]:
        """Species index of every particle (N,), as species.npy."""
    def __eq__(self, other: object) -> bool: ...

class Voronoi:
    """Periodic Voronoi tessellation of one configuration or a batch."""

    @property
    def areas(self) -> npt.NDArray[np.float64]:
        """Cell areas (N,) or (B, N)."""
    @property
    def neighbour_counts(self) -> npt.NDArray[np.uint32]:
        """Neighbours per particle (N,) or (B, N)."""
    @property
    def neighbours(self) -> Union[npt.NDArray[np.uint32], list[npt.NDArray[np.uint32]]]:
        """Pairs (i, j) (M, 2), sorted by i, counterclockwise; a list of arrays for a batch."""
    @property
    def edge_lengths(self) -> Union[npt.NDArray[np.float64], list[npt.NDArray[np.float64]]]:
        """Shared edge length of each pair (M,); a list for a batch."""
    @property
    def vectors(self) -> Union[npt.NDArray[np.float64], list[npt.NDArray[np.float64]]]:
        """Vector from i to j's nearest image (M, 2); a list for a batch."""
    @property
    def box(self) -> tuple[float, float]: ...
    @property
    def batched(self) -> bool: ...
    def __len__(self) -> int: ...

class Model:
    """A CNN model directory written by `glasscam train`."""

    @staticmethod
    def load(dir: _Path, backend: str = "auto", batch: int = 32) -> Model: ...
    def predict(
        self,
        positions: npt.ArrayLike,
        species: npt.ArrayLike,
        box: Optional[_Box] = None,
        progress: _Progress = None,
    ) -> npt.NDArray[np.float64]:
        """Probabilities [p_liquid, p_glass]: (2,) or (B, 2)."""
    def gradcam(
        self,
        positions: npt.ArrayLike,
        species: npt.ArrayLike,
        cls: str = "glass",
        box: Optional[_Box] = None,
        progress: _Progress = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float32]]:
        """(probabilities (.., 2), gamma (.., N), maps (.., G, G))."""
    def config_json(self) -> str:
        """config.json as JSON text."""
    @property
    def box_l(self) -> float: ...
    @property
    def grid(self) -> int: ...
    @property
    def n_species(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def backend(self) -> str: ...

def simulate(
    system: System,
    out: _Path,
    preset: str,
    replicas: Optional[int],
    seed: int,
    backend: str,
    cool_rate: Optional[float] = None,
    equilibrate_time: Optional[float] = None,
    hold_time: Optional[float] = None,
    dt: Optional[float] = None,
    temps: Sequence[float] = ...,
    resume: bool = False,
    force: bool = False,
    progress: _Progress = None,
) -> str:
    """Runs the cooling protocol into `out`; returns the manifest as JSON text."""

def load_dataset(
    dir: _Path,
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.uint32], npt.NDArray[np.int64], npt.NDArray[np.float64], str
]:
    """(positions (S, N, 2), species (N,), labels (S,), box (2,), manifest JSON text)."""

def save_dataset(dir: _Path, manifest: str, positions: npt.ArrayLike, species: npt.ArrayLike) -> None:
    """Writes a data set directory in the CLI's format."""

def voronoi(positions: npt.ArrayLike, box: _Box) -> Voronoi: ...
def tong_tanaka(
    positions: npt.ArrayLike,
    box: _Box,
    diameters: npt.ArrayLike,
    species: Optional[npt.ArrayLike] = None,
    voronoi: Optional[Voronoi] = None,
) -> npt.NDArray[np.float64]: ...
def coarse_grain(
    values: npt.ArrayLike, positions: npt.ArrayLike, box: _Box, xi: float = 3.0, cutoff: float = 3.0
) -> npt.NDArray[np.float64]: ...
def normalise(values: npt.ArrayLike) -> npt.NDArray[np.float64]: ...
def gridize(
    positions: npt.ArrayLike,
    species: npt.ArrayLike,
    box: _Box,
    grid: int = 64,
    width: float = 0.5,
    cutoff: float = 4.0,
    n_species: Optional[int] = None,
    backend: str = "cpu",
) -> npt.NDArray[np.float32]: ...
def propensity(
    system: System,
    positions: npt.ArrayLike,
    temps: Optional[Sequence[float]],
    runs: Optional[int],
    steps: Optional[int],
    samples: Optional[int],
    seed: int,
    backend: str,
    protocol: Optional[str] = None,
    progress: _Progress = None,
) -> dict[str, Any]:
    """dict with temps, times, steps, propensity (T, K, N), delta (T, K), failed, md_seconds, backend."""
def train(
    data: _Path,
    out: _Path,
    preset: str = "quick",
    config: str = "{}",
    backend: str = "auto",
    progress: _Progress = None,
) -> str:
    """Trains the CNN on a data set directory, writes the model directory `out`; returns metrics.json text."""
