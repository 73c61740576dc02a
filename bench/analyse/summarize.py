"""A run's records turned into its figures: ``summarize_run`` builds the typed summary, every
figure a printer shows computed here once."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench.analyse import (
    backends,
    extra_runs,
    formulas,
    notes,
    published,
    run_scaling,
    scaling_model,
    time_breakdown,
    time_to_quality,
)
from bench.analyse.accuracy import accuracy, trial_metrics
from bench.analyse.deployment import deployment_rows
from bench.analyse.extra_runs import MODE_ORDER
from bench.analyse.summary import Row, RowKey, RunSummary
from bench.analyse.time_to_quality import QualityPoint
from bench.store.records import (
    COMPUTE_PHASES,
    PHASES,
    DeploymentRun,
    Mode,
    ProfileRun,
    TrialResult,
)


def _key(r: TrialResult | ProfileRun) -> RowKey:
    return (r.profile, r.mode)


@dataclass(frozen=True)
class _Reference:
    """What every row is read against: the 1-node measured row's wall times, machine probes and
    each trial's time inside its task (empty without that row)."""

    walls: list[float]
    probes: list[float | None]
    durations: list[float]


def summarize_run(
    meta: dict, trials: list[TrialResult], profile_runs: list[ProfileRun],
    deployments: Iterable[DeploymentRun] = (),
) -> RunSummary:
    """The run's summary from its records: rows, accuracy, model, extra runs and notes."""
    runs_by_row: dict[RowKey, list[ProfileRun]] = defaultdict(list)
    for pr in profile_runs:
        if not pr.is_extra:
            runs_by_row[_key(pr)].append(pr)
    trials_by_row: dict[RowKey, list[TrialResult]] = defaultdict(list)
    for t in trials:
        trials_by_row[_key(t)].append(t)
    reference = next((k for k, runs in runs_by_row.items()
                      if k[1] is Mode.MEASURED and runs[0].nodes == 1
                      and runs[0].runner == "spark"), None)
    every_row, found = _rows(meta["workload"]["trials"], reference, runs_by_row, trials_by_row)
    # The other back-ends' rows have their own tables; the scaling figures are the default's.
    rows = [r for r in every_row if r.runner in ("spark", "process-pool")]
    backend_rows = [r for r in every_row if r.runner not in ("spark", "process-pool")]
    found = (["no 1-node measured profile finished: speedups need one"] if reference is None
             else []) + found
    found += notes.lost_notes(rows)
    found += [note for key, runs in runs_by_row.items()
              for note in notes.broken_trial_notes(key, trials_by_row[key], runs[-1].repeat)]
    found += notes.run_notes(rows, meta)
    acc = accuracy(reference, [k for k in runs_by_row if k[1] is Mode.MEASURED], trials_by_row)
    if acc is not None and acc.best_trial_id is not None:
        rows, backend_rows = ([dataclasses.replace(r, time_to_best_s=_time_to_best(
            trials_by_row[(r.name, r.mode)], acc.best_trial_id)) for r in group]
            for group in (rows, backend_rows))
    summary = RunSummary(
        run_id=meta.get("run_id", "?"), workload=meta["workload"]["name"],
        grid=meta["workload"]["grid"], reference=reference[0] if reference else None,
        rows=rows, accuracy=acc, environment=meta.get("environment", {}), notes=found,
        backend_rows=backend_rows,
        backend_tables=backends.backend_tables(
            rows, backend_rows, {k: len({r.repeat for r in runs}) for k, runs in
                                 runs_by_row.items()}),
        trial_metrics=trial_metrics(acc, trials_by_row),
        order=meta.get("options", {}).get("order", "grid"),
        deployments=sorted(deployments, key=lambda d: (d.nodes, d.profile,
                                                       MODE_ORDER[d.mode], d.started_at)),
    )
    summary = run_scaling.with_model(summary, trials_by_row[reference] if reference else [])
    return dataclasses.replace(
        summary,
        order_checks=extra_runs.order_checks(
            summary, [pr for pr in profile_runs if pr.order_check]),
        weak_runs=extra_runs.weak_runs(
            summary, [pr for pr in profile_runs if pr.weak_trial_ids]),
        floor_comparisons=run_scaling.floor_comparisons(summary),
        usl_fit=run_scaling.usl_fit(summary),
        quality_curves=_quality_curves(trials, {(r.name, r.mode) for r in rows}),
        deployment_rows=deployment_rows(summary.deployments, summary.reference),
        published=published.comparison(summary, meta["workload"]))


