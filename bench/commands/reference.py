"""`bench reference save RUN` and `bench reference show`: the references `bench check` reads.

`bench baseline ...`, their name before, is an alias."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.commands.check import REFERENCE_DIR
from bench.definitions.workload import load_workload
from bench.errors import EXIT_NO_REFERENCE


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("reference", aliases=["baseline"],
                              help="save or find the reference `bench check` judges runs against")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = actions.add_parser("save", help="keep RUN as the reference of its workload and grid "
                                           "on this kind of machine")
    save.add_argument("run", metavar="RUN", help="run directory or result file")
    save.add_argument("--dir", type=Path, default=REFERENCE_DIR, metavar="DIR",
                      help="where references go (default: reports/references)")
    save.set_defaults(func=_save)
    show = actions.add_parser("show", help="print the reference of a workload and grid on this "
                                           "machine; exit 3 when there is none")
    show.add_argument("--workload", metavar="NAME|PATH", default=None)
    show.add_argument("--grid", metavar="NAME", default=None)
    show.add_argument("--dir", type=Path, default=None, metavar="DIR",
                      help="where to look (default: reports/references, then reports/baselines)")
    show.set_defaults(func=_show)


def _save(args: argparse.Namespace) -> int:
    # bench.compare loads scipy: imported on use, so that `bench --help` stays light
    from bench.compare.references import save_reference
    from bench.compare.results import load_result

    result = load_result(args.run)
    path = save_reference(result, args.dir)
    print(f"bench: reference saved: {path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from bench.compare.references import DEFAULT_FOLDERS, saved_reference, this_machine

    workload = load_workload(args.workload)
    grid = args.grid or workload.default_grid
    workload.grid(grid)  # an unknown grid is a user error, not "no reference"
    folders = DEFAULT_FOLDERS if args.dir is None else (args.dir,)
    path = saved_reference(folders, workload.name, grid, this_machine())
    if path is None:
        print(f"bench: no reference for {workload.name} grid '{grid}' on this machine; make one: "
              "bench reference save RUN_DIR", file=sys.stderr)
        return EXIT_NO_REFERENCE
    print(path)
    return 0
