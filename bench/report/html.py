"""report.html: the run's tables (the cells bench.report.tables writes) and its pictures in one
file.

Self-contained so it can be mailed or attached to a CI job: the PNGs are embedded as base64
data URIs, the CSS is inline, there is no script and no external asset. Every text is escaped.
The same PNGs are written to ``RUN_DIR/plots/`` for slides and issues.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from bench.analyse.scaling_model import Waterfall
from bench.analyse.summary import Accuracy, RunSummary
from bench.report import backend_table, published_block, sentences, tables
from bench.report.formats import DASH
from bench.report.pictures import accuracy, drawing, scaling, timeline
from bench.store.records import Mode, TrialResult
from bench.store.rundir import HTML_REPORT, PLOTS


@dataclass(frozen=True)
class Picture:
    """A picture as saved: its PNG, in plots/ and in the page."""

    name: str  # file stem in plots/
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Drawn:
    """A picture as drawn, before it is saved."""

    name: str
    title: str
    caption: str
    figure: Figure


def _file_stem(*parts: str) -> str:
    """A profile name may be a path or hold spaces; a file name may not."""
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", p).strip("-.") or "x" for p in parts)


def _waterfall_caption(w: Waterfall) -> str:
    lost = "; ".join(f"{s.stage} {s.speedup:.2f}: lost to {s.lost_to}" for s in w.steps[1:])
    caption = (f"Ideal {w.steps[0].speedup:.0f}x on {w.nodes} nodes"
               + (f"; {lost}" if lost else ""))
    caption += "".join(f"; {skipped}" for skipped in w.skipped)
    if w.stragglers:
        caption += f". The last wave was held by {', '.join(w.stragglers)}"
    return caption + "."


def draw(summary: RunSummary, trials: Sequence[TrialResult]) -> list[Drawn]:
    """Every picture of a run, in the order report.html shows them."""
    drawn = _scaling_pictures(summary)
    if any(summary.quality_curves.values()):
        drawn.append(_time_to_quality_picture(summary))
    drawn += [_waterfall_picture(w) for w in summary.waterfalls if len(w.steps) >= 2]
    if summary.accuracy is not None:
        source = [t for t in trials if t.profile == summary.accuracy.source
                  and t.mode is Mode.MEASURED and t.repeat == 0]
        drawn.append(Drawn(
            "test_error", "Test error by learning rate",
            f"Test split, trials of {summary.accuracy.source} (measured, first repeat); the "
            "baseline and the configuration best on validation are marked; trials without a "
            "test error (diverged, failed) are drawn at the top.",
            accuracy.error_vs_learning_rate(source, summary.accuracy)))
    return drawn + _timeline_pictures(summary, trials)


def _scaling_pictures(summary: RunSummary) -> list[Drawn]:
    """Wall time, speedup and Karp-Flatt; the last two of the Spark rows only."""
    model_curve = [(p.nodes, p.speedup) for p in summary.model] or None
    on_spark = summary.without_floor()
    return [
        Drawn("wall_time", "Grid wall time by number of nodes",
              "One bar per profile and mode (colour and hatch: measured, replay, model); "
              "error bars are the standard deviation over repeats.", scaling.wall_time(summary)),
        Drawn("speedup", "Speedup by number of nodes",
              "Ideal S = N, the bound this grid allows on those slots, and the measured and "
              "replayed speedups with their 95 % bootstrap interval where there are repeats"
              + (", and the model's curve (mode model: simulated from the 1-node run)."
                 if model_curve else "."),
              scaling.speedup(on_spark, model_curve, usl=summary.usl_fit)),
        Drawn("karp_flatt", "Karp-Flatt serial fraction by number of nodes",
              "e = (1/S - 1/N) / (1 - 1/N) of every measured and replayed multi-node row: flat "
              "over N is a fixed serial part, rising is an overhead that grows with N.",
              scaling.karp_flatt(on_spark.rows)),
    ]


def _time_to_quality_picture(summary: RunSummary) -> Drawn:
    return Drawn(
        "time_to_quality", "Time to quality",
        "Best-so-far test error (the best configuration on validation so far) against the "
        "seconds since the grid was dispatched, first repeat of each profile and mode; a "
        "ring marks where each reached the run's best.",
        accuracy.time_to_quality(
            summary.quality_curves,
            modes={f"{r.name} ({r.mode.value})": r.mode for r in summary.rows},
            until={f"{r.name} ({r.mode.value})": r.wall_samples_s[0]
                   for r in summary.rows if r.wall_samples_s}))


def _waterfall_picture(w: Waterfall) -> Drawn:
    title = f"Where the {w.name} speedup goes"
    return Drawn(_file_stem("waterfall", w.name), title, _waterfall_caption(w),
                 scaling.waterfall([(s.stage, s.speedup) for s in w.steps], title=title))


def _timeline_pictures(summary: RunSummary, trials: Sequence[TrialResult]) -> list[Drawn]:
    """Each row's latest repeat, its trials on their slots."""
    drawn = []
    for row in [*summary.rows, *summary.backend_rows]:  # a timeline per back-end too
        of_row = [t for t in trials if (t.profile, t.mode) == (row.name, row.mode)]
        if not of_row:
            continue
        repeat = max(t.repeat for t in of_row)
        title = f"{row.name} ({row.mode.value}), repeat {repeat}: trials on their slots"
        drawn.append(Drawn(
            _file_stem("timeline", row.name, row.mode.value), title,
            "One bar per trial, coloured by phase; grey background is idle slot time; waiting "
            "is drawn only while the trial's slot was free. Dispatch and receipt are on the "
            "driver's clock, the phases on the executor's.",
            timeline.timeline([t for t in of_row if t.repeat == repeat], title, row.slots)))
    return drawn


