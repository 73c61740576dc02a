"""Two results side by side: each figure of each profile, A, B, their ratio and a verdict.

A figure knows which way is better and how far it can be trusted on a noisy shared machine:

- exact: deterministic for a seed (test errors, trial and Spark task counts): any change is one;
- within-run: a ratio of figures measured in the same run (speedup, efficiency vs bound, overhead
  per trial): machine noise hits both sides, so one repeat says something;
- absolute: a wall time; it moves 10-50 % with the load of a shared machine, so it gets a verdict
  only from enough repeats, by a bootstrap interval of the ratio of means, against a threshold
  above the drift that A/A runs showed (``Thresholds.wall_time``);
- at equal machine speed: a measured time divided by the machine probe of the same repeat
  (``bench.ml.machine_probe``), which takes most of the drift out. The gate's tight thresholds
  apply to these, and a verdict stands only when the figure as measured moved the same way
  beyond the threshold too (``_both_ways``). A measured multi-node row's speedup and efficiency
  vs bound compare two profiles run minutes apart, so they too are judged this way, with the
  repeats. With probes on both sides the raw times are shown, not gated; without (a run made
  before the probe) they are gated above the drift A/A runs showed.

Verdicts: improved, worse, same (within the figure's threshold), inconclusive (beyond the
threshold but not significant, or too few repeats to test), not comparable (different workload,
grid or profile definition).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.definitions.thresholds import Thresholds

_RESAMPLES = 10_000
_CONFIDENCE = 0.95


class Verdict(str, enum.Enum):
    IMPROVED = "improved"
    WORSE = "worse"
    SAME = "same"
    INCONCLUSIVE = "inconclusive"
    NOT_COMPARABLE = "not comparable"


class Kind(str, enum.Enum):
    EXACT = "exact"
    WITHIN_RUN = "within-run"
    ABSOLUTE = "absolute"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool
    kind: Kind
    threshold: str | None = None  # a field of Thresholds
    absolute_threshold: bool = False  # the threshold is in the figure's unit, not a fraction
    gated: bool = True  # False: shown, but it repeats what another figure gates
    changed_fails: bool = False  # exact results: an improvement is a change the gate reports too
    unit: str = ""


WALL = Figure("wall_s", "grid wall time", False, Kind.ABSOLUTE, "wall_time", unit="s")
TRIAL = Figure("trial_s", "trial compute time", False, Kind.ABSOLUTE, "trial_time", unit="s")
SPEEDUP = Figure("speedup", "speedup", True, Kind.WITHIN_RUN, "speedup", unit="x")
EFFICIENCY = Figure("efficiency", "efficiency", True, Kind.WITHIN_RUN, "speedup", gated=False)
VS_BOUND = Figure("efficiency_vs_bound", "efficiency vs bound", True, Kind.WITHIN_RUN,
                  "efficiency_vs_bound")
MACHINE = Figure("probe_s", "machine probe", False, Kind.ABSOLUTE, "wall_time", gated=False,
                 unit="s")
NORM_WALL = Figure("wall_probes", "grid wall time at equal machine speed", False,
                   Kind.WITHIN_RUN, "normalized_time", unit="probes")
NORM_TRIAL = Figure("trial_probes", "trial compute time at equal machine speed", False,
                    Kind.WITHIN_RUN, "normalized_time", unit="probes")
NORM_SPEEDUP = Figure("speedup_equal_speed", "speedup at equal machine speed", True,
                      Kind.WITHIN_RUN, "speedup", unit="x")
NORM_VS_BOUND = Figure("efficiency_vs_bound_equal_speed",
                       "efficiency vs bound at equal machine speed", True, Kind.WITHIN_RUN,
                       "efficiency_vs_bound")
OVERHEAD = Figure("overhead_per_trial_s", "overhead per trial", False, Kind.WITHIN_RUN,
                  "overhead_per_trial_s", absolute_threshold=True, unit="s")
TRIALS_OK = Figure("trials_ok", "trials ok", True, Kind.EXACT)
SPARK_TASKS = Figure("spark_tasks", "Spark task attempts", False, Kind.EXACT)
TASK_FAILURES = Figure("task_failures", "Spark task failures", False, Kind.EXACT)
SPARK_JOBS = Figure("spark_jobs", "Spark jobs", False, Kind.EXACT)
BASELINE_ERROR = Figure("baseline_test_error", "baseline test error", False, Kind.EXACT,
                        changed_fails=True, unit="%")
BEST_ERROR = Figure("best_test_error", "best test error", False, Kind.EXACT, changed_fails=True,
                    unit="%")
REDUCTION = Figure("relative_error_reduction", "relative test-error reduction", True, Kind.EXACT,
                   changed_fails=True, unit="%")
TRIAL_METRICS = Figure("trials_changed", "trials whose metrics changed", False, Kind.EXACT,
                       changed_fails=True)
IDENTICAL = Figure("metrics_identical", "metrics identical across profiles", True, Kind.EXACT)


@dataclass(frozen=True)
class FigureComparison:
    scope: str  # "local (measured)", or "run" for the accuracy figures
    figure: Figure
    a: Any
    b: Any
    ratio: float | None  # B / A
    interval: tuple[float, float] | None  # 95 % bootstrap interval of B / A (B - A: overhead)
    verdict: Verdict
    why: str
    gated: bool  # the gate judges this comparison (a figure with enough repeats, comparable)
    gated_as: str = ""  # not gated itself: the label of the figure at equal speed that is

    @property
    def change(self) -> str:
        """How much worse (+) or better (-) B is, in the figure's own terms."""
        if self.figure.absolute_threshold and isinstance(self.a, float) and \
                isinstance(self.b, float):
            return f"{self.b - self.a:+.3f} {self.figure.unit}"
        if self.ratio is None:
            return ""
        return f"{(self.ratio - 1) * 100:+.1f} %"


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    comparable: bool  # False: the workload or grid differ, nothing compares
    figures: list[FigureComparison]
    notes: list[str] = field(default_factory=list)
    # What makes all or part of B incomparable with A: a different workload, grid or profile
    # definition, a profile on one side only. The gate refuses such a baseline.
    mismatches: list[str] = field(default_factory=list)


