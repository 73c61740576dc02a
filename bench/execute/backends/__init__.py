"""The ways bench can run a grid's trials (``bench run --backends``), by name.

``spark-map`` (the 2016 pattern) is the default and every profile's reference row; ``pull`` is
bench's pull dispatcher; ``joblibspark``, ``hyperopt``, ``optuna`` and ``ray`` are the tuning
libraries users pick today, run on the same cluster and data; ``floor`` is the process-pool floor
(bench.execute.process_pool_floor), the same trials with no Spark.
"""

from __future__ import annotations

import importlib

from bench.execute.backends.base import Backend, GridSubmission, HasReferee, require

DEFAULT = "spark-map"
FLOOR = "floor"
# name -> "module:class" under this package; imported when asked for, so a missing library
# fails only the run that names it.
_CLASSES = {
    "spark-map": "spark_map:SparkMap",
    "pull": "pull:PullDispatcher",
    "joblibspark": "joblib_spark:JoblibSpark",
    "hyperopt": "hyperopt_trials:HyperoptSparkTrials",
    "optuna": "optuna_study:OptunaSparkStudy",
    "ray": "ray_tune:RayTune",
}
NAMES = (*_CLASSES, FLOOR)


def backend_for(name: str) -> Backend:
    """A fresh back-end of that name (one per grid run). The floor is not one: it runs without
    Spark (bench.execute.process_pool_floor)."""
    module, cls = _CLASSES[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)()


def check_available(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names``, each one's library checked before any cluster starts (a UserError naming the
    extra when one is missing)."""
    for name in names:
        if name not in (DEFAULT, FLOOR):
            backend_for(name)
    return names


__all__ = ["DEFAULT", "FLOOR", "NAMES", "Backend", "GridSubmission", "HasReferee",
           "backend_for", "check_available", "require"]
