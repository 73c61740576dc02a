"""The figures the gate compares, and what kind each is (docs/method.md, "The gate").

A figure knows which way is better and how far it can be trusted on a noisy shared machine:

- exact: deterministic for a seed (test errors, trial and Spark task counts): any change is one;
- within-run: a ratio of figures measured in the same run (speedup, efficiency vs bound, overhead
  per trial): machine noise hits both sides, so one repeat says something;
- absolute: a wall time; it moves 10-50 % with the load of a shared machine, so it gets a verdict
  only from enough repeats, by a bootstrap interval of the ratio of means, against a threshold
  above the drift that A/A runs showed (``Thresholds.wall_time``);
- at equal machine speed: a measured time divided by the machine probe of the same repeat
  (``bench.ml.machine_probe``), which takes most of the drift out. The gate's tight thresholds
  apply to these, and a verdict stands only when the figure as measured moved the same way
  beyond the threshold too (``judging.both_ways``). A measured multi-node row's speedup and
  efficiency vs bound compare two profiles run minutes apart, so they too are judged this way,
  with the repeats. With probes on both sides the raw times are shown, not gated; without (a run
  made before the probe) they are gated above the drift A/A runs showed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(str, enum.Enum):
    EXACT = "exact"
    WITHIN_RUN = "within-run"
    ABSOLUTE = "absolute"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    higher_is_better: bool
    kind: Kind
    threshold: str | None = None  # a field of Thresholds
    absolute_threshold: bool = False  # the threshold is in the figure's unit, not a fraction
    gated: bool = True  # False: shown, but it repeats what another figure gates
    changed_fails: bool = False  # exact results: an improvement is a change the gate reports too
    unit: str = ""


WALL = Figure("wall_s", "grid wall time", False, Kind.ABSOLUTE, "wall_time", unit="s")
TRIAL = Figure("trial_s", "trial compute time", False, Kind.ABSOLUTE, "trial_time", unit="s")
SPEEDUP = Figure("speedup", "speedup", True, Kind.WITHIN_RUN, "speedup", unit="x")
EFFICIENCY = Figure("efficiency", "efficiency", True, Kind.WITHIN_RUN, "speedup", gated=False)
VS_BOUND = Figure("efficiency_vs_bound", "efficiency vs bound", True, Kind.WITHIN_RUN,
                  "efficiency_vs_bound")
MACHINE = Figure("probe_s", "machine probe", False, Kind.ABSOLUTE, "wall_time", gated=False,
                 unit="s")
CPU = Figure("trial_cpu_s", "trial CPU time", False, Kind.ABSOLUTE, "cpu_time", unit="s")
NORM_WALL = Figure("wall_probes", "grid wall time at equal machine speed", False,
                   Kind.WITHIN_RUN, "normalized_time", unit="probes")
NORM_TRIAL = Figure("trial_probes", "trial compute time at equal machine speed", False,
                    Kind.WITHIN_RUN, "normalized_time", unit="probes")
NORM_SPEEDUP = Figure("speedup_equal_speed", "speedup at equal machine speed", True,
                      Kind.WITHIN_RUN, "speedup", unit="x")
NORM_VS_BOUND = Figure("efficiency_vs_bound_equal_speed",
                       "efficiency vs bound at equal machine speed", True, Kind.WITHIN_RUN,
                       "efficiency_vs_bound")
OVERHEAD = Figure("overhead_per_trial_s", "overhead per trial", False, Kind.WITHIN_RUN,
                  "overhead_per_trial_s", absolute_threshold=True, unit="s")
TRIALS_OK = Figure("trials_ok", "trials ok", True, Kind.EXACT)
SPARK_TASKS = Figure("spark_tasks", "Spark task attempts", False, Kind.EXACT)
TASK_FAILURES = Figure("task_failures", "Spark task failures", False, Kind.EXACT)
SPARK_JOBS = Figure("spark_jobs", "Spark jobs", False, Kind.EXACT)
BASELINE_ERROR = Figure("baseline_test_error", "baseline test error", False, Kind.EXACT,
                        changed_fails=True, unit="%")
BEST_ERROR = Figure("best_test_error", "best test error", False, Kind.EXACT, changed_fails=True,
                    unit="%")
REDUCTION = Figure("relative_error_reduction", "relative test-error reduction", True, Kind.EXACT,
                   changed_fails=True, unit="%")
TRIAL_METRICS = Figure("trials_changed", "trials whose metrics changed", False, Kind.EXACT,
                       changed_fails=True)
IDENTICAL = Figure("metrics_identical", "metrics identical across profiles", True, Kind.EXACT)
