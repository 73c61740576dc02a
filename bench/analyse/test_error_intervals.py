"""How sure a test error and the gain over the baseline are, from the test images themselves.

A test error is k wrong of n test images: a binomial proportion, whose 95 % interval is Wilson's
score interval. The baseline and the best configuration are scored on the same images, so their
comparison is paired: the relative test-error reduction gets a paired bootstrap interval (the
same resampled images for both), and the exact McNemar test asks whether the images only one of
them got wrong lean to one side more than chance would (docs/method.md, "Accuracy").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 10_000
SEED = 2016  # fixed: the same trials always give the same interval
# Resampled images held in memory at once (two int64 index arrays of this size): MNIST's 10,000
# test images x 10,000 resamples are cut into batches of 200 resamples.
_BATCH_IMAGES = 2_000_000


def wilson_interval(wrong: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval of the error rate ``wrong`` / ``n``."""
    from scipy.stats import binomtest

    ci = binomtest(wrong, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mcnemar_p(baseline_only: int, best_only: int) -> float:
    """The exact (binomial) McNemar test's two-sided p-value: of the images exactly one of the two
    got wrong, are the baseline's ``baseline_only`` and the best's ``best_only`` a fair coin's
    split? 1 when no image tells them apart."""
    from scipy.stats import binomtest

    discordant = baseline_only + best_only
    if discordant == 0:
        return 1.0
    return float(binomtest(baseline_only, discordant, 0.5).pvalue)


def _reduction(baseline: np.ndarray, best: np.ndarray, axis: int = -1) -> np.ndarray:
    """(baseline's errors - best's) / baseline's errors along ``axis``; NaN where the baseline
    made none (a resample of only images it got right)."""
    base = np.sum(baseline, axis=axis, dtype=np.int64)
    gain = base - np.sum(best, axis=axis, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > 0, gain / np.maximum(base, 1), np.nan)


def reduction_interval(baseline_wrong: np.ndarray, best_wrong: np.ndarray, *,
                       confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = SEED) -> tuple[float, float] | None:
    """The 95 % paired percentile bootstrap interval of the relative test-error reduction: the
    test images are resampled with replacement, each image keeping both its outcomes. None when
    the baseline got no image wrong (no reduction to speak of)."""
    from scipy.stats import DegenerateDataWarning, bootstrap

    baseline_wrong = np.asarray(baseline_wrong, dtype=np.int8)
    best_wrong = np.asarray(best_wrong, dtype=np.int8)
    if baseline_wrong.shape != best_wrong.shape or baseline_wrong.ndim != 1:
        raise ValueError(f"two outcome vectors of the same test images are needed, got shapes "
                         f"{baseline_wrong.shape} and {best_wrong.shape}")
    if not baseline_wrong.any():
        return None
    if np.array_equal(baseline_wrong, best_wrong):  # every resample gives 0 exactly
        return 0.0, 0.0
    with warnings.catch_warnings():  # NaN resamples, handled below
        warnings.simplefilter("ignore", DegenerateDataWarning)
        result = bootstrap((baseline_wrong, best_wrong), _reduction, paired=True,
                           vectorized=True, n_resamples=resamples, confidence_level=confidence,
                           method="percentile", rng=np.random.default_rng(seed),
                           batch=max(1, _BATCH_IMAGES // baseline_wrong.size))
    # a resample without a baseline error has no reduction: the percentiles are of the others
    # (about e^-k of the resamples when the baseline got k images wrong)
    values = result.bootstrap_distribution
    finite = values[np.isfinite(values)]
    if finite.size < values.size:
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(finite, [tail, 100 - tail])
        return float(low), float(high)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class PairedTestErrors:
    """The baseline and the best configuration on the same ``n`` test images."""

    n: int
    baseline_wrong: int
    best_wrong: int
    baseline_interval: tuple[float, float]  # Wilson, of the baseline's test error
    best_interval: tuple[float, float]  # Wilson, of the best's test error
    baseline_only: int  # images only the baseline got wrong
    best_only: int  # images only the best got wrong
    reduction_interval: tuple[float, float] | None  # paired bootstrap; None: baseline made none
    mcnemar_p: float

    @property
    def significant(self) -> bool | None:
        """The reduction's interval excludes 0; None without an interval."""
        if self.reduction_interval is None:
            return None
        low, high = self.reduction_interval
        return low > 0 or high < 0


def paired_test_errors(baseline_wrong: np.ndarray, best_wrong: np.ndarray) -> PairedTestErrors:
    """Every interval and the test of the baseline against the best, from which test images each
    got wrong (two boolean vectors over the same images, in the same order)."""
    base = np.asarray(baseline_wrong, dtype=bool)
    best = np.asarray(best_wrong, dtype=bool)
    if base.shape != best.shape or base.ndim != 1 or base.size == 0:
        raise ValueError(f"two outcome vectors of the same test images are needed, got shapes "
                         f"{base.shape} and {best.shape}")
    n = int(base.size)
    k_base, k_best = int(base.sum()), int(best.sum())
    baseline_only = int(np.count_nonzero(base & ~best))
    best_only = int(np.count_nonzero(best & ~base))
    return PairedTestErrors(
        n=n, baseline_wrong=k_base, best_wrong=k_best,
        baseline_interval=wilson_interval(k_base, n), best_interval=wilson_interval(k_best, n),
        baseline_only=baseline_only, best_only=best_only,
        reduction_interval=reduction_interval(base, best),
        mcnemar_p=mcnemar_p(baseline_only, best_only),
    )
