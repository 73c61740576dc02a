"""The hyperparameters each model family accepts, with their types and valid ranges; a workload
with its own model declares its own ([hyperparameters], ``read_declared``).

Workload files are checked against them, so a typo or an impossible value is reported with the
file and key before any cluster starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.definitions.tomlfile import Invalid, Table
from bench.errors import UserError

KINDS: dict[str, type] = {"float": float, "int": int, "str": str}


@dataclass(frozen=True)
class HyperParameter:
    name: str
    kind: type  # int, float or str
    minimum: float = -math.inf
    maximum: float = math.inf
    min_inclusive: bool = True
    help: str = ""
    choices: tuple[str, ...] = ()  # str only: the values it takes (empty: any string)

    @property
    def range(self) -> str:
        """The values it takes, e.g. "(0, inf)"."""
        if self.kind is str:
            return " | ".join(self.choices) if self.choices else "any string"
        high = "inf)" if math.isinf(self.maximum) else f"{self.maximum:g}]"
        if math.isinf(self.minimum):
            return f"(-inf, {high}"
        low = "[" if self.min_inclusive else "("
        return f"{low}{self.minimum:g}, {high}"

    def problem(self, value: object) -> Invalid | None:
        """Why ``value`` is not valid for this hyperparameter, or None when it is."""
        if self.kind is str:
            fix = f"give {self.name} as a string" + (
                f", one of: {', '.join(self.choices)}" if self.choices else "")
            if not isinstance(value, str):
                return Invalid(f"must be a string, got {value!r}", fix)
            if self.choices and value not in self.choices:
                return Invalid(f"must be one of {', '.join(self.choices)}, got {value!r}", fix)
            return None
        kind = "a whole number" if self.kind is int else "a number"
        named = f"{self.name} ({self.help})" if self.help else self.name
        fix = f"give {named} as {kind} in {self.range}"
        # bool is an int in Python; a grid of true/false is never meant as a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return Invalid(f"must be a number ({self.kind.__name__}), got {value!r}", fix)
        if self.kind is int and not isinstance(value, int):
            return Invalid(f"must be a whole number, got {value!r}", fix)
        if isinstance(value, float) and not math.isfinite(value):
            return Invalid(f"must be finite, got {value!r}", fix)
        low_ok = value >= self.minimum if self.min_inclusive else value > self.minimum
        if not low_ok or value > self.maximum:
            return Invalid(f"must be in {self.range}, got {value!r}", fix)
        return None


def _lr() -> HyperParameter:
    return HyperParameter(
        "learning_rate", float, 0.0, min_inclusive=False, help="base learning rate of SGD"
    )


MODEL_HYPERPARAMETERS: dict[str, dict[str, HyperParameter]] = {
    # A multi-layer perceptron trained with (momentum) SGD.
    "mlp": {
        p.name: p
        for p in (
            _lr(),
            HyperParameter("neurons", int, 1, help="units in each hidden layer"),
            HyperParameter("layers", int, 1, maximum=16, help="hidden layers"),
            HyperParameter("momentum", float, 0.0, maximum=0.999, help="SGD momentum"),
        )
    },
    # The LeNet-style network of TensorFlow's 2016 tutorial models/image/mnist/convolutional.py.
    "convnet": {
        p.name: p
        for p in (
            _lr(),
            HyperParameter("neurons", int, 1, help="units of the fully connected layer"),
            HyperParameter("momentum", float, 0.0, maximum=0.999, help="SGD momentum"),
            HyperParameter(
                "decay_rate", float, 0.0, maximum=1.0, min_inclusive=False,
                help="learning-rate decay per epoch",
            ),
            HyperParameter("l2", float, 0.0, help="L2 weight of the fully connected layers"),
            HyperParameter("dropout", float, 0.0, maximum=0.99, help="dropout after fc layer"),
        )
    },
}

DATASETS = ("digits", "mnist")


def read_declared(table: Table) -> dict[str, HyperParameter]:
    """A workload's own hyperparameters, one table each::

        [hyperparameters.learning_rate]
        type = "float"          # "float", "int" or "str"
        min = 0.0               # numbers: optional bounds, inclusive ...
        min_exclusive = true    # ... unless said otherwise
        max = 1.0
        help = "SGD learning rate"
        # choices = ["relu", "tanh"]   # str: the values it takes
    """
    declared: dict[str, HyperParameter] = {}
    for name in list(table.data):
        if name == "settings":  # [grids.NAME.settings] is a grid's own settings table
            raise UserError("a hyperparameter cannot be named 'settings'", where=table.where,
                            fix="rename it here and in your code")
        hp = table.table(name)
        kind = KINDS[hp.get("type", str, check=_kind)]
        if kind is str:
            choices = hp.get("choices", list, default=[])
            if not all(isinstance(c, str) for c in choices):
                raise UserError(f"'choices' must list strings, got {choices!r}", where=hp.where,
                                fix='write choices = ["a", "b"]')
            declared[name] = HyperParameter(name, str, help=hp.get("help", str, default=""),
                                            choices=tuple(choices))
        else:
            minimum = hp.get("min", (int, float), default=-math.inf)
            maximum = hp.get("max", (int, float), default=math.inf)
            if minimum > maximum:
                raise UserError(f"min {minimum!r} is above max {maximum!r}", where=hp.where,
                                fix="swap them, or correct one")
            declared[name] = HyperParameter(
                name, kind, minimum, maximum,
                min_inclusive=not hp.get("min_exclusive", bool, default=False),
                help=hp.get("help", str, default=""))
        hp.finish()
    if not declared:
        raise UserError("declares no hyperparameter", where=table.where,
                        fix='add one, e.g. [hyperparameters.learning_rate] with type = "float"')
    return declared


def _kind(value: str) -> Invalid | None:
    if value in KINDS:
        return None
    return Invalid(f"is an unknown type '{value}'", f"use one of: {', '.join(KINDS)}")