def write_pictures(drawn: Sequence[Drawn], plots_dir: Path) -> list[Picture]:
    """Save each picture as ``plots_dir/<name>.png``; PNGs of an earlier report that this one
    does not draw are removed, so the folder and report.html show the same pictures."""
    plots_dir.mkdir(exist_ok=True)
    pictures = [Picture(d.name, d.title, d.caption,
                        drawing.save_png(d.figure, plots_dir / f"{d.name}.png"))
                for d in drawn]
    names = {f"{p.name}.png" for p in pictures}
    for old in plots_dir.glob("*.png"):
        if old.name not in names:
            old.unlink()
    return pictures


CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1180px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.mode { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; }
.mode-measured { background: #0072B2; } .mode-replay { background: #E69F00; color: #222; }
.mode-model { background: #999999; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 13px; color: #555; max-width: 880px; }
.note { color: #8a4b00; } code { background: #f4f4f4; padding: 0 3px; }
"""

_NUMBER = re.compile(r"^[−\-+]?[\d.]+( ± [\d.]+)?( … [\d.]+)?( %)?( \[[\d., ]+\])?$|^—$")


def escape(value: Any) -> str:
    return html.escape(str(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
           modes: Sequence[Mode] | None = None) -> str:
    """A table of text cells; with ``modes`` (one per row), the "mode" column is a coloured
    label, in the pictures' colours."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            if modes is not None and headers[j] == "mode":
                cells.append(f'<td><span class="mode mode-{escape(modes[i].value)}">{escape(cell)}'
                             "</span></td>")
            elif _NUMBER.match(str(cell)):
                cells.append(f'<td class="num">{escape(cell)}</td>')
            else:
                cells.append(f"<td>{escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
            + "\n</tbody></table>")


def picture_element(picture: Picture) -> str:
    data = base64.b64encode(picture.png).decode("ascii")
    return (f'<figure id="{escape(picture.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(picture.title)}"><figcaption><b>{escape(picture.title)}.</b> '
            f"{escape(picture.caption)}</figcaption></figure>")


def to_html(summary: RunSummary, pictures: Sequence[Picture]) -> str:
    """The whole report as one HTML document."""
    by_name = {p.name: p for p in pictures}
    out = _head(summary)
    out += [picture_element(by_name[n]) for n in ("wall_time", "speedup", "karp_flatt")
            if n in by_name]
    if summary.model:
        out += ["<h2>Model</h2>", f"<p>{escape(sentences.model_intro(summary))}</p>",
                table(*tables.model_table(summary)),
                "<ul>" + "".join(f"<li>{escape(line)}</li>"
                                 for line in sentences.model_lines(summary)) + "</ul>"]
    out += [picture_element(p) for p in pictures if p.name.startswith("waterfall")]
    if summary.published is not None:
        out += published_block.html_section(summary.published, table)
    if summary.accuracy is not None:
        out += _accuracy_section(summary.accuracy, by_name)
    out += _extra_sections(summary)
    timelines = [p for p in pictures if p.name.startswith("timeline")]
    if timelines:
        out += ["<h2>Timelines</h2>", *(picture_element(p) for p in timelines)]
    out += ["<h2>Phases (mean seconds per trial)</h2>",
            table(["profile", "mode", *tables.phase_names(summary)],
                   tables.phase_rows(summary), [r.mode for r in summary.rows])]
    if summary.notes:
        out += ["<h2>Notes</h2>",
                "<ul>" + "".join(f'<li class="note">{escape(n)}</li>' for n in summary.notes)
                + "</ul>"]
    out += ["<h2>Environment</h2>",
            table(["", ""], sorted((k, str(v)) for k, v in summary.environment.items())),
            "</body></html>", ""]
    return "\n".join(out)


def _head(summary: RunSummary) -> list[str]:
    """The page's head, title, main table and the lines under it."""
    title = f"{summary.workload}: grid '{summary.grid}'"
    out = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)} ({escape(summary.run_id)})</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Run <code>{escape(summary.run_id)}</code>; speedups against "
        f"<code>{escape(summary.reference or DASH)}</code> (1 node, measured). Every row says "
        "where its figures come from: <b>measured</b> (real trials), <b>replay</b> (the real "
        "cluster of that size running surrogate trials that sleep for the 1-node durations), "
        "<b>model</b> (a simulation from measured durations and overheads).</p>",
        table(tables.HEADERS, tables.table_rows(summary), [r.mode for r in summary.rows]),
    ]
    if lines := sentences.comparisons(summary):
        out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>")
    for line in filter(None, (sentences.replay_errors(summary), sentences.machine_speed(summary))):
        out.append(f"<p>{escape(line[0].upper() + line[1:])}</p>")
    return out


