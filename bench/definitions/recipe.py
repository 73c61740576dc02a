"""How every trial of a run trains: the workload's training settings with the test knobs applied.

Built once per run and handed whole to each runner (Spark's tasks, the process-pool floor, the
deployment's retraining), so the settings are spelled out in one place only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bench.definitions.knobs import TestKnobs
from bench.definitions.user_code import is_reference
from bench.definitions.workload import Workload


@dataclass(frozen=True)
class TrialRecipe:
    """What a trial task needs to train one configuration; pickled into every task."""

    model: str  # the model family (bench.definitions.hyperparameters), or "module:function"
    epochs: int
    batch_size: int
    seed: int  # the workload's seed plus the seed_offset test knob
    timeout_s: float | None = None  # per-trial training limit ([training] timeout_s)
    shuffle: bool = True  # False: the training data in file order every epoch
    slowdown: float = 0.0  # test knob (definitions.knobs): this fraction of compute CPU on top
    trial_function: bool = False  # ``model`` is a whole trial function, not a Keras builder

    @classmethod
    def of(cls, workload: Workload, knobs: TestKnobs | None = None) -> TrialRecipe:
        knobs = knobs or TestKnobs()
        training = workload.training
        return cls(model=workload.model, trial_function=workload.trial_function,
                   epochs=training.epochs,
                   batch_size=training.batch_size, seed=training.seed + knobs.seed_offset,
                   timeout_s=training.timeout_s, shuffle=training.shuffle,
                   slowdown=knobs.slowdown)

    @property
    def own_code(self) -> str | None:
        """The workload's own builder or trial function, which warm-ups import; None for
        bench's model families."""
        return self.model if is_reference(self.model) else None

    def without_slowdown(self) -> TrialRecipe:
        """The same training without the slowdown knob's sleep."""
        return dataclasses.replace(self, slowdown=0.0)
