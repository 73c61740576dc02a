"""Faults on a real local standalone cluster: a worker, with its executor, killed mid-grid (on a
cluster of its own); a trial's Python worker killed under it (on the session's cluster)."""

from __future__ import annotations

import contextlib
import threading
import uuid

import psutil
import pytest
from memory_cage import cage_supported, memory_cage
from spark_helpers import executor_of, kill_tree

from bench.cluster import LocalStandaloneCluster, load_profile
from bench.cluster.spark_session import shutdown_gateway, spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.backends import backend_for
from bench.execute.experiment import package_archive
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.store.records import Mode, TrialStatus

pytestmark = [pytest.mark.spark, pytest.mark.tensorflow, pytest.mark.slow]


def _tasks_due(backend: str, trials: int, slots: int) -> int:
    """Spark's first attempts: one per trial for the map, one per slot for the pull dispatcher."""
    return slots if backend == "pull" else trials


@pytest.mark.parametrize("backend", ["spark-map", "pull"])
def test_a_worker_killed_mid_grid_loses_no_trial_and_is_named(tmp_path, no_leaks, backend):
    profile = load_profile("2-node")
    cluster = LocalStandaloneCluster(profile, tmp_path / "logs")
    specs = [TrialSpec(f"t{i}", i, {"learning_rate": 0.05 * (i + 1), "neurons": 16, "layers": 1,
                                    "momentum": 0.0}, i == 0) for i in range(6)]
    # Ship this checkout's bench, as `bench run` does, whatever copy the venv has installed.
    archive = package_archive(tmp_path)
    with cluster, spark_context(cluster, "bench fault test", [archive]) as sc, \
            ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, profile.slots, tensorflow=True)
        victim = psutil.Process(cluster.pids()[2])  # the second worker
        victim_executor = executor_of(victim)
        assert victim_executor is not None
        killed = threading.Event()
        results = []

        def on_start(start: dict) -> None:
            # Kill the victim once it is surely mid-trial: it has just begun its second one.
            begun = [s for s in starts if s["executor_id"] == victim_executor]
            starts.append(start)
            if start["executor_id"] == victim_executor and begun and not killed.is_set():
                kill_tree(victim)
                killed.set()

        starts: list[dict] = []
        settings = TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0,
                                recipe=TrialRecipe(model="mlp", epochs=8, batch_size=32, seed=5),
                                channel=channel.address, token=uuid.uuid4().hex)
        timing = run_grid(sc, specs, data_bc=data_bc, settings=settings, channel=channel,
                          on_result=results.append, on_start=on_start,
                          backend=backend_for(backend), slots=profile.slots)
    shutdown_gateway()  # the driver's JVM too: no_leaks counts it

    assert killed.is_set(), (victim_executor, starts)
    # Every trial of the grid ends exactly once, all of them ok.
    assert sorted(r.trial_id for r in results) == [s.trial_id for s in specs]
    assert all(r.status is TrialStatus.OK for r in results)
    # The lost attempt is named, and its trial finished elsewhere.
    assert len(timing.lost) == 1
    lost = timing.lost[0]
    assert lost.executor_id == victim_executor
    finished = next(r for r in results if r.trial_id == lost.trial_id)
    assert finished.executor_id != victim_executor and finished.attempt > lost.attempt
    assert lost.recovery_s is not None and lost.recovery_s > 0
    assert timing.lost_executors == [victim_executor]  # as Spark's driver saw it go
    # Spark counted the lost attempt and ran the trial again; nothing else was retried.
    assert timing.spark.task_failures >= 1
    assert timing.spark.tasks == _tasks_due(backend, len(specs), profile.slots) + \
        timing.spark.task_failures


