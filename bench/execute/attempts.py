"""The driver's word on a trial's re-run: run it again, or record why its last attempt died.

Spark re-runs a task whose attempt failed, up to ``spark.task.maxFailures`` times. That is right
when the executor was lost (the machine went away: the trial deserves another node). It is wrong
when the Python worker died under the trial while its executor stayed up: the kernel's
out-of-memory killer took it, or native code crashed. The same configuration would die again,
every re-run costs a trial's time, and the fourth death aborts the whole grid.

So every attempt asks the driver before it trains (tasks.run_trial). The referee answers from
what the tasks themselves said: the previous attempt began on executor E and sent neither a
result nor word that it raised, and E is still there: its worker died. The re-run then
records the trial as ``oom`` (the host's count of out-of-memory kills rose while it ran) or
``crashed``, and the grid goes on.

E is still there when the re-run runs in the very executor process the attempt ran in (same
host, same executor JVM pid), or when Spark still lists E's id. An attempt whose executor id
nothing told (``executor_known`` false: a ``pid-N`` name, which Spark never lists) is judged by
the process alone; where that cannot tell either, Spark's retry runs, as for a lost executor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import Any

from bench.store.records import LostAttempt, TrialResult, TrialStatus

VMSTAT = "/proc/vmstat"


def host_oom_kills(path: str = VMSTAT) -> int | None:
    """The kernel's count of processes its out-of-memory killer has ended on this host (Linux
    4.13 and newer; the cgroup's own limit counts too). None where the kernel does not say."""
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        return None
    return None


class AttemptReferee:
    """Hears every message of one grid run (token) and answers each attempt's question: run?

    Called from the result channel's handler threads, hence the lock. ``live_executors`` lists the
    executors registered now (None when Spark cannot say: then every re-run is allowed).
    """

    def __init__(self, token: str, live_executors: Callable[[], set[str] | None]) -> None:
        self.token = token
        self._live_executors = live_executors
        self._lock = threading.Lock()
        self._starts: dict[tuple[str, int], dict] = {}  # (trial, attempt) -> its start message
        self._ended: set[tuple[str, int]] = set()  # attempts that sent a result or raised
        self.crashed: dict[tuple[str, int], TrialStatus] = {}  # attempts whose worker died

    def hear(self, message: dict) -> dict | None:
        """Take note of ``message``; return the answer to send back when it asks a question."""
        if message.get("token") != self.token:
            return None
        with self._lock:
            if "result" in message:
                result = message["result"]
                self._ended.add((result["trial_id"], result["attempt"]))
            elif "raised" in message:
                raised = message["raised"]
                self._ended.add((raised["trial_id"], raised["attempt"]))
            elif "start" in message:
                start = message["start"]
                self._starts[(start["trial_id"], start["attempt"])] = start
                return self._verdict(start)
        return None

    def _verdict(self, start: dict) -> dict:
        trial, attempt = start["trial_id"], start["attempt"]
        earlier = [a for (t, a) in self._starts if t == trial and a < attempt]
        if not earlier:  # a first attempt, or the earlier one died before it could say so
            return {"run": True}
        previous = self._starts[(trial, max(earlier))]
        if (trial, previous["attempt"]) in self._ended:  # it raised: Spark's retry is fair
            return {"run": True}
        if not self._executor_stayed_up(previous, start):
            return {"run": True}  # its executor was lost: the trial deserves another node
        status, error = died_under_trial(previous, start)
        self.crashed[(trial, previous["attempt"])] = status
        return {"run": False, "status": status.value, "error": error}


    def _executor_stayed_up(self, previous: dict, retry: dict) -> bool:
        """The ``previous`` attempt's executor is up now: only its Python worker died."""
        jvm = previous.get("executor_pid")
        if jvm is not None and jvm == retry.get("executor_pid") and \
                previous.get("host") == retry.get("host"):
            return True  # the retry runs in that very executor process
        if not previous.get("executor_known", True):  # no id Spark could list
            return False
        live = self._live_executors()
        return live is not None and previous.get("executor_id") in live


def died_under_trial(previous: dict, retry: dict) -> tuple[TrialStatus, str]:
    """Why the ``previous`` attempt's Python worker died, as far as ``retry`` can tell."""
    where = (f"its Python worker (pid {previous.get('pid')}, executor "
             f"{previous.get('executor_id')}, host {previous.get('host')}) exited without a "
             f"result while the executor stayed up")
    before, after = previous.get("oom_kills"), retry.get("oom_kills")
    same_host = previous.get("host") == retry.get("host")
    if same_host and before is not None and after is not None and after > before:
        return TrialStatus.OOM, (
            f"attempt {previous['attempt']} ran out of memory: {where}, and the host's kernel "
            f"killed {after - before} process(es) for want of memory meanwhile ({VMSTAT} "
            f"oom_kill {before} -> {after}). The configuration needs more memory than its node "
            "has: give nodes more memory, run fewer trials per node, or leave it out of the grid. "
            "Not run again: it would die the same way.")
    evidence = ("the host's out-of-memory count did not change" if same_host and before is not None
                and after is not None else "whether the kernel's out-of-memory killer took it "
                "could not be told from here (look for 'Killed process' in the node's dmesg)")
    return TrialStatus.CRASHED, (
        f"attempt {previous['attempt']} crashed: {where}; {evidence}. A signal or a crash in "
        "native code ended it; the executor's stderr in the run's logs has Spark's word. Not run "
        "again: it would likely die the same way.")


def crashed_result_fields(answer: dict[str, Any]) -> dict[str, Any]:
    """What a re-run that was told not to run reports instead of metrics."""
    return {"status": answer["status"], "error": answer["error"], "val_error": None,
            "test_error": None, "final_loss": None}


def lost_attempts(
    starts: list[dict], received: dict[str, TrialResult],
    crashed: Collection[tuple[str, int]] = (),
) -> list[LostAttempt]:
    """Attempts that began but gave no result because their executor was lost.

    ``crashed`` (trial, attempt) pairs lost their Python worker, not their executor: their
    trial's result says so, and they are not counted here.

    An attempt that began after its trial's result was in (Spark re-ran a task whose executor died
    after sending it) lost nothing: its result is ignored, and Spark's counts show the extra task.
    A trial finished by a later attempt with no earlier one heard of lost that attempt before it
    could announce itself: it is listed with its executor unknown.
    """
    lost = []
    for start in starts:
        result = received.get(start["trial_id"])
        if result is not None and result.attempt <= start["attempt"]:
            continue
        if (start["trial_id"], start["attempt"]) in crashed:
            continue
        lost.append(LostAttempt(
            trial_id=start["trial_id"], attempt=start["attempt"],
            executor_id=start.get("executor_id"), host=start.get("host"),
            started_at=start["started_at"],
            rerun_started_at=result.started_at if result is not None else None))
    heard = {a.trial_id for a in lost} | {trial for trial, _ in crashed}
    lost += [LostAttempt(trial_id=r.trial_id, attempt=r.attempt - 1, executor_id=None, host=None,
                         started_at=None, rerun_started_at=r.started_at)
             for r in received.values() if r.attempt > 0 and r.trial_id not in heard]
    return sorted(lost, key=lambda a: (a.started_at is None, a.started_at or 0.0, a.trial_id))
