"""The soak of faults (`make soak`, about 4 minutes): the `medium` grid on the 2-node profile, run
five times back to back, one worker (with its executor and Python workers) SIGKILLed mid-grid in
each, from outside, as a lost machine would be. Counted: trials expected, recorded, duplicated and
lost; lost executors the report named; processes and temp folders left. Zeros are due."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from conftest import bench_temp_dirs, of_this_session, spark_processes
from spark_helpers import kill_tree

from bench.cluster.leftovers import running_process

from ._runs import ROOT, summary

pytestmark = [pytest.mark.bench_run, pytest.mark.spark, pytest.mark.tensorflow]

RUNS = 5
KILL_AFTER_TRIALS = 3


def _cluster_processes(driver_pid: int) -> list[psutil.Process] | None:
    """The processes the run's local cluster recorded in its owner file, once it has workers."""
    for owner_file in Path(tempfile.gettempdir()).glob("bench-cluster-*/owner.json"):
        try:
            owner = json.loads(owner_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if (owner.get("driver") or {}).get("pid") != driver_pid:
            continue
        # Same pid and start time: never a process that has since taken a dead one's pid.
        return [p for p in map(running_process, owner["processes"]) if p is not None]
    return None


def _kill_a_worker(driver_pid: int) -> int:
    """SIGKILL the second worker and everything under it; its pid."""
    procs = _cluster_processes(driver_pid) or []
    workers = [p for p in procs if "deploy.worker.Worker" in " ".join(p.cmdline())]
    victim = workers[-1]
    kill_tree(victim)
    return victim.pid


def _one_run(out: Path) -> dict:
    procs_before, temp_before = spark_processes(), bench_temp_dirs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--workload", "digits-mlp", "--grid", "medium",
         "--clusters", "2-node", "--mode", "measured", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    try:
        deadline = time.monotonic() + 300
        while killed is None and proc.poll() is None and time.monotonic() < deadline:
            trials = list(out.glob("*/trials.jsonl"))
            if trials and len(trials[0].read_text().splitlines()) >= KILL_AFTER_TRIALS:
                time.sleep(random.uniform(0.0, 1.0))  # anywhere in the trials now running
                killed = _kill_a_worker(proc.pid)
            time.sleep(0.05)
        output, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(1)  # let the last processes of the stopped cluster be reaped
    run_dir = (out / "latest").resolve()
    lines = [json.loads(x) for x in (run_dir / "trials.jsonl").read_text().splitlines()]
    # A trial is recorded once per row: profile, mode and repeat. The process-pool floor after
    # the measured 2-node profile records the same trial ids again, as its own row.
    seen = Counter((x["profile"], x["mode"], x["repeat"], x["trial_id"]) for x in lines)
    meta = json.loads((run_dir / "run.json").read_text())
    profiles = summary(run_dir)["profiles"]
    rows = {(p["name"], p["mode"]) for p in profiles}
    expected = meta["workload"]["trials"] * len(rows) * meta["options"]["repeats"]
    profile = next(p for p in profiles if (p["name"], p["mode"]) == ("2-node", "measured"))
    return {
        "exit_code": proc.returncode, "worker_killed": killed is not None,
        "trials_expected": expected, "trials_recorded": len(seen),
        "trials_duplicated": sum(n - 1 for n in seen.values()),
        "trials_lost": expected - len(seen),
        "lost_executors_named": len(profile["lost_executors"]),
        "lost_attempts": len(profile["lost_attempts"]),
        "recovery_s": profile["recovery_s"], "wall_s": profile["wall_s"],
        "task_failures": profile["spark"]["task_failures"],
        # this session's only: other developers' Spark runs on this host are not leaks
        "processes_left": len({p for p in spark_processes() - procs_before
                               if of_this_session(p)}),
        "temp_dirs_left": len(bench_temp_dirs() - temp_before),
        "output_tail": output.splitlines()[-3:],
    }


def _soak(tmp_path: Path) -> list[dict]:
    runs = []
    for i in range(RUNS):
        runs.append(_one_run(tmp_path / f"soak-{i}"))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "output_tail"}))
    return runs


def test_soak_of_lost_workers_loses_duplicates_and_leaves_nothing(benchmark, tmp_path):
    runs = benchmark.pedantic(_soak, args=(tmp_path,), rounds=1, iterations=1)
    totals = {key: sum(r[key] for r in runs) for key in (
        "trials_expected", "trials_recorded", "trials_duplicated", "trials_lost",
        "lost_executors_named", "processes_left", "temp_dirs_left")}
    benchmark.extra_info.update(totals=totals, runs=runs)
    print("soak totals:", json.dumps(totals))
    assert all(r["exit_code"] == 0 for r in runs), runs
    assert all(r["worker_killed"] for r in runs), runs
    assert totals["trials_lost"] == 0 and totals["trials_duplicated"] == 0, runs
    assert totals["processes_left"] == 0 and totals["temp_dirs_left"] == 0, runs
