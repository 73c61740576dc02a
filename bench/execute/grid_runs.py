"""The grid runs of one profile and mode on its running cluster: the row's repeats, and the extra
runs beside them (the order check, weak scaling), each written to the run directory."""

from __future__ import annotations

import enum
import logging
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.definitions.profile import ClusterProfile
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.backends import DEFAULT, FLOOR, Backend, backend_for
from bench.execute.plan import PlannedProfile
from bench.execute.progress import RunObserver, Step, grid_step, warmup_step
from bench.execute.result_channel import ResultChannel
from bench.execute.resume import RunJob
from bench.execute.runner import run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.execute.trial_order import ordered
from bench.store.records import REPLAYED_PHASES, Mode, Order, ProfileRun, TrialResult
from bench.store.rundir import RunDirectory

log = logging.getLogger(__name__)


class Purpose(enum.Enum):
    """What a grid run on a profile is for."""

    ROW = "row"  # one of the row's repeats
    ORDER_CHECK = "order check"  # replay only: once more in the other order
    WEAK_SCALING = "weak scaling"  # the grid's first k x nodes trials, once

    @property
    def is_repeat(self) -> bool:
        """One of the row's repeats: its trials are the row's, and a resume finishes it."""
        return self is Purpose.ROW

    @property
    def records_trials(self) -> bool:
        """Its trials go to trials.jsonl; an extra run's only time the runner (its
        profiles.jsonl line says which trials ran)."""
        return self is Purpose.ROW


@dataclass(frozen=True)
class GridRun:
    """One grid run to make: what for, its repeat number, and its trials in dispatch order."""

    purpose: Purpose
    repeat: int  # extra runs are numbered after the row's repeats
    order: Order
    specs: list[TrialSpec]  # the trials to dispatch, in order
    earlier: list[TrialResult]  # recorded before a resume (a row's only)

    def label(self, profile: str, mode: Mode, repeats: int) -> str:
        """``profile``: the row's name (bench.execute.grid_runs.backend_row)."""
        label = f"{profile} {mode.value}"
        if self.purpose is Purpose.ORDER_CHECK:
            return label + f" ({self.order.replace('_', ' ')}, order check)"
        if self.purpose is Purpose.WEAK_SCALING:
            return label + f" ({self.purpose.value}, {len(self.specs)} trials)"
        return label + (f" repeat {self.repeat + 1}/{repeats}" if repeats > 1 else "")

    def step(self, profile: ClusterProfile, mode: Mode, repeats: int,
             row: str | None = None) -> Step:
        """This run as a step of the run's progress; ``row``: a back-end's row name."""
        row = row or profile.name
        return grid_step(profile, mode, self.repeat, self.label(row, mode, repeats),
                         [s.trial_id for s in self.specs], self.order, self.purpose.is_repeat,
                         row)


# The order check replays a grid that fills at most this many waves. Order decides the last
# wave, and with more waves that is a small part of the makespan: on 2 slots the medium grid's 9
# waves replayed in 18.6 s in one order and 18.7 s in the other (2026-12-02), 19 s of make bench
# spent on no difference. The model still computes both orders on every profile.
ORDER_CHECK_WAVES = 4


def other_order(order: Order) -> Order:
    return "grid" if order != "grid" else "longest_first"


def plan_grid_runs(job: RunJob, profile: ClusterProfile, mode: Mode, repeats: list[int],
                   expected_s: dict[str, float]) -> list[GridRun]:
    """The row's ``repeats`` still to run, then the extra runs: the order check on a replayed
    profile the grid fills in at most ORDER_CHECK_WAVES waves, and weak scaling on a multi-node
    one whose k x nodes trials the grid has."""
    runs = []
    for repeat in repeats:
        key = (profile.name, mode, repeat)
        runs.append(GridRun(Purpose.ROW, repeat, job.order,
                            ordered(job.state.remaining(key, job.specs), job.order, expected_s),
                            job.state.results(key)))
    if mode is Mode.REPLAY and len(job.specs) <= ORDER_CHECK_WAVES * profile.slots:
        order = other_order(job.order)
        runs.append(GridRun(Purpose.ORDER_CHECK, job.repeats, order,
                            ordered(job.specs, order, expected_s), []))
    weak = job.specs[:job.trials_per_node * profile.nodes]
    if profile.nodes > 1 and job.trials_per_node and \
            len(weak) == job.trials_per_node * profile.nodes:
        runs.append(GridRun(Purpose.WEAK_SCALING, job.repeats + 1, job.order,
                            ordered(weak, job.order, expected_s), []))
    return runs


