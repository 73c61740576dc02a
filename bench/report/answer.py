"""The terminal's short answer to a run: the main table, how many times faster each multi-node
row ran (hyperfine's wording), where the largest profile's speedup went, the accuracy gain, the
warnings that matter and where the reports are. At most MOST_LINES lines of at most WIDTH
columns; everything else is in report.md and report.html (`bench report RUN --full` prints it)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from tabulate import tabulate

from bench.analyse import formulas
from bench.analyse.summary import Accuracy, Row, RunSummary
from bench.report import backend_table
from bench.report.formats import mode_label, pct, value
from bench.report.tables import NO_INTERVAL, SHORT_HEADERS, interval, short_rows, significance
from bench.store.records import Mode

WIDTH = 100
MOST_LINES = 25
MOST_WARNINGS = 3
# Notes that say what a kind of row is, not that something went wrong (bench.analyse.notes)
EXPLAINING = ("floor-N:", "replay:")
MOST_NAMED = 40  # characters of trial names a line may spend before it counts them instead


def _reference_row(summary: RunSummary) -> Row | None:
    return next((r for r in summary.rows
                 if r.name == summary.reference and r.mode is Mode.MEASURED), None)


def faster_lines(summary: RunSummary) -> list[str]:
    """'2-node (measured) ran 1.75 ± 0.04 times faster than local (measured)': one line per
    multi-node row, the ± the sd of the ratio (no ± with one repeat)."""
    reference = _reference_row(summary)
    if reference is None:
        return []
    out = []
    for r in summary.rows:
        if r.speedup is None or r.nodes < 2:
            continue
        sd = formulas.speedup_sd(reference.wall, r.wall)
        spread = "" if sd is None else f" ± {sd:.2f}"
        out.append(f"{r.name} ({mode_label(r)}) ran {r.speedup:.2f}{spread} times faster than "
                   f"{reference.name} (measured)")
    return out


def _trials(names: list[str]) -> str:
    joined = ", ".join(names)
    if len(joined) <= MOST_NAMED:
        return joined
    return f"{len(names)} trials"  # report.md names them


def waterfall_line(summary: RunSummary) -> str | None:
    """Where the largest multi-node profile's speedup went, each stage named by where its figure
    comes from: ideal -> bound -> floor, replay or measured."""
    if not summary.waterfalls:
        return None
    w = max(summary.waterfalls, key=lambda w: w.nodes)  # the first of the largest
    line = f"{w.name}'s speedup went: " + " -> ".join(
        f"{s.stage} {s.speedup:.2f}" for s in w.steps)
    if w.stragglers:
        line += f"; {_trials(w.stragglers)} held the last wave"
    return line


def accuracy_lines(acc: Accuracy | None) -> list[str]:
    """Baseline -> best test error, naming what the best changed, and the relative reduction;
    each with its 95 % interval (two lines of at most WIDTH columns with ordinary parameters), or
    one line saying a run too old for intervals has none."""
    if acc is None or acc.baseline_test_error is None or acc.best_test_error is None:
        return []
    base = acc.baseline_params or {}
    changed = {k: v for k, v in (acc.best_params or {}).items() if base.get(k) != v}
    best = ", ".join(f"{k}={value(v)}" for k, v in changed.items()) or "the baseline itself"
    cut = acc.relative_error_reduction
    i = acc.intervals
    if i is None:
        line = (f"test error: baseline {pct(acc.baseline_test_error)} -> best "
                f"{pct(acc.best_test_error)}")
        if cut is not None:
            line += f" ({pct(abs(cut), 1)} {'lower' if cut >= 0 else 'higher'}; {best})"
        else:
            line += f" ({best})"
        return [f"{line}; {NO_INTERVAL}"]
    lines = [f"test error: baseline {pct(acc.baseline_test_error)} {interval(i.baseline_interval)}"
             f" -> best {pct(acc.best_test_error)} {interval(i.best_interval)} ({best})"]
    if cut is None or i.reduction_interval is None:
        lines.append(f"no relative reduction: the baseline got none of the {i.n} test images "
                     "wrong")
    else:
        lines.append(f"test-error reduction {pct(cut, 1)} "
                     f"{interval(i.reduction_interval, sign=True)}: {significance(acc)} "
                     f"(McNemar p = {i.mcnemar_p:.2g}, {i.n} test images)")
    return lines


def warnings(summary: RunSummary) -> list[str]:
    """What a reader must know before trusting the figures above, one line each."""
    found = []
    acc = summary.accuracy
    if acc is not None and acc.metrics_identical is False:
        found.append(f"metrics differ across measured profiles: {len(acc.mismatches)} "
                     "differences (report.md lists them)")
    found += [f"{c.name} and {c.floor} met the host at other speeds (machine probe "
              f"{c.probe_ratio:.2f}x): see report.md"
              for c in summary.floor_comparisons if c.speed_moved and c.probe_ratio]
    found += _grouped([n for n in summary.notes if not n.startswith(EXPLAINING)])
    shown = [_cut(f"warning: {w}") for w in found[:MOST_WARNINGS]]
    if len(found) > MOST_WARNINGS:
        shown.append(f"warning: {len(found) - MOST_WARNINGS} more in report.md")
    return shown


# "2-node (replay): trial x failed: ..." and its like on other rows: one warning, rows counted
_ROW_PREFIX = re.compile(r"^\S+ \((?:measured|replay)[^)]*\)(?: repeat \d+)?: ")


def _grouped(notes: list[str]) -> list[str]:
    rows: dict[str, list[str]] = {}  # the note without its row -> the notes, in order
    for note in notes:
        rows.setdefault(_ROW_PREFIX.sub("", note, count=1), []).append(note)
    return [same[0] if len(same) == 1 else f"{len(same)} rows: {rest}"
            for rest, same in rows.items()]


def _cut(line: str) -> str:
    return line if len(line) <= WIDTH else line[:WIDTH - 1] + "…"


def _wrapped(line: str) -> list[str]:
    return textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False) or [""]


def to_answer(summary: RunSummary, paths: list[tuple[str, Path]]) -> str:
    """The short answer; ``paths``: (label, path) lines at its end, e.g. the reports'."""
    head = [f"{summary.workload}, grid '{summary.grid}': speedups against "
            f"{summary.reference or 'no 1-node row'} (1 node, measured)",
            tabulate(short_rows(summary), headers=SHORT_HEADERS, disable_numparse=True), ""]
    tail = [line for one in (waterfall_line(summary), *accuracy_lines(summary.accuracy))
            if one for line in _wrapped(one)]
    tail += warnings(summary)
    tail += ["", *(f"{label}: {shown_path(path)}" for label, path in paths)]
    faster = [line for one in faster_lines(summary) for line in _wrapped(one)]
    room = MOST_LINES - sum(part.count("\n") + 1 for part in head) - len(tail)
    if len(faster) > room:  # a sweep of many node counts: the table has every speedup
        faster = [*faster[:max(room - 1, 0)],
                  f"... {len(faster) - max(room - 1, 0)} more lines: bench report RUN --full"]
    # asked for with --backends: beside the answer's own lines, not in their budget
    return "\n".join([*head, *faster, *backend_lines(summary), *tail])


def backend_lines(summary: RunSummary) -> list[str]:
    """Each profile's back-end table, its columns a reader compares back-ends by."""
    out = []
    shown = [0, 1, 2, 3, 4, 5]  # back-end, time, x floor, speedup, eff. vs bound, overhead
    for t in summary.backend_tables:
        rows = [[row[i] for i in shown] for row in backend_table.cells(t)]
        out += ["", f"Back-ends on {backend_table.title(t)}:",
                tabulate(rows, headers=[backend_table.HEADERS[i] for i in shown],
                         disable_numparse=True)]
    if line := backend_table.identity_line(summary):
        out += _wrapped(line)
    return out


def shown_path(path: Path) -> str:
    """A path under the working folder, relative: shorter, and still one a shell can open."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
