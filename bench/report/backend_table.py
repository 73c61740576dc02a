"""The back-end comparison's cells (`bench run --backends`): one table per profile and mode,
one row per back-end (bench.analyse.backends computes every figure)."""

from __future__ import annotations

from bench.analyse.summary import BackendEntry, BackendTable, RunSummary
from bench.report.formats import DASH, num

HEADERS = ["back-end", "time (mean ± sd) s", "x floor", "speedup", "eff. vs bound",
           "overhead/trial s", "back-end start s", "workers started", "TF imports"]

INTRO = ("Back-ends: the same trials (same seeds, same broadcast data) through each back-end, "
         "repeat by repeat one after another; speedup against the same 1-node row, x floor "
         "the median of each repeat's wall time over the floor's beside it, back-end start "
         "outside the wall time (the pull dispatcher's tasks starting, a Ray cluster), workers "
         "started and TensorFlow imports inside the grid, per repeat.")


def title(t: BackendTable) -> str:
    return f"{t.profile} ({t.mode.value}, {t.slots} slots)"


def cells(t: BackendTable) -> list[list[str]]:
    return [_cells(e) for e in t.entries]


def _cells(e: BackendEntry) -> list[str]:
    r = e.row
    sd = f" ± {r.wall.sd:.2f}" if r.wall.n > 1 else ""
    return [e.backend, f"{r.wall.mean:.2f}{sd}", num(e.floor_ratio, 3), num(r.speedup),
            num(r.efficiency_vs_bound, 3), num(r.overhead_per_trial_s, 3),
            num(r.backend_start_s, 2), num(r.workers_started, 1) if r.workers_started is not None
            else DASH, num(e.tensorflow_imports, 1)]


def loss_lines(t: BackendTable) -> list[str]:
    """Where each back-end lost its speedup against the bound: its waterfall, in words."""
    out = []
    for e in t.entries:
        r = e.row
        if r.speedup is None or r.bound_speedup is None:
            continue
        parts = [f"bound {r.bound_speedup:.2f}x -> {r.speedup:.2f}x"]
        if r.overhead_per_trial_s is not None:
            parts.append(f"{r.overhead_per_trial_s * 1000:.0f} ms per trial over the bound")
        if r.workers_started:
            parts.append(f"{r.workers_started:.1f} Python workers started")
        if e.tensorflow_imports:
            parts.append(f"{e.tensorflow_imports:.1f} TensorFlow imports")
        if e.floor_ratio is not None:
            parts.append(f"{e.floor_ratio:.3f}x the floor's time")
        if r.backend_start_s:
            parts.append(f"and {r.backend_start_s:.1f} s of its own start outside the clock")
        out.append(f"{e.backend}: " + ", ".join(parts) + " (per repeat)")
    return out


def identity_line(summary: RunSummary) -> str | None:
    """Whether every back-end's trials got the same metrics (the accuracy's check covers every
    measured row, the back-ends' included)."""
    acc = summary.accuracy
    if not summary.backend_tables or acc is None or acc.metrics_identical is None:
        return None
    if acc.metrics_identical:
        return (f"Every back-end's measured trials got bit-identical metrics ({acc.compared} "
                "measured grid runs compared).")
    return (f"Metrics differ between measured runs ({len(acc.mismatches)} differences): see "
            "the accuracy section's mismatches.")
