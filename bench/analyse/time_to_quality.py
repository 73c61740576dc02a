"""Time to quality: how soon a grid run had found its best configuration. Pure functions.

As results reach the driver, the best configuration so far is the one of lowest VALIDATION error
(ties: the lower grid index, as the run's accuracy block chooses), and what it is worth is its
TEST error (docs/method.md: chosen on validation, reported on test). Trials without metrics
(diverged, failed, timed out...) arrive but improve nothing. Time is the driver's clock: seconds
from the grid's first dispatch (the earliest ``dispatched_at`` of its trials, where T(N) starts)
to each result's ``received_at``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.store.records import TrialResult


@dataclass(frozen=True)
class QualityPoint:
    """The best so far changed: at ``seconds``, it became ``trial_id``."""

    seconds: float  # since the grid's first dispatch, when this trial's result reached the driver
    trial_id: str
    index: int  # its grid index (ties on validation error go to the lower)
    val_error: float  # what chose it
    test_error: float | None  # what it is worth; None when the trial reported no test error


def _has_metrics(t: TrialResult) -> bool:
    return (t.status.has_metrics() and t.val_error is not None
            and math.isfinite(t.val_error))


def _check_one_grid_run(trials: Sequence[TrialResult]) -> None:
    runs = {(t.profile, t.mode.value, t.repeat) for t in trials}
    if len(runs) > 1:
        raise ValueError("trials of more than one grid run (profile, mode, repeat): "
                         f"{sorted(runs)}; give one run's trials")
    seen: set[str] = set()
    for t in trials:
        if t.trial_id in seen:
            raise ValueError(f"trial {t.trial_id} appears twice in one grid run")
        seen.add(t.trial_id)


def best_so_far(trials: Sequence[TrialResult]) -> list[QualityPoint]:
    """The best-so-far curve of one grid run (one profile, mode and repeat): a point each time
    the best configuration changes, in order of arrival at the driver. Results arriving at the
    same instant are taken in grid order. Empty when no trial has metrics.

    ValueError for trials of more than one grid run, a trial given twice, no ``dispatched_at``
    on any trial, or a trial with metrics but no ``received_at`` (it cannot be put in time)."""
    if not trials:
        return []
    _check_one_grid_run(trials)
    dispatched = [t.dispatched_at for t in trials if t.dispatched_at is not None]
    if not dispatched:
        raise ValueError("no trial says when it was dispatched: there is no time 0")
    t0 = min(dispatched)
    scored = [t for t in trials if _has_metrics(t)]
    for t in scored:
        if t.received_at is None:
            raise ValueError(f"trial {t.trial_id} has metrics but no received_at: it cannot be "
                             "placed in time")
    curve: list[QualityPoint] = []
    best: tuple[float, int] | None = None  # (validation error, index) of the best so far
    for t in sorted(scored, key=lambda t: (t.received_at or 0.0, t.index)):
        val, received = float(t.val_error or 0.0), float(t.received_at or 0.0)  # both checked
        if best is None or (val, t.index) < best:
            best = (val, t.index)
            curve.append(QualityPoint(received - t0, t.trial_id, t.index, val, t.test_error))
    return curve


def time_to_best(trials: Sequence[TrialResult], target_trial_id: str | None = None,
                 target_test_error: float | None = None) -> float | None:
    """Seconds from the grid's first dispatch until the best so far was good enough:

    - by default, until the run's final best configuration (by validation) had arrived;
    - ``target_trial_id``: until that trial became the best so far (e.g. another profile's best,
      to compare profiles on one target);
    - ``target_test_error``: until the best so far had a test error <= that.

    None when that never happened (or no trial has metrics). ValueError when both targets are
    given, and as ``best_so_far``."""
    if target_trial_id is not None and target_test_error is not None:
        raise ValueError("give a target trial or a target test error, not both")
    curve = best_so_far(trials)
    if target_trial_id is not None:
        return next((p.seconds for p in curve if p.trial_id == target_trial_id), None)
    if target_test_error is not None:
        return next((p.seconds for p in curve
                     if p.test_error is not None and p.test_error <= target_test_error), None)
    return curve[-1].seconds if curve else None


def curves(trials: Iterable[TrialResult], repeat: int = 0) -> dict[str, list[QualityPoint]]:
    """``best_so_far`` of every profile and mode in ``trials`` for one ``repeat``, keyed
    "<profile> (<mode>)" (what ``bench.report.pictures.accuracy.time_to_quality`` labels its
    lines with), in the order first seen."""
    runs: dict[str, list[TrialResult]] = defaultdict(list)
    for t in trials:
        if t.repeat == repeat:
            runs[f"{t.profile} ({t.mode.value})"].append(t)
    return {label: best_so_far(members) for label, members in runs.items()}
