"""Shared fixtures: tiny workloads written to tmp_path, and a check that no Spark process leaks."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

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


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fails the test if it leaves a Spark process or a bench temp folder behind."""
    before, temp_before = spark_processes(), bench_temp_dirs()
    yield
    leaked = []
    for pid in spark_processes() - before:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                leaked.append(f"{pid} (parent {proc.ppid()}): {' '.join(proc.cmdline())[-160:]}")
        except psutil.Error:
            pass
    assert not leaked, f"processes left running: {leaked}"
    assert bench_temp_dirs() - temp_before == set(), "temp folders left behind"


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
