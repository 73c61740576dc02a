"""Shared fixtures: tiny workloads written to tmp_path, a check that no Spark process leaks, and
the one 2-node standalone cluster of the session that tests needing only a cluster share."""

from __future__ import annotations

import atexit
import os
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from bench.cluster import LocalStandaloneCluster

ROOT = Path(__file__).resolve().parent.parent

# Keep TensorFlow in test processes as it is on the executors: deterministic and quiet.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def spark_processes() -> set[int]:
    """Spark JVMs and PySpark workers on this host that belong to this user."""
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline", "uids"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if "org.apache.spark" in cmdline or "pyspark.daemon" in cmdline or "pyspark/daemon" in \
                cmdline:
            found.add(proc.info["pid"])
    return found


def bench_temp_dirs() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob("bench-*")}


# The shared cluster's own processes and temp folder: they outlive every test by design.
_SHARED: dict[str, set] = {"pids": set(), "temp": set()}
LEAK_PATIENCE_S = 20.0  # a worker kills a stopped application's executor a moment later


def of_this_session(pid: int) -> bool:
    """``pid`` was started by this test session: it runs under this pytest, or it is an orphan
    (a Spark or bench process reparented to init by a killed driver). Developers share this
    host and run tests and `bench` at once: processes under their shells or their pytest are
    theirs, not this session's leaks."""
    try:
        proc = psutil.Process(pid)
        while True:
            if proc.pid == os.getpid():
                return True
            parent = proc.parent()
            if parent is None or parent.pid <= 1:  # proc is a top-level process
                top = " ".join(proc.cmdline())
                return "org.apache.spark" in top or "pyspark" in top or " -m bench" in top
            proc = parent
    except psutil.Error:
        return True  # gone meanwhile: judged by the caller's own look at it


def _leaked(before: set[int]) -> list[str]:
    leaked = []
    for pid in spark_processes() - before - _SHARED["pids"]:
        if not of_this_session(pid):
            continue
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                leaked.append(f"{pid} (parent {proc.ppid()}): {' '.join(proc.cmdline())[-160:]}")
        except psutil.Error:
            pass
    return leaked


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves a Spark process or a bench temp folder behind (the shared
    cluster's master and workers apart; an application's executors on it must go)."""
    before, temp_before = spark_processes(), bench_temp_dirs()
    yield
    deadline = time.monotonic() + LEAK_PATIENCE_S
    while (leaked := _leaked(before)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not leaked, f"processes left running: {leaked}"
    # bench's temp folders of this session only: session_temp is its own TMPDIR
    left = bench_temp_dirs() - temp_before - _SHARED["temp"]
    assert left == set(), f"temp folders left behind: {sorted(left)}"


@pytest.fixture(scope="session", autouse=True)
def session_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """This session's own temp folder (TMPDIR, inherited by every `bench` it starts) for the
    folders of bench's runs and clusters: another test session on this host (developers run
    tests at once) never sees them as leaks nor cleans them as leftovers, nor this one theirs."""
    import shutil
    import tempfile

    tmp_path_factory.getbasetemp()  # pytest's own tmp_path folders stay where they were
    folder = Path(tempfile.mkdtemp(prefix="pytest-bench-temp-"))
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(folder), str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory,
                   session_temp: Path) -> Iterator[LocalStandaloneCluster]:
    """One 2-node standalone cluster (a master and two worker processes, bench's own
    LocalStandaloneCluster), started once for the session: every test that only needs a cluster
    opens its own application (SparkContext) on it and stops it. Stopped at the session's end,
    on error and on Ctrl-C (pytest tears fixtures down), and at exit otherwise; only its own
    processes, by pid. Tests about starting, stopping or losing clusters start their own."""
    from bench.cluster import LocalStandaloneCluster, load_profile

    cluster = LocalStandaloneCluster(load_profile("2-node"),
                                     tmp_path_factory.mktemp("shared-cluster-logs"))
    atexit.register(cluster.stop)  # safe twice; covers an exit that skips the teardown
    # SIGTERM (a CI timeout, `kill`) ends the session as Ctrl-C does: with every teardown
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        cluster.start()
        _SHARED["pids"] = set(cluster.pids())
        _SHARED["temp"] = {cluster.work_dir.name} if cluster.work_dir else set()
        yield cluster
    finally:
        cluster.stop()
        _SHARED["pids"], _SHARED["temp"] = set(), set()
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


TINY_WORKLOAD = """
description = "a tiny digits grid for tests"
default_grid = "tiny"

[dataset]
name = "digits"

[model]
family = "mlp"

[training]
epochs = {epochs}
batch_size = 64
seed = 11

[baseline]
learning_rate = 0.01
neurons = 16
layers = 1
momentum = 0.0

[grids.tiny]
learning_rate = {rates}
"""


def write_workload(folder: Path, epochs: int = 2, rates: str = "[0.1, 0.5, 1e20]") -> Path:
    path = folder / "tiny.toml"
    path.write_text(textwrap.dedent(TINY_WORKLOAD.format(epochs=epochs, rates=rates)))
    return path


@pytest.fixture
def tiny_workload(tmp_path: Path) -> Path:
    """Baseline + 3 trials, the last one diverging (learning rate 1e20 overflows float32)."""
    return write_workload(tmp_path)
