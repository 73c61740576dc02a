"""Printers: a RunSummary as a terminal table, a markdown report and summary.json.

They only format; every figure is computed in bench.analyse.summary.
"""

from __future__ import annotations

import statistics
from typing import Any

from tabulate import tabulate

from bench.analyse.run_scaling import usl_fit, weak_points
from bench.analyse.scaling_model import ERROR_TARGET, SHOWN_NODES, ModelError, Overheads, Waterfall
from bench.analyse.summary import Accuracy, Row, RunSummary
from bench.analyse.time_breakdown import PARTS
from bench.report.deployment_table import deployment_rows
from bench.store.records import Mode

DASH = "—"


def _num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _pct(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value * 100:.{digits}f} %"


def _mode(row: Row) -> str:
    return f"{row.mode.value} (oversubscribed)" if row.oversubscribed else row.mode.value


def _speedup(row: Row) -> str:
    text = _num(row.speedup)
    if row.speedup_interval is not None:
        low, high = row.speedup_interval
        text += f" [{low:.2f}, {high:.2f}]"
    return text


def _params(params: dict[str, Any] | None) -> str:
    return DASH if params is None else ", ".join(f"{k}={v:g}" for k, v in params.items())


HEADERS = ["profile", "mode", "nodes", "slots", "Time (mean ± sd) s", "Range (min … max) s",
           "speedup", "efficiency", "bound speedup", "eff. vs bound", "Karp-Flatt e",
           "start-up s", "warm-up s"]


def table_rows(summary: RunSummary) -> list[list[str]]:
    """The main table's cells (HEADERS): one row per profile and mode."""
    out = []
    for r in summary.rows:
        sd = f" ± {r.wall.sd:.2f}" if r.wall.n > 1 else ""
        out.append([
            r.name, _mode(r), str(r.nodes), str(r.slots), f"{r.wall.mean:.2f}{sd}",
            f"{r.wall.min:.2f} … {r.wall.max:.2f}" if r.wall.n > 1 else DASH, _speedup(r),
            _num(r.efficiency), _num(r.bound_speedup), _num(r.efficiency_vs_bound),
            _num(r.karp_flatt, 3), _num(r.startup_s, 1), _num(r.warmup_s, 1),
        ])
    return out


def _identical(acc: Accuracy) -> str:
    if acc.metrics_identical is None:
        return "not checked (one measured profile)"
    if acc.metrics_identical:
        return f"yes ({acc.compared} measured runs bit-identical)"
    return f"NO: {len(acc.mismatches)} differences"


ACCURACY_HEADERS = ["", "configuration", "test error"]


def accuracy_rows(acc: Accuracy) -> list[list[str]]:
    return [
        ["baseline", _params(acc.baseline_params), _pct(acc.baseline_test_error)],
        ["best on validation", _params(acc.best_params), _pct(acc.best_test_error)],
        ["relative test-error reduction", "", _pct(acc.relative_error_reduction, 1)],
        ["metrics identical across profiles", "", _identical(acc)],
    ]


def comparisons(summary: RunSummary) -> list[str]:
    """hyperfine's wording: '2-node (measured) ran 1.87 times faster than local (measured)'."""
    if summary.reference is None:
        return []
    lines = []
    for r in summary.rows:
        if r.speedup is None or (r.name == summary.reference and r.mode is Mode.MEASURED):
            continue
        interval = ""
        if r.speedup_interval is not None:
            interval = f" [95 % {r.speedup_interval[0]:.2f} … {r.speedup_interval[1]:.2f}]"
        lines.append(f"{r.name} ({_mode(r)}) ran {r.speedup:.2f}{interval} times faster than "
                     f"{summary.reference} (measured)")
    return lines + floor_lines(summary)


def floor_lines(summary: RunSummary) -> list[str]:
    """Each measured Spark row against the process-pool floor of its slots: what Spark and the
    runner cost over the same trials with no Spark."""
    out = []
    for floor in (r for r in summary.rows if r.runner == "process-pool"):
        for r in summary.rows:
            if (r.runner, r.mode, r.slots) == ("spark", Mode.MEASURED, floor.slots):
                ratio = r.wall.mean / floor.wall.mean
                line = (f"{r.name} (measured) took {ratio:.3f}x the wall time of the "
                        f"process-pool floor on {floor.slots} slots ({floor.name}: the same "
                        f"trials, no Spark): {r.wall.mean - floor.wall.mean:+.2f} s")
                if r.probe_samples_s and floor.probe_samples_s:
                    # run minutes apart, the two may have met a different machine
                    speed = (statistics.fmean(floor.probe_samples_s)
                             / statistics.fmean(r.probe_samples_s))
                    line += (f"; at equal machine speed (times / machine probe) "
                             f"{ratio * speed:.3f}x")
                    if abs(speed - 1) > 0.10:
                        line += (f" (the machine probe of the floor was {speed:.2f}x the "
                                 "row's: the host's speed moved between them)")
                out.append(line)
    return out


