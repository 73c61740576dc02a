"""The deployment step on a real local standalone cluster (the session's) with real TensorFlow:
the chosen trial's weights retrained, scored on 1 node and on 2, and replayed."""

from __future__ import annotations

import _thread
import threading
import time
import uuid

import numpy as np
import pytest
from spark_helpers import application_processes, assert_stopped, no_active_jobs

from bench.cluster import load_profile
from bench.cluster.spark_session import shutdown_gateway, spark_context
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.errors import UserError
from bench.execute.deployment import (
    DEFAULT_PARTITIONS,
    combined_digest,
    predictions_identical,
    score,
    train_weights,
)
from bench.execute.deployment_tasks import partition_range
from bench.execute.result_channel import ResultChannel
from bench.execute.runner import run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.ml.datasets import load_dataset
from bench.report.deployment_table import deployment_rows
from bench.store.records import DeploymentRun, Mode, TrialStatus
from bench.store.rundir import RunDirectory

pytestmark = [pytest.mark.spark, pytest.mark.tensorflow, pytest.mark.slow]

PARAMS = {"learning_rate": 0.1, "neurons": 16, "layers": 1, "momentum": 0.0}
TRAINING = {"epochs": 3, "batch_size": 64, "seed": 5}
DATA_SEED = 3
PARTITIONS = 8  # small rows: fewer, larger partitions than DEFAULT_PARTITIONS keep the file quick


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("digits", seed=DATA_SEED)


@pytest.fixture(scope="module")
def rows(dataset) -> int:
    # A multiple of the test split: accuracy over the rows is then exactly the trial's.
    return 50 * len(dataset.y_test)  # 18,000 digits rows


@pytest.fixture(scope="module")
def one_node(shared_cluster, dataset, rows):
    """On the 1-node profile (an application on one of the session cluster's two nodes, the
    same node type): the weights retrained, and the reference scoring. Stopped, its executor
    with it, before the 2-node application starts (one SparkContext per process)."""
    profile = load_profile("local")
    with spark_context(shared_cluster, "bench deployment tests (local)", [],
                       profile=profile) as sc:
        data_bc = sc.broadcast(dataset)
        warm_up_workers(sc, profile.slots, tensorflow=True)
        trained = train_weights(sc, data_bc=data_bc, family="mlp", params=PARAMS, **TRAINING)
        reference = score(sc, weights=trained.weights, family="mlp", params=PARAMS,
                          data_bc=data_bc, rows=rows, partitions=PARTITIONS,
                          profile=profile.name, mode=Mode.MEASURED, repeat=0,
                          nodes=profile.nodes, slots=profile.slots)
        data_bc.destroy()
        procs = application_processes(shared_cluster)
    assert_stopped(procs)
    return {"trained": trained, "reference": reference}


@pytest.fixture(scope="module")
def two_nodes(shared_cluster, dataset, one_node):
    """The 2-node application on the session's cluster, TensorFlow warm in both slots, stopped
    after the module; the driver's JVM too, so the last test can check that nothing is left
    running."""
    profile = shared_cluster.profile
    with spark_context(shared_cluster, "bench deployment tests (2-node)", []) as sc, \
            ResultChannel() as channel:
        data_bc = sc.broadcast(dataset)
        warm_up_workers(sc, profile.slots, tensorflow=True)
        yield {"sc": sc, "profile": profile, "channel": channel, "data": data_bc}
        procs = application_processes(shared_cluster)
    shutdown_gateway()
    assert_stopped(procs)


def score_on(env: dict, weights, rows: int, **kw) -> DeploymentRun:
    profile = env["profile"]
    args = {"partitions": PARTITIONS, "mode": Mode.MEASURED, "repeat": 0, **kw}
    return score(env["sc"], weights=weights, family="mlp", params=PARAMS, data_bc=env["data"],
                 rows=rows, profile=profile.name, nodes=profile.nodes, slots=profile.slots,
                 **args)


# ------------------------------------------------------------------ on the clusters


