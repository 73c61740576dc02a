"""Saved baselines (``reports/baselines/``): a run's summary kept to judge later runs against.

A baseline is keyed by workload, grid and a machine fingerprint: absolute times only compare on
one kind of machine, so each machine (each CI runner type) keeps its own.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.cluster.environment import hardware, machine_fingerprint
from bench.compare.results import Result
from bench.definitions.locations import PROJECT_ROOT
from bench.errors import UserError
from bench.store.rundir import write_json

BASELINE_DIR = PROJECT_ROOT / "reports" / "baselines"
BASELINE_VERSION = 1


def this_machine() -> str:
    return machine_fingerprint(hardware())


def baseline_path(folder: Path, workload: str, grid: str, machine: str) -> Path:
    return folder / f"{workload}-{grid}-{machine}.json"


def save_baseline(result: Result, folder: Path = BASELINE_DIR) -> Path:
    summary = result.summary
    knobs = {k: v for k, v in (summary.get("test_knobs") or {}).items() if v}
    if knobs:
        raise UserError(f"this run was made with a test knob on ({knobs}): its figures are "
                        "worse on purpose", where=str(result.path),
                        fix="save a baseline from a run without BENCH_TEST_* variables")
    missing = [n for n in summary.get("notes", []) if "trials have a result" in n]
    if missing:
        raise UserError(f"this run is incomplete ({missing[0]})", where=str(result.path),
                        fix="save a baseline from a run that finished")
    path = baseline_path(folder, summary["workload"], summary["grid"], summary["machine"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(path, {
            "baseline_version": BASELINE_VERSION, "workload": summary["workload"],
            "grid": summary["grid"], "machine": summary["machine"], "saved_at": time.time(),
            "source": result.label, "summary": summary,
        })
    except OSError as e:
        raise UserError(f"cannot write the baseline: {e.strerror}", where=str(folder),
                        fix="choose a writable folder with --dir") from None
    return path


def find_baseline(summary: dict[str, Any], folder: Path = BASELINE_DIR) -> Path:
    """The saved baseline for this run's workload and grid on this run's kind of machine."""
    path = baseline_path(folder, summary["workload"], summary["grid"], summary["machine"])
    if path.is_file():
        return path
    others = sorted(folder.glob(f"{summary['workload']}-{summary['grid']}-*.json"))
    env = summary.get("environment") or {}
    machine = f"{env.get('cpu_model')}, {env.get('usable_cores')} cores, " \
              f"{env.get('memory_gib')} GiB"
    raise UserError(
        f"no baseline for {summary['workload']} grid '{summary['grid']}' on this kind of machine "
        f"({summary['machine']}: {machine})"
        + (f"; {len(others)} baseline(s) of other machines exist" if others else ""),
        where=str(folder),
        fix="make one from a run of this machine: bench baseline save RUN_DIR "
            "(or `make check`, which measures one when none exists), or give --baseline FILE")
