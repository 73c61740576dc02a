"""The model of docs/method.md: the grid on N slots simulated from the 1-node run, and where the
speedup went (the waterfall). Pure functions, no I/O; every figure here is labelled ``model``.

The model is list scheduling, as Spark runs one stage: tasks are launched in partition (grid)
order, each free slot takes the next trial. A trial costs its compute measured on 1 node (what a
replayed trial sleeps for) plus the overheads measured around the 1-node run's trials
(``Overheads``). Warm-up and cluster start-up happen before the clock starts (``warm_up_workers``
runs before ``run_grid`` takes ``dispatched_at``), so the model reports them and never adds them
to the wall time, as T(N) is defined (docs/method.md, "Time").
"""

from __future__ import annotations

import heapq
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bench.store.records import COMPUTE_PHASES, Mode, Order, TrialResult

ERROR_TARGET = 0.10  # the target for |model - observed| / observed
SHOWN_NODES = (1, 2, 4, 8, 13, 16, 32, 64)  # what the report prints of the model's points


@dataclass(frozen=True)
class Overheads:
    """What a trial costs beyond its compute, in seconds, from one grid run's records.

    Driver timestamps (``dispatched_at``, ``received_at``) and executor ones (``started_at``,
    ``ended_at``) are compared directly: on one host they are the same clock; a gap that clock
    skew makes negative counts as 0.
    """

    # The job submitted -> a first-wave trial starting in its Python worker (task serialisation,
    # launch, the worker picking it up): the mean over the trials that found their slot free.
    launch_s: float = 0.0
    # A slot idle between two trials: the previous trial's end on the executor -> the next one's
    # start there (Spark hearing of the end, launching the next task). Mean over the other trials.
    dispatch_s: float = 0.0
    # Inside the task but neither compute nor fetch (asking the driver whether to run, the
    # machine probe): mean of (started -> ended) - compute phases - fetch.
    in_task_s: float = 0.0
    # Reading the broadcast data in a worker that holds it already: mean 'fetch' phase of the
    # trials after the first wave.
    fetch_s: float = 0.0
    # What a first-wave trial's fetch costs on top of fetch_s (a fresh worker copies the
    # broadcast; later repeats on the same workers find it cached, so it is a mean over repeats).
    first_fetch_s: float = 0.0
    # The last trial's end on the executor -> its result at the driver: mean 'collect'.
    collect_s: float = 0.0
    # Beside T(N), never in it: TensorFlow imported in every slot, and the cluster started.
    warmup_s: float = 0.0
    startup_s: float = 0.0

    @property
    def per_task_s(self) -> float:
        """Every trial after a slot's first pays this on top of its compute."""
        return self.dispatch_s + self.in_task_s + self.fetch_s

    @property
    def first_task_s(self) -> float:
        """A slot's first trial pays this instead."""
        return self.launch_s + self.in_task_s + self.fetch_s + self.first_fetch_s


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def _compute(t: TrialResult) -> float:
    return sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES)


def estimate_overheads(trials: Iterable[TrialResult], slots: int, *, warmup_s: float = 0.0,
                       startup_s: float = 0.0) -> Overheads:
    """Overheads of one profile and mode (every repeat pooled) run on ``slots``.

    Each repeat is replayed as the runner ran it: trials in the order they started, each taking
    the slot free the longest (all free at ``dispatched_at``). The first ``slots`` are the first
    wave; each later trial's slot became free when an earlier trial ended.
    """
    # One grid run per (repeat, job submitted): a resumed repeat is two runs.
    by_repeat: dict[tuple[int, float], list[TrialResult]] = defaultdict(list)
    for t in trials:
        if None not in (t.dispatched_at, t.started_at, t.ended_at, t.received_at):
            by_repeat[(t.repeat, t.dispatched_at)].append(t)
    launch, gaps, in_task, fetch, first_fetch, collect = [], [], [], [], [], []
    for repeat_trials in by_repeat.values():
        ordered = sorted(repeat_trials, key=lambda t: (t.started_at, t.index))
        free = [ordered[0].dispatched_at] * slots
        for i, t in enumerate(ordered):
            idle = max(0.0, t.started_at - heapq.heappop(free))
            heapq.heappush(free, t.ended_at)
            (launch if i < slots else gaps).append(idle)
            (first_fetch if i < slots else fetch).append(t.phases.get("fetch", 0.0))
            in_task.append(max(0.0, t.task_seconds - _compute(t) - t.phases.get("fetch", 0.0)))
            collect.append(max(0.0, t.received_at - t.ended_at))
    fetch_s = _mean(fetch)
    return Overheads(
        launch_s=_mean(launch), dispatch_s=_mean(gaps), in_task_s=_mean(in_task),
        fetch_s=fetch_s, first_fetch_s=max(0.0, _mean(first_fetch) - fetch_s) if first_fetch
        else 0.0, collect_s=_mean(collect), warmup_s=warmup_s, startup_s=startup_s)


