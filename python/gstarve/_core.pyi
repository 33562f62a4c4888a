"""Type stubs of the extension module (crates/gstarve-py); the documented API is the package."""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

MASK_REASONS: List[str]
POLL_SECONDS: float

class NumericalError(RuntimeError): ...

class FixedPoint:
    z: np.ndarray
    margins: np.ndarray
    alpha: Optional[np.ndarray]
    sensitivity: Optional[np.ndarray]
    elasticity: Optional[np.ndarray]
    residual: float
    iterations: int
    method: str
    classes: Optional[int]
    labels: Optional[np.ndarray]
    logits: Optional[np.ndarray]
    probabilities: Optional[np.ndarray]

class MaxMargin:
    z_hat: np.ndarray
    direction: np.ndarray
    alpha: np.ndarray
    support: np.ndarray
    margins: np.ndarray
    all_support: bool
    inverse_gram_ones: np.ndarray
    elasticity: np.ndarray
    kkt: Dict[str, float]
    iterations: int

class System:
    @staticmethod
    def rotation(strengths: List[float], coupling: Optional[float] = None) -> "System": ...
    @staticmethod
    def random(n: int, seed: int, spectrum_from: float, spectrum_to: float, rank: Optional[int] = None) -> "System": ...
    @staticmethod
    def from_features(phi: np.ndarray, labels: np.ndarray, rank: Optional[int] = None, classes: Optional[int] = None) -> "System": ...
    @staticmethod
    def from_kernel(kernel: np.ndarray, labels: np.ndarray, rank: Optional[int] = None, strength_floor: Optional[float] = None, classes: Optional[int] = None) -> "System": ...
    @staticmethod
    def load(path: str) -> "System": ...
    def save(self, path: str) -> None: ...
    strengths: np.ndarray
    u: np.ndarray
    examples: int
    rank: int
    classes: Optional[int]
    labels: Optional[np.ndarray]
    truncation: Optional[Dict[str, Any]]
    initial: Optional[np.ndarray]
    has_features: bool
    def fixed_point(self, loss: str, reg: str, lam: float) -> FixedPoint: ...
    def simulate(self, methods: List[str], loss: str, reg: str, lam: float, eta: float, steps: int,
                 t_end: Optional[float], points: int, rtol: float, atol: float, max_steps: int,
                 method: str, z0: Optional[np.ndarray], allow_unstable: bool,
                 fixed_point: bool) -> Dict[str, Any]: ...
    def check(self, loss: str, reg: str, lam: float, tolerance_scale: float) -> Tuple[List[Dict[str, Any]], bool, Optional[str]]: ...

def load_systems(path: str) -> List[System]: ...
def simulate_many(systems: List[System], methods: List[str], loss: str, reg: str, lam: float,
                  eta: float, steps: int, t_end: Optional[float], points: int, rtol: float,
                  atol: float, max_steps: int, method: str, z0: Optional[np.ndarray],
                  allow_unstable: bool, fixed_point: bool) -> List[Dict[str, Any]]: ...

class PhaseDiagram:
    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    z1: np.ndarray
    z2: np.ndarray
    boundary: np.ndarray
    reference: np.ndarray
    resolution: np.ndarray
    mask_codes: np.ndarray
    masked: Dict[str, int]
    measure: str
    label: str
    parameters: Tuple[str, str]
    wall_s: float
    def to_csv(self, path: str) -> None: ...
    def plot(self, dir: str, name: str, png: bool, svg: bool, log_colour: bool) -> List[str]: ...

def phase_diagram(measure: str, x: Tuple[str, float, float, bool], y: Tuple[str, float, float, bool],
                  grid: int, ratio: float, delta: float, lam: float, s2: float) -> PhaseDiagram: ...

class Ensemble:
    decays: np.ndarray
    couplings: List[str]
    n: int
    elasticities: np.ndarray
    seeds: np.ndarray
    wall_s: float
    def statistic(self, name: str) -> np.ndarray: ...
    def to_csv(self, path: str) -> None: ...
    def to_systems_csv(self, path: str) -> None: ...

def ensemble(n: int, decays: List[float], couplings: List[str], systems: int, seed: int,
             lam: float, weakest: float, threshold: float) -> Ensemble: ...
class PhaseDiagramShard:
    shard: Tuple[int, int]
    rows: List[int]
    config_hash: str
    wall_s: float

def phase_diagram_shard(measure: str, x: Tuple[str, float, float, bool], y: Tuple[str, float, float, bool],
                        grid: int, ratio: float, delta: float, lam: float, s2: float,
                        index: int, count: int) -> PhaseDiagramShard: ...
def _phase_diagram_shard(text: str, wall_s: float) -> PhaseDiagramShard: ...
def merge_shards(shards: List[PhaseDiagramShard]) -> PhaseDiagram: ...
def max_margin(system: System) -> MaxMargin: ...
