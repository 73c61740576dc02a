"""bench's pull dispatcher (bench.execute.backends.pull): its driver-side queue alone, then on
the session's real 2-node cluster with real TensorFlow trials, beside the default Spark map."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from spark_helpers import application_processes, assert_stopped, no_active_jobs

from bench.cluster.spark_session import spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.backends.pull import PullDispatcher, PullQueue
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import SparkCounts, run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.store.records import Mode, TrialStatus

PARAMS = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}


def _payloads(n: int) -> list[dict]:
    return [{"trial_id": f"t{i}", "index": i} for i in range(n)]


def _queue(n: int, slots: int, heard: list, gather_s: float = 0.0) -> PullQueue:
    return PullQueue(_payloads(n), slots, lambda m: heard.append(m) or {"run": True},
                     lambda: heard.append("dispatched"), gather_s=gather_s)


def _next(queue: PullQueue, slot: int, task_attempt: int = 0) -> dict:
    return queue.hear({"token": "x", "next": {"slot": slot, "task_attempt": task_attempt}})


def _result(queue: PullQueue, trial_id: str) -> None:
    queue.hear({"token": "x", "result": {"trial_id": trial_id, "attempt": 0}})


def test_the_queue_hands_out_trials_in_order_once_each_then_says_done():
    heard: list = []
    queue = _queue(3, 2, heard)
    got = [_next(queue, 0)["trial"]["trial_id"], _next(queue, 1)["trial"]["trial_id"]]
    assert heard == ["dispatched"]  # the clock starts with the first trial handed out
    _result(queue, "t0")
    got.append(_next(queue, 0)["trial"]["trial_id"])
    assert got == ["t0", "t1", "t2"]
    _result(queue, "t1")
    _result(queue, "t2")
    assert _next(queue, 1) == {"done": True} and _next(queue, 0) == {"done": True}
    # every result reached the attempt referee too
    assert [m["result"]["trial_id"] for m in heard if isinstance(m, dict)] == ["t0", "t1", "t2"]


def test_a_new_attempt_of_a_slots_task_gets_the_trial_its_predecessor_held_back_first():
    heard: list = []
    queue = _queue(4, 2, heard)
    assert _next(queue, 0)["trial"]["trial_id"] == "t0"
    assert _next(queue, 1)["trial"]["trial_id"] == "t1"
    # slot 0's task died under t0 (its executor lost): Spark's next attempt of it asks
    again = _next(queue, 0, task_attempt=1)
    assert again["trial"]["trial_id"] == "t0" and again["attempt"] == 1
    assert queue.requeued == ["t0"]
    # a finished trial is never handed out again, whoever asks
    _result(queue, "t0")
    assert _next(queue, 0, task_attempt=1)["trial"]["trial_id"] == "t2"


def test_the_first_wave_waits_for_every_slot_then_leaves_together():
    heard: list = []
    queue = _queue(4, 2, heard, gather_s=30.0)
    answers: list = []
    first = threading.Thread(target=lambda: answers.append(_next(queue, 0)))
    first.start()
    time.sleep(0.3)
    assert answers == []  # held: slot 1's task has not asked yet
    answers.append(_next(queue, 1))
    first.join(timeout=5)
    assert sorted(a["trial"]["trial_id"] for a in answers) == ["t0", "t1"]


def test_the_first_wave_goes_without_a_slot_that_never_asks():
    heard: list = []
    queue = _queue(2, 2, heard, gather_s=0.2)
    began = time.monotonic()
    assert _next(queue, 0)["trial"]["trial_id"] == "t0"
    assert 0.15 <= time.monotonic() - began < 5


@pytest.fixture(scope="module")
def two_nodes(shared_cluster):
    cluster = shared_cluster
    with spark_context(cluster, "bench pull tests", []) as sc, ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, cluster.profile.slots, tensorflow=True)
        yield {"sc": sc, "cluster": cluster, "channel": channel, "data": data_bc}
        executors = application_processes(cluster)
    assert_stopped(executors)


def _settings(channel, epochs=2, timeout_s=None) -> TaskSettings:
    recipe = TrialRecipe(model="mlp", epochs=epochs, batch_size=64, seed=5, timeout_s=timeout_s)
    return TaskSettings(profile="2-node@pull", mode=Mode.MEASURED, repeat=0, recipe=recipe,
                        channel=channel.address, token=uuid.uuid4().hex)


def _specs(*overrides: dict) -> list[TrialSpec]:
    return [TrialSpec(f"t{i}", i, {**PARAMS, **o}, i == 0) for i, o in enumerate(overrides)]


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_every_trial_once_with_its_status_and_the_maps_metrics(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = _specs({}, {"learning_rate": 0.5}, {"learning_rate": 1e20},  # diverges
                  {"neurons": -3},  # keras raises: failed, not retried
                  {"neurons": 32}, {"neurons": 2**33})  # TensorFlow cannot allocate it: oom
    pulled, mapped = [], []
    timing = run_grid(sc, grid, data_bc=two_nodes["data"], settings=_settings(channel),
                      channel=channel, on_result=pulled.append, backend=PullDispatcher(),
                      slots=2)
    run_grid(sc, grid, data_bc=two_nodes["data"], settings=_settings(channel), channel=channel,
             on_result=mapped.append)
    assert sorted(r.trial_id for r in pulled) == [s.trial_id for s in grid]
    status = {r.trial_id: r.status for r in pulled}
    assert status == {"t0": TrialStatus.OK, "t1": TrialStatus.OK, "t2": TrialStatus.DIVERGED,
                      "t3": TrialStatus.FAILED, "t4": TrialStatus.OK, "t5": TrialStatus.OOM}
    assert all(r.attempt == 0 and not r.cold for r in pulled)

    def metrics(results):
        return {r.trial_id: (r.status, r.val_error, r.test_error, r.final_loss, r.test_wrong)
                for r in results}

    assert metrics(pulled) == metrics(mapped)  # same task body, same seeds: bit-identical
    # One job of one long-lived task per slot, whatever the number of trials
    assert timing.spark == SparkCounts(jobs=1, tasks=2, task_failures=0)
    assert len({r.pid for r in pulled}) == 2
    # The clock starts with the first trial handed out; the tasks' start is beside it
    assert timing.backend_start_s >= 0
    assert min(r.started_at for r in pulled) >= timing.dispatched_at - 0.05
    assert timing.wall_s == pytest.approx(max(r.received_at for r in pulled)
                                          - timing.dispatched_at)
    # Handed out in order: the trials began in the grid's order (one slot each at a time)
    began = [r.trial_id for r in sorted(pulled, key=lambda r: r.started_at)]
    assert began[:2] in (["t0", "t1"], ["t1", "t0"])


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_interrupt_cancels_the_pull_tasks_and_keeps_finished_trials(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = _specs(*[{"learning_rate": 0.01 * (i + 1)} for i in range(8)])
    done = []

    def on_result(result):
        done.append(result)
        raise KeyboardInterrupt  # as a Ctrl-C arriving after the first result

    with pytest.raises(KeyboardInterrupt):
        run_grid(sc, grid, data_bc=two_nodes["data"], settings=_settings(channel, epochs=5),
                 channel=channel, on_result=on_result, backend=PullDispatcher(), slots=2)
    assert len(done) == 1
    assert no_active_jobs(sc)


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_trial_past_its_timeout_is_recorded_and_the_slot_pulls_the_next(two_nodes):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    done = []
    timing = run_grid(sc, _specs({}, {"learning_rate": 0.05}, {"learning_rate": 0.2}),
                      data_bc=two_nodes["data"], settings=_settings(channel, 300, 1.0),
                      channel=channel, on_result=done.append, backend=PullDispatcher(),
                      slots=2)
    assert [r.status for r in done] == [TrialStatus.TIMEOUT] * 3
    assert timing.spark.task_failures == 0
