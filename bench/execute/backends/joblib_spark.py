"""joblib's Spark back-end (joblibspark): ``Parallel(n_jobs=slots)`` over the trials, each call
one Spark job of one task, at most ``slots`` at a time."""

from __future__ import annotations

import warnings
from typing import Any

from bench.execute.backends.base import GridSubmission, require


class JoblibSpark:
    name = "joblibspark"
    counts_spark_jobs = False  # its jobs run in job groups of its own

    def __init__(self) -> None:
        require(self.name, "joblibspark")

    def run(self, grid: GridSubmission) -> list[dict]:
        from joblib import Parallel, delayed, parallel_backend
        from joblibspark import register_spark

        register_spark()
        task = grid.task()
        # Batches of one: a trial is seconds long, and the runner's order is kept call by call.
        with warnings.catch_warnings():  # what it says of Spark 4's features is not the user's
            warnings.filterwarnings("ignore", category=UserWarning,
                                    module=r"(joblibspark|pyspark)\.")
            # n_jobs=1 would make joblib run every call here, in the driver: on one slot it
            # gets 2, and Spark runs them one at a time on the slot
            with parallel_backend("spark", n_jobs=max(grid.slots, 2)):
                return Parallel(batch_size=1, pre_dispatch="n_jobs")(
                    delayed(task)(p) for p in grid.payloads)

    def cancel(self, sc: Any) -> None:
        sc.cancelAllJobs()  # its groups are its own: every job of this grid's context
