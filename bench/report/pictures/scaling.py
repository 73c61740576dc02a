"""The scaling pictures: grid wall time, speedup (with the model and the USL fit), the
Karp-Flatt serial fraction, and where a profile's speedup goes (the waterfall)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bench.analyse.scalability import MIN_NODE_COUNTS, UslFit, counted_node_counts, usl_speedup
from bench.analyse.summary import Row, RunSummary
from bench.report.formats import mode_label
from bench.report.pictures.drawing import MODE_STYLE, empty, new_figure
from bench.store.records import Mode


def wall_time(summary: RunSummary) -> Figure:
    """Grid wall time by number of nodes, like the 2016 chart: one bar per profile and mode,
    the mode told by colour, hatch and legend; error bars are the sd over repeats."""
    title = f"Grid wall time: {summary.workload}, grid '{summary.grid}'"
    fig = new_figure(8, 4.5)
    if not summary.rows:
        return empty(fig, title, "no profile finished a grid")
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
            label = mode_label(row)
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
    fig = new_figure(8, 5)
    rows = [r for r in summary.rows if r.speedup is not None]
    if not rows and not model_curve:
        return empty(fig, title, "no speedup: it needs a finished 1-node measured profile")
    ax = fig.add_subplot()
    most = max([r.nodes for r in summary.rows] + [n for n, _ in model_curve or []])
    ax.plot([1, most], [1, most], color="#888888", linestyle="--", linewidth=1,
            label="ideal (S = N)", gid="ideal")
    usl_curve = _usl_curve(ax, usl, most)
    _bound_marks(ax, summary.rows)
    if model_curve:
        curve = sorted(model_curve)
        ax.plot([n for n, _ in curve], [s for _, s in curve], color=MODE_STYLE[Mode.MODEL]["color"],
                linewidth=1.5, label="model", gid="model")
    _speedup_points(ax, rows)
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
    _speedup_axes(ax, ticks, title)
    if any(r.speedup_interval for r in rows):
        ax.text(1.0, -0.12, "bars: 95 % bootstrap interval over repeats", transform=ax.transAxes,
                ha="right", fontsize=8, color="#555555")
    if usl is not None and usl.under_determined:
        _usl_note(ax, usl)
    return fig


def _bound_marks(ax: Axes, rows: Sequence[Row]) -> None:
    """What the grid allows on each node count's slots: a bar mark, its value beside it."""
    bound = sorted({(r.nodes, r.bound_speedup) for r in rows if r.bound_speedup is not None})
    if not bound:
        return
    ax.plot([n for n, _ in bound], [b for _, b in bound], linestyle="none", marker="_",
            markersize=22, markeredgewidth=2.5, color="#000000",
            label="bound (what the grid allows)", gid="bound")
    for n, b in bound:
        if n == 1:
            continue  # 1x on one node says nothing
        ax.annotate(f"{b:.2f}×", (n, b), xytext=(0, 7), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def _speedup_points(ax: Axes, rows: Sequence[Row]) -> None:
    """Each mode's speedups with their intervals, each value written beside its point."""
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


def _speedup_axes(ax: Axes, ticks: list[int], title: str) -> None:
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.set_xticks([], minor=True)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    ax.set_yticks([], minor=True)
    ax.set_xlabel("nodes")
    ax.set_ylabel("speedup T(1) / T(N)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def _usl_note(ax: Axes, usl: UslFit) -> None:
    """An under-determined fit is not drawn: a note says so, and why."""
    counted = counted_node_counts(usl.node_counts)
    ax.text(0.98, 0.03, f"{usl.label}: under-determined ({len(counted)} node counts < "
            f"{MIN_NODE_COUNTS}: {', '.join(map(str, counted))}), not drawn",
            transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8, color="#555555", gid="usl-note",
            bbox={"facecolor": "white", "edgecolor": "#CCCCCC", "alpha": 0.9, "pad": 3})


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


def _usl_curve(ax: Axes, fit: UslFit | None, most: int) -> list[float]:
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


def karp_flatt(rows: Sequence[Row], title: str = "Karp-Flatt serial fraction") -> Figure:
    """The Karp-Flatt serial fraction e = (1/S - 1/N) / (1 - 1/N) by number of nodes, one marker
    series per mode, each point with its value and, from the speedup's 95 % interval, an error
    bar. How to read it is written under it: flat over N is fixed serial work (Amdahl's, e is
    then his serial fraction), rising with N is overhead that grows with N."""
    fig = new_figure(8, 4.8)
    drawn = [r for r in rows if r.karp_flatt is not None and r.speedup is not None]
    if not drawn:
        return empty(fig, title, "no Karp-Flatt fraction: it needs a speedup on more than "
                                  "1 node")
    ax = fig.add_subplot()
    _karp_flatt_points(ax, drawn)
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xscale("log", base=2)
    nodes = sorted({r.nodes for r in drawn})
    ax.set_xticks(nodes, [str(n) for n in nodes])
    ax.set_xticks([], minor=True)
    ax.set_xlim(min(nodes) / 1.6, max(nodes) * 1.6)
    spans = [r.karp_flatt_interval for r in drawn]
    tops = [r.karp_flatt for r in drawn] + [s[1] for s in spans if s]
    bottoms = [r.karp_flatt for r in drawn] + [s[0] for s in spans if s]
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
                                                    if any(spans) else ""),
            transform=ax.transAxes, fontsize=8, color="#555555", va="top",
            gid="karp-flatt-caption")
    return fig


def _karp_flatt_points(ax: Axes, drawn: Sequence[Row]) -> None:
    """One marker series per mode, each point with its value and its error bar."""
    shift = {Mode.MEASURED: 2 ** -0.05, Mode.REPLAY: 2 ** 0.05, Mode.MODEL: 1.0}
    for mode in (Mode.MEASURED, Mode.REPLAY, Mode.MODEL):
        of_mode = sorted((r for r in drawn if r.mode is mode), key=lambda r: (r.nodes, r.name))
        if not of_mode:
            continue
        style = MODE_STYLE[mode]
        xs = [r.nodes * shift[mode] for r in of_mode]
        es = [float(r.karp_flatt) for r in of_mode]  # type: ignore[arg-type]
        spans = [r.karp_flatt_interval for r in of_mode]
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


def waterfall(steps: Sequence[tuple[str, float]], title: str = "Where the speedup goes") -> Figure:
    """Where the speedup goes, stage by stage: e.g. ideal 13 -> bound 9.9 -> replay 6.9 ->
    measured. The first stage is a full bar, each next one a step from the previous level to
    its own, red where speedup is lost."""
    if not steps:
        raise ValueError("a waterfall needs at least one (stage, speedup) step")
    fig = new_figure(8, 4.5)
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
