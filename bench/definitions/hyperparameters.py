"""The hyperparameters each model family accepts, with their types and valid ranges.

Workload files are checked against this table, so a typo or an impossible value is reported with
the file and key before any cluster starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.definitions.tomlfile import Invalid


@dataclass(frozen=True)
class HyperParameter:
    name: str
    kind: type  # int or float
    minimum: float
    maximum: float = math.inf
    min_inclusive: bool = True
    help: str = ""

    @property
    def range(self) -> str:
        """The values it takes, e.g. "(0, inf)"."""
        low = "[" if self.min_inclusive else "("
        high = "inf)" if math.isinf(self.maximum) else f"{self.maximum:g}]"
        return f"{low}{self.minimum:g}, {high}"

    def problem(self, value: object) -> Invalid | None:
        """Why ``value`` is not valid for this hyperparameter, or None when it is."""
        kind = "a whole number" if self.kind is int else "a number"
        fix = f"give {self.name} ({self.help}) as {kind} in {self.range}"
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
