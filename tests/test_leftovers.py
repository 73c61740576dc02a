"""A driver killed with SIGKILL leaves its cluster running: the next run or `bench cluster clean`
stops it by the pids it recorded, and nothing that is not its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, spark_processes, write_workload

from bench.cluster.leftovers import OWNER_FILE, clean_leftovers, write_owner


def _dead_identity() -> dict:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return {"pid": proc.pid, "started": time.time() - 5}


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_a_folder_of_a_dead_driver_is_cleaned_and_its_processes_stopped(tmp_path):
    stale = tmp_path / "bench-cluster-2-node-x"
    stale.mkdir()
    child = _sleeper()
    try:
        write_owner(stale, [child.pid])
        owner = json.loads((stale / OWNER_FILE).read_text())
        owner["driver"] = _dead_identity()
        (stale / OWNER_FILE).write_text(json.dumps(owner))
        cleaned = clean_leftovers(tmp_path)
        assert cleaned.folders == [stale] and not stale.exists()
        assert child.pid in cleaned.processes
        assert child.wait(timeout=15) is not None
    finally:
        child.kill()


def test_a_folder_of_a_live_run_is_left_alone(tmp_path):
    live = tmp_path / "bench-ship-y"
    live.mkdir()
    write_owner(live, [])  # this test's process is the driver: alive
    cleaned = clean_leftovers(tmp_path)
    assert cleaned.in_use == [live] and not cleaned and live.exists()


def test_a_pid_given_to_another_process_since_is_never_touched(tmp_path):
    stale = tmp_path / "bench-cluster-local-z"
    stale.mkdir()
    stranger = _sleeper()
    try:
        (stale / OWNER_FILE).write_text(json.dumps({
            "driver": _dead_identity(),
            # the stranger has this pid now, but it started at another time
            "processes": [{"pid": stranger.pid, "started": time.time() - 3600}]}))
        cleaned = clean_leftovers(tmp_path)
        assert cleaned.folders == [stale] and cleaned.processes == []
        assert stranger.poll() is None
    finally:
        stranger.kill()


def test_a_new_folder_without_its_owner_file_yet_is_left_alone(tmp_path):
    (tmp_path / "bench-cluster-local-new").mkdir()
    assert not clean_leftovers(tmp_path)
    assert (tmp_path / "bench-cluster-local-new").exists()


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_the_cluster_of_a_driver_killed_with_sigkill_is_cleaned(tmp_path, no_leaks):
    workload = write_workload(tmp_path, epochs=30, rates="[0.01, 0.02, 0.03, 0.04, 0.05]")
    out = tmp_path / "runs"
    before = spark_processes()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--workload", str(workload), "--clusters",
         "2-node", "--mode", "measured", "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/trials.jsonl")) and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    orphans = spark_processes() - before
    assert orphans, "the killed driver's cluster should still be running"

    cleaned = subprocess.run([sys.executable, "-m", "bench", "cluster", "clean"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed" in cleaned.stdout
    assert not spark_processes() - before, "processes of the killed run still running"
    assert not any(Path(f).exists() for f in cleaned.stdout.split() if "bench-" in f)
