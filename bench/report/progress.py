"""How far a run is and how long the rest will take: pure, on a clock it is given.

The run's steps are known up front (bench.execute.experiment.plan_steps), so its trials are too;
its time is the sum of every step's. A step done counts what it took. A step to come is
estimated:

- grid or floor, once a 1-node measured repeat is done: the model (analyse.scaling_model)
  simulates its trials on its slots from the 1-node compute times and overheads (basis "model");
- grid or floor before that: ``c``, the seconds a trial has held a slot so far in this run (every
  grid's elapsed time x slots / its trials done), gives max(c, trials x c / slots), the bound of
  equal trials (basis "rough"); with no trial done yet there is no estimate;
- a floor adds a measured warm-up (its pool warms up inside the step);
- cluster start-up and warm-up: fixed + per-node seconds (the defaults below, from the reference
  run of the README on a 2-core host), scaled by how long this run's such steps took against
  those defaults;
- deployment: its rows at the rows a second per slot of the last deployment's scoring, or the
  default before one; the first also retrains the chosen configuration: a mean 1-node trial.

The step in progress counts its estimate minus its time so far, never below 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.analyse.scaling_model import Overheads, estimate_overheads, simulate_makespan
from bench.execute.progress import Step, StepKind
from bench.execute.trial_order import measured_seconds
from bench.store.records import Mode, TrialResult

# (fixed s, per node s), fitted on the README's run: start-up 17.8 s on 1 node, 19.3 s on 2,
# 74.3 s on 13; warm-up with TensorFlow 13.2 s and 12.1 s, replayed 0.3 s and 24.3 s.
STARTUP_S = (12.0, 4.7)
WARMUP_S = {Mode.MEASURED: (12.5, 0.0), Mode.REPLAY: (0.0, 1.9)}
DEPLOY_ROWS_PER_SLOT_S = 80_000.0  # the README's 1-node scoring: 80 751 rows/s


@dataclass(frozen=True)
class Eta:
    """Where the run is: trials done of all, and the time left if it can be told."""

    trials_done: int
    trials_total: int
    elapsed_s: float
    remaining_s: float | None  # None: nothing to estimate the grids by yet
    basis: str  # "model" once the 1-node durations are known, "rough" before

    @property
    def fraction(self) -> float | None:
        """The share of the run's time done."""
        if self.remaining_s is None:
            return None
        whole = self.elapsed_s + self.remaining_s
        return self.elapsed_s / whole if whole > 0 else 1.0


@dataclass
class _Model:
    durations: dict[str, float]  # 1-node compute per trial id, mean over repeats
    overheads: Overheads

    def makespan(self, step: Step) -> float:
        mean = sum(self.durations.values()) / len(self.durations)
        return simulate_makespan([self.durations.get(t, mean) for t in step.trial_ids],
                                 step.slots, self.overheads, step.order)


