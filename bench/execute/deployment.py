"""The deployment step: the chosen configuration's network scoring a large data set on Spark.

The 2016 experiment, once the search had chosen its configuration, deployed the trained network
on the cluster to score large data sets. Here that is two jobs:

1. ``train_weights``: one Spark task retrains the chosen configuration exactly as its trial did
   (same seed, epochs and batch size, ``bench.ml.training.trained_weights``) and sends back its
   weights as numpy arrays and its test error, which must equal the trial's: the weights are the
   trial's. The driver never imports TensorFlow.
2. ``score``: the weights are broadcast once; a job of ``partitions`` tasks then scores ``rows``
   rows. Each task generates its rows on the executor (the dataset's test split replicated: row i
   is test image i mod n_test), builds the network from the weights, predicts in batches, and
   returns its time, a digest of its predicted classes and its count of correct ones.

The partition count is fixed (``DEFAULT_PARTITIONS``), never derived from the profile: every
profile then scores the same partitions in the same batches, so their predictions compare bit for
bit and a replayed partition sleeps for the 1-node time of that very partition. Replay
(``Mode.REPLAY``) keeps dispatch, scheduling, the weights' broadcast and the collection real and
only sleeps for each partition's measured compute, as trial replay does (bench.execute.tasks).

This module is the driver's side; the tasks' bodies, which run on the executors, are in
bench.execute.deployment_tasks.
"""

from __future__ import annotations

import functools
import hashlib
import time
import uuid
from typing import Any

import numpy as np

from bench.errors import UserError
from bench.execute.deployment_tasks import score_partition, train_task
from bench.execute.runner import count_job_group, run_job
from bench.ml.training import TrainedWeights
from bench.store.records import DeploymentRun, Mode, TrialStatus, last_error_line

DEFAULT_ROWS = 1_000_000
# Fixed for every profile (see the module docstring): 26 = 2 x 13 splits evenly over the slots of
# the shipped profiles (1, 2 and 13), so no slot gets a partition more than another. 1M digits rows
# make 38,462 per partition: about 10 MB of float32 each, generated where it is scored.
DEFAULT_PARTITIONS = 26
PREDICT_BATCH_SIZE = 1024


def combined_digest(partition_digests: list[str]) -> str:
    """The digest of all predictions: sha256 over the partitions' digests in partition order."""
    return hashlib.sha256(b"".join(bytes.fromhex(d) for d in partition_digests)).hexdigest()


# ------------------------------------------------------------------ retraining the chosen trial


def train_weights(
    sc: Any, *, data_bc: Any, family: str, params: dict[str, Any], epochs: int, batch_size: int,
    seed: int, shuffle: bool = True, expect_test_error: float | None = None,
) -> TrainedWeights:
    """Retrain the chosen configuration in one Spark task and return its weights.

    With the trial's seed, epochs and batch size, on a profile giving the task as many TensorFlow
    threads as the trial had (threads_per_trial), the weights are the trial's. ``expect_test_error``
    (the trial's) checks it: a retrained model that scores otherwise raises.
    """
    payload = {"family": family, "params": params, "epochs": epochs, "batch_size": batch_size,
               "seed": seed, "shuffle": shuffle}
    task = functools.partial(train_task, data_bc=data_bc)
    out = run_job(sc, f"bench-deploy-train-{uuid.uuid4().hex[:8]}",
                  "bench: retrain the chosen configuration",
                  lambda: sc.parallelize([payload], 1).map(task).collect())
    trained: TrainedWeights = out[0]
    where = f"retraining {family} {params}"
    if trained.status is not TrialStatus.OK:
        raise UserError(f"the chosen configuration did not train ({trained.status.value}): "
                        f"{last_error_line(trained.error)}", where=where,
                        fix="deploy a configuration whose trial ended ok")
    if expect_test_error is not None and trained.test_error != expect_test_error:
        raise UserError(
            f"the retrained model's test error {trained.test_error!r} is not its trial's "
            f"{expect_test_error!r}: these are not the trial's weights", where=where,
            fix="retrain with the workload's seed, epochs and batch size, on a profile with the "
                "trial's TensorFlow threads per task (cores / trials_per_node)")
    return trained


# ------------------------------------------------------------------ scoring


def _check_replay(reference: DeploymentRun, *, rows: int, partitions: int,
                  batch_size: int) -> None:
    where = f"replay of {reference.profile} (repeat {reference.repeat})"
    if reference.mode is not Mode.MEASURED or reference.nodes != 1:
        raise UserError(
            f"the reference is {reference.mode.value} on {reference.nodes} nodes; replay sleeps "
            "for durations measured on 1 node", where=where,
            fix="give a measured run of the 1-node profile as the reference")
    if partitions != reference.partitions:
        raise UserError(
            f"{partitions} partitions, but the reference was scored in {reference.partitions}: "
            "each replayed partition sleeps for the reference's time of the same partition",
            where=where, fix=f"score with partitions={reference.partitions}")
    if rows != reference.rows or batch_size != reference.batch_size:
        raise UserError(
            f"{rows} rows in batches of {batch_size}, but the reference scored {reference.rows} "
            f"in batches of {reference.batch_size}", where=where,
            fix="replay the same rows and batch size as the reference")


