"""What every back-end is given for one grid run, and what it owes back.

A back-end is a way to run a grid's trials on the profile's cluster: one Spark map (bench's
default), bench's pull dispatcher, or a tuning library users pick today. Every one runs the same
task body (bench.execute.tasks.run_trial) on the same dataset, in the order given, each trial once:
so their metrics are bit-identical and only the way the trials get to the slots differs. Every
trial's task sends its result through the result channel as it ends; the runner times them all
alike (first trial dispatched -> last result at the driver, bench.execute.runner.run_grid).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bench.errors import UserError
from bench.execute.tasks import TaskSettings, run_trial

Referee = Callable[[dict], dict | None]
EXTRA = "backends"  # pyproject's extra that installs the tuning libraries


@dataclass(frozen=True)
class GridSubmission:
    """One grid run, as a back-end gets it."""

    sc: Any  # the profile's SparkContext
    payloads: list[dict]  # one per trial, in dispatch order (bench.execute.tasks.trial_payload)
    data_bc: Any  # the dataset's Spark broadcast
    settings: TaskSettings
    slots: int  # the profile's task slots
    group: str  # the grid's Spark job group: a Ctrl-C cancels it

    def task(self, data: Any = None) -> Callable[[dict], dict]:
        """The body of one trial: run on an executor, its result is sent to the driver and
        returned. ``data``: what holds the dataset where a Spark broadcast cannot be read (a Ray
        worker); the broadcast by default."""
        return functools.partial(run_trial, data_bc=self.data_bc if data is None else data,
                                 settings=self.settings)


class Backend(Protocol):
    """Runs every payload of a grid through ``grid.task()`` once and returns when all are done.

    One instance serves a profile's grid runs, one after another. Optional, found by name:
    ``open(sc, slots)`` starts what the back-end needs before any clock (a Ray cluster), timed
    and reported as the back-end's start; ``close()`` stops it (always called, on error and
    Ctrl-C too); ``cancel(sc)`` cancels its Spark jobs when they run in job groups of its own;
    ``counts_spark_jobs = False`` says so, and the grid's Spark counts are left unknown;
    ``holds_slots = True``: while open it holds the cluster's task slots (Ray's worker nodes are
    long-lived Spark tasks), so it is closed after each of its grid runs and opened again for
    the next (each open timed as that grid run's back-end start); ``warmed_workers``: the
    (executor, pid) of Python workers its ``open`` started and warmed, not counted as started
    inside a grid."""

    name: str

    def run(self, grid: GridSubmission) -> list[dict]:
        """Run the grid (blocking, in the runner's job thread); the results the back-end got back
        (the channel has them already: these only fill in what it missed)."""
        ...


@runtime_checkable
class HasReferee(Protocol):
    """A back-end that answers the tasks' own questions on the result channel (the pull
    dispatcher's ``next``) besides the attempt referee's."""

    def referee(self, grid: GridSubmission, attempts: Referee,
                dispatched: Callable[[], None]) -> Referee: ...


def active_session(sc: Any) -> Any:
    """A SparkSession over ``sc``, active in the calling thread, for a library that looks for
    one (Ray on Spark asks ``SparkSession.getActiveSession()``). The JVM keeps the active session
    per thread, and the builder does not set it in a thread when one was made in another (the
    hyperopt and optuna back-ends make theirs in the grid's job thread)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # over the running context, ``sc``
    # PySpark has no public setter; its own createDataFrame sets it this way
    SparkSession._get_j_spark_session_class(sc._jvm).setActiveSession(spark._jsparkSession)
    SparkSession._activeSession = spark
    return spark


def require(backend: str, *modules: str) -> None:
    """A clear error when a back-end's library is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(
            f"the back-end '{backend}' needs {', '.join(missing)}, which this Python "
            "does not have", where="--backends",
            fix=f"install bench's '{EXTRA}' extra: pip install -e '.[{EXTRA}]' (make bench "
                "and make test do it)")
