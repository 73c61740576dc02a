"""A run directory (``reports/runs/<timestamp>-<workload>/``) and its files.

``run.json`` is written first, ``trials.jsonl`` and ``profiles.jsonl`` grow a line at a time as
results arrive (flushed and synced: a crash loses no finished trial), and ``summary.json``,
``report.md``, ``report.html`` and ``plots/`` are derived from them at the end, or again later by
``bench report``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import UserError
from bench.store.records import FORMAT_VERSION, DeploymentRun, ProfileRun, TrialResult

META = "run.json"
TRIALS = "trials.jsonl"
PROFILES = "profiles.jsonl"
DEPLOYMENTS = "deployments.jsonl"  # the deployment step's scoring runs (bench.execute.deployment)
SUMMARY = "summary.json"
REPORT = "report.md"
HTML_REPORT = "report.html"  # the report with its pictures embedded
PLOTS = "plots"  # the same pictures as PNG files
LATEST = "latest"  # symlink to the newest run in an output folder

_Record = TypeVar("_Record")


def write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    os.replace(tmp, path)


def _append_line(path: Path, data: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(data, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _read_records(path: Path, from_dict: Callable[[dict], _Record]) -> list[_Record]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    fix = "repair or remove that line; the other records are kept"
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            # Only the last line can be cut short by a crash; anything else is damage.
            if number == len(lines):
                continue
            raise UserError(f"line {number} is not valid JSON", where=str(path), fix=fix) from None
        try:
            records.append(from_dict(row))
        except (KeyError, TypeError, ValueError) as e:  # a field missing, unknown or of no kind
            raise UserError(f"line {number} is not a record of this format ({e!r})",
                            where=str(path), fix=fix) from None
    return records


@dataclass
class RunDirectory:
    path: Path

    @classmethod
    def create(cls, out_dir: Path, workload: str, now: float | None = None) -> RunDirectory:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create the output folder: {e.strerror}", where=str(out_dir),
                            fix="choose another folder with --out") from None
        latest = out_dir / LATEST
        if os.path.lexists(latest) and not latest.is_symlink():  # mark_latest could not replace it
            raise UserError(f"'{LATEST}' here is not the link bench keeps to the newest run",
                            where=str(latest), fix="remove or rename it, or choose another --out")
        # mkdir is atomic: of runs started in the same second, each gets its own folder.
        for suffix in ["", *(f"-{i}" for i in range(2, 100))]:
            path = out_dir / f"{stamp}-{workload}{suffix}"
            try:
                path.mkdir()
            except FileExistsError:
                continue  # another run started in the same second
            except OSError as e:
                raise UserError(f"cannot write here: {e.strerror}", where=str(out_dir),
                                fix="choose another folder with --out") from None
            return cls(path)
        raise UserError("too many runs started in the same second", where=str(out_dir),
                        fix="start the next run a second later")

    @classmethod
    def open(cls, path: Path) -> RunDirectory:
        meta = path / META
        if not meta.is_file():
            raise UserError(
                "not a run directory (it has no run.json)", where=str(path),
                fix="give a folder made by `bench run`, e.g. reports/runs/<timestamp>-<workload>",
            )
        run = cls(path.resolve())  # reports/runs/latest is a symlink; its run has a real name
        version = run.meta().get("format_version")
        if version != FORMAT_VERSION:
            raise UserError(
                f"this run has format version {version}; this bench reads version "
                f"{FORMAT_VERSION}", where=str(meta),
                fix="re-run the workload with this version of bench (`bench run`)",
            )
        return run

    @property
    def run_id(self) -> str:
        return self.path.name

    def meta(self) -> dict:
        path = self.path / META
        fix = "run the workload again (`bench run`): a run without its run.json cannot be read"
        try:
            meta = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"run.json is damaged: {e}", where=str(path), fix=fix) from None
        if not isinstance(meta, dict):
            raise UserError("run.json is damaged: not a JSON object", where=str(path), fix=fix)
        return meta

    def write_meta(self, meta: dict) -> None:
        write_json(self.path / META, meta)

    def record_executors(self, profile: str, executors: list[dict]) -> None:
        """run.json's ``executors`` of ``profile``: what each executor that runs its trials
        runs on (its versions, CPU and cores, as the executor said), replaced when a resume
        runs the profile again."""
        meta = self.meta()
        for entry in meta.get("profiles", []):
            if entry.get("name") == profile:
                entry["executors"] = executors
        self.write_meta(meta)

    def append_trial(self, result: TrialResult) -> None:
        _append_line(self.path / TRIALS, result.to_dict())

    def append_profile_run(self, run: ProfileRun) -> None:
        _append_line(self.path / PROFILES, run.to_dict())

    def append_deployment(self, run: DeploymentRun) -> None:
        _append_line(self.path / DEPLOYMENTS, run.to_dict())

    def trials(self) -> list[TrialResult]:
        return _read_records(self.path / TRIALS, TrialResult.from_dict)

    def profile_runs(self) -> list[ProfileRun]:
        return _read_records(self.path / PROFILES, ProfileRun.from_dict)

    def deployments(self) -> list[DeploymentRun]:
        return _read_records(self.path / DEPLOYMENTS, DeploymentRun.from_dict)

    def repair_tails(self) -> list[str]:
        """Cut a line a killed driver left half-written at the end of ``trials.jsonl``,
        ``profiles.jsonl`` or ``deployments.jsonl``, so lines appended after it (a resume) stay
        readable. The files it cut."""
        repaired = []
        for name in (TRIALS, PROFILES, DEPLOYMENTS):
            path = self.path / name
            if not path.exists():
                continue
            data = path.read_bytes()
            if data and not data.endswith(b"\n"):
                with path.open("r+b") as f:
                    f.truncate(data.rfind(b"\n") + 1)
                repaired.append(name)
        return repaired

    def mark_latest(self) -> None:
        """Point ``<out>/latest`` at this run, for scripts (``bench report reports/runs/latest``).
        Replaced atomically: a reader sees the old run or the new one. Runs marking at the same
        time (other processes, or threads of this one) each use their own temporary link."""
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}-{os.getpid()}-{uuid.uuid4().hex}"
        tmp.symlink_to(self.path.name)
        try:
            os.replace(tmp, link)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # left only when the replace failed

    def logs(self, profile: str) -> Path:
        return self.path / "logs" / profile
