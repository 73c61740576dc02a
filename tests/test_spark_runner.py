"""The runner on a real 2-node local standalone cluster with real TensorFlow trials."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psutil
import pytest
from spark_helpers import application_processes, assert_stopped, cmdline, no_active_jobs

from bench.cluster.spark_session import spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import (
    SparkCounts,
    TooManyFailures,
    run_grid,
    warm_up_workers,
    without_tensorflow,
)
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.store.records import COMPUTE_PHASES, Mode, TrialStatus

pytestmark = [pytest.mark.spark, pytest.mark.tensorflow, pytest.mark.slow]

PARAMS = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}


@pytest.fixture(scope="module")
def two_nodes(shared_cluster):
    """This module's application on the session's 2-node cluster, TensorFlow warm in both
    slots; stopped after the module, its executors with it."""
    cluster = shared_cluster
    with spark_context(cluster, "bench tests", []) as sc, ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warmup_s, workers = warm_up_workers(sc, cluster.profile.slots, tensorflow=True)
        yield {"sc": sc, "cluster": cluster, "channel": channel, "data": data_bc,
               "workers": workers, "warmup_s": warmup_s}
        executors = application_processes(cluster)
    assert_stopped(executors)


def settings(channel, mode=Mode.MEASURED, epochs=2, slowdown=0.0,
             timeout_s=None) -> TaskSettings:
    recipe = TrialRecipe(model="mlp", epochs=epochs, batch_size=64, seed=5, timeout_s=timeout_s,
                         slowdown=slowdown)
    return TaskSettings(profile="2-node", mode=mode, repeat=0, recipe=recipe,
                        channel=channel.address, token=uuid.uuid4().hex)


def specs(*overrides: dict) -> list[TrialSpec]:
    return [TrialSpec(f"t{i}", i, {**PARAMS, **o}, i == 0) for i, o in enumerate(overrides)]


def test_cluster_is_separate_processes(two_nodes):
    cluster = two_nodes["cluster"]
    pids = cluster.pids()
    assert len(pids) == 3  # a master and two workers
    executors = [c for pid in pids[1:] for c in psutil.Process(pid).children(recursive=True)
                 if "CoarseGrainedExecutorBackend" in cmdline(c)]
    assert len(executors) == 2
    assert len({w["executor_id"] for w in two_nodes["workers"]}) == 2  # warm-up reached both
    if len(os.sched_getaffinity(0)) >= 2:  # each node on its own CPU, executors and all
        assert cluster.node_cpus == [[c] for c in sorted(os.sched_getaffinity(0))[:2]]
        pinned = {tuple(e.cpu_affinity()) for e in executors}
        assert pinned == {tuple(c) for c in cluster.node_cpus}
        python_workers = [c for e in executors for c in e.children(recursive=True)]
        assert python_workers and all(tuple(w.cpu_affinity()) in pinned for w in python_workers)


def test_each_trial_arrives_once_as_it_finishes_with_its_status(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = specs({}, {"learning_rate": 0.5}, {"learning_rate": 1e20},  # overflows: diverges
                 {"neurons": -3},  # keras raises: the trial fails, the grid goes on
                 {"neurons": 32}, {"learning_rate": 0.05},
                 {"neurons": 2**33})  # 64 x 2^33 floats: TensorFlow cannot allocate it
    arrived = []
    timing = run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel),
                      channel=channel, on_result=arrived.append)
    assert sorted(r.trial_id for r in arrived) == [s.trial_id for s in grid]
    status = {r.trial_id: r.status for r in arrived}
    assert status == {"t0": TrialStatus.OK, "t1": TrialStatus.OK, "t2": TrialStatus.DIVERGED,
                      "t3": TrialStatus.FAILED, "t4": TrialStatus.OK, "t5": TrialStatus.OK,
                      "t6": TrialStatus.OOM}
    oom = next(r for r in arrived if r.trial_id == "t6")
    assert "OOM when allocating" in oom.error and oom.attempt == 0  # recorded, not retried
    failed = next(r for r in arrived if r.trial_id == "t3")
    assert "Traceback" in failed.error and failed.attempt == 0  # not retried by Spark
    # Streamed: the first result reached the driver before the last trial had ended.
    assert min(r.received_at for r in arrived) < max(r.ended_at for r in arrived)
    assert timing.wall_s == pytest.approx(max(r.received_at for r in arrived) - timing.dispatched_at)
    for r in arrived:
        assert set(r.phases) >= {"waiting", "fetch", "collect"}
        assert r.phases["probe"] > 0  # the machine probe, timed in the task before training
        assert r.dispatched_at <= r.started_at <= r.ended_at <= r.received_at
        assert not r.cold, "warm-up should have imported TensorFlow in every worker"
    assert len({r.executor_id for r in arrived}) == 2  # both nodes worked
    # Spark's own count: one job, one attempt per trial, no retry of the failed or diverged
    assert timing.spark == SparkCounts(jobs=1, tasks=len(grid), task_failures=0)


def test_same_seed_same_metrics_whatever_ran_before(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]

    def run(grid):
        out = []
        run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel),
                 channel=channel, on_result=out.append)
        return {r.params["learning_rate"]: (r.val_error, r.test_error, r.final_loss) for r in out}

    first = run(specs({"learning_rate": 0.2}, {"learning_rate": 0.02}))
    second = run(specs({"learning_rate": 0.02}, {"learning_rate": 0.7}, {"learning_rate": 0.2}))
    assert first[0.2] == second[0.2] and first[0.02] == second[0.02]


def test_the_slowdown_knob_adds_its_fraction_of_compute_inside_the_task(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = specs({}, {"learning_rate": 0.5})
    plain, slowed = [], []
    run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel),
             channel=channel, on_result=plain.append)
    run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel, slowdown=3.0),
             channel=channel, on_result=slowed.append)

    def compute(results):
        return sum(v for r in results for k, v in r.phases.items() if k in COMPUTE_PHASES)

    # 4x the compute is due; half of it is a margin no machine noise crosses
    assert compute(slowed) >= 2 * compute(plain)
    assert sum(r.task_seconds for r in slowed) >= compute(slowed)  # spun inside the task
    # more work, not a sleep: the CPU time grows too (4x due)
    assert sum(r.cpu_s for r in slowed) >= 2 * sum(r.cpu_s for r in plain) > 0
    by_id = {r.trial_id: r for r in plain}
    for r in slowed:
        assert r.test_error == by_id[r.trial_id].test_error  # only the time changed


def test_replay_sleeps_for_the_recorded_phases_and_keeps_metrics(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = specs({}, {"learning_rate": 0.5})
    replay = {
        s.trial_id: {"phases": {"build": 0.1, "train": 0.3, "evaluate": 0.1},
                     "metrics": {"status": "ok", "error": None, "val_error": 0.25,
                                 "test_error": 0.125, "final_loss": 0.5}}
        for s in grid
    }
    out = []
    run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel, Mode.REPLAY),
             channel=channel, on_result=out.append, replay=replay)
    for r in out:
        assert r.mode is Mode.REPLAY and r.test_error == 0.125
        assert "probe" not in r.phases  # replay's machine is its reference's
        assert r.task_seconds >= 0.5


def test_interrupt_cancels_the_grid_and_keeps_finished_trials(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = specs(*[{"learning_rate": 0.01 * (i + 1)} for i in range(8)])
    done = []

    def on_result(result):
        done.append(result)
        raise KeyboardInterrupt  # as a Ctrl-C arriving after the first result

    with pytest.raises(KeyboardInterrupt):
        run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel, epochs=5),
                 channel=channel, on_result=on_result)
    assert len(done) == 1
    assert no_active_jobs(sc)  # the grid's job was cancelled


def test_a_trial_past_its_timeout_is_stopped_recorded_and_not_retried(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    done = []
    # 300 epochs cannot finish in a second on any machine this runs on.
    timing = run_grid(sc, specs({}, {"learning_rate": 0.05}), data_bc=two_nodes["data"],
                      settings=settings(channel, epochs=300, timeout_s=1.0), channel=channel,
                      on_result=done.append)
    assert [r.status for r in done] == [TrialStatus.TIMEOUT] * 2
    assert all("timeout of 1 s" in r.error and r.attempt == 0 for r in done)
    assert all(r.phases["train"] < 10 for r in done)  # stopped, not run to the end
    assert timing.spark.task_failures == 0


def test_failures_in_a_row_stop_the_grid_and_name_the_last_errors(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = specs(*[{"neurons": -(i + 1)} for i in range(8)])  # keras raises on each
    done = []
    with pytest.raises(TooManyFailures) as stopped:
        run_grid(sc, grid, data_bc=two_nodes["data"], settings=settings(channel),
                 channel=channel, on_result=done.append, max_failures_in_a_row=3)
    assert 3 <= len(done) < len(grid)  # every finished trial was handed over first
    assert all(r.status is TrialStatus.FAILED for r in done)
    assert "3 trials in a row" in stopped.value.message
    assert "Error" in stopped.value.message  # the last line of a traceback
    assert no_active_jobs(sc)


def test_executors_without_tensorflow_are_told_how_to_point_spark_at_the_right_python():
    # an executor's warm-up in a Python where TensorFlow cannot be imported (None in
    # sys.modules makes the import fail, as in a Python without the package)
    code = ("import sys; sys.modules['keras'] = None; sys.modules['tensorflow'] = None\n"
            "from bench.execute.tasks import warm_up\n"
            "warm_up(iter(()), tensorflow=True)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    error = without_tensorflow(f"PythonException: {done.stderr}\n\tat org.apache.spark...")
    assert error is not None and sys.executable in error.what
    assert "cannot import TensorFlow" in error.what and "PYSPARK_PYTHON" in error.fix
    assert without_tensorflow("Py4JJavaError: something else") is None
