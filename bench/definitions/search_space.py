"""What a workload searches over: its model (bench's family, or the workload's own builder or
trial function) with the hyperparameters that model takes, and the grids of their values."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from bench.definitions.hyperparameters import MODEL_HYPERPARAMETERS, HyperParameter, read_declared
from bench.definitions.overrides import GRID_SETTINGS
from bench.definitions.tomlfile import Table, one_of
from bench.definitions.user_code import BUILDER, TRIAL, check_reference
from bench.errors import UserError


def read_model(top: Table, path: Path) -> tuple[str, dict[str, HyperParameter], bool]:
    """bench's model ``family`` and its hyperparameters, or the workload's own code and the
    hyperparameters it declares in [hyperparameters]: a ``builder`` of a compiled Keras model
    that bench trains, or a whole ``trial`` function. The third value: it is a trial."""
    md = top.table("model")
    own = [key for key in ("builder", "trial") if key in md.data]
    if len(own) + ("family" in md.data) > 1:
        raise UserError(f"gives {' and '.join(k for k in ('family', *own) if k in md.data)}; "
                        "a model is one of them", where=md.where,
                        fix="keep family (bench's model), builder (your Keras model) or trial "
                            "(your whole trial function)")
    if own:
        role = BUILDER if own[0] == "builder" else TRIAL
        reference = check_reference(md.get(own[0], str), path.parent, role,
                                    f"{md.where} {own[0]}")
        md.finish()
        if "hyperparameters" not in top.data:
            raise UserError(f"a workload with its own {own[0]} declares its hyperparameters",
                            where=str(path), fix='add [hyperparameters.learning_rate] with '
                                                 'type = "float" (and min, max), one per name')
        return reference, read_declared(top.table("hyperparameters")), role is TRIAL
    if "family" not in md.data:
        raise UserError("names no model", where=md.where,
                        fix=f'write family = "mlp" (bench\'s: {", ".join(MODEL_HYPERPARAMETERS)}'
                            '), or builder = "my_module:build_model" for your own')
    family = md.get("family", str, check=one_of(MODEL_HYPERPARAMETERS, "model family"))
    md.finish(known=["family", "builder", "trial"])
    if "hyperparameters" in top.data:
        top.get("hyperparameters", dict)
        raise UserError(f"bench's '{family}' has its own hyperparameters",
                        where=f"{path} [hyperparameters]",
                        fix="remove [hyperparameters]; they are for a workload's own builder "
                            "or trial")
    return family, MODEL_HYPERPARAMETERS[family], False


def read_grid(table: Table, hyper: dict, declared: bool = False) -> dict[str, list[Any]]:
    """A grid's axes; ``declared``: the hyperparameters are the workload's own."""
    axes: dict[str, list[Any]] = {}
    known = [*hyper, GRID_SETTINGS]
    for key in [k for k in table.data if k != GRID_SETTINGS]:  # the settings: read before
        if key not in hyper:
            if not declared:
                table.finish(known=known)  # raises: names the key and the closest known one
            close = difflib.get_close_matches(key, list(hyper), n=1)
            raise UserError(f"'{key}' is not a declared hyperparameter", where=table.where,
                            fix=(f"did you mean '{close[0]}'? " if close else "") +
                                f"declare it: [hyperparameters.{key}] with its type and range")
        values = table.get(key, list)
        if not values:
            raise UserError(f"'{key}' is an empty list", where=table.where,
                            fix="give at least one value, or remove the key")
        for value in values:
            hp = hyper[key]
            if isinstance(value, int) and not isinstance(value, bool) and hp.kind is float:
                value = float(value)
            if invalid := hp.problem(value):
                raise UserError(f"'{key}' value {invalid.problem}", where=table.where,
                                fix=invalid.fix)
        values = [float(v) if hyper[key].kind is float else v for v in values]
        if len(set(values)) != len(values):
            raise UserError(f"'{key}' lists a value twice: {values}", where=table.where,
                            fix="list each value once")
        axes[key] = values
    if not axes:
        raise UserError("empty grid", where=table.where, fix="add at least one hyperparameter list")
    table.finish(known=known)
    return axes