def simulate_makespan(durations: Sequence[float], slots: int,
                      overheads: Overheads | None = None, order: Order = "grid") -> float:
    """Grid wall time of these compute times on ``slots``: list scheduling, deterministic.

    ``grid``: trials taken in the order given (Spark launches a stage's tasks in partition
    order); ``longest_first``: the longest first (LPT), as execute.trial_order dispatches them.
    A slot's first trial pays ``first_task_s``, every later one ``per_task_s``, and the driver
    launches tasks one at a time, ``dispatch_s`` apart at least; the wall time ends when the
    last result reaches the driver (``collect_s`` after the last end).
    """
    if slots < 1:
        raise ValueError(f"slots must be at least 1, not {slots}")
    if not durations:
        return 0.0
    o = overheads or Overheads()
    queue = sorted(durations, reverse=True) if order == "longest_first" else list(durations)
    free = [(0.0, slot) for slot in range(slots)]  # (free at, slot): ties go to the lowest slot
    fresh = set(range(slots))
    last_end = 0.0
    last_start = -o.dispatch_s
    for d in queue:
        at, slot = heapq.heappop(free)
        # The driver launches one task at a time: a launch comes at least dispatch_s after the
        # one before it, so a wide first wave starts in a staircase (on one slot this never binds).
        gap = o.launch_s if slot in fresh else o.dispatch_s
        start = max(at + gap, last_start + o.dispatch_s)
        work = o.in_task_s + o.fetch_s + (o.first_fetch_s if slot in fresh else 0.0)
        end = start + work + d
        last_start = start
        fresh.discard(slot)
        last_end = max(last_end, end)
        heapq.heappush(free, (end, slot))
    return last_end + o.collect_s


@dataclass(frozen=True)
class ModelPoint:
    """The model's prediction for one node count."""

    nodes: int
    slots: int
    wall_s: float  # grid order, as the runner dispatches
    speedup: float
    longest_first_wall_s: float
    longest_first_speedup: float
    mode: Mode = Mode.MODEL


def predict(durations: Sequence[float], overheads: Overheads,
            nodes_list: Iterable[int] = range(1, 65), *, slots_per_node: int = 1,
            t1: float | None = None) -> list[ModelPoint]:
    """Predicted wall time and speedup on each node count.

    Speedups divide ``t1``, the measured 1-node wall time, when given: the measured and replayed
    speedups divide it too, so all of them compare like for like. Without it, they divide the
    model's own 1-node prediction (grid order).
    """
    base = t1 if t1 is not None else simulate_makespan(durations, slots_per_node, overheads)
    points = []
    for nodes in nodes_list:
        slots = nodes * slots_per_node
        grid = simulate_makespan(durations, slots, overheads)
        lpt = simulate_makespan(durations, slots, overheads, "longest_first")
        points.append(ModelPoint(nodes, slots, grid, base / grid, lpt, base / lpt))
    return points


@dataclass(frozen=True)
class ModelError:
    """The model against one measured or replayed row."""

    name: str
    mode: Mode
    nodes: int
    slots: int
    predicted_wall_s: float
    observed_wall_s: float  # the row's mean wall time
    error: float  # (predicted - observed) / observed: positive when the model is pessimistic
    in_sample: bool  # the overheads were estimated from this row's own trials

    @property
    def within_target(self) -> bool:
        return abs(self.error) <= ERROR_TARGET


@dataclass(frozen=True)
class Step:
    stage: str  # ideal, bound, replay, measured
    speedup: float
    lost_to: str  # what the drop from the previous stage is; "" for ideal


@dataclass(frozen=True)
class Waterfall:
    """Where one profile's speedup went, stage by stage."""

    name: str
    nodes: int
    steps: list[Step]
    skipped: list[str] = field(default_factory=list)  # stages this run has no row for
    stragglers: list[str] = field(default_factory=list)  # held the last stage's last wave


def stragglers(trials: Iterable[TrialResult], slots: int) -> list[TrialResult]:
    """The trials that held the last wave, longest first.

    Once the last trial has started no slot gets new work, so the trials still running then
    (ending after that start) decide when the grid ends. At most ``slots`` of them; trials of
    one grid run (one repeat) are expected.
    """
    timed = [t for t in trials if t.task_seconds is not None]
    if not timed:
        return []
    last_start = max(t.started_at for t in timed)
    tail = [t for t in timed if t.ended_at > last_start]
    return sorted(tail, key=lambda t: (-t.task_seconds, t.index))[:slots]
