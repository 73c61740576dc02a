"""Code that runs inside Spark tasks, on the executors' Python workers.

A Python worker is reused for many tasks (``spark.python.worker.reuse``), so what one trial loads
(TensorFlow, the broadcast dataset as floats) stays for the next; every trial still starts from its
own seed, so its metrics do not depend on what ran before it.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import TrialSpec
from bench.execute.attempts import crashed_result_fields, host_oom_kills
from bench.execute.executors import executor_identity
from bench.ml.machine_probe import probe_work
from bench.store.records import Mode, TrialResult, TrialStatus

# Per worker: the float32 copy of a broadcast dataset (the broadcast object lives in PySpark's
# registry for as long as the broadcast does; one copy is kept at a time).
_FLOAT_DATA: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

# The result channel, once the warm-up's survey proved every executor reaches it: a connection
# that fails now fails fast, and is not tried again by this worker in the same grid run (its
# results reach the driver with the job's own), so a broken channel costs a task seconds, once.
CONNECT_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0  # the referee answers at once; a retry's answer asks Spark's executors
_UNREACHED: set[tuple[tuple[str, int], str]] = set()  # per worker: (channel, token) that failed


@dataclass(frozen=True)
class TaskSettings:
    """What every trial task of one grid run shares; pickled once into the job's closure."""

    profile: str
    mode: Mode
    repeat: int
    recipe: TrialRecipe  # how each trial trains
    channel: tuple[str, int] | None  # where to send each result the moment it is ready
    token: str  # identifies this grid run on the channel


def trial_payload(spec: TrialSpec, replay: dict | None = None) -> dict:
    """What one trial's task is given: the configuration and, for replay, what it replays."""
    return {"trial_id": spec.trial_id, "index": spec.index, "params": spec.params,
            "is_baseline": spec.is_baseline, "replay": replay}


def executor_id() -> str:
    """The executor this task runs in, as Spark names it (bench.execute.executors); where
    nothing tells it, ``pid-<the Python worker's pid>``."""
    return executor_identity().name()


def float_data(data_bc: Any) -> Any:
    """The float32 copy of a broadcast dataset, made once per worker (and kept while the
    broadcast lives)."""
    cached = _FLOAT_DATA.get(data_bc)
    if cached is None:
        _FLOAT_DATA.clear()
        cached = _FLOAT_DATA[data_bc] = data_bc.value.as_float32()
    return cached


def _attempt() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.attemptNumber() if context is not None else 0


def _send(channel: tuple[str, int] | None, message: dict) -> None:
    """Best effort: the driver also gets every result from the job itself when it ends."""
    if channel is None or (channel, message["token"]) in _UNREACHED:
        return
    try:
        with socket.create_connection(channel, timeout=CONNECT_TIMEOUT_S) as conn:
            conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError as e:
        _UNREACHED.add((channel, message["token"]))
        print(f"bench: could not send a result to the driver at {channel}: {e}; this worker "
              "sends no more in this grid run", file=sys.stderr)


def _ask(channel: tuple[str, int] | None, message: dict) -> dict:
    """Send ``message`` and wait for the driver's one-line answer. No driver, or no answer in
    time: an answer with only ``unanswered_s`` (the seconds it cost), and the task goes on as if
    the driver had said nothing."""
    if channel is None or (channel, message["token"]) in _UNREACHED:
        return {}
    began = time.perf_counter()
    try:
        with socket.create_connection(channel, timeout=CONNECT_TIMEOUT_S) as conn:
            conn.settimeout(ANSWER_TIMEOUT_S)
            conn.sendall(json.dumps({**message, "ask": True}).encode() + b"\n")
            line = conn.makefile("rb").readline()
        if line:
            return json.loads(line)
        error = "the driver closed the connection without answering"
    except (OSError, ValueError) as e:
        error = str(e) or type(e).__name__
    _UNREACHED.add((channel, message["token"]))
    print(f"bench: no answer from the driver at {channel}: {error}; this worker asks no more "
          "in this grid run", file=sys.stderr)
    return {"unanswered_s": time.perf_counter() - began}