def replay_errors(summary: RunSummary) -> str | None:
    replayed = [r for r in summary.rows if r.replay_error is not None]
    if not replayed:
        return None
    return ("replay error (replay vs measured wall time, same profile): "
            + ", ".join(f"{r.name} {r.replay_error * 100:+.1f} %" for r in replayed))


def machine_speed(summary: RunSummary) -> str | None:
    """The machine probe of each measured row: how fast the host was while it ran."""
    probed = [r for r in summary.rows if r.mode is Mode.MEASURED and r.probe_samples_s]
    if not probed:
        return None

    def one(r: Row) -> str:
        samples = r.probe_samples_s
        spread = f" ({min(samples):.3f} … {max(samples):.3f})" if len(samples) > 1 else ""
        return f"{r.name} {sum(samples) / len(samples):.3f} s{spread}"
    return ("machine probe (the same fixed work in every measured trial; lower is a faster "
            "machine; the gate divides times by it): " + ", ".join(one(r) for r in probed))


def model_intro(summary: RunSummary) -> str:
    return ("Model (mode model, not measured: the 1-node compute times and overheads simulated "
            "on N nodes, each free slot taking the next trial, the driver launching one task at "
            f"a time; the runner dispatches {_order_name(summary.order)}):")


def _order_name(order: str) -> str:
    return "longest first" if order == "longest_first" else "in grid order"


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


def order_lines(summary: RunSummary) -> list[str]:
    """The dispatch orders compared on each replayed profile: replay and model makespans."""
    out = []
    for c in summary.order_checks:
        model = (f"; model {c.model_wall_s:.2f} s vs {c.model_other_wall_s:.2f} s"
                 if c.model_wall_s is not None and c.model_other_wall_s is not None else "")
        better = c.wall_s <= c.other_wall_s
        out.append(f"trial order, {c.name} (replay, {c.slots} slots): "
                   f"{_order_name(c.order)} {c.wall_s:.2f} s vs {_order_name(c.other_order)} "
                   f"{c.other_wall_s:.2f} s{model}: the runner's order is "
                   f"{'the better' if better else 'the worse'} here "
                   f"({(c.other_wall_s - c.wall_s) / c.other_wall_s * 100:+.1f} %)")
    return out


BREAKDOWN_HEADERS = ["profile", "mode", "wall s", "start-up s", "warm-up s", "data fetch s",
                     *(f"{p} %" for p in PARTS)]


def breakdown_rows(summary: RunSummary) -> list[list[str]]:
    """Where the grid wall time went: each part's share of the slots x wall time slot-seconds
    (bench.analyse.time_breakdown); start-up, warm-up and its data fetch come before the clock."""
    out = []
    for r in summary.rows:
        total = sum(r.slot_seconds.values())
        shares = [_num(r.slot_seconds[p] / total * 100, 1) if total else DASH for p in PARTS]
        out.append([r.name, r.mode.value, _num(r.wall.mean), _num(r.startup_s, 1),
                    _num(r.warmup_s, 1), _num(r.data_fetch_s, 3), *shares])
    return out


BREAKDOWN_INTRO = ("Where the time goes: the share of the slots x grid wall time spent waiting "
                   "for a task (dispatch), in each phase of the trials, in the rest of the task, "
                   "and idle after a slot's last trial (the last wave). Start-up, warm-up and the "
                   "warm-up's read of the broadcast data come before the clock:")


def _model_table(summary: RunSummary, tablefmt: str) -> str:
    headers, rows = model_table(summary)
    return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def _model_errors(summary: RunSummary) -> str:
    def one(e: ModelError) -> str:
        mark = " (its overheads were estimated here)" if e.in_sample else ""
        mark += "" if e.within_target else f" (beyond {ERROR_TARGET * 100:.0f} %)"
        return f"{e.name} ({e.mode.value}) {e.error * 100:+.1f} %{mark}"
    return (f"model error (model vs observed wall time; target within {ERROR_TARGET * 100:.0f} %): "
            + ", ".join(one(e) for e in summary.model_errors))


