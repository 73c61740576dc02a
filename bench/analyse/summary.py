"""The typed summary of a run: its rows, accuracy, model and extras; every printer reads it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bench.analyse import formulas, scaling_model
from bench.analyse.published import PublishedComparison
from bench.analyse.scalability import UslFit, WeakPoint
from bench.analyse.test_error_intervals import PairedTestErrors
from bench.analyse.time_to_quality import QualityPoint
from bench.store.records import DeploymentRun, Mode

RowKey = tuple[str, Mode]  # (profile, mode): one row


@dataclass(frozen=True)
class Row:
    """One profile in one mode."""

    name: str
    mode: Mode
    nodes: int
    cores: int
    slots: int
    wall: formulas.Stats
    startup_s: float
    warmup_s: float
    oversubscribed: bool
    speedup: float | None
    speedup_interval: tuple[float, float] | None
    efficiency: float | None
    bound_makespan_s: float | None
    bound_speedup: float | None
    efficiency_vs_bound: float | None
    karp_flatt: float | None
    replay_error: float | None  # (replay - measured) / measured wall time, same profile
    trials: dict[str, int]  # status -> count, in the latest repeat
    cold_trials: int
    phases_s: dict[str, float]  # mean seconds per trial
    wall_samples_s: list[float] = field(default_factory=list)  # one per repeat, in order
    overhead_per_trial_s: float | None = None  # (T - bound) / (trials per slot)
    # Measured rows: each trial's compute (build + train + evaluate + cleanup), mean over repeats
    trial_compute_s: dict[str, float] = field(default_factory=dict)
    # Measured rows: each trial's CPU time (TrialResult.cpu_s), mean over repeats; {} before it
    trial_cpu_s: dict[str, float] = field(default_factory=dict)
    spark: dict[str, float] | None = None  # jobs, tasks, task_failures per repeat (mean)
    # Trials whose executor was lost mid-trial, every repeat: LostAttempt.to_dict() + "repeat"
    lost_attempts: list[dict[str, Any]] = field(default_factory=list)
    lost_executors: list[dict[str, Any]] = field(default_factory=list)  # {"repeat", "executor_id"}
    stragglers: list[str] = field(default_factory=list)  # held the latest repeat's last wave
    # The machine probe (bench.ml.machine_probe) beside each wall sample: a measured row's own; a
    # replayed row's is its reference's mean, since it replays that run's durations. Empty when
    # a repeat has none (a run made before the probe).
    probe_samples_s: list[float] = field(default_factory=list)
    probe_mean_s: float | None = None  # of probe_samples_s
    # Where the grid wall time went (bench.analyse.time_breakdown): slot-seconds per part, mean over
    # repeats; and the warm-up's reading of the dataset (slowest slot), beside the wall time.
    slot_seconds: dict[str, float] = field(default_factory=dict)
    slot_percent: dict[str, float] = field(default_factory=dict)  # each part's share; {} at 0 s
    data_fetch_s: float | None = None
    runner: str = "spark"  # or "process-pool": the floor (bench.execute.process_pool_floor)
    # or a back-end's name (bench.execute.backends): "pull", "joblibspark", "hyperopt", ...
    backend_start_s: float | None = None  # mean over repeats; ProfileRun.backend_start_s
    workers_started: float | None = None  # Python workers started inside the grid, per repeat
    # Time to quality (bench.analyse.time_to_quality): seconds from dispatch until the run's best
    # configuration (on validation) had arrived at the driver, in the latest repeat.
    time_to_best_s: float | None = None
    karp_flatt_interval: tuple[float, float] | None = None  # from speedup_interval


@dataclass(frozen=True)
class OrderCheck:
    """One replayed profile's grid in both dispatch orders (bench.execute.trial_order)."""

    name: str
    slots: int
    order: str  # the run's order, the row's
    wall_s: float  # the row's mean replayed wall time
    other_order: str
    other_wall_s: float  # the order check's replayed wall time
    model_wall_s: float | None = None  # the model in the run's order, on the row's slots
    model_other_wall_s: float | None = None
    gain: float = 0.0  # (other_wall_s - wall_s) / other_wall_s: > 0 when the run's order wins


@dataclass(frozen=True)
class WeakRun:
    """Weak scaling: the grid's first k x N trials once on N nodes (`--trials-per-node k`)."""

    name: str
    mode: Mode
    nodes: int
    trials: int
    wall_s: float  # T(N, kN)
    serial_s: list[float] | None  # those trials' 1-node compute; None without a reference
    point: WeakPoint | None = None  # scaled speedup and weak efficiency; None without serial_s


@dataclass(frozen=True)
class FloorComparison:
    """A measured Spark row against the process-pool floor of as many slots (the same trials,
    no Spark): what Spark and the runner cost over it."""

    name: str  # the measured Spark row
    floor: str  # the floor row
    slots: int
    wall_s: float  # the row's mean wall time
    floor_wall_s: float
    ratio: float  # wall_s / floor_wall_s
    difference_s: float  # wall_s - floor_wall_s
    # Run minutes apart, the two may have met a different machine: the floor's mean machine probe
    # over the row's, and the ratio at equal machine speed (ratio x that). None without probes.
    probe_ratio: float | None = None
    equal_speed_ratio: float | None = None
    speed_moved: bool = False  # by more than run_scaling.SPEED_MOVED


