"""The notes under a run's figures: what a reader must know before trusting them (a resumed
repeat, a lost executor, a broken trial, a test knob, oversubscription, what floor and replay
rows are)."""

from __future__ import annotations

from typing import Any

from bench.analyse.summary import Row
from bench.store.records import Mode, ProfileRun, TrialResult, TrialStatus, last_error_line


def resumed_notes(key: tuple[str, Mode], runs: list[ProfileRun]) -> list[str]:
    """Repeats of a row whose driver died and `bench run --resume` finished."""
    resumed = [r for r in runs if r.resumed_trials]
    if not resumed:
        return []
    where = f"{key[0]} ({key[1].value})"
    if len(resumed) < len(runs):
        return [f"{where} repeat {r.repeat} was resumed after its driver died ({r.trials} of "
                f"{r.trials + r.resumed_trials} trials ran after the resume): its wall time is "
                "left out of the figures" for r in resumed]
    return [f"{where} was resumed after its driver died: its wall time covers only the trials "
            "run after the resume, so its wall time, speedup and efficiency are not the grid's, "
            "nor, if it is the 1-node reference, the other profiles' speedups (run it again for "
            "those)"]


def broken_trial_notes(key: tuple[str, Mode], trials: list[TrialResult], repeat: int,
                       most: int = 5) -> list[str]:
    """Trials of the latest repeat that ended without metrics for a reason other than diverging
    (a result of the configuration): failed, timed out, out of memory, crashed."""
    broken = [t for t in trials if t.repeat == repeat and not t.status.has_metrics()
              and t.status is not TrialStatus.DIVERGED]
    notes = [f"{key[0]} ({key[1].value}): trial {t.trial_id} {t.status.value}: "
             f"{last_error_line(t.error)}" for t in broken[:most]]
    if len(broken) > most:
        notes.append(f"{key[0]} ({key[1].value}): {len(broken) - most} more trials ended without "
                     "metrics: see trials.jsonl")
    return notes


def lost_note(row: Row, lost: dict[str, Any]) -> str:
    """One attempt lost with its executor (Row.lost_attempts)."""
    where = f"{row.name} ({row.mode.value}) repeat {lost['repeat']}"
    if lost["started_at"] is None:
        return (f"{where}: an attempt of {lost['trial_id']} was lost before it could report "
                "its start (its executor is named below if Spark saw it go); Spark ran it again")
    executor = f"executor {lost['executor_id']} on {lost['host']}"
    if lost["recovery_s"] is None:
        return f"{where}: {executor} was lost running {lost['trial_id']}, which never finished"
    return (f"{where}: {executor} was lost running {lost['trial_id']}; Spark ran it again, "
            f"recovery cost {lost['recovery_s']:.1f} s (lost attempt's start to the re-run's "
            "start); this repeat's wall time includes it")


def lost_notes(rows: list[Row]) -> list[str]:
    """Every attempt and executor lost in the rows' repeats."""
    notes = [lost_note(r, a) for r in rows for a in r.lost_attempts]
    notes += [f"{r.name} ({r.mode.value}) repeat {e['repeat']}: executor {e['executor_id']} was "
              "lost during the grid" for r in rows for e in r.lost_executors]
    return notes


def run_notes(rows: list[Row], meta: dict) -> list[str]:
    """What applies to the whole run: cold trials, oversubscription, floor and replay rows, test
    knobs."""
    notes = []
    cold = sum(r.cold_trials for r in rows if r.mode is Mode.MEASURED)
    if cold:
        notes.append(f"{cold} measured trials imported TensorFlow themselves (warm-up missed "
                     "their Python worker): their time includes it")
    oversubscribed = [r.name for r in rows if r.oversubscribed]
    if oversubscribed:
        notes.append(f"oversubscribed (more nodes x cores than the host has): "
                     f"{', '.join(oversubscribed)}; their measured speedup is not a real one")
    if any(r.runner == "process-pool" for r in rows):
        notes.append("floor-N: the same trials in the same order on N slots of a plain local "
                     "process pool (joblib's loky, warm, pinned like the local cluster's nodes), "
                     "no Spark: what a measured row takes beyond it is Spark's and the runner's")
    if any(r.mode is Mode.REPLAY for r in rows):
        notes.append("replay: the real Spark cluster of that size runs surrogate trials that "
                     "sleep for the durations measured on 1 node; its metrics are copied from "
                     "there and are not part of the identity check")
    knobs = {k: v for k, v in meta.get("test_knobs", {}).items() if v}
    if knobs:
        notes.append("TEST KNOB ON, figures made worse on purpose (bench.definitions.knobs): "
                     + ", ".join(f"{k}={v}" for k, v in knobs.items()))
    return notes
