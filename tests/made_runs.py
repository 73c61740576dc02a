"""Run directories written by hand, as `bench run` writes them, for tests of what reads runs
(compare, check, references) without starting Spark: every figure of them is known exactly."""

from __future__ import annotations

from pathlib import Path

from bench.cluster.environment import hardware
from bench.definitions.thresholds import Thresholds
from bench.store.records import FORMAT_VERSION, Mode, ProfileRun, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory

# (profile, mode, nodes) -> grid wall time of each repeat, in seconds
WALLS = {
    ("local", Mode.MEASURED, 1): [4.20, 4.30, 4.10],
    ("2-node", Mode.MEASURED, 2): [2.30, 2.40, 2.20],
    ("2-node", Mode.REPLAY, 2): [2.10, 2.20, 2.15],
}
TRIAL_SECONDS = {"a": 2.0, "b": 1.0, "c": 1.0}  # a: the baseline, c: diverges
PROBE_S = 0.5  # the machine probe of every repeat, on an unslowed machine


def write_run(
    out: Path, *, scale: float = 1.0, scale_2_node: float = 1.0, repeats: int = 3,
    test_b: float = 0.2, workload_hash: str = "wh", profile_hash: str = "p2",
    knobs: dict | None = None, thresholds: Thresholds | None = None,
    environment: dict | None = None, walls: dict | None = None, name: str = "w",
    machine: float | dict[str, float] = 1.0, probe_s: float | None = PROBE_S,
) -> Path:
    """A finished run of workload ``name`` grid ``g``. ``scale`` multiplies every trial's time (a
    slower trial), ``scale_2_node`` the 2-node wall times only (a runner that got worse).
    ``machine`` (one factor, or one per profile name) slows the machine: the times and the
    machine probe alike. ``probe_s`` None: a run made before the probe."""
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
            # A replayed row sleeps for the durations of the 1-node run: its machine's speed.
            on = "local" if mode is Mode.REPLAY else profile
            slower = machine.get(on, 1.0) if isinstance(machine, dict) else machine
            wall = row_walls[repeat % len(row_walls)] * scale * slower
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
                    ended_at=secs * scale * slower, received_at=secs * scale * slower,
                    phases={"train": secs * scale * slower},
                    # the work done: a busier machine stretches the times, not this
                    cpu_s=None if mode is Mode.REPLAY else secs * scale))
            run.append_profile_run(ProfileRun(
                profile=profile, mode=mode, repeat=repeat, nodes=nodes, cores=1, slots=nodes,
                trials=3, wall_s=wall, startup_s=5.0, warmup_s=2.0, oversubscribed=False,
                started_at=0.0, ended_at=wall, spark_jobs=1, spark_tasks=3, task_failures=0,
                probe_s=None if probe_s is None else probe_s * slower))
    return run.path


# A 2016-style grid for the pictures: the baseline, then learning rate x neurons. Each trial's
# compute time, test error (None: no metrics) and status; learning rate 10 breaks both ways.
GRID_TRIALS = {
    # (learning_rate, neurons): (seconds, test error, status)
    (0.01, 32): (2.0, 0.20, TrialStatus.OK),  # the baseline, index 0
    (0.1, 32): (1.0, 0.10, TrialStatus.OK),
    (0.1, 64): (1.5, 0.08, TrialStatus.OK),
    (1.0, 32): (1.0, 0.05, TrialStatus.OK),
    (1.0, 64): (1.5, 0.04, TrialStatus.OK),  # the best on validation
    (10.0, 32): (0.5, None, TrialStatus.FAILED),
    (10.0, 64): (0.5, None, TrialStatus.DIVERGED),
}
# (profile, mode, nodes) -> how much each repeat's trials are stretched (wall times follow)
GRID_ROWS = {
    ("local", Mode.MEASURED, 1): [1.0, 1.1, 0.9],
    ("2-node", Mode.MEASURED, 2): [1.0, 1.05, 0.95],
    ("2-node", Mode.REPLAY, 2): [0.9, 0.95, 1.0],
    ("13-node", Mode.REPLAY, 13): [1.0, 1.0, 1.1],
}
GRID_T0 = 1_000.0  # when each grid run's trials are dispatched (all at once, as Spark does)
GRID_WAIT_S = 0.1  # a free slot's wait for its next trial
GRID_COLLECT_S = 0.02  # end on the executor -> result at the driver


def write_grid_run(out: Path, *, repeats: int = 3, rows: dict | None = None) -> Path:
    """A finished run of GRID_TRIALS on GRID_ROWS whose trials were scheduled as Spark does with
    one trial per slot: each goes to the first slot free, waits GRID_WAIT_S, runs its phases
    back to back; the wall time is the last result's arrival. Diverged and failed trials have
    timings but no metrics."""
    run = RunDirectory.create(out, "grid")
    run.write_meta({
        "format_version": FORMAT_VERSION, "run_id": run.run_id,
        "workload": {"name": "grid", "grid": "g", "trials": len(GRID_TRIALS), "hash": "gh",
                     "thresholds": Thresholds().to_dict()},
        "profiles": [{"name": p, "hash": p} for p, _, _ in (rows or GRID_ROWS)],
        "test_knobs": {"slowdown": 0.0, "seed_offset": 0},
        "environment": {"python": "3.11", **hardware()},
    })
    for (profile, mode, nodes), stretches in (rows or GRID_ROWS).items():
        for repeat in range(repeats):
            stretch = stretches[repeat % len(stretches)]
            free = [GRID_T0] * nodes
            last = GRID_T0
            for index, ((lr, neurons), (secs, test, status)) in enumerate(GRID_TRIALS.items()):
                slot = min(range(nodes), key=lambda s: free[s])
                start = free[slot] + GRID_WAIT_S
                secs *= stretch
                end = start + secs
                phases = {"waiting": start - GRID_T0, "fetch": 0.1 * secs, "build": 0.1 * secs,
                          "train": 0.6 * secs, "evaluate": 0.1 * secs, "cleanup": 0.1 * secs,
                          "collect": GRID_COLLECT_S}
                ok = status is TrialStatus.OK
                run.append_trial(TrialResult(
                    profile=profile, mode=mode, repeat=repeat,
                    trial_id=f"learning_rate={lr:g},neurons={neurons}", index=index,
                    params={"learning_rate": lr, "neurons": neurons, "momentum": 0.0},
                    is_baseline=index == 0, status=status,
                    error="Traceback ...\nValueError: learning rate too high" if
                    status is TrialStatus.FAILED else None,
                    val_error=test, test_error=test, final_loss=0.5 if ok else None,
                    dispatched_at=GRID_T0, started_at=start, ended_at=end,
                    received_at=end + GRID_COLLECT_S, phases=phases,
                    executor_id=str(slot), host=f"h{slot}", pid=100 + slot))
                free[slot] = end + GRID_COLLECT_S
                last = max(last, end + GRID_COLLECT_S)
            run.append_profile_run(ProfileRun(
                profile=profile, mode=mode, repeat=repeat, nodes=nodes, cores=1, slots=nodes,
                trials=len(GRID_TRIALS), wall_s=last - GRID_T0, startup_s=5.0, warmup_s=2.0,
                oversubscribed=False, started_at=GRID_T0, ended_at=last, spark_jobs=1,
                spark_tasks=len(GRID_TRIALS), task_failures=0))
    return run.path
