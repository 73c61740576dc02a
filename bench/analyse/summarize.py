"""A run's records turned into its figures: ``summarize_run`` builds the typed summary."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from bench.analyse import formulas, run_scaling, scaling_model, time_breakdown, time_to_quality
from bench.analyse.summary import Accuracy, Mismatch, OrderCheck, Row, RunSummary, WeakRun
from bench.store.records import (
    COMPUTE_PHASES,
    PHASES,
    DeploymentRun,
    Mode,
    ProfileRun,
    TrialResult,
    TrialStatus,
    best_on_validation,
    last_error_line,
)

_MODE_ORDER = {Mode.MEASURED: 0, Mode.REPLAY: 1, Mode.MODEL: 2}


def _key(r: TrialResult | ProfileRun) -> tuple[str, Mode]:
    return (r.profile, r.mode)


def summarize_run(
    meta: dict, trials: list[TrialResult], profile_runs: list[ProfileRun],
    deployments: Iterable[DeploymentRun] = (),
) -> RunSummary:
    notes: list[str] = []
    expected_trials = meta["workload"]["trials"]
    order = meta.get("options", {}).get("order", "grid")
    checks = [pr for pr in profile_runs if pr.order_check]
    weak = [pr for pr in profile_runs if pr.weak_trial_ids]
    runs_by_row: dict[tuple[str, Mode], list[ProfileRun]] = defaultdict(list)
    for pr in profile_runs:
        if not pr.is_extra:
            runs_by_row[_key(pr)].append(pr)
    trials_by_row: dict[tuple[str, Mode], list[TrialResult]] = defaultdict(list)
    for t in trials:
        trials_by_row[_key(t)].append(t)

    reference = next((k for k, runs in runs_by_row.items()
                      if k[1] is Mode.MEASURED and runs[0].nodes == 1), None)
    if reference is None:
        notes.append("no 1-node measured profile finished: speedups need one")
    ref_walls = [r.wall_s for r in _timed(runs_by_row[reference])] if reference else []
    ref_probes = [r.probe_s for r in _timed(runs_by_row[reference])] if reference else []
    durations = _reference_durations(trials_by_row[reference]) if reference else []

    rows = []
    for key, runs in runs_by_row.items():
        runs.sort(key=lambda r: r.repeat)
        notes += _resumed_notes(key, runs)
        timed = _timed(runs)
        walls = [r.wall_s for r in timed]
        first = timed[0]
        wall = formulas.describe(walls)
        speedup = formulas.speedup(statistics.fmean(ref_walls), wall.mean) if ref_walls else None
        bound = formulas.bound_makespan(durations, first.slots) if durations else None
        latest = [t for t in trials_by_row[key] if t.repeat == runs[-1].repeat]
        spark_counts = [r for r in runs if r.spark_tasks is not None]
        if len(latest) < expected_trials:
            notes.append(f"{key[0]} ({key[1].value}): {len(latest)} of {expected_trials} trials "
                         "have a result")
        rows.append(Row(
            name=key[0], mode=key[1], nodes=first.nodes, cores=first.cores, slots=first.slots,
            wall=wall, startup_s=max(r.startup_s for r in runs),
            warmup_s=statistics.fmean(r.warmup_s for r in runs),
            oversubscribed=any(r.oversubscribed for r in runs),
            speedup=speedup,
            speedup_interval=formulas.bootstrap_ratio_interval(ref_walls, walls),
            efficiency=formulas.efficiency(speedup, first.nodes) if speedup else None,
            bound_makespan_s=bound,
            bound_speedup=formulas.bound_speedup(durations, first.slots) if durations else None,
            efficiency_vs_bound=formulas.efficiency_vs_bound(bound, wall.mean) if bound else None,
            karp_flatt=formulas.karp_flatt(speedup, first.nodes) if speedup else None,
            replay_error=None,
            trials=dict(Counter(t.status.value for t in latest)),
            cold_trials=sum(t.cold for t in trials_by_row[key]),
            phases_s=_mean_phases(trials_by_row[key]),
            wall_samples_s=walls,
            overhead_per_trial_s=(formulas.overhead_per_trial(wall.mean, bound, first.trials,
                                                             first.slots) if bound else None),
            trial_compute_s=(_compute_per_trial(trials_by_row[key])
                             if key[1] is Mode.MEASURED else {}),
            spark={name: _per_repeat(getattr(r, name) for r in spark_counts)
                   for name in ("spark_jobs", "spark_tasks", "task_failures")}
            if spark_counts else None,
            lost_attempts=[{"repeat": r.repeat, **a.to_dict()}
                           for r in runs for a in r.lost_attempts],
            lost_executors=[{"repeat": r.repeat, "executor_id": e}
                            for r in runs for e in r.lost_executors],
            stragglers=[t.trial_id for t in scaling_model.stragglers(latest, first.slots)],
            probe_samples_s=_probes(key[1], [r.probe_s for r in timed], ref_probes),
            slot_seconds=time_breakdown.mean_slot_seconds(
                trials_by_row[key], first.slots,
                {r.repeat: r.wall_s for r in timed if not r.resumed_trials}),
            data_fetch_s=_mean_or_none([r.data_fetch_s for r in runs]),
            runner=first.runner,
        ))
    rows = _with_replay_errors(rows)
    rows.sort(key=lambda r: (r.nodes, r.name, _MODE_ORDER[r.mode]))
    notes += [_lost_note(r, a) for r in rows for a in r.lost_attempts]
    notes += [f"{r.name} ({r.mode.value}) repeat {e['repeat']}: executor {e['executor_id']} was "
              "lost during the grid" for r in rows for e in r.lost_executors]
    notes += [note for key, runs in runs_by_row.items()
              for note in _broken_trial_notes(key, trials_by_row[key], runs[-1].repeat)]
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
    accuracy = _accuracy(reference, runs_by_row, trials_by_row)
    if accuracy is not None and accuracy.best_trial_id is not None:
        rows = [dataclasses.replace(r, time_to_best_s=_time_to_best(
            trials_by_row[(r.name, r.mode)], accuracy.best_trial_id)) for r in rows]
    summary = RunSummary(
        run_id=meta.get("run_id", "?"), workload=meta["workload"]["name"],
        grid=meta["workload"]["grid"], reference=reference[0] if reference else None,
        rows=rows, accuracy=accuracy, environment=meta.get("environment", {}), notes=notes,
        trial_metrics=_trial_metrics(accuracy, trials_by_row), order=order,
        deployments=sorted(deployments, key=lambda d: (d.nodes, d.profile,
                                                       _MODE_ORDER[d.mode], d.started_at)),
    )
    summary = _with_model(summary, trials_by_row[reference] if reference else [])
    return dataclasses.replace(summary, order_checks=_order_checks(summary, checks),
                               weak_runs=_weak_runs(summary, weak))


def _time_to_best(trials: list[TrialResult], best_trial_id: str) -> float | None:
    if not trials:
        return None
    latest = max(t.repeat for t in trials)
    of_latest = [t for t in trials if t.repeat == latest]
    try:
        return time_to_quality.time_to_best(of_latest, target_trial_id=best_trial_id)
    except ValueError:  # a resumed repeat (two dispatches): no single clock to read it on
        return None


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


def _weak_runs(summary: RunSummary, runs: list[ProfileRun]) -> list[WeakRun]:
    """The latest weak-scaling run of each profile and mode, with the 1-node compute of its
    trials (the reference row's, mean over repeats) as the serial time it stands for."""
    ref = next((r for r in summary.rows
                if r.mode is Mode.MEASURED and r.name == summary.reference), None)
    latest = {_key(r): r for r in sorted(runs, key=lambda r: r.started_at)}
    out = []
    for (name, mode), r in latest.items():
        serial = ([ref.trial_compute_s[t] for t in r.weak_trial_ids]
                  if ref and all(t in ref.trial_compute_s for t in r.weak_trial_ids) else None)
        out.append(WeakRun(name, mode, r.nodes, len(r.weak_trial_ids), r.wall_s, serial))
    return sorted(out, key=lambda w: (w.nodes, w.name, _MODE_ORDER[w.mode]))


def _order_checks(summary: RunSummary, checks: list[ProfileRun]) -> list[OrderCheck]:
    """Each order check beside its row, and the model's makespan in both orders."""
    out = []
    for check in checks:
        row = next((r for r in summary.rows if (r.name, r.mode) == _key(check)), None)
        if row is None:
            continue
        model = other = None
        if summary.model_durations_s and summary.overheads is not None:
            model = scaling_model.simulate_makespan(summary.model_durations_s, row.slots,
                                                    summary.overheads, summary.order)
            other = scaling_model.simulate_makespan(summary.model_durations_s, row.slots,
                                                    summary.overheads, check.order)
        out.append(OrderCheck(row.name, row.slots, summary.order, row.wall.mean, check.order,
                              check.wall_s, model, other))
    return out


def _with_model(summary: RunSummary, reference_trials: list[TrialResult]) -> RunSummary:
    """The model from the 1-node measured run (its overheads and compute per trial, the model's
    own inputs); then its error on every row and each multi-node profile's waterfall."""
    ref = next((r for r in summary.rows
                if r.mode is Mode.MEASURED and r.name == summary.reference), None)
    if ref is None or not reference_trials:
        return summary
    overheads = scaling_model.estimate_overheads(reference_trials, ref.slots,
                                                 warmup_s=ref.warmup_s, startup_s=ref.startup_s)
    durations = _compute_in_grid_order(reference_trials)
    summary = dataclasses.replace(
        summary, overheads=overheads, model_durations_s=durations,
        model=scaling_model.predict(durations, overheads, slots_per_node=ref.slots // ref.nodes,
                                    t1=ref.wall.mean))
    names = dict.fromkeys(r.name for r in summary.rows if r.nodes > 1 and r.runner == "spark")
    return dataclasses.replace(
        summary, model_errors=run_scaling.model_errors(summary),
        waterfalls=[w for name in names if (w := run_scaling.waterfall(summary, name))])


def _compute_in_grid_order(trials: list[TrialResult]) -> list[float]:
    """Each trial's compute (what replay sleeps for), mean over repeats, in dispatch order."""
    by_index: dict[int, list[float]] = defaultdict(list)
    for t in trials:
        by_index[t.index].append(sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES))
    return [statistics.fmean(by_index[i]) for i in sorted(by_index)]


