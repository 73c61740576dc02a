"""A reference floor: the same trials on the same number of slots in a plain local process pool.

No Spark: ``slots`` worker processes of joblib's loky, each with a Spark executor's TensorFlow
environment for ``threads_per_trial`` cores, pinned to its own CPUs where the host has enough
(as a local cluster pins its nodes, bench.cluster._local.node_cpus), warmed up before the clock
starts, and given the dataset once (as Spark's broadcast is). Each trial is the very task body a
Spark executor runs (execute.tasks.run_trial), so its phases and metrics are those of a measured
trial; only the way it gets there differs. The wall time has the runner's definition: first trial
submitted -> last result back in the parent.

What the measured rows lose to Spark is their wall time minus this one. What is left in the floor
is the host's: on a 2-core host two trials at once each run 20-30 % slower than one alone (their
train phases show it); no runner gets under that.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cluster._local import node_cpus
from bench.cluster.spark_session import executor_environment
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.tasks import TaskSettings, run_trial, trial_payload
from bench.execute.tasks import warm_up as task_warm_up
from bench.store.records import Mode, TrialResult

# How long a worker waits in the warm-up for the other workers to start (processes spawning on a
# busy host); past it the warm-up fails instead of hanging.
BARRIER_TIMEOUT_S = 300.0
FLOOR_PREFIX = "floor-"

# In a worker: the dataset it was started with, held like a broadcast (bench.execute.tasks reads
# ``.value`` and caches the float32 copy per holder, so trials after the warm-up fetch nothing).
_HOLDER: _DatasetHolder | None = None


class _DatasetHolder:
    """Stands in for a Spark broadcast: ``.value`` is the dataset (and it can be weakly held)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def floor_profile(slots: int) -> str:
    """The profile name a floor's trials carry: ``floor-<slots>``."""
    return f"{FLOOR_PREFIX}{slots}"


@dataclass
class FloorRun:
    """One run of the floor: its trials and timings."""

    slots: int
    threads_per_trial: int
    trials: list[TrialResult]  # in the order given to run_floor
    wall_s: float  # first trial submitted -> last result in the parent (the runner's definition)
    # Pool start-up (process spawn) and the warm-up in every worker, before the clock: not in
    # wall_s, as a profile's start-up and warm-up are not in its grid wall time.
    warmup_s: float
    probe_s: float | None  # mean of the trials' machine probes (bench.ml.machine_probe)
    pinned_cpus: list[list[int]]  # each worker's CPUs, in worker order; [] when not pinned
    started_at: float  # the first trial submitted (time.time())
    ended_at: float  # the last result in the parent
    # One per worker, in rank order: pid, cpus, seconds (its own warm-up), fetch_s, already_warm,
    # warmed_at (its warm-up's end, time.time()).
    workers: list[dict[str, Any]] = field(default_factory=list)
    repeat: int = 0  # the repeat its trials carry

    @property
    def profile(self) -> str:
        return floor_profile(self.slots)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slots": self.slots, "threads_per_trial": self.threads_per_trial,
            "trials": [t.to_dict() for t in self.trials], "wall_s": self.wall_s,
            "warmup_s": self.warmup_s, "probe_s": self.probe_s,
            "pinned_cpus": [list(c) for c in self.pinned_cpus], "started_at": self.started_at,
            "ended_at": self.ended_at, "workers": [dict(w) for w in self.workers],
            "repeat": self.repeat,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FloorRun:
        d = dict(d)
        d["trials"] = [TrialResult.from_dict(t) for t in d["trials"]]
        return cls(**d)


