"""The machine and software a run was measured on, recorded beside its figures."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.cluster.preflight import usable_cores


def _version(*packages: str) -> str | None:
    for package in packages:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    """What kind of machine this is: the part of the environment a machine fingerprint reads."""
    return {
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


BACKEND_PACKAGES = ("joblibspark", "hyperopt", "optuna", "mlflow", "ray")


def capture(java: str, source: Path) -> dict[str, Any]:
    """Versions, hardware and load at the start of a run. ``source``: the bench checkout.

    An installed bench (a wheel in site-packages) has no checkout of its own: git would answer
    for whatever repository holds the virtual environment, so no commit is recorded then."""
    checkout = (source / ".git").exists()  # a folder, or a file in a worktree
    commit = _git("rev-parse", "HEAD", cwd=source) if checkout else None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=source) if checkout else None
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        "spark": _version("pyspark"),
        "tensorflow": _version("tensorflow-cpu", "tensorflow"),
        "java": java,
        # the tuning back-ends bench compares (`bench run --backends`): None where not installed
        "backends": {name: _version(name) for name in BACKEND_PACKAGES},
        **hardware(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def machine_fingerprint(environment: dict[str, Any]) -> str:
    """Names the kind of machine a run was measured on: absolute times compare only on one kind.

    From what shapes the figures (CPU model, usable cores, memory in whole GiB, OS and
    architecture), not from the host name: two CI machines of one size share a fingerprint.
    """
    parts = [environment.get("cpu_model"), environment.get("usable_cores"),
             round(environment.get("memory_gib") or 0), (environment.get("os") or "").split("-")[0],
             environment.get("machine")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
