"""`bench compare A B`: every figure of two runs side by side, with a verdict for each."""

from __future__ import annotations

import argparse
import json

FORMATS = ("table", "markdown", "json")


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "compare", help="compare two runs figure by figure (A = before, B = after)",
        description="Each figure of each profile: A, B, B/A with a 95 %% bootstrap interval "
                    "where there are repeats, and a verdict: improved, worse, same, "
                    "inconclusive or not comparable.")
    parser.add_argument("a", metavar="A", help="run directory, summary.json, reference or "
                                                "--benchmark-json file (FILE#NAME picks one)")
    parser.add_argument("b", metavar="B", help="the same kinds as A")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(func=main)


def render(comparison, fmt: str) -> str:
    from bench.compare import comparison_report  # the comparison's modules load on use only

    if fmt == "json":
        return json.dumps(comparison_report.to_json(comparison), indent=2, allow_nan=False)
    if fmt == "markdown":
        return comparison_report.to_markdown(comparison)
    return comparison_report.to_table(comparison)


def main(args: argparse.Namespace) -> int:
    # results load scipy and the analysis: imported on use, so that `bench --help` stays light
    from bench.compare.comparison import compare
    from bench.compare.results import load_result

    a, b = load_result(args.a), load_result(args.b)
    print(render(compare(a.summary, b.summary, a_label=a.label, b_label=b.label), args.format))
    return 0
