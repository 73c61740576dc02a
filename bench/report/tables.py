"""The cells of the report's tables, one list of strings per row: the terminal, report.md and
report.html lay them out."""

from __future__ import annotations

from typing import Any

from bench.analyse.scaling_model import SHOWN_NODES
from bench.analyse.summary import Accuracy, Row, RunSummary
from bench.analyse.time_breakdown import PARTS
from bench.report.deployment_table import deployment_cells
from bench.report.formats import DASH, mode_label, num, params, pct


def _speedup(row: Row) -> str:
    text = num(row.speedup)
    if row.speedup_interval is not None:
        low, high = row.speedup_interval
        text += f" [{low:.2f}, {high:.2f}]"
    return text


HEADERS = ["profile", "mode", "nodes", "slots", "Time (mean ± sd) s", "Range (min … max) s",
           "speedup", "efficiency", "bound speedup", "eff. vs bound", "Karp-Flatt e",
           "start-up s", "warm-up s"]


def table_rows(summary: RunSummary) -> list[list[str]]:
    """The main table's cells (HEADERS): one row per profile and mode."""
    out = []
    for r in summary.rows:
        sd = f" ± {r.wall.sd:.2f}" if r.wall.n > 1 else ""
        out.append([
            r.name, mode_label(r), str(r.nodes), str(r.slots), f"{r.wall.mean:.2f}{sd}",
            f"{r.wall.min:.2f} … {r.wall.max:.2f}" if r.wall.n > 1 else DASH, _speedup(r),
            num(r.efficiency), num(r.bound_speedup), num(r.efficiency_vs_bound),
            num(r.karp_flatt, 3), num(r.startup_s, 1), num(r.warmup_s, 1),
        ])
    return out


SHORT_HEADERS = ["profile", "mode", "nodes", "time (mean ± sd) s", "speedup", "efficiency",
                 "eff. vs bound"]


def short_rows(summary: RunSummary) -> list[list[str]]:
    """The short answer's table (SHORT_HEADERS): the main table's columns a reader came for
    (the speedup's spread is in the answer's 'ran ... times faster' lines)."""
    return [[r.name, mode_label(r), str(r.nodes),
             f"{r.wall.mean:.2f}" + (f" ± {r.wall.sd:.2f}" if r.wall.n > 1 else ""),
             num(r.speedup), num(r.efficiency), num(r.efficiency_vs_bound)]
            for r in summary.rows]


def _identical(acc: Accuracy) -> str:
    if acc.metrics_identical is None:
        return "not checked (one measured profile)"
    if acc.metrics_identical:
        return f"yes ({acc.compared} measured runs bit-identical)"
    return f"NO: {len(acc.mismatches)} differences"


ACCURACY_HEADERS = ["", "configuration", "test error", "95 % interval"]
NO_INTERVAL = "no interval (old run)"  # a run that did not record its trials' wrong test images


def interval(pair: tuple[float, float] | None, digits: int = 1, sign: bool = False) -> str:
    """A 95 % interval of fractions in percent: "[2.1, 6.1]"; with ``sign``, "[-8.3, +61.5]"."""
    if pair is None:
        return DASH
    spec = f"{'+' if sign else ''}.{digits}f"
    return f"[{pair[0] * 100:{spec}}, {pair[1] * 100:{spec}}]"


def significance(acc: Accuracy) -> str:
    """"significant" when the reduction's 95 % interval excludes 0, else "not significant"; empty
    without an interval."""
    i = acc.intervals
    if i is None or i.significant is None:
        return ""
    return "significant" if i.significant else "not significant"


def _error_interval(acc: Accuracy, which: str) -> str:
    i = acc.intervals
    if i is None:
        return NO_INTERVAL
    pair, wrong = ((i.baseline_interval, i.baseline_wrong) if which == "baseline"
                   else (i.best_interval, i.best_wrong))
    return f"{interval(pair, 2)} % (Wilson; {wrong} of {i.n} test images wrong)"


