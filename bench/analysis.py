"""A run's records turned into its figures: one typed summary that every printer reads."""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench import figures, scaling_model, time_breakdown, time_to_quality
from bench.deployment import DeploymentRun
from bench.records import (
    COMPUTE_PHASES,
    PHASES,
    Mode,
    ProfileRun,
    TrialResult,
    TrialStatus,
    last_error_line,
)

_MODE_ORDER = {Mode.MEASURED: 0, Mode.REPLAY: 1, Mode.MODEL: 2}


@dataclass(frozen=True)
class Row:
    """One profile in one mode."""

    name: str
    mode: Mode
    nodes: int
    cores: int
    slots: int
    wall: figures.Stats
    startup_s: float
    warmup_s: float
    oversubscribed: bool
    speedup: float | None
    speedup_interval: tuple[float, float] | None
    efficiency: float | None
    bound_makespan_s: float | None
    bound_speedup: float | None
    efficiency_vs_bound: float | None
    karp_flatt: float | None
    replay_error: float | None  # (replay - measured) / measured wall time, same profile
    trials: dict[str, int]  # status -> count, in the latest repeat
    cold_trials: int
    phases_s: dict[str, float]  # mean seconds per trial
    wall_samples_s: list[float] = field(default_factory=list)  # one per repeat, in order
    overhead_per_trial_s: float | None = None  # (T - bound) / (trials per slot)
    # Measured rows: each trial's compute (build + train + evaluate + cleanup), mean over repeats
    trial_compute_s: dict[str, float] = field(default_factory=dict)
    spark: dict[str, float] | None = None  # jobs, tasks, task_failures per repeat (mean)
    # Trials whose executor was lost mid-trial, every repeat: LostAttempt.to_dict() + "repeat"
    lost_attempts: list[dict[str, Any]] = field(default_factory=list)
    lost_executors: list[dict[str, Any]] = field(default_factory=list)  # {"repeat", "executor_id"}
    stragglers: list[str] = field(default_factory=list)  # held the latest repeat's last wave
    # The machine probe (bench.machine_probe) beside each wall sample: a measured row's own; a
    # replayed row's is its reference's mean, since it replays that run's durations. Empty when
    # a repeat has none (a run made before the probe).
    probe_samples_s: list[float] = field(default_factory=list)
    # Where the grid wall time went (bench.time_breakdown): slot-seconds per part, mean over
    # repeats; and the warm-up's reading of the dataset (slowest slot), beside the wall time.
    slot_seconds: dict[str, float] = field(default_factory=dict)
    data_fetch_s: float | None = None
    runner: str = "spark"  # or "process-pool": the floor (bench.process_pool_floor)
    # Time to quality (bench.time_to_quality): seconds from dispatch until the run's best
    # configuration (on validation) had arrived at the driver, in the latest repeat.
    time_to_best_s: float | None = None


@dataclass(frozen=True)
class OrderCheck:
    """One replayed profile's grid in both dispatch orders (bench.trial_order)."""

    name: str
    slots: int
    order: str  # the run's order, the row's
    wall_s: float  # the row's mean replayed wall time
    other_order: str
    other_wall_s: float  # the order check's replayed wall time
    model_wall_s: float | None = None  # the model in the run's order, on the row's slots
    model_other_wall_s: float | None = None


@dataclass(frozen=True)
class WeakRun:
    """Weak scaling: the grid's first k x N trials once on N nodes (`--trials-per-node k`)."""

    name: str
    mode: Mode
    nodes: int
    trials: int
    wall_s: float  # T(N, kN)
    serial_s: list[float] | None  # those trials' 1-node compute; None without a reference


@dataclass(frozen=True)
class Mismatch:
    trial_id: str
    profile: str
    repeat: int
    field: str
    expected: Any
    got: Any


@dataclass(frozen=True)
class Accuracy:
    source: str  # which profile's trials the block reads
    baseline_params: dict[str, Any] | None
    baseline_test_error: float | None
    best_params: dict[str, Any] | None
    best_trial_id: str | None
    best_val_error: float | None
    best_test_error: float | None
    relative_error_reduction: float | None
    metrics_identical: bool | None  # None: fewer than two measured sets to compare
    compared: int  # measured (profile, repeat) sets compared
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    workload: str
    grid: str
    reference: str | None  # the 1-node measured profile speedups are relative to
    rows: list[Row]
    accuracy: Accuracy | None
    environment: dict[str, Any]
    notes: list[str]
    # Every trial's outcome on the accuracy source (repeat 0): what "same seed, same metrics"
    # compares across runs.
    trial_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The model (mode model), from the 1-node measured run: its overheads, its compute per trial
    # in grid order, its predictions, its error on every measured and replayed row, and where
    # each multi-node profile's speedup went.
    overheads: scaling_model.Overheads | None = None
    model_durations_s: list[float] = field(default_factory=list)
    model: list[scaling_model.ModelPoint] = field(default_factory=list)
    model_errors: list[scaling_model.ModelError] = field(default_factory=list)
    waterfalls: list[scaling_model.Waterfall] = field(default_factory=list)
    order: str = "grid"  # the trials' dispatch order (bench.trial_order)
    order_checks: list[OrderCheck] = field(default_factory=list)
    weak_runs: list[WeakRun] = field(default_factory=list)
    deployments: list[DeploymentRun] = field(default_factory=list)  # the deployment step


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
        wall = figures.describe(walls)
        speedup = figures.speedup(statistics.fmean(ref_walls), wall.mean) if ref_walls else None
        bound = figures.bound_makespan(durations, first.slots) if durations else None
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
            speedup_interval=figures.bootstrap_ratio_interval(ref_walls, walls),
            efficiency=figures.efficiency(speedup, first.nodes) if speedup else None,
            bound_makespan_s=bound,
            bound_speedup=figures.bound_speedup(durations, first.slots) if durations else None,
            efficiency_vs_bound=figures.efficiency_vs_bound(bound, wall.mean) if bound else None,
            karp_flatt=figures.karp_flatt(speedup, first.nodes) if speedup else None,
            replay_error=None,
            trials=dict(Counter(t.status.value for t in latest)),
            cold_trials=sum(t.cold for t in trials_by_row[key]),
            phases_s=_mean_phases(trials_by_row[key]),
            wall_samples_s=walls,
            overhead_per_trial_s=(figures.overhead_per_trial(wall.mean, bound, first.trials,
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
        notes.append("TEST KNOB ON, figures made worse on purpose (bench.test_knobs): "
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
        summary, model_errors=scaling_model.model_errors(summary),
        waterfalls=[w for name in names if (w := scaling_model.waterfall(summary, name))])


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


def best_on_validation(trials: Iterable[TrialResult]) -> TrialResult | None:
    """The configuration a search picks: the lowest validation error of the trials that ended
    ok (MEASURE.md); a tie goes to the earlier one in the grid."""
    ok = [t for t in trials if t.status is TrialStatus.OK]
    return min(ok, key=lambda t: (t.val_error, t.index), default=None)


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
    reduction = (figures.relative_error_reduction(baseline_error, best.test_error)
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