def test_retrained_weights_are_the_chosen_trials(two_nodes, one_node):
    env = two_nodes
    channel = env["channel"]
    settings = TaskSettings(profile="2-node", mode=Mode.MEASURED, repeat=0,
                            recipe=TrialRecipe(model="mlp", **TRAINING),
                            channel=channel.address, token=uuid.uuid4().hex)
    trials = []
    run_grid(env["sc"], [TrialSpec("chosen", 0, PARAMS, True)], data_bc=env["data"],
             settings=settings, channel=channel, on_result=trials.append)
    (trial,) = trials
    assert trial.status is TrialStatus.OK
    trained = train_weights(env["sc"], data_bc=env["data"], family="mlp", params=PARAMS,
                            expect_test_error=trial.test_error, **TRAINING)
    assert (trained.test_error, trained.val_error, trained.final_loss) == \
        (trial.test_error, trial.val_error, trial.final_loss)
    # The same weights on either cluster, bit for bit.
    on_one_node = one_node["trained"].weights
    assert len(trained.weights) == len(on_one_node) == 4  # kernel and bias of two layers
    assert all(np.array_equal(a, b) for a, b in zip(trained.weights, on_one_node, strict=True))
    assert all(isinstance(w, np.ndarray) for w in trained.weights)


def test_weights_that_are_not_the_trials_are_refused(two_nodes):
    env = two_nodes
    with pytest.raises(UserError, match="not the trial's weights"):
        train_weights(env["sc"], data_bc=env["data"], family="mlp", params=PARAMS,
                      expect_test_error=0.5, **{**TRAINING, "seed": 6})


def test_a_configuration_that_diverges_cannot_be_deployed(two_nodes):
    env = two_nodes
    with pytest.raises(UserError, match="did not train \\(diverged\\)"):
        train_weights(env["sc"], data_bc=env["data"], family="mlp",
                      params={**PARAMS, "learning_rate": 1e20}, **TRAINING)


def test_one_node_and_two_nodes_predict_the_same_classes(two_nodes, one_node, rows):
    reference, trained = one_node["reference"], one_node["trained"]
    run = score_on(two_nodes, trained.weights, rows)
    for r in (reference, run):
        assert r.mode is Mode.MEASURED and r.rows == rows and r.partitions == PARTITIONS
        assert len(r.partition_seconds) == len(r.partition_digests) == PARTITIONS
        assert r.cold_partitions == 0  # the warm-up imported TensorFlow everywhere
        assert r.spark_tasks == PARTITIONS and r.task_failures == 0
        assert r.wall_s > 0 and r.rows_per_s == pytest.approx(rows / r.wall_s)
        # Rows are the test split replicated: the trial's own accuracy, exactly.
        assert r.accuracy == pytest.approx(1 - trained.test_error, abs=1e-12)
    assert run.partition_digests == reference.partition_digests
    assert run.predictions_digest == reference.predictions_digest
    assert run.predictions_digest == combined_digest(run.partition_digests)
    assert len(set(run.partition_executors)) == 2  # both nodes scored
    assert len(set(reference.partition_executors)) == 1
    assert predictions_identical([reference, run]) is True


def test_replay_returns_the_reference_predictions_and_takes_its_time(two_nodes, one_node, rows):
    reference = one_node["reference"]
    replayed = score_on(two_nodes, one_node["trained"].weights, rows, mode=Mode.REPLAY,
                        replay=reference)
    assert replayed.mode is Mode.REPLAY
    assert replayed.predictions_digest == reference.predictions_digest
    assert replayed.partition_correct == reference.partition_correct
    assert replayed.accuracy == reference.accuracy
    assert replayed.partition_seconds == reference.partition_seconds
    assert len(set(replayed.partition_executors)) == 2
    # Each task slept for its partition's 1-node time, two at a time at most: a lower bound no
    # scheduling can beat (never an upper one: this host is shared).
    slept = [s + g for s, g in zip(reference.partition_seconds,
                                   reference.partition_generate_seconds, strict=True)]
    assert replayed.wall_s >= max(max(slept), sum(slept) / 2)


def test_replay_needs_the_reference_partition_count(two_nodes, one_node, rows):
    reference, weights = one_node["reference"], one_node["trained"].weights
    with pytest.raises(UserError, match=f"{PARTITIONS + 1} partitions, but the reference was "
                                        f"scored in {PARTITIONS}"):
        score_on(two_nodes, weights, rows, partitions=PARTITIONS + 1, mode=Mode.REPLAY,
                 replay=reference)
    with pytest.raises(UserError, match="replay sleeps for durations measured on 1 node"):
        score_on(two_nodes, weights, rows, mode=Mode.REPLAY,
                 replay=DeploymentRun.from_dict({**reference.to_dict(), "mode": "replay"}))
    with pytest.raises(ValueError, match="replay needs its reference"):
        score_on(two_nodes, weights, rows, mode=Mode.REPLAY)


