"""The tuning libraries' back-ends (hyperopt's SparkTrials, Optuna's MlflowSparkStudy) on a real
2-node standalone cluster with real TensorFlow trials: every trial once, in the grid's order,
with the same metrics as bench's default back-end."""

from __future__ import annotations

import importlib.util
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from spark_helpers import application_processes, assert_stopped, no_active_jobs

from bench.cluster.spark_session import spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.errors import UserError
from bench.execute.backends import backend_for
from bench.execute.backends.hyperopt_trials import HyperoptSparkTrials
from bench.execute.backends.optuna_study import OptunaSparkStudy
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import count_job_group, run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.store.records import Mode, TrialStatus

pytestmark = [pytest.mark.spark, pytest.mark.tensorflow, pytest.mark.slow]

PARAMS = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}
RATES = [0.1, 0.5, 0.02, 0.3]
METRICS = ("val_error", "test_error", "final_loss", "test_wrong")
BACKENDS = [HyperoptSparkTrials, OptunaSparkStudy]


@pytest.fixture(scope="module")
def two_nodes(shared_cluster):
    """This module's application on the session's 2-node cluster, TensorFlow warm in both
    slots; stopped after the module, its executors with it."""
    cluster = shared_cluster
    with spark_context(cluster, "bench tests", []) as sc, ResultChannel() as channel:
        data_bc = sc.broadcast(load_dataset("digits", seed=3))
        warm_up_workers(sc, cluster.profile.slots, tensorflow=True)
        yield {"sc": sc, "channel": channel, "data": data_bc}
        executors = application_processes(cluster)
    assert_stopped(executors)


def settings(channel) -> TaskSettings:
    recipe = TrialRecipe(model="mlp", epochs=2, batch_size=64, seed=5)
    return TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0, recipe=recipe,
                        channel=channel.address, token=uuid.uuid4().hex)


def specs() -> list[TrialSpec]:
    return [TrialSpec(f"t{i}", i, {**PARAMS, "learning_rate": r}, i == 0)
            for i, r in enumerate(RATES)]


def run(two_nodes, backend=None) -> list:
    arrived = []
    run_grid(two_nodes["sc"], specs(), data_bc=two_nodes["data"],
             settings=settings(two_nodes["channel"]), channel=two_nodes["channel"],
             on_result=arrived.append, backend=backend, slots=2)
    return arrived


@pytest.fixture(scope="module")
def reference(two_nodes) -> dict:
    """The grid's metrics through bench's default back-end (one Spark map)."""
    return {r.trial_id: tuple(getattr(r, m) for m in METRICS) for r in run(two_nodes)}


@pytest.mark.parametrize("backend_class", BACKENDS, ids=lambda c: c.name)
def test_every_trial_once_in_order_with_the_default_backends_metrics(two_nodes, reference,
                                                                     backend_class):
    backend = backend_for(backend_class.name)
    assert isinstance(backend, backend_class)  # the registry names this class
    backend.open(two_nodes["sc"], 2)
    try:
        arrived = run(two_nodes, backend)
    finally:
        getattr(backend, "close", lambda: None)()
    assert not list(Path(tempfile.gettempdir()).glob("bench-optuna-*"))  # its store, removed
    assert sorted(r.trial_id for r in arrived) == sorted(reference)  # each once
    assert all(r.status is TrialStatus.OK for r in arrived)
    assert {r.trial_id: tuple(getattr(r, m) for m in METRICS) for r in arrived} == reference
    assert len({r.executor_id for r in arrived}) == 2  # both nodes worked
    # Dispatched in the grid's order, two slots at a time: the first two to start are the
    # grid's first two (a sampler of its own would pick any two first: 1 chance in 6).
    first = sorted(arrived, key=lambda r: r.started_at)[:2]
    assert {r.trial_id for r in first} == {"t0", "t1"}
    assert no_active_jobs(two_nodes["sc"])


@pytest.mark.parametrize("backend_class", BACKENDS, ids=lambda c: c.name)
def test_interrupt_cancels_the_grid_and_no_trial_starts_after(two_nodes, backend_class):
    sc, channel = two_nodes["sc"], two_nodes["channel"]
    grid = [TrialSpec(f"t{i}", i, {**PARAMS, "learning_rate": 0.01 * (i + 1)}, i == 0)
            for i in range(6)]
    done = []

    def on_result(result):
        done.append(result)
        raise KeyboardInterrupt  # as a Ctrl-C arriving after the first result

    backend = backend_class()
    backend.open(sc, 2)
    own = settings(channel)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_grid(sc, grid, data_bc=two_nodes["data"], settings=own, channel=channel,
                     on_result=on_result, backend=backend, slots=2)
    finally:
        getattr(backend, "close", lambda: None)()
    assert len(done) == 1
    assert no_active_jobs(sc)
    # Both libraries run their jobs in the calling thread's group (bench's). hyperopt: a job per
    # trial begun, two at a time, a third maybe begun before the Ctrl-C reached the driver; a
    # dispatcher that went on would have begun all six. Optuna: its one job.
    jobs = count_job_group(sc, f"bench-{own.token}").jobs
    assert 1 <= jobs <= 3
    time.sleep(2)  # hyperopt's dispatcher polls each second
    assert count_job_group(sc, f"bench-{own.token}").jobs == jobs
    assert no_active_jobs(sc, patience_s=0)


@pytest.mark.parametrize("backend_class", BACKENDS, ids=lambda c: c.name)
def test_a_missing_library_names_the_extra_that_installs_it(monkeypatch, backend_class):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("hyperopt", "optuna") else real(name, *a))
    with pytest.raises(UserError) as missing:
        backend_class()
    assert f"'{backend_class.name}'" in missing.value.what
    assert "pip install -e '.[backends]'" in missing.value.fix