def replay_payloads(reference: list[TrialResult]) -> dict[str, dict]:
    """For each trial, what a surrogate replays: the phases measured on 1 node that it sleeps for
    (REPLAYED_PHASES, mean over repeats) and the metrics of the first repeat."""
    by_trial: dict[str, list[TrialResult]] = defaultdict(list)
    for r in sorted(reference, key=lambda r: r.repeat):
        by_trial[r.trial_id].append(r)
    payloads = {}
    for trial_id, results in by_trial.items():
        phases = {
            name: statistics.fmean(r.phases.get(name, 0.0) for r in results)
            for name in REPLAYED_PHASES
        }
        first = results[0]
        payloads[trial_id] = {
            "phases": phases,
            "metrics": {"status": first.status.value, "error": first.error,
                        "val_error": first.val_error, "test_error": first.test_error,
                        "final_loss": first.final_loss, "test_wrong": first.test_wrong},
        }
    return payloads


def profile_row(shape: ClusterProfile, **fields: Any) -> ProfileRun:
    """A profiles.jsonl line with the nodes, cores per node and slots of ``shape``."""
    return ProfileRun(nodes=shape.nodes, cores=shape.cores, slots=shape.slots, **fields)


def mean_probe(results: list[TrialResult]) -> float | None:
    """A measured grid run's machine speed: the mean probe of its trials (bench.ml.machine_probe).
    A replayed trial only sleeps for its reference's probe."""
    probes = [r.phases["probe"] for r in results if "probe" in r.phases]
    return statistics.fmean(probes) if probes else None


@dataclass(frozen=True)
class Warm:
    """A mode's warm-up on every slot, before any clock starts."""

    seconds: float
    data_fetch_s: float | None  # the slowest slot's read of the broadcast dataset
    workers: frozenset[tuple[str, int]] = frozenset()  # (executor, pid) of each warmed worker


def backend_row(profile: str, backend: str) -> str:
    """The row name of ``profile``'s grid runs through ``backend``: the profile's own name for
    the default back-end (every run before back-ends had it), ``<profile>@<backend>`` else."""
    return profile if backend == DEFAULT else f"{profile}@{backend}"


# profiles.jsonl's ``runner`` of each back-end's rows: "spark" is the default's (older runs say so)
RUNNER = {DEFAULT: "spark", FLOOR: "process-pool"}


def runner_name(backend: str) -> str:
    return RUNNER.get(backend, backend)


