"""Runs one grid on a Spark cluster through a back-end, the dataset broadcast once.

By default the whole grid is one Spark job (the 2016 pattern: a map over the configurations), one
task per trial in dispatch order (bench.execute.backends has the others). Results come back
through the ResultChannel as each trial ends, and once more with the job's own result, which
fills in anything the channel missed.
"""

from __future__ import annotations

import functools
import logging
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.definitions.workload import TrialSpec
from bench.errors import UserError
from bench.execute.attempts import AttemptReferee, lost_attempts
from bench.execute.backends.base import Backend, GridSubmission, HasReferee
from bench.execute.backends.spark_map import SparkMap
from bench.execute.executors import survey
from bench.execute.result_channel import ResultChannel
from bench.execute.tasks import NO_TENSORFLOW, TaskSettings, trial_payload, warm_up
from bench.store.records import LostAttempt, TrialResult, TrialStatus, last_error_line

log = logging.getLogger(__name__)

Clock = Callable[[], float]


# Statuses that, one after another, say the setup is broken (a missing module, executors with too
# little memory) rather than one configuration bad: diverging is a result and never counts.
_BROKEN = (TrialStatus.FAILED, TrialStatus.TIMEOUT, TrialStatus.OOM, TrialStatus.CRASHED)


class TooManyFailures(UserError):
    """Trials fail one after another: stop, instead of burning the cluster time of the rest."""

    def __init__(self, streak: list[TrialResult]) -> None:
        last = [f"{r.trial_id}: {last_error_line(r.error)}" for r in streak[-3:]]
        super().__init__(
            f"{len(streak)} trials in a row failed, timed out, ran out of memory or crashed, so "
            "the run stopped; the last errors:\n    " + "\n    ".join(last),
            fix="fix the cause (the full tracebacks are in the run's trials.jsonl), or raise "
                "[training] max_failures_in_a_row in the workload")


@dataclass(frozen=True)
class SparkCounts:
    """Spark's own count of a job group: a retry or an extra job shows here first."""

    jobs: int
    tasks: int  # task attempts launched
    task_failures: int


def executor_ids(sc: Any) -> set[str] | None:
    """The executors registered now; None if this Spark cannot say."""
    try:
        # SparkContext.getExecutorIds is Scala-private but public in the JVM; py4j reaches it.
        ids = sc._jsc.sc().getExecutorIds().mkString(",")
    except Exception:  # noqa: BLE001 - an internal API: no answer is better than no run
        log.debug("could not list the executors", exc_info=True)
        return None
    return {i for i in ids.split(",") if i}


def count_job_group(sc: Any, group: str) -> SparkCounts:
    tracker = sc.statusTracker()
    jobs = tracker.getJobIdsForGroup(group)
    tasks = failures = 0
    for job_id in jobs:
        info = tracker.getJobInfo(job_id)
        for stage_id in info.stageIds if info else []:
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                # numTasks counts the stage's partitions; every failed attempt was re-launched
                tasks += stage.numTasks + stage.numFailedTasks
                failures += stage.numFailedTasks
    return SparkCounts(jobs=len(jobs), tasks=tasks, task_failures=failures)


@dataclass(frozen=True)
class GridTiming:
    dispatched_at: float  # the grid's job submitted
    last_result_at: float  # the last trial's result at the driver
    spark: SparkCounts | None  # None: the back-end's jobs run in groups of its own
    lost: list[LostAttempt]
    lost_executors: list[str]  # executors registered when the grid began and gone at its end
    submitted_at: float  # the back-end given the grid: its start before the first dispatch

    @property
    def wall_s(self) -> float:
        """docs/method.md, "Time": first trial dispatched -> last result at the driver."""
        return self.last_result_at - self.dispatched_at

    @property
    def backend_start_s(self) -> float:
        """Grid given to the back-end -> first trial dispatched: the pull dispatcher's tasks
        starting, reported beside the wall time as the warm-up is."""
        return self.dispatched_at - self.submitted_at