def _probes(mode: Mode, own: list[float | None], reference: list[float | None]) -> list[float]:
    """One probe per wall sample (see Row.probe_samples_s)."""
    if mode is Mode.MEASURED:
        return own if own and None not in own else []  # type: ignore[return-value]
    if not reference or None in reference:
        return []
    return [statistics.fmean(reference)] * len(own)  # type: ignore[arg-type]


def _timed(runs: list[ProfileRun]) -> list[ProfileRun]:
    """The grid runs whose wall time is a whole grid's: those not resumed, if there are any."""
    return [r for r in runs if not r.resumed_trials] or runs


def _resumed_notes(key: tuple[str, Mode], runs: list[ProfileRun]) -> list[str]:
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


def _broken_trial_notes(key: tuple[str, Mode], trials: list[TrialResult], repeat: int,
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


def _lost_note(row: Row, lost: dict[str, Any]) -> str:
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


def _per_repeat(counts: Iterable[int]) -> float:
    """Mean count per repeat; a whole number stays an int (it is compared exactly)."""
    mean = statistics.fmean(counts)
    return int(mean) if mean.is_integer() else mean


def _compute_per_trial(trials: list[TrialResult]) -> dict[str, float]:
    by_trial: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        by_trial[t.trial_id].append(sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES))
    return {trial_id: statistics.fmean(v) for trial_id, v in by_trial.items()}


