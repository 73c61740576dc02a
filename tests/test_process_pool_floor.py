"""The process-pool floor with real TensorFlow: warm workers, the metrics of anywhere else, and no
process left behind on success, error or Ctrl-C. Never asserts on speed."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from bench.cluster._local import node_cpus
from bench.cluster.spark_session import executor_environment
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.process_pool_floor import FloorRun, run_floor
from bench.ml.datasets import load_dataset
from bench.store.records import PHASES, Mode, TrialStatus

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

SEED, EPOCHS, BATCH = 7, 2, 32
RECIPE = TrialRecipe(model="mlp", epochs=EPOCHS, batch_size=BATCH, seed=SEED)
CONFIGS = [
    {"learning_rate": 0.01, "neurons": 16, "layers": 1, "momentum": 0.0},
    {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0},
    {"learning_rate": 0.3, "neurons": 32, "layers": 1, "momentum": 0.0},
    {"learning_rate": 0.1, "neurons": 32, "layers": 2, "momentum": 0.5},
]
SPECS = [TrialSpec(f"trial-{i}", i, params, is_baseline=(i == 0))
         for i, params in enumerate(CONFIGS)]

# The same configurations trained directly with train_and_evaluate, in a fresh interpreter with
# a worker's TensorFlow environment: TensorFlow fixes its thread pools at first use, and this
# test process may have made them already with other counts.
REFERENCE = f"""
import json, sys
from bench.ml.datasets import load_dataset
from bench.ml.training import train_and_evaluate
data = load_dataset("digits", seed=3).as_float32()
out = []
for params in json.loads(sys.argv[1]):
    o = train_and_evaluate(data, "mlp", params, epochs={EPOCHS}, batch_size={BATCH}, seed={SEED})
    out.append([o.status.value, o.val_error, o.test_error, o.final_loss])
print(json.dumps(out))
"""


def children() -> set[int]:
    """Live processes below this one (zombies are gone already, only not reaped), the resource
    trackers multiprocessing and loky start beside a pool included: the floor stops them too."""
    found = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.add(proc.pid)
        except psutil.Error:
            pass
    return found


def floor_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("bench-floor-*")}


def pool_workers() -> int:
    """loky worker processes below this one."""
    count = 0
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            count += "LokyProcess" in " ".join(proc.cmdline())
    return count


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=3)


@pytest.fixture(scope="module")
def floor(digits):
    """One floor of the 4 trials on 2 slots, the reference beside it, and the processes left."""
    before, temp_before = children(), floor_folders()
    # The reference runs while the floor does: neither's metrics depend on the other's speed.
    reference = subprocess.Popen(
        [sys.executable, "-c", REFERENCE, json.dumps(CONFIGS)], stdout=subprocess.PIPE,
        env={**os.environ, **executor_environment(1)}, text=True)
    try:
        run = run_floor(SPECS, digits, RECIPE, slots=2, threads_per_trial=1)
        left = children() - before - {reference.pid}
        assert floor_folders() == temp_before  # the warm-up's barrier folder is gone
        out, _ = reference.communicate(timeout=300)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    assert reference.returncode == 0
    return run, json.loads(out), left


def test_every_trial_is_a_measured_trial_with_its_phases(floor):
    run, _, _ = floor
    assert [t.trial_id for t in run.trials] == [s.trial_id for s in SPECS]
    for t in run.trials:
        assert t.status is TrialStatus.OK, t.error
        assert t.mode is Mode.MEASURED and t.profile == "floor-2" == run.profile
        assert set(t.phases) == set(PHASES), t.phases
        assert run.started_at <= t.started_at <= t.ended_at <= t.received_at <= run.ended_at
    assert run.wall_s == pytest.approx(run.ended_at - run.started_at)
    assert run.probe_s == pytest.approx(sum(t.phases["probe"] for t in run.trials) / len(SPECS))


def test_metrics_are_those_of_the_same_trial_trained_anywhere_else(floor):
    run, reference, _ = floor
    got = [[t.status.value, t.val_error, t.test_error, t.final_loss] for t in run.trials]
    assert got == reference  # bit for bit: same seed, same TensorFlow threads


def test_both_slots_ran_trials_warm_and_pinned(floor):
    run, _, _ = floor
    warm_pids = [w["pid"] for w in run.workers]
    assert len(set(warm_pids)) == 2  # one warm-up in each worker
    assert {t.pid for t in run.trials} == set(warm_pids)  # two workers ran trials, no others
    assert not any(w["already_warm"] for w in run.workers)
    # TensorFlow was imported in the warm-up, apart from the wall time, not in a trial.
    assert run.warmup_s > 0
    assert max(w["warmed_at"] for w in run.workers) <= run.started_at
    by_pid = {w["pid"]: w for w in run.workers}
    for t in run.trials:
        assert not t.cold
        assert t.phases["build"] < by_pid[t.pid]["seconds"]
    plan = node_cpus(2, 1)
    assert run.pinned_cpus == plan  # [] where the host has fewer than 2 CPUs
    if plan:
        assert [w["cpus"] for w in run.workers] == plan


def test_a_floor_run_reads_back_from_json(floor):
    run, _, _ = floor
    again = FloorRun.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again == run


def test_no_process_of_the_pool_is_left(floor):
    _, _, left = floor
    assert left == set()


def test_an_error_in_a_worker_is_raised_with_its_traceback_and_the_pool_is_gone():
    before, temp_before = children(), floor_folders()
    # No Dataset: each worker fails converting it, in the warm-up, before TensorFlow.
    with pytest.raises(AttributeError, match="as_float32") as raised:
        run_floor(SPECS[:1], None, RECIPE, slots=2, threads_per_trial=1)
    assert "Traceback" in str(raised.value.__cause__)  # the worker's own traceback
    assert children() - before == set()
    assert floor_folders() == temp_before


def test_an_unknown_model_family_is_refused_before_any_process(digits):
    before = children()
    with pytest.raises(ValueError, match="unknown model family 'resnet'"):
        run_floor(SPECS[:1], digits, dataclasses.replace(RECIPE, model="resnet"), slots=2,
                  threads_per_trial=1)
    assert children() - before == set()


@pytest.mark.parametrize("when", ["while the workers start", "in the warm-up"])
def test_ctrl_c_stops_the_pool(digits, when):
    before, temp_before = children(), floor_folders()
    me = os.getpid()
    workers, pause = (1, 0.0) if when == "while the workers start" else (2, 0.5)

    def interrupt() -> None:
        deadline = time.monotonic() + 60
        while pool_workers() < workers and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(pause)
        os.kill(me, signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    with pytest.raises(KeyboardInterrupt):
        run_floor(SPECS, digits, RECIPE, slots=2, threads_per_trial=1)
    thread.join()
    assert children() - before == set()
    assert floor_folders() == temp_before