def _rows(expected_trials: int, reference: RowKey | None,
          runs_by_row: dict[RowKey, list[ProfileRun]],
          trials_by_row: dict[RowKey, list[TrialResult]]) -> tuple[list[Row], list[str]]:
    """One row per profile and mode, sorted by nodes, name and mode; and the notes on their
    repeats (resumed ones, missing results), in the order of the records."""
    ref_runs = _timed(runs_by_row[reference]) if reference else []
    ref = _Reference([r.wall_s for r in ref_runs], [r.probe_s for r in ref_runs],
                     _reference_durations(trials_by_row[reference]) if reference else [])
    rows, found = [], []
    for key, runs in runs_by_row.items():
        runs.sort(key=lambda r: r.repeat)
        found += notes.resumed_notes(key, runs)
        latest = [t for t in trials_by_row[key] if t.repeat == runs[-1].repeat]
        if len(latest) < expected_trials:
            found.append(f"{key[0]} ({key[1].value}): {len(latest)} of {expected_trials} trials "
                         "have a result")
        rows.append(_row(key, runs, trials_by_row[key], latest, ref))
    rows = _with_replay_errors(rows)
    rows.sort(key=lambda r: (r.nodes, r.name, MODE_ORDER[r.mode]))
    return rows, found


def _row(key: RowKey, runs: list[ProfileRun], trials: list[TrialResult],
         latest: list[TrialResult], ref: _Reference) -> Row:
    """The row of one profile and mode: ``runs`` its repeats in order, ``latest`` the trials
    of the last one."""
    timed = _timed(runs)
    walls = [r.wall_s for r in timed]
    first = timed[0]
    wall = formulas.describe(walls)
    speedup = formulas.speedup(statistics.fmean(ref.walls), wall.mean) if ref.walls else None
    durations = ref.durations
    bound = formulas.bound_makespan(durations, first.slots) if durations else None
    spark_counts = [r for r in runs if r.spark_tasks is not None]
    speedup_interval = formulas.bootstrap_ratio_interval(ref.walls, walls)
    probes = _probes(key[1], [r.probe_s for r in timed], ref.probes)
    slot_seconds = time_breakdown.mean_slot_seconds(
        trials, first.slots, {r.repeat: r.wall_s for r in timed if not r.resumed_trials})
    return Row(
        name=key[0], mode=key[1], nodes=first.nodes, cores=first.cores, slots=first.slots,
        wall=wall, startup_s=max(r.startup_s for r in runs),
        warmup_s=statistics.fmean(r.warmup_s for r in runs),
        oversubscribed=any(r.oversubscribed for r in runs),
        speedup=speedup,
        speedup_interval=speedup_interval,
        efficiency=formulas.efficiency(speedup, first.nodes) if speedup else None,
        bound_makespan_s=bound,
        bound_speedup=formulas.bound_speedup(durations, first.slots) if durations else None,
        efficiency_vs_bound=formulas.efficiency_vs_bound(bound, wall.mean) if bound else None,
        karp_flatt=formulas.karp_flatt(speedup, first.nodes) if speedup else None,
        karp_flatt_interval=formulas.karp_flatt_interval(speedup_interval, first.nodes),
        replay_error=None,
        trials=dict(Counter(t.status.value for t in latest)),
        cold_trials=sum(t.cold for t in trials),
        phases_s=_mean_phases(trials),
        wall_samples_s=walls,
        overhead_per_trial_s=(formulas.overhead_per_trial(wall.mean, bound, first.trials,
                                                         first.slots) if bound else None),
        trial_compute_s=_compute_per_trial(trials) if key[1] is Mode.MEASURED else {},
        trial_cpu_s=_cpu_per_trial(trials) if key[1] is Mode.MEASURED else {},
        spark={name: _per_repeat(getattr(r, name) for r in spark_counts)
               for name in ("spark_jobs", "spark_tasks", "task_failures")}
        if spark_counts else None,
        lost_attempts=[{"repeat": r.repeat, **a.to_dict()} for r in runs for a in r.lost_attempts],
        lost_executors=[{"repeat": r.repeat, "executor_id": e}
                        for r in runs for e in r.lost_executors],
        stragglers=[t.trial_id for t in scaling_model.stragglers(latest, first.slots)],
        probe_samples_s=probes, probe_mean_s=sum(probes) / len(probes) if probes else None,
        slot_seconds=slot_seconds, slot_percent=_percent(slot_seconds),
        data_fetch_s=_mean_or_none([r.data_fetch_s for r in runs]),
        runner=first.runner,
        backend_start_s=_mean_or_none([r.backend_start_s for r in runs]),
        workers_started=_mean_or_none([r.workers_started for r in runs]),
    )