@dataclass
class RunProgress:
    """The run's steps as they are made; ``eta()`` at any moment."""

    steps: list[Step]
    clock: Callable[[], float] = time.monotonic
    started_at: float = field(init=False)
    took: dict[tuple, float] = field(default_factory=dict)  # done step -> seconds
    arrived: dict[tuple, int] = field(default_factory=dict)  # done step -> its trials done
    reported: dict[tuple, float] = field(default_factory=dict)  # done step -> its own seconds
    skipped: set[tuple] = field(default_factory=set)  # planned steps not made after all
    current: Step | None = None
    current_since: float = 0.0
    current_trials: int = 0
    trials_done: int = 0
    _reference: list[TrialResult] = field(default_factory=list)
    _model: _Model | None = None

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def start(self, step: Step) -> None:
        keys = [s.key for s in self.steps]
        if step.key in keys:  # as made: its trials' order is known by now
            self.steps[keys.index(step.key)] = step
        else:  # not planned: it counts all the same
            self.steps.append(step)
        self.current, self.current_since, self.current_trials = step, self.clock(), 0

    def is_current(self, step: Step) -> bool:
        """``step`` is being made. By key: a planned grid's trials may be in another order than
        the one made (longest first by estimate, then by the 1-node durations)."""
        return self.current is not None and self.current.key == step.key

    def trial(self) -> None:
        self.current_trials += 1
        self.trials_done += 1

    def finish(self, step: Step, trials: Sequence[TrialResult] = (),
               seconds: float | None = None) -> float:
        """Mark ``step`` done (``seconds``: what the step reports, a deployment's scoring); the
        seconds it took by this clock."""
        took = self.clock() - self.current_since if self.is_current(step) else 0.0
        self.took[step.key] = took
        self.reported[step.key] = took if seconds is None else seconds
        self.arrived[step.key] = self.current_trials if self.is_current(step) else 0
        if step.reference and step.kind is StepKind.GRID and trials:
            self._reference += trials
            durations = measured_seconds(self._reference)
            if durations:
                self._model = _Model(durations, estimate_overheads(self._reference, step.slots))
        if self.is_current(step):
            self.current = None
        return took

    def skip(self, step: Step) -> None:
        self.skipped.add(step.key)
        if self.is_current(step):
            self.current = None

    @property
    def trials_total(self) -> int:
        return sum(s.trials for s in self.steps if s.key not in self.skipped)

    def eta(self) -> Eta:
        now = self.clock()
        remaining: float | None = 0.0
        for step in self.steps:
            if step.key in self.took or step.key in self.skipped:
                continue
            estimate = self.estimate(step)
            if estimate is None:
                remaining = None
                break
            if self.is_current(step):
                estimate = max(0.0, estimate - (now - self.current_since))
            remaining += estimate
        return Eta(self.trials_done, self.trials_total, now - self.started_at, remaining,
                   "model" if self._model is not None else "rough")

    def estimate(self, step: Step) -> float | None:
        """How long ``step`` takes, in all, by the rules of this module's docstring."""
        if step.kind is StepKind.STARTUP:
            return self._scaled(StepKind.STARTUP, None, step.nodes)
        if step.kind is StepKind.WARMUP:
            return self._scaled(StepKind.WARMUP, step.mode, step.nodes)
        if step.kind is StepKind.DEPLOYMENT:
            return step.rows / (self._deploy_rate() * step.slots) + self._retrain()
        grid = self._grid(step)
        if grid is None or step.kind is StepKind.GRID:
            return grid
        return grid + self._scaled(StepKind.WARMUP, Mode.MEASURED, step.slots)

    def _grid(self, step: Step) -> float | None:
        if self._model is not None:
            return self._model.makespan(step)
        held = trials = 0.0
        for s in self.steps:
            if s.kind not in (StepKind.GRID, StepKind.FLOOR):
                continue
            if self.is_current(s) and self.current_trials:
                held += (self.clock() - self.current_since) * s.slots
                trials += self.current_trials
            elif self.arrived.get(s.key):
                held += self.took[s.key] * s.slots
                trials += self.arrived[s.key]
        if not trials:
            return None
        c = held / trials
        return max(c, step.trials * c / step.slots)

    def _scaled(self, kind: StepKind, mode: Mode | None, nodes: int) -> float:
        """The default seconds of a start-up or warm-up on ``nodes``, times the ratio of this
        run's such steps (of the same mode) to their defaults."""
        def default(n: int) -> float:
            fixed, per_node = STARTUP_S if kind is StepKind.STARTUP else WARMUP_S[mode]
            return fixed + per_node * n
        seen = [s for s in self.steps if s.kind is kind and s.mode == mode and s.key in self.took]
        expected = sum(default(s.nodes) for s in seen)
        ratio = sum(self.took[s.key] for s in seen) / expected if expected > 0 else 1.0
        return default(nodes) * ratio

    def _deployed(self) -> list[Step]:
        return [s for s in self.steps if s.kind is StepKind.DEPLOYMENT and s.key in self.took]

    def _deploy_rate(self) -> float:
        """Rows a second on a slot: the last deployment's scoring, or the default."""
        done = [s for s in self._deployed() if self.reported[s.key] > 0]
        if not done:
            return DEPLOY_ROWS_PER_SLOT_S
        last = done[-1]
        return last.rows / (self.reported[last.key] * last.slots)

    def _retrain(self) -> float:
        """The first deployment retrains the chosen configuration once: a mean 1-node trial."""
        if self._deployed() or self._model is None:
            return 0.0
        durations = self._model.durations
        return sum(durations.values()) / len(durations)