def run_trial(payload: dict, *, data_bc: Any, settings: TaskSettings,
              attempt: int | None = None) -> dict:
    """One trial, measured or replayed: the body of one Spark task. ``attempt``: the trial's
    attempt where the Spark task's own is not it (the pull dispatcher hands one task many)."""
    trial = {"trial_id": payload["trial_id"],
             "attempt": _attempt() if attempt is None else attempt}
    try:
        return _run_trial(payload, trial, data_bc=data_bc, settings=settings)
    except Exception:
        # Spark will retry it: tell the driver this attempt ended by raising, not by its worker
        # dying, so the retry is allowed to run.
        _send(settings.channel, {"token": settings.token, "raised": trial})
        raise


def _run_trial(payload: dict, trial: dict, *, data_bc: Any, settings: TaskSettings) -> dict:
    started = time.time()
    # Announce the attempt and ask whether to run it: if this executor is lost before the result
    # is sent, the driver can still say which executor it was and what the re-run cost; if an
    # earlier attempt's worker died under this trial, the driver says so instead (execute.attempts).
    identity = executor_identity()
    answer = _ask(settings.channel, {"token": settings.token, "start": {
        **trial, "executor_id": identity.name(), "executor_known": identity.known,
        "executor_pid": identity.executor_pid, "host": socket.gethostname(),
        "pid": os.getpid(), "oom_kills": host_oom_kills(), "started_at": started}})
    cold = "tensorflow" not in sys.modules
    phases: dict[str, float] = {}
    if "unanswered_s" in answer:  # in the trial's task time: marked, not hidden in it
        phases["channel_wait"] = answer["unanswered_s"]
    if answer.get("run") is False:
        return _report(payload, trial, crashed_result_fields(answer), started=started,
                       phases=phases, cold=False, settings=settings)
    t = time.perf_counter()
    data = float_data(data_bc)
    phases["fetch"] = time.perf_counter() - t
    replay = payload.get("replay")
    if replay is not None:
        # Only the task's time is replayed: sleep for what the probe and the compute took on 1
        # node (REPLAYED_PHASES); dispatch, fetch and the result's way back are real.
        time.sleep(sum(replay["phases"].values()))
        phases.update(replay["phases"])
        return _report(payload, trial, replay["metrics"], started=started, phases=phases,
                       cold=False, settings=settings)
    from bench.ml.training import freeze_imports, train_and_evaluate

    if cold:  # the warm-up missed this worker: at least keep the next trials fast
        import tensorflow  # noqa: F401

        freeze_imports()
    # The machine's speed now, before the trial's own work (and before the test knob's sleep).
    phases["probe"] = probe_work()
    recipe = settings.recipe
    cpu_start = time.process_time()
    outcome = train_and_evaluate(
        data, recipe.model, payload["params"], epochs=recipe.epochs,
        batch_size=recipe.batch_size, seed=recipe.seed, timeout_s=recipe.timeout_s,
        shuffle=recipe.shuffle, trial_function=recipe.trial_function,
    )
    phases.update(outcome.phases)
    if recipe.slowdown:  # the gate's test knob: a trial that does more work
        phases["train"] = phases.get("train", 0.0) + burn_cpu(
            recipe.slowdown * (time.process_time() - cpu_start))
    cpu_s = time.process_time() - cpu_start
    metrics = {
        "status": outcome.status.value, "error": outcome.error,
        "val_error": outcome.val_error, "test_error": outcome.test_error,
        "final_loss": outcome.final_loss, "cpu_s": cpu_s, "test_wrong": outcome.test_wrong,
    }
    return _report(payload, trial, metrics, started=started, phases=phases, cold=cold,
                   settings=settings)