def test_an_interrupt_cancels_the_scoring_job(two_nodes, one_node, rows, no_leaks):
    reference = one_node["reference"]
    slow = DeploymentRun.from_dict({**reference.to_dict(),
                                    "partition_seconds": [30.0] * PARTITIONS})
    sc = two_nodes["sc"]

    def ctrl_c_once_running() -> None:
        deadline = time.monotonic() + 60
        while not sc.statusTracker().getActiveJobsIds() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # its tasks asleep on the executors
        _thread.interrupt_main()

    timer = threading.Thread(target=ctrl_c_once_running, daemon=True)
    timer.start()
    begin = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        score_on(two_nodes, one_node["trained"].weights, rows, mode=Mode.REPLAY, replay=slow)
    timer.join()
    assert time.monotonic() - begin < 60  # not the 120 s the partitions would sleep
    assert no_active_jobs(sc)


# ------------------------------------------------------------------ pure helpers


def run(profile: str, mode: Mode = Mode.MEASURED, wall_s: float = 2.0, digest: str = "aa",
        repeat: int = 0, nodes: int = 1) -> DeploymentRun:
    return DeploymentRun(
        profile=profile, mode=mode, repeat=repeat, nodes=nodes, slots=nodes, rows=1000,
        partitions=2, batch_size=1024, wall_s=wall_s, rows_per_s=1000 / wall_s,
        predictions_digest=digest, accuracy=0.9, partition_seconds=[0.5, 0.5],
        partition_generate_seconds=[0.01, 0.01], partition_digests=["00", "11"],
        partition_correct=[450, 450], partition_executors=["0", "0"], started_at=1.0)


def test_partitions_cover_every_row_once_in_order():
    for rows, parts in ((1_000_000, DEFAULT_PARTITIONS), (10, 3), (7, 7)):
        ranges = [partition_range(k, rows, parts) for k in range(parts)]
        assert ranges[0][0] == 0 and ranges[-1][1] == rows
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
        sizes = {end - start for start, end in ranges}
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_a_run_survives_its_run_directory(tmp_path):
    run_dir = RunDirectory.create(tmp_path, "w", now=0)
    runs = [run("local"), run("2-node", Mode.REPLAY, nodes=2)]
    for r in runs:
        run_dir.append_deployment(r)
    assert run_dir.deployments() == runs
    assert RunDirectory(run_dir.path).profile_runs() == []  # a file of its own


def test_predictions_identical_compares_measured_runs_only():
    assert predictions_identical([]) is None
    assert predictions_identical([run("local"), run("2-node", Mode.REPLAY, digest="bb")]) is None
    assert predictions_identical([run("local"), run("2-node", nodes=2)]) is True
    assert predictions_identical([run("local"), run("2-node", digest="bb")]) is False


def test_the_table_says_mode_speedup_and_identity_per_profile():
    runs = [run("local", wall_s=4.0), run("local", wall_s=6.0, repeat=1),
            run("2-node", wall_s=2.5, nodes=2), run("2-node", Mode.REPLAY, wall_s=2.0, nodes=2),
            run("13-node", Mode.MEASURED, wall_s=1.0, nodes=13, digest="bb")]
    headers, rows = deployment_rows(runs, "local")
    assert headers[:2] == ["profile", "mode"] and headers[-2:] == ["speedup",
                                                                  "predictions identical"]
    table = {(r[0], r[1]): dict(zip(headers, r, strict=True)) for r in rows}
    local = table[("local", "measured")]
    assert local["wall (mean ± sd) s"] == "5.00 ± 1.41"
    assert local["rows/s"] == "208" and local["speedup"] == "1.00"  # mean of 250 and 166.7
    assert table[("2-node", "measured")]["speedup"] == f"{400 / (1250 / 6):.2f}"
    assert table[("2-node", "measured")]["predictions identical"] == "yes"
    assert table[("2-node", "replay")]["predictions identical"] == "replayed"
    assert table[("13-node", "measured")]["predictions identical"] == "no"
    assert table[("13-node", "measured")]["nodes"] == "13"
    _, no_reference = deployment_rows(runs, None)
    assert all(r[7] == "—" and r[8] in ("—", "replayed") for r in no_reference)
