"""The 2016 experiment's published figures (docs/method.md, "The 2016 experiment"), stated once
here, and a run of the same workload read beside them.

Every 2016 figure is published, not measured: the grid wall times were read off the post's bar
chart (approximate), the 7x and the test errors are the post's text. They are never mixed with
this run's figures: the comparison keeps them in fields of their own, and every printer labels
them (``LABEL``). What the model says of this run's own trials at 2016's node counts, and why it
differs (waves, grid size, per-trial overhead), comes from this run's records only.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.analyse import formulas
from bench.store.records import Mode

if TYPE_CHECKING:
    from bench.analyse.summary import RunSummary

LABEL = "2016 (published, read off a chart)"  # the times, and the block as a whole
TEXT_LABEL = "2016 (published, the post's text)"  # the headline 7x and the test errors
NODES = (1, 2, 13)  # the cluster sizes the post ran


@dataclass(frozen=True)
class Published2016:
    """What the post published. Wall times are read off its bar chart: approximate."""

    source: str
    dataset: str  # which runs it applies to: this dataset and model family
    model: str
    wall_s: dict[int, float]  # nodes -> grid wall time read off the chart, seconds
    headline_speedup: dict[int, float]  # nodes -> the speedup the post's text states
    baseline_test_error: float  # the default hyperparameters (99.2 % accuracy)
    best_test_error: float  # the best configuration (99.47 % accuracy)
    stated_reduction: float  # the post's rounding of the relative test-error reduction
    # 2016's grid size is not published: the post shows five neuron lines (64 ... 1024) against
    # the learning rate. bench assumes 5 x 5 and says so wherever it uses it.
    assumed_trials: int
    assumed_grid: str

    def speedup(self, nodes: int) -> float:
        """T(1) / T(N) of the chart's wall times (1.57 at 2 nodes, 7.33 at 13)."""
        return formulas.speedup(self.wall_s[1], self.wall_s[nodes])

    def efficiency(self, nodes: int) -> float:
        """The headline speedup over the nodes where the post states one (7x / 13 = 0.54), else
        the chart's."""
        return formulas.efficiency(self.headline_speedup.get(nodes, self.speedup(nodes)), nodes)

    @property
    def reduction(self) -> float:
        """(0.80 % - 0.53 %) / 0.80 % = 33.75 %, which the post rounds to 34 %."""
        return (self.baseline_test_error - self.best_test_error) / self.baseline_test_error

    @property
    def trial_s(self) -> float:
        """A 2016 trial on one node, were the grid ``assumed_trials`` equal trials."""
        return self.wall_s[1] / self.assumed_trials

    def to_json(self) -> dict[str, Any]:
        """The figures as summary.json holds them, each list labelled with where it comes from."""
        return {
            "label": LABEL, "text_label": TEXT_LABEL, "source": self.source,
            "wall_s": [{"nodes": n, "wall_s": w} for n, w in self.wall_s.items()],
            "speedup": [{"nodes": n, "speedup": self.speedup(n)} for n in NODES],
            "headline_speedup": [{"nodes": n, "speedup": s}
                                 for n, s in self.headline_speedup.items()],
            "efficiency": [{"nodes": n, "efficiency": self.efficiency(n)} for n in NODES[1:]],
            "baseline_test_error": self.baseline_test_error,
            "best_test_error": self.best_test_error,
            "relative_error_reduction": self.reduction, "stated_reduction": self.stated_reduction,
            "assumed_trials": self.assumed_trials, "assumed_grid": self.assumed_grid,
        }


PUBLISHED_2016 = Published2016(
    source='T. Hunter, "Deep Learning with Apache Spark and TensorFlow", Databricks blog, '
           "2016-01-25 (docs/method.md, \"The 2016 experiment\")",
    dataset="mnist", model="convnet",
    wall_s={1: 11_000.0, 2: 7_000.0, 13: 1_500.0},
    headline_speedup={13: 7.0},
    baseline_test_error=0.0080, best_test_error=0.0053, stated_reduction=0.34,
    assumed_trials=25, assumed_grid="5 neurons (64 ... 1024) x 5 learning rates",
)


def applies(workload: dict[str, Any]) -> bool:
    """The 2016 figures stand beside runs of its dataset and model family only (run.json's
    ``workload``: ``dataset`` and ``model``)."""
    return (workload.get("dataset"), workload.get("model")) == (PUBLISHED_2016.dataset,
                                                               PUBLISHED_2016.model)


@dataclass(frozen=True)
class RunFigure:
    """One row of this run at a node count: measured or replay, never published."""

    profile: str
    mode: Mode
    oversubscribed: bool
    wall_s: float  # mean over repeats
    speedup: float | None


@dataclass(frozen=True)
class AtNodes:
    """2016's figures at one node count beside this run's rows and the model's prediction."""

    nodes: int
    published_wall_s: float  # LABEL
    published_speedup: float  # LABEL: the chart's T(1) / T(N)
    headline_speedup: float | None  # TEXT_LABEL
    run: list[RunFigure] = field(default_factory=list)  # empty: this run has no such row
    model_wall_s: float | None = None  # mode model: this run's trials on these nodes
    model_speedup: float | None = None