def pull_trials(_partition: Any, *, data_bc: Any, settings: TaskSettings) -> Any:
    """The pull dispatcher's long-lived task, one per slot: ask the driver for the next trial,
    run it, ask again, until the driver says the grid is done (bench.execute.backends.pull).
    Yields each trial's result, which the channel has sent already."""
    from pyspark import TaskContext

    context = TaskContext.get()
    ask = {"token": settings.token, "next": {
        "slot": context.partitionId(), "task_attempt": context.attemptNumber()}}
    while True:
        answer = _ask(settings.channel, ask)
        if answer.get("done"):
            return
        if "trial" not in answer:  # no driver: this task fails, and Spark's retry asks again
            raise RuntimeError(f"bench: the pull dispatcher at {settings.channel} did not answer "
                               f"({answer})")
        yield run_trial(answer["trial"], data_bc=data_bc, settings=settings,
                        attempt=answer["attempt"])


def burn_cpu(cpu_seconds: float) -> float:
    """Spin until this process has used ``cpu_seconds`` more CPU; the wall seconds it took.

    The slowdown knob's extra work: more CPU, like a real regression, so that both the trial's
    wall time and its CPU time grow (a sleep would leave the CPU time as it was)."""
    begin, target = time.perf_counter(), time.process_time() + cpu_seconds
    while time.process_time() < target:
        sum(range(10_000))
    return time.perf_counter() - begin


def _report(payload: dict, trial: dict, metrics: dict, *, started: float,
            phases: dict[str, float], cold: bool, settings: TaskSettings) -> dict:
    """The trial's result, sent to the driver now and returned to Spark."""
    result = TrialResult(
        profile=settings.profile, mode=settings.mode, repeat=settings.repeat,
        trial_id=payload["trial_id"], index=payload["index"], params=payload["params"],
        is_baseline=payload["is_baseline"], status=TrialStatus(metrics["status"]),
        error=metrics["error"], val_error=metrics["val_error"],
        test_error=metrics["test_error"], final_loss=metrics["final_loss"],
        # absent from a crashed trial's fields (execute.attempts) and from older replays
        test_wrong=metrics.get("test_wrong"), cpu_s=metrics.get("cpu_s"),
        started_at=started, ended_at=time.time(), phases=phases, executor_id=executor_id(),
        host=socket.gethostname(), pid=os.getpid(), cold=cold, attempt=trial["attempt"],
    ).to_dict()
    _send(settings.channel, {"token": settings.token, "result": result})
    return result


# Marks a warm-up that found no TensorFlow in the executor's Python (the cluster's Python is not
# the one bench's dependencies are installed in).
NO_TENSORFLOW = "bench: this executor's Python has no TensorFlow:"


def warm_up(partition: Any, *, tensorflow: bool, data_bc: Any = None,
            code: str | None = None) -> list[dict]:
    """Runs once in every slot before the clock starts: import TensorFlow where trials need it,
    and read the broadcast dataset, so that every profile's first wave starts alike (a slot whose
    worker ran an earlier mode's trials holds it already; a fresh one would pay for it in the
    grid, 13 at once on a small host). Both are timed and reported beside the grid wall time.
    ``code``: the workload's own builder or trial ("module:function"), imported here too."""
    t = time.perf_counter()
    already = "tensorflow" in sys.modules
    if tensorflow:
        try:
            from bench.ml.training import warm_up as tensorflow_warm_up

            tensorflow_warm_up()
        except ImportError as e:  # the driver turns this into a message (runner.warm_up_workers)
            raise RuntimeError(f"{NO_TENSORFLOW} {sys.executable}: {e}") from None
        probe_work()  # TensorFlow's first use of the probe's kernels is no trial's probe
        if code:
            from bench.definitions.user_code import load_function

            load_function(code)
    fetch_s = None
    if data_bc is not None:
        f = time.perf_counter()
        float_data(data_bc)
        fetch_s = time.perf_counter() - f
    return [{
        "executor_id": executor_id(), "pid": os.getpid(), "seconds": time.perf_counter() - t,
        "already_warm": already, "fetch_s": fetch_s,
    }]
