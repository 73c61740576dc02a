"""What the Spark tests share: the processes of a cluster and of an application on it, a worker
killed as a lost machine would be, and Spark's status tracker read with patience."""

from __future__ import annotations

import time

import psutil

from bench.cluster import Cluster


def cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # gone, or a zombie
        return ""


def executor_of(worker: psutil.Process) -> str | None:
    """The executor id a standalone worker runs (its CoarseGrainedExecutorBackend's argument)."""
    for child in worker.children(recursive=True):
        try:
            args = child.cmdline()
        except psutil.Error:
            continue
        if "--executor-id" in args:
            return args[args.index("--executor-id") + 1]
    return None


def kill_tree(proc: psutil.Process) -> None:
    """SIGKILL a worker and everything under it, as a crashed machine would lose them."""
    family = [proc, *proc.children(recursive=True)]
    for p in family:
        p.kill()
    psutil.wait_procs(family, timeout=30)


def no_active_jobs(sc, patience_s: float = 30.0) -> bool:
    """Spark's status tracker hears of a cancelled job through its listener bus, a moment late."""
    deadline = time.monotonic() + patience_s
    while sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not sc.statusTracker().getActiveJobsIds()


def application_processes(cluster: Cluster) -> list[psutil.Process]:
    """What an application runs on ``cluster`` now: the executors under its workers and their
    Python workers (not the master and workers themselves, which outlive the application)."""
    found = []
    for pid in cluster.pids():
        try:
            found += psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
    return found


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def assert_stopped(procs: list[psutil.Process], patience_s: float = 30.0) -> None:
    """Every one of ``procs`` has exited (a zombie its parent has not reaped yet counts as
    exited). A worker kills a stopped application's executor a moment after the driver says
    goodbye, hence the patience; checked by pid (other test runs may share this host)."""
    deadline = time.monotonic() + patience_s
    while (alive := [p for p in procs if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    running = [f"{p.pid}: {cmdline(p)[-120:]}" for p in alive]
    assert not running, f"processes left running: {running}"