def _reduction_interval(acc: Accuracy) -> str:
    i = acc.intervals
    if i is None:
        return NO_INTERVAL
    if i.reduction_interval is None:
        return "none: the baseline got no test image wrong"
    return (f"{interval(i.reduction_interval, sign=True)} % (paired bootstrap over the {i.n} test "
            f"images; {i.baseline_only} wrong only for the baseline, {i.best_only} only for the "
            f"best): {significance(acc)} (McNemar p = {i.mcnemar_p:.2g})")


def accuracy_rows(acc: Accuracy) -> list[list[str]]:
    return [
        ["baseline", params(acc.baseline_params), pct(acc.baseline_test_error),
         _error_interval(acc, "baseline")],
        ["best on validation", params(acc.best_params), pct(acc.best_test_error),
         _error_interval(acc, "best")],
        ["relative test-error reduction", "", pct(acc.relative_error_reduction, 1),
         _reduction_interval(acc)],
        ["metrics identical across profiles", "", _identical(acc), ""],
    ]


def model_table(summary: RunSummary) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the model's predictions at SHOWN_NODES, in both dispatch orders."""
    shown = [p for p in summary.model if p.nodes in SHOWN_NODES]
    lpt = summary.order == "longest_first"
    mark = {True: " (the runner's)", False: ""}
    return (["nodes (model)", *(str(p.nodes) for p in shown)], [
        [f"wall s, longest first{mark[lpt]}", *(f"{p.longest_first_wall_s:.2f}" for p in shown)],
        [f"speedup, longest first{mark[lpt]}",
         *(f"{p.longest_first_speedup:.2f}" for p in shown)],
        [f"wall s, grid order{mark[not lpt]}", *(f"{p.wall_s:.2f}" for p in shown)],
        [f"speedup, grid order{mark[not lpt]}", *(f"{p.speedup:.2f}" for p in shown)],
    ])


BREAKDOWN_HEADERS = ["profile", "mode", "wall s", "start-up s", "warm-up s", "data fetch s",
                     *(f"{p} %" for p in PARTS)]


def breakdown_rows(summary: RunSummary) -> list[list[str]]:
    """Where the grid wall time went: each part's share of the slots x wall time slot-seconds
    (bench.analyse.time_breakdown); start-up, warm-up and its data fetch come before the clock."""
    out = []
    for r in summary.rows:
        shares = [num(r.slot_percent[p], 1) if r.slot_percent else DASH for p in PARTS]
        out.append([r.name, r.mode.value, num(r.wall.mean), num(r.startup_s, 1),
                    num(r.warmup_s, 1), num(r.data_fetch_s, 3), *shares])
    return out


WEAK_HEADERS = ["profile", "mode", "nodes", "trials (k x N)", "T(N, kN) s",
                "1-node compute s", "scaled speedup", "weak efficiency"]


def weak_rows(summary: RunSummary) -> list[list[str]]:
    return [[w.name, w.mode.value, str(w.nodes), str(w.trials), num(w.wall_s),
             num(p.serial_s if p else None), num(p.scaled_speedup if p else None),
             num(p.efficiency if p else None)] for w in summary.weak_runs for p in [w.point]]


def deployment_table(summary: RunSummary) -> tuple[list[str], list[list[str]]]:
    return deployment_cells(summary.deployment_rows)


def phase_names(summary: RunSummary) -> list[str]:
    seen: list[str] = []
    for r in summary.rows:
        seen += [p for p in r.phases_s if p not in seen]
    return seen


def phase_rows(summary: RunSummary) -> list[list[str]]:
    """Mean seconds per trial in each phase, one row per profile and mode."""
    return [[r.name, r.mode.value, *(num(r.phases_s.get(p), 3) for p in phase_names(summary))]
            for r in summary.rows]


MISMATCH_HEADERS = ["trial", "profile", "repeat", "field", "expected", "got"]


def mismatch_rows(acc: Accuracy, most: int = 50) -> list[list[Any]]:
    return [[m.trial_id, m.profile, m.repeat, m.field, m.expected, m.got]
            for m in acc.mismatches[:most]]