def _quality_curves(trials: list[TrialResult],
                    shown: set[RowKey]) -> dict[str, list[QualityPoint]]:
    """The best-so-far curve of each row's first repeat (the time-to-quality picture's)."""
    try:
        return time_to_quality.curves(t for t in trials if (t.profile, t.mode) in shown
                                      and t.repeat == 0)
    except ValueError:  # a grid run that cannot be put on one clock: no curve, not no summary
        return {}


def _time_to_best(trials: list[TrialResult], best_trial_id: str) -> float | None:
    if not trials:
        return None
    latest = max(t.repeat for t in trials)
    of_latest = [t for t in trials if t.repeat == latest]
    try:
        return time_to_quality.time_to_best(of_latest, target_trial_id=best_trial_id)
    except ValueError:  # a resumed repeat (two dispatches): no single clock to read it on
        return None


def _percent(parts: dict[str, float]) -> dict[str, float]:
    """Each part's share of their sum, in percent; {} when they add up to nothing."""
    total = sum(parts.values())
    return {name: value / total * 100 for name, value in parts.items()} if total else {}


def _mean_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


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


def _per_repeat(counts: Iterable[int]) -> float:
    """Mean count per repeat; a whole number stays an int (it is compared exactly)."""
    mean = statistics.fmean(counts)
    return int(mean) if mean.is_integer() else mean


def _mean_per_trial(trials: list[TrialResult],
                    value: Callable[[TrialResult], float | None]) -> dict[str, float]:
    """Each trial's ``value``, averaged over its repeats (records without one left out)."""
    by_trial: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        if (v := value(t)) is not None:
            by_trial[t.trial_id].append(v)
    return {trial_id: statistics.fmean(v) for trial_id, v in by_trial.items()}


def _compute_per_trial(trials: list[TrialResult]) -> dict[str, float]:
    return _mean_per_trial(trials, lambda t: sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES))


def _cpu_per_trial(trials: list[TrialResult]) -> dict[str, float]:
    return _mean_per_trial(trials, lambda t: t.cpu_s)


def _reference_durations(trials: list[TrialResult]) -> list[float]:
    """d_i: each trial's time inside its task on 1 node, averaged over repeats."""
    return list(_mean_per_trial(trials, lambda t: t.task_seconds).values())


def _mean_phases(trials: list[TrialResult]) -> dict[str, float]:
    return {p: statistics.fmean(t.phases.get(p, 0.0) for t in trials) for p in PHASES
            if any(p in t.phases for t in trials)}


def _with_replay_errors(rows: list[Row]) -> list[Row]:
    measured = {r.name: r.wall.mean for r in rows if r.mode is Mode.MEASURED}
    return [dataclasses.replace(r, replay_error=(r.wall.mean - measured[r.name])
                                / measured[r.name])
            if r.mode is Mode.REPLAY and r.name in measured else r for r in rows]
