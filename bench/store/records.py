"""What a run records: trial results, per-profile timings and their states.

These are the rows of a run directory's ``trials.jsonl`` and ``profiles.jsonl``. Field names are
part of the file format (``FORMAT_VERSION``); readers use ``from_dict`` so an unknown or missing
field is noticed instead of silently defaulted.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy is imported where a mask is packed or unpacked, not with the records
    import numpy as np

FORMAT_VERSION = 1

# Phases of one trial, in order. "waiting" is dispatch -> start on the executor; "collect" is end on
# the executor -> result at the driver. The middle ones are measured inside the Spark task.
PHASES = ("waiting", "fetch", "probe", "build", "train", "evaluate", "cleanup", "collect")
# The trial's own compute: what model durations and trial compute times sum.
COMPUTE_PHASES = ("build", "train", "evaluate", "cleanup")
# What replay sleeps for, as measured on 1 node: the compute and the machine probe, which every
# measured trial's task spends too (bench.ml.machine_probe), so a replayed task lasts as long.
REPLAYED_PHASES = ("probe", *COMPUTE_PHASES)


# The order a grid's trials are dispatched in (bench.execute.trial_order), as recorded.
Order = Literal["longest_first", "grid"]
ORDERS: tuple[Order, ...] = ("longest_first", "grid")
DEFAULT_ORDER: Order = "longest_first"


class TrialStatus(str, enum.Enum):
    OK = "ok"
    DIVERGED = "diverged"  # the loss became NaN or infinite: a property of the hyperparameters
    FAILED = "failed"  # the trial raised; the traceback is in ``error``
    TIMEOUT = "timeout"  # training ran past the workload's per-trial timeout and was stopped
    OOM = "oom"  # training could not get the memory it needed (its model or batch is too big)
    CRASHED = "crashed"  # its Python worker died under it (a signal, a native crash): not re-run
    CANCELLED = "cancelled"

    def has_metrics(self) -> bool:
        return self is TrialStatus.OK

    def is_hyperparameter_fault(self) -> bool:
        """Failures caused by the configuration itself: Spark must not retry them."""
        return self in (TrialStatus.DIVERGED, TrialStatus.FAILED, TrialStatus.TIMEOUT,
                        TrialStatus.OOM, TrialStatus.CRASHED)


def last_error_line(error: str | None, most: int = 240) -> str:
    """The line of a traceback that says what went wrong (its last), cut to ``most`` characters."""
    lines = [line.strip() for line in (error or "").strip().splitlines() if line.strip()]
    line = lines[-1] if lines else "(no error text)"
    return line if len(line) <= most else line[: most - 3] + "..."


def pack_wrong(wrong: np.ndarray) -> dict[str, Any]:
    """Which test images a trial got wrong, compactly and as JSON: ``{"n": images, "bits": the
    booleans packed 8 to a byte (np.packbits, big-endian bit order), base64}`` (60 characters for
    digits' 360 test images, 1,668 for MNIST's 10,000)."""
    import numpy as np

    flags = np.asarray(wrong, dtype=bool).ravel()
    return {"n": int(flags.size), "bits": base64.b64encode(np.packbits(flags)).decode("ascii")}


def unpack_wrong(packed: dict[str, Any]) -> np.ndarray:
    """The boolean vector ``pack_wrong`` packed: True where the trial got the test image wrong."""
    import numpy as np

    raw = np.frombuffer(base64.b64decode(packed["bits"]), dtype=np.uint8)
    return np.unpackbits(raw, count=int(packed["n"])).astype(bool)


class Mode(str, enum.Enum):
    """Where a figure comes from (docs/method.md, "Modes")."""

    MEASURED = "measured"  # real trials on a real cluster
    REPLAY = "replay"  # real cluster, surrogate trials sleeping for durations measured on 1 node
    MODEL = "model"  # simulation from measured durations and overheads


def _row_to_dict(row: Any) -> dict[str, Any]:
    """A record dataclass as its JSON line: every field, its mode by value."""
    d = dataclasses.asdict(row)
    d["mode"] = row.mode.value
    return d


def _row_fields(d: dict[str, Any]) -> dict[str, Any]:
    """A JSON line's fields for a record's constructor: a copy, its mode an enum again."""
    d = dict(d)
    d["mode"] = Mode(d["mode"])
    return d


@dataclass
class TrialResult:
    """One line of ``trials.jsonl``: one trial as it finished, on one profile, mode and repeat."""

    profile: str
    mode: Mode
    repeat: int
    trial_id: str
    index: int
    params: dict[str, Any]
    is_baseline: bool
    status: TrialStatus
    error: str | None = None
    val_error: float | None = None
    test_error: float | None = None
    final_loss: float | None = None
    # Unix timestamps (seconds): driver clock for dispatched/received, executor clock otherwise.
    dispatched_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    received_at: float | None = None
    phases: dict[str, float] = field(default_factory=dict)  # seconds, keys from PHASES
    executor_id: str | None = None
    host: str | None = None
    pid: int | None = None
    cold: bool = False  # TensorFlow was imported inside this trial: warm-up missed its worker
    attempt: int = 0
    # Which test images it got wrong (pack_wrong), so two trials' test errors can be compared
    # image by image (bench.analyse.test_error_intervals). None: not ok, or recorded before it.
    test_wrong: dict[str, Any] | None = None
    # CPU seconds its Python worker spent on the trial's compute (build, train, evaluate,
    # cleanup; every thread of the process). Other tenants of a shared host stretch wall times
    # but hardly this: the gate's steadiest figure. None: replayed, or recorded before it.
    cpu_s: float | None = None

    @property
    def task_seconds(self) -> float | None:
        """Time inside the Spark task (start -> end on the executor): the d_i of docs/method.md."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        d = _row_to_dict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialResult:
        d = _row_fields(d)
        d["status"] = TrialStatus(d["status"])
        return cls(**d)