def compare(a: dict[str, Any], b: dict[str, Any], *, a_label: str = "A", b_label: str = "B",
            thresholds: Thresholds | None = None) -> Comparison:
    """Compare two summary documents (summary.json, SUMMARY_VERSION). ``thresholds``: default
    B's own (its workload's [check])."""
    limits = thresholds or Thresholds.from_dict(b.get("thresholds"))
    notes: list[str] = []
    mismatches: list[str] = []
    workload_differs = (a.get("workload"), a.get("grid"), a.get("workload_hash")) != \
        (b.get("workload"), b.get("grid"), b.get("workload_hash"))
    if workload_differs:
        mismatches.append(
            f"not comparable: A is {a.get('workload')} grid '{a.get('grid')}' "
            f"({a.get('workload_hash')}), B {b.get('workload')} grid '{b.get('grid')}' "
            f"({b.get('workload_hash')}): the workload or grid definition differs")
    if a.get("machine") != b.get("machine"):
        notes.append("measured on different kinds of machine: absolute times compare the "
                     "machines as much as the code")
    for side, doc in (("A", a), ("B", b)):
        knobs = {k: v for k, v in (doc.get("test_knobs") or {}).items() if v}
        if knobs:
            notes.append(f"{side} was made with a test knob on: {knobs}")

    rows_a = {(p["name"], p["mode"]): p for p in a["profiles"]}
    rows_b = {(p["name"], p["mode"]): p for p in b["profiles"]}
    ref_a, ref_b = _reference_row(a), _reference_row(b)
    out: list[FigureComparison] = []
    for key in [*rows_a, *(k for k in rows_b if k not in rows_a)]:
        scope = f"{key[0]} ({key[1]})"
        pa, pb = rows_a.get(key), rows_b.get(key)
        if pa is None or pb is None:
            why = f"only in {'B' if pa is None else 'A'}"
            mismatches.append(f"{scope}: {why}")
            out.append(_not_comparable(scope, WALL, (pa or {}).get("wall_s"),
                                       (pb or {}).get("wall_s"), why))
            continue
        if workload_differs or pa.get("hash") != pb.get("hash"):
            why = "workload or grid differ" if workload_differs else "profile definition differs"
            if not workload_differs:
                mismatches.append(f"{scope}: the profile's definition differs "
                                  f"({pa.get('hash')} vs {pb.get('hash')})")
            out += [_not_comparable(scope, f, pa.get(f.key), pb.get(f.key), why)
                    for f in (WALL, SPEEDUP)]
            continue
        out += _profile_figures(scope, pa, pb, ref_a, ref_b, limits)
    if not workload_differs:
        out += _accuracy_figures(a, b)
    return Comparison(a_label, b_label, not workload_differs, out, notes, mismatches)


def _reference_row(doc: dict) -> dict | None:
    return next((p for p in doc["profiles"]
                 if p["name"] == doc.get("reference") and p["mode"] == "measured"), None)


