"""The `bench` command line: one verb per module in bench/commands/."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType
from typing import NoReturn

from bench import __version__
from bench.commands import check, cluster, compare, history, reference, report, run
from bench.errors import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USER_ERROR,
    UserError,
)


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every cleanup runs as for Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (exit 2) in bench's form: what, where, and a fix line."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n"
                                   f"  fix: see `{self.prog} --help`\n")


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    levels = parser.add_mutually_exclusive_group()
    levels.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log what bench decides")
    levels.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="no progress display, no log but errors")


def _verbosity_everywhere(parser: argparse.ArgumentParser) -> None:
    """-v and -q after the verb (and its action) too. Their default there is SUPPRESS: given
    before the verb only, the sub-parser must not reset them."""
    seen: set[int] = set()
    todo = [parser]
    while todo:
        for action in todo.pop()._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for sub in action.choices.values():
                if id(sub) not in seen:  # an alias names the same parser
                    seen.add(id(sub))
                    _add_verbosity(sub, argparse.SUPPRESS)
                    todo.append(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bench",
        description="Measure how a hyperparameter grid of TensorFlow trainings scales out on "
                    "Spark (speedup, efficiency, accuracy gain over the baseline).",
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    _add_verbosity(parser, False)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    for module in (run, report, compare, check, history, reference, cluster):
        module.add_parser(verbs)
    _verbosity_everywhere(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING,
        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S",
    )
    # py4j logs every gateway call at INFO
    logging.getLogger("py4j").setLevel(logging.WARNING)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args)
    except UserError as e:
        print(f"bench: error: {e.message}", file=sys.stderr)
        return e.exit_code  # 2; 3 when the gate has no usable reference
    except KeyboardInterrupt:
        print("bench: interrupted; every finished trial is kept in the run directory",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("bench: terminated; every finished trial is kept in the run directory",
              file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)
