"""The accuracy block of a run: the baseline against the configuration best on validation, and
whether every measured profile and repeat got the same metrics (same seed, same numbers)."""

from __future__ import annotations

from typing import Any

from bench.analyse import formulas
from bench.analyse.summary import Accuracy, Mismatch, RowKey
from bench.store.records import Mode, TrialResult, TrialStatus, best_on_validation

_COMPARED = ("status", "val_error", "test_error", "final_loss")


def accuracy(reference: RowKey | None, measured_keys: list[RowKey],
             trials_by_row: dict[RowKey, list[TrialResult]]) -> Accuracy | None:
    """The block read on the reference's first repeat (the first measured row's without one),
    every other measured set compared with it. None without a measured row."""
    measured = sorted(measured_keys, key=lambda k: (k != reference, k[0]))
    if not measured:
        return None
    source = measured[0]
    base_set = {t.trial_id: t for t in trials_by_row[source] if t.repeat == 0}
    baseline = next((t for t in base_set.values() if t.is_baseline), None)
    best = best_on_validation(base_set.values())
    mismatches, sets = _mismatches(source, measured, base_set, trials_by_row)
    baseline_error = baseline.test_error if baseline else None
    reduction = (formulas.relative_error_reduction(baseline_error, best.test_error)
                 if baseline_error is not None and best is not None else None)
    return Accuracy(
        source=source[0], baseline_params=baseline.params if baseline else None,
        baseline_test_error=baseline_error, best_params=best.params if best else None,
        best_trial_id=best.trial_id if best else None,
        best_val_error=best.val_error if best else None,
        best_test_error=best.test_error if best else None,
        relative_error_reduction=reduction,
        metrics_identical=(not mismatches) if sets else None, compared=sets + 1,
        mismatches=mismatches,
    )


def _mismatches(source: RowKey, measured: list[RowKey], base_set: dict[str, TrialResult],
                trials_by_row: dict[RowKey, list[TrialResult]]) -> tuple[list[Mismatch], int]:
    """Every compared field that differs from the source's first repeat, and how many
    (profile, repeat) sets were compared with it."""
    mismatches: list[Mismatch] = []
    sets = 0
    for key in measured:
        for repeat in sorted({t.repeat for t in trials_by_row[key]}):
            if key == source and repeat == 0:
                continue
            sets += 1
            for t in trials_by_row[key]:
                if t.repeat != repeat or t.trial_id not in base_set:
                    continue
                expected = base_set[t.trial_id]
                for name in _COMPARED:
                    a, b = getattr(expected, name), getattr(t, name)
                    if a != b:
                        mismatches.append(Mismatch(t.trial_id, key[0], repeat, name,
                                                   _plain(a), _plain(b)))
    return mismatches, sets


def trial_metrics(accuracy: Accuracy | None,
                  trials_by_row: dict[RowKey, list[TrialResult]]) -> dict[str, dict[str, Any]]:
    """Every trial's outcome on the accuracy source (repeat 0), in grid order."""
    if accuracy is None:
        return {}
    source = trials_by_row[(accuracy.source, Mode.MEASURED)]
    return {t.trial_id: {"status": t.status.value, "val_error": t.val_error,
                         "test_error": t.test_error}
            for t in sorted(source, key=lambda t: t.index) if t.repeat == 0}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, TrialStatus) else value
