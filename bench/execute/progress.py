"""What a run tells whoever watches it: its steps, planned up front, and each step's start,
trials and end. execute only emits these events (``RunObserver``); a higher layer shows them
(bench.report.progress_display), so execute never imports a display or the model."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bench.definitions.profile import ClusterProfile
from bench.store.records import Mode, Order, TrialResult


class StepKind(str, enum.Enum):
    """The kinds of step a run makes; the value is what a finished one is called."""

    STARTUP = "cluster started"
    WARMUP = "warm-up done"
    GRID = "grid done"
    FLOOR = "floor done"
    DEPLOYMENT = "deployment done"


@dataclass(frozen=True)
class Step:
    """One step of a run. Its ``key`` is the same whether it was planned or is being made, so
    the plan and the events meet."""

    kind: StepKind
    label: str  # what a line names it by, e.g. "2-node measured repeat 1/3"
    profile: str
    nodes: int
    slots: int
    mode: Mode | None = None  # None for a cluster's start-up
    repeat: int | None = None  # a grid run's repeat number (extra runs after the row's)
    trial_ids: tuple[str, ...] = ()  # a grid's or floor's trials (their order may change)
    order: Order = "grid"  # the order they are dispatched in
    reference: bool = False  # a 1-node measured repeat: its durations drive the model
    rows: int = 0  # a deployment step's rows

    @property
    def key(self) -> tuple[StepKind, str, Mode | None, int | None]:
        return (self.kind, self.profile, self.mode, self.repeat)

    @property
    def trials(self) -> int:
        return len(self.trial_ids)


def startup_step(profile: ClusterProfile) -> Step:
    return Step(StepKind.STARTUP, profile.name, profile.name, profile.nodes, profile.slots)


def warmup_step(profile: ClusterProfile, mode: Mode) -> Step:
    return Step(StepKind.WARMUP, f"{profile.name} {mode.value}", profile.name, profile.nodes,
                profile.slots, mode)


def grid_step(profile: ClusterProfile, mode: Mode, repeat: int, label: str,
              trial_ids: Sequence[str], order: Order, row: bool,
              name: str | None = None) -> Step:
    """A grid run; ``row``: one of the row's repeats (not an extra run); ``name``: its row's
    name where a back-end other than the default runs it."""
    return Step(StepKind.GRID, label, name or profile.name, profile.nodes, profile.slots, mode,
                repeat, tuple(trial_ids), order,
                reference=row and name in (None, profile.name) and profile.nodes == 1
                and mode is Mode.MEASURED)


def floor_step(profile: ClusterProfile, name: str, trial_ids: Sequence[str],
               order: Order, repeat: int = 0, repeats: int = 1) -> Step:
    of = f" repeat {repeat + 1}/{repeats}" if repeats > 1 else ""
    return Step(StepKind.FLOOR, f"{name} measured{of} (process pool, no Spark)", name,
                profile.nodes, profile.slots, Mode.MEASURED, repeat, tuple(trial_ids), order)


def deployment_step(profile: ClusterProfile, mode: Mode, rows: int) -> Step:
    return Step(StepKind.DEPLOYMENT, f"{profile.name} {mode.value} (deployment, {rows:,} rows)",
                profile.name, profile.nodes, profile.slots, mode, rows=rows)


class RunObserver:
    """Hears a run's steps. This one ignores them (no display); a display overrides each method.
    Methods may be called from threads other than the main one (a floor's trial)."""

    def planned(self, steps: Sequence[Step]) -> None:
        """Every step the run means to make, in order, before the first starts."""

    def started(self, step: Step) -> None:
        """``step`` begins."""

    def trial_done(self, step: Step) -> None:
        """One more trial of the grid or floor ``step`` has its result."""

    def finished(self, step: Step, seconds: float, trials: Sequence[TrialResult] = ()) -> None:
        """``step`` ended after ``seconds`` (a grid's: its wall time); a grid's trials."""

    def skipped(self, step: Step) -> None:
        """A planned ``step`` that will not be made after all."""