def best_on_validation(trials: Iterable[TrialResult]) -> TrialResult | None:
    """The configuration a search picks: the lowest validation error of the trials that ended
    ok (docs/method.md, "Accuracy"); a tie goes to the earlier one in the grid."""
    ok = [t for t in trials if t.status is TrialStatus.OK]
    return min(ok, key=lambda t: (t.val_error, t.index), default=None)


@dataclass(frozen=True)
class LostAttempt:
    """A trial's attempt whose executor was lost before the trial finished; Spark ran it again."""

    trial_id: str
    attempt: int  # Spark's attempt number of the lost one
    executor_id: str | None
    host: str | None
    started_at: float | None  # the lost attempt's start (executor clock); None: lost before
    # it could say it had begun
    rerun_started_at: float | None  # start of the attempt that finished; None: none did

    @property
    def recovery_s(self) -> float | None:
        """What the loss cost this trial: lost attempt's start -> the finishing attempt's start
        (the work thrown away, Spark noticing the loss, and rescheduling)."""
        if self.started_at is None or self.rerun_started_at is None:
            return None
        return self.rerun_started_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "recovery_s": self.recovery_s}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LostAttempt:
        return cls(**{k: v for k, v in d.items() if k != "recovery_s"})


@dataclass
class ProfileRun:
    """One line of ``profiles.jsonl``: one repeat of the grid on one profile and mode."""

    profile: str
    mode: Mode
    repeat: int
    nodes: int
    cores: int  # per node
    slots: int
    trials: int  # trials dispatched
    wall_s: float  # first trial dispatched -> last result at the driver
    startup_s: float  # the profile's cluster start-up until every executor registered
    warmup_s: float  # this mode's warm-up (TensorFlow import in every slot), before the clock
    oversubscribed: bool  # nodes x cores exceed the host's usable cores
    started_at: float
    ended_at: float
    # What Spark itself counted for the grid's job group (None in runs made before bench 0.2).
    spark_jobs: int | None = None
    spark_tasks: int | None = None  # task attempts launched, retries included
    task_failures: int | None = None  # failed task attempts: each one is a retry or a lost trial
    lost_attempts: list[LostAttempt] = field(default_factory=list)  # executors lost mid-trial
    lost_executors: list[str] = field(default_factory=list)  # registered before, gone after
    # Trials of this grid run recorded before a driver died; `bench run --resume` ran the rest, and
    # wall_s covers only those: not the grid's wall time.
    resumed_trials: int = 0
    # The machine probe (bench.ml.machine_probe): the mean of this grid run's trials' probe phases.
    # None for replay (its trials probe nothing) and in runs made before the probe.
    probe_s: float | None = None
    # The order the trials were dispatched in (execute.trial_order); runs before it used "grid".
    order: str = "grid"
    # An extra grid run in the other order, for the order comparison only: not one of the row's
    # repeats, and its trials are not recorded.
    order_check: bool = False
    # A weak-scaling run (`--trials-per-node`): the first k x nodes trials of the grid, once;
    # like an order check, not one of the row's repeats, and its trials are not recorded.
    weak_trial_ids: list[str] = field(default_factory=list)
    # What ran the trials: "spark" (one Spark map, the default back-end), "process-pool" for the
    # floor (execute.process_pool_floor: the same trials on as many slots of a plain local
    # process pool, no Spark), or another back-end's name ("pull", "joblibspark", "hyperopt",
    # "optuna", "ray": bench.execute.backends).
    runner: str = "spark"
    # The warm-up's reading of the broadcast dataset: the slowest slot, seconds (None before it).
    data_fetch_s: float | None = None
    # The back-end's own start before the grid's clock: opening it (a Ray cluster) and, for the
    # pull dispatcher, its slots' tasks starting until the first trial was handed out.
    backend_start_s: float | None = None
    # Python workers this grid run's trials ran in that no warm-up or earlier grid run of the
    # profile had used (each pays its start and TensorFlow import inside the grid).
    workers_started: int | None = None

    @property
    def is_extra(self) -> bool:
        """An order check or a weak-scaling run: beside the row, not one of its repeats."""
        return self.order_check or bool(self.weak_trial_ids)

    def to_dict(self) -> dict[str, Any]:
        d = _row_to_dict(self)
        d["lost_attempts"] = [a.to_dict() for a in self.lost_attempts]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProfileRun:
        d = _row_fields(d)
        d["lost_attempts"] = [LostAttempt.from_dict(a) for a in d.get("lost_attempts", [])]
        return cls(**d)


@dataclass
class DeploymentRun:
    """One line of ``deployments.jsonl``: one scoring job on one profile, mode and repeat."""

    profile: str
    mode: Mode
    repeat: int
    nodes: int
    slots: int
    rows: int
    partitions: int
    batch_size: int  # rows per predict batch
    wall_s: float  # job submitted -> collect returned, at the driver
    rows_per_s: float
    predictions_digest: str  # sha256 over the partitions' digests, in partition order
    accuracy: float  # correct predictions / rows
    # Per partition, in partition order. Seconds on the executor: build + predict, and the
    # generation of its rows (with the dataset's first read in its worker); replay records the
    # reference's, which it slept for.
    partition_seconds: list[float]
    partition_generate_seconds: list[float]
    partition_digests: list[str]  # sha256 of the predicted classes as uint8 bytes
    partition_correct: list[int]
    partition_executors: list[str]
    started_at: float  # Unix time the job was submitted
    cold_partitions: int = 0  # partitions that had to import TensorFlow (warm-up missed them)
    spark_tasks: int | None = None  # task attempts Spark launched, retries included
    task_failures: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _row_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeploymentRun:
        return cls(**_row_fields(d))
