"""hyperopt's SparkTrials: ``fmin`` over the grid, each trial one Spark job of one task, at most
``slots`` at a time, as hyperopt users run a search on Spark today.

hyperopt picks configurations with an algorithm (``algo``); bench's grid is fixed and ordered, so
the algorithm here hands out the grid itself: the search space is the index into the payloads and
trial k gets payload k. SparkTrials polls once a second (its dispatcher and fmin's loop both
sleep 1 s), and Spark reuses no Python worker of a SparkTrials task (its task function never
reads its partition): every trial after a slot's first starts a worker and imports TensorFlow.
Both are costs of the library, as its users pay them, and show in this back-end's wall time.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from bench.execute.backends.base import GridSubmission, require

NO_LOSS = 1e9  # hyperopt needs a number to rank by; a trial with no val_error ranks last


class HyperoptSparkTrials:
    name = "hyperopt"
    # SparkTrials runs a job per trial from threads of its own, in the caller's job group (copied
    # to those threads): the grid's, so Spark's counts of it are this back-end's
    counts_spark_jobs = True

    def __init__(self) -> None:
        require(self.name, "hyperopt")
        self._trials: Any = None  # the grid's SparkTrials while it runs: cancel() stops it

    def open(self, sc: Any, slots: int) -> None:
        """hyperopt imported and the Spark session made before the grid's clock."""
        import hyperopt.spark  # noqa: F401

        _session(sc)

    def run(self, grid: GridSubmission) -> list[dict]:
        from hyperopt import fmin, hp
        from hyperopt.exceptions import AllTrialsFailed
        from hyperopt.spark import SparkTrials

        for name in ("hyperopt", "hyperopt-spark"):  # one INFO line per trial, and a summary
            logging.getLogger(name).setLevel(logging.WARNING)
        # PySpark's, as SparkTrials starts its threads the way that copies the job group only
        warnings.filterwarnings("ignore", "Spark session is not provided", UserWarning)
        payloads, task = grid.payloads, grid.task()

        def objective(index: int) -> dict:  # runs on an executor
            result = task(payloads[index])
            loss = result["val_error"]
            return {"status": "ok" if loss is not None else "fail",
                    "loss": NO_LOSS if loss is None else loss, "bench": result}

        self._trials = trials = SparkTrials(parallelism=grid.slots, spark_session=_session(grid.sc))
        try:
            # The whole grid queued at once (max_queue_len): the dispatcher starts trials in
            # their tid order, ``slots`` at a time.
            fmin(objective, hp.choice("index", list(range(len(payloads)))), algo=_in_order,
                 max_evals=len(payloads), trials=trials, max_queue_len=len(payloads),
                 return_argmin=False, verbose=False, show_progressbar=False)
        except AllTrialsFailed:  # fmin's best point, asked for at its end: none, and a grid
            pass  # of failed trials is still a finished grid
        finally:
            self._trials = None
        return [r["bench"] for r in trials.results if "bench" in r]

    def cancel(self, sc: Any) -> None:
        trials = self._trials
        if trials is not None:
            # What SparkTrials' own timeout does: fmin stops and its dispatcher starts no
            # trial still queued (else it would fill each slot the cancel frees).
            from hyperopt.base import JOB_STATE_CANCEL, JOB_STATE_NEW

            trials._fmin_cancelled = True
            for trial in list(trials.trials):
                if trial["state"] == JOB_STATE_NEW:
                    trial["state"] = JOB_STATE_CANCEL
        # SparkTrials' job group is the calling thread's (bench's) or one it makes up and keeps
        # to itself: every job of the context reaches both, and bench runs one grid at a time.
        sc.cancelAllJobs()


def _in_order(new_ids: list[int], domain: Any, trials: Any, seed: int) -> list[dict]:
    """hyperopt's ``algo``: trial k (its tid, from 0) gets index k of the grid."""
    from hyperopt.base import miscs_update_idxs_vals

    docs = []
    for tid in new_ids:
        misc = {"tid": tid, "cmd": domain.cmd, "workdir": domain.workdir}
        miscs_update_idxs_vals([misc], {"index": [tid]}, {"index": [tid]})
        docs += trials.new_trial_docs([tid], [None], [domain.new_result()], [misc])
    return docs


def _session(sc: Any) -> Any:
    """A SparkSession over the profile's context (SparkTrials runs its jobs through one)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active if active is not None and active.sparkContext is sc else SparkSession(sc)