@dataclass(frozen=True)
class BackendEntry:
    """One back-end's row in its profile's back-end table."""

    backend: str  # spark-map, pull, joblibspark, hyperopt, optuna, ray, floor
    row: Row
    # Its wall time over the floor's, repeat by repeat (they ran one after the other): the
    # median and every repeat's; None where the profile has no floor run beside each repeat.
    floor_ratio: float | None = None
    floor_ratios: list[float] = field(default_factory=list)
    tensorflow_imports: float = 0.0  # trials that imported TensorFlow inside the grid, per repeat


@dataclass(frozen=True)
class BackendTable:
    """A profile's grid through each back-end of `--backends`, read against one 1-node row."""

    profile: str  # the default back-end's row name
    mode: Mode
    slots: int
    entries: list[BackendEntry]


@dataclass(frozen=True)
class DeploymentRow:
    """The deployment step on one profile and mode, over its repeats."""

    profile: str
    mode: Mode
    nodes: tuple[int, ...]  # distinct values over the repeats, ascending
    rows: tuple[int, ...]
    partitions: tuple[int, ...]
    wall_s: float  # mean
    wall_sd_s: float | None  # None with one repeat
    rows_per_s: float  # mean
    speedup: float | None  # rows/s over the reference's; None without a measured reference
    # Every repeat's predictions the reference's; None for replay rows (theirs are the
    # reference's by construction) and without a measured reference.
    predictions_identical: bool | None


@dataclass(frozen=True)
class Mismatch:
    trial_id: str
    profile: str
    repeat: int
    field: str
    expected: Any
    got: Any


@dataclass(frozen=True)
class Accuracy:
    source: str  # which profile's trials the block reads
    baseline_params: dict[str, Any] | None
    baseline_test_error: float | None
    best_params: dict[str, Any] | None
    best_trial_id: str | None
    best_val_error: float | None
    best_test_error: float | None
    relative_error_reduction: float | None
    metrics_identical: bool | None  # None: fewer than two measured sets to compare
    compared: int  # measured (profile, repeat) sets compared
    mismatches: list[Mismatch] = field(default_factory=list)
    # How sure the errors and the gain are, from which test images the baseline and the best got
    # wrong (bench.analyse.test_error_intervals): 95 % Wilson intervals of both test errors, the
    # paired bootstrap interval of the reduction, the exact McNemar test. None in a run that did
    # not record them (an old run): the reports say "no interval (old run)".
    intervals: PairedTestErrors | None = None


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    workload: str
    grid: str
    reference: str | None  # the 1-node measured profile speedups are relative to
    rows: list[Row]  # the default back-end's rows and the floor's
    accuracy: Accuracy | None
    environment: dict[str, Any]
    notes: list[str]
    # Every trial's outcome on the accuracy source (repeat 0): what "same seed, same metrics"
    # compares across runs.
    trial_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The model (mode model), from the 1-node measured run: its overheads, its compute per trial
    # in grid order, its predictions, its error on every measured and replayed row, and where
    # each multi-node profile's speedup went.
    overheads: scaling_model.Overheads | None = None
    model_durations_s: list[float] = field(default_factory=list)
    model: list[scaling_model.ModelPoint] = field(default_factory=list)
    model_errors: list[scaling_model.ModelError] = field(default_factory=list)
    waterfalls: list[scaling_model.Waterfall] = field(default_factory=list)
    order: str = "grid"  # the trials' dispatch order (bench.execute.trial_order)
    order_checks: list[OrderCheck] = field(default_factory=list)
    weak_runs: list[WeakRun] = field(default_factory=list)
    deployments: list[DeploymentRun] = field(default_factory=list)  # the deployment step
    deployment_rows: list[DeploymentRow] = field(default_factory=list)  # its table
    floor_comparisons: list[FloorComparison] = field(default_factory=list)
    # The rows of the other back-ends of `--backends` (bench.execute.backends): compared with
    # their profile's own row in their table (bench.analyse.backends), not in the scaling curves.
    backend_rows: list[Row] = field(default_factory=list)
    backend_tables: list[BackendTable] = field(default_factory=list)
    # Gunther's USL on the Spark rows' speedups (bench.analyse.run_scaling.usl_fit); None
    # without speedups.
    usl_fit: UslFit | None = None
    # The best-so-far curve of each row's first repeat, keyed "<profile> (<mode>)", in the order
    # the records came (bench.analyse.time_to_quality.curves).
    quality_curves: dict[str, list[QualityPoint]] = field(default_factory=dict)
    # 2016's published figures beside this run (bench.analyse.published); None unless the run's
    # workload is 2016's (mnist, convnet).
    published: PublishedComparison | None = None

    def without_floor(self) -> RunSummary:
        """The summary without its process-pool floor rows: what scales with the nodes (speedup
        curves, Karp-Flatt, the USL) is Spark's; the floor is a yardstick of the same slots."""
        return dataclasses.replace(self, rows=[r for r in self.rows if r.runner == "spark"])