def run_floor(
    specs: list[TrialSpec], dataset: Any, recipe: TrialRecipe, *, slots: int,
    threads_per_trial: int, pin_cpus: bool = True, repeat: int = 0, log_dir: Path | None = None,
    on_trial: Callable[[], None] | None = None,
) -> FloorRun:
    """Run ``specs`` in this order, one trial per task, on a pool of ``slots`` warm processes.

    ``dataset`` is a bench.ml.datasets.Dataset; each worker gets it once, when it starts. Trials are
    measured trials (Mode.MEASURED, profile ``floor-<slots>``, ``repeat``) trained as ``recipe``
    says: the same seed gives the same metrics as anywhere else with the same TensorFlow threads.
    A trial that fails, diverges or times out is a result, as on Spark; an unknown model family is
    a ValueError before any process starts; an error of the pool itself (a worker that raised
    outside a trial, or died) is raised here with the worker's traceback. With ``log_dir`` (made
    if missing), each worker's stderr goes to ``log_dir/worker.<pid>``. The pool's processes are
    stopped before this returns or raises, Ctrl-C and SIGTERM included (loky's resource trackers
    stay: they serve the whole process). ``on_trial`` is called as each trial's result arrives,
    in a thread of the pool's.
    """
    _check_pool(slots, threads_per_trial, recipe.model)
    from joblib.externals.loky import ProcessPoolExecutor

    plan = node_cpus(slots, threads_per_trial) if pin_cpus else []
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    settings = TaskSettings(profile=floor_profile(slots), mode=Mode.MEASURED, repeat=repeat,
                            recipe=recipe, channel=None, token="")
    begin = time.perf_counter()
    executor = ProcessPoolExecutor(
        max_workers=slots, initializer=_start_worker,
        initargs=(dataset, str(log_dir / "worker") if log_dir is not None else None),
        # Set before the worker's first import, as Spark sets an executor's environment.
        env=executor_environment(threads_per_trial))
    barrier, clean = None, False
    try:
        barrier = tempfile.mkdtemp(prefix="bench-floor-")
        workers = _warm_up_pool(executor, barrier, slots, plan, recipe.own_code)
        warmup_s = time.perf_counter() - begin
        timed = _run_trials(executor, specs, settings, on_trial)
        clean = True
    finally:
        # A clean end lets the workers exit on their own; an error or Ctrl-C kills them.
        executor.shutdown(wait=True, kill_workers=not clean)
        del executor
        _stop_resource_trackers()
        if barrier is not None:
            shutil.rmtree(barrier, ignore_errors=True)
    trials = timed.results()
    probes = [t.phases["probe"] for t in trials if "probe" in t.phases]
    return FloorRun(
        slots=slots, threads_per_trial=threads_per_trial, trials=trials,
        wall_s=timed.ended_at - timed.started_at, warmup_s=warmup_s,
        probe_s=statistics.fmean(probes) if probes else None,
        pinned_cpus=[w["cpus"] for w in workers] if plan else [],
        started_at=timed.started_at, ended_at=timed.ended_at, workers=workers, repeat=repeat)


def _stop_resource_trackers() -> None:
    """Stop the processes the pool's semaphores started to track them (Python's and loky's
    resource trackers): they would outlive bench by a moment otherwise, exiting only once their
    parent has. A later pool starts them again."""
    from multiprocessing import resource_tracker as python_tracker

    from joblib.externals.loky.backend import resource_tracker as loky_tracker

    for module in (python_tracker, loky_tracker):
        tracker = getattr(module, "_resource_tracker", None)
        if tracker is not None and hasattr(tracker, "_stop"):  # private: may be renamed
            tracker._stop()


def _check_pool(slots: int, threads_per_trial: int, model: str) -> None:
    if slots < 1 or threads_per_trial < 1:
        raise ValueError(f"slots and threads_per_trial must be >= 1, got {slots} and "
                         f"{threads_per_trial}")
    from bench.definitions.hyperparameters import MODEL_HYPERPARAMETERS
    from bench.definitions.user_code import is_reference

    # every trial would fail: say so before any process
    if model not in MODEL_HYPERPARAMETERS and not is_reference(model):
        raise ValueError(f"unknown model family {model!r}; choose one of "
                         f"{', '.join(MODEL_HYPERPARAMETERS)}")


def _warm_up_pool(executor: Any, barrier: str, slots: int, plan: list[list[int]],
                  code: str | None) -> list[dict[str, Any]]:
    """Every worker warmed up once, in rank order (_warm_up_worker)."""
    # The first submit starts every worker: a Ctrl-C in the middle of a start would leave a
    # process the pool does not know of yet, so it waits until they are all known.
    with _signals_deferred():
        warm = [executor.submit(_warm_up_worker, barrier, slots, plan, code)
                for _ in range(slots)]
    return sorted(_results(warm), key=lambda w: w["rank"])


@dataclass
class _TimedTrials:
    """The raw results of the pool's trials, in submission order, and when each arrived."""

    raws: list[dict]
    arrived: list[float]
    started_at: float  # the first trial submitted
    ended_at: float  # the last result in the parent

    def results(self) -> list[TrialResult]:
        trials = []
        for raw, arrival in zip(self.raws, self.arrived, strict=True):
            result = TrialResult.from_dict(raw)
            result.dispatched_at, result.received_at = self.started_at, arrival
            # As the Spark runner records them: queued behind the earlier trials, and the way
            # back.
            result.phases = {"waiting": result.started_at - self.started_at, **result.phases,
                             "collect": result.received_at - result.ended_at}
            trials.append(result)
        return trials


