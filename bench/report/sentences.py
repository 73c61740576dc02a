"""The report's sentences: each comparison, error, fit and intro as one line of text, read off
the summary."""

from __future__ import annotations

from bench.analyse.scalability import UslFit
from bench.analyse.scaling_model import ERROR_TARGET, ModelError, Overheads, Waterfall
from bench.analyse.summary import Row, RunSummary
from bench.report.formats import mode_label
from bench.store.records import Mode


def comparisons(summary: RunSummary) -> list[str]:
    """hyperfine's wording: '2-node (measured) ran 1.87 times faster than local (measured)'."""
    if summary.reference is None:
        return []
    lines = []
    for r in summary.rows:
        if r.speedup is None or (r.name == summary.reference and r.mode is Mode.MEASURED):
            continue
        interval = ""
        if r.speedup_interval is not None:
            interval = f" [95 % {r.speedup_interval[0]:.2f} … {r.speedup_interval[1]:.2f}]"
        lines.append(f"{r.name} ({mode_label(r)}) ran {r.speedup:.2f}{interval} times faster than "
                     f"{summary.reference} (measured)")
    return lines + floor_lines(summary)


def floor_lines(summary: RunSummary) -> list[str]:
    """Each measured Spark row against the process-pool floor of its slots: what Spark and the
    runner cost over the same trials with no Spark."""
    out = []
    for c in summary.floor_comparisons:
        line = (f"{c.name} (measured) took {c.ratio:.3f}x the wall time of the "
                f"process-pool floor on {c.slots} slots ({c.floor}: the same "
                f"trials, no Spark): {c.difference_s:+.2f} s")
        if c.equal_speed_ratio is not None:
            line += (f"; at equal machine speed (times / machine probe) "
                     f"{c.equal_speed_ratio:.3f}x")
        if c.speed_moved:
            line += (f" (the machine probe of the floor was {c.probe_ratio:.2f}x the "
                     "row's: the host's speed moved between them)")
        out.append(line)
    return out


def replay_errors(summary: RunSummary) -> str | None:
    replayed = [r for r in summary.rows if r.replay_error is not None]
    if not replayed:
        return None
    return ("replay error (replay vs measured wall time, same profile): "
            + ", ".join(f"{r.name} {r.replay_error * 100:+.1f} %" for r in replayed))


def machine_speed(summary: RunSummary) -> str | None:
    """The machine probe of each measured row: how fast the host was while it ran."""
    probed = [r for r in summary.rows if r.mode is Mode.MEASURED and r.probe_samples_s]
    if not probed:
        return None

    def one(r: Row) -> str:
        samples = r.probe_samples_s
        spread = f" ({min(samples):.3f} … {max(samples):.3f})" if len(samples) > 1 else ""
        return f"{r.name} {r.probe_mean_s:.3f} s{spread}"
    return ("machine probe (the same fixed work in every measured trial; lower is a faster "
            "machine; the gate divides times by it): " + ", ".join(one(r) for r in probed))


def model_intro(summary: RunSummary) -> str:
    return ("Model (mode model, not measured: the 1-node compute times and overheads simulated "
            "on N nodes, each free slot taking the next trial, the driver launching one task at "
            f"a time; the runner dispatches {_order_name(summary.order)}):")


def _order_name(order: str) -> str:
    return "longest first" if order == "longest_first" else "in grid order"


def order_lines(summary: RunSummary) -> list[str]:
    """The dispatch orders compared on each replayed profile: replay and model makespans."""
    out = []
    for c in summary.order_checks:
        model = (f"; model {c.model_wall_s:.2f} s vs {c.model_other_wall_s:.2f} s"
                 if c.model_wall_s is not None and c.model_other_wall_s is not None else "")
        out.append(f"trial order, {c.name} (replay, {c.slots} slots): "
                   f"{_order_name(c.order)} {c.wall_s:.2f} s vs {_order_name(c.other_order)} "
                   f"{c.other_wall_s:.2f} s{model}: the runner's order is "
                   f"{'the better' if c.gain >= 0 else 'the worse'} here "
                   f"({c.gain * 100:+.1f} %)")
    return out


BREAKDOWN_INTRO = ("Where the time goes: the share of the slots x grid wall time spent waiting "
                   "for a task (dispatch), in each phase of the trials, in the rest of the task, "
                   "and idle after a slot's last trial (the last wave). Start-up, warm-up and the "
                   "warm-up's read of the broadcast data come before the clock:")