class _Job(threading.Thread):
    """Runs a Spark action in its own thread, so the driver can take results while it runs."""

    def __init__(self, sc: Any, group: str, description: str, action: Callable[[], list]):
        super().__init__(name=f"bench-job-{group}", daemon=True)
        self.sc, self.group, self.description, self.action = sc, group, description, action
        self.result: list | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        # One job group per grid run: a Ctrl-C cancels all of it (PySpark pins thread-local
        # properties to this thread).
        self.sc.setJobGroup(self.group, self.description, interruptOnCancel=True)
        try:
            self.result = self.action()
        except BaseException as e:  # handed to the driver thread, which re-raises it
            self.error = e


def warm_up_workers(sc: Any, slots: int, tensorflow: bool, data_bc: Any = None,
                    code: str | None = None) -> tuple[float, list[dict]]:
    """Import TensorFlow once in every slot's Python worker and read ``data_bc`` there, timed on
    its own (bench.execute.tasks.warm_up).

    A barrier stage runs all its tasks at once, so with one task per slot every slot gets one.
    """
    begin = time.perf_counter()
    fn = functools.partial(warm_up, tensorflow=tensorflow, data_bc=data_bc, code=code)
    try:
        workers = run_job(sc, f"bench-warm-up-{uuid.uuid4().hex[:8]}", "bench: warm-up",
                          lambda: sc.parallelize(range(slots), slots).barrier()
                          .mapPartitions(fn).collect())
    except Exception as e:
        if (missing := without_tensorflow(str(e))) is not None:
            raise missing from None
        raise
    return time.perf_counter() - begin, workers


def without_tensorflow(error: str) -> UserError | None:
    """The user's mistake in a warm-up's error (the Spark exception's text, with the executor's
    traceback): executors whose Python has no TensorFlow (tasks.warm_up marks it). None when
    the error is something else."""
    found = re.search(re.escape(NO_TENSORFLOW) + r" (\S+): ([^\n]*)", error)
    if found is None:
        return None
    return UserError(
        f"the executors' Python, {found[1]}, cannot import TensorFlow ({found[2]})",
        where="the cluster's Python (spark.pyspark.python, PYSPARK_PYTHON)",
        fix="run the executors on a Python with bench's dependencies: set PYSPARK_PYTHON "
            "before the session starts (os.environ['PYSPARK_PYTHON'] = sys.executable on "
            "this machine; spark.pyspark.python with spark-submit), or install "
            "tensorflow-cpu where the executors run")


SURVEY_TIMEOUT_S = 5.0  # for an executor to reach the result channel, and as long for its answer


def survey_executors(sc: Any, channel: ResultChannel, slots: int, where: str) -> list[dict]:
    """Every executor's word before any trial (bench.execute.executors.survey): one report per
    executor (its slots counted), each with what it runs on and its way to the result channel.

    One task per slot in a barrier stage, so every slot gets one. An executor that cannot reach
    the channel is a UserError here, seconds after the start (``where``: the profile), never
    trials that each wait for it."""
    token = uuid.uuid4().hex
    channel.referees[token] = lambda message: {"heard": True}
    fn = functools.partial(survey, channel=channel.address, token=token,
                           timeout_s=SURVEY_TIMEOUT_S)
    try:
        reports = run_job(sc, f"bench-survey-{token[:8]}", "bench: executors",
                          lambda: sc.parallelize(range(slots), slots).barrier().mapPartitions(fn)
                          .collect())
    finally:
        channel.referees.pop(token, None)
    executors: dict[str, dict] = {}
    for report in reports:
        seen = executors.setdefault(report["executor_id"], {**report, "slots": 0})
        seen["slots"] += 1
        if not report["channel"]["reached"]:
            seen["channel"] = report["channel"]
    unreached = [e for e in executors.values() if not e["channel"]["reached"]]
    if unreached:
        raise _unreachable(channel.address, unreached, len(executors), where)
    return sorted(executors.values(), key=lambda e: (len(e["executor_id"]), e["executor_id"]))


