"""`bench baseline save RUN` and `bench baseline show`: the baselines `bench check` reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.commands.check import BASELINE_DIR
from bench.definitions.workload import load_workload


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("baseline", help="save or find the baseline `bench check` uses")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = actions.add_parser("save", help="keep RUN as the baseline of its workload and grid "
                                           "on this kind of machine")
    save.add_argument("run", metavar="RUN", help="run directory or result file")
    save.add_argument("--dir", type=Path, default=BASELINE_DIR, metavar="DIR",
                      help="where baselines go (default: reports/baselines)")
    save.set_defaults(func=_save)
    show = actions.add_parser("show", help="print the baseline of a workload and grid on this "
                                           "machine; exit 1 when there is none")
    show.add_argument("--workload", metavar="NAME|PATH", default=None)
    show.add_argument("--grid", metavar="NAME", default=None)
    show.add_argument("--dir", type=Path, default=BASELINE_DIR, metavar="DIR")
    show.set_defaults(func=_show)


def _save(args: argparse.Namespace) -> int:
    # bench.compare loads scipy: imported on use, so that `bench --help` stays light
    from bench.compare.references import save_baseline
    from bench.compare.results import load_result

    result = load_result(args.run)
    path = save_baseline(result, args.dir)
    print(f"bench: baseline saved: {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from bench.compare.references import baseline_path, this_machine

    workload = load_workload(args.workload)
    grid = args.grid or workload.default_grid
    workload.grid(grid)  # an unknown grid is a user error, not "no baseline"
    path = baseline_path(args.dir, workload.name, grid, this_machine())
    if not path.is_file():
        print(f"bench: no baseline for {workload.name} grid '{grid}' on this machine; make one: "
              "bench baseline save RUN_DIR", file=sys.stderr)
        return 1
    print(path)
    return 0