WEAK_INTRO = ("Weak scaling (Gustafson): the grid grows with the nodes, its first k x N trials "
              "run once on N nodes; scaled speedup = the 1-node compute of those trials / "
              "T(N, kN), weak efficiency = scaled speedup / N:")


DEPLOYMENT_INTRO = ("Deployment (as in 2016, once the best configuration was chosen): it is "
                    "retrained once, its weights broadcast, and the test split replicated on "
                    "the executors is scored in partitions; speedup is rows/s against the 1-node "
                    "profile's, and the predictions must be identical on every profile:")


def _model_errors(summary: RunSummary) -> str:
    def one(e: ModelError) -> str:
        mark = " (its overheads were estimated here)" if e.in_sample else ""
        mark += "" if e.within_target else f" (beyond {ERROR_TARGET * 100:.0f} %)"
        return f"{e.name} ({e.mode.value}) {e.error * 100:+.1f} %{mark}"
    return (f"model error (model vs observed wall time; target within {ERROR_TARGET * 100:.0f} %): "
            + ", ".join(one(e) for e in summary.model_errors))


def _overheads(o: Overheads, reference: str | None) -> str:
    return (f"overheads from {reference} (measured): per trial dispatch {o.dispatch_s:.3f} s, "
            f"fetch {o.fetch_s:.3f} s, in-task {o.in_task_s:.3f} s; a slot's first trial "
            f"launch {o.launch_s:.3f} s and fetch +{o.first_fetch_s:.3f} s; collect "
            f"{o.collect_s:.3f} s; warm-up {o.warmup_s:.1f} s and start-up {o.startup_s:.1f} s "
            "are beside the wall time, not in it")


def _waterfall(w: Waterfall) -> str:
    text = f"{w.name}: " + " -> ".join(
        f"{s.stage} {s.speedup:.2f}" + (f" ({s.lost_to})" if s.lost_to else "") for s in w.steps)
    text += "".join(f"; {skipped}" for skipped in w.skipped)
    return text + (f"; last wave held by {', '.join(w.stragglers)}" if w.stragglers else "")


def scaling_lines(summary: RunSummary) -> list[str]:
    """The USL fit (or why there is none) and each row's time to the best configuration."""
    out = []
    if summary.usl_fit is not None:
        out.append(usl_line(summary.usl_fit))
    if line := time_to_quality_line(summary):
        out.append(line)
    return out


def usl_line(fit: UslFit) -> str:
    """sigma, kappa and the peak with their intervals; or why the fit predicts nothing."""
    if fit.under_determined:
        return (f"USL fit ({fit.source} points): under-determined, not a prediction: "
                f"{fit.reason}; `bench run --nodes 1,2,4,8,13` sweeps enough node counts")

    def interval(i: tuple[float, float] | None) -> str:
        return f" [{i[0]:.4f}, {i[1]:.4f}]" if i else ""
    peak = (f", peak at N = {fit.peak_nodes:.1f}" if fit.peak_nodes is not None
            else ", no peak (kappa 0)")
    return (f"USL fit ({fit.source} points at N = {', '.join(map(str, fit.node_counts))}): "
            f"sigma {fit.sigma:.4f}{interval(fit.sigma_interval)} (contention), kappa "
            f"{fit.kappa:.5f}{interval(fit.kappa_interval)} (coherency){peak}"
            + (f", R² {fit.r_squared:.3f}" if fit.r_squared is not None else "")
            + (f"; {fit.interval_note}" if fit.interval_note else ""))


def time_to_quality_line(summary: RunSummary) -> str | None:
    """When each row had the best configuration's result, beside its wall time."""
    ttb = [f"{r.name} ({r.mode.value}) {r.time_to_best_s:.1f} s of {r.wall.mean:.1f} s"
           for r in summary.rows if r.time_to_best_s is not None]
    if not ttb or summary.accuracy is None:
        return None
    return (f"time to quality (until the best configuration on validation, "
            f"{summary.accuracy.best_trial_id}, had arrived; latest repeat): " + ", ".join(ttb))


def model_lines(summary: RunSummary) -> list[str]:
    """The model's error on every row, its overheads and each profile's speedup waterfall."""
    if not summary.model or summary.overheads is None:
        return []
    return [_model_errors(summary), _overheads(summary.overheads, summary.reference),
            *(f"speedup lost, {_waterfall(w)}" for w in summary.waterfalls),
            *order_lines(summary), *scaling_lines(summary)]