def _unreachable(address: tuple[str, int], unreached: list[dict], executors: int,
                 where: str) -> UserError:
    host, port = address
    said = "; ".join(f"executor {e['executor_id']} on {e['host']}: {e['channel']['error']}"
                     for e in unreached[:3])
    return UserError(
        f"{len(unreached)} of {executors} executors cannot reach the driver's result channel at "
        f"{host}:{port} ({said}). Trials would each wait for it and report only when their whole "
        "grid ends", where=where,
        fix=f"let the executors connect to TCP port {port} of the driver host {host} (a firewall "
            "or security group), or fix the port the profile opens with [ports] result_channel "
            "= PORT; if the executors reach the driver at another address, set "
            "\"spark.driver.host\" in the profile's [spark] table")


def run_job(sc: Any, group: str, description: str, action: Callable[[], list]) -> list:
    """A Spark action in its own job group: a Ctrl-C cancels it; its error is raised here."""
    job = _Job(sc, group, description, action)
    job.start()
    _join(sc, job)
    return job.result or []


def _join(sc: Any, job: _Job, meanwhile: Callable[[], None] | None = None,
          cancel: Callable[[Any], None] | None = None) -> None:
    """Wait for ``job`` to end, doing ``meanwhile`` first; any exception on the way (Ctrl-C
    included) cancels the job's group (and what ``cancel`` cancels: a back-end's own jobs)
    before it goes on up. The job's own error is raised here."""
    try:
        if meanwhile is not None:
            meanwhile()
        while job.is_alive():
            job.join(timeout=0.2)
    except BaseException:
        sc.cancelJobGroup(job.group)
        if cancel is not None:
            cancel(sc)
        job.join(timeout=30)
        raise
    if job.error is not None:
        raise job.error


class _Intake:
    """The driver's side of one grid run: takes each trial's result once, as it arrives, and
    hears of each attempt as it begins."""

    def __init__(self, on_result: Callable[[TrialResult], None],
                 on_start: Callable[[dict], None] | None, max_failures_in_a_row: int | None,
                 clock: Clock) -> None:
        self.on_result, self.on_start = on_result, on_start
        self.max_failures_in_a_row, self.clock = max_failures_in_a_row, clock
        self.received: dict[str, TrialResult] = {}
        self.starts: list[dict] = []  # every attempt that began, as each task announced it
        self.streak: list[TrialResult] = []  # broken trials one after another, the latest last
        self.submitted_at = clock()
        # The first trial's dispatch: now, unless the back-end says when (dispatched()).
        self.dispatched_at: float | None = self.submitted_at
        self._lock = threading.Lock()

    def dispatched(self) -> None:
        """The back-end handed out its first trial: the grid's clock starts now."""
        with self._lock:
            if self.dispatched_at is None:
                self.dispatched_at = self.clock()

    def started_clock(self) -> float:
        """When the grid's clock started (the back-end's first dispatch, or its submission)."""
        return self.dispatched_at if self.dispatched_at is not None else self.submitted_at

    def listen(self, inbox: queue.Queue, job: _Job, token: str, expected: int) -> None:
        """Take the channel's messages of this grid run until every trial has a result or the
        job has ended and nothing is left to read."""
        while len(self.received) < expected and (job.is_alive() or not inbox.empty()):
            try:
                message = inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if message.get("token") != token:  # from an older grid
                continue
            if "start" in message:
                self.starts.append(message["start"])
                if self.on_start is not None:
                    self.on_start(message["start"])
            elif "result" in message:  # not word that an attempt raised: its referee heard it
                self.accept(message["result"])

    def accept(self, raw: dict) -> None:
        if raw["trial_id"] in self.received:  # a task Spark re-ran after its result was sent
            log.info("ignored a second result for %s", raw["trial_id"])
            return
        result = TrialResult.from_dict(raw)
        dispatched_at = self.started_clock()
        result.dispatched_at = dispatched_at
        result.received_at = self.clock()
        result.phases = {
            "waiting": result.started_at - dispatched_at,
            **result.phases,
            "collect": result.received_at - result.ended_at,
        }
        self.received[result.trial_id] = result
        self.on_result(result)
        if result.status in _BROKEN:
            self.streak.append(result)
        else:
            self.streak.clear()
        if self.max_failures_in_a_row and len(self.streak) >= self.max_failures_in_a_row:
            raise TooManyFailures(self.streak)


