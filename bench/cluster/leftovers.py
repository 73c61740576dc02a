"""What a killed run leaves behind, and how the next run (or `bench cluster clean`) removes it.

A driver killed with SIGKILL cannot stop its cluster: the master and worker JVMs run in their own
session, so they outlive it, and its temp folders stay. Each folder bench makes in the temp
directory therefore holds ``owner.json``: the driver's process and every process started for it,
each as (pid, start time), so that a pid the system has since given to another program is never
touched. A folder whose driver is gone is cleaned: its processes (and their children: executors,
Python workers) are stopped by pid, and the folder is removed. A folder whose driver is alive
belongs to a run in progress and is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

OWNER_FILE = "owner.json"
TEMP_PREFIXES = ("bench-cluster-", "bench-ship-")
# A folder is made a moment before its owner file: one without it is only stale once it is old.
_UNOWNED_GRACE_S = 120.0
_STOP_GRACE_S = 10.0


def _identity(pid: int) -> dict[str, float] | None:
    try:
        return {"pid": pid, "started": psutil.Process(pid).create_time()}
    except psutil.NoSuchProcess:
        return None


def write_owner(folder: Path, pids: list[int]) -> None:
    """Record this driver and the processes it started for ``folder`` (rewritten atomically)."""
    owner = {"driver": _identity(os.getpid()),
             "processes": [i for i in map(_identity, pids) if i is not None]}
    tmp = folder / f".{OWNER_FILE}.tmp"
    tmp.write_text(json.dumps(owner))
    os.replace(tmp, folder / OWNER_FILE)


def running_process(identity: dict | None) -> psutil.Process | None:
    """The process of this identity if it still runs: same pid *and* same start time."""
    if not identity:
        return None
    try:
        proc = psutil.Process(int(identity["pid"]))
        if abs(proc.create_time() - float(identity["started"])) < 0.5 and \
                proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        pass
    return None


@dataclass
class Cleaned:
    folders: list[Path] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    in_use: list[Path] = field(default_factory=list)  # folders of runs still going

    def __bool__(self) -> bool:
        return bool(self.folders or self.processes)

    def describe(self) -> str:
        return (f"stopped {len(self.processes)} process(es) and removed {len(self.folders)} "
                f"folder(s) left by killed runs")


def clean_leftovers(temp_dir: Path | None = None) -> Cleaned:
    """Stop the processes and remove the temp folders of bench runs whose driver is gone."""
    root = Path(temp_dir or tempfile.gettempdir())
    cleaned = Cleaned()
    for folder in sorted(p for prefix in TEMP_PREFIXES for p in root.glob(f"{prefix}*")):
        if not folder.is_dir():
            continue
        try:
            owner = json.loads((folder / OWNER_FILE).read_text())
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime < _UNOWNED_GRACE_S:
                    continue  # being created right now
            owner = {}
        except (OSError, json.JSONDecodeError):
            owner = {}
        if running_process(owner.get("driver")) is not None:
            cleaned.in_use.append(folder)
            continue
        alive = [p for p in map(running_process, owner.get("processes", [])) if p is not None]
        cleaned.processes += _stop(alive)
        shutil.rmtree(folder, ignore_errors=True)
        cleaned.folders.append(folder)
    return cleaned


def _stop(procs: list[psutil.Process]) -> list[int]:
    family = list(procs)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            family += proc.children(recursive=True)
    for proc in family:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(family, timeout=_STOP_GRACE_S)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=_STOP_GRACE_S)
    return [p.pid for p in family]
