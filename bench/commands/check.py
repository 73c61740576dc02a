"""`bench check RUN`: the regression gate. Exit 0: nothing regressed; 1: a regression; 2: a
usage or input error; 3: no usable reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bench.commands.compare import FORMATS
from bench.commands.history import HISTORY_DIR, RECENT
from bench.definitions.locations import REPORTS_DIR
from bench.errors import EXIT_OK, EXIT_REGRESSION, NoReference, UserError

if TYPE_CHECKING:
    from bench.compare.comparison_report import GateOutcome
    from bench.compare.results import Result

# bench.compare.references.REFERENCE_DIR, spelled here: that module loads scipy (tests check both)
REFERENCE_DIR = REPORTS_DIR / "references"


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "check", help="fail (exit 1) when a run regressed against its reference",
        description="Judge RUN against the reference of its workload and grid on this kind of "
                    "machine (saved by `bench reference save` in reports/references/, or in "
                    "reports/baselines/ before), or --reference FILE, or the recent runs of a "
                    "history (--history, pooled). Exit 0: no regression; "
                    "1: a regression, each named with its change and interval; 2: a usage or "
                    "input error; 3: no usable reference.")
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
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default); markdown: a comment for a pull request or "
                             "$GITHUB_STEP_SUMMARY; json: only JSON on stdout, the verdict under "
                             '"gate"')
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # the comparison's modules load scipy: imported on use, so that `bench --help` stays light
    from bench.compare import gate
    from bench.compare.comparison import compare
    from bench.compare.comparison_report import GateOutcome
    from bench.compare.references import find_reference
    from bench.compare.results import load_result

    run = load_result(args.run)
    if args.history is not None:
        reference_spec, reference = _history_reference(run, args)
    else:
        reference_spec = args.reference or find_reference(run.summary, args.references_dir)
        reference = load_result(reference_spec)
    if reference.summary.get("machine") != run.summary.get("machine"):
        raise NoReference(
            "the reference was measured on another kind of machine: its absolute times do not "
            "judge this one", where=str(reference_spec),
            fix="make a reference on this machine: bench reference save RUN_DIR")
    comparison = compare(reference.summary, run.summary, a_label=reference.label,
                         b_label=run.label)
    gate.require_comparable(comparison, str(reference_spec))
    if args.history is not None:  # the history's next runs become the reference
        fix = ("fix the cause; if the change is intended, it is the reference once it is in "
               f"the {args.recent} most recent runs: bench history add {args.run}")
    else:
        fix = ("fix the cause; if the change is intended, save a new reference: "
               f"bench reference save {args.run}")
    outcome = GateOutcome.of(comparison, reference.label, fix)
    _print(outcome, args.format)
    return EXIT_REGRESSION if outcome.found else EXIT_OK


def _print(outcome: GateOutcome, fmt: str) -> None:
    """json and markdown: only the document on stdout, the verdict line on stderr too."""
    from bench.compare import comparison_report as printed

    if fmt == "json":
        print(json.dumps(printed.gate_json(outcome), indent=2, allow_nan=False))
    elif fmt == "markdown":
        print(printed.gate_markdown(outcome), end="")
    else:
        print(printed.to_table(outcome.comparison))
        print()
        print("\n".join(printed.gate_lines(outcome)))
        return
    print("\n".join(printed.gate_lines(outcome)), file=sys.stderr)


def _history_reference(run: Result, args: argparse.Namespace) -> tuple[Path, Result]:
    """The history's recent runs of RUN's workload, grid and machine, pooled into one reference
    (bench.history.reference)."""
    from bench.history.entries import read_group
    from bench.history.reference import reference_from_history

    if args.reference:
        raise UserError("--reference and --history each name the reference", where="--history",
                        fix="give one of them")
    if args.recent < 1:
        raise UserError(f"--recent {args.recent}: no run to pool", where="--recent",
                        fix="give 1 or more, e.g. --recent 5")
    doc = run.summary
    if not args.history.is_dir():  # nothing to judge against, as without a reference
        raise NoReference("no history here", where=str(args.history),
                          fix="add runs to it first: bench history add RUN_DIR (or check "
                              "against a saved reference: bench check RUN)")
    entries = read_group(args.history, doc["workload"], doc["grid"], doc["machine"])
    reference = reference_from_history(run, entries, args.recent, where=str(args.history))
    return reference.path, reference