@dataclass
class ProfileSession:
    """One profile's running cluster: what each of its grid runs needs."""

    job: RunJob
    recipe: TrialRecipe
    pp: PlannedProfile
    run_dir: RunDirectory
    sc: Any
    channel: ResultChannel
    data_bc: Any
    startup_s: float  # the cluster's start until every executor registered
    observer: RunObserver = field(default_factory=RunObserver)
    # Python workers a grid has run trials in: those it started are counted once, in its row
    seen_workers: set[tuple[str, int]] = field(default_factory=set)
    backends: dict[str, Backend] = field(default_factory=dict)  # opened on first use
    backend_start_s: dict[str, float] = field(default_factory=dict)  # open() of each, seconds

    def warm_up(self, mode: Mode) -> Warm:
        """Warm every slot for ``mode``: TensorFlow where trials train, the dataset everywhere."""
        profile = self.pp.profile
        step = warmup_step(profile, mode)
        self.observer.started(step)
        seconds, workers = warm_up_workers(self.sc, profile.slots,
                                           tensorflow=mode is Mode.MEASURED,
                                           data_bc=self.data_bc, code=self.recipe.own_code)
        self.observer.finished(step, seconds)
        fetches = [w["fetch_s"] for w in workers if w.get("fetch_s") is not None]
        log.info("%s %s: warm-up %.1f s on %d slots", profile.name, mode.value, seconds,
                 len(workers))
        warmed = frozenset((w["executor_id"], w["pid"]) for w in workers)
        self.seen_workers |= warmed
        return Warm(seconds, max(fetches) if fetches else None, warmed)

    def backend(self, name: str) -> Backend:
        """The back-end ``name`` on this profile's cluster, opened (timed) on first use."""
        if name not in self.backends:
            backend = backend_for(name)
            begin = time.perf_counter()
            if hasattr(backend, "open"):
                backend.open(self.sc, self.pp.profile.slots)
                # the workers its own warm-up started (optuna's) start no trial's clock
                self.seen_workers |= set(getattr(backend, "warmed_workers", ()))
            self.backends[name] = backend
            self.backend_start_s[name] = time.perf_counter() - begin
        return self.backends[name]

    def close_backends(self, only: str | None = None) -> None:
        """Stop what each back-end started (a Ray cluster), every one even if one fails;
        ``only``: that one (opened again, and timed again, when next used)."""
        errors = []
        for name, backend in list(self.backends.items()):
            if only is not None and name != only:
                continue
            del self.backends[name]
            try:
                if hasattr(backend, "close"):
                    backend.close()
            except Exception as e:  # noqa: BLE001 - the others still close; raised below
                log.exception("%s: the back-end %s did not close", self.pp.profile.name, name)
                errors.append(e)
        if errors:
            raise errors[0]

    def _after_slots_held(self, mode: Mode) -> None:
        """A back-end that held the slots (Ray's worker nodes, long-lived Spark tasks) is closed:
        cancelling its tasks ended the Python workers they ran in, warm ones among them (in a
        run of 2026-12-02 the map's next repeats imported TensorFlow 1.3 times per repeat). So
        every back-end closes, to open (and warm its own workers) again when next used, and the
        slots are warmed again, outside every clock."""
        self.close_backends()
        profile = self.pp.profile
        _, workers = warm_up_workers(self.sc, profile.slots, tensorflow=mode is Mode.MEASURED,
                                     data_bc=self.data_bc, code=self.recipe.own_code)
        self.seen_workers |= {(w["executor_id"], w["pid"]) for w in workers}

    def run(self, mode: Mode, run: GridRun, warm: Warm, replay: dict[str, dict] | None,
            backend: str = DEFAULT) -> list[TrialResult]:
        """Make one grid run through ``backend`` and write its profiles.jsonl line; its trials,
        earlier ones first."""
        profile = self.pp.profile
        row = backend_row(profile.name, backend)
        runner = self.backend(backend)
        settings = TaskSettings(profile=row, mode=mode, repeat=run.repeat,
                                recipe=self.recipe, channel=self.channel.address,
                                token=uuid.uuid4().hex)
        step = run.step(profile, mode, self.job.repeats, row)
        self.observer.started(step)
        arrivals = _Arrivals(self.run_dir if run.purpose.records_trials else None,
                             lambda: self.observer.trial_done(step))
        started_at = time.time()
        timing = run_grid(self.sc, run.specs, data_bc=self.data_bc, settings=settings,
                          channel=self.channel, on_result=arrivals.take, replay=replay,
                          max_failures_in_a_row=self.job.workload.training.max_failures_in_a_row,
                          backend=runner, slots=profile.slots)
        self.observer.finished(step, timing.wall_s, arrivals.results)
        if getattr(runner, "holds_slots", False):  # a Ray cluster: the slots go back to Spark
            self._after_slots_held(mode)
        trials = run.earlier + arrivals.results
        workers = {(t.executor_id, t.pid) for t in arrivals.results}
        started_workers = len(workers - self.seen_workers)
        self.seen_workers |= workers
        spark = timing.spark
        self.run_dir.append_profile_run(profile_row(
            profile, profile=row, mode=mode, repeat=run.repeat, trials=len(run.specs),
            wall_s=timing.wall_s, startup_s=self.startup_s, warmup_s=warm.seconds,
            oversubscribed=self.pp.oversubscribed and mode is Mode.MEASURED,
            started_at=started_at, ended_at=time.time(),
            spark_jobs=spark.jobs if spark else None, spark_tasks=spark.tasks if spark else None,
            task_failures=spark.task_failures if spark else None, lost_attempts=timing.lost,
            lost_executors=timing.lost_executors, resumed_trials=len(run.earlier),
            probe_s=mean_probe(trials) if mode is Mode.MEASURED else None,
            order=run.order, order_check=run.purpose is Purpose.ORDER_CHECK,
            weak_trial_ids=([s.trial_id for s in run.specs]
                            if run.purpose is Purpose.WEAK_SCALING else []),
            data_fetch_s=warm.data_fetch_s, runner=runner_name(backend),
            backend_start_s=self.backend_start_s[backend] + timing.backend_start_s,
            workers_started=started_workers,
        ))
        log.info("%s: %d trials in %.2f s", step.label, len(arrivals.results), timing.wall_s)
        return trials


class _Arrivals:
    """Each trial's result as it arrives: kept, written to trials.jsonl when ``run_dir`` is
    given (the grid run records its trials), and told to the run's progress."""

    def __init__(self, run_dir: RunDirectory | None, arrived: Callable[[], None]) -> None:
        self.run_dir, self.arrived = run_dir, arrived
        self.results: list[TrialResult] = []

    def take(self, result: TrialResult) -> None:
        if self.run_dir is not None:
            self.run_dir.append_trial(result)
        self.results.append(result)
        self.arrived()