def _overheads(o: Overheads, reference: str | None) -> str:
    return (f"overheads from {reference} (measured): per trial dispatch {o.dispatch_s:.3f} s, "
            f"fetch {o.fetch_s:.3f} s, in-task {o.in_task_s:.3f} s; a slot's first trial "
            f"launch {o.launch_s:.3f} s and fetch +{o.first_fetch_s:.3f} s; collect "
            f"{o.collect_s:.3f} s; warm-up {o.warmup_s:.1f} s and start-up {o.startup_s:.1f} s "
            "are beside the wall time, not in it")


def _waterfall(w: Waterfall) -> str:
    text = f"{w.name}: " + " -> ".join(
        f"{s.stage} {s.speedup:.2f}" + (f" ({s.lost_to})" if s.lost_to else "") for s in w.steps)
    text += "".join(f"; {skipped}" for skipped in w.skipped)
    return text + (f"; last wave held by {', '.join(w.stragglers)}" if w.stragglers else "")


WEAK_HEADERS = ["profile", "mode", "nodes", "trials (k x N)", "T(N, kN) s",
                "1-node compute s", "scaled speedup", "weak efficiency"]
WEAK_INTRO = ("Weak scaling (Gustafson): the grid grows with the nodes, its first k x N trials "
              "run once on N nodes; scaled speedup = the 1-node compute of those trials / "
              "T(N, kN), weak efficiency = scaled speedup / N:")


def weak_rows(summary: RunSummary) -> list[list[str]]:
    return [[w.name, w.mode.value, str(w.nodes), str(w.trials), _num(w.wall_s),
             _num(p.serial_s if p else None), _num(p.scaled_speedup if p else None),
             _num(p.efficiency if p else None)] for w, p in weak_points(summary)]


DEPLOYMENT_INTRO = ("Deployment (as in 2016, once the best configuration was chosen): it is "
                    "retrained once, its weights broadcast, and the test split replicated on "
                    "the executors is scored in partitions; speedup is rows/s against the 1-node "
                    "profile's, and the predictions must be identical on every profile:")


def deployment_table(summary: RunSummary) -> tuple[list[str], list[list[str]]]:
    return deployment_rows(summary.deployments, summary.reference)


def scaling_lines(summary: RunSummary) -> list[str]:
    """The USL fit (or why there is none) and each row's time to the best configuration."""
    out = []
    fit = usl_fit(summary)
    if fit is not None and fit.under_determined:
        out.append(f"USL fit ({fit.source} points): under-determined, not a prediction: "
                   f"{fit.reason}; `bench run --nodes 1,2,4,8,13` sweeps enough node counts")
    elif fit is not None:
        def interval(i: tuple[float, float] | None) -> str:
            return f" [{i[0]:.4f}, {i[1]:.4f}]" if i else ""
        peak = (f", peak at N = {fit.peak_nodes:.1f}" if fit.peak_nodes is not None
                else ", no peak (kappa 0)")
        out.append(
            f"USL fit ({fit.source} points at N = {', '.join(map(str, fit.node_counts))}): "
            f"sigma {fit.sigma:.4f}{interval(fit.sigma_interval)} (contention), kappa "
            f"{fit.kappa:.5f}{interval(fit.kappa_interval)} (coherency){peak}"
            + (f", R² {fit.r_squared:.3f}" if fit.r_squared is not None else "")
            + (f"; {fit.interval_note}" if fit.interval_note else ""))
    ttb = [f"{r.name} ({r.mode.value}) {r.time_to_best_s:.1f} s of {r.wall.mean:.1f} s"
           for r in summary.rows if r.time_to_best_s is not None]
    if ttb and summary.accuracy is not None:
        out.append(f"time to quality (until the best configuration on validation, "
                   f"{summary.accuracy.best_trial_id}, had arrived; latest repeat): "
                   + ", ".join(ttb))
    return out


def model_lines(summary: RunSummary) -> list[str]:
    """The model's error on every row, its overheads and each profile's speedup waterfall."""
    if not summary.model or summary.overheads is None:
        return []
    return [_model_errors(summary), _overheads(summary.overheads, summary.reference),
            *(f"speedup lost, {_waterfall(w)}" for w in summary.waterfalls),
            *order_lines(summary), *scaling_lines(summary)]


