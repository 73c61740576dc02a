"""Two `bench run` at the same time on one host, into one output folder: each gets its own run
directory, its own cluster and ports, every trial once, and leaves nothing running."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from commandline import TEST_RUN
from conftest import spark_processes, write_workload

from bench.cluster.leftovers import OWNER_FILE, TEMP_PREFIXES
from bench.definitions.workload import load_workload

ROOT = Path(__file__).resolve().parent.parent


def _identity(proc: psutil.Process) -> tuple[int, float] | None:
    try:
        return proc.pid, proc.create_time()
    except psutil.Error:
        return None


def _temp_folders_of(drivers: set[int]) -> set[Path]:
    """bench's temp folders whose owner.json names one of these drivers."""
    found = set()
    for prefix in TEMP_PREFIXES:
        for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            try:
                owner = json.loads((folder / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue
            if (owner.get("driver") or {}).get("pid") in drivers:
                found.add(folder)
    return found


def _still_running(identity: tuple[int, float]) -> bool:
    pid, started = identity
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_two_runs_at_once_into_one_output_folder(tmp_path):
    workload = write_workload(tmp_path)  # the baseline and 3 trials, the last one diverging
    expected = sorted(spec.trial_id for spec in load_workload(str(workload)).trials())
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "bench", "run", "--workload", str(workload),
               "--clusters", "local", *TEST_RUN, "--out", str(out)]
    procs = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    drivers = {p.pid for p in procs}
    # Everything the two runs start, seen while they run (other worktrees may run Spark too, so
    # a leak is judged on these processes only, not on every Spark process of the host).
    started: set[tuple[int, float]] = set()
    spark_seen: set[int] = set()
    folders: set[Path] = set()
    try:
        deadline = time.monotonic() + 600
        while any(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "the runs did not finish in 10 minutes"
            for p in procs:
                try:
                    children = psutil.Process(p.pid).children(recursive=True)
                except psutil.NoSuchProcess:
                    continue
                started |= {i for i in map(_identity, children) if i is not None}
            spark_seen |= {pid for pid, _ in started} & spark_processes()
            folders |= _temp_folders_of(drivers)
            time.sleep(0.5)
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()

    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
        assert "Traceback" not in stderr
    runs = sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    assert len(runs) == 2, runs
    for run in runs:  # each run names its own directory
        assert sum(f"run directory: {run}\n" in stdout for stdout, _ in outputs) == 1, run
    assert (out / "latest").resolve() in runs

    trials = {}
    for run in runs:
        trials[run] = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
        assert sorted(t["trial_id"] for t in trials[run]) == expected  # every trial once
        summary = json.loads((run / "summary.json").read_text())
        assert [(p["name"], p["mode"]) for p in summary["profiles"]] == [("local", "measured")]
        assert json.loads((run / "run.json").read_text())["run_id"] == run.name
    # Each run trained on its own cluster: no Python worker served both.
    pids = [{t["pid"] for t in trials[run]} - {None} for run in runs]
    assert not pids[0] & pids[1], pids
    # The same seed gives the same results whatever ran beside it.
    a, b = ({t["trial_id"]: (t["val_error"], t["test_error"]) for t in trials[run]}
            for run in runs)
    assert a == b

    assert spark_seen, "no Spark process was seen: the test watched nothing"
    leaked = [pid for pid, _ in filter(_still_running, started)]
    assert not leaked, f"processes of the two runs left running: {leaked}"
    assert folders, "no temp folder of the two runs was seen"
    assert not [f for f in folders if f.exists()], "temp folders left behind"
