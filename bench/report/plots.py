"""The pictures of a run: matplotlib Figures drawn from a RunSummary and its trial records.

Every function returns a new ``Figure`` (no pyplot, so no global state between calls or
threads) and draws only what the summary and the records say; ``save_png`` is the only I/O.
Each drawn element carries a ``gid`` (``"row:local:measured"``, ``"trial:<id>:train"``...) so
tests can check a picture's data on the Figure instead of its pixels.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import offset_copy

from bench.analyse import formulas
from bench.analyse.scalability import MIN_NODE_COUNTS, UslFit, counted_node_counts, usl_speedup
from bench.analyse.summary import Accuracy, Row, RunSummary
from bench.analyse.time_to_quality import QualityPoint
from bench.store.records import PHASES, Mode, TrialResult, TrialStatus

DPI = 110
# Okabe-Ito colours (readable by colour-blind people) plus a hatch, so a mode survives grey print.
MODE_STYLE: dict[Mode, dict[str, Any]] = {
    Mode.MEASURED: {"color": "#0072B2", "hatch": "", "marker": "o"},
    Mode.REPLAY: {"color": "#E69F00", "hatch": "//", "marker": "s"},
    Mode.MODEL: {"color": "#999999", "hatch": "..", "marker": "^"},
}
PHASE_COLOURS = {
    "waiting": "#A0A0A0", "fetch": "#56B4E9", "probe": "#000000", "build": "#CC79A7",
    "train": "#0072B2", "evaluate": "#009E73", "cleanup": "#F0E442", "collect": "#D55E00",
}
IDLE_COLOUR = "#F4F4F4"
# Trials without a test error, drawn at the top of the error chart: marker per status.
NO_METRICS_MARKER = {TrialStatus.DIVERGED: "x", TrialStatus.FAILED: "X",
                     TrialStatus.TIMEOUT: "v", TrialStatus.OOM: "P",
                     TrialStatus.CRASHED: "D", TrialStatus.CANCELLED: "_"}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # an Agg canvas of its own: no backend switching, no pyplot
    return fig


def _empty(fig: Figure, title: str, why: str) -> Figure:
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, color="#555555")
    ax.set_axis_off()
    return fig


def _mode_label(row: Row) -> str:
    return f"{row.mode.value} (oversubscribed)" if row.oversubscribed else row.mode.value


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_png(fig: Figure, path: Path) -> bytes:
    """Write ``fig`` as a PNG at ``path``; return the bytes written (report.html embeds them)."""
    data = png_bytes(fig)
    path.write_bytes(data)
    return data


def wall_time(summary: RunSummary) -> Figure:
    """Grid wall time by number of nodes, like the 2016 figure: one bar per profile and mode,
    the mode told by colour, hatch and legend; error bars are the sd over repeats."""
    title = f"Grid wall time: {summary.workload}, grid '{summary.grid}'"
    fig = _figure(8, 4.5)
    if not summary.rows:
        return _empty(fig, title, "no profile finished a grid")
    ax = fig.add_subplot()
    groups: dict[tuple[int, str], list[Row]] = defaultdict(list)
    for row in summary.rows:  # already ordered by nodes, name, mode
        groups[(row.nodes, row.name)].append(row)
    width = 0.8 / max(len(g) for g in groups.values())
    seen: set[str] = set()
    top = max(r.wall.mean + r.wall.sd for r in summary.rows)
    for x, rows in enumerate(groups.values()):
        for i, row in enumerate(rows):
            style = MODE_STYLE[row.mode]
            label = _mode_label(row)
            bars = ax.bar(
                x + (i - (len(rows) - 1) / 2) * width, row.wall.mean, width * 0.95,
                yerr=row.wall.sd if row.wall.n > 1 else None, capsize=4,
                color=style["color"], hatch=style["hatch"] + ("xx" if row.oversubscribed else ""),
                edgecolor="white" if not style["hatch"] else "#333333",
                label=None if label in seen else label,
            )
            seen.add(label)
            bars.patches[0].set_gid(f"row:{row.name}:{row.mode.value}")
            sd = f" ± {row.wall.sd:.1f}" if row.wall.n > 1 else ""
            ax.annotate(f"{row.wall.mean:.1f}{sd} s", (bars.patches[0].get_x()
                        + bars.patches[0].get_width() / 2, row.wall.mean + row.wall.sd),
                        xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                        fontsize=8)
    ax.set_xticks(range(len(groups)),
                  [f"{name}\n{nodes} node{'s' if nodes > 1 else ''}" for nodes, name in groups])
    ax.set_ylim(0, top * 1.15)
    ax.set_ylabel("grid wall time (s)")
    ax.set_title(title)
    repeats = max(r.wall.n for r in summary.rows)
    ax.legend(title="mode", loc="upper right", fontsize=8)
    ax.text(0.0, -0.2 if len(groups) < 6 else -0.25,
            f"first trial dispatched → last result at the driver; start-up and warm-up not "
            f"included{'; error bars: sd over repeats' if repeats > 1 else ''}",
            transform=ax.transAxes, fontsize=8, color="#555555")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def speedup(summary: RunSummary,
            model_curve: Sequence[tuple[int, float]] | None = None, *,
            usl: UslFit | None = None) -> Figure:
    """Speedup by number of nodes: the ideal line, what the grid allows (bound), the measured and
    replayed points with their 95 % interval, an optional model curve (nodes, speedup) and an
    optional Universal Scalability Law fit (``bench.analyse.scalability.fit_usl``): a dashed curve
    labelled with the mode of the points it was fitted on and its sigma and kappa, or, for an
    under-determined fit, no curve and a note saying so."""
    title = f"Speedup against {summary.reference or '(no 1-node reference)'}, 1 node measured"
    fig = _figure(8, 5)
    rows = [r for r in summary.rows if r.speedup is not None]
    if not rows and not model_curve:
        return _empty(fig, title, "no speedup: it needs a finished 1-node measured profile")
    ax = fig.add_subplot()
    most = max([r.nodes for r in summary.rows] + [n for n, _ in model_curve or []])
    ax.plot([1, most], [1, most], color="#888888", linestyle="--", linewidth=1,
            label="ideal (S = N)", gid="ideal")
    usl_curve = _usl_curve(ax, usl, most)
    bound = sorted({(r.nodes, r.bound_speedup) for r in summary.rows
                    if r.bound_speedup is not None})
    if bound:
        ax.plot([n for n, _ in bound], [b for _, b in bound], linestyle="none", marker="_",
                markersize=22, markeredgewidth=2.5, color="#000000",
                label="bound (what the grid allows)", gid="bound")
        for n, b in bound:
            if n == 1:
                continue  # 1x on one node says nothing
            ax.annotate(f"{b:.2f}×", (n, b), xytext=(0, 7), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    if model_curve:
        curve = sorted(model_curve)
        ax.plot([n for n, _ in curve], [s for _, s in curve], color=MODE_STYLE[Mode.MODEL]["color"],
                linewidth=1.5, label="model", gid="model")
    # Measured and replayed points at the same node count sit side by side, not on each other.
    shift = {Mode.MEASURED: 2 ** -0.07, Mode.REPLAY: 2 ** 0.07, Mode.MODEL: 1.0}
    for mode in (Mode.MEASURED, Mode.REPLAY, Mode.MODEL):
        of_mode = [r for r in rows if r.mode is mode]
        if not of_mode:
            continue
        xs = [r.nodes * shift[mode] for r in of_mode]
        ys = [r.speedup for r in of_mode]
        low = [r.speedup - r.speedup_interval[0] if r.speedup_interval else 0.0 for r in of_mode]
        high = [r.speedup_interval[1] - r.speedup if r.speedup_interval else 0.0 for r in of_mode]
        style = MODE_STYLE[mode]
        has_interval = any(r.speedup_interval for r in of_mode)
        drawn = ax.errorbar(xs, ys, yerr=[low, high] if has_interval else None, fmt=style["marker"],
                            color=style["color"], markersize=7, capsize=4, label=mode.value)
        drawn.lines[0].set_gid(mode.value)
        for x, r in zip(xs, of_mode, strict=True):
            side = -1 if mode is Mode.MEASURED else 1
            ax.annotate(f"{r.speedup:.2f}×" + (" (oversubscribed)" if r.oversubscribed else ""),
                        (x, r.speedup), xytext=(8 * side, -3), textcoords="offset points",
                        ha="right" if side < 0 else "left", fontsize=8, color=style["color"])
    # log-log: 1, 2 and 13 nodes all readable, and the ideal line stays the diagonal.
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    lowest = min([1.0] + [r.speedup_interval[0] if r.speedup_interval else r.speedup
                          for r in rows] + [s for _, s in model_curve or []] + usl_curve)
    ax.set_xlim(0.6, most * 1.5)  # room for the labels left of 1 and right of the last
    ax.set_ylim(lowest * 0.8, most * 1.35)
    # Every node count run, and powers of two where the model alone goes (1 ... 64 would crowd).
    ticks = sorted({r.nodes for r in summary.rows}
                   | {n for n, _ in model_curve or [] if n & (n - 1) == 0})
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.set_xticks([], minor=True)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.set_yticks([], minor=True)
    ax.set_xlabel("nodes")
    ax.set_ylabel("speedup T(1) / T(N)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    if any(r.speedup_interval for r in rows):
        ax.text(1.0, -0.12, "bars: 95 % bootstrap interval over repeats", transform=ax.transAxes,
                ha="right", fontsize=8, color="#555555")
    if usl is not None and usl.under_determined:
        counted = counted_node_counts(usl.node_counts)
        ax.text(0.98, 0.03, f"{usl.label}: under-determined ({len(counted)} node counts < "
                f"{MIN_NODE_COUNTS}: {', '.join(map(str, counted))}), not drawn",
                transform=ax.transAxes,
                ha="right", va="bottom", fontsize=8, color="#555555", gid="usl-note",
                bbox={"facecolor": "white", "edgecolor": "#CCCCCC", "alpha": 0.9, "pad": 3})
    return fig


def _interval_text(interval: tuple[float, float] | None, digits: int) -> str:
    return f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]" if interval else ""


def usl_legend_label(fit: UslFit) -> str:
    """"USL fit (replay): σ = 0.050 [0.046, 0.053], κ = 0.00207 [...]" with the peak when the
    fit has one, "(no interval: ...)" when it has none."""
    label = (f"{fit.label}: σ = {fit.sigma:.3f}{_interval_text(fit.sigma_interval, 3)}, "
             f"κ = {fit.kappa:.2g}" + (f" [{fit.kappa_interval[0]:.2g}, "
                                        f"{fit.kappa_interval[1]:.2g}]"
                                        if fit.kappa_interval else ""))
    peak = fit.peak_nodes
    extra = [f"peak at N* = {peak:.0f}" + (" (beyond the data)" if fit.peak_beyond_data else "")
             if peak is not None else "no peak (κ = 0)"]
    if fit.sigma_interval:
        extra.append(f"{fit.confidence * 100:g} % bootstrap intervals")
    elif fit.interval_note and "one sample" in fit.interval_note:
        extra.append("no interval (no repeats)")
    else:
        extra.append(fit.interval_note or "no interval")
    return label + "\n" + "; ".join(extra)


def _usl_curve(ax: Any, fit: UslFit | None, most: int) -> list[float]:
    """Draw a determined USL fit: dashed (gid "usl") from 1 to the largest node count it was
    fitted on, dotted (gid "usl-extrapolated") on to ``most``; return the speedups drawn."""
    if fit is None or fit.under_determined:
        return []
    fitted = max(fit.node_counts)
    colour = MODE_STYLE[Mode(fit.source)]["color"]
    xs = np.geomspace(1, fitted, 200) if fitted > 1 else np.array([1.0])
    ys = usl_speedup(xs, fit.sigma, fit.kappa)
    label = usl_legend_label(fit)
    if most > fitted:
        label += f"\ndotted: beyond the {fitted} nodes fitted"
        beyond = np.geomspace(fitted, most, 100)
        more = usl_speedup(beyond, fit.sigma, fit.kappa)
        ax.plot(beyond, more, linestyle=":", linewidth=1.4, color=colour, gid="usl-extrapolated")
        ys = np.concatenate([ys, more])
    ax.plot(xs, ys[:len(xs)], linestyle="--", linewidth=1.4, color=colour, label=label, gid="usl")
    return [float(y) for y in ys]


def _axes_of(trials: Sequence[TrialResult]) -> tuple[str | None, list[str]]:
    """The x hyperparameter (the learning rate when it varies) and those splitting the lines
    (the neurons first, then any other that varies)."""
    varying = [k for k in trials[0].params if len({repr(t.params.get(k)) for t in trials}) > 1]
    preferred = [k for k in ("learning_rate", "neurons") if k in varying]
    ordered = preferred + [k for k in varying if k not in preferred]
    if not ordered:
        return None, []
    return ordered[0], ordered[1:]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _sort_key(value: Any) -> tuple:
    return (0, value, "") if _is_number(value) else (1, 0, str(value))


def _percent(value: float) -> str:
    return f"{value * 100:.2f} %"


def _params_label(keys: Sequence[str], params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={params.get(k):g}" if _is_number(params.get(k))
                     else f"{k}={params.get(k)}" for k in keys)


def error_vs_learning_rate(trials: Sequence[TrialResult], accuracy: Accuracy | None) -> Figure:
    """Test error against the learning rate, one line per neuron count (the 2016 figure), the
    baseline and the best configuration marked, trials without a test error (diverged, failed)
    marked at the top. ``trials``: one grid run, e.g. the accuracy source's repeat 0."""
    title = "Test error"
    fig = _figure(8, 5)
    if not trials:
        return _empty(fig, title, "no trial has a result")
    ax = fig.add_subplot()
    x_key, series_keys = _axes_of(trials)
    xs_all = [t.params.get(x_key) for t in trials] if x_key else [0] * len(trials)
    numeric = all(_is_number(x) for x in xs_all)
    if numeric:
        position = {x: x for x in xs_all}
    else:  # e.g. an optimizer's name: one category each, in grid order
        position = {x: i for i, x in enumerate(dict.fromkeys(map(repr, xs_all)))}

    def at(t: TrialResult) -> float:
        x = t.params.get(x_key) if x_key else 0
        return position[x] if numeric else position[repr(x)]

    by_series: dict[tuple, list[TrialResult]] = defaultdict(list)
    for t in trials:
        by_series[tuple(repr(t.params.get(k)) for k in series_keys)].append(t)
    colours = [f"C{i % 10}" for i in range(len(by_series))]
    top = max([t.test_error for t in trials if t.test_error is not None] or [1.0]) * 100
    markers_at = top * 1.08  # no-metric trials sit above every real point
    no_metrics: dict[TrialStatus, list[tuple[float, str, float]]] = defaultdict(list)
    # Lines in numeric order of their hyperparameters (64 before 128), not in string order.
    ordered = sorted(by_series.values(),
                     key=lambda m: tuple(_sort_key(m[0].params.get(k)) for k in series_keys))
    for i, (colour, members) in enumerate(zip(colours, ordered, strict=True)):
        members = sorted(members, key=at)
        # Markers at the top sit side by side per line, not on each other (points).
        dodge = (i - (len(ordered) - 1) / 2) * 7
        label = _params_label(series_keys, members[0].params) if series_keys else "all trials"
        # A diverged trial breaks its line (NaN) rather than being joined over.
        ys = [t.test_error * 100 if t.test_error is not None else math.nan for t in members]
        ax.plot([at(t) for t in members], ys, marker="o", markersize=4, color=colour,
                label=label, gid=f"series:{label}")
        for t in members:
            if t.test_error is None:
                no_metrics[t.status].append((at(t), colour, dodge))
    for status, points in no_metrics.items():
        for n, (x, colour, dodge) in enumerate(points):
            ax.scatter([x], [markers_at], color=colour, marker=NO_METRICS_MARKER.get(status, "x"),
                       s=50, label=f"{status.value}: no test error" if n == 0 else None,
                       gid=f"no-metrics:{status.value}", clip_on=False, zorder=3,
                       transform=offset_copy(ax.transData, fig=fig, x=dodge, units="points"))
    if no_metrics:
        # An offset transform hides these points from autoscaling: make the axes hold them.
        ax.update_datalim([(x, top) for points in no_metrics.values() for x, _, _ in points])
        ax.autoscale_view()
        ax.axhline(top * 1.04, color="#BBBBBB", linewidth=0.8, linestyle=":")
    _mark(ax, trials, at, accuracy)
    if numeric and x_key and min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10:
        ax.set_xscale("log")  # learning rates span decades
    if not numeric:
        ax.set_xticks(list(position.values()), [x.strip("'") for x in position])
    ax.set_xlabel(x_key or "(one configuration)")
    ax.set_ylabel("test error (%)")
    ax.set_ylim(0, markers_at * 1.06)
    ax.set_title(title + (f" by {x_key}" if x_key else "")
                 + (f" (trials of {accuracy.source})" if accuracy else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def _mark(ax: Any, trials: Sequence[TrialResult], at: Any, accuracy: Accuracy | None) -> None:
    baseline = next((t for t in trials if t.is_baseline), None)
    best = (next((t for t in trials if t.trial_id == accuracy.best_trial_id), None)
            if accuracy else None)
    if baseline is not None and baseline.test_error is not None:
        ax.plot([at(baseline)], [baseline.test_error * 100], linestyle="none", marker="*",
                markersize=16, markerfacecolor="none", markeredgecolor="#000000",
                markeredgewidth=1.5, label=f"baseline {_percent(baseline.test_error)}",
                gid="baseline", zorder=4)
    if best is not None and best.test_error is not None:
        ax.plot([at(best)], [best.test_error * 100], linestyle="none", marker="o",
                markersize=14, markerfacecolor="none", markeredgecolor="#000000",
                markeredgewidth=2, label=f"best on validation {_percent(best.test_error)}",
                gid="best", zorder=4)


def timeline(trials: Sequence[TrialResult], title: str, slots: int | None = None) -> Figure:
    """One grid run as slots x time: a bar per trial, cut into its phases. Gaps are idle slot
    time; of ``slots``, those that ran no trial are drawn as empty lanes. "waiting" is drawn
    only while the trial's slot was free (dispatch or the slot's previous trial, whichever is
    later, to the start): a trial queued behind a busy slot does not make that slot idle."""
    drawn = [t for t in trials if t.started_at is not None and t.ended_at is not None]
    lane_of, lanes = _lanes(drawn)
    # A slot the grid never used is idle all the time: it belongs in the picture.
    lanes += ["slot without a trial"] * max(0, (slots or 0) - len(lanes))
    fig = _figure(10, 2.0 + 0.45 * max(1, len(lanes)))
    if not drawn:
        return _empty(fig, title, "no trial reported its start and end")
    ax = fig.add_subplot()
    t0 = min(t.dispatched_at if t.dispatched_at is not None else t.started_at for t in drawn)
    t1 = max(t.received_at if t.received_at is not None else t.ended_at for t in drawn)
    free_since: dict[int, float] = {}
    for y in range(len(lanes)):
        ax.barh(y, t1 - t0, left=0, height=0.8, color=IDLE_COLOUR, edgecolor="#CCCCCC",
                linewidth=0.5, gid=f"idle:{y}")
    busy: dict[int, float] = defaultdict(float)
    for t in sorted(drawn, key=lambda t: t.started_at):
        y = lane_of[t.trial_id, t.attempt]
        start = t.started_at - t0
        waited_from = max(t.dispatched_at - t0 if t.dispatched_at is not None else start,
                          free_since.get(y, 0.0))
        segments = [("waiting", waited_from, max(0.0, start - waited_from))]
        at = start
        for phase in PHASES[1:-1]:  # measured inside the task, one after another
            segments.append((phase, at, t.phases.get(phase, 0.0)))
            at += t.phases.get(phase, 0.0)
        end = t.ended_at - t0
        received = t.received_at - t0 if t.received_at is not None else end
        segments.append(("collect", end, max(0.0, received - end)))
        for phase, left, width in segments:
            if width > 0:
                ax.barh(y, width, left=left, height=0.8, color=PHASE_COLOURS[phase],
                        gid=f"trial:{t.trial_id}:{phase}")
        ax.barh(y, end - start, left=start, height=0.8, fill=False, edgecolor="#333333",
                linewidth=0.6, gid=f"trial:{t.trial_id}:task")
        if t.status is not TrialStatus.OK:
            ax.text(start + (end - start) / 2, y, t.status.value, ha="center", va="center",
                    fontsize=7, color="#FFFFFF", fontweight="bold")
        busy[y] += end - start
        free_since[y] = received
    span = t1 - t0
    for y in range(len(lanes)):
        ax.text(span * 1.01, y, f"busy {busy[y] / span * 100:.0f} %" if span else "",
                va="center", fontsize=8)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set_xlim(0, span * 1.1 if span else 1)
    ax.set_xlabel("seconds since the first trial was dispatched")
    ax.set_title(title)
    present = [p for p in PHASES if any(
        p == "waiting" or t.phases.get(p) or p == "collect" for t in drawn)]
    handles = [Patch(color=PHASE_COLOURS[p], label=p) for p in present]
    handles.append(Patch(facecolor=IDLE_COLOUR, edgecolor="#CCCCCC", label="idle"))
    # Below the axes, outside them: constrained layout makes room, nothing overlaps the x label.
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    if missing := len(trials) - len(drawn):
        ax.text(0, 1.01, f"{missing} trials without a start or end are not drawn",
                transform=ax.transAxes, fontsize=8, color="#AA0000")
    return fig


def _lanes(trials: Sequence[TrialResult]) -> tuple[dict[tuple[str, int], int], list[str]]:
    """A lane per slot: each executor (on its host) gets as many lanes as it ran trials at once,
    a trial takes the first of its executor's lanes free at its start."""
    by_executor: dict[tuple[str, str], list[TrialResult]] = defaultdict(list)
    for t in trials:
        if t.started_at is not None and t.ended_at is not None:
            by_executor[(t.host or "?", t.executor_id or "?")].append(t)
    lane_of: dict[tuple[str, int], int] = {}
    names: list[str] = []
    for (host, executor), members in sorted(by_executor.items(), key=_executor_order):
        ends: list[float] = []  # end time of each of this executor's lanes
        first = len(names)
        for t in sorted(members, key=lambda t: t.started_at):
            free = next((i for i, end in enumerate(ends) if end <= t.started_at), None)
            if free is None:
                ends.append(t.ended_at)
                free = len(ends) - 1
            ends[free] = t.ended_at
            lane_of[(t.trial_id, t.attempt)] = first + free
        names += [f"executor {executor} @ {host}" + (f" #{i + 1}" if len(ends) > 1 else "")
                  for i in range(len(ends))]
    return lane_of, names


def _executor_order(item: tuple[tuple[str, str], Any]) -> tuple:
    host, executor = item[0]
    return (int(executor), "", host) if executor.isdigit() else (math.inf, executor, host)


def waterfall(steps: Sequence[tuple[str, float]], title: str = "Where the speedup goes") -> Figure:
    """Where the speedup goes, stage by stage: e.g. ideal 13 -> bound 9.9 -> replay 6.9 ->
    measured. The first stage is a full bar, each next one a step from the previous level to
    its own, red where speedup is lost."""
    if not steps:
        raise ValueError("a waterfall needs at least one (stage, speedup) step")
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    previous = None
    for x, (stage, value) in enumerate(steps):
        if previous is None:
            bottom, height, colour, text = 0.0, value, "#0072B2", f"{value:.2f}×"
        else:
            bottom, height = min(previous, value), abs(previous - value)
            colour = "#D55E00" if value < previous else "#009E73"
            text = f"{value:.2f}× ({value - previous:+.2f})"
        bar = ax.bar(x, max(height, 1e-9), bottom=bottom, width=0.6, color=colour)
        bar.patches[0].set_gid(f"step:{stage}")
        ax.annotate(text, (x, max(previous or 0.0, value)), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
        if previous is not None:  # the level carried over from the previous stage
            ax.plot([x - 1 - 0.3, x + 0.3], [previous, previous], color="#555555",
                    linewidth=0.8, linestyle=":")
        previous = value
    ax.set_xticks(range(len(steps)), [s for s, _ in steps])
    ax.set_ylim(0, max(v for _, v in steps) * 1.15)
    ax.set_ylabel("speedup")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return fig


def karp_flatt(rows: Sequence[Row], title: str = "Karp-Flatt serial fraction") -> Figure:
    """The Karp-Flatt serial fraction e = (1/S - 1/N) / (1 - 1/N) by number of nodes, one marker
    series per mode, each point with its value and, from the speedup's 95 % interval, an error
    bar. How to read it is written under it: flat over N is fixed serial work (Amdahl's, e is
    then his serial fraction), rising with N is overhead that grows with N."""
    fig = _figure(8, 4.8)
    drawn = [r for r in rows if r.karp_flatt is not None and r.speedup is not None]
    if not drawn:
        return _empty(fig, title, "no Karp-Flatt fraction: it needs a speedup on more than "
                                  "1 node")
    ax = fig.add_subplot()
    shift = {Mode.MEASURED: 2 ** -0.05, Mode.REPLAY: 2 ** 0.05, Mode.MODEL: 1.0}
    for mode in (Mode.MEASURED, Mode.REPLAY, Mode.MODEL):
        of_mode = sorted((r for r in drawn if r.mode is mode), key=lambda r: (r.nodes, r.name))
        if not of_mode:
            continue
        style = MODE_STYLE[mode]
        xs = [r.nodes * shift[mode] for r in of_mode]
        es = [float(r.karp_flatt) for r in of_mode]  # type: ignore[arg-type]
        # e falls as S rises: the interval's high speedup gives the low e.
        spans = [_karp_flatt_span(r) for r in of_mode]
        low = [e - span[0] if span else 0.0 for e, span in zip(es, spans, strict=True)]
        high = [span[1] - e if span else 0.0 for e, span in zip(es, spans, strict=True)]
        points = ax.errorbar(xs, es, yerr=[low, high] if any(spans) else None,
                             fmt=style["marker"], linestyle=":", linewidth=0.8,
                             color=style["color"], markersize=7, capsize=4,
                             label=mode.value + (" (some oversubscribed)"
                                                 if any(r.oversubscribed for r in of_mode)
                                                 else ""))
        points.lines[0].set_gid(f"karp-flatt:{mode.value}")
        for x, e, r in zip(xs, es, of_mode, strict=True):
            side = -1 if mode is Mode.MEASURED else 1
            ax.annotate(f"{e:.3f}" + (" (oversubscribed)" if r.oversubscribed else ""),
                        (x, e), xytext=(8 * side, 0), textcoords="offset points",
                        ha="right" if side < 0 else "left", va="center", fontsize=8,
                        color=style["color"])
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xscale("log", base=2)
    nodes = sorted({r.nodes for r in drawn})
    ax.set_xticks(nodes, [str(n) for n in nodes])
    ax.set_xticks([], minor=True)
    ax.set_xlim(min(nodes) / 1.6, max(nodes) * 1.6)
    tops = [r.karp_flatt for r in drawn] + [s[1] for r in drawn if (s := _karp_flatt_span(r))]
    bottoms = [r.karp_flatt for r in drawn] + [s[0] for r in drawn if (s := _karp_flatt_span(r))]
    top, bottom = max(max(tops), 0.0), min(min(bottoms), 0.0)  # type: ignore[type-var]
    pad = (top - bottom) * 0.15 or 0.05
    ax.set_ylim(bottom - (pad if bottom < 0 else 0), top + pad)
    ax.set_xlabel("nodes")
    ax.set_ylabel("serial fraction e")
    ax.set_title(f"{title}: e = (1/S − 1/N) / (1 − 1/N)")
    ax.legend(title="mode", loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    ax.text(0.0, -0.14, "flat over N: fixed serial work (Amdahl); rising with N: overhead that "
            "grows with N; below 0: superlinear" + ("\nbars: from the speedup's 95 % bootstrap "
                                                    "interval over repeats"
                                                    if any(map(_karp_flatt_span, drawn))
                                                    else ""),
            transform=ax.transAxes, fontsize=8, color="#555555", va="top",
            gid="karp-flatt-caption")
    return fig


def _karp_flatt_span(row: Row) -> tuple[float, float] | None:
    if row.speedup_interval is None:
        return None
    low_s, high_s = row.speedup_interval
    a, b = _kf(high_s, row.nodes), _kf(low_s, row.nodes)
    return (a, b) if a is not None and b is not None else None


def _kf(speedup_n: float, nodes: int) -> float | None:
    return formulas.karp_flatt(speedup_n, nodes) if speedup_n > 0 else None


def time_to_quality(curves: dict[str, Sequence[QualityPoint]], *,
                    modes: dict[str, Mode] | None = None,
                    until: dict[str, float] | None = None,
                    title: str = "Time to quality") -> Figure:
    """The best-so-far test error (%) by seconds since the grid's first dispatch, a step line per
    label (``analyse.time_to_quality.curves``: "<profile> (<mode>)"), the best so far chosen on
    validation. A ring marks where each line reaches its final best (its time in the legend).
    ``modes`` (label -> mode) draws replayed lines dashed and model ones dotted; ``until``
    (label -> seconds, e.g. the grid's wall time) carries a line on to where its grid ended."""
    fig = _figure(8, 4.8)
    drawn = {label: list(points) for label, points in curves.items() if points}
    if not drawn:
        return _empty(fig, title, "no trial of these grid runs has metrics")
    ax = fig.add_subplot()
    dashes = {Mode.MEASURED: "-", Mode.REPLAY: "--", Mode.MODEL: ":"}
    top = 0.0
    for i, (label, points) in enumerate(drawn.items()):
        colour = f"C{i % 10}"
        xs = [p.seconds for p in points]
        ys = [p.test_error * 100 if p.test_error is not None else math.nan for p in points]
        end = (until or {}).get(label)
        if end is not None and end > xs[-1]:
            xs, ys = [*xs, end], [*ys, ys[-1]]
        mode = (modes or {}).get(label)
        best = points[-1]
        error = _percent(best.test_error) if best.test_error is not None else "no test error"
        ax.plot(xs, ys, drawstyle="steps-post", color=colour, linewidth=1.6,
                linestyle=dashes[mode] if mode else "-", gid=f"curve:{label}",
                label=f"{label}: best {error} at {best.seconds:.1f} s")
        ax.plot([best.seconds], [ys[len(points) - 1]], linestyle="none", marker="o",
                markersize=9, markerfacecolor="none", markeredgecolor=colour,
                markeredgewidth=1.8, gid=f"final-best:{label}")
        top = max([top, *[y for y in ys if not math.isnan(y)]])
    ax.set_xlim(left=0)
    ax.set_ylim(0, (top or 1.0) * 1.12)
    ax.set_xlabel("seconds since the grid's first trial was dispatched (result at the driver)")
    ax.set_ylabel("test error of the best so far (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", title="ring: final best (chosen on validation)",
              title_fontsize=8)
    ax.text(0.0, -0.14, "a step each time a better configuration's result reaches the driver: "
            "best on validation error, its test error drawn;\nfailed or diverged trials "
            "improve nothing" + "".join(f"; {dash}: {mode.value}" for mode, dash in (
                (Mode.REPLAY, "dashed"), (Mode.MODEL, "dotted"))
                if mode in (modes or {}).values()),
            transform=ax.transAxes, fontsize=8, color="#555555", va="top", gid="ttq-caption")
    return fig
