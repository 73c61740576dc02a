"""The grid runs beside a row's repeats (ProfileRun.is_extra): order checks, the grid in the
other dispatch order, and weak-scaling runs, the grid's first k x N trials on N nodes."""

from __future__ import annotations

from bench.analyse import scalability, scaling_model
from bench.analyse.summary import OrderCheck, RunSummary, WeakRun
from bench.store.records import Mode, ProfileRun

MODE_ORDER = {Mode.MEASURED: 0, Mode.REPLAY: 1, Mode.MODEL: 2}  # how rows of one profile sort


def weak_runs(summary: RunSummary, runs: list[ProfileRun]) -> list[WeakRun]:
    """The latest weak-scaling run of each profile and mode, with the 1-node compute of its
    trials (the reference row's, mean over repeats) as the serial time it stands for, and its
    scaled speedup and weak efficiency."""
    ref = next((r for r in summary.rows
                if r.mode is Mode.MEASURED and r.name == summary.reference), None)
    latest = {(r.profile, r.mode): r for r in sorted(runs, key=lambda r: r.started_at)}
    out = []
    for (name, mode), r in latest.items():
        serial = ([ref.trial_compute_s[t] for t in r.weak_trial_ids]
                  if ref and all(t in ref.trial_compute_s for t in r.weak_trial_ids) else None)
        trials = len(r.weak_trial_ids)
        point = (scalability.weak_point(r.nodes, trials, serial, r.wall_s, mode)
                 if serial else None)
        out.append(WeakRun(name, mode, r.nodes, trials, r.wall_s, serial, point))
    return sorted(out, key=lambda w: (w.nodes, w.name, MODE_ORDER[w.mode]))


def order_checks(summary: RunSummary, checks: list[ProfileRun]) -> list[OrderCheck]:
    """Each order check beside its row, and the model's makespan in both orders."""
    out = []
    for check in checks:
        row = next((r for r in summary.rows if (r.name, r.mode) == (check.profile, check.mode)),
                   None)
        if row is None:
            continue
        model = other = None
        if summary.model_durations_s and summary.overheads is not None:
            model = scaling_model.simulate_makespan(summary.model_durations_s, row.slots,
                                                    summary.overheads, summary.order)
            other = scaling_model.simulate_makespan(summary.model_durations_s, row.slots,
                                                    summary.overheads, check.order)
        out.append(OrderCheck(row.name, row.slots, summary.order, row.wall.mean, check.order,
                              check.wall_s, model, other,
                              gain=(check.wall_s - row.wall.mean) / check.wall_s))
    return out
