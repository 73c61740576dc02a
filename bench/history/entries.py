"""The history (``reports/history/``): one JSON file per run, keyed by commit and start time,
that CI keeps as an artifact or on a branch, so that a change that came in over several
commits can be seen and judged (README.md, "History across commits").

Entries are grouped as references are, by workload, grid and machine fingerprint: a folder
``<workload>-<grid>-<machine>/`` holding ``<run id>-<commit>.json``. Each entry keeps the run's
summary.json document, its commit and dirty flag, start time, test knobs, and the gate's verdict
on it against the history before it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.compare.results import Result
from bench.definitions.locations import REPORTS_DIR
from bench.errors import UserError
from bench.store.rundir import META

HISTORY_DIR = REPORTS_DIR / "history"
HISTORY_VERSION = 1
RECENT = 5  # entries pooled into the reference a run is judged against
_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_ENTRY_KEYS = ("history_version", "run_id", "commit", "summary", "verdict")


@dataclass(frozen=True)
class Entry:
    path: Path
    run_id: str
    commit: str | None
    dirty: bool | None
    started_at: float | None  # the run's start (run.json created_at), else its id's timestamp
    added_at: float
    knobs: dict[str, Any]  # the test knobs that were on: its figures are worse on purpose
    verdict: dict[str, Any]  # the gate on this run against the history before it
    summary: dict[str, Any]  # summary.json, SUMMARY_VERSION

    @property
    def order(self) -> tuple[float, float, str]:
        """Entries sort by when their run started; runs of one second by when they were added."""
        return self.when, self.added_at, self.run_id

    @property
    def short(self) -> str:
        """The commit's short sha; ``+`` when the work tree had changes not committed."""
        return (self.commit or "?")[:7] + ("+" if self.dirty else "")

    @property
    def when(self) -> float:
        return self.started_at if self.started_at is not None else self.added_at

    @property
    def date(self) -> str:
        return datetime.fromtimestamp(self.when).strftime("%Y-%m-%d %H:%M")

    @property
    def regressed(self) -> set[tuple[str, str]]:
        """(scope, figure key) of each figure the gate called a regression in this run."""
        return {(r["scope"], r["figure"]) for r in self.verdict.get("regressions", [])}


def group_name(workload: str, grid: str, machine: str) -> str:
    return f"{workload}-{grid}-{machine}"


def read_group(folder: Path, workload: str, grid: str, machine: str) -> list[Entry]:
    """The entries of one workload, grid and machine, oldest first."""
    return _sorted(_read(p) for p in (folder / group_name(workload, grid, machine)).glob("*.json"))


def read_all(folder: Path, workload: str | None = None,
             grid: str | None = None) -> list[list[Entry]]:
    """Every group of entries in ``folder``, each oldest first; optionally one workload or
    grid's only."""
    if not folder.is_dir():
        raise UserError("no history here", where=str(folder),
                        fix="add runs to it first: bench history add RUN_DIR (or give --dir)")
    groups: dict[tuple[str, str, str], list[Entry]] = {}
    for path in sorted(folder.glob("*/*.json")):
        entry = _read(path)
        doc = entry.summary
        if workload not in (None, doc["workload"]) or grid not in (None, doc["grid"]):
            continue
        groups.setdefault((doc["workload"], doc["grid"], doc["machine"]), []).append(entry)
    return [_sorted(entries) for _, entries in sorted(groups.items())]


def _sorted(entries: Any) -> list[Entry]:
    return sorted(entries, key=lambda e: e.order)


def _read(path: Path) -> Entry:
    fix = "remove the file (bench history add RUN writes it again) or restore it from git"
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"not a history entry: {e}", where=str(path), fix=fix) from None
    if not isinstance(data, dict) or any(k not in data for k in _ENTRY_KEYS):
        raise UserError("not a history entry (a key is missing)", where=str(path), fix=fix)
    if data["history_version"] != HISTORY_VERSION:
        raise UserError(f"history version {data['history_version']}; this bench reads "
                        f"{HISTORY_VERSION}", where=str(path), fix="use the bench that wrote it")
    return Entry(path, data["run_id"], data["commit"], data.get("dirty"), data.get("started_at"),
                 data.get("added_at", 0.0), data.get("test_knobs") or {}, data["verdict"],
                 data["summary"])


