"""One `bench run`: every planned profile, its modes and repeats, written to the run directory."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import bench
from bench.cluster import Cluster, cluster_for
from bench.cluster.leftovers import write_owner
from bench.cluster.spark_session import spark_context
from bench.definitions.knobs import TestKnobs
from bench.definitions.workload import TrialSpec, Workload
from bench.execute.deployment import DEFAULT_PARTITIONS, DEFAULT_ROWS, score, train_weights
from bench.execute.plan import PlannedProfile
from bench.execute.process_pool_floor import floor_profile, run_floor
from bench.execute.result_channel import ResultChannel
from bench.execute.resume import ResumeState
from bench.execute.runner import run_grid, warm_up_workers
from bench.execute.tasks import TaskSettings
from bench.execute.trial_order import measured_seconds, ordered
from bench.ml.training import TrainedWeights
from bench.store.records import (
    DEFAULT_ORDER,
    REPLAYED_PHASES,
    DeploymentRun,
    Mode,
    Order,
    ProfileRun,
    TrialResult,
    best_on_validation,
)
from bench.store.rundir import RunDirectory

log = logging.getLogger(__name__)


def package_archive(folder: Path) -> str:
    """bench itself as a zip for the executors: a cluster that is not ours has no copy of it."""
    source = Path(bench.__file__).parent
    return shutil.make_archive(str(folder / "bench"), "zip", source.parent, source.name)


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
                        "final_loss": first.final_loss},
        }
    return payloads


@dataclass
class Deployment:
    """The deployment step across a run's profiles (execute.deployment): the chosen configuration's
    weights, retrained once, and the 1-node scoring that replayed profiles sleep for."""

    rows: int
    partitions: int = DEFAULT_PARTITIONS
    trained: TrainedWeights | None = None
    params: dict[str, Any] | None = None
    reference: DeploymentRun | None = None  # the 1-node measured scoring


def run_experiment(
    workload: Workload,
    specs: list[TrialSpec],
    planned: list[PlannedProfile],
    repeats: int,
    run_dir: RunDirectory,
    dataset: Any,
    knobs: TestKnobs | None = None,
    resume: ResumeState | None = None,
    order: Order = DEFAULT_ORDER,
    trials_per_node: int = 0,
    deploy_rows: int = DEFAULT_ROWS,
    floor: bool = True,
) -> None:
    """Run every planned profile; with ``resume``, only what the run directory has no result of.

    Trials are dispatched in ``order`` (execute.trial_order); a replayed profile also runs its grid
    once in the other order, so the report can say which order the runner should use. With
    ``trials_per_node`` k, every multi-node profile and mode also runs the grid's first k x nodes
    trials once (weak scaling), when the grid has that many. With ``deploy_rows``, the
    configuration best on validation is retrained once and scores that many rows on every
    profile and mode (the deployment step). With ``floor``, each measured multi-node local
    profile that fits the host is followed by its process-pool floor: the same trials, in the
    same order, on as many slots with no Spark (bench.execute.process_pool_floor)."""
    resume = resume or ResumeState()
    reference: list[TrialResult] = []
    shared: dict[str, Cluster] = {}  # a sweep's cluster, started once for all its node counts
    deployment = Deployment(deploy_rows) if deploy_rows else None
    with tempfile.TemporaryDirectory(prefix="bench-ship-") as ship, ExitStack() as clusters:
        write_owner(Path(ship), [])
        archive = package_archive(Path(ship))
        for pp in planned:
            todo = [(mode, repeat) for mode in pp.modes for repeat in range(repeats)
                    if not resume.is_finished((pp.profile.name, mode, repeat))]
            sweep_of = pp.profile.sweep_of
            if todo and sweep_of and sweep_of not in shared:
                whole = next(p.profile for p in planned if p.profile.sweep_of == sweep_of
                             and p.profile.nodes == max(q.profile.nodes for q in planned
                                                        if q.profile.sweep_of == sweep_of))
                shared[sweep_of] = clusters.enter_context(
                    cluster_for(dataclasses.replace(whole, name=sweep_of, sweep_of=None),
                                run_dir.logs(sweep_of)))
            if todo:
                results = _run_profile(workload, specs, pp, todo, run_dir, dataset, archive,
                                       reference, knobs or TestKnobs(), resume, order, repeats,
                                       shared.get(sweep_of) if sweep_of else None,
                                       trials_per_node, deployment)
            else:  # finished before the resume: no cluster needed
                results = []
            if floor and todo and _has_floor(pp) and not resume.is_finished(
                    (floor_profile(pp.profile.slots), Mode.MEASURED, 0)):
                _run_floor(workload, specs, pp, run_dir, dataset, reference, knobs or TestKnobs(),
                           order)
            if pp.profile.nodes == 1:  # its measured durations drive replay
                finished_before = [(pp.profile.name, Mode.MEASURED, r) for r in range(repeats)
                                   if (Mode.MEASURED, r) not in todo]
                reference = [t for g in finished_before for t in resume.results(g)] + results


def _run_profile(
    workload: Workload, specs: list[TrialSpec], pp: PlannedProfile,
    todo: list[tuple[Mode, int]], run_dir: RunDirectory, dataset: Any, archive: str,
    reference: list[TrialResult], knobs: TestKnobs, resume: ResumeState, order: Order,
    repeats: int, shared: Cluster | None = None, trials_per_node: int = 0,
    deployment: Deployment | None = None,
) -> list[TrialResult]:
    """The (mode, repeat) grid runs of ``todo`` on one cluster; the measured trial results.
    An order check is numbered ``repeats``, after the row's own repeats. ``shared``: a sweep's
    cluster, already started; this profile's nodes of it run as their own application."""
    profile = pp.profile
    measured: list[TrialResult] = []
    begin = time.perf_counter()
    cluster = shared or cluster_for(profile, run_dir.logs(profile.name))
    with (nullcontext(cluster) if shared else cluster), \
            spark_context(cluster, f"bench {run_dir.run_id} {profile.name}", [archive],
                          profile=profile) as sc:
        startup_s = time.perf_counter() - begin
        # Executors reach the driver at this address already; the channel listens there too.
        driver_host = sc.getConf().get("spark.driver.host")
        with ResultChannel(driver_host) as channel:
            data_bc = sc.broadcast(dataset)
            expected_s = measured_seconds(reference)
            for mode in dict.fromkeys(m for m, _ in todo):
                warmup_s, workers = warm_up_workers(sc, profile.slots,
                                                    tensorflow=mode is Mode.MEASURED,
                                                    data_bc=data_bc)
                fetches = [w["fetch_s"] for w in workers if w.get("fetch_s") is not None]
                log.info("%s %s: warm-up %.1f s on %d slots", profile.name, mode.value,
                         warmup_s, len(workers))
                replay = replay_payloads(reference) if mode is Mode.REPLAY else None
                # (repeat, order, what for): the row's repeats, then the extra runs
                runs: list[tuple[int, Order, str]] = [(r, order, "row")
                                                      for m, r in todo if m is mode]
                if mode is Mode.REPLAY:  # the order comparison: once more in the other order
                    runs.append((repeats, "grid" if order != "grid" else "longest_first",
                                 "order check"))
                weak = specs[:trials_per_node * profile.nodes]
                if profile.nodes > 1 and trials_per_node and len(weak) == trials_per_node * \
                        profile.nodes:
                    runs.append((repeats + 1, order, "weak scaling"))
                for repeat, run_order, purpose in runs:
                    grid_run = (profile.name, mode, repeat)
                    order_check = purpose == "order check"
                    extra = purpose != "row"
                    earlier = [] if extra else resume.results(grid_run)
                    remaining = ordered(
                        weak if purpose == "weak scaling" else
                        specs if extra else resume.remaining(grid_run, specs),
                        run_order, expected_s)
                    settings = TaskSettings(
                        profile=profile.name, mode=mode, repeat=repeat, model=workload.model,
                        epochs=workload.training.epochs,
                        batch_size=workload.training.batch_size,
                        seed=workload.training.seed + knobs.seed_offset,
                        channel=channel.address, token=uuid.uuid4().hex,
                        timeout_s=workload.training.timeout_s, slowdown=knobs.slowdown,
                    )
                    label = f"{profile.name} {mode.value}"
                    if order_check:
                        label += f" ({run_order.replace('_', ' ')}, order check)"
                    elif extra:
                        label += f" ({purpose}, {len(remaining)} trials)"
                    elif repeats > 1:
                        label += f" {repeat + 1}/{repeats}"
                    results: list[TrialResult] = []
                    with tqdm(total=len(earlier) + len(remaining), initial=len(earlier),
                              desc=label, unit="trial", leave=True, disable=None) as bar:

                        def on_result(result: TrialResult, bar=bar, results=results,
                                      record=not extra) -> None:
                            if record:
                                run_dir.append_trial(result)
                            results.append(result)
                            bar.update()

                        started_at = time.time()
                        timing = run_grid(sc, remaining, data_bc=data_bc, settings=settings,
                                          channel=channel, on_result=on_result,
                                          replay=replay,
                                          max_failures_in_a_row=(
                                              workload.training.max_failures_in_a_row))
                    run_dir.append_profile_run(ProfileRun(
                        profile=profile.name, mode=mode, repeat=repeat, nodes=profile.nodes,
                        cores=profile.cores, slots=profile.slots, trials=len(remaining),
                        wall_s=timing.wall_s,
                        startup_s=startup_s, warmup_s=warmup_s,
                        oversubscribed=pp.oversubscribed and mode is Mode.MEASURED,
                        started_at=started_at, ended_at=time.time(),
                        spark_jobs=timing.spark.jobs, spark_tasks=timing.spark.tasks,
                        task_failures=timing.spark.task_failures, lost_attempts=timing.lost,
                        lost_executors=timing.lost_executors, resumed_trials=len(earlier),
                        probe_s=(_mean_probe(earlier + results)
                                 if mode is Mode.MEASURED else None),
                        order=run_order, order_check=order_check,
                        weak_trial_ids=([s.trial_id for s in remaining]
                                        if purpose == "weak scaling" else []),
                        data_fetch_s=max(fetches) if fetches else None,
                    ))
                    log.info("%s: %d trials in %.2f s", label, len(results), timing.wall_s)
                    if mode is Mode.MEASURED and not extra:
                        measured += earlier + results
                if deployment is not None:
                    _deploy(sc, deployment, workload, pp, mode, data_bc, run_dir, knobs,
                            reference or measured)
            data_bc.destroy()
    return measured


