"""A workload's own Python code: ``module:function`` references to its dataset loader
(``[dataset] loader``) and its model builder (``[model] builder``) or whole trial function
(``[model] trial``).

The module is looked for next to the workload file first, then in the environment. It is imported
on the driver while the workload is read, so a missing module or function, or one that cannot be
called as bench calls it, is an error before any cluster starts. The executors import it from the
zip each run ships them (``ship_paths``; bench.execute.experiment), as they import bench itself.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UserError

_BENCH = Path(__file__).resolve().parents[1]  # bench's own folder: shipped already
_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Role:
    """How bench calls one kind of user function: the call it is checked against."""

    key: str  # the TOML key that names it, e.g. "builder"
    signature: str  # as the fix shows it
    example_args: tuple[tuple[Any, ...], dict[str, Any]]  # what inspect binds


LOADER = Role("loader", "def load(seed, **options) -> dict of numpy arrays: x_train, y_train, "
                        "x_val, y_val, x_test, y_test",
              ((), {"seed": 0}))
BUILDER = Role("builder", "def build(params, *, input_shape, num_classes) -> a compiled "
                          "keras.Model",
               (({},), {"input_shape": (1,), "num_classes": 2}))
TRIAL = Role("trial", "def trial(params, data, context) -> dict with val_error and test_error "
                      "(fractions), optionally final_loss, test_wrong, status, error",
             (({}, None, None), {}))


def is_reference(name: str) -> bool:
    """A model family or dataset name that is a ``module:function`` reference."""
    return ":" in name


def check_reference(text: str, folder: Path, role: Role, where: str,
                    options: dict[str, Any] | None = None) -> str:
    """``text`` if it names a function bench can call as ``role``, importable from ``folder``
    (the workload's) or the environment. ``options``: keyword arguments it will be called with
    too (a loader's [dataset.options]). Raises a UserError naming ``where`` otherwise."""
    if not _REFERENCE.match(text):
        raise UserError(f"'{role.key}' must be 'module:function', got {text!r}", where=where,
                        fix=f'write {role.key} = "my_module:my_function", my_module.py beside '
                            "the workload file")
    module_name, function_name = text.split(":")
    _on_path(folder, module_name)
    module = _import(module_name, folder, where)
    function = getattr(module, function_name, None)
    file = getattr(module, "__file__", module_name)
    if function is None:
        found = sorted(n for n, v in vars(module).items()
                       if callable(v) and not n.startswith("_") and
                       getattr(v, "__module__", None) == module.__name__)
        raise UserError(f"module '{module_name}' ({file}) has no function '{function_name}'",
                        where=where, fix=f"define it there ({role.signature})" +
                        (f", or name one of: {', '.join(found)}" if found else ""))
    if not callable(function):
        raise UserError(f"'{text}' is not a function, it is a {type(function).__name__}",
                        where=where, fix=f"point {role.key} at a function: {role.signature}")
    args, kwargs = role.example_args
    try:
        inspect.signature(function).bind(*args, **{**kwargs, **(options or {})})
    except TypeError as e:
        given = f" with [dataset.options] {sorted(options)}" if options else ""
        raise UserError(f"'{text}' cannot be called as bench calls a {role.key}{given}: {e}",
                        where=where, fix=f"give it this signature: {role.signature}") from None
    except ValueError:  # no signature to inspect (a builtin): it will tell when called
        pass
    return text


def load_function(reference: str) -> Callable[..., Any]:
    """The function ``reference`` names, imported from ``sys.path``: on the driver the workload's
    folder is on it (``check_reference``), on an executor the shipped zip is."""
    module_name, function_name = reference.split(":")
    return getattr(importlib.import_module(module_name), function_name)


def ship_paths(references: list[str], folder: Path) -> tuple[Path, ...]:
    """The files or package folders of the modules ``references`` name, for the executors: the
    top-level module of each, when it is beside the workload or not installed (an installed
    package, or Python's own, comes from an executor's environment on any Spark cluster), and
    not bench."""
    installed = {Path(sysconfig.get_paths()[k]).resolve()
                 for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    paths: list[Path] = []
    for reference in references:
        top = reference.split(":")[0].split(".")[0]
        _on_path(folder, top)
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin in (None, "built-in", "frozen"):
            continue
        if spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations)))
        else:
            path = Path(spec.origin)
        resolved = path.resolve()
        beside = resolved.is_relative_to(folder.resolve())  # shipped even from site-packages
        if not beside and (any(resolved.is_relative_to(p) for p in installed)
                           or resolved == _BENCH):
            continue
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def _on_path(folder: Path, module_name: str) -> None:
    """The workload's folder first on sys.path when it holds the module (``name.py`` or
    ``name/``): a module beside the workload wins over one of the same name installed."""
    top = module_name.split(".")[0]
    here = folder.resolve()
    if ((here / f"{top}.py").is_file() or (here / top).is_dir()) and str(here) not in sys.path:
        sys.path.insert(0, str(here))


def _import(module_name: str, folder: Path, where: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and module_name.split(".")[0] != e.name.split(".")[0]:
            raise UserError(f"module '{module_name}' imports '{e.name}', which is not "
                            "installed", where=where,
                            fix=f"install it (pip install {e.name.split('.')[0]}) in the "
                                "environment bench runs in, and on the executors") from None
        top = module_name.split(".")[0]
        raise UserError(
            f"no module '{module_name}': not beside the workload ({folder / (top + '.py')} or "
            f"{folder / top}/) nor installed", where=where,
            fix=f"put {top}.py in {folder}, or install the package that provides it") from None
    except Exception:
        # The user's own code failed while importing: its traceback is what they need.
        lines = traceback.format_exc().rstrip()
        raise UserError(f"importing module '{module_name}' raised an error:\n{lines}",
                        where=where, fix=f"correct the module '{module_name}'") from None