def new_entry(result: Result, folder: Path, commit: str | None = None) -> Entry:
    """The entry ``result`` makes in ``folder``, not written yet (its verdict empty). Refused:
    a run without a known commit, an incomplete run, a run already in the history."""
    summary = result.summary
    env = summary.get("environment") or {}
    given = commit
    commit = commit or env.get("git_commit")
    if not commit:
        raise UserError("this run does not say which commit it measured (run.json has no "
                        "environment.git_commit)", where=str(result.path),
                        fix="give it: bench history add RUN --commit SHA")
    if not _SHA.fullmatch(commit):
        raise UserError(f"'{commit}' is not a commit's sha (7 to 64 hex digits)",
                        where="--commit" if commit == given else str(result.path),
                        fix="give the full sha: git rev-parse HEAD")
    missing = [n for n in summary.get("notes", []) if "trials have a result" in n]
    if missing:
        raise UserError(f"this run is incomplete ({missing[0]})", where=str(result.path),
                        fix="add a run that finished (bench run --resume RUN_DIR finishes it)")
    run_id = str(summary.get("run_id") or result.label)
    group = folder / group_name(summary["workload"], summary["grid"], summary["machine"])
    # A run id is a start time and a workload: with the commit, it names one run
    path = group / f"{run_id}-{commit[:12]}.json"
    if path.exists():
        raise UserError(f"run {run_id} is in the history already", where=str(path),
                        fix="add each run once; to replace it, remove this file first")
    knobs = {k: v for k, v in (summary.get("test_knobs") or {}).items() if v}
    return Entry(path, run_id, commit, env.get("git_dirty"), _started_at(result, run_id),
                 time.time(), knobs, {}, summary)


def _started_at(result: Result, run_id: str) -> float | None:
    """When the run started: run.json's created_at, else the timestamp its id begins with."""
    meta = result.path / META
    if result.path.is_dir() and meta.is_file():
        created = json.loads(meta.read_text()).get("created_at")
        if isinstance(created, (int, float)):
            return float(created)
    try:
        return datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S").timestamp()
    except ValueError:
        return None


def write_entry(entry: Entry) -> None:
    """Atomically, and never over another entry: two CI jobs adding at once both land, or the
    second is told."""
    data = {
        "history_version": HISTORY_VERSION, "run_id": entry.run_id, "commit": entry.commit,
        "dirty": entry.dirty, "started_at": entry.started_at, "added_at": entry.added_at,
        "test_knobs": entry.knobs, "verdict": entry.verdict, "summary": entry.summary,
    }
    try:
        entry.path.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(entry.path, json.dumps(data, indent=2, allow_nan=False) + "\n")
    except FileExistsError:
        raise UserError(f"run {entry.run_id} is in the history already", where=str(entry.path),
                        fix="add each run once; to replace it, remove this file first") from None
    except OSError as e:
        raise UserError(f"cannot write the history: {e.strerror}", where=str(entry.path.parent),
                        fix="choose a writable folder with --dir") from None


def write_new_file(path: Path, text: str, *, replace: bool = False) -> None:
    """Write to a temporary file beside ``path`` and move it there: nothing half-written is
    ever seen. Without ``replace``, an existing ``path`` is left alone (FileExistsError)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a published page from a web server
        if replace:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # fails if the path exists, unlike a rename
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: check, then rename
            if path.exists():
                raise FileExistsError(path) from None
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def before(entries: Sequence[Entry], entry: Entry) -> list[Entry]:
    """The entries that ran before ``entry`` (the history it is judged against)."""
    return [e for e in entries if e.order < entry.order]
