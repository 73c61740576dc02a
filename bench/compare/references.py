"""Saved references (``reports/references/``): a run's summary kept to judge later runs against.

A reference is keyed by workload, grid and a machine fingerprint: absolute times only compare on
one kind of machine, so each machine (each CI runner type) keeps its own. References saved
before the word changed sit in ``reports/baselines/`` with a ``baseline_version`` key: they are
still found and read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cluster.environment import hardware, machine_fingerprint
from bench.compare.results import Result
from bench.definitions.locations import REPORTS_DIR
from bench.definitions.overrides import SET
from bench.errors import NoReference, UserError
from bench.store.rundir import write_json

REFERENCE_DIR = REPORTS_DIR / "references"
# Where `bench baseline save` wrote them before: looked in after REFERENCE_DIR, never written.
OLD_REFERENCE_DIR = REPORTS_DIR / "baselines"
DEFAULT_FOLDERS = (REFERENCE_DIR, OLD_REFERENCE_DIR)
REFERENCE_VERSION = 1


def this_machine() -> str:
    return machine_fingerprint(hardware())


def reference_path(folder: Path, workload: str, grid: str, machine: str,
                   settings: dict[str, Any] | None = None) -> Path:
    """Where the reference of a workload, grid and machine is kept. A run made with ``--set``
    measured another definition: its reference is kept apart, named by those settings."""
    given = {name: entry["value"] for name, entry in (settings or {}).items()
             if entry.get("from") == SET}
    if not given:
        return folder / f"{workload}-{grid}-{machine}.json"
    digest = hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()[:8]
    return folder / f"{workload}-{grid}-set-{digest}-{machine}.json"


def saved_reference(folders: Sequence[Path], workload: str, grid: str, machine: str,
                    settings: dict[str, Any] | None = None) -> Path | None:
    """The reference of a workload, grid and machine (and --set settings) in the first of
    ``folders`` that has one."""
    return next((path for path in (reference_path(f, workload, grid, machine, settings)
                                   for f in folders) if path.is_file()), None)


def save_reference(result: Result, folder: Path = REFERENCE_DIR) -> Path:
    summary = result.summary
    knobs = {k: v for k, v in (summary.get("test_knobs") or {}).items() if v}
    if knobs:
        raise UserError(f"this run was made with a test knob on ({knobs}): its figures are "
                        "worse on purpose", where=str(result.path),
                        fix="save a reference from a run without BENCH_TEST_* variables")
    missing = [n for n in summary.get("notes", []) if "trials have a result" in n]
    if missing:
        raise UserError(f"this run is incomplete ({missing[0]})", where=str(result.path),
                        fix="save a reference from a run that finished")
    path = reference_path(folder, summary["workload"], summary["grid"], summary["machine"],
                          summary.get("settings"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(path, {
            "reference_version": REFERENCE_VERSION, "workload": summary["workload"],
            "grid": summary["grid"], "machine": summary["machine"], "saved_at": time.time(),
            "source": result.label, "summary": summary,
        })
    except OSError as e:
        raise UserError(f"cannot write the reference: {e.strerror}", where=str(folder),
                        fix="choose a writable folder with --dir") from None
    return path


def find_reference(summary: dict[str, Any], folder: Path | None = None) -> Path:
    """The saved reference for this run's workload and grid on this run's kind of machine, in
    ``folder``; by default in reports/references/, then in reports/baselines/."""
    folders = DEFAULT_FOLDERS if folder is None else (folder,)
    path = saved_reference(folders, summary["workload"], summary["grid"], summary["machine"],
                           summary.get("settings"))
    if path is not None:
        return path
    others = sorted(p for f in folders
                    for p in f.glob(f"{summary['workload']}-{summary['grid']}-*.json"))
    env = summary.get("environment") or {}
    machine = f"{env.get('cpu_model')}, {env.get('usable_cores')} cores, " \
              f"{env.get('memory_gib')} GiB"
    raise NoReference(
        f"no reference for {summary['workload']} grid '{summary['grid']}' on this kind of "
        f"machine ({summary['machine']}: {machine})"
        + (f"; {len(others)} reference(s) of other machines exist" if others else ""),
        where=", ".join(str(f) for f in folders),
        fix="make one from a run of this machine: bench reference save RUN_DIR "
            "(or `make check`, which measures one when none exists), or give --reference FILE")
