"""The accuracy block of a run: the baseline against the configuration best on validation, and
whether every measured profile and repeat got the same metrics (same seed, same numbers)."""

from __future__ import annotations

from typing import Any

from bench.analyse import formulas
from bench.analyse.summary import Accuracy, Mismatch, RowKey
from bench.analyse.test_error_intervals import PairedTestErrors, paired_test_errors
from bench.store.records import (
    Mode,
    TrialResult,
    TrialStatus,
    best_on_validation,
    unpack_wrong,
)

# test_wrong: the same test error must come from the same wrong images
_COMPARED = ("status", "val_error", "test_error", "final_loss", "test_wrong")


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
        mismatches=mismatches, intervals=_intervals(baseline, best),
    )


def _intervals(baseline: TrialResult | None, best: TrialResult | None) -> PairedTestErrors | None:
    """The baseline against the best, image by image; None when either did not record which test
    images it got wrong (a run from before they were recorded) or they were scored on different
    test sets."""
    if baseline is None or best is None or baseline.test_wrong is None or \
            best.test_wrong is None or baseline.test_wrong["n"] != best.test_wrong["n"]:
        return None
    return paired_test_errors(unpack_wrong(baseline.test_wrong), unpack_wrong(best.test_wrong))


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
                    if name == "test_wrong" and (a is None or b is None):
                        continue  # not recorded on one side (a run resumed across versions)
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
    """A compared value as a report shows it: a status by name, the wrong test images counted
    (which ones differ is in trials.jsonl)."""
    if isinstance(value, dict) and "bits" in value:
        return f"{int(unpack_wrong(value).sum())} of {value['n']} test images wrong"
    return value.value if isinstance(value, TrialStatus) else value
