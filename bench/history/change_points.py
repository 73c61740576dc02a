"""Steps in a figure's history: the entry where its level changed for good, told apart from the
run-to-run noise of a shared machine (README.md, "History across commits").

The search for where a series splits is ruptures' PELT on the per-entry values, with a
penalty scaled to the series' own noise; a split is kept as a step only when the per-repeat
samples of the segments on either side differ significantly (Mann-Whitney U) and their means
differ by more than the figure's gate threshold. The penalty decides where a series could
split; the test and the threshold decide whether the split is a change anyone should hear of.
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
# 1.4826 * MAD estimates a normal sd; successive differences of iid noise have sd sigma * sqrt 2
_MAD_TO_SD = 1.4826 / math.sqrt(2)


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


def noise_sd(values: Sequence[float]) -> float:
    """The series' run-to-run noise, from the median absolute deviation of successive
    differences: a step is one large difference, which the median ignores."""
    diffs = np.diff(np.asarray(values, float))
    if len(diffs) == 0:
        return 0.0
    return float(_MAD_TO_SD * np.median(np.abs(diffs - np.median(diffs))))


def penalty(values: Sequence[float]) -> float:
    """PELT's cost of one more segment under the l2 cost: 2 sd^2 log n (a BIC-like choice). A
    series without noise (identical values) gets a floor relative to its level, else any
    rounding would be a split."""
    level = float(np.median(np.abs(values))) if len(values) else 0.0
    sd = max(noise_sd(values), 1e-6 * level, 1e-12)
    return 2 * sd * sd * math.log(len(values))


def split_points(values: Sequence[float]) -> list[int]:
    """Where PELT splits the series: the index of each segment's first entry, the first
    segment's excluded."""
    if len(values) < 2 * MIN_SEGMENT:
        return []
    signal = np.asarray(values, float).reshape(-1, 1)
    found = ruptures.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1).fit(signal)
    return [b for b in found.predict(pen=penalty(values)) if b < len(values)]


def beyond(before: float, after: float, threshold: float, absolute: bool) -> bool:
    """The change of a segment mean, in the gate's terms: a fraction of the level before, or
    (``absolute``) in the figure's own unit."""
    if absolute:
        return abs(after - before) > threshold
    return before != 0 and abs(after / before - 1) > threshold


def find_steps(values: Sequence[float], samples: Sequence[Sequence[float]], threshold: float,
               *, absolute: bool = False) -> list[Step]:
    """The steps of a series: ``values`` one per entry, ``samples`` each entry's per-repeat
    samples (an entry without repeats: its value alone)."""
    bounds = [0, *split_points(values), len(values)]
    steps = []
    for start, split, end in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before = float(np.mean(values[start:split]))
        after = float(np.mean(values[split:end]))
        if not beyond(before, after, threshold, absolute):
            continue
        p = _p_value(_pooled(samples[start:split]), _pooled(samples[split:end]))
        if p < SIGNIFICANCE:
            steps.append(Step(split, start, end, before, after, p))
    return steps


def _pooled(samples: Sequence[Sequence[float]]) -> list[float]:
    return [float(s) for entry in samples for s in entry]


def _p_value(before: list[float], after: list[float]) -> float:
    if not before or not after:
        return 1.0
    p = float(mannwhitneyu(before, after, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p
