"""The order a grid's trials are dispatched in.

Spark launches a stage's tasks in partition order and each free slot takes the next one, so the
order decides the last wave. ``longest_first`` (LPT scheduling) puts the longest trials in the
first waves and lets the short ones fill the gaps at the end; ``grid`` keeps the workload's own
order, the 2016 pattern. How long a trial will take comes from the durations measured on 1 node in
this run when there are some (what replay sleeps for, and what the model simulates), otherwise
from a cost estimate of the configuration.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from bench.definitions.workload import TrialSpec
from bench.store.records import COMPUTE_PHASES, ORDERS, Order, TrialResult, TrialStatus


def cost_estimate(params: Mapping[str, object]) -> float:
    """A trial's relative cost before anything ran: its hidden units (neurons x layers).

    Only the order matters, and for a fixed dataset and number of epochs the work of a dense
    network grows with its width and depth; other hyperparameters (the learning rate) leave it
    unchanged. Configurations without these keys tie and keep their grid order.
    """
    neurons = params.get("neurons", 1)
    layers = params.get("layers", 1)
    if isinstance(neurons, (int, float)) and isinstance(layers, (int, float)):
        return float(neurons) * float(layers)
    return 1.0


def measured_seconds(trials: Iterable[TrialResult]) -> dict[str, float]:
    """Each trial's compute measured on 1 node, mean over repeats. A trial that diverged ran
    short; its duration is what it will take again (same seed), so it counts as measured."""
    by_trial: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        if t.status is not TrialStatus.CRASHED:
            by_trial[t.trial_id].append(sum(t.phases.get(p, 0.0) for p in COMPUTE_PHASES))
    return {trial_id: statistics.fmean(s) for trial_id, s in by_trial.items() if s}


def ordered(specs: Sequence[TrialSpec], order: Order,
            expected_s: Mapping[str, float] | None = None) -> list[TrialSpec]:
    """``specs`` in dispatch order. ``longest_first`` sorts by ``expected_s`` where it knows the
    trial, by ``cost_estimate`` where no trial is known; ties keep the grid order (stable)."""
    if order == "grid":
        return list(specs)
    if order != "longest_first":
        raise ValueError(f"unknown trial order {order!r}; choose one of {', '.join(ORDERS)}")
    known = expected_s or {}
    if all(s.trial_id in known for s in specs):
        return sorted(specs, key=lambda s: -known[s.trial_id])
    return sorted(specs, key=lambda s: -cost_estimate(s.params))
