"""The ``ray`` back-end (Ray Tune on Ray on Spark) on the session's real 2-node cluster, with real
TensorFlow trials: every trial once, the default back-end's metrics, no Ray process left."""

from __future__ import annotations

import os
import time
import uuid

import psutil
import pytest
from spark_helpers import cmdline

from bench.cluster.spark_session import spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.backends.ray_tune import RayTune
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.store.records import Mode, TrialStatus

pytestmark = [pytest.mark.spark, pytest.mark.tensorflow, pytest.mark.slow]

PARAMS = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}
METRICS = ("val_error", "test_error", "final_loss", "test_wrong")
STOP_PATIENCE_S = 30.0


@pytest.fixture(scope="module")
def two_nodes(shared_cluster):
    """This module's application on the session's 2-node cluster, TensorFlow warm in both
    slots; stopped after the module."""
    cluster = shared_cluster
    with spark_context(cluster, "bench tests", []) as sc, ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, cluster.profile.slots, tensorflow=True)
        yield {"sc": sc, "cluster": cluster, "channel": channel, "data": data_bc}


def settings(channel) -> TaskSettings:
    recipe = TrialRecipe(model="mlp", epochs=2, batch_size=64, seed=5)
    return TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0, recipe=recipe,
                        channel=channel.address, token=uuid.uuid4().hex)


def specs(*overrides: dict) -> list[TrialSpec]:
    return [TrialSpec(f"t{i}", i, {**PARAMS, **o}, i == 0) for i, o in enumerate(overrides)]


GRID = specs({}, {"learning_rate": 0.5}, {"neurons": 32})


def ray_processes(roots: list[int]) -> dict[int, psutil.Process]:
    """Ray's processes under ``roots`` (this test, the cluster's workers): Ray's binaries and
    scripts, its workers (``ray::``), and Ray on Spark's node starters."""
    found = {}
    for root in roots:
        try:
            family = psutil.Process(root).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for proc in family:
            line = cmdline(proc)
            if "/ray/" in line or line.startswith("ray::") or "ray.util.spark" in line \
                    or "bin/ray " in line:
                found[proc.pid] = proc
    return found


def running(procs: list[psutil.Process]) -> list[str]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{p.pid}: {cmdline(p)[:120]}")
        except psutil.Error:
            pass
    return alive


def test_ray_runs_every_trial_once_with_the_default_back_ends_metrics(two_nodes):
    sc, channel, cluster = two_nodes["sc"], two_nodes["channel"], two_nodes["cluster"]
    # The reference first: while Ray is open its worker nodes hold every Spark slot.
    reference = []
    run_grid(sc, GRID, data_bc=two_nodes["data"], settings=settings(channel), channel=channel,
             on_result=reference.append)
    roots = [os.getpid()]  # the local cluster's workers run under this test too
    before = set(ray_processes(roots))

    backend = RayTune()
    arrived = []
    began = time.perf_counter()
    try:
        backend.open(sc, slots=2)
        opened_s = time.perf_counter() - began
        started = {pid: p for pid, p in ray_processes(roots).items() if pid not in before}
        in_spark = set(ray_processes(cluster.pids()[1:])) & set(started)
        node_starters = sum("start_ray_node" in cmdline(p) for p in started.values())
        timing = run_grid(sc, GRID, data_bc=two_nodes["data"], settings=settings(channel),
                          channel=channel, on_result=arrived.append, backend=backend, slots=2)
    finally:
        closing = time.perf_counter()
        backend.close()
        closed_s = time.perf_counter() - closing
    print(f"ray: open {opened_s:.1f} s, close {closed_s:.1f} s, {len(started)} processes")

    # Every trial arrived once, through the channel, with the default back-end's metrics.
    assert sorted(r.trial_id for r in arrived) == [s.trial_id for s in GRID]
    assert all(r.status is TrialStatus.OK for r in arrived)
    expected = {r.trial_id: tuple(getattr(r, m) for m in METRICS) for r in reference}
    assert {r.trial_id: tuple(getattr(r, m) for m in METRICS) for r in arrived} == expected
    assert all(v is not None for metrics in expected.values() for v in metrics)
    assert timing.spark is None  # Ray's trials are no Spark jobs
    # The trials ran in Ray's workers, not in Spark's Python workers.
    assert {r.pid for r in arrived}.isdisjoint({r.pid for r in reference})

    # Ray ran where it should: its head under this process, a worker node under each Spark
    # worker; every one of them is gone after close().
    assert in_spark and len(started) > len(in_spark)
    assert node_starters == 3  # the head and a worker node per slot
    deadline = time.monotonic() + STOP_PATIENCE_S
    while (left := running(list(started.values()))) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"Ray processes left running: {left}"
    assert sc.parallelize(range(2), 2).count() == 2  # Spark has its slots back
