"""2016 beside the run (bench.analyse.published), as text, markdown and HTML.

2016's figures and the run's are never in one table: the first table holds 2016's only, under
its label; the second the run's rows (measured, replay) and the model's prediction from the
run's own trials. Every number is computed in bench.analyse.published.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Sequence

from tabulate import tabulate

from bench.analyse.published import LABEL, TEXT_LABEL, PublishedComparison, RunFigure
from bench.report.formats import DASH, num, pct

TITLE = "2016 beside this run"
WIDTH = 100  # the terminal's lines
PUBLISHED_HEADERS = ["nodes", "wall s", "speedup", "efficiency"]
RUN_HEADERS = ["nodes", "profile", "mode", "wall s", "speedup", "efficiency", "model wall s",
               "model speedup"]


def intro(c: PublishedComparison) -> str:
    return (f"{LABEL}: {c.published.source}. The wall times are approximate; the 7x and the test "
            "errors are the post's text. The run's own figures and the model's are in a table "
            "of their own below it.")


def published_rows(c: PublishedComparison) -> list[list[str]]:
    """The 2016 table (PUBLISHED_HEADERS): 2016's figures only."""
    p = c.published
    rows = []
    for a in c.at_nodes:
        speedup = f"{a.published_speedup:.2f}"
        efficiency = DASH if a.nodes == 1 else f"{p.efficiency(a.nodes):.2f}"
        if a.headline_speedup is not None:
            speedup += f" (text: {a.headline_speedup:g}x)"
            efficiency += f" ({a.headline_speedup:g}x / {a.nodes})"
        rows.append([str(a.nodes), f"~{a.published_wall_s:,.0f}", speedup, efficiency])
    return rows


def _mode(f: RunFigure) -> str:
    return f.mode.value + (" (oversubscribed)" if f.oversubscribed else "")


def run_rows(c: PublishedComparison) -> list[list[str]]:
    """The run's table (RUN_HEADERS): its rows at 2016's node counts and the model's."""
    rows = []
    for a in c.at_nodes:
        model = [num(a.model_wall_s), num(a.model_speedup)]
        figures = a.run or [None]
        for i, f in enumerate(figures):
            own = ([DASH, "not run", DASH, DASH, DASH] if f is None else
                   [f.profile, _mode(f), f"{f.wall_s:.2f}", num(f.speedup),
                    num(None if f.speedup is None else f.speedup / a.nodes)])
            rows.append([str(a.nodes) if i == 0 else "", *own, *(model if i == 0 else ["", ""])])
    return rows


RUN_INTRO = ("This run at 2016's node counts (measured, replay), and the model (mode model: this "
             "run's 1-node trials and overheads on that many nodes):")


def accuracy_lines(c: PublishedComparison) -> list[str]:
    p = c.published
    lines = [f"Test error, {TEXT_LABEL}: {pct(p.baseline_test_error)} (default) -> "
             f"{pct(p.best_test_error)} (best), a {pct(p.reduction)} reduction (the post: "
             f"{p.stated_reduction * 100:.0f} %)."]
    if c.baseline_test_error is not None:
        lines.append(f"Test error, this run (measured): {pct(c.baseline_test_error)} (baseline) "
                     f"-> {pct(c.best_test_error)} (best on validation), a "
                     f"{pct(c.reduction)} reduction.")
    return lines


