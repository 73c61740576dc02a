"""The history's recent runs as one reference: what `bench check RUN --history` judges RUN
against, and the verdict each entry keeps of the history before it.

The K most recent entries of the run's workload, grid and machine with the same definition
hashes and no test knob are pooled: each row's repeats become samples of one reference (the wall
samples and their machine probes, which every figure at equal machine speed is computed from),
its ratios recomputed from the pooled means as the summary computes them; the exact figures
(test errors, counts, each trial's metrics) are the newest entry's.
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Sequence
from typing import Any

from bench.compare import gate
from bench.compare.comparison import compare
from bench.compare.results import Result
from bench.errors import NoReference
from bench.history.entries import Entry


def definition(summary: dict[str, Any]) -> tuple:
    """What must be equal for two runs to compare: the workload's and each row's definition."""
    rows = sorted((p["name"], p["mode"], p.get("hash")) for p in summary["profiles"])
    return summary.get("workload_hash"), tuple(rows)


def usable(entries: Sequence[Entry], summary: dict[str, Any], recent: int) -> list[Entry]:
    """The ``recent`` newest entries that can judge ``summary``'s run: same definition, no test
    knob, not the run itself, on the same machine (oldest first)."""
    wanted = definition(summary)
    fit = [e for e in entries
           if not e.knobs and not _same_run(e, summary)
           and e.summary.get("machine") == summary.get("machine")
           and definition(e.summary) == wanted]
    return fit[-recent:] if recent > 0 else []


def _same_run(entry: Entry, summary: dict[str, Any]) -> bool:
    """A run already added is not its own reference. Its id is its start second and workload,
    which runs in other folders can share: the commit tells them apart where it is known."""
    commit = (summary.get("environment") or {}).get("git_commit")
    return entry.run_id == summary.get("run_id") and commit in (None, entry.commit)


def pooled(entries: Sequence[Entry]) -> dict[str, Any]:
    """One summary document of ``entries`` (oldest first): see the module's docstring."""
    newest = entries[-1].summary
    doc = copy.deepcopy(newest)
    doc["run_id"] = f"history of {len(entries)} runs"
    rows = {(p["name"], p["mode"]): p for p in doc["profiles"]}
    for key, row in rows.items():
        same = [r for e in entries for r in e.summary["profiles"] if (r["name"], r["mode"]) == key]
        _pool_row(row, same)
    one = rows.get((doc.get("reference"), "measured"))
    for row in rows.values():
        if one is not None and row.get("speedup") is not None:
            row["speedup"] = one["wall_s"] / row["wall_s"]
            row["efficiency"] = row["speedup"] / row["nodes"]
    return doc


def _pool_row(row: dict[str, Any], same: list[dict[str, Any]]) -> None:
    walls = [w for r in same for w in r["wall_samples_s"]]
    probes = [p for r in same for p in (r.get("probe_samples_s") or [])]
    row["wall_samples_s"] = walls
    row["probe_samples_s"] = probes if len(probes) == len(walls) and all(probes) else []
    row["wall_s"] = statistics.fmean(walls)
    row["repeats"] = len(walls)
    row["speedup_interval"] = None  # of one run's repeats: the comparison does not read it
    trials = set.intersection(*(set(r.get("trial_compute_s") or {}) for r in same))
    row["trial_compute_s"] = {t: statistics.fmean(r["trial_compute_s"][t] for r in same)
                              for t in sorted(trials)}
    bounds = [r.get("bound_makespan_s") for r in same]
    if None in bounds:
        return
    bound = statistics.fmean(bounds)  # type: ignore[arg-type]
    row["bound_makespan_s"] = bound
    row["efficiency_vs_bound"] = bound / row["wall_s"]
    per_slot = sum(row["trials"].values()) / row["slots"]
    row["overhead_per_trial_s"] = (row["wall_s"] - bound) / per_slot


def label(entries: Sequence[Entry]) -> str:
    first, last = entries[0], entries[-1]
    span = first.short if len(entries) == 1 else f"{first.short} ... {last.short}"
    return f"history: {len(entries)} recent run(s), {span}"


def reference_from_history(run: Result, entries: Sequence[Entry], recent: int,
                           where: str) -> Result:
    """The pooled reference ``run`` is judged against; a user error when the history has no
    usable entry (as when no reference was saved)."""
    fit = usable(entries, run.summary, recent)
    if not fit:
        doc = run.summary
        raise NoReference(
            f"no usable reference in the history for {doc['workload']} grid '{doc['grid']}' on "
            f"this kind of machine ({doc['machine']}): {len(entries)} entries, none with this "
            "run's definition and without a test knob", where=where,
            fix="add runs of this machine to it: bench history add RUN_DIR (or check against "
                "a saved reference: bench check RUN)")
    return Result(label(fit), fit[-1].path.parent, pooled(fit))


def verdict(summary: dict[str, Any], history: Sequence[Entry], recent: int) -> dict[str, Any]:
    """The gate on a run against the recent entries of ``history`` (those before it), as an
    entry keeps it: pass, regression (each figure named), no reference or not comparable."""
    fit = usable(history, summary, recent)
    if not fit:
        return {"status": "no reference", "against": [], "regressions": []}
    comparison = compare(pooled(fit), summary, a_label=label(fit), b_label=summary["run_id"])
    against = [e.run_id for e in fit]
    if comparison.mismatches:
        return {"status": "not comparable", "against": against, "regressions": [],
                "why": "; ".join(comparison.mismatches)}
    found = gate.regressions(comparison)
    return {"status": "regression" if found else "pass", "against": against,
            "regressions": [{"scope": fc.scope, "figure": fc.figure.key,
                             "line": gate.describe(fc)} for fc in found]}
