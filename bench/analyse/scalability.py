"""Scalability laws fitted to the speedups of a run: pure functions, no I/O, no Spark.

Two of them, in docs/method.md's terms (speedup S(N) = T(1) / T(N), every figure with its mode):

- **Gunther's Universal Scalability Law** (strong scaling, the same grid on more nodes):

      S(N) = N / (1 + sigma (N - 1) + kappa N (N - 1))

  ``sigma`` is contention (the serial share Amdahl's law knows: with ``kappa`` = 0 the curve is
  Amdahl's and levels off at 1 / sigma), ``kappa`` coherency (a cost paid by every pair of nodes:
  the speedup peaks at N* = sqrt((1 - sigma) / kappa) and falls beyond it). On one node the law
  is 1 whatever sigma and kappa are, so a 1-node point tells it nothing: two parameters need
  two node counts above 1 to be fixed at all, and a third to leave anything to check them with.
  ``fit_usl`` therefore flags a fit on fewer than ``MIN_NODE_COUNTS`` distinct node counts (1
  always counted, see ``counted_node_counts``) as under-determined, and such a fit predicts
  nothing (``UslFit.predict`` raises). The law knows nothing of a grid's granularity: G trials
  on N slots cannot beat G / ceil(G / N) (``formulas.bound_speedup``), and on a small grid the
  fit reads that staircase as contention and coherency. Read sigma and kappa beside the bound
  before reading them as the cluster's.

- **Gustafson's scaled speedup** (weak scaling, a grid growing with the nodes: k trials per
  node): N nodes run the first k N trials of the grid in T(N, kN); the scaled speedup is what
  those same trials take on one node (T(1, kN) when it was measured, else the sum of their
  1-node durations) divided by T(N, kN); weak-scaling efficiency is that over N.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, nnls

from bench.store.records import Mode

MIN_NODE_COUNTS = 4  # distinct node counts, 1 counted, below which a USL fit is under-determined
SIGMA_MAX = 1.0  # sigma is a share of the work: at 1 a node count adds nothing
_BOOTSTRAP_MIN_FITS = 0.9  # share of bootstrap refits that must succeed for an interval


class UnderDeterminedFit(ValueError):
    """A USL fit asked for a prediction it cannot give (see ``UslFit.reason``)."""


def usl_speedup(nodes: float | np.ndarray, sigma: float, kappa: float) -> float | np.ndarray:
    """The USL curve: N / (1 + sigma (N - 1) + kappa N (N - 1))."""
    n = np.asarray(nodes, dtype=float)
    value = n / (1 + sigma * (n - 1) + kappa * n * (n - 1))
    return float(value) if value.ndim == 0 else value


def counted_node_counts(node_counts: Sequence[int]) -> tuple[int, ...]:
    """The node counts that decide whether a fit is determined: those given, and 1 (where the
    speedup is 1 by definition, whatever the mode), so a replay series of 2, 4, 8 nodes counts
    as many as a measured one of 1, 2, 4, 8."""
    return tuple(sorted({1, *node_counts}))


def usl_peak(sigma: float, kappa: float) -> float | None:
    """N* = sqrt((1 - sigma) / kappa), where the USL speedup is highest, and at least 1 (below 1
    the speedup falls from the first node on); None when kappa is 0 (Amdahl: the speedup rises
    towards 1 / sigma and never falls)."""
    if kappa <= 0:
        return None
    return max(1.0, math.sqrt(max(0.0, 1 - sigma) / kappa))


@dataclass(frozen=True)
class UslFit:
    """sigma and kappa fitted to (nodes, speedup) samples of one mode.

    ``predict`` refuses (raises ``UnderDeterminedFit``) when ``under_determined``: a curve
    through too few node counts fits any data and says nothing about other node counts.
    sigma, kappa, residuals and R^2 are still given, for the record.
    """

    sigma: float
    kappa: float
    # 95 % percentile bootstrap intervals over the repeats; None when there are none to
    # resample (``interval_note`` says why).
    sigma_interval: tuple[float, float] | None
    kappa_interval: tuple[float, float] | None
    interval_note: str | None
    r_squared: float | None  # None when every sample has the same speedup (nothing to explain)
    residuals: tuple[float, ...]  # observed - fitted speedup, in the order of ``points``
    points: tuple[tuple[int, float], ...]  # what was fitted, as given
    node_counts: tuple[int, ...]  # distinct, ascending, as given (1 only if given)
    source: str  # the mode of the points: "measured", "replay" or "model"
    under_determined: bool
    reason: str | None  # why it is under-determined; None when it is not
    confidence: float = 0.95

    @property
    def peak_nodes(self) -> float | None:
        """N*, where the fitted curve peaks; None when kappa is 0 (no peak)."""
        return usl_peak(self.sigma, self.kappa)

    @property
    def peak_beyond_data(self) -> bool:
        """The peak lies past the largest node count fitted: an extrapolation."""
        peak = self.peak_nodes
        return peak is not None and peak > max(self.node_counts)

    @property
    def label(self) -> str:
        """How a picture or table names it: "USL fit (replay)"."""
        return f"USL fit ({self.source})"

    def predict(self, nodes: float) -> float:
        """The fitted speedup at ``nodes``. Raises ``UnderDeterminedFit`` for an under-determined
        fit, ValueError for nodes < 1."""
        if self.under_determined:
            raise UnderDeterminedFit(f"{self.label} predicts nothing: {self.reason}")
        if not nodes >= 1:
            raise ValueError(f"nodes must be >= 1, got {nodes!r}")
        return float(usl_speedup(nodes, self.sigma, self.kappa))


def _check_points(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    if not points:
        raise ValueError("no (nodes, speedup) points to fit")
    checked = []
    for i, point in enumerate(points):
        try:
            nodes, speedup = point
        except (TypeError, ValueError):
            raise ValueError(f"point {i}: {point!r} is not a (nodes, speedup) pair") from None
        if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) or nodes < 1:
            raise ValueError(f"point {i}: nodes must be a whole number >= 1, got {nodes!r}")
        if isinstance(speedup, bool) or not isinstance(speedup, (int, float, np.floating)) \
                or not math.isfinite(speedup) or speedup <= 0:
            raise ValueError(f"point {i}: speedup at {nodes} nodes must be a finite number > 0 "
                             f"(T(1) / T(N) of two wall times), got {speedup!r}")
        checked.append((int(nodes), float(speedup)))
    return checked


def _source(mode: Mode | str) -> str:
    try:
        return Mode(mode).value
    except ValueError:
        raise ValueError(f"mode must be one of {[m.value for m in Mode]}, got {mode!r}") from None


def _fit(n: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """Bounded least squares on the speedups, 0 <= sigma <= 1, kappa >= 0, started from the
    linearised problem N / S - 1 = sigma (N - 1) + kappa N (N - 1) solved by non-negative
    least squares (which also lands a parameter the data does not want on exactly 0)."""
    design = np.column_stack([n - 1, n * (n - 1)])
    start, _ = nnls(design, n / s - 1)
    start = np.array([min(start[0], SIGMA_MAX), start[1]])

    def residual(p: np.ndarray) -> np.ndarray:
        return usl_speedup(n, p[0], p[1]) - s

    def jacobian(p: np.ndarray) -> np.ndarray:
        denominator = (1 + p[0] * (n - 1) + p[1] * n * (n - 1)) ** 2
        return np.column_stack([-n * (n - 1), -n * n * (n - 1)]) / denominator[:, None]

    # The refinement measures the misfit in speedup, as the figures are read; keep the start
    # when it is no worse (nnls's exact zero, not least_squares' 1e-17 from the bound).
    refined = least_squares(residual, start, jac=jacobian, bounds=([0.0, 0.0], [SIGMA_MAX, np.inf]),
                            method="dogbox")  # small and bounded: dogbox's case, and fast
    best = refined.x if np.sum(residual(refined.x) ** 2) < np.sum(residual(start) ** 2) \
        else start
    # A parameter the data does not want sits on its bound: 0, not least_squares' 1e-19.
    sigma, kappa = (float(v) if v > 1e-12 * scale else 0.0
                    for v, scale in zip(best, (1.0, 1.0 / float(n.max()) ** 2), strict=True))
    return sigma, kappa


def fit_usl(points: Sequence[tuple[int, float]], *, mode: Mode | str,
            confidence: float = 0.95, resamples: int = 1000, seed: int = 0) -> UslFit:
    """Fit the USL to ``points``: (nodes, speedup) samples of one ``mode``, several per node
    count when there are repeats (``usl_points`` makes them from a run).

    Intervals: a percentile bootstrap (``resamples`` refits, seeded by ``seed``, so one input
    gives one answer) that resamples the samples within each node count. It needs at least two
    samples at every node count above 1 (the 1-node point constrains nothing); otherwise there
    is no interval and ``interval_note`` says why, and there is none for an under-determined
    fit either. Superlinear speedups (S > N) are beyond the law with sigma, kappa >= 0: the fit
    stays at 0 and 0 and ``r_squared`` tells how badly that fits. ValueError on a node count
    < 1, a speedup <= 0 or not finite, no points, or an unknown mode.
    """
    checked = _check_points(points)
    source = _source(mode)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    n = np.array([p[0] for p in checked], dtype=float)
    s = np.array([p[1] for p in checked], dtype=float)
    node_counts = tuple(sorted({p[0] for p in checked}))
    counted = counted_node_counts(node_counts)
    under = len(counted) < MIN_NODE_COUNTS
    reason = (f"{len(counted)} node counts ({', '.join(map(str, counted))}, counting 1 node "
              f"where S = 1 by definition) < {MIN_NODE_COUNTS}: the two parameters are not "
              "determined with any point left to check them") if under else None
    sigma, kappa = _fit(n, s)
    fitted = usl_speedup(n, sigma, kappa)
    residuals = s - fitted
    total = float(np.sum((s - s.mean()) ** 2))
    r_squared = 1 - float(np.sum(residuals ** 2)) / total if total > 0 else None

    intervals: tuple[tuple[float, float], tuple[float, float]] | None = None
    by_count: dict[int, list[int]] = defaultdict(list)
    for i, (nodes, _) in enumerate(checked):
        by_count[nodes].append(i)
    single = [c for c in node_counts if c > 1 and len(by_count[c]) < 2]
    if under:
        note = "no interval: the fit is under-determined"
    elif single:
        note = (f"no interval: one sample at {', '.join(map(str, single))} node"
                "s (an interval needs repeats to resample)")
    else:
        intervals, note = _bootstrap(n, s, by_count, confidence, resamples, seed)
    return UslFit(
        sigma=sigma, kappa=kappa,
        sigma_interval=intervals[0] if intervals else None,
        kappa_interval=intervals[1] if intervals else None,
        interval_note=note, r_squared=r_squared,
        residuals=tuple(float(r) for r in residuals), points=tuple(checked),
        node_counts=node_counts, source=source, under_determined=under, reason=reason,
        confidence=confidence,
    )


def _bootstrap(n: np.ndarray, s: np.ndarray, by_count: dict[int, list[int]], confidence: float,
               resamples: int, seed: int,
               ) -> tuple[tuple[tuple[float, float], tuple[float, float]] | None, str | None]:
    """Percentile intervals of sigma and kappa, each node count's samples resampled on their
    own (a stratified bootstrap: every resample has every node count, as many samples each)."""
    if resamples < 1:
        return None, "no interval: no bootstrap resamples asked for"
    rng = np.random.default_rng(seed)
    groups = [np.array(idx) for _, idx in sorted(by_count.items())]
    fits = []
    for _ in range(resamples):
        pick = np.concatenate([rng.choice(g, len(g)) for g in groups])
        try:
            fits.append(_fit(n[pick], s[pick]))
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            continue
    if len(fits) < _BOOTSTRAP_MIN_FITS * resamples:
        return None, f"no interval: only {len(fits)} of {resamples} bootstrap refits converged"
    tail = (1 - confidence) / 2 * 100
    values = np.array(fits)
    sigma = np.percentile(values[:, 0], [tail, 100 - tail])
    kappa = np.percentile(values[:, 1], [tail, 100 - tail])
    return ((float(sigma[0]), float(sigma[1])), (float(kappa[0]), float(kappa[1]))), None


def scaled_speedup(t1: float | Sequence[float], tn: float) -> float:
    """Gustafson's scaled speedup of N nodes running a grid of k N trials in ``tn`` = T(N, kN):
    the one-node time of those same kN trials over ``tn``. ``t1`` is either T(1, kN), the wall
    time of a 1-node run of that sub-grid, or the 1-node durations of its kN trials, which are
    summed (that sum leaves out the 1-node run's own dispatch and collection, so it is the lower
    of the two and gives the lower scaled speedup). ValueError on a time <= 0."""
    serial = float(sum(t1)) if isinstance(t1, Sequence) else float(t1)
    if isinstance(t1, Sequence) and any(not math.isfinite(d) or d < 0 for d in t1):
        raise ValueError("1-node trial durations must be finite and >= 0")
    if not math.isfinite(serial) or serial <= 0:
        raise ValueError(f"the 1-node time of the sub-grid must be > 0, got {serial!r}")
    if not math.isfinite(tn) or tn <= 0:
        raise ValueError(f"T(N, kN) must be > 0, got {tn!r}")
    return serial / tn


def weak_efficiency(scaled: float, nodes: int) -> float:
    """Weak-scaling efficiency: scaled speedup / N (1 when each node's k trials take as long on
    N nodes as k of them would alone)."""
    if nodes < 1:
        raise ValueError(f"nodes must be >= 1, got {nodes!r}")
    return scaled / nodes


@dataclass(frozen=True)
class WeakPoint:
    """One node count of a weak-scaling series."""

    nodes: int
    trials: int  # k N
    serial_s: float  # the 1-node time of those trials
    serial_from: str  # "measured T(1, kN)" or "sum of 1-node durations"
    wall_s: float  # T(N, kN)
    scaled_speedup: float
    efficiency: float
    mode: str  # the mode of wall_s: "measured", "replay" or "model"


def weak_point(nodes: int, trials: int, t1: float | Sequence[float], tn: float,
               mode: Mode | str) -> WeakPoint:
    """``scaled_speedup`` and ``weak_efficiency`` of one node count, with where they come from."""
    scaled = scaled_speedup(t1, tn)
    return WeakPoint(
        nodes=nodes, trials=trials, serial_s=scaled * tn,
        serial_from="sum of 1-node durations" if isinstance(t1, Sequence)
        else "measured T(1, kN)",
        wall_s=tn, scaled_speedup=scaled, efficiency=weak_efficiency(scaled, nodes),
        mode=_source(mode))


@dataclass(frozen=True)
class SubGrid:
    """The first k N trials of the grid, for N nodes to run or replay."""

    nodes: int
    trials: tuple[tuple[str, float], ...]  # (trial_id, 1-node seconds), in grid order

    @property
    def trial_ids(self) -> list[str]:
        return [trial_id for trial_id, _ in self.trials]

    @property
    def serial_s(self) -> float:
        """Sum of the trials' 1-node durations: the numerator ``scaled_speedup`` falls back on."""
        return sum(seconds for _, seconds in self.trials)