def to_table(summary: RunSummary) -> str:
    parts = [tabulate(table_rows(summary), headers=HEADERS, disable_numparse=True)]
    parts += ["", *comparisons(summary)]
    if line := replay_errors(summary):
        parts.append(line)
    if line := machine_speed(summary):
        parts.append(line)
    if summary.accuracy is not None:
        parts += ["", f"Accuracy ({summary.workload}, grid '{summary.grid}', trials of "
                      f"{summary.accuracy.source}):",
                  tabulate(accuracy_rows(summary.accuracy),
                           headers=ACCURACY_HEADERS, disable_numparse=True)]
    if summary.model:
        parts += ["", model_intro(summary), _model_table(summary, "simple"), "",
                  *model_lines(summary)]
    if summary.deployments:
        headers, rows = deployment_table(summary)
        parts += ["", DEPLOYMENT_INTRO, tabulate(rows, headers=headers, disable_numparse=True)]
    if summary.weak_runs:
        parts += ["", WEAK_INTRO, tabulate(weak_rows(summary), headers=WEAK_HEADERS,
                                           disable_numparse=True)]
    if any(r.slot_seconds for r in summary.rows):
        parts += ["", BREAKDOWN_INTRO, tabulate(breakdown_rows(summary),
                                                headers=BREAKDOWN_HEADERS, disable_numparse=True)]
    if summary.notes:
        parts += ["", *(f"note: {n}" for n in summary.notes)]
    return "\n".join(parts)


def to_markdown(summary: RunSummary, meta: dict) -> str:
    md = [f"# {summary.workload}: grid '{summary.grid}'", "",
          f"Run `{summary.run_id}`; speedups against `{summary.reference or DASH}` (1 node, "
          "measured). Every row says where its figures come from: **measured** (real trials), "
          "**replay** (the real cluster of that size running surrogate trials that sleep for the "
          "1-node durations).", "",
          tabulate(table_rows(summary), headers=HEADERS, tablefmt="github",
                   disable_numparse=True), ""]
    md += [f"- {line}" for line in comparisons(summary)]
    for line in filter(None, (replay_errors(summary), machine_speed(summary))):
        md += ["", line[0].upper() + line[1:]]
    if summary.accuracy is not None:
        acc = summary.accuracy
        md += ["", "## Accuracy", "",
               f"The best configuration is chosen on the validation split; test errors are on "
               f"the test split (trials of `{acc.source}`).", "",
               tabulate(accuracy_rows(acc), headers=ACCURACY_HEADERS,
                        tablefmt="github", disable_numparse=True)]
        if acc.mismatches:
            md += ["", "### Metric mismatches", "",
                   tabulate(mismatch_rows(acc), headers=MISMATCH_HEADERS, tablefmt="github")]
    if summary.model:
        md += ["", "## Model", "", model_intro(summary), "", _model_table(summary, "github"), "",
               *(f"- {line}" for line in model_lines(summary))]
    if summary.deployments:
        headers, rows = deployment_table(summary)
        md += ["", "## Deployment", "", DEPLOYMENT_INTRO, "",
               tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)]
    if summary.weak_runs:
        md += ["", "## Weak scaling", "", WEAK_INTRO, "",
               tabulate(weak_rows(summary), headers=WEAK_HEADERS, tablefmt="github",
                        disable_numparse=True)]
    if any(r.slot_seconds for r in summary.rows):
        md += ["", "## Where the time goes", "", BREAKDOWN_INTRO, "",
               tabulate(breakdown_rows(summary), headers=BREAKDOWN_HEADERS, tablefmt="github",
                        disable_numparse=True)]
    md += ["", "## Phases (mean seconds per trial)", "",
           tabulate(phase_rows(summary), headers=["profile", "mode", *phase_names(summary)],
                    tablefmt="github", disable_numparse=True)]
    if summary.notes:
        md += ["", "## Notes", "", *(f"- {n}" for n in summary.notes)]
    md += ["", "## Environment", "",
           tabulate(sorted((k, str(v)) for k, v in summary.environment.items()),
                    headers=["", ""], tablefmt="github"), ""]
    return "\n".join(md)


def phase_names(summary: RunSummary) -> list[str]:
    seen: list[str] = []
    for r in summary.rows:
        seen += [p for p in r.phases_s if p not in seen]
    return seen


def phase_rows(summary: RunSummary) -> list[list[str]]:
    """Mean seconds per trial in each phase, one row per profile and mode."""
    return [[r.name, r.mode.value, *(_num(r.phases_s.get(p), 3) for p in phase_names(summary))]
            for r in summary.rows]


MISMATCH_HEADERS = ["trial", "profile", "repeat", "field", "expected", "got"]


def mismatch_rows(acc: Accuracy, most: int = 50) -> list[list[Any]]:
    return [[m.trial_id, m.profile, m.repeat, m.field, m.expected, m.got]
            for m in acc.mismatches[:most]]