def _has_floor(pp: PlannedProfile) -> bool:
    """A floor stands beside a measured multi-node row of a local cluster that has its cores."""
    return (Mode.MEASURED in pp.modes and pp.profile.nodes > 1 and pp.profile.is_local
            and not pp.oversubscribed)


def _run_floor(workload: Workload, specs: list[TrialSpec], pp: PlannedProfile,
               run_dir: RunDirectory, dataset: Any, reference: list[TrialResult],
               knobs: TestKnobs, order: Order) -> None:
    """The profile's trials on a local process pool of its slots (no Spark), recorded as the row
    ``floor-<slots>``; run after the profile's cluster has stopped, so nothing else is busy."""
    profile = pp.profile
    label = f"{floor_profile(profile.slots)} measured (process pool, no Spark)"
    with tqdm(total=1, desc=label, unit="grid", leave=True, disable=None) as bar:
        run = run_floor(ordered(specs, order, measured_seconds(reference)), dataset,
                        slots=profile.slots, threads_per_trial=profile.threads_per_trial,
                        model=workload.model, epochs=workload.training.epochs,
                        batch_size=workload.training.batch_size,
                        seed=workload.training.seed + knobs.seed_offset,
                        timeout_s=workload.training.timeout_s,
                        log_dir=run_dir.logs(floor_profile(profile.slots)))
        bar.update()
    for trial in run.trials:
        run_dir.append_trial(trial)
    run_dir.append_profile_run(ProfileRun(
        profile=run.profile, mode=Mode.MEASURED, repeat=0, nodes=profile.nodes,
        cores=profile.cores, slots=profile.slots, trials=len(run.trials), wall_s=run.wall_s,
        # the pool's start (spawning its processes) is in its warm-up
        startup_s=0.0, warmup_s=run.warmup_s, oversubscribed=False, started_at=run.started_at,
        ended_at=run.ended_at, probe_s=run.probe_s, order=order, runner="process-pool"))
    log.info("%s: %d trials in %.2f s", label, len(run.trials), run.wall_s)


