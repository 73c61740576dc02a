"""bench: measure how a hyperparameter grid of TensorFlow trainings scales out on Apache Spark.

``bench.run``, ``bench.load_run`` and ``bench.compare`` are the Python API (bench.api); they load
on first use, so ``import bench`` stays light (no pyspark, TensorFlow or pandas).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

_API = ("run", "load_run", "compare", "Run")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    # importlib, not an import statement: the package's root does not depend on bench.api when
    # it is imported (nor, for import-linter, on the layer at the top).
    if name in _API:
        return getattr(importlib.import_module("bench.api"), name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


class _Package(types.ModuleType):
    """``bench.compare`` is the API's compare(a, b) although bench/compare/ is a subpackage too:
    once that is imported, the import system sets it as this attribute, and a module attribute
    would hide __getattr__. It stays in sys.modules["bench.compare"], where every import of it
    (``from bench.compare.x import y``) looks; only ``bench.compare.x`` as an attribute chain
    does not reach it."""

    @property
    def compare(self) -> Any:
        return importlib.import_module("bench.api").compare

    @compare.setter
    def compare(self, package: types.ModuleType) -> None:
        pass  # the subpackage, set by the import system: sys.modules has it


sys.modules[__name__].__class__ = _Package
