"""Optuna on the PySpark executors through MLflow's MlflowSparkStudy, as Optuna users run a study
on Spark today.

MlflowSparkStudy runs one Spark job: ``slots`` tasks (a ``mapInPandas`` over a range), each
loading the study from an MLflow experiment (MlflowStorage) and running its share of the trials
one after another, asking the study for each. The study lives in an MLflow sqlite store in a temp
folder of this back-end (``open`` makes it, ``close`` removes it; MLflow refuses a plain file
store unless told): the executors write to it too, so this works where they share the driver's
file system (bench's local clusters), not on remote hosts (those need an MLflow server).

Optuna's GridSampler hands out grid points in random order; bench's grid is fixed and ordered, so
the sampler here gives trial number k (the study's count of trials asked for) payload k.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.execute.backends.base import GridSubmission, require

NO_LOSS = 1e9  # Optuna needs a number to rank by; a trial with no val_error ranks last
TRACKING_ENV = "MLFLOW_TRACKING_URI"


class OptunaSparkStudy:
    name = "optuna"
    # MlflowSparkStudy runs its job (one task per slot, not per trial) in the caller's job group:
    # the grid's, so Spark's counts of it are this back-end's
    counts_spark_jobs = True

    def __init__(self) -> None:
        require(self.name, "optuna", "mlflow")
        self._folder: Path | None = None
        self._experiment_id: str | None = None
        self._verbosity: int | None = None
        # (executor, pid) of the workers open() warmed: not started inside any grid
        self.warmed_workers: set[tuple[str, int]] = set()

    def open(self, sc: Any, slots: int) -> None:
        """MLflow and Optuna imported, the study's store made and the slots' workers warm,
        before the grid's clock."""
        import optuna
        from mlflow import MlflowClient

        self._verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # a line per trial and study
        for name in ("mlflow.store.db.utils", "mlflow.pyspark.optuna.study"):  # the store made,
            logging.getLogger(name).setLevel(logging.WARNING)  # each study made and started
        self._folder = Path(tempfile.mkdtemp(prefix="bench-optuna-"))
        try:
            self._experiment_id = MlflowClient(self._uri()).create_experiment("bench")
            self.warmed_workers = _warm_up(sc, slots)
        except BaseException:  # the caller closes only a back-end that opened
            self.close()
            raise

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self._experiment_id = None
        if self._verbosity is not None:
            import optuna

            optuna.logging.set_verbosity(self._verbosity)
            self._verbosity = None

    def run(self, grid: GridSubmission) -> list[dict]:
        if self._folder is None:  # not opened by the caller: a store for this grid alone
            self.open(grid.sc, grid.slots)
            try:
                return self.run(grid)
            finally:
                self.close()
        from mlflow.optuna.storage import MlflowStorage
        from mlflow.pyspark.optuna.study import MlflowSparkStudy

        payloads, task = grid.payloads, grid.task()

        def objective(trial: Any) -> float:  # runs on an executor
            result = task(payloads[trial.suggest_int("index", 0, len(payloads) - 1)])
            return NO_LOSS if result["val_error"] is None else result["val_error"]

        with _tracking_uri(self._uri()):  # MlflowStorage's client takes the global one
            study = MlflowSparkStudy(f"grid-{uuid.uuid4().hex[:8]}",
                                     MlflowStorage(experiment_id=self._experiment_id),
                                     sampler=_in_order_sampler(), mlflow_tracking_uri=self._uri())
            study.optimize(objective, n_trials=len(payloads),
                           n_jobs=min(grid.slots, len(payloads)))
        # Optuna keeps a trial's value and parameters, not what the objective saw: the results
        # reached the driver through the result channel, each as its trial ended.
        return []

    def cancel(self, sc: Any) -> None:
        # The study's one job runs in the calling thread's job group (bench's) or in one it
        # names itself: every job of the context reaches both, and bench runs one grid at a time.
        sc.cancelAllJobs()

    def _uri(self) -> str:
        assert self._folder is not None
        return f"sqlite:///{self._folder / 'mlflow.db'}"


@contextlib.contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI (and its environment variable) set for the block, and as they
    were after it: the caller's own MLflow runs are not sent to this store."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    saved = os.environ.get(TRACKING_ENV)
    try:
        with _use_tracking_uri(uri):
            yield
    finally:
        if saved is None:
            os.environ.pop(TRACKING_ENV, None)
        else:
            os.environ[TRACKING_ENV] = saved


def _warm_up(sc: Any, slots: int) -> set[tuple[str, int]]:
    """The warm-up (bench.execute.tasks.warm_up) in the Python workers the study's tasks run in:
    Spark keeps the workers of a ``mapInPandas`` apart from those of an RDD's map (bench's own
    warm-up), so without this the grid's first trial in each slot would start a worker and
    import TensorFlow, MLflow and Optuna inside the clock."""
    from pyspark.sql import SparkSession

    from bench.execute.runner import run_job

    def warm(batches: Iterator[Any]) -> Iterator[Any]:  # one task per slot
        import mlflow.pyspark.optuna.study  # noqa: F401 - what each study task imports
        import pandas as pd

        from bench.execute.tasks import warm_up

        for _ in batches:  # read to its end: a worker that leaves input unread is not reused
            pass
        warmed = warm_up(iter(()), tensorflow=True)
        yield pd.DataFrame({"executor": [w["executor_id"] for w in warmed],
                            "pid": [w["pid"] for w in warmed]})

    # MlflowSparkStudy takes the active session: this one, over the profile's context
    spark = SparkSession(sc)
    rows = run_job(sc, f"bench-optuna-warm-up-{uuid.uuid4().hex[:8]}", "bench: optuna's workers",
                   lambda: spark.range(0, slots, 1, slots)
                   .mapInPandas(warm, "executor string, pid long").collect())
    return {(row.executor, row.pid) for row in rows}


def _in_order_sampler() -> Any:
    """An Optuna sampler that gives trial number k the value k: the grid in its order. Made here,
    not at import, so that a Python without Optuna gets require()'s error."""
    from optuna.samplers import BaseSampler

    class InOrder(BaseSampler):
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: dict) -> dict:
            return {}

        def sample_independent(self, study: Any, trial: Any, param_name: str,
                               param_distribution: Any) -> int:
            return trial.number

    return InOrder()