def _deploy(sc: Any, deployment: Deployment, workload: Workload, pp: PlannedProfile, mode: Mode,
            data_bc: Any, run_dir: RunDirectory, knobs: TestKnobs,
            reference: list[TrialResult]) -> None:
    """Score the deployment rows on this profile in ``mode``; first retrain the chosen
    configuration (on this cluster) if no profile has yet. Replay needs the 1-node scoring."""
    if deployment.trained is None:
        chosen = best_on_validation(t for t in reference if t.repeat == 0)
        if chosen is None:
            log.warning("deployment skipped: no trial of the 1-node run ended ok")
            return
        deployment.params = chosen.params
        deployment.trained = train_weights(
            sc, data_bc=data_bc, family=workload.model, params=chosen.params,
            epochs=workload.training.epochs, batch_size=workload.training.batch_size,
            seed=workload.training.seed + knobs.seed_offset,
            expect_test_error=chosen.test_error)
    if mode is Mode.REPLAY and deployment.reference is None:
        log.warning("%s: deployment not replayed: the 1-node scoring did not run in this "
                    "invocation", pp.profile.name)
        return
    assert deployment.params is not None
    profile = pp.profile
    with tqdm(total=1, desc=f"{profile.name} {mode.value} (deployment, {deployment.rows:,} rows)",
              unit="job", leave=True, disable=None) as bar:
        run = score(sc, weights=deployment.trained.weights, family=workload.model,
                    params=deployment.params, data_bc=data_bc, rows=deployment.rows,
                    partitions=deployment.partitions, profile=profile.name, mode=mode, repeat=0,
                    nodes=profile.nodes, slots=profile.slots,
                    replay=deployment.reference if mode is Mode.REPLAY else None)
        bar.update()
    run_dir.append_deployment(run)
    if mode is Mode.MEASURED and profile.nodes == 1:
        deployment.reference = run
    log.info("%s %s: deployment %d rows in %.2f s", profile.name, mode.value, run.rows,
             run.wall_s)


def _mean_probe(results: list[TrialResult]) -> float | None:
    """A measured grid run's machine speed: the mean probe of its trials (bench.ml.machine_probe).
    A replayed trial only sleeps for its reference's probe."""
    probes = [r.phases["probe"] for r in results if "probe" in r.phases]
    return statistics.fmean(probes) if probes else None