def _not_comparable(scope: str, figure: Figure, a: Any, b: Any, why: str) -> FigureComparison:
    return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE, why, False)


def _in_probes(row: dict | None) -> list[float]:
    """A row's wall samples divided by the machine probe of the same repeat (Row.probe_samples_s);
    empty when a repeat has no probe."""
    if row is None:
        return []
    walls, probes = row.get("wall_samples_s") or [], row.get("probe_samples_s") or []
    if len(walls) != len(probes) or not walls or not all(probes):
        return []
    return [w / p for w, p in zip(walls, probes, strict=True)]


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _shown_only(fc: FigureComparison, gated_by: Figure) -> FigureComparison:
    """A figure the gate judges at equal machine speed instead: shown, with its verdict, not
    gated."""
    return dataclasses.replace(fc, gated=False, gated_as=gated_by.label,
                               why=f"{fc.why}; gated as '{gated_by.label}'")


def _both_ways(equal: FigureComparison, measured: FigureComparison,
               limits: Thresholds) -> FigureComparison:
    """A verdict at equal machine speed stands only when the figure as measured moved the same
    way beyond the same threshold.

    The probe and the trials do not feel the machine's drift alike: in the gate's proof on the
    2-core host (2026-12-01) the probe moved 14-27 % where the trials moved 6-16 %. Divided by
    it, a run on a faster machine looked 16 % slower. A trial that really got slower is slower
    both as measured and at equal machine speed; a drift of the machine, over- or
    under-corrected, makes the two disagree.
    """
    if equal.verdict not in (Verdict.WORSE, Verdict.IMPROVED) or measured.ratio is None:
        return equal
    threshold = getattr(limits, equal.figure.threshold)
    worse_by = (1 - measured.ratio) if measured.figure.higher_is_better else (measured.ratio - 1)
    if worse_by > threshold if equal.verdict is Verdict.WORSE else -worse_by > threshold:
        return equal
    return dataclasses.replace(
        equal, verdict=Verdict.INCONCLUSIVE,
        why=f"{equal.why} at equal machine speed, but {measured.change} as measured: the "
            "machine's drift, not told apart from the code")


