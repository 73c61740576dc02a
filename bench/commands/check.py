"""`bench check RUN`: the regression gate. Exit 0: nothing regressed; 1: a regression; 2: no
usable baseline (or another user error)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.commands.compare import FORMATS, render
from bench.definitions.locations import PROJECT_ROOT
from bench.errors import UserError

EXIT_REGRESSION = 1
# bench.compare.references.BASELINE_DIR, spelled here: that module loads scipy (tests check both)
BASELINE_DIR = PROJECT_ROOT / "reports" / "baselines"


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "check", help="fail (exit 1) when a run regressed against its baseline",
        description="Judge RUN against the baseline of its workload and grid on this kind of "
                    "machine (reports/baselines/), or --baseline FILE. Exit 0: no regression; "
                    "1: a regression, each named with its change and interval; 2: no usable "
                    "baseline.")
    parser.add_argument("run", metavar="RUN", help="run directory or result file, e.g. "
                                                   "reports/runs/latest")
    parser.add_argument("--baseline", metavar="FILE",
                        help="a baseline (bench baseline save) or any result bench compare reads")
    parser.add_argument("--baselines-dir", type=Path, default=BASELINE_DIR, metavar="DIR",
                        help="where saved baselines are looked up (default: reports/baselines)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # the comparison's modules load scipy: imported on use, so that `bench --help` stays light
    from bench.compare import gate
    from bench.compare.comparison import compare
    from bench.compare.references import find_baseline
    from bench.compare.results import load_result

    run = load_result(args.run)
    baseline_spec = args.baseline or find_baseline(run.summary, args.baselines_dir)
    baseline = load_result(baseline_spec)
    if baseline.summary.get("machine") != run.summary.get("machine"):
        raise UserError(
            "the baseline was measured on another kind of machine: its absolute times do not "
            "judge this one", where=str(baseline_spec),
            fix="make a baseline on this machine: bench baseline save RUN_DIR")
    comparison = compare(baseline.summary, run.summary, a_label=baseline.label,
                         b_label=run.label)
    gate.require_comparable(comparison, str(baseline_spec))
    print(render(comparison, args.format))
    found = gate.regressions(comparison)
    judged = [fc for fc in comparison.figures if fc.gated and fc.figure.gated]
    shown = [fc for fc in comparison.figures if fc.gated_as]
    skipped = [fc for fc in comparison.figures
               if not fc.gated and fc.figure.gated and not fc.gated_as]
    print()
    if found:
        print(f"bench check: {len(found)} regression(s) against {baseline.label}:")
        for fc in found:
            print(f"  - {gate.describe(fc)}")
        print("  fix the cause; if the change is intended, save a new baseline: "
              f"bench baseline save {args.run}")
        return EXIT_REGRESSION
    print(f"bench check: no regression against {baseline.label} ({len(judged)} figures judged"
          + (f"; {len(shown)} as measured, judged at equal machine speed" if shown else "")
          + (f"; {len(skipped)} not judged: {skipped[0].why}" if skipped else "") + ")")
    return 0