def _run_trials(executor: Any, specs: list[TrialSpec], settings: TaskSettings,
                on_trial: Callable[[], None] | None = None) -> _TimedTrials:
    """Submit every trial at once (the pool queues them in order) and wait for all of them."""
    payloads = [trial_payload(s) for s in specs]
    received_at: list[float | None] = [None] * len(payloads)
    started_at = time.time()
    futures = []
    for i, payload in enumerate(payloads):
        future = executor.submit(_floor_trial, payload, settings)
        # Runs in loky's thread the moment the result is in: the trial's arrival time.
        future.add_done_callback(functools.partial(_arrived, received_at, i, on_trial))
        futures.append(future)
    raws = _results(futures)
    # The waiters are woken before the callbacks run: the last one may not have run yet.
    done_at = time.time()
    arrived = [done_at if r is None else min(r, done_at) for r in received_at]
    return _TimedTrials(raws, arrived, started_at, max(arrived, default=started_at))


def _arrived(received_at: list[float | None], i: int, on_trial: Callable[[], None] | None,
             _: concurrent.futures.Future) -> None:
    received_at[i] = time.time()
    if on_trial is not None:
        on_trial()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them as they came (to the
    handlers from before: KeyboardInterrupt, bench.cli's Terminated). Only the main thread can
    set handlers; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    wanted = [signal.SIGINT, signal.SIGTERM]
    previous = {s: signal.signal(s, lambda signum, _: caught.append(signum)) for s in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


def _results(futures: list[concurrent.futures.Future]) -> list[Any]:
    """Every future's result, in order; the first error raised as soon as it happens (the others
    are not waited for: the pool is killed)."""
    done, _ = concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    for future in done:
        if future.exception() is not None:
            raise future.exception()
    return [f.result() for f in futures]


# --- In the workers ---------------------------------------------------------------------------

def _start_worker(dataset: Any, log_path: str | None = None) -> None:
    """Each worker's initializer: hold the dataset it was sent once; with ``log_path``, write
    its stderr there (TensorFlow's C++ logging), as a Spark executor writes to its own log."""
    global _HOLDER
    _HOLDER = _DatasetHolder(dataset)
    if log_path is not None:
        with open(f"{log_path}.{os.getpid()}", "ab") as log:
            os.dup2(log.fileno(), 2)
    # loky replaces a worker whose memory grew by 300 MB since its first task (the warm-up); a
    # replacement would start cold and unpinned in the middle of the grid. Spark's reused Python
    # workers are not replaced, so neither are these.
    from joblib.externals.loky import process_executor

    if hasattr(process_executor, "_MAX_MEMORY_LEAK_SIZE"):
        process_executor._MAX_MEMORY_LEAK_SIZE = sys.maxsize


def _warm_up_worker(barrier: str, slots: int, plan: list[list[int]],
                    code: str | None = None) -> dict[str, Any]:
    """The warm-up of one worker: wait until every worker holds one warm-up task (so each gets
    exactly one), take the CPUs of this worker's rank, then warm up as a Spark slot does."""
    pid = os.getpid()
    folder = Path(barrier)
    (folder / f"ready-{pid}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT_S
    while True:
        ready = sorted(int(p.name.removeprefix("ready-")) for p in folder.glob("ready-*"))
        if len(ready) >= slots:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(ready)} of {slots} pool workers started their warm-up "
                               f"in {BARRIER_TIMEOUT_S:.0f} s")
        time.sleep(0.01)
    if len(ready) > slots:  # a worker was replaced mid-warm-up: ranks would collide
        raise RuntimeError(f"{len(ready)} workers took a warm-up task in a pool of {slots}")
    rank = ready.index(pid)
    if plan:
        _pin(plan[rank])
    # As a Spark slot's warm-up: the float32 copy of the dataset (first here: a dataset that is
    # no Dataset fails in seconds), then TensorFlow's import, a tiny model and the probe once.
    (data,) = task_warm_up(iter(()), tensorflow=False, data_bc=_HOLDER)
    (tf,) = task_warm_up(iter(()), tensorflow=True, code=code)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return {**tf, "seconds": data["seconds"] + tf["seconds"], "fetch_s": data["fetch_s"],
            "rank": rank, "cpus": cpus, "warmed_at": time.time()}


def _pin(cpus: list[int]) -> None:
    """Pin every thread of this process to ``cpus``: threads started later (TensorFlow's pools)
    inherit it from the thread that starts them."""
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for tid in threads:
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(tid, cpus)
    os.sched_setaffinity(0, cpus)


def _floor_trial(payload: dict, settings: TaskSettings) -> dict:
    """One trial: the body of a Spark task (probe, build, train, evaluate, cleanup), reading the
    dataset this worker holds."""
    return run_trial(payload, data_bc=_HOLDER, settings=settings)
