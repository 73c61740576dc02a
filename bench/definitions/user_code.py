"""A workload's own Python code: ``module:function`` references to its dataset loader
(``[dataset] loader``) and its model builder (``[model] builder``) or whole trial function
(``[model] trial``).

The module is looked for next to the workload file first, then in the environment. It is imported
on the driver while the workload is read, so a missing module or function, or one that cannot be
called as bench calls it, is an error before any cluster starts. The executors import it from the
zip each run ships them (``ship_paths``; bench.execute.experiment), as they import bench itself.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
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
                      "(fractions) or test_wrong, optionally final_loss, status, error",
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
    if module_name.endswith(".py"):
        raise UserError(f"'{role.key}' names a file, {module_name}, where a module name goes",
                        where=where, fix=f'write {role.key} = "{module_name[:-3]}:'
                                         f'{function_name}" (the module, without .py)')
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
    folder is on it (``check_reference``), on an executor the shipped zip is. A module imported
    before from another file (a reused Python worker, and a newer zip since) is imported anew."""
    module_name, function_name = reference.split(":")
    top = module_name.split(".")[0]
    cached = sys.modules.get(top)
    if cached is not None and getattr(cached, "__spec__", None) is not None:
        found = importlib.machinery.PathFinder.find_spec(top)
        if found is not None and found.origin != cached.__spec__.origin:
            _forget(top)
    return getattr(importlib.import_module(module_name), function_name)


def ship_paths(references: list[str], folder: Path) -> tuple[Path, ...]:
    """What the executors need to import the workload's code: every module (``*.py``) and
    package beside the workload, which its modules may import from each other, and a module a
    reference names from elsewhere unless it is installed (an installed package, or Python's
    own, comes from an executor's environment on any Spark cluster) or bench."""
    if not references:  # bench's own model and data: nothing of the workload's to ship
        return ()
    here = folder.resolve()
    paths = sorted(p for p in here.iterdir()
                   if (p.suffix == ".py" and p.is_file())
                   or (p.is_dir() and (p / "__init__.py").is_file()))
    installed = {Path(sysconfig.get_paths()[k]).resolve()
                 for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    for reference in references:
        top = reference.split(":")[0].split(".")[0]
        spec = importlib.util.find_spec(top)
        if spec is None:
            continue
        if spec.submodule_search_locations:  # a package, or a namespace package's folder
            path = Path(next(iter(spec.submodule_search_locations))).resolve()
        elif spec.origin not in (None, "built-in", "frozen"):
            path = Path(spec.origin).resolve()
        else:
            continue
        own = path.is_relative_to(here) or not (
            any(path.is_relative_to(p) for p in installed) or path == _BENCH)
        if own and path not in paths:
            paths.append(path)
    return tuple(paths)


def code_digest(paths: tuple[Path, ...]) -> str:
    """A digest of the code ``paths`` hold (files, and the ``.py`` files of folders): part of a
    workload's definition, so runs of other code do not compare or resume as one."""
    digest = hashlib.sha256()
    for path in paths:
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                digest.update(f"{file.relative_to(path.parent)}\0".encode() + file.read_bytes())
    return digest.hexdigest()[:16]


def _forget(top: str) -> None:
    for name in [n for n in sys.modules if n == top or n.startswith(f"{top}.")]:
        del sys.modules[name]


def _import(module_name: str, folder: Path, where: str) -> Any:
    """The module, as the workload's folder has it if it holds one of that name (imported anew,
    so an edited file counts, and another workload's module of the same name does not), else as
    the environment has it. The folder goes at the end of sys.path: its modules can import each
    other, and never hide Python's or an installed package's."""
    top = module_name.split(".")[0]
    here = str(folder.resolve())
    if here not in sys.path:
        sys.path.append(here)
    try:
        beside = importlib.machinery.PathFinder.find_spec(top, [here])
        if beside is not None and beside.loader is not None:
            _forget(top)
            module = importlib.util.module_from_spec(beside)
            sys.modules[top] = module
            try:
                beside.loader.exec_module(module)
            except BaseException:
                _forget(top)
                raise
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or module_name
        if missing.split(".")[0] != top:
            raise UserError(
                f"module '{module_name}' imports '{missing}', which is neither installed nor "
                f"beside the workload", where=where,
                fix=f"put {missing.split('.')[0]}.py in {folder}, or install the package that "
                    "provides it in the environment bench runs in and on the executors") from None
        if missing != top:
            raise UserError(f"no module '{missing}' in the package '{top}'", where=where,
                            fix=f"name a module of {top}, or add it") from None
        raise UserError(
            f"no module '{module_name}': not beside the workload ({folder / (top + '.py')} or "
            f"{folder / top}/) nor installed", where=where,
            fix=f"put {top}.py in {folder}, or install the package that provides it") from None
    except Exception:
        # The user's own code failed while importing: its traceback is what they need.
        lines = traceback.format_exc().rstrip()
        raise UserError(f"importing module '{module_name}' raised an error:\n{lines}",
                        where=where, fix=f"correct the module '{module_name}'") from None
