"""Reads any result `bench compare` and `bench check` accept into one summary document.

A result is a run directory (its figures recomputed from its records), a ``summary.json``, a
reference saved by ``bench reference save`` (or by ``bench baseline save``, as it was called
before), or the ``--benchmark-json`` output of the pytest benchmarks (each benchmark keeps its
run's summary in ``extra_info``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.analyse.summarize import summarize_run
from bench.analyse.summary_json import SUMMARY_VERSION, to_json
from bench.errors import UserError
from bench.store.rundir import META, RunDirectory

# The key under which a pytest benchmark stores its run's summary in ``extra_info``.
BENCHMARK_SUMMARY_KEY = "bench_summary"
_KINDS = "give a run directory, its summary.json, a reference or a --benchmark-json file"


@dataclass(frozen=True)
class Result:
    label: str  # how reports name it: the run id, or file#benchmark
    path: Path
    summary: dict[str, Any]  # a summary.json document of SUMMARY_VERSION


def summary_of_run(run: RunDirectory) -> dict[str, Any]:
    meta = run.meta()
    return to_json(summarize_run(meta, run.trials(), run.profile_runs(), run.deployments()), meta)


def load_result(spec: str | Path) -> Result:
    """``spec``: a run directory, or a JSON file, optionally ``FILE#BENCHMARK`` to pick one
    benchmark of a pytest-benchmark file."""
    text = str(spec)
    path_text, _, pick = text.partition("#") if not Path(text).exists() else (text, "", "")
    path = Path(path_text)
    if path.is_dir():
        if not (path / META).is_file():
            raise UserError(
                "not a run directory or result file", where=str(path),
                fix="give a folder made by `bench run` (reports/runs/...), its summary.json, "
                    "a reference file or a pytest --benchmark-json file")
        run = RunDirectory.open(path)
        return Result(run.run_id, run.path, summary_of_run(run))
    if not path.is_file():
        raise UserError("no such file or directory", where=str(path),
                        fix="give a run directory, e.g. reports/runs/latest")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"not a JSON file: {e}", where=str(path), fix=_KINDS) from None
    except OSError as e:
        raise UserError(f"cannot read the file: {e.strerror}", where=str(path),
                        fix=_KINDS) from None
    if not isinstance(data, dict):
        raise UserError("not a bench result (a JSON object was expected)", where=str(path),
                        fix=_KINDS)
    if "benchmarks" in data:
        return _from_benchmark_file(path, data, pick)
    if "reference_version" in data or "baseline_version" in data:  # baseline: its old name
        return Result(f"reference {path.name}", path, _checked(data.get("summary"), path))
    return Result(str(data.get("run_id", path.stem)), path, _checked(data, path))


def _checked(summary: Any, path: Path) -> dict[str, Any]:
    if not isinstance(summary, dict) or "format_version" not in summary:
        raise UserError("not a bench result (no format_version)", where=str(path), fix=_KINDS)
    version = summary.get("summary_version", 1)
    if version != SUMMARY_VERSION:
        newer = isinstance(version, int) and version > SUMMARY_VERSION
        raise UserError(
            f"written by {'a newer' if newer else 'an older'} bench (summary version {version}; "
            f"this bench reads {SUMMARY_VERSION})", where=str(path),
            fix=("update bench" if newer else
                 "give the run directory instead, or rewrite its summary with "
                 f"`bench report {path.parent}`"))
    return summary


def _from_benchmark_file(path: Path, data: dict, pick: str) -> Result:
    found = {b.get("name", "?"): b["extra_info"][BENCHMARK_SUMMARY_KEY]
             for b in data.get("benchmarks", [])
             if BENCHMARK_SUMMARY_KEY in (b.get("extra_info") or {})}
    if not found:
        raise UserError(
            "this pytest-benchmark file holds no bench run", where=str(path),
            fix="make it with `make bench-ci` (tests/benchmarks record their run in extra_info)")
    if pick:
        if pick not in found:
            raise UserError(f"no benchmark '{pick}' in this file", where=str(path),
                            fix=f"pick one of: {', '.join(found)}")
        name = pick
    elif len(found) == 1:
        name = next(iter(found))
    else:
        raise UserError(f"this file holds {len(found)} bench runs", where=str(path),
                        fix=f"pick one as {path}#NAME, NAME one of: {', '.join(found)}")
    return Result(f"{path.name}#{name}", path, _checked(found[name], path))
