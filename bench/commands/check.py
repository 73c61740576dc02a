"""`bench check RUN`: the regression gate. Exit 0: nothing regressed; 1: a regression; 2: no
usable reference (or another user error)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from bench.commands.compare import FORMATS, render
from bench.commands.history import HISTORY_DIR, RECENT
from bench.definitions.locations import PROJECT_ROOT
from bench.errors import UserError

if TYPE_CHECKING:
    from bench.compare.results import Result

EXIT_REGRESSION = 1
# bench.compare.references.REFERENCE_DIR, spelled here: that module loads scipy (tests check both)
REFERENCE_DIR = PROJECT_ROOT / "reports" / "references"


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "check", help="fail (exit 1) when a run regressed against its reference",
        description="Judge RUN against the reference of its workload and grid on this kind of "
                    "machine (saved by `bench reference save` in reports/references/, or in "
                    "reports/baselines/ before), or --reference FILE, or the recent runs of a "
                    "history (--history, pooled). Exit 0: no regression; "
                    "1: a regression, each named with its change and interval; 2: no usable "
                    "reference.")
    parser.add_argument("run", metavar="RUN", help="run directory or result file, e.g. "
                                                   "reports/runs/latest")
    parser.add_argument("--reference", metavar="FILE",
                        help="a reference (bench reference save) or any result bench compare "
                             "reads")
    parser.add_argument("--references-dir", type=Path, default=None, metavar="DIR",
                        help="where saved references are looked up (default: reports/references, "
                             "then reports/baselines)")
    # Their names before the gate's saved result was called a reference: scripts still use them.
    parser.add_argument("--baseline", dest="reference", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--baselines-dir", dest="references_dir", type=Path, metavar="DIR",
                        help=argparse.SUPPRESS)
    parser.add_argument("--history", nargs="?", type=Path, const=HISTORY_DIR, default=None,
                        metavar="DIR",
                        help="judge RUN against the recent runs of a history (bench history add) "
                             "instead, pooled into one reference (default DIR: reports/history)")
    parser.add_argument("--recent", type=int, default=RECENT, metavar="K",
                        help=f"with --history: pool the K most recent runs (default {RECENT})")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # the comparison's modules load scipy: imported on use, so that `bench --help` stays light
    from bench.compare import gate
    from bench.compare.comparison import compare
    from bench.compare.references import find_reference
    from bench.compare.results import load_result

    run = load_result(args.run)
    if args.history is not None:
        reference_spec, reference = _history_reference(run, args)
    else:
        reference_spec = args.reference or find_reference(run.summary, args.references_dir)
        reference = load_result(reference_spec)
    if reference.summary.get("machine") != run.summary.get("machine"):
        raise UserError(
            "the reference was measured on another kind of machine: its absolute times do not "
            "judge this one", where=str(reference_spec),
            fix="make a reference on this machine: bench reference save RUN_DIR")
    comparison = compare(reference.summary, run.summary, a_label=reference.label,
                         b_label=run.label)
    gate.require_comparable(comparison, str(reference_spec))
    print(render(comparison, args.format))
    found = gate.regressions(comparison)
    judged = [fc for fc in comparison.figures if fc.gated and fc.figure.gated]
    shown = [fc for fc in comparison.figures if fc.gated_as]
    skipped = [fc for fc in comparison.figures
               if not fc.gated and fc.figure.gated and not fc.gated_as]
    print()
    if found:
        print(f"bench check: {len(found)} regression(s) against {reference.label}:")
        for fc in found:
            print(f"  - {gate.describe(fc)}")
        if args.history is not None:  # the history's next runs become the reference
            print("  fix the cause; if the change is intended, it is the reference once it is "
                  f"in the {args.recent} most recent runs: bench history add {args.run}")
        else:
            print("  fix the cause; if the change is intended, save a new reference: "
                  f"bench reference save {args.run}")
        return EXIT_REGRESSION
    print(f"bench check: no regression against {reference.label} ({len(judged)} figures judged"
          + (f"; {len(shown)} as measured, judged at equal machine speed" if shown else "")
          + (f"; {len(skipped)} not judged: {skipped[0].why}" if skipped else "") + ")")
    return 0


def _history_reference(run: Result, args: argparse.Namespace) -> tuple[Path, Result]:
    """The history's recent runs of RUN's workload, grid and machine, pooled into one reference
    (bench.compare.history_reference)."""
    from bench.compare.history import read_group
    from bench.compare.history_reference import reference_from_history

    if args.reference:
        raise UserError("--reference and --history each name the reference", where="--history",
                        fix="give one of them")
    if args.recent < 1:
        raise UserError(f"--recent {args.recent}: no run to pool", where="--recent",
                        fix="give 1 or more, e.g. --recent 5")
    doc = run.summary
    entries = read_group(args.history, doc["workload"], doc["grid"], doc["machine"])
    reference = reference_from_history(run, entries, args.recent, where=str(args.history))
    return reference.path, reference
