"""A driver killed with SIGKILL leaves its cluster running: the next run or `bench cluster clean`
stops it by the pids it recorded, and nothing that is not its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time

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


# A real driver SIGKILLed, its orphans found and `bench cluster clean`ed, the run then resumed:
# one scenario, tests/test_resume.py.
