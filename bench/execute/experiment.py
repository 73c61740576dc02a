"""One `bench run`: every planned profile, its modes and repeats, written to the run directory."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import tempfile
import time
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench
from bench.cluster import Cluster, ClusterProfile, cluster_for
from bench.cluster.environment import machine_fingerprint
from bench.cluster.leftovers import write_owner
from bench.cluster.preflight import check_result_channel_port
from bench.cluster.spark_session import spark_context
from bench.definitions.recipe import TrialRecipe
from bench.execute.backends import DEFAULT, FLOOR
from bench.execute.deployment_step import Deployment
from bench.execute.grid_runs import (
    GridRun,
    ProfileSession,
    Purpose,
    backend_row,
    plan_grid_runs,
    profile_row,
    replay_payloads,
)
from bench.execute.plan import PlannedProfile
from bench.execute.process_pool_floor import floor_profile, run_floor
from bench.execute.progress import (
    RunObserver,
    Step,
    deployment_step,
    floor_step,
    startup_step,
    warmup_step,
)
from bench.execute.result_channel import ResultChannel
from bench.execute.resume import RunJob
from bench.execute.runner import survey_executors
from bench.execute.trial_order import measured_seconds, ordered
from bench.store.records import Mode, TrialResult
from bench.store.rundir import RunDirectory

log = logging.getLogger(__name__)


def package_archive(folder: Path) -> str:
    """bench itself as a zip for the executors: a cluster that is not ours has no copy of it."""
    source = Path(bench.__file__).parent
    return shutil.make_archive(str(folder / "bench"), "zip", source.parent, source.name)


def code_archive(folder: Path, workload_name: str, code: tuple[Path, ...]) -> str:
    """The workload's own modules (bench.definitions.user_code) as one zip for the executors,
    each at its top level as it was importable on the driver. Named by its content, so a
    context that runs two versions (bench.run(spark=...) twice) ships the second too."""
    staged = folder / "code"
    for path in code:
        if path.is_dir():
            shutil.copytree(path, staged / path.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            staged.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staged / path.name)
    digest = hashlib.sha256()
    for file in sorted(staged.rglob("*")):
        if file.is_file():
            digest.update(str(file.relative_to(staged)).encode() + file.read_bytes())
    name = f"code-{workload_name}-{digest.hexdigest()[:12]}"
    return shutil.make_archive(str(folder / name), "zip", staged)


def run_experiment(job: RunJob, run_dir: RunDirectory, dataset: Any,
                   observer: RunObserver | None = None) -> None:
    """Run every planned profile of ``job``; of a resumed one, only what the run directory has
    no result of.

    Trials are dispatched in ``job.order`` (execute.trial_order); a replayed profile also runs its
    grid once in the other order, so the report can say which order the runner should use. With
    ``job.trials_per_node`` k, every multi-node profile and mode also runs the grid's first
    k x nodes trials once (weak scaling), when the grid has that many. With ``job.deploy_rows``,
    the configuration best on validation is retrained once and scores that many rows on every
    profile and mode (the deployment step). With ``job.floor``, each measured multi-node local
    profile that fits the host is followed by its process-pool floor: the same trials, in the
    same order, on as many slots with no Spark (bench.execute.process_pool_floor).

    ``observer`` hears the planned steps first, then each step as it is made (execute.progress)."""
    for pp in job.planned:  # before any cluster starts: the ports profiles fix are free
        if _todo(job, pp):
            check_result_channel_port(pp.profile)
    observer = observer or RunObserver()
    observer.planned(plan_steps(job))
    with tempfile.TemporaryDirectory(prefix="bench-ship-") as ship, ExitStack() as clusters:
        write_owner(Path(ship), [])
        archives = [package_archive(Path(ship))]
        if job.workload.code:
            archives.append(code_archive(Path(ship), job.workload.name, job.workload.code))
        experiment = _Experiment(
            job, TrialRecipe.of(job.workload, job.knobs), run_dir, dataset, archives, clusters,
            Deployment(job.deploy_rows) if job.deploy_rows else None, observer)
        for pp in job.planned:
            experiment.run_planned(pp)


@dataclass
class _Experiment:
    """What every profile of one run shares, and the 1-node trials that drive replay."""

    job: RunJob
    recipe: TrialRecipe
    run_dir: RunDirectory
    dataset: Any
    archives: list[str]  # bench's zip and the workload's own code's, shipped to every cluster
    clusters: ExitStack  # stops the sweeps' shared clusters at the end of the run
    deployment: Deployment | None
    observer: RunObserver
    reference: list[TrialResult] = field(default_factory=list)  # the 1-node measured trials
    shared: dict[str, Cluster] = field(default_factory=dict)  # a sweep's cluster, started once

    def run_planned(self, pp: PlannedProfile) -> None:
        """The profile's unfinished grid runs on its cluster, then its floor."""
        state = self.job.state
        todo = _todo(self.job, pp)
        results = self._run_profile(pp, todo) if todo else []  # finished: no cluster needed
        if _floor_due(self.job, pp, todo):
            self._run_floor(pp)
        if pp.profile.nodes == 1:  # its measured durations drive replay
            finished_before = [(pp.profile.name, Mode.MEASURED, r)
                               for r in range(self.job.repeats) if (Mode.MEASURED, r) not in todo]
            self.reference = [t for g in finished_before for t in state.results(g)] + results

    def _sweep_cluster(self, pp: PlannedProfile) -> Cluster | None:
        """The running cluster of the sweep ``pp`` is one node count of: its largest, started
        the first time a count needs it. None for a profile of its own."""
        sweep_of = pp.profile.sweep_of
        if not sweep_of:
            return None
        if sweep_of not in self.shared:
            counts = [q.profile for q in self.job.planned if q.profile.sweep_of == sweep_of]
            whole = max(counts, key=lambda p: p.nodes)
            self.shared[sweep_of] = self.clusters.enter_context(
                cluster_for(dataclasses.replace(whole, name=sweep_of, sweep_of=None),
                            self.run_dir.logs(sweep_of)))
        return self.shared[sweep_of]

    def _run_profile(self, pp: PlannedProfile, todo: list[tuple[Mode, int]]) -> list[TrialResult]:
        """The (mode, repeat) grid runs of ``todo`` on the profile's cluster; the measured trial
        results of its row. A sweep's count runs on its nodes of the shared cluster, as its own
        application."""
        profile = pp.profile
        step = startup_step(profile)
        self.observer.started(step)  # a sweep's shared cluster starts within its first count's
        shared = self._sweep_cluster(pp)  # started before the clock: not this count's start-up
        begin = time.perf_counter()
        cluster = shared or cluster_for(profile, self.run_dir.logs(profile.name))
        with (nullcontext(cluster) if shared else cluster), \
                spark_context(cluster, f"bench {self.run_dir.run_id} {profile.name}",
                              self.archives, profile=profile) as sc:
            startup_s = time.perf_counter() - begin
            self.observer.finished(step, startup_s)
            with open_channel(sc, profile) as channel:
                self._survey(sc, channel, profile)
                data_bc = sc.broadcast(self.dataset)
                session = ProfileSession(self.job, self.recipe, pp, self.run_dir, sc, channel,
                                         data_bc, startup_s, self.observer)
                measured: list[TrialResult] = []
                try:
                    for mode in dict.fromkeys(m for m, _ in todo):
                        measured += self._run_mode(session, mode,
                                                   [r for m, r in todo if m is mode])
                        if self.deployment is not None:
                            self.deployment.run(session, mode, self.reference or measured)
                finally:
                    session.close_backends()
                data_bc.destroy()
        return measured

    def _survey(self, sc: Any, channel: ResultChannel, profile: ClusterProfile) -> None:
        """Every executor reaches the result channel (or the run stops here, with why), and
        run.json records what each runs on: the trials' machines, not the driver's."""
        executors = survey_executors(sc, channel, profile.slots,
                                     where=f"cluster profile '{profile.name}' ({profile.path})")
        for executor in executors:
            executor["fingerprint"] = machine_fingerprint(executor)  # as summary.json's machine
        self.run_dir.record_executors(profile.name, executors)
        log.info("%s: %d executors, each reaches the result channel at %s:%d", profile.name,
                 len(executors), *channel.address)

    def _run_mode(self, session: ProfileSession, mode: Mode,
                  repeats: list[int]) -> list[TrialResult]:
        """One mode's warm-up and grid runs; the trials of its row's repeats when measured.

        Each repeat runs through every back-end asked for, one after another (so the machine's
        drift hits them all alike), then the extra runs follow (the default back-end's)."""
        warm = session.warm_up(mode)
        profile = session.pp.profile
        replay = replay_payloads(self.reference) if mode is Mode.REPLAY else None
        expected_s = measured_seconds(self.reference)
        own = [r for r in repeats if not self.job.state.is_finished((profile.name, mode, r))]
        runs = plan_grid_runs(self.job, profile, mode, own, expected_s)
        by_repeat = {run.repeat: run for run in runs if run.purpose.is_repeat}
        measured: list[TrialResult] = []
        for repeat in repeats:
            if repeat in by_repeat:
                trials = session.run(mode, by_repeat[repeat], warm, replay)
                if mode is Mode.MEASURED:
                    measured += trials
            for backend in _backends_of(self.job, session.pp, mode):
                key = (_row_of(profile, backend), mode, repeat)
                if self.job.state.is_finished(key):
                    continue
                if backend == FLOOR:
                    self._run_floor(session.pp, repeat)
                    continue
                specs = ordered(self.job.state.remaining(key, self.job.specs), self.job.order,
                                expected_s)
                session.run(mode, GridRun(Purpose.ROW, repeat, self.job.order, specs,
                                          self.job.state.results(key)), warm, replay, backend)
        for run in runs:
            if not run.purpose.is_repeat:
                session.run(mode, run, warm, replay)
        return measured

    def _run_floor(self, pp: PlannedProfile, repeat: int = 0) -> None:
        """The profile's trials on a local process pool of its slots (no Spark), recorded as the
        row ``floor-<slots>``; run after the profile's cluster has stopped, so nothing else is
        busy, or (a back-end of ``--backends``) beside each of its repeats, its cluster idle."""
        profile = pp.profile
        name = floor_profile(profile.slots)
        repeats = self.job.repeats if FLOOR in self.job.backends else 1
        step = floor_step(profile, name, [s.trial_id for s in self.job.specs], self.job.order,
                          repeat, repeats)
        self.observer.started(step)
        # The floor has always trained without the slowdown knob's sleep.
        run = run_floor(ordered(self.job.specs, self.job.order, measured_seconds(self.reference)),
                        self.dataset, self.recipe.without_slowdown(), slots=profile.slots,
                        threads_per_trial=profile.threads_per_trial, repeat=repeat,
                        log_dir=self.run_dir.logs(name),
                        on_trial=lambda: self.observer.trial_done(step))
        self.observer.finished(step, run.wall_s, run.trials)  # as a grid's: no warm-up
        for trial in run.trials:
            self.run_dir.append_trial(trial)
        self.run_dir.append_profile_run(profile_row(
            profile, profile=run.profile, mode=Mode.MEASURED, repeat=repeat,
            trials=len(run.trials),
            wall_s=run.wall_s,
            # the pool's start (spawning its processes) is in its warm-up
            startup_s=0.0, warmup_s=run.warmup_s, oversubscribed=False,
            started_at=run.started_at, ended_at=run.ended_at, probe_s=run.probe_s,
            # its workers start and warm up before its clock
            order=self.job.order, runner="process-pool", workers_started=0))
        log.info("%s: %d trials in %.2f s", step.label, len(run.trials), run.wall_s)


