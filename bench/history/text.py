"""`bench history show`: each gated figure's series as a compact table, the steps after them.

Shared with the published page: how an entry, a value and a step are written.
"""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from tabulate import tabulate

from bench.compare.comparison_report import format_value
from bench.definitions.thresholds import Thresholds
from bench.history.entries import Entry
from bench.history.series import Change, Point, Series, changes, series_of

WIDTH = 100
KNOB_MARK = "*"


@dataclass(frozen=True)
class Group:
    """One workload, grid and machine's entries, their series and the steps found in them."""

    entries: list[Entry]
    series: list[Series]
    changes: list[Change]

    @classmethod
    def of(cls, entries: list[Entry]) -> Group:
        found = series_of(entries)
        limits = Thresholds.from_dict(entries[-1].summary.get("thresholds"))
        return cls(entries, found, [c for s in found for c in changes(s, limits)])

    @property
    def title(self) -> str:
        doc = self.entries[-1].summary
        return f"{doc['workload']} grid '{doc['grid']}', machine {doc['machine']}"

    @property
    def shown(self) -> list[Series]:
        """The series worth a table or a picture: every measured one, an exact one that moved."""
        return [s for s in self.series if not s.exact or s.changed]

    @property
    def unchanged(self) -> list[Series]:
        return [s for s in self.series if s.exact and not s.changed]


def commit_label(entry: Entry) -> str:
    """The short sha, marked when the run was made with a test knob on."""
    return entry.short + (KNOB_MARK if entry.knobs else "")


def knob_text(entry: Entry) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(entry.knobs.items()))


def gate_word(entry: Entry, series: Series | None = None) -> str:
    """The gate's verdict on the entry; with ``series``, on that figure of it."""
    status = entry.verdict.get("status", "")
    if series is None:
        return status or "—"
    if (series.scope, series.figure.key) in entry.regressed:
        return "regressed"
    return {"no reference": "—", "not comparable": "not comp."}.get(status, "ok")


def spread(point: Point) -> str:
    """The repeats' sample sd relative to their mean: one repeat has none."""
    if len(point.samples) < 2 or not point.value:
        return "—"
    return f"{statistics.stdev(point.samples) / abs(point.value) * 100:.1f} %"


def change_text(change: Change, entries: Sequence[Entry]) -> str:
    """One step, in words: figure, the first commit after it, before -> after, p-value."""
    s, entry = change.series, entries[change.index]
    text = (f"{s.name}: from {commit_label(entry)} (run {change.index + 1}, {entry.date}) "
            f"{format_value(change.before, s.figure)} -> {format_value(change.after, s.figure)}")
    parts = []
    if change.relative is not None:
        parts.append(f"{change.relative * 100:+.1f} %")
    if change.measured_before and change.measured_after is not None:
        moved = change.measured_after / change.measured_before - 1
        parts.append(f"as measured {moved * 100:+.1f} %")
    parts.append("exact: any change is one" if change.p_value is None
                 else f"p = {change.p_value:.2g}")
    return f"{text} ({'; '.join(parts)})"


def series_table(series: Series, entries: Sequence[Entry]) -> str:
    beside = series.measured is not None
    rows = []
    for index, (entry, point) in enumerate(zip(entries, series.points, strict=True)):
        if point is None:
            continue
        row = [str(index + 1), commit_label(entry), entry.date,
               format_value(point.value, series.figure), spread(point)]
        if beside:
            row.append(format_value(point.measured, series.measured))  # type: ignore[arg-type]
        rows.append([*row, gate_word(entry, series)])
    extra = ["as measured"] if beside else []
    return tabulate(rows, headers=["#", "commit", "date", "value", "sd", *extra, "gate"],
                    disable_numparse=True,
                    colalign=("right", "left", "left", "right", "right", *(["right"] * len(extra)),
                              "left"))


def show(group: Group) -> str:
    entries = group.entries
    out = [f"{group.title}: {len(entries)} runs, {entries[0].date} ... {entries[-1].date}"]
    knobbed = [e for e in entries if e.knobs]
    if knobbed:
        out.append(_wrap(f"{KNOB_MARK} made with a test knob on (worse on purpose, never a "
                         "reference): " + "; ".join(f"{commit_label(e)} {knob_text(e)}"
                                                    for e in knobbed)))
    for series in group.shown:
        title = series.name + (f" (as measured: {series.measured.label})"
                               if series.measured is not None else "")
        out += ["", _wrap(title), textwrap.indent(series_table(series, entries), "  ")]
    if group.unchanged:
        out += ["", _wrap(f"unchanged in all {len(entries)} runs (exact): "
                          + ", ".join(s.name for s in group.unchanged))]
    out += ["", *steps_text(group)]
    return "\n".join(out)


def steps_text(group: Group) -> list[str]:
    if not group.changes:
        return ["steps: none (no change-point beyond its gate threshold and significant)"]
    return [_wrap("steps (change-points beyond the gate's threshold, Mann-Whitney U p < 0.05 "
                  "between the runs before and after; exact figures: any change):"),
            *(_wrap(f"- {change_text(c, group.entries)}", "  ") for c in group.changes)]


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, WIDTH, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)