@dataclass(frozen=True)
class Waves:
    """Why times differ at one node count: ceil(trials / slots) and the bound it sets."""

    nodes: int
    slots: int  # this run's: nodes x its trials per node
    waves: int  # this run's grid on those slots
    equal_bound: float  # trials / waves: the speedup equal trials allow
    bound: float | None  # formulas.bound_speedup of this run's own trial durations
    assumed_2016_waves: int  # 2016's assumed grid, one trial per node
    assumed_2016_bound: float


@dataclass(frozen=True)
class PublishedComparison:
    """An ``mnist-convnet`` run beside 2016: see the module's docstring."""

    published: Published2016
    at_nodes: list[AtNodes]
    trials: int  # this run's grid, baseline included
    waves: list[Waves]  # at 2 and 13 nodes
    mean_trial_s: float | None  # this run's mean compute per trial (the model's durations)
    per_task_s: float | None  # the model's overhead of a trial after a slot's first
    first_task_s: float | None  # of a slot's first trial
    overhead_share: float | None  # per_task_s / mean_trial_s
    overhead_share_2016: float | None  # per_task_s / 2016's assumed trial length
    baseline_test_error: float | None  # this run's (measured), from its accuracy block
    best_test_error: float | None
    reduction: float | None

    def to_json(self) -> dict[str, Any]:
        """summary.json's ``published_2016``: 2016's figures under ``published`` (labelled, with
        their source), this run's and the model's beside them under keys of their own."""
        return {
            "published": self.published.to_json(),
            "at_nodes": [{
                "nodes": a.nodes,
                "run": [{"profile": f.profile, "mode": f.mode.value,
                         "oversubscribed": f.oversubscribed, "wall_s": f.wall_s,
                         "speedup": f.speedup} for f in a.run],
                "model": {"mode": Mode.MODEL.value, "wall_s": a.model_wall_s,
                          "speedup": a.model_speedup},
            } for a in self.at_nodes],
            "trials": self.trials,
            "waves": [dataclasses.asdict(w) for w in self.waves],
            "mean_trial_s": self.mean_trial_s, "per_task_s": self.per_task_s,
            "first_task_s": self.first_task_s, "overhead_share": self.overhead_share,
            "overhead_share_2016": self.overhead_share_2016,
            "run_accuracy": {"baseline_test_error": self.baseline_test_error,
                             "best_test_error": self.best_test_error,
                             "relative_error_reduction": self.reduction},
        }

def comparison(summary: RunSummary, workload: dict[str, Any]) -> PublishedComparison | None:
    """The block, for a run of 2016's workload (``workload``: run.json's); None for any other."""
    if not applies(workload):
        return None
    p = PUBLISHED_2016
    durations = summary.model_durations_s
    trials = len(durations) or int(workload.get("trials", 0))
    per_node = _slots_per_node(summary)
    o = summary.overheads
    mean_trial = statistics.fmean(durations) if durations else None
    acc = summary.accuracy
    return PublishedComparison(
        published=p, at_nodes=[_at_nodes(summary, n) for n in NODES], trials=trials,
        waves=[_waves(n, n * per_node, trials, durations) for n in NODES if n > 1],
        mean_trial_s=mean_trial,
        per_task_s=o.per_task_s if o else None, first_task_s=o.first_task_s if o else None,
        overhead_share=o.per_task_s / mean_trial if o and mean_trial else None,
        overhead_share_2016=o.per_task_s / p.trial_s if o else None,
        baseline_test_error=acc.baseline_test_error if acc else None,
        best_test_error=acc.best_test_error if acc else None,
        reduction=acc.relative_error_reduction if acc else None)


def _slots_per_node(summary: RunSummary) -> int:
    """Trials at a time per node, as the model uses them (its points' slots / nodes)."""
    point = next((m for m in summary.model if m.nodes == 1), None)
    if point is not None:
        return point.slots
    ref = next((r for r in summary.rows if r.name == summary.reference), None)
    return max(1, ref.slots // ref.nodes) if ref else 1


def _at_nodes(summary: RunSummary, nodes: int) -> AtNodes:
    p = PUBLISHED_2016
    point = next((m for m in summary.model if m.nodes == nodes), None)
    return AtNodes(
        nodes=nodes, published_wall_s=p.wall_s[nodes], published_speedup=p.speedup(nodes),
        headline_speedup=p.headline_speedup.get(nodes),
        run=[RunFigure(r.name, r.mode, r.oversubscribed, r.wall.mean, r.speedup)
             for r in summary.rows if r.nodes == nodes and r.runner == "spark"
             and r.mode in (Mode.MEASURED, Mode.REPLAY)],
        model_wall_s=point.wall_s if point else None,
        model_speedup=point.speedup if point else None)


def _waves(nodes: int, slots: int, trials: int, durations: list[float]) -> Waves:
    assumed = PUBLISHED_2016.assumed_trials
    return Waves(
        nodes=nodes, slots=slots, waves=math.ceil(trials / slots) if trials else 0,
        equal_bound=formulas.equal_trials_bound(trials, slots) if trials else 0.0,
        bound=formulas.bound_speedup(durations, slots) if durations else None,
        assumed_2016_waves=math.ceil(assumed / nodes),
        assumed_2016_bound=formulas.equal_trials_bound(assumed, nodes))

