"""A run directory (``reports/runs/<timestamp>-<workload>/``) and its files.

``run.json`` is written first, ``trials.jsonl`` and ``profiles.jsonl`` grow a line at a time as
results arrive (flushed and synced: a crash loses no finished trial), and ``summary.json`` and
``report.md`` are derived from them at the end, or again later by ``bench report``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError
from bench.records import FORMAT_VERSION, ProfileRun, TrialResult

META = "run.json"
TRIALS = "trials.jsonl"
PROFILES = "profiles.jsonl"
SUMMARY = "summary.json"
REPORT = "report.md"
LATEST = "latest"  # symlink to the newest run in an output folder


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


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            # Only the last line can be cut short by a crash; anything else is damage.
            if number == len(path.read_text().splitlines()):
                continue
            raise UserError(f"line {number} is not valid JSON", where=str(path)) from None
    return rows


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
        raise UserError("too many runs started in the same second", where=str(out_dir))

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
        try:
            return json.loads((self.path / META).read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"run.json is damaged: {e}", where=str(self.path)) from None

    def write_meta(self, meta: dict) -> None:
        write_json(self.path / META, meta)

    def append_trial(self, result: TrialResult) -> None:
        _append_line(self.path / TRIALS, result.to_dict())

    def append_profile_run(self, run: ProfileRun) -> None:
        _append_line(self.path / PROFILES, run.to_dict())

    def trials(self) -> list[TrialResult]:
        return [TrialResult.from_dict(d) for d in _read_lines(self.path / TRIALS)]

    def profile_runs(self) -> list[ProfileRun]:
        return [ProfileRun.from_dict(d) for d in _read_lines(self.path / PROFILES)]

    def repair_tails(self) -> list[str]:
        """Cut a line a killed driver left half-written at the end of ``trials.jsonl`` or
        ``profiles.jsonl``, so lines appended after it (a resume) stay readable. The files it
        cut."""
        repaired = []
        for name in (TRIALS, PROFILES):
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
        Replaced atomically: a reader sees the old run or the new one."""
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}-{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(self.path.name)
        os.replace(tmp, link)

    def logs(self, profile: str) -> Path:
        return self.path / "logs" / profile
