"""bench's pull dispatcher: one long-lived Spark task per slot asks the driver for its next trial
over the result channel, until the grid is done.

The map launches one Spark task per trial: on 13 executors that cost 0.2-0.35 s before each
first-wave trial and 0.55 s per trial over the bound (13-node replay, 2026-12). Here the slots'
tasks start once; the driver holds their first question until every slot has asked (or
``GATHER_S`` passed), so the first wave leaves together, and the clock starts with the first
trial handed out (the tasks' launch is reported beside it, as the warm-up is).

A lost executor's task is re-launched by Spark; its new attempt's first question puts the trial
its predecessor held back at the head of the queue, to run once, elsewhere. That trial's attempt
number rises, so the attempt referee (bench.execute.attempts) judges it as it judges the map's
re-runs: the executor was lost, run it; its Python worker died while the executor stayed up,
record it as crashed or out of memory and go on.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bench.execute.backends.base import GridSubmission, Referee
from bench.execute.tasks import pull_trials

GATHER_S = 5.0  # the longest the first question waits for the other slots' tasks to start


@dataclass
class _Held:
    trial_id: str
    attempt: int  # the trial's
    task_attempt: int  # the Spark attempt of the slot's task that holds it


class PullQueue:
    """The driver's side: hands out the grid's trials in order, one at a time per slot.

    Called from the result channel's handler threads, hence the condition."""

    def __init__(self, payloads: list[dict], slots: int, attempts: Referee,
                 dispatched: Callable[[], None], gather_s: float = GATHER_S) -> None:
        self._payloads = {p["trial_id"]: p for p in payloads}
        self._queue = deque(p["trial_id"] for p in payloads)
        self._slots, self._gather_s = slots, gather_s
        self._attempts, self._dispatched = attempts, dispatched
        self._cond = threading.Condition()
        self._held: dict[int, _Held] = {}  # slot -> the trial its task runs now
        self._handed: dict[str, int] = {}  # trial -> times handed out
        self._done: set[str] = set()  # trials whose result arrived
        self._asked: set[int] = set()  # slots whose task has asked
        self._first_ask: float | None = None
        self.requeued: list[str] = []  # trials given back by a lost slot's task, in order

    def hear(self, message: dict) -> dict | None:
        if "next" in message:
            return self._next(message["next"])
        if "result" in message:
            with self._cond:
                self._done.add(message["result"]["trial_id"])
        return self._attempts(message)

    def _next(self, ask: dict) -> dict:
        slot, task_attempt = ask["slot"], ask["task_attempt"]
        with self._cond:
            held = self._held.pop(slot, None)
            # its task died under it (a new attempt of the slot asks): run it again
            if held is not None and held.trial_id not in self._done \
                    and held.task_attempt < task_attempt:
                self._queue.appendleft(held.trial_id)
                self.requeued.append(held.trial_id)
            self._gather(slot)
            if not self._queue:
                return {"done": True}
            trial_id = self._queue.popleft()
            attempt = self._handed.get(trial_id, 0)
            self._handed[trial_id] = attempt + 1
            self._held[slot] = _Held(trial_id, attempt, task_attempt)
            if len(self._handed) == 1 and attempt == 0:
                self._dispatched()
            return {"trial": self._payloads[trial_id], "attempt": attempt}

    def _gather(self, slot: int) -> None:
        """Hold the first wave until every slot's task has asked, or ``gather_s`` has passed."""
        self._asked.add(slot)
        now = time.monotonic()
        if self._first_ask is None:
            self._first_ask = now
        if len(self._asked) >= self._slots:
            self._cond.notify_all()
            return
        deadline = self._first_ask + self._gather_s
        while len(self._asked) < self._slots and (left := deadline - time.monotonic()) > 0:
            self._cond.wait(left)


class PullDispatcher:
    name = "pull"

    def __init__(self) -> None:
        self.queue: PullQueue | None = None

    def referee(self, grid: GridSubmission, attempts: Referee,
                dispatched: Callable[[], None]) -> Referee:
        self.queue = PullQueue(grid.payloads, min(grid.slots, len(grid.payloads)), attempts,
                               dispatched)
        return self.queue.hear

    def run(self, grid: GridSubmission) -> list[dict]:
        tasks = min(grid.slots, len(grid.payloads))
        loop = functools.partial(pull_trials, data_bc=grid.data_bc, settings=grid.settings)
        return grid.sc.parallelize(range(tasks), tasks).mapPartitions(loop).collect()
