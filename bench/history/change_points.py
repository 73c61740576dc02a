"""Steps in a figure's history: the entry where its level changed for good, told apart from the
run-to-run noise of a shared machine (README.md, "History across commits").

Binary segmentation, as e-divisive (MongoDB's and Apache Otava's change-point detection) does it:
the best single split of the whole series (ruptures' Binseg, least squares) is kept as a step only
when the per-repeat samples on its two sides differ significantly (Mann-Whitney U) and their means
by more than the figure's gate threshold; then each side is searched the same way, until a side
has no such split. Each split is tested against everything on its sides, not only against a
neighbouring segment: on a shared host the level drifts between runs, and a search that cut the
series into short pieces first (PELT did, 2026-12-02) left every piece too short to be
significant, while the step stood out against the runs before and after it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ruptures
from scipy.stats import mannwhitneyu

SIGNIFICANCE = 0.05
MIN_SEGMENT = 2  # entries a side: a single odd entry is the gate's business, not a step


@dataclass(frozen=True)
class Step:
    index: int  # the first entry after the step (0-based)
    start: int  # the segment before it is [start, index), the one after [index, end)
    end: int
    before: float  # mean of the entry values of the segment before it
    after: float  # and of the segment after it
    p_value: float  # Mann-Whitney U, two-sided, on the segments' per-repeat samples

    @property
    def ratio(self) -> float | None:
        return self.after / self.before if self.before else None


def best_split(values: Sequence[float]) -> int | None:
    """The index of the first entry after the series' best single split (least squares), at
    least MIN_SEGMENT entries from either end; None when the series is too short."""
    if len(values) < 2 * MIN_SEGMENT:
        return None
    signal = np.asarray(values, float).reshape(-1, 1)
    found = ruptures.Binseg(model="l2", min_size=MIN_SEGMENT, jump=1).fit(signal)
    return found.predict(n_bkps=1)[0]


def beyond(before: float, after: float, threshold: float, absolute: bool) -> bool:
    """The change of a segment mean, in the gate's terms: a fraction of the level before, or
    (``absolute``) in the figure's own unit."""
    if absolute:
        return abs(after - before) > threshold
    return before != 0 and abs(after / before - 1) > threshold


def find_steps(values: Sequence[float], samples: Sequence[Sequence[float]], threshold: float,
               *, absolute: bool = False) -> list[Step]:
    """The steps of a series, in order: ``values`` one per entry, ``samples`` each entry's
    per-repeat samples (an entry without repeats: its value alone)."""
    steps: list[Step] = []
    pending = [(0, len(values))]
    while pending:
        start, end = pending.pop()
        step = _step_in(values, samples, start, end, threshold, absolute)
        if step is not None:
            steps.append(step)
            pending += [(start, step.index), (step.index, end)]
    return sorted(steps, key=lambda s: s.index)


def _step_in(values: Sequence[float], samples: Sequence[Sequence[float]], start: int, end: int,
             threshold: float, absolute: bool) -> Step | None:
    """The best split of entries [start, end), if it is a step."""
    split = best_split(values[start:end])
    if split is None:
        return None
    split += start
    before = float(np.mean(values[start:split]))
    after = float(np.mean(values[split:end]))
    if not beyond(before, after, threshold, absolute):
        return None
    p = _p_value(_pooled(samples[start:split]), _pooled(samples[split:end]))
    return Step(split, start, end, before, after, p) if p < SIGNIFICANCE else None


def _pooled(samples: Sequence[Sequence[float]]) -> list[float]:
    return [float(s) for entry in samples for s in entry]


def _p_value(before: list[float], after: list[float]) -> float:
    if not before or not after:
        return 1.0
    p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p
