"""The scaling models read against one run: the model's error on every row, where each profile's
speedup went (the waterfall), each measured row against the process-pool floor, and the Universal
Scalability Law fitted to the run's points."""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict

from bench.analyse import scaling_model
from bench.analyse.scalability import UslFit, fit_usl
from bench.analyse.scaling_model import ModelError, Step, Waterfall, simulate_makespan
from bench.analyse.summary import FloorComparison, Row, RunSummary
from bench.store.records import COMPUTE_PHASES, Mode, TrialResult

# Beyond this share, the floor's machine probe and the row's say the host's speed moved between
# the two runs.
SPEED_MOVED = 0.10


def with_model(summary: RunSummary, reference_trials: list[TrialResult]) -> RunSummary:
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
        summary, model_errors=model_errors(summary),
        waterfalls=[w for name in names if (w := waterfall(summary, name))])


def _compute_in_grid_order(trials: list[TrialResult]) -> list[float]:
    """Each trial's compute (what replay sleeps for), mean over repeats, in dispatch order."""
    by_index: dict[int, list[float]] = defaultdict(list)
    for t in trials:
        by_index[t.index].append(sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES))
    return [statistics.fmean(by_index[i]) for i in sorted(by_index)]


def model_errors(summary: RunSummary) -> list[ModelError]:
    """The model's wall time on every measured and replayed row's slots, against the row's."""
    if summary.overheads is None or not summary.model_durations_s:
        return []
    out = []
    for r in summary.rows:
        if r.mode not in (Mode.MEASURED, Mode.REPLAY):
            continue
        predicted = simulate_makespan(summary.model_durations_s, r.slots, summary.overheads,
                                      summary.order)
        out.append(ModelError(
            r.name, r.mode, r.nodes, r.slots, predicted, r.wall.mean,
            (predicted - r.wall.mean) / r.wall.mean,
            in_sample=r.mode is Mode.MEASURED and r.name == summary.reference))
    return out


def waterfall(summary: RunSummary, profile: str) -> Waterfall | None:
    """Ideal N -> bound (waves and longest trials of this grid) -> replay (the runner and Spark)
    -> measured (the trials' compute contending on the host). With a process-pool floor of the
    same slots: ideal -> bound -> floor (the host's contention, no Spark) -> measured (Spark and
    the runner over the floor). A stage without its row is skipped and named; the next stage's
    drop then covers both causes. None without speedups."""
    rows: dict[Mode, Row] = {r.mode: r for r in summary.rows
                             if r.name == profile and r.speedup is not None}
    if not rows:
        return None
    any_row = next(iter(rows.values()))
    steps = [Step("ideal", float(any_row.nodes), "")]
    if any_row.bound_speedup is not None:
        steps.append(Step("bound", any_row.bound_speedup, "waves and longest trials"))
    skipped: list[str] = []
    causes: list[str] = []
    floor = next((r for r in summary.rows if r.runner == "process-pool"
                  and r.slots == any_row.slots and r.speedup is not None), None)
    measured = rows.get(Mode.MEASURED)
    if floor is not None and measured is not None and any_row.runner == "spark":
        # The floor splits what the measured row lost: the host's share (the same trials on as
        # many slots with no Spark) and Spark's and the runner's (the rest).
        steps.append(Step("floor", floor.speedup, "contention on the host (no Spark)"))
        steps.append(Step("measured", measured.speedup, "Spark and the runner, over the floor"))
        return Waterfall(profile, any_row.nodes, steps, skipped, list(measured.stragglers))
    for mode, cause in ((Mode.REPLAY, "runner and Spark overhead"),
                        (Mode.MEASURED, "contention on the host")):
        causes.append(cause)
        row = rows.get(mode)
        if row is None:
            skipped.append(f"no {mode.value} row")
            continue
        if row.oversubscribed:
            causes[-1] += " (oversubscribed: not a real speedup)"
        steps.append(Step(mode.value, row.speedup, " and ".join(causes)))
        causes = []
    last = rows.get(Mode.MEASURED) or rows.get(Mode.REPLAY) or any_row
    return Waterfall(profile, any_row.nodes, steps, skipped, list(last.stragglers))


def usl_points(summary: RunSummary, mode: Mode, *,
               include_oversubscribed: bool = False) -> list[tuple[int, float]]:
    """One (nodes, speedup) sample per repeat of every row of ``mode``: mean T(1) of the 1-node
    measured reference over that repeat's T(N) (the 1-node reference's own repeats give its
    samples at N = 1 when ``mode`` is measured). Oversubscribed rows are left out unless asked
    for: docs/method.md does not count their speedup as one. Empty without a reference."""
    reference = next((r for r in summary.rows if r.mode is Mode.MEASURED
                      and r.name == summary.reference), None)
    if reference is None or not reference.wall_samples_s:
        return []
    t1 = statistics.fmean(reference.wall_samples_s)
    return [(row.nodes, t1 / wall) for row in summary.rows
            if row.mode is mode and (include_oversubscribed or not row.oversubscribed)
            for wall in row.wall_samples_s if wall > 0]


def fit_summary(summary: RunSummary, mode: Mode, **kwargs: object) -> UslFit | None:
    """``fit_usl`` on ``usl_points(summary, mode)``; None when the run has no such points."""
    points = usl_points(summary, mode)
    return fit_usl(points, mode=mode, **kwargs) if points else None  # type: ignore[arg-type]


def usl_fit(summary: RunSummary) -> UslFit | None:
    """Gunther's USL fitted on the run's speedups: on the replayed points when they cover four
    node counts (a `--nodes` sweep), else on the measured ones; None without speedups."""
    summary = summary.without_floor()
    fits = [f for mode in (Mode.REPLAY, Mode.MEASURED)
            if (f := fit_summary(summary, mode)) is not None]
    return next((f for f in fits if not f.under_determined), fits[0] if fits else None)


def floor_comparisons(summary: RunSummary) -> list[FloorComparison]:
    """Each measured Spark row against every process-pool floor of its slots."""
    out = []
    for floor in (r for r in summary.rows if r.runner == "process-pool"):
        for r in summary.rows:
            if (r.runner, r.mode, r.slots) != ("spark", Mode.MEASURED, floor.slots):
                continue
            ratio = r.wall.mean / floor.wall.mean
            probe_ratio = equal_speed = None
            if r.probe_samples_s and floor.probe_samples_s:
                probe_ratio = (statistics.fmean(floor.probe_samples_s)
                               / statistics.fmean(r.probe_samples_s))
                equal_speed = ratio * probe_ratio
            out.append(FloorComparison(
                r.name, floor.name, floor.slots, r.wall.mean, floor.wall.mean, ratio,
                r.wall.mean - floor.wall.mean, probe_ratio, equal_speed,
                speed_moved=probe_ratio is not None and abs(probe_ratio - 1) > SPEED_MOVED))
    return out