def run_grid(
    sc: Any,
    specs: list[TrialSpec],
    *,
    data_bc: Any,
    settings: TaskSettings,
    channel: ResultChannel,
    on_result: Callable[[TrialResult], None],
    replay: dict[str, dict] | None = None,
    max_failures_in_a_row: int | None = None,
    on_start: Callable[[dict], None] | None = None,
    clock: Clock = time.time,
    backend: Backend | None = None,
    slots: int | None = None,
) -> GridTiming:
    """Run every spec once through ``backend`` (default: one Spark map, a task per trial); call
    ``on_result`` once per trial, as it arrives.

    ``max_failures_in_a_row`` failed, timed-out, out-of-memory or crashed trials arriving one
    after another cancel the grid (TooManyFailures): every finished trial has been handed to
    ``on_result`` by then.
    ``on_start`` hears of every attempt as it begins (trial_id, attempt, executor_id, host, pid).
    A re-run of a trial whose worker died under it while its executor stayed up is not run again
    but recorded as ``oom`` or ``crashed`` (execute.attempts); one whose executor was lost is.
    ``slots``: the profile's task slots (what a back-end that sizes itself reads)."""
    if not specs:  # a resumed grid whose trials all have a result already
        now = clock()
        return GridTiming(now, now, SparkCounts(0, 0, 0), [], [], now)
    backend = backend or SparkMap()
    group = f"bench-{settings.token}"
    grid = GridSubmission(
        sc, [trial_payload(s, replay[s.trial_id] if replay else None) for s in specs], data_bc,
        settings, slots or sc.defaultParallelism, group)
    executors_before = executor_ids(sc)
    referee = AttemptReferee(settings.token, lambda: executor_ids(sc))
    intake = _Intake(on_result, on_start, max_failures_in_a_row, clock)
    if isinstance(backend, HasReferee):  # it starts the clock when it hands out the first trial
        intake.dispatched_at = None
        channel.referees[settings.token] = backend.referee(grid, referee.hear, intake.dispatched)
    else:
        channel.referees[settings.token] = referee.hear
    job = _Job(sc, group, f"bench: {settings.profile} {settings.mode.value} ({backend.name})",
               lambda: backend.run(grid))
    job.start()
    try:
        _join(sc, job, functools.partial(intake.listen, channel.inbox, job, settings.token,
                                         len(specs)), getattr(backend, "cancel", None))
    finally:
        channel.referees.pop(settings.token, None)
    missed = [raw for raw in job.result or [] if raw["trial_id"] not in intake.received]
    # A last message may still be on its way as the job ends; a task that found the channel
    # broken said so in its phases (tasks._ask): those results arrive only now.
    broken = [raw for raw in missed if "channel_wait" in raw.get("phases", {})]
    if broken:
        log.warning("%s: %d of %d trials could not reach the result channel at %s:%d (their "
                    "tasks' stderr says why); their results count as arrived when the job ended",
                    settings.profile, len(broken), len(specs), *channel.address)
    for raw in missed:
        intake.accept(raw)
    return GridTiming(
        intake.started_clock(), max(r.received_at for r in intake.received.values()),
        count_job_group(sc, job.group) if getattr(backend, "counts_spark_jobs", True) else None,
        lost_attempts(intake.starts, intake.received, referee.crashed),
        _lost_executors(executors_before, executor_ids(sc)), intake.submitted_at)


def _lost_executors(before: set[str] | None, after: set[str] | None) -> list[str]:
    """Executors registered when the grid began and gone at its end, in their id's order."""
    if before is None or after is None:
        return []
    return sorted(before - after, key=lambda e: (len(e), e))