def _accuracy_section(acc: Accuracy, by_name: dict[str, Picture]) -> list[str]:
    out = ["<h2>Accuracy</h2>",
           "<p>The best configuration is chosen on the validation split; test errors are on "
           f"the test split (trials of <code>{escape(acc.source)}</code>).</p>",
           table(tables.ACCURACY_HEADERS, tables.accuracy_rows(acc))]
    if acc.mismatches:
        out += ["<h3>Metric mismatches</h3>",
                table(tables.MISMATCH_HEADERS, tables.mismatch_rows(acc))]
    out += [picture_element(by_name[n]) for n in ("test_error", "time_to_quality") if n in by_name]
    return out


def _extra_sections(summary: RunSummary) -> list[str]:
    """Deployment, weak scaling and where the time goes, each when the run has it."""
    out = []
    if summary.deployments:
        headers, rows = tables.deployment_table(summary)
        out += ["<h2>Deployment</h2>", f"<p>{escape(sentences.DEPLOYMENT_INTRO)}</p>",
                table(headers, rows, [Mode(row[headers.index("mode")]) for row in rows])]
    if summary.weak_runs:
        out += ["<h2>Weak scaling</h2>", f"<p>{escape(sentences.WEAK_INTRO)}</p>",
                table(tables.WEAK_HEADERS, tables.weak_rows(summary),
                       [w.mode for w in summary.weak_runs])]
    if summary.backend_tables:
        out += ["<h2>Back-ends</h2>", f"<p>{escape(backend_table.INTRO)}</p>"]
        for t in summary.backend_tables:
            out += [f"<h3>{escape(backend_table.title(t))}</h3>",
                    table(backend_table.HEADERS, backend_table.cells(t),
                          [t.mode] * len(t.entries)),
                    "<ul>", *(f"<li>{escape(line)}</li>"
                              for line in backend_table.loss_lines(t)), "</ul>"]
        if line := backend_table.identity_line(summary):
            out.append(f"<p>{escape(line)}</p>")
    if any(r.slot_seconds for r in summary.rows):
        out += ["<h2>Where the time goes</h2>", f"<p>{escape(sentences.BREAKDOWN_INTRO)}</p>",
                table(tables.BREAKDOWN_HEADERS, tables.breakdown_rows(summary),
                       [r.mode for r in summary.rows])]
    return out


def write_html_report(run_path: Path, summary: RunSummary,
                      trials: Sequence[TrialResult]) -> Path:
    """Draw the pictures into ``run_path/plots/`` and write ``run_path/report.html``."""
    pictures = write_pictures(draw(summary, trials), run_path / PLOTS)
    path = run_path / HTML_REPORT
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(to_html(summary, pictures), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path
