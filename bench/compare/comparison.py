"""Two results side by side: each figure of each profile, A, B, their ratio and a verdict.

What each figure is and how far the gate trusts it: ``bench.compare.figures``; how one figure is
judged: ``bench.compare.judging``; the intervals: ``bench.compare.bootstrap``; the terms:
docs/method.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.compare.bootstrap import interval, mean, paired_interval
from bench.compare.figures import (
    BASELINE_ERROR,
    BEST_ERROR,
    CPU,
    EFFICIENCY,
    IDENTICAL,
    MACHINE,
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
    TRIAL_METRICS,
    TRIALS_OK,
    VS_BOUND,
    WALL,
    Figure,
)
from bench.compare.judging import (
    FigureComparison,
    Verdict,
    both_ways,
    exact,
    judge,
    not_comparable,
    shown_only,
)
from bench.definitions.thresholds import Thresholds


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    comparable: bool  # False: the workload or grid differ, nothing compares
    figures: list[FigureComparison]
    notes: list[str] = field(default_factory=list)
    # What makes all or part of B incomparable with A: a different workload, grid or profile
    # definition, a profile on one side only. The gate refuses such a reference.
    mismatches: list[str] = field(default_factory=list)


def compare(a: dict[str, Any], b: dict[str, Any], *, a_label: str = "A", b_label: str = "B",
            thresholds: Thresholds | None = None) -> Comparison:
    """Compare two summary documents (summary.json, SUMMARY_VERSION). ``thresholds``: default
    B's own (its workload's [check])."""
    limits = thresholds or Thresholds.from_dict(b.get("thresholds"))
    mismatches: list[str] = []
    workload_differs = (a.get("workload"), a.get("grid"), a.get("workload_hash")) != \
        (b.get("workload"), b.get("grid"), b.get("workload_hash"))
    if workload_differs:
        mismatches.append(
            f"not comparable: A is {a.get('workload')} grid '{a.get('grid')}' "
            f"({a.get('workload_hash')}), B {b.get('workload')} grid '{b.get('grid')}' "
            f"({b.get('workload_hash')}): the workload or grid definition differs")

    rows_a = {(p["name"], p["mode"]): p for p in a["profiles"]}
    rows_b = {(p["name"], p["mode"]): p for p in b["profiles"]}
    one_node_a, one_node_b = _one_node_row(a), _one_node_row(b)
    out: list[FigureComparison] = []
    for key in [*rows_a, *(k for k in rows_b if k not in rows_a)]:
        scope = f"{key[0]} ({key[1]})"
        pa, pb = rows_a.get(key), rows_b.get(key)
        if pa is None or pb is None:
            why = f"only in {'B' if pa is None else 'A'}"
            mismatches.append(f"{scope}: {why}")
            out.append(not_comparable(scope, WALL, (pa or {}).get("wall_s"),
                                      (pb or {}).get("wall_s"), why))
            continue
        if workload_differs or pa.get("hash") != pb.get("hash"):
            why = "workload or grid differ" if workload_differs else "profile definition differs"
            if not workload_differs:
                mismatches.append(f"{scope}: the profile's definition differs "
                                  f"({pa.get('hash')} vs {pb.get('hash')})")
            out += [not_comparable(scope, f, pa.get(f.key), pb.get(f.key), why)
                    for f in (WALL, SPEEDUP)]
            continue
        out += _profile_figures(_Pair.of(scope, pa, pb, one_node_a, one_node_b, limits))
    if not workload_differs:
        out += _accuracy_figures(a, b)
    return Comparison(a_label, b_label, not workload_differs, out, _notes(a, b), mismatches)


def _notes(a: dict, b: dict) -> list[str]:
    notes: list[str] = []
    if a.get("machine") != b.get("machine"):
        notes.append("measured on different kinds of machine: absolute times compare the "
                     "machines as much as the code")
    for side, doc in (("A", a), ("B", b)):
        knobs = {k: v for k, v in (doc.get("test_knobs") or {}).items() if v}
        if knobs:
            notes.append(f"{side} was made with a test knob on: {knobs}")
    return notes


def _one_node_row(doc: dict) -> dict | None:
    """The 1-node measured row speedups are relative to (the summary's ``reference``)."""
    return next((p for p in doc["profiles"]
                 if p["name"] == doc.get("reference") and p["mode"] == "measured"), None)


def _in_probes(row: dict | None) -> list[float]:
    """A row's wall samples divided by the machine probe of the same repeat (Row.probe_samples_s);
    empty when a repeat has no probe."""
    if row is None:
        return []
    walls, probes = row.get("wall_samples_s") or [], row.get("probe_samples_s") or []
    if len(walls) != len(probes) or not walls or not all(probes):
        return []
    return [w / p for w, p in zip(walls, probes, strict=True)]


@dataclass(frozen=True)
class _Pair:
    """One profile and mode in A and in B, with what every figure of it needs."""

    scope: str
    pa: dict
    pb: dict
    one_a: dict | None  # each side's 1-node measured row
    one_b: dict | None
    limits: Thresholds
    enough: bool  # min_repeats a side: absolute times can be tested
    norm_a: list[float]  # wall samples in probes; empty without probes
    norm_b: list[float]
    equal_speed: bool  # a measured multi-node row, probes on both sides and their 1-node rows

    @classmethod
    def of(cls, scope: str, pa: dict, pb: dict, one_a: dict | None, one_b: dict | None,
           limits: Thresholds) -> _Pair:
        enough = min(len(pa["wall_samples_s"]), len(pb["wall_samples_s"])) >= limits.min_repeats
        norm_a, norm_b = _in_probes(pa), _in_probes(pb)
        # A measured multi-node row and its 1-node row ran minutes apart: a drift of the machine
        # between them moves speedup, efficiency vs bound and overhead. With probes on both
        # sides the gate judges them at equal machine speed; a replayed row replays its 1-node
        # row's durations, so its raw ratios are within-run already.
        equal_speed = (pa.get("mode") == "measured" and pa["nodes"] > 1 and bool(norm_a and norm_b)
                       and bool(_in_probes(one_a) and _in_probes(one_b)))
        return cls(scope, pa, pb, one_a, one_b, limits, enough, norm_a, norm_b, equal_speed)

    @property
    def probed(self) -> bool:
        return bool(self.norm_a and self.norm_b)

    def judge(self, figure: Figure, a: float | None, b: float | None,
              interval_: tuple[float, float] | None, repeats_ok: bool = True) -> FigureComparison:
        return judge(self.scope, figure, a, b, self.limits, interval_, repeats_ok=repeats_ok)


def _profile_figures(p: _Pair) -> list[FigureComparison]:
    return [*_wall_figures(p), *_trial_figures(p), *_cpu_figures(p), *_speedup_figures(p),
            *_bound_figures(p), *_count_figures(p)]


def _wall_figures(p: _Pair) -> list[FigureComparison]:
    walls_a, walls_b = p.pa["wall_samples_s"], p.pb["wall_samples_s"]
    wall = p.judge(WALL, p.pa["wall_s"], p.pb["wall_s"],
                   interval([walls_a], [walls_b], lambda m: m[0]) if p.enough else None,
                   repeats_ok=p.enough)
    if not p.probed:
        return [wall]
    # At equal machine speed: each repeat's wall time in units of its machine probe.
    return [shown_only(wall, NORM_WALL),
            p.judge(MACHINE, mean(p.pa["probe_samples_s"]), mean(p.pb["probe_samples_s"]), None,
                    repeats_ok=p.enough),
            both_ways(p.judge(NORM_WALL, mean(p.norm_a), mean(p.norm_b),
                              interval([p.norm_a], [p.norm_b], lambda m: m[0])
                              if p.enough else None, repeats_ok=p.enough), wall, p.limits)]


def _per_configuration(p: _Pair, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """A row's per-trial figure ``key`` on both sides, paired by configuration (the trials both
    ran, in one order); None when they share none."""
    a, b = p.pa.get(key) or {}, p.pb.get(key) or {}
    common = sorted(set(a) & set(b))
    if not common:
        return None
    return np.array([a[t] for t in common]), np.array([b[t] for t in common])


def _trial_figures(p: _Pair) -> list[FigureComparison]:
    paired = _per_configuration(p, "trial_compute_s")
    if paired is None:
        return []
    ta, tb = paired
    # Paired by configuration; still an absolute time, so it too needs the repeats.
    trial = p.judge(TRIAL, float(ta.mean()), float(tb.mean()),
                    paired_interval(ta, tb) if p.enough else None, repeats_ok=p.enough)
    if not p.probed:
        return [trial]
    probe_a, probe_b = mean(p.pa["probe_samples_s"]), mean(p.pb["probe_samples_s"])
    return [shown_only(trial, NORM_TRIAL),
            both_ways(p.judge(NORM_TRIAL, float(ta.mean()) / probe_a, float(tb.mean()) / probe_b,
                              paired_interval(ta / probe_a, tb / probe_b) if p.enough else None,
                              repeats_ok=p.enough), trial, p.limits)]


def _cpu_figures(p: _Pair) -> list[FigureComparison]:
    """Trial CPU time, paired by configuration: the work done, judged as it is (no probe)."""
    paired = _per_configuration(p, "trial_cpu_s")
    if paired is None:
        return []
    ca, cb = paired
    return [p.judge(CPU, float(ca.mean()), float(cb.mean()),
                    paired_interval(ca, cb) if p.enough else None, repeats_ok=p.enough)]


def _speedup_figures(p: _Pair) -> list[FigureComparison]:
    one_a, one_b = p.one_a, p.one_b
    if one_a is None or one_b is None or p.pa is one_a:  # the 1-node row's speedup is 1
        return []
    if p.pa.get("speedup") is None or p.pb.get("speedup") is None:
        return []
    interval_ = interval([one_a["wall_samples_s"], p.pa["wall_samples_s"]],
                         [one_b["wall_samples_s"], p.pb["wall_samples_s"]],
                         lambda m: m[0] / m[1])
    speedup = p.judge(SPEEDUP, p.pa["speedup"], p.pb["speedup"], interval_)
    out = [shown_only(speedup, NORM_SPEEDUP) if p.equal_speed else speedup]
    if p.equal_speed:
        one_norm_a, one_norm_b = _in_probes(one_a), _in_probes(one_b)
        out.append(both_ways(p.judge(
            NORM_SPEEDUP, mean(one_norm_a) / mean(p.norm_a), mean(one_norm_b) / mean(p.norm_b),
            interval([one_norm_a, p.norm_a], [one_norm_b, p.norm_b], lambda m: m[0] / m[1])
            if p.enough else None, repeats_ok=p.enough), speedup, p.limits))
    if p.pa["nodes"] > 1:  # efficiency is speedup / N: shown, gated through speedup
        out.append(p.judge(EFFICIENCY, p.pa["efficiency"], p.pb["efficiency"], interval_))
    return out


def _bound_figures(p: _Pair) -> list[FigureComparison]:
    pa, pb = p.pa, p.pb
    bound_a, bound_b = pa.get("bound_makespan_s"), pb.get("bound_makespan_s")
    if not (bound_a and bound_b):
        return []
    walls_a, walls_b = pa["wall_samples_s"], pb["wall_samples_s"]
    vs_bound = p.judge(VS_BOUND, pa["efficiency_vs_bound"], pb["efficiency_vs_bound"],
                       interval([walls_a], [walls_b], lambda m: 1 / m[0],
                                scale=(bound_a, bound_b)))
    out = [shown_only(vs_bound, NORM_VS_BOUND) if p.equal_speed else vs_bound]
    if p.equal_speed:
        # The bound comes from the 1-node row's durations: in units of that row's probe.
        scale_a = bound_a / mean(p.one_a["probe_samples_s"])  # type: ignore[index]
        scale_b = bound_b / mean(p.one_b["probe_samples_s"])  # type: ignore[index]
        out.append(both_ways(p.judge(
            NORM_VS_BOUND, scale_a / mean(p.norm_a), scale_b / mean(p.norm_b),
            interval([p.norm_a], [p.norm_b], lambda m: 1 / m[0], scale=(scale_a, scale_b))
            if p.enough else None, repeats_ok=p.enough), vs_bound, p.limits))
    per_slot_a = sum(pa["trials"].values()) / pa["slots"]
    per_slot_b = sum(pb["trials"].values()) / pb["slots"]
    # A measured row's overhead holds its trials' contention for the host's cores, which moves
    # with the machine's load as a wall time does: judged only with the repeats, or (with
    # probes) through efficiency vs bound at equal machine speed, which is the same wall time
    # against the same bound. A replayed row's is the runner's and Spark's own (its trials
    # sleep): one repeat will do.
    overhead = p.judge(
        OVERHEAD, pa["overhead_per_trial_s"], pb["overhead_per_trial_s"],
        interval([walls_a], [walls_b], lambda m: m[0], difference=True,
                 scale=(1 / per_slot_a, 1 / per_slot_b), offset=(bound_a, bound_b)),
        repeats_ok=p.enough or pa.get("mode") != "measured")
    out.append(shown_only(overhead, NORM_VS_BOUND) if p.equal_speed else overhead)
    return out


def _count_figures(p: _Pair) -> list[FigureComparison]:
    out = [exact(p.scope, TRIALS_OK, p.pa["trials"].get("ok", 0), p.pb["trials"].get("ok", 0))]
    spark_a, spark_b = p.pa.get("spark"), p.pb.get("spark")
    if spark_a and spark_b:
        out += [exact(p.scope, figure, spark_a[figure.key], spark_b[figure.key])
                for figure in (SPARK_TASKS, TASK_FAILURES, SPARK_JOBS)]
    return out


def _accuracy_figures(a: dict, b: dict) -> list[FigureComparison]:
    acc_a, acc_b = a.get("accuracy") or {}, b.get("accuracy") or {}
    out = [exact("run", f, acc_a.get(f.key), acc_b.get(f.key))
           for f in (BASELINE_ERROR, BEST_ERROR, REDUCTION)]
    metrics_a, metrics_b = a.get("trial_metrics") or {}, b.get("trial_metrics") or {}
    if metrics_a and metrics_b:
        changed = [t for t in metrics_a if metrics_a[t] != metrics_b.get(t)]
        out.append(exact("run", TRIAL_METRICS, 0, len(changed),
                         why=f"{len(changed)} of {len(metrics_a)}: {', '.join(changed[:3])}"
                             + (" ..." if len(changed) > 3 else "") if changed else ""))
    if acc_b.get("metrics_identical") is False:
        out.append(FigureComparison("run", IDENTICAL, acc_a.get("metrics_identical"), False, None,
                                    None, Verdict.WORSE, "B's profiles disagree on metrics", True))
    return out
