"""Checks made before anything starts: Java for Spark, and whether the host can hold a cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import psutil

from bench.errors import UserError

MIN_JAVA = 17  # Spark 4 runs on Java 17 or newer

# Resident memory measured here per local node: worker and executor JVMs, and a Python worker
# that has imported TensorFlow (about 0.6 GB) when real trials run.
_DAEMON_MB = 300
_TENSORFLOW_WORKER_MB = 700
_PLAIN_WORKER_MB = 80


def java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def java_version(java: str) -> int | None:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" is Java 8


def check_java() -> str:
    """The Java version line, or a UserError saying what to install."""
    fix = ("install Java 17 or newer (e.g. `sudo apt-get install openjdk-17-jre-headless`) "
           "or set JAVA_HOME to one")
    java = java_executable()
    if java is None:
        raise UserError("Java was not found: Spark needs it", where="PATH and JAVA_HOME", fix=fix)
    version = java_version(java)
    if version is None or version < MIN_JAVA:
        raise UserError(f"Spark 4 needs Java {MIN_JAVA} or newer, found {version}",
                        where=java, fix=fix)
    return f"{version} ({java})"


def usable_cores() -> int:
    """Cores this process may run on (respects taskset and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_cluster_mb(nodes: int, executor_memory_mb: int, tensorflow: bool) -> int:
    """Expected resident memory of a local cluster of ``nodes`` workers, in MiB."""
    python = _TENSORFLOW_WORKER_MB if tensorflow else _PLAIN_WORKER_MB
    # An executor seldom fills its heap here; count half of it as resident.
    return nodes * (_DAEMON_MB + executor_memory_mb // 2 + python)


def check_memory(profile_name: str, nodes: int, executor_memory_mb: int, tensorflow: bool) -> None:
    need = local_cluster_mb(nodes, executor_memory_mb, tensorflow)
    available = psutil.virtual_memory().available // 2**20
    if need > available:
        raise UserError(
            f"a local {nodes}-node cluster needs about {need} MiB but {available} MiB are free",
            where=f"cluster profile '{profile_name}'",
            fix="run it in replay mode (--mode replay or auto), use fewer nodes, "
                "or lower executor_memory",
        )
