"""summary.json: the run summary as the stable document scripts, `bench compare` and the gate
read."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from bench.analyse.backends import backend_name
from bench.analyse.summary import Accuracy, RunSummary
from bench.cluster.environment import machine_fingerprint
from bench.store.records import FORMAT_VERSION


def _finite(value: Any) -> Any:
    """Strict JSON has no NaN or infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# What summary.json holds. 2: per-repeat samples, overheads, per-trial compute and metrics,
# Spark counts, profile hashes and thresholds, which `bench compare` and `bench check` read.
# 3: the machine probe beside each wall sample, which the gate's time figures are divided by.
# Keys added since without a new version (readers of 3 ignore them): the accuracy block's
# intervals (test_images, *_interval, significant, mcnemar_p, *_only_wrong).
SUMMARY_VERSION = 3


def to_json(summary: RunSummary, meta: dict) -> dict:
    """summary.json. The documented keys are stable: users' CI scripts read them."""
    profile_hashes = {p["name"]: p.get("hash") for p in meta.get("profiles", [])}
    profiles = [{
        "name": r.name, "mode": r.mode.value, "nodes": r.nodes, "cores": r.cores,
        "slots": r.slots, "repeats": r.wall.n, "wall_s": r.wall.mean, "wall_sd_s": r.wall.sd,
        "wall_min_s": r.wall.min, "wall_max_s": r.wall.max, "speedup": r.speedup,
        "speedup_interval": r.speedup_interval, "efficiency": r.efficiency,
        "bound_speedup": r.bound_speedup, "bound_makespan_s": r.bound_makespan_s,
        "efficiency_vs_bound": r.efficiency_vs_bound, "karp_flatt": r.karp_flatt,
        "startup_s": r.startup_s, "warmup_s": r.warmup_s, "oversubscribed": r.oversubscribed,
        "replay_error": r.replay_error, "trials": r.trials, "cold_trials": r.cold_trials,
        "phases_s": r.phases_s, "wall_samples_s": r.wall_samples_s,
        "probe_samples_s": r.probe_samples_s,
        "overhead_per_trial_s": r.overhead_per_trial_s, "trial_compute_s": r.trial_compute_s,
        "trial_cpu_s": r.trial_cpu_s,
        "spark": r.spark, "lost_attempts": r.lost_attempts, "lost_executors": r.lost_executors,
        "recovery_s": sum(a["recovery_s"] or 0.0 for a in r.lost_attempts),
        "hash": profile_hashes.get(r.name), "stragglers": r.stragglers,
        "slot_seconds": r.slot_seconds, "data_fetch_s": r.data_fetch_s,
        # the back-end that ran it (bench.execute.backends): a row's identity includes it
        "backend": backend_name(r), "backend_start_s": r.backend_start_s,
        "workers_started": r.workers_started,
    } for r in [*summary.rows, *summary.backend_rows]]
    acc = summary.accuracy
    accuracy = None if acc is None else {
        "source": acc.source, "baseline_params": acc.baseline_params,
        "baseline_test_error": acc.baseline_test_error, "best_trial_id": acc.best_trial_id,
        "best_params": acc.best_params, "best_val_error": acc.best_val_error,
        "best_test_error": acc.best_test_error,
        "relative_error_reduction": acc.relative_error_reduction,
        "metrics_identical": acc.metrics_identical, "compared_runs": acc.compared,
        "mismatches": [m.__dict__ for m in acc.mismatches], **_intervals_json(acc),
    }
    return _finite({
        "format_version": FORMAT_VERSION, "summary_version": SUMMARY_VERSION,
        "run_id": summary.run_id, "workload": summary.workload, "grid": summary.grid,
        "workload_hash": meta.get("workload", {}).get("hash"),
        # what changed the workload file's [dataset] / [training] for this run, and from where
        "settings": meta.get("workload", {}).get("settings", {}),
        "reference": summary.reference, "profiles": profiles, "accuracy": accuracy,
        "trial_metrics": summary.trial_metrics,
        "thresholds": meta.get("workload", {}).get("thresholds"),
        "test_knobs": meta.get("test_knobs", {}),
        "machine": machine_fingerprint(summary.environment),
        "environment": summary.environment, "notes": summary.notes, **_model_json(summary),
        "published_2016": summary.published.to_json() if summary.published else None,
    })


def _intervals_json(acc: Accuracy) -> dict:
    """The accuracy block's 95 % intervals (bench.analyse.test_error_intervals), [low, high]
    fractions like the errors; every key null in a run that did not record which test images its
    trials got wrong."""
    i = acc.intervals

    def pair(value: tuple[float, float] | None) -> list[float] | None:
        return None if value is None else list(value)

    return {
        "test_images": i.n if i else None,
        "baseline_test_error_interval": pair(i.baseline_interval) if i else None,
        "best_test_error_interval": pair(i.best_interval) if i else None,
        "relative_error_reduction_interval": pair(i.reduction_interval) if i else None,
        "significant": i.significant if i else None,
        "mcnemar_p": i.mcnemar_p if i else None,
        "baseline_only_wrong": i.baseline_only if i else None,
        "best_only_wrong": i.best_only if i else None,
    }


def _model_json(summary: RunSummary) -> dict:
    """The model's keys of summary.json: its points, overheads, errors and waterfalls."""
    o = summary.overheads
    return {
        "model": [{**dataclasses.asdict(p), "mode": p.mode.value} for p in summary.model],
        "model_overheads": None if o is None else {
            **dataclasses.asdict(o), "per_task_s": o.per_task_s, "first_task_s": o.first_task_s},
        "model_errors": [{**dataclasses.asdict(e), "mode": e.mode.value,
                          "within_target": e.within_target} for e in summary.model_errors],
        "waterfalls": [dataclasses.asdict(w) for w in summary.waterfalls],
        "order": summary.order,
        "order_checks": [{"name": c.name, "slots": c.slots, "order": c.order,
                          "wall_s": c.wall_s, "other_order": c.other_order,
                          "other_wall_s": c.other_wall_s, "model_wall_s": c.model_wall_s,
                          "model_other_wall_s": c.model_other_wall_s}
                         for c in summary.order_checks],
        "weak_scaling": [{"name": w.name, "mode": w.mode.value, "nodes": w.nodes,
                          "trials": w.trials, "wall_s": w.wall_s,
                          "serial_s": None if w.serial_s is None else list(w.serial_s),
                          "scaled_speedup": w.point.scaled_speedup if w.point else None,
                          "weak_efficiency": w.point.efficiency if w.point else None}
                         for w in summary.weak_runs],
        "deployment": [d.to_dict() for d in summary.deployments],
    }
