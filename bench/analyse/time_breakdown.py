"""Where a grid's wall time went: every slot's time from dispatch to the last result, split.

On ``slots`` slots a grid of wall time T has slots x T slot-seconds. Each of them is exactly one
of: waiting for a task to arrive (the driver launching it: dispatch), a trial's own phases
(fetch, probe, build, train, evaluate, cleanup), the rest of a task (asking the driver whether to
run, sending the result: ``task other``), or idle after the slot's last trial, while the last
wave runs and the last result travels back (``idle``). Cluster start-up and warm-up come before
T and are reported beside it (docs/method.md, "Time").
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable

from bench.store.records import TrialResult

IN_TASK = ("fetch", "probe", "build", "train", "evaluate", "cleanup")
PARTS = ("dispatch", *IN_TASK, "task other", "idle")


def slot_seconds(trials: Iterable[TrialResult], slots: int, wall_s: float) -> dict[str, float]:
    """Slot-seconds per part (PARTS) of one grid run; they add up to ``slots * wall_s``.

    Trials take the slot free the longest, in the order they started, as Spark hands a free slot
    the next task; the first wave finds every slot free at the job's dispatch.
    """
    timed = sorted((t for t in trials if None not in (t.dispatched_at, t.started_at,
                                                       t.ended_at)),
                   key=lambda t: (t.started_at, t.index))
    parts = dict.fromkeys(PARTS, 0.0)
    if not timed:
        return parts
    begin = timed[0].dispatched_at
    end = begin + wall_s
    free = [begin] * slots
    for t in timed:
        parts["dispatch"] += max(0.0, t.started_at - heapq.heappop(free))
        heapq.heappush(free, t.ended_at)
        inside = 0.0
        for name in IN_TASK:
            parts[name] += t.phases.get(name, 0.0)
            inside += t.phases.get(name, 0.0)
        parts["task other"] += max(0.0, (t.ended_at - t.started_at) - inside)
    parts["idle"] = sum(max(0.0, end - at) for at in free)
    return parts


def mean_slot_seconds(trials: Iterable[TrialResult], slots: int,
                      walls: dict[int, float]) -> dict[str, float]:
    """``slot_seconds`` of every repeat in ``walls`` (repeat -> wall time), averaged."""
    by_repeat: dict[int, list[TrialResult]] = defaultdict(list)
    for t in trials:
        if t.repeat in walls:
            by_repeat[t.repeat].append(t)
    splits = [slot_seconds(ts, slots, walls[r]) for r, ts in by_repeat.items()]
    if not splits:
        return {}
    return {p: sum(s[p] for s in splits) / len(splits) for p in PARTS}