@dataclass(frozen=True)
class SkippedNodes:
    nodes: int
    reason: str


@dataclass(frozen=True)
class WeakPlan:
    per_node: int  # k
    grids: tuple[SubGrid, ...]  # ascending node counts
    skipped: tuple[SkippedNodes, ...]


def weak_scaling_grids(durations: Sequence[tuple[str, float]], per_node: int,
                       node_counts: Sequence[int]) -> WeakPlan:
    """For each N of ``node_counts``, the first ``per_node`` x N trials of the grid (``durations``:
    (trial_id, 1-node seconds) in grid order). The grid is never cycled (a trial run twice is
    not a bigger grid): an N that needs more trials than the grid has is skipped, with a reason.
    ValueError on per_node < 1, a node count < 1 or given twice, a trial id given twice, or a
    duration that is negative or not finite."""
    if isinstance(per_node, bool) or not isinstance(per_node, int) or per_node < 1:
        raise ValueError(f"trials per node must be a whole number >= 1, got {per_node!r}")
    for nodes in node_counts:
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise ValueError(f"node counts must be whole numbers >= 1, got {nodes!r}")
    if len(set(node_counts)) != len(node_counts):
        raise ValueError(f"a node count is given twice: {list(node_counts)}")
    seen: set[str] = set()
    for trial_id, seconds in durations:
        if trial_id in seen:
            raise ValueError(f"trial {trial_id!r} is given twice")
        seen.add(trial_id)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"trial {trial_id!r}: 1-node duration must be finite and >= 0, "
                             f"got {seconds!r}")
    grids, skipped = [], []
    for nodes in sorted(node_counts):
        wanted = per_node * nodes
        if wanted > len(durations):
            skipped.append(SkippedNodes(nodes, f"{nodes} nodes x {per_node} trials per node = "
                                               f"{wanted} trials, the grid has {len(durations)}"))
        else:
            grids.append(SubGrid(nodes, tuple((t, float(s)) for t, s in durations[:wanted])))
    return WeakPlan(per_node, tuple(grids), tuple(skipped))