def _profile_figures(scope: str, pa: dict, pb: dict, ref_a: dict | None, ref_b: dict | None,
                     limits: Thresholds) -> list[FigureComparison]:
    walls_a, walls_b = pa["wall_samples_s"], pb["wall_samples_s"]
    enough = min(len(walls_a), len(walls_b)) >= limits.min_repeats
    wall = _judge(scope, WALL, pa["wall_s"], pb["wall_s"], limits,
                  _interval([walls_a], [walls_b], lambda m: m[0]) if enough else None,
                  repeats_ok=enough)
    # At equal machine speed: each repeat's wall time in units of its machine probe.
    norm_a, norm_b = _in_probes(pa), _in_probes(pb)
    probed = bool(norm_a and norm_b)
    out = [_shown_only(wall, NORM_WALL) if probed else wall]
    if probed:
        out.append(_judge(scope, MACHINE, _mean(pa["probe_samples_s"]),
                          _mean(pb["probe_samples_s"]), limits, None, repeats_ok=enough))
        out.append(_both_ways(
            _judge(scope, NORM_WALL, _mean(norm_a), _mean(norm_b), limits,
                   _interval([norm_a], [norm_b], lambda m: m[0]) if enough else None,
                   repeats_ok=enough), wall, limits))

    common = sorted(set(pa.get("trial_compute_s") or {}) & set(pb.get("trial_compute_s") or {}))
    if common:
        ta = np.array([pa["trial_compute_s"][t] for t in common])
        tb = np.array([pb["trial_compute_s"][t] for t in common])
        # Paired by configuration; still an absolute time, so it too needs the repeats.
        trial = _judge(scope, TRIAL, float(ta.mean()), float(tb.mean()), limits,
                       _paired_interval(ta, tb) if enough else None, repeats_ok=enough)
        out.append(_shown_only(trial, NORM_TRIAL) if probed else trial)
        if probed:
            pa_mean, pb_mean = _mean(pa["probe_samples_s"]), _mean(pb["probe_samples_s"])
            out.append(_both_ways(
                _judge(scope, NORM_TRIAL, float(ta.mean()) / pa_mean, float(tb.mean()) / pb_mean,
                       limits, _paired_interval(ta / pa_mean, tb / pb_mean) if enough else None,
                       repeats_ok=enough), trial, limits))

    # A measured multi-node row and its 1-node reference ran minutes apart: a drift of the
    # machine between them moves speedup, efficiency vs bound and overhead. With probes on both
    # sides the gate judges them at equal machine speed; a replayed row replays its reference's
    # durations, so its raw ratios are within-run already.
    ref_norm_a, ref_norm_b = _in_probes(ref_a), _in_probes(ref_b)
    equal_speed = (pa.get("mode") == "measured" and pa["nodes"] > 1 and probed
                   and bool(ref_norm_a and ref_norm_b))
    is_reference = pa is ref_a  # its speedup is 1 by definition
    if ref_a is not None and ref_b is not None and not is_reference \
            and pa.get("speedup") is not None and pb.get("speedup") is not None:
        interval = _interval([ref_a["wall_samples_s"], walls_a], [ref_b["wall_samples_s"], walls_b],
                             lambda m: m[0] / m[1])
        speedup = _judge(scope, SPEEDUP, pa["speedup"], pb["speedup"], limits, interval)
        out.append(_shown_only(speedup, NORM_SPEEDUP) if equal_speed else speedup)
        if equal_speed:
            out.append(_both_ways(_judge(
                scope, NORM_SPEEDUP, _mean(ref_norm_a) / _mean(norm_a),
                _mean(ref_norm_b) / _mean(norm_b), limits,
                _interval([ref_norm_a, norm_a], [ref_norm_b, norm_b], lambda m: m[0] / m[1])
                if enough else None, repeats_ok=enough), speedup, limits))
        if pa["nodes"] > 1:  # efficiency is speedup / N: shown, gated through speedup
            out.append(_judge(scope, EFFICIENCY, pa["efficiency"], pb["efficiency"], limits,
                              interval))

    bound_a, bound_b = pa.get("bound_makespan_s"), pb.get("bound_makespan_s")
    if bound_a and bound_b:
        vs_bound = _judge(scope, VS_BOUND, pa["efficiency_vs_bound"], pb["efficiency_vs_bound"],
                          limits, _interval([walls_a], [walls_b], lambda m: 1 / m[0],
                                            scale=(bound_a, bound_b)))
        out.append(_shown_only(vs_bound, NORM_VS_BOUND) if equal_speed else vs_bound)
        if equal_speed:
            # The bound comes from the reference's durations: in units of the reference's probe.
            scale_a = bound_a / _mean(ref_a["probe_samples_s"])  # type: ignore[index]
            scale_b = bound_b / _mean(ref_b["probe_samples_s"])  # type: ignore[index]
            out.append(_both_ways(_judge(
                scope, NORM_VS_BOUND, scale_a / _mean(norm_a), scale_b / _mean(norm_b), limits,
                _interval([norm_a], [norm_b], lambda m: 1 / m[0], scale=(scale_a, scale_b))
                if enough else None, repeats_ok=enough), vs_bound, limits))
        per_slot_a = sum(pa["trials"].values()) / pa["slots"]
        per_slot_b = sum(pb["trials"].values()) / pb["slots"]
        # A measured row's overhead holds its trials' contention for the host's cores, which
        # moves with the machine's load as a wall time does: judged only with the repeats, or
        # (with probes) through efficiency vs bound at equal machine speed, which is the same
        # wall time against the same bound. A replayed row's is the runner's and Spark's own
        # (its trials sleep): one repeat will do.
        overhead = _judge(
            scope, OVERHEAD, pa["overhead_per_trial_s"], pb["overhead_per_trial_s"], limits,
            _interval([walls_a], [walls_b], lambda m: m[0], difference=True,
                      scale=(1 / per_slot_a, 1 / per_slot_b), offset=(bound_a, bound_b)),
            repeats_ok=enough or pa.get("mode") != "measured")
        out.append(_shown_only(overhead, NORM_VS_BOUND) if equal_speed else overhead)

    out.append(_exact(scope, TRIALS_OK, pa["trials"].get("ok", 0), pb["trials"].get("ok", 0)))
    spark_a, spark_b = pa.get("spark"), pb.get("spark")
    if spark_a and spark_b:
        for figure in (SPARK_TASKS, TASK_FAILURES, SPARK_JOBS):
            out.append(_exact(scope, figure, spark_a[figure.key], spark_b[figure.key]))
    return out


