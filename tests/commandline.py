"""`bench` as tests run it: in its own process (exit codes, signals, what a user sees) or
in-process through bench.cli.main (the same parser and commands, without a Python start-up)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KNOBS = ("BENCH_TEST_SLOWDOWN", "BENCH_TEST_SEED_OFFSET")
# A run made by a test that is not about them: no process-pool floor, no 1M-row deployment
# scoring, no weak-scaling grids (minutes of work no assertion reads).
TEST_RUN = ("--no-floor", "--deploy-rows", "0", "--trials-per-node", "0")


def bench(*args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None,
          knobs: Mapping[str, str] | None = None,
          timeout: float | None = 600) -> subprocess.CompletedProcess:
    """`python -m bench ARGS` in its own process. ``knobs``: the test knobs it runs with (none
    from this process's environment leak in when given)."""
    if knobs is not None:
        env = {k: v for k, v in (env or os.environ).items() if k not in KNOBS} | dict(knobs)
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def bench_main(*args: str) -> subprocess.CompletedProcess:
    """bench.cli.main(ARGS) in this process: its exit code as returned (argparse's exits as
    raised), and what it printed. An exception other than those escapes: a test sees the
    traceback a user would have seen."""
    from bench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse: --help (0) and its own errors (2)
            code = e.code if isinstance(e.code, int) else 1
    return subprocess.CompletedProcess(["bench", *args], code, out.getvalue(), err.getvalue())
