"""`bench history add RUN`, `bench history show` and `bench history publish`: runs kept by
commit, each gated figure's series, the steps found in it, and one static page of pictures."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bench.definitions.locations import REPORTS_DIR

# bench.history.entries.HISTORY_DIR and RECENT, spelled here: that package loads scipy, which
# `bench --help` must not (tests check both agree)
HISTORY_DIR = REPORTS_DIR / "history"
RECENT = 5


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "history", help="keep runs by commit; show or publish each figure's series and its steps",
        description="A history of runs (one JSON file a run, by workload, grid and machine) "
                    "that CI keeps as an artifact or a branch. `bench check RUN --history` "
                    "judges a run against its recent runs.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="keep RUN's summary in the history, with its commit, "
                                         "start time and the gate's verdict on it")
    add.add_argument("run", metavar="RUN", help="run directory or result file")
    add.add_argument("--commit", metavar="SHA", default=None,
                     help="the commit RUN measured (default: the one its run.json records)")
    add.add_argument("--recent", type=_positive, default=RECENT, metavar="K",
                     help=f"judge RUN against the K most recent runs before it (default {RECENT})")
    show = actions.add_parser("show", help="print each gated figure's series and the steps "
                                           "found in it")
    publish = actions.add_parser("publish", help="write one static HTML page: a picture per "
                                                 "figure over the commits, steps named")
    publish.add_argument("--out", type=Path, default=None, metavar="FILE",
                         help="the page (default: DIR/index.html)")
    for sub, func in ((add, _add), (show, _show), (publish, _publish)):
        sub.add_argument("--dir", type=Path, default=HISTORY_DIR, metavar="DIR",
                         help="the history folder (default: reports/history)")
        sub.set_defaults(func=func)
    for sub in (show, publish):
        sub.add_argument("--workload", metavar="NAME", default=None,
                         help="only this workload's runs (default: every workload)")
        sub.add_argument("--grid", metavar="NAME", default=None, help="only this grid's runs")


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of runs, 1 or more")
    return value


def _add(args: argparse.Namespace) -> int:
    # the comparison's modules load scipy: imported on use, so that `bench --help` stays light
    from bench.compare.results import load_result
    from bench.history import entries as history
    from bench.history.reference import verdict
    from bench.history.text import knob_text

    result = load_result(args.run)
    entry = history.new_entry(result, args.dir, args.commit)
    doc = entry.summary
    earlier = history.before(history.read_group(args.dir, doc["workload"], doc["grid"],
                                                doc["machine"]), entry)
    judged = verdict(doc, earlier, args.recent)
    entry = dataclasses.replace(entry, verdict=judged)
    history.write_entry(entry)
    against = f"against {len(judged['against'])} recent run(s)" if judged["against"] else \
        "no earlier run to judge it against"
    knobs = f"; made with a test knob on ({knob_text(entry)})" if entry.knobs else ""
    print(f"bench: {entry.run_id} ({entry.short}) added to the history: {entry.path}\n"
          f"  gate: {judged['status']} ({against}){knobs}")
    for line in judged["regressions"]:
        print(f"  - {line['line']}")
    return 0


def _groups(args: argparse.Namespace) -> list:
    from bench.errors import UserError
    from bench.history.entries import read_all
    from bench.history.text import Group

    groups = [Group.of(entries) for entries in read_all(args.dir, args.workload, args.grid)]
    if not groups:
        chosen = " ".join(f"--{k} {v}" for k, v in (("workload", args.workload),
                                                    ("grid", args.grid)) if v)
        raise UserError(f"the history has no runs{' of ' + chosen if chosen else ''}",
                        where=str(args.dir), fix="add some: bench history add RUN_DIR")
    return groups


def _show(args: argparse.Namespace) -> int:
    from bench.history.text import show

    print("\n\n".join(show(group) for group in _groups(args)))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from bench.history.page import write_page

    groups = _groups(args)
    path = write_page(groups, args.out or args.dir / "index.html")
    found = sum(len(g.changes) for g in groups)
    print(f"bench: history page written ({sum(len(g.entries) for g in groups)} runs, "
          f"{found} step(s) found): {path}")
    return 0