def score(
    sc: Any, *, weights: list[np.ndarray], family: str, params: dict[str, Any], data_bc: Any,
    rows: int = DEFAULT_ROWS, partitions: int = DEFAULT_PARTITIONS, profile: str, mode: Mode,
    repeat: int, nodes: int, slots: int, replay: DeploymentRun | None = None,
    batch_size: int = PREDICT_BATCH_SIZE,
) -> DeploymentRun:
    """Score ``rows`` rows in ``partitions`` Spark tasks with the network of ``weights``.

    ``mode`` is MEASURED (real predictions) or REPLAY (``replay`` is a measured 1-node run with
    the same rows, partitions and batch size; each partition sleeps for its time there and returns
    its predictions). Warm the slots first (``bench.execute.runner.warm_up_workers``), or the first
    partitions of each worker pay TensorFlow's import (counted in ``cold_partitions``).
    """
    if mode not in (Mode.MEASURED, Mode.REPLAY):
        raise ValueError(f"scoring is measured or replayed, not {mode.value}")
    if (mode is Mode.REPLAY) != (replay is not None):
        raise ValueError("replay needs its reference run, and only replay takes one")
    if not 1 <= partitions <= rows:
        raise UserError(f"{rows} rows cannot fill {partitions} partitions",
                        fix="score at least one row per partition")
    if replay is not None:
        _check_replay(replay, rows=rows, partitions=partitions, batch_size=batch_size)
    group = f"bench-deploy-{uuid.uuid4().hex[:8]}"
    weights_bc = sc.broadcast([np.asarray(w) for w in weights])
    task = functools.partial(
        score_partition, weights_bc=weights_bc, data_bc=data_bc, family=family, params=params,
        rows=rows, partitions=partitions, batch_size=batch_size,
        replay=_replayed_partitions(replay) if replay is not None else None)
    clock: dict[str, float] = {}

    def action() -> list:
        clock["started_at"], clock["begin"] = time.time(), time.perf_counter()
        out = sc.parallelize(range(partitions), partitions).mapPartitionsWithIndex(task).collect()
        clock["end"] = time.perf_counter()
        return out

    try:
        results = run_job(sc, group, f"bench: score {rows} rows on {profile} ({mode.value})",
                          action)
    finally:
        weights_bc.destroy()
    results.sort(key=lambda r: r["index"])
    if [r["index"] for r in results] != list(range(partitions)):  # never: Spark lost a task
        raise RuntimeError(f"scoring returned partitions {[r['index'] for r in results]}")
    spark = count_job_group(sc, group)
    wall_s = clock["end"] - clock["begin"]
    digests = [r["digest"] for r in results]
    return DeploymentRun(
        profile=profile, mode=mode, repeat=repeat, nodes=nodes, slots=slots, rows=rows,
        partitions=partitions, batch_size=batch_size, wall_s=wall_s, rows_per_s=rows / wall_s,
        predictions_digest=combined_digest(digests),
        accuracy=sum(r["correct"] for r in results) / rows,
        partition_seconds=[r["seconds"] for r in results],
        partition_generate_seconds=[r["generate_s"] for r in results],
        partition_digests=digests, partition_correct=[r["correct"] for r in results],
        partition_executors=[r["executor_id"] for r in results],
        started_at=clock["started_at"], cold_partitions=sum(r["cold"] for r in results),
        spark_tasks=spark.tasks, task_failures=spark.task_failures,
    )


def _replayed_partitions(replay: DeploymentRun) -> list[dict]:
    """What each replayed partition sleeps for and returns: its reference's time and results."""
    return [{"seconds": s, "generate_s": g, "digest": d, "correct": c} for s, g, d, c in
            zip(replay.partition_seconds, replay.partition_generate_seconds,
                replay.partition_digests, replay.partition_correct, strict=True)]


# ------------------------------------------------------------------ comparing predictions


def predictions_identical(runs: list[DeploymentRun]) -> bool | None:
    """Whether every measured run predicted the same classes for every row (one digest).

    Replayed runs are left out: they return their reference's digest by construction. None when
    fewer than two measured runs are there to compare."""
    measured = [r.predictions_digest for r in runs if r.mode is Mode.MEASURED]
    if len(measured) < 2:
        return None
    return len(set(measured)) == 1


