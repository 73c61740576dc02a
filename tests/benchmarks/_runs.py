"""Helpers of the benchmarks: whole `bench` commands in their own processes, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KNOBS = ("BENCH_TEST_SLOWDOWN", "BENCH_TEST_SEED_OFFSET")


def bench(*args: str, knobs: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in KNOBS} | (knobs or {})
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)


def run_grid(out: Path, *run_args: str, knobs: dict[str, str] | None = None) -> Path:
    """`bench run ... --out OUT`; the new run directory."""
    proc = bench("run", *run_args, "--out", str(out), knobs=knobs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (out / "latest").resolve()


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())