def open_channel(sc: Any, profile: ClusterProfile) -> ResultChannel:
    """The profile's result channel, where executors reach the driver already: on the driver's
    bind address, told to them as the driver's host; at the port ``[ports] result_channel``
    fixes, else a free one."""
    conf = sc.getConf()
    host = conf.get("spark.driver.host")
    port = profile.result_channel_port or 0
    return ResultChannel(conf.get("spark.driver.bindAddress", host), advertised_host=host,
                         port=port, where=f"{profile.path} [ports] result_channel" if port else
                         f"the driver's address in cluster profile '{profile.name}' "
                         f"({profile.path})")


def plan_steps(job: RunJob) -> list[Step]:
    """Every step ``job`` will make, in the order run_experiment makes them (what is finished
    already left out): for the run's progress, before anything starts."""
    steps = []
    for pp in job.planned:
        profile, todo = pp.profile, _todo(job, pp)
        if todo:
            steps.append(startup_step(profile))
        for mode in dict.fromkeys(m for m, _ in todo):
            steps.append(warmup_step(profile, mode))
            repeats = [r for m, r in todo if m is mode]
            own = [r for r in repeats if not job.state.is_finished((profile.name, mode, r))]
            # The order needs no durations here: only which trials each run has.
            runs = plan_grid_runs(job, profile, mode, own, {})
            by_repeat = {run.repeat: run for run in runs if run.purpose.is_repeat}
            for repeat in repeats:
                if repeat in by_repeat:
                    steps.append(by_repeat[repeat].step(profile, mode, job.repeats))
                for backend in _backends_of(job, pp, mode):
                    row = _row_of(profile, backend)
                    if job.state.is_finished((row, mode, repeat)):
                        continue
                    ids = [s.trial_id for s in job.specs]
                    steps.append(floor_step(profile, row, ids, job.order, repeat, job.repeats)
                                 if backend == FLOOR else
                                 GridRun(Purpose.ROW, repeat, job.order, job.specs, []).step(
                                     profile, mode, job.repeats, row))
            steps += [run.step(profile, mode, job.repeats) for run in runs
                      if not run.purpose.is_repeat]
            if job.deploy_rows:
                steps.append(deployment_step(profile, mode, job.deploy_rows))
        if _floor_due(job, pp, todo):
            steps.append(floor_step(profile, floor_profile(profile.slots),
                                    [s.trial_id for s in job.specs], job.order))
    return steps


