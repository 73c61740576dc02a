"""Run directories written by hand, as `bench run` writes them, for tests of what reads runs
(compare, check, baselines) without starting Spark: every figure of them is known exactly."""

from __future__ import annotations

from pathlib import Path

from bench.environment import hardware
from bench.records import FORMAT_VERSION, Mode, ProfileRun, TrialResult, TrialStatus
from bench.rundir import RunDirectory
from bench.thresholds import Thresholds

# (profile, mode, nodes) -> grid wall time of each repeat, in seconds
WALLS = {
    ("local", Mode.MEASURED, 1): [4.20, 4.30, 4.10],
    ("2-node", Mode.MEASURED, 2): [2.30, 2.40, 2.20],
    ("2-node", Mode.REPLAY, 2): [2.10, 2.20, 2.15],
}
TRIAL_SECONDS = {"a": 2.0, "b": 1.0, "c": 1.0}  # a: the baseline, c: diverges


def write_run(
    out: Path, *, scale: float = 1.0, scale_2_node: float = 1.0, repeats: int = 3,
    test_b: float = 0.2, workload_hash: str = "wh", profile_hash: str = "p2",
    knobs: dict | None = None, thresholds: Thresholds | None = None,
    environment: dict | None = None, walls: dict | None = None, name: str = "w",
) -> Path:
    """A finished run of workload ``name`` grid ``g``. ``scale`` multiplies every time (a slower
    machine or trial), ``scale_2_node`` the 2-node wall times only (a runner that got worse)."""
    run = RunDirectory.create(out, name)
    run.write_meta({
        "format_version": FORMAT_VERSION, "run_id": run.run_id,
        "workload": {"name": name, "grid": "g", "trials": 3, "hash": workload_hash,
                     "thresholds": (thresholds or Thresholds()).to_dict()},
        "profiles": [{"name": "local", "hash": "p1"}, {"name": "2-node", "hash": profile_hash}],
        "test_knobs": knobs or {"slowdown": 0.0, "seed_offset": 0},
        "environment": environment or {"python": "3.11", **hardware()},
    })
    for (profile, mode, nodes), row_walls in (walls or WALLS).items():
        for repeat in range(repeats):
            wall = row_walls[repeat % len(row_walls)] * scale
            if nodes > 1:
                wall *= scale_2_node
            for index, (trial_id, secs) in enumerate(TRIAL_SECONDS.items()):
                ok = trial_id != "c"
                run.append_trial(TrialResult(
                    profile=profile, mode=mode, repeat=repeat, trial_id=trial_id, index=index,
                    params={"learning_rate": float(index + 1)}, is_baseline=index == 0,
                    status=TrialStatus.OK if ok else TrialStatus.DIVERGED,
                    val_error={"a": 0.3, "b": 0.1}.get(trial_id),
                    test_error={"a": 0.4, "b": test_b}.get(trial_id),
                    final_loss=0.5 if ok else None, dispatched_at=0.0, started_at=0.0,
                    ended_at=secs * scale, received_at=secs * scale,
                    phases={"train": secs * scale}))
            run.append_profile_run(ProfileRun(
                profile=profile, mode=mode, repeat=repeat, nodes=nodes, cores=1, slots=nodes,
                trials=3, wall_s=wall, startup_s=5.0, warmup_s=2.0, oversubscribed=False,
                started_at=0.0, ended_at=wall, spark_jobs=1, spark_tasks=3, task_failures=0))
    return run.path
