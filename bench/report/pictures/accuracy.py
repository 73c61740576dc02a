"""The accuracy pictures: test error across the grid, and how soon the best configuration was
found (time to quality)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from bench.analyse.summary import Accuracy
from bench.analyse.time_to_quality import QualityPoint
from bench.report.pictures.drawing import empty, new_figure, percent
from bench.store.records import Mode, TrialResult, TrialStatus

Position = Callable[[TrialResult], float]  # a trial's x on the test-error picture
# Trials without a test error, drawn at the top of the error chart: marker per status.
NO_METRICS_MARKER = {TrialStatus.DIVERGED: "x", TrialStatus.FAILED: "X",
                     TrialStatus.TIMEOUT: "v", TrialStatus.OOM: "P",
                     TrialStatus.CRASHED: "D", TrialStatus.CANCELLED: "_"}


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


def _params_label(keys: Sequence[str], params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={params.get(k):g}" if _is_number(params.get(k))
                     else f"{k}={params.get(k)}" for k in keys)


def error_vs_learning_rate(trials: Sequence[TrialResult], accuracy: Accuracy | None) -> Figure:
    """Test error against the learning rate, one line per neuron count (the 2016 chart), the
    baseline and the best configuration marked, trials without a test error (diverged, failed)
    marked at the top. ``trials``: one grid run, e.g. the accuracy source's repeat 0."""
    title = "Test error"
    fig = new_figure(8, 5)
    if not trials:
        return empty(fig, title, "no trial has a result")
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

    top = max([t.test_error for t in trials if t.test_error is not None] or [1.0]) * 100
    markers_at = top * 1.08  # no-metric trials sit above every real point
    _error_lines(ax, trials, at, series_keys, top, markers_at)
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


def _error_lines(ax: Axes, trials: Sequence[TrialResult], at: Position,
                 series_keys: list[str], top: float, markers_at: float) -> None:
    """A line of test errors per series, and a marker at ``markers_at`` for each trial without
    a test error, in its line's colour."""
    by_series: dict[tuple, list[TrialResult]] = defaultdict(list)
    for t in trials:
        by_series[tuple(repr(t.params.get(k)) for k in series_keys)].append(t)
    colours = [f"C{i % 10}" for i in range(len(by_series))]
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
                       transform=offset_copy(ax.transData, fig=ax.figure, x=dodge,
                                             units="points"))
    if no_metrics:
        # An offset transform hides these points from autoscaling: make the axes hold them.
        ax.update_datalim([(x, top) for points in no_metrics.values() for x, _, _ in points])
        ax.autoscale_view()
        ax.axhline(top * 1.04, color="#BBBBBB", linewidth=0.8, linestyle=":")


def _mark(ax: Axes, trials: Sequence[TrialResult], at: Position,
          accuracy: Accuracy | None) -> None:
    baseline = next((t for t in trials if t.is_baseline), None)
    best = (next((t for t in trials if t.trial_id == accuracy.best_trial_id), None)
            if accuracy else None)
    if baseline is not None and baseline.test_error is not None:
        ax.plot([at(baseline)], [baseline.test_error * 100], linestyle="none", marker="*",
                markersize=16, markerfacecolor="none", markeredgecolor="#000000",
                markeredgewidth=1.5, label=f"baseline {percent(baseline.test_error)}",
                gid="baseline", zorder=4)
    if best is not None and best.test_error is not None:
        ax.plot([at(best)], [best.test_error * 100], linestyle="none", marker="o",
                markersize=14, markerfacecolor="none", markeredgecolor="#000000",
                markeredgewidth=2, label=f"best on validation {percent(best.test_error)}",
                gid="best", zorder=4)


def time_to_quality(curves: dict[str, Sequence[QualityPoint]], *,
                    modes: dict[str, Mode] | None = None,
                    until: dict[str, float] | None = None,
                    title: str = "Time to quality") -> Figure:
    """The best-so-far test error (%) by seconds since the grid's first dispatch, a step line per
    label (``analyse.time_to_quality.curves``: "<profile> (<mode>)"), the best so far chosen on
    validation. A ring marks where each line reaches its final best (its time in the legend).
    ``modes`` (label -> mode) draws replayed lines dashed and model ones dotted; ``until``
    (label -> seconds, e.g. the grid's wall time) carries a line on to where its grid ended."""
    fig = new_figure(8, 4.8)
    drawn = {label: list(points) for label, points in curves.items() if points}
    if not drawn:
        return empty(fig, title, "no trial of these grid runs has metrics")
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
        error = percent(best.test_error) if best.test_error is not None else "no test error"
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
