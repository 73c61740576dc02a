"""What a Spark task can tell of the executor it runs in: its identity, and what it runs on.

Runs on the executors' Python workers, from the standard library only (an executor needs none of
the packages only bench's driver uses).

**Identity.** Spark tells a Python task nothing of its executor: PySpark's TaskContext (4.x) has
the stage, partition, attempt numbers, task attempt id, cpus, resources and the driver's local
properties, and the worker's environment (PythonWorkerFactory) has no executor id either. The
executor's JVM is the parent of the Python daemon that forks each worker, and every cluster
manager starts it with ``--executor-id <id>`` on its command line (standalone's ExecutorRunner,
YARN's container launch, Kubernetes' executor pod): the id ``SparkContext.getExecutorIds`` lists.
Failing that, Kubernetes' pods have ``SPARK_EXECUTOR_ID`` and a standalone executor runs in
``<work>/<app-id>/<executor-id>``. Where none says, the id is unknown (``pid-<worker pid>`` in
records), and the JVM's pid, when found, still tells a retry in the same executor process.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ANCESTORS = 4  # worker -> daemon -> executor JVM, with a level to spare (a launcher, tini)
_EXECUTOR_ID_FLAG = "--executor-id"


@dataclass(frozen=True)
class ExecutorIdentity:
    executor_id: str | None  # as Spark names it (getExecutorIds); None: nothing said
    executor_pid: int | None  # the executor's JVM, when found among this worker's ancestors
    source: str  # where the id came from: "command line", "environment", "work directory", "none"

    @property
    def known(self) -> bool:
        return self.executor_id is not None

    def name(self) -> str:
        """The id, or the Python worker's pid where nothing tells the executor."""
        return self.executor_id if self.executor_id is not None else f"pid-{os.getpid()}"


_IDENTITY: dict[int, ExecutorIdentity] = {}  # per worker process (a forked worker has its own)


def executor_identity() -> ExecutorIdentity:
    """The executor this Python worker serves (module docstring: where it is found)."""
    pid = os.getpid()
    if pid not in _IDENTITY:
        _IDENTITY[pid] = _find_identity(pid)
    return _IDENTITY[pid]


def _find_identity(pid: int) -> ExecutorIdentity:
    jvm: int | None = None
    ancestor = pid
    for _ in range(_ANCESTORS):
        parent = _parent(ancestor)
        if parent is None or parent <= 1:
            break
        ancestor = parent
        args = _cmdline(ancestor)
        if _EXECUTOR_ID_FLAG in args[:-1]:
            return ExecutorIdentity(args[args.index(_EXECUTOR_ID_FLAG) + 1], ancestor,
                                    "command line")
        if args and os.path.basename(args[0]) == "java":
            jvm = ancestor
    if os.environ.get("SPARK_EXECUTOR_ID"):
        return ExecutorIdentity(os.environ["SPARK_EXECUTOR_ID"], jvm, "environment")
    cwd = os.getcwd()
    if os.path.basename(os.path.dirname(cwd)).startswith("app-"):
        return ExecutorIdentity(os.path.basename(cwd), jvm, "work directory")
    return ExecutorIdentity(None, jvm, "none")


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _version(*packages: str) -> str | None:
    for package in packages:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (OSError, ValueError, AttributeError):
        return None


def machine_description() -> dict[str, Any]:
    """Versions and hardware of this host, under the names bench.cluster.environment gives the
    driver's (its machine fingerprint reads them alike)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 1
    return {
        "python": platform.python_version(),
        "spark": _version("pyspark"),
        "tensorflow": _version("tensorflow-cpu", "tensorflow"),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
    }


def _task_cpus() -> int | None:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.cpus() if context is not None else None


def survey(partition: Any, *, channel: tuple[str, int], token: str,
           timeout_s: float) -> list[dict]:
    """One slot's word on its executor, before any trial: who it is, what it runs on, and
    whether it reaches the driver's result channel (one question, ``timeout_s`` to connect and
    as long for the answer)."""
    identity = executor_identity()
    began = time.perf_counter()
    error = None
    try:
        with socket.create_connection(channel, timeout=timeout_s) as conn:
            conn.sendall(json.dumps({"token": token, "ask": True, "survey": {
                "executor_id": identity.executor_id, "host": socket.gethostname()}}).encode()
                + b"\n")
            if not conn.makefile("rb").readline():
                error = "the driver closed the connection without answering"
    except OSError as e:
        error = f"{type(e).__name__}: {e}"
    return [{
        "executor_id": identity.name(), "executor_id_source": identity.source,
        "host": socket.gethostname(), "pid": os.getpid(), "task_cpus": _task_cpus(),
        **machine_description(),
        "channel": {"reached": error is None, "error": error,
                    "seconds": round(time.perf_counter() - began, 3)},
    }]
