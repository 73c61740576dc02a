"""`bench report RUN_DIR`: recompute a run's numbers from its records and print them."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.store.rundir import HTML_REPORT, REPORT, SUMMARY, RunDirectory, write_json


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("report", help="(re)write and print the report of a run directory")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a folder made by `bench run`")
    parser.set_defaults(func=main)


def write_report(run: RunDirectory) -> str:
    """Write summary.json, report.md, the pictures in plots/ and report.html from the run's
    records; return the printed table. A plotting bug raises with its traceback: the text
    reports are written before it."""
    # imported here: scipy and matplotlib load only when a report is written, not for --help
    from bench.analyse.summarize import summarize_run
    from bench.analyse.summary_json import to_json
    from bench.report.html import write_html_report
    from bench.report.text import to_markdown, to_table

    meta = run.meta()
    trials = run.trials()
    summary = summarize_run(meta, trials, run.profile_runs(), run.deployments())
    write_json(run.path / SUMMARY, to_json(summary, meta))
    (run.path / REPORT).write_text(to_markdown(summary, meta))
    write_html_report(run.path, summary, trials)
    return to_table(summary)


def main(args: argparse.Namespace) -> int:
    run = RunDirectory.open(args.run_dir)
    print(write_report(run))
    print(f"\nreport: {run.path / REPORT}\nreport with pictures: {run.path / HTML_REPORT}")
    return 0