@pytest.mark.parametrize("backend", ["spark-map", "pull"])
def test_a_python_worker_killed_under_its_trial_is_recorded_and_the_grid_goes_on(
        tmp_path, shared_cluster, no_leaks, backend):
    """The kernel's out-of-memory killer SIGKILLs the biggest process, the Python worker whose
    trial asked for too much; this test sends the same signal to the same process. The executor
    stays up, so Spark would re-run the trial (and abort the grid at its fourth death): the re-run
    is told to record the death instead. Its workers stay up: the session's cluster serves."""
    cluster = shared_cluster
    profile = cluster.profile
    specs = [TrialSpec(f"t{i}", i, {"learning_rate": 0.05 * (i + 1), "neurons": 16, "layers": 1,
                                    "momentum": 0.0}, i == 0) for i in range(4)]
    archive = package_archive(tmp_path)
    killed: list[dict] = []
    with spark_context(cluster, "bench fault test", [archive]) as sc, \
            ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, profile.slots, tensorflow=True)

        def on_start(start: dict) -> None:
            if start["trial_id"] == "t1" and start["attempt"] == 0:
                psutil.Process(start["pid"]).kill()  # mid-trial: it has just begun training
                killed.append(start)

        results = []
        settings = TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0,
                                recipe=TrialRecipe(model="mlp", epochs=8, batch_size=32, seed=5),
                                channel=channel.address, token=uuid.uuid4().hex)
        timing = run_grid(sc, specs, data_bc=data_bc, settings=settings, channel=channel,
                          on_result=results.append, on_start=on_start,
                          backend=backend_for(backend), slots=profile.slots)
    shutdown_gateway()

    assert len(killed) == 1
    # Every trial ends exactly once; the killed one is recorded, with who died and where.
    assert sorted(r.trial_id for r in results) == [s.trial_id for s in specs]
    status = {r.trial_id: r.status for r in results}
    assert status == {"t0": TrialStatus.OK, "t1": TrialStatus.CRASHED, "t2": TrialStatus.OK,
                      "t3": TrialStatus.OK}
    crashed = next(r for r in results if r.trial_id == "t1")
    assert f"pid {killed[0]['pid']}" in crashed.error
    assert f"executor {killed[0]['executor_id']}" in crashed.error
    assert crashed.attempt == 1 and crashed.test_error is None
    # Spark tried it once more (that attempt recorded the death and ran nothing); no executor was
    # lost, so nothing is reported as a lost attempt.
    assert timing.spark.task_failures == 1
    assert timing.spark.tasks == _tasks_due(backend, len(specs), profile.slots) + 1
    assert timing.lost == [] and timing.lost_executors == []


@pytest.mark.skipif(not cage_supported(), reason="needs a writable cgroup memory controller")
def test_a_trial_the_kernel_kills_for_want_of_memory_is_recorded_oom(tmp_path, shared_cluster,
                                                                     no_leaks):
    """The real thing: the trial's Python worker is put in a memory cgroup with room for what it
    holds now, the trial asks for a 1 GiB layer, and the kernel's out-of-memory killer ends it.
    On the session's cluster: only the Python worker dies."""
    cluster = shared_cluster
    profile = cluster.profile
    params = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}
    specs = [TrialSpec("t0", 0, params, True),
             TrialSpec("t1", 1, {**params, "neurons": 2**22}, False),  # 64 x 2^22 floats: 1 GiB
             TrialSpec("t2", 2, params, False)]
    archive = package_archive(tmp_path)
    with contextlib.ExitStack() as cages, \
            spark_context(cluster, "bench fault test", [archive]) as sc, \
            ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, profile.slots, tensorflow=True)
        caged: list[dict] = []

        def on_start(start: dict) -> None:
            if start["trial_id"] == "t1" and start["attempt"] == 0:
                worker = psutil.Process(start["pid"])
                cages.enter_context(memory_cage(worker.pid, worker.memory_info().rss + 2**28))
                caged.append(start)

        results = []
        settings = TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0,
                                recipe=TrialRecipe(model="mlp", epochs=2, batch_size=64, seed=5),
                                channel=channel.address, token=uuid.uuid4().hex)
        timing = run_grid(sc, specs, data_bc=data_bc, settings=settings, channel=channel,
                          on_result=results.append, on_start=on_start)
    shutdown_gateway()

    assert len(caged) == 1
    status = {r.trial_id: r.status for r in results}
    assert status == {"t0": TrialStatus.OK, "t1": TrialStatus.OOM, "t2": TrialStatus.OK}
    oom = next(r for r in results if r.trial_id == "t1")
    assert "ran out of memory" in oom.error and "oom_kill" in oom.error
    assert oom.attempt == 1 and timing.spark.task_failures == 1
    assert timing.lost == [] and timing.lost_executors == []
