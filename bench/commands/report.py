"""`bench report RUN_DIR`: recompute a run's numbers from its records, rewrite its reports and
print the short answer (--full: everything, --format json: summary.json's document)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.store.rundir import HTML_REPORT, REPORT, SUMMARY, RunDirectory, write_json

if TYPE_CHECKING:
    from bench.analyse.summary import RunSummary

FORMATS = ("table", "json")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--full and --format, shared by `bench run` and `bench report`."""
    parser.add_argument("--full", action="store_true",
                        help="print every table and line of report.md's figures, not the short "
                             "answer")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default); json: only summary.json's document (and "
                             "run_dir) on stdout, every message on stderr")


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("report", help="(re)write and print the report of a run directory")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a folder made by `bench run`")
    add_output_options(parser)
    parser.set_defaults(func=main)


@dataclass(frozen=True)
class Written:
    """A run's reports, written: its summary and summary.json's document."""

    run: RunDirectory
    summary: RunSummary
    document: dict[str, Any]


def write_reports(run: RunDirectory) -> Written:
    """Write summary.json, report.md, the pictures in plots/ and report.html from the run's
    records. A plotting bug raises with its traceback: the text reports are written before it."""
    # imported here: scipy and matplotlib load only when a report is written, not for --help
    from bench.analyse.summarize import summarize_run
    from bench.analyse.summary_json import to_json
    from bench.report.html import write_html_report
    from bench.report.text import to_markdown

    meta = run.meta()
    trials = run.trials()
    summary = summarize_run(meta, trials, run.profile_runs(), run.deployments())
    document = to_json(summary, meta)
    write_json(run.path / SUMMARY, document)
    (run.path / REPORT).write_text(to_markdown(summary, meta))
    write_html_report(run.path, summary, trials)
    return Written(run, summary, document)


def write_report(run: RunDirectory) -> str:
    """write_reports, returning the full terminal text (`--full`)."""
    from bench.report.text import to_table

    return to_table(write_reports(run).summary)


def show(written: Written, fmt: str, full: bool,
         first: tuple[tuple[str, Path], ...] = ()) -> None:
    """Print a written run as asked: the short answer, --full, or JSON alone. ``first``: more
    (label, path) lines before the reports'."""
    from bench.report.answer import to_answer
    from bench.report.text import to_table

    path = written.run.path
    if fmt == "json":
        print(json.dumps(written.document | {"run_dir": str(path)}, indent=2,
                         allow_nan=False))
        return
    paths = [*first, ("report", path / REPORT), ("report with pictures", path / HTML_REPORT)]
    if full:
        print(to_table(written.summary))
        print("\n" + "\n".join(f"{label}: {where}" for label, where in paths))
    else:
        print(to_answer(written.summary, paths))


def main(args: argparse.Namespace) -> int:
    run = RunDirectory.open(args.run_dir)
    show(write_reports(run), args.format, args.full)
    return 0
