"""`bench history publish`: one static HTML page of a history, as asv's publish makes: a
picture per gated figure over the runs in the order they ran (labelled by commit), each
repeat's sample beside the run's value, the runs the gate called a regression marked, and each
step found drawn and named. Self-contained: PNGs embedded, inline CSS, no script, all text
escaped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes

from bench.compare.comparison_report import format_value
from bench.compare.figures import Figure
from bench.errors import UserError
from bench.history.entries import Entry, write_new_file
from bench.history.series import Change, Series
from bench.history.text import Group, change_text, commit_label, gate_word, knob_text
from bench.report.html import CSS, Picture, escape, picture_element, table
from bench.report.pictures.drawing import MODE_STYLE, new_figure, png_bytes
from bench.store.records import Mode

REGRESSION_COLOUR = "#D55E00"  # Okabe-Ito vermillion, as the pictures of a run use
STEP_COLOUR = "#CC79A7"
_EXTRA_CSS = ".regressed { color: #D55E00; font-weight: 600; }"
KNOB_NOTE = ("A commit marked * was measured with a test knob on (worse on purpose): kept, drawn "
             "hollow, never part of the reference a later run is judged against.")


def write_page(groups: Sequence[Group], out: Path) -> Path:
    """Write the page atomically to ``out``; return its path."""
    text = to_html(groups)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(out, text, replace=True)
    except OSError as e:
        raise UserError(f"cannot write the page: {e.strerror}", where=str(out),
                        fix="choose a writable path with --out") from None
    return out


def to_html(groups: Sequence[Group]) -> str:
    made = time.strftime("%Y-%m-%d %H:%M", time.localtime())
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>bench history</title><style>{CSS}{_EXTRA_CSS}</style></head><body>",
           "<h1>bench history</h1>",
           f"<p>Published {escape(made)}. Each gated figure of each profile and mode over the runs "
           "kept in the history, in the order they ran, labelled by commit. Times with machine "
           "probes are shown at equal machine speed (each repeat's time divided by its probe), "
           "which the gate judges, beside the time as measured. A <b>step</b> is a change-point "
           "of the runs' values (binary segmentation: the best split, then each side) whose runs "
           "before and after differ significantly "
           "(Mann-Whitney U, p &lt; 0.05) and by more than the figure's gate threshold.</p>"]
    for number, group in enumerate(groups):
        out += _group_section(group, number)
    out += ["</body></html>", ""]
    return "\n".join(out)


def _group_section(group: Group, number: int) -> list[str]:
    entries = group.entries
    out = [f"<h2>{escape(group.title)}</h2>",
           f"<p>{len(entries)} runs, {escape(entries[0].date)} … {escape(entries[-1].date)}."
           + (f" {escape(KNOB_NOTE)}" if any(e.knobs for e in entries) else "") + "</p>"]
    if group.changes:
        at = sorted({c.index for c in group.changes})
        where = ", ".join(f"{commit_label(entries[i])} (run {i + 1})" for i in at)
        out += [f'<p class="regressed">{len(group.changes)} step(s) found, at {escape(where)}:</p>',
                table(["where", "figure", "first commit after", "run", "before", "after",
                        "change", "p"], [_change_row(c, entries) for c in group.changes])]
    else:
        out.append("<p>No step found: no change-point beyond its gate threshold and "
                   "significant.</p>")
    out += ["<h3>Runs</h3>", table(["#", "commit", "date", "run", "test knobs", "gate",
                                     "regressed figures"], _run_rows(entries))]
    out += [picture_element(_picture(s, group, f"{number}-{i}"))
            for i, s in enumerate(group.shown)]
    if group.unchanged:
        out.append(f"<p>Unchanged in all {len(entries)} runs (exact): "
                   f"{escape(', '.join(s.name for s in group.unchanged))}.</p>")
    return out


def _change_row(change: Change, entries: Sequence[Entry]) -> list[str]:
    s, entry = change.series, entries[change.index]
    return [s.scope, s.figure.label, commit_label(entry), str(change.index + 1),
            format_value(change.before, s.figure), format_value(change.after, s.figure),
            "—" if change.relative is None else f"{change.relative * 100:+.1f} %",
            "—" if change.p_value is None else f"{change.p_value:.2g}"]


def _run_rows(entries: Sequence[Entry]) -> list[list[str]]:
    return [[str(i + 1), commit_label(e), e.date, e.run_id, knob_text(e) or "—", gate_word(e),
             "; ".join(r["scope"] + ": " + r["figure"] for r in e.verdict.get("regressions", []))
             or "—"] for i, e in enumerate(entries)]


def _picture(series: Series, group: Group, number: str) -> Picture:
    """``number``: the group's and the series', so that each picture's id is the page's only."""
    panels = [(series.figure, [p and p.value for p in series.points],
               [p.samples if p else [] for p in series.points])]
    if series.measured is not None:
        panels.append((series.measured, [p and p.measured for p in series.points],
                       [p.measured_samples if p else [] for p in series.points]))
    fig = new_figure(5.2 * len(panels), 3.4)
    steps = [c for c in group.changes if c.series is series]
    for ax, (figure, values, samples) in zip(fig.subplots(1, len(panels), squeeze=False)[0],
                                            panels, strict=True):
        _draw_panel(ax, figure, values, samples, series, group.entries, steps)
    name = re.sub(r"[^a-z0-9]+", "-", f"{number}-{series.scope}-{series.figure.key}".lower())
    return Picture(name.strip("-"), series.name, _caption(series, group, steps), png_bytes(fig))


def _draw_panel(ax: Axes, figure: Figure, values: list[float | None],
                samples: list[list[float]], series: Series, entries: Sequence[Entry],
                steps: list[Change]) -> None:
    scale = 100.0 if figure.unit == "%" else 1.0
    colour = MODE_STYLE[Mode.REPLAY if "(replay)" in series.scope else Mode.MEASURED]["color"]
    xs = [i for i, v in enumerate(values) if v is not None]
    ax.plot(xs, [values[i] * scale for i in xs], "-", color=colour, linewidth=1, zorder=2)
    for i in xs:
        ax.scatter([i] * len(samples[i]), [s * scale for s in samples[i]], s=9, color=colour,
                   alpha=0.35, linewidths=0, zorder=1)
        knob = bool(entries[i].knobs)
        ax.scatter([i], [values[i] * scale], s=30, zorder=3, color=colour,  # type: ignore[operator]
                   facecolors="white" if knob else colour, linewidths=1.2)
        if (series.scope, series.figure.key) in entries[i].regressed:
            ax.scatter([i], [values[i] * scale], s=140, zorder=4,  # type: ignore[operator]
                       facecolors="none", edgecolors=REGRESSION_COLOUR, linewidths=1.6)
    for step in steps:
        ax.axvline(step.index - 0.5, color=STEP_COLOUR, linestyle="--", linewidth=1.4)
        ax.annotate(f"step at {commit_label(entries[step.index])}", (step.index - 0.5, 0.0),
                    xycoords=("data", "axes fraction"), xytext=(3, 4),
                    textcoords="offset points", fontsize=8, color=STEP_COLOUR, zorder=5,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
    ax.set_xticks(range(len(entries)), [commit_label(e) for e in entries], rotation=60,
                  fontsize=7, fontfamily="monospace")
    ax.set_xlim(-0.5, len(entries) - 0.5)
    ax.set_ylabel({"%": "%", "s": "seconds", "x": "speedup (x)"}.get(figure.unit, figure.unit),
                  fontsize=8)
    ax.set_title(("as measured" if figure is series.measured else figure.label), fontsize=9)
    ax.grid(axis="y", color="#eeeeee")


def _caption(series: Series, group: Group, steps: list[Change]) -> str:
    words = ("x: runs in the order they ran, labelled by commit; line: each run's value; "
             "faint dots: its repeats; hollow: made with a test knob; "
             "ringed: the gate called this figure a regression in that run, against the "
             "recent runs before it.")
    if series.measured is not None:
        words += (" Left at equal machine speed (each repeat's time / its machine probe, "
                  "gated), right as measured.")
    regressed = [commit_label(e) for e in group.entries
                 if (series.scope, series.figure.key) in e.regressed]
    if regressed:
        words += f" Regression in: {', '.join(regressed)}."
    if steps:
        words += " Step: " + "; ".join(change_text(c, group.entries) for c in steps) + "."
    else:
        words += " No step."
    return words