def _todo(job: RunJob, pp: PlannedProfile) -> list[tuple[Mode, int]]:
    """The profile's (mode, repeat) grid runs that have a row (the default back-end's, or one
    of ``--backends``) with no result yet."""
    return [(mode, repeat) for mode in pp.modes for repeat in range(job.repeats)
            if any(not job.state.is_finished((_row_of(pp.profile, b), mode, repeat))
                   for b in (DEFAULT, *_backends_of(job, pp, mode)))]


def _backends_of(job: RunJob, pp: PlannedProfile, mode: Mode) -> list[str]:
    """The back-ends of ``--backends`` besides the default that run ``mode`` on the profile:
    the floor only measured trials on a local cluster that has its cores."""
    return [b for b in job.backends if b != DEFAULT and (
        b != FLOOR or (mode is Mode.MEASURED and pp.profile.is_local and not pp.oversubscribed))]


def _row_of(profile: ClusterProfile, backend: str) -> str:
    return floor_profile(profile.slots) if backend == FLOOR else backend_row(profile.name,
                                                                               backend)


def _floor_due(job: RunJob, pp: PlannedProfile, todo: list[tuple[Mode, int]]) -> bool:
    """The profile's floor runs after it: asked for, due beside it, not yet made, and not run
    beside each repeat already (a back-end of ``--backends``)."""
    return bool(job.floor and todo and _has_floor(pp) and FLOOR not in job.backends
                and not job.state.is_finished((floor_profile(pp.profile.slots),
                                               Mode.MEASURED, 0)))


def _has_floor(pp: PlannedProfile) -> bool:
    """A floor stands beside a measured multi-node row of a local cluster that has its cores."""
    return (Mode.MEASURED in pp.modes and pp.profile.nodes > 1 and pp.profile.is_local
            and not pp.oversubscribed)
