"""`bench report RUN_DIR`: recompute a run's figures from its records and print them."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.analysis import summarize_run
from bench.render import to_json, to_markdown, to_table
from bench.rundir import REPORT, SUMMARY, RunDirectory, write_json


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("report", help="(re)write and print the report of a run directory")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a folder made by `bench run`")
    parser.set_defaults(func=main)


def write_report(run: RunDirectory) -> str:
    """Write summary.json and report.md from the run's records; return the printed table."""
    meta = run.meta()
    summary = summarize_run(meta, run.trials(), run.profile_runs())
    write_json(run.path / SUMMARY, to_json(summary, meta))
    (run.path / REPORT).write_text(to_markdown(summary, meta))
    return to_table(summary)


def main(args: argparse.Namespace) -> int:
    run = RunDirectory.open(args.run_dir)
    print(write_report(run))
    print(f"\nreport: {run.path / REPORT}")
    return 0
