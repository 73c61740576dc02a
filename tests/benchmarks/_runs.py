"""Helpers of the benchmarks: whole `bench` commands in their own processes, as a user runs them
(tests/commandline.py's `bench`), with the test knobs each benchmark asks for and no others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import commandline
from commandline import ROOT

__all__ = ["ROOT", "bench", "run_grid", "summary"]


def bench(*args: str, knobs: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # whole grids: no time limit; knobs of this process's environment never leak in
    return commandline.bench(*args, knobs=knobs or {}, timeout=None)


def run_grid(out: Path, *run_args: str, knobs: dict[str, str] | None = None) -> Path:
    """`bench run ... --out OUT`; the new run directory."""
    proc = bench("run", *run_args, "--out", str(out), knobs=knobs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (out / "latest").resolve()


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