def _accuracy_figures(a: dict, b: dict) -> list[FigureComparison]:
    acc_a, acc_b = a.get("accuracy") or {}, b.get("accuracy") or {}
    out = [_exact("run", f, acc_a.get(f.key), acc_b.get(f.key))
           for f in (BASELINE_ERROR, BEST_ERROR, REDUCTION)]
    metrics_a, metrics_b = a.get("trial_metrics") or {}, b.get("trial_metrics") or {}
    if metrics_a and metrics_b:
        changed = [t for t in metrics_a if metrics_a[t] != metrics_b.get(t)]
        out.append(_exact("run", TRIAL_METRICS, 0, len(changed),
                          why=f"{len(changed)} of {len(metrics_a)}: {', '.join(changed[:3])}"
                              + (" ..." if len(changed) > 3 else "") if changed else ""))
    if acc_b.get("metrics_identical") is False:
        out.append(FigureComparison("run", IDENTICAL, acc_a.get("metrics_identical"), False, None,
                                    None, Verdict.WORSE, "B's profiles disagree on metrics", True))
    return out


def _exact(scope: str, figure: Figure, a: Any, b: Any, why: str = "") -> FigureComparison:
    if a is None or b is None:
        return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE,
                                "missing on one side", False)
    ratio = b / a if isinstance(a, (int, float)) and a else None
    if a == b:
        verdict, why = Verdict.SAME, why or "exact: identical"
    else:
        better = (b > a) == figure.higher_is_better
        verdict = Verdict.IMPROVED if better else Verdict.WORSE
        why = why or "exact for a seed: any change is a change"
    return FigureComparison(scope, figure, a, b, ratio, None, verdict, why, True)


def _judge(scope: str, figure: Figure, a: float | None, b: float | None, limits: Thresholds,
           interval: tuple[float, float] | None, repeats_ok: bool = True) -> FigureComparison:
    if a is None or b is None:
        return FigureComparison(scope, figure, a, b, None, None, Verdict.NOT_COMPARABLE,
                                "missing on one side", False)
    threshold = getattr(limits, figure.threshold)
    ratio = b / a if a else None
    if figure.absolute_threshold:
        worse_by = (b - a) if not figure.higher_is_better else (a - b)
        no_change = 0.0
        shown = f"{threshold:g} {figure.unit}"
    else:
        if ratio is None:
            return FigureComparison(scope, figure, a, b, None, interval, Verdict.NOT_COMPARABLE,
                                    "A is 0", False)
        worse_by = (ratio - 1) if not figure.higher_is_better else (1 - ratio)
        no_change = 1.0
        shown = f"{threshold * 100:g} %"
    beyond = abs(worse_by) > threshold
    direction = Verdict.WORSE if worse_by > 0 else Verdict.IMPROVED
    if not repeats_ok:
        verdict = Verdict.INCONCLUSIVE if beyond else Verdict.SAME
        why = (f"fewer than {limits.min_repeats} repeats a side: no significance test"
               + (f", within {shown}" if not beyond else ""))
        return FigureComparison(scope, figure, a, b, ratio, None, verdict, why, False)
    if not beyond:
        return FigureComparison(scope, figure, a, b, ratio, interval, Verdict.SAME,
                                f"within {shown}", True)
    if interval is not None and interval[0] <= no_change <= interval[1]:
        return FigureComparison(scope, figure, a, b, ratio, interval, Verdict.INCONCLUSIVE,
                                f"beyond {shown} but not significant", True)
    why = f"beyond {shown}" + (", significant" if interval is not None else ", 1 repeat")
    return FigureComparison(scope, figure, a, b, ratio, interval, direction, why, True)


def _resampled_means(samples: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    values = np.asarray(samples, float)
    return rng.choice(values, (_RESAMPLES, len(values))).mean(axis=1)


def _interval(
    a_samples: list[Sequence[float]], b_samples: list[Sequence[float]],
    statistic: Callable[[list[np.ndarray]], np.ndarray], *, difference: bool = False,
    scale: tuple[float, float] = (1.0, 1.0), offset: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of B / A (or B - A) for a figure that is
    ``scale * (statistic(means of its sample lists) - offset)``, each list resampled on its own.
    None when some list has fewer than two values: one repeat has no spread to resample."""
    if any(len(s) < 2 for s in (*a_samples, *b_samples)):
        return None
    rng = np.random.default_rng(0)
    fig_a = scale[0] * (statistic([_resampled_means(s, rng) for s in a_samples]) - offset[0])
    fig_b = scale[1] * (statistic([_resampled_means(s, rng) for s in b_samples]) - offset[1])
    tail = (1 - _CONFIDENCE) / 2 * 100
    values = fig_b - fig_a if difference else fig_b / fig_a
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _paired_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float] | None:
    """Bootstrap over trials of sum(B) / sum(A), each trial paired with itself."""
    if len(a) < 2:
        return None
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(a), (_RESAMPLES, len(a)))
    ratios = b[picks].sum(axis=1) / a[picks].sum(axis=1)
    tail = (1 - _CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)