def _trial_metrics(accuracy: Accuracy | None, trials_by_row) -> dict[str, dict[str, Any]]:
    if accuracy is None:
        return {}
    source = trials_by_row[(accuracy.source, Mode.MEASURED)]
    return {t.trial_id: {"status": t.status.value, "val_error": t.val_error,
                         "test_error": t.test_error}
            for t in sorted(source, key=lambda t: t.index) if t.repeat == 0}


def _reference_durations(trials: list[TrialResult]) -> list[float]:
    """d_i: each trial's time inside its task on 1 node, averaged over repeats."""
    by_trial: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        if t.task_seconds is not None:
            by_trial[t.trial_id].append(t.task_seconds)
    return [statistics.fmean(v) for v in by_trial.values()]


def _mean_phases(trials: list[TrialResult]) -> dict[str, float]:
    return {p: statistics.fmean(t.phases.get(p, 0.0) for t in trials) for p in PHASES
            if any(p in t.phases for t in trials)}


def _with_replay_errors(rows: list[Row]) -> list[Row]:
    measured = {r.name: r.wall.mean for r in rows if r.mode is Mode.MEASURED}
    out = []
    for r in rows:
        if r.mode is Mode.REPLAY and r.name in measured:
            error = (r.wall.mean - measured[r.name]) / measured[r.name]
            r = Row(**{**r.__dict__, "replay_error": error})
        out.append(r)
    return out


_COMPARED = ("status", "val_error", "test_error", "final_loss")


def _accuracy(reference, runs_by_row, trials_by_row) -> Accuracy | None:
    measured = sorted((k for k in runs_by_row if k[1] is Mode.MEASURED),
                      key=lambda k: (k != reference, k[0]))
    if not measured:
        return None
    source = measured[0]
    base_set = {t.trial_id: t for t in trials_by_row[source] if t.repeat == 0}
    baseline = next((t for t in base_set.values() if t.is_baseline), None)
    best = best_on_validation(base_set.values())
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


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, TrialStatus) else value