def why_lines(c: PublishedComparison) -> list[str]:
    """Why the model's times differ from 2016's: trial length, waves, grid size, overhead."""
    p, w = c.published, {x.nodes: x for x in c.waves}
    two, thirteen = w[2], w[13]
    model = {a.nodes: a for a in c.at_nodes}
    assumed = (f"2016's grid, assumed {p.assumed_trials} trials ({p.assumed_grid}: the post shows "
               "5 neuron lines, not the count)")
    lines = [
        f"The model predicts {num(model[2].model_wall_s)} s on 2 nodes and "
        f"{num(model[13].model_wall_s)} s on 13 ({num(model[2].model_speedup)}x, "
        f"{num(model[13].model_speedup)}x) from this run's own trials; {LABEL}: "
        f"~{p.wall_s[2]:,.0f} s and ~{p.wall_s[13]:,.0f} s ({p.speedup(2):.2f}x, "
        f"{p.speedup(13):.2f}x).",
        f"Trial length: this run's trials compute {num(c.mean_trial_s)} s on average (1 node); "
        f"2016's about {p.trial_s:,.0f} s if its grid had {p.assumed_trials} (assumed). Wall "
        "times differ with the machine, the epochs and the data; speedups compare.",
        f"Waves = ceil(trials / slots): this grid's {c.trials} trials take {two.waves} waves on "
        f"2 nodes ({two.slots} slots) and {thirteen.waves} on 13 ({thirteen.slots} slots); "
        f"{assumed}: {two.assumed_2016_waves} and {thirteen.assumed_2016_waves}.",
        f"Bound (trials / waves, equal trials): this grid {two.equal_bound:.2f}x at 2 nodes, "
        f"{thirteen.equal_bound:.2f}x at 13"
        + (f" ({num(two.bound)}x and {num(thirteen.bound)}x for its trials as measured)"
           if two.bound is not None else "")
        + f"; 2016's assumed grid {two.assumed_2016_bound:.2f}x and "
        f"{thirteen.assumed_2016_bound:.2f}x. On 13 nodes 2016's published speedup is "
        f"{p.speedup(13) / thirteen.assumed_2016_bound:.2f} of that bound"
        + (f", the model {model[13].model_speedup / thirteen.equal_bound:.2f} of this grid's"
           if model[13].model_speedup is not None and thirteen.equal_bound else "") + ".",
    ]
    if c.per_task_s is not None:
        lines.append(
            f"Overhead per trial (the model's, from this run's 1-node trials): "
            f"{c.per_task_s:.3f} s after a slot's first trial ({num(c.first_task_s, 3)} s for "
            f"the first), {pct(c.overhead_share, 1)} of this run's mean trial; of a 2016 trial "
            f"(~{p.trial_s:,.0f} s, assumed grid) it would be {pct(c.overhead_share_2016, 3)}.")
    return lines


def _tabulate(headers: Sequence[str], rows: list[list[str]], tablefmt: str) -> str:
    return tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True)


def text_lines(c: PublishedComparison) -> list[str]:
    """The block for the terminal: every line at most WIDTH columns."""
    def wrap(line: str) -> list[str]:
        return textwrap.wrap(line, WIDTH, subsequent_indent="  ")

    out = [f"{TITLE}:", *wrap(intro(c)),
           _tabulate(PUBLISHED_HEADERS, published_rows(c), "simple"),
           *(x for line in accuracy_lines(c)[:1] for x in wrap(line)), "",
           *wrap(RUN_INTRO), _tabulate(RUN_HEADERS, run_rows(c), "simple")]
    out += [x for line in accuracy_lines(c)[1:] for x in wrap(line)]
    out += ["", "Why the model's times differ from 2016's:"]
    out += [x for line in why_lines(c) for x in wrap("- " + line)]
    return out


def markdown_lines(c: PublishedComparison) -> list[str]:
    """The block for report.md: a section of its own."""
    return ["## " + TITLE, "", intro(c), "",
            _tabulate(PUBLISHED_HEADERS, published_rows(c), "github"), "",
            accuracy_lines(c)[0], "", RUN_INTRO, "",
            _tabulate(RUN_HEADERS, run_rows(c), "github"), "",
            *(x for line in accuracy_lines(c)[1:] for x in (line, "")),
            "Why the model's times differ from 2016's:", "",
            *(f"- {line}" for line in why_lines(c))]


def html_section(c: PublishedComparison,
                 table: Callable[[Sequence[str], Sequence[Sequence[str]]], str]) -> list[str]:
    """The block for report.html; ``table`` lays out a table as the rest of the page does."""
    def para(text: str) -> str:
        return f"<p>{html.escape(text)}</p>"

    return [f"<h2>{html.escape(TITLE)}</h2>", para(intro(c)),
            table(PUBLISHED_HEADERS, published_rows(c)), para(accuracy_lines(c)[0]),
            para(RUN_INTRO), table(RUN_HEADERS, run_rows(c)),
            *(para(line) for line in accuracy_lines(c)[1:]),
            para("Why the model's times differ from 2016's:"),
            "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in why_lines(c)) + "</ul>"]
