"""`bench cluster clean`: stop what killed runs left running, remove what they left in /tmp."""

from __future__ import annotations

import argparse

from bench.cluster.leftovers import clean_leftovers


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("cluster", help="local clusters: clean up after killed runs")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    clean = actions.add_parser(
        "clean", help="stop the Spark processes and remove the temp folders of bench runs whose "
                      "driver was killed (runs still going are left alone)")
    clean.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cleaned = clean_leftovers()
    if cleaned:
        print(f"bench: {cleaned.describe()}")
        for folder in cleaned.folders:
            print(f"  removed {folder}")
    else:
        print("bench: nothing to clean")
    if cleaned.in_use:
        print(f"bench: {len(cleaned.in_use)} folder(s) belong to runs still going; left alone")
    return 0
