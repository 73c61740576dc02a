"""Each gated figure's series over a history's entries, and the steps found in it.

A series is one figure of one profile and mode (or of the run, for the accuracy figures): the
figure the gate judges, which for a time with machine probes on both sides is the time at equal
machine speed (each repeat's time divided by that repeat's probe), with the time as measured
beside it. Each entry gives its value and its per-repeat samples, computed from its summary as
bench.compare.comparison computes the figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.compare.figures import (
    BASELINE_ERROR,
    BEST_ERROR,
    CPU,
    NORM_SPEEDUP,
    NORM_TRIAL,
    NORM_VS_BOUND,
    NORM_WALL,
    OVERHEAD,
    REDUCTION,
    SPARK_JOBS,
    SPARK_TASKS,
    SPEEDUP,
    TASK_FAILURES,
    TRIAL,
    TRIALS_OK,
    VS_BOUND,
    WALL,
    Figure,
    Kind,
)
from bench.definitions.thresholds import Thresholds
from bench.history import change_points
from bench.history.entries import Entry


@dataclass(frozen=True)
class Point:
    value: float
    samples: list[float]  # per repeat; the value alone where the summary keeps no repeats
    measured: float | None = None  # the figure as measured, beside one at equal machine speed
    measured_samples: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Series:
    scope: str  # "local (measured)", or "run"
    figure: Figure  # the one the gate judges
    measured: Figure | None  # the same figure as measured, for one at equal machine speed
    points: list[Point | None]  # one per entry; None: that entry has no such figure

    @property
    def name(self) -> str:
        return f"{self.scope}: {self.figure.label}"

    @property
    def exact(self) -> bool:
        return self.figure.kind is Kind.EXACT

    @property
    def changed(self) -> bool:
        return len({p.value for p in self.points if p is not None}) > 1


@dataclass(frozen=True)
class Change:
    series: Series
    index: int  # the first entry after the step
    before: float
    after: float
    p_value: float | None  # None: an exact figure, whose any change is one
    measured_before: float | None = None
    measured_after: float | None = None

    @property
    def relative(self) -> float | None:
        return self.after / self.before - 1 if self.before else None


def series_of(entries: Sequence[Entry]) -> list[Series]:
    """Every gated figure any entry has, in the order they first appear (profile rows, then the
    run's accuracy)."""
    found: dict[tuple[str, str], tuple[Figure, Figure | None, dict[int, Point]]] = {}
    for index, entry in enumerate(entries):
        for scope, figure, measured, point in _points(entry.summary):
            slot = found.setdefault((scope, figure.key), (figure, measured, {}))
            slot[2][index] = point
    return [Series(scope, figure, measured, [points.get(i) for i in range(len(entries))])
            for (scope, _), (figure, measured, points) in found.items()]


def _points(doc: dict[str, Any]) -> list[tuple[str, Figure, Figure | None, Point]]:
    rows = {(p["name"], p["mode"]): p for p in doc["profiles"]}
    one = rows.get((doc.get("reference"), "measured"))
    out = []
    for (name, mode), row in rows.items():
        scope = f"{name} ({mode})"
        out += [(scope, *found) for found in _row_points(row, one)]
    acc = doc.get("accuracy") or {}
    out += [("run", f, None, Point(acc[f.key], [acc[f.key]]))
            for f in (BASELINE_ERROR, BEST_ERROR, REDUCTION) if acc.get(f.key) is not None]
    return out


def _in_probes(row: dict | None) -> list[float]:
    if row is None:
        return []
    walls, probes = row.get("wall_samples_s") or [], row.get("probe_samples_s") or []
    if len(walls) != len(probes) or not walls or not all(probes):
        return []
    return [w / p for w, p in zip(walls, probes, strict=True)]


def _row_points(row: dict, one: dict | None) -> list[tuple[Figure, Figure | None, Point]]:
    walls, norm = row["wall_samples_s"], _in_probes(row)
    one_norm = _in_probes(one)
    equal_speed = row["mode"] == "measured" and row["nodes"] > 1 and bool(norm and one_norm)
    wall = Point(row["wall_s"], list(walls))
    out: list[tuple[Figure, Figure | None, Point]] = [
        (NORM_WALL, WALL, _beside(_mean_point(norm), wall)) if norm else (WALL, None, wall)]
    times = list((row.get("trial_compute_s") or {}).values())
    if times:
        trial = Point(statistics.fmean(times), [statistics.fmean(times)])
        out.append((NORM_TRIAL, TRIAL, _beside(_one(trial.value / _mean(row["probe_samples_s"])),
                                               trial)) if norm else (TRIAL, None, trial))
    cpu = list((row.get("trial_cpu_s") or {}).values())
    if cpu:
        out.append((CPU, None, _one(statistics.fmean(cpu))))
    if one is not None and row is not one and row.get("speedup") is not None:
        raw = Point(row["speedup"], _ratios(one["wall_samples_s"], walls))
        if equal_speed:
            value = _mean(one_norm) / _mean(norm)
            out.append((NORM_SPEEDUP, SPEEDUP, _beside(
                Point(value, _ratios(one_norm, norm) or [value]), raw)))
        else:
            out.append((SPEEDUP, None, raw))
    out += _bound_points(row, one, norm, equal_speed)
    return out + _count_points(row)


def _bound_points(row: dict, one: dict | None, norm: list[float],
                  equal_speed: bool) -> list[tuple[Figure, Figure | None, Point]]:
    bound = row.get("bound_makespan_s")
    if not bound or row.get("efficiency_vs_bound") is None:
        return []
    walls = row["wall_samples_s"]
    raw = Point(row["efficiency_vs_bound"], [bound / w for w in walls])
    if equal_speed and one is not None:
        scale = bound / _mean(one["probe_samples_s"])  # the bound in the 1-node row's probes
        return [(NORM_VS_BOUND, VS_BOUND,
                 _beside(Point(scale / _mean(norm), [scale / n for n in norm]), raw))]
    out: list[tuple[Figure, Figure | None, Point]] = [(VS_BOUND, None, raw)]
    if row.get("overhead_per_trial_s") is not None:
        per_slot = sum(row["trials"].values()) / row["slots"]
        out.append((OVERHEAD, None, Point(row["overhead_per_trial_s"],
                                          [(w - bound) / per_slot for w in walls])))
    return out


def _count_points(row: dict) -> list[tuple[Figure, Figure | None, Point]]:
    out = [(TRIALS_OK, None, _one(row["trials"].get("ok", 0)))]
    spark = row.get("spark") or {}
    out += [(f, None, _one(spark[f.key])) for f in (SPARK_TASKS, TASK_FAILURES, SPARK_JOBS)
            if spark.get(f.key) is not None]
    return out


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _one(value: float) -> Point:
    return Point(value, [value])


def _mean_point(samples: list[float]) -> Point:
    return Point(_mean(samples), list(samples))


def _beside(equal: Point, measured: Point) -> Point:
    return Point(equal.value, equal.samples, measured.value, measured.samples)


def _ratios(top: Sequence[float], bottom: Sequence[float]) -> list[float]:
    """Per repeat, when both sides have the same repeats; else none."""
    if len(top) != len(bottom):
        return []
    return [t / b for t, b in zip(top, bottom, strict=True)]


def changes(series: Series, thresholds: Thresholds) -> list[Change]:
    """The steps of a series: for an exact figure each entry whose value differs from the one
    before; for a measured one the change-points (bench.compare.change_points) beyond its gate
    threshold, and, at equal machine speed, only where the figure as measured moved the same
    way beyond it too, as the gate asks (judging.both_ways)."""
    present = [(i, p) for i, p in enumerate(series.points) if p is not None]
    if series.exact:
        return [Change(series, i, a.value, b.value, None)
                for (_, a), (i, b) in zip(present, present[1:], strict=False)
                if a.value != b.value]
    threshold = getattr(thresholds, series.figure.threshold or "")
    absolute = series.figure.absolute_threshold
    values = [p.value for _, p in present]
    found = change_points.find_steps(values, [p.samples or [p.value] for _, p in present],
                                     threshold, absolute=absolute)
    out = []
    for step in found:
        change = Change(series, present[step.index][0], step.before, step.after, step.p_value)
        if series.measured is not None:
            change = _with_measured(change, [p for _, p in present], step, threshold)
            if change is None:
                continue
        out.append(change)
    return out


def _with_measured(change: Change, points: list[Point], step: change_points.Step,
                   threshold: float) -> Change | None:
    """The step as measured over the same segments; None when it did not move the same way
    beyond the threshold (the machine's drift, not told apart from the code)."""
    measured = [p.measured for p in points]
    if None in measured:
        return change
    before = _mean(measured[step.start:step.index])  # type: ignore[arg-type]
    after = _mean(measured[step.index:step.end])  # type: ignore[arg-type]
    up = change.after > change.before
    if (after > before) != up or not change_points.beyond(before, after, threshold, False):
        return None
    return Change(change.series, change.index, change.before, change.after, change.p_value,
                  before, after)
