"""`bench run --resume`: a run whose driver was SIGKILLed, its orphans cleaned, is finished without
re-running a trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
from commandline import bench, bench_main
from conftest import ROOT, of_this_session, spark_processes, write_workload

from bench.cluster.leftovers import OWNER_FILE, write_owner
from bench.definitions.knobs import TestKnobs
from bench.definitions.workload import load_workload
from bench.errors import UserError
from bench.execute.resume import ResumeState, load_resume
from bench.store.records import Mode, ProfileRun, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory


def _trial(trial_id: str, repeat: int = 0, profile: str = "local") -> TrialResult:
    return TrialResult(profile=profile, mode=Mode.MEASURED, repeat=repeat, trial_id=trial_id,
                       index=0, params={}, is_baseline=False, status=TrialStatus.OK)


def _run_with_meta(tmp_path: Path, workload_path: Path) -> RunDirectory:
    """A run directory as `bench run` starts one, for the workload at ``workload_path``."""
    workload = load_workload(str(workload_path))
    run = RunDirectory.create(tmp_path / "runs", workload.name)
    local = {"name": "local", "hash": None, "modes": ["measured"]}
    from bench.definitions.profile import load_profile

    local["hash"] = load_profile("local").definition_hash()
    run.write_meta({"format_version": 1, "workload": {
        "name": workload.name, "path": str(workload_path), "grid": "tiny",
        "trials": len(workload.trials("tiny")), "hash": workload.definition_hash("tiny")},
        "profiles": [local], "options": {"repeats": 1, "mode": "auto"},
        "test_knobs": TestKnobs().to_dict()})
    return run


def test_the_state_of_a_run_says_what_is_left(tmp_path):
    run = _run_with_meta(tmp_path, write_workload(tmp_path))
    run.append_trial(_trial("baseline"))
    state = ResumeState.of(run)
    job = load_resume(run, host_cores=2, knobs=TestKnobs())
    assert not state.is_finished(("local", Mode.MEASURED, 0))
    left = state.remaining(("local", Mode.MEASURED, 0), job.specs)
    assert [s.trial_id for s in left] == [s.trial_id for s in job.specs if s.trial_id != "baseline"]
    run.append_profile_run(ProfileRun("local", Mode.MEASURED, 0, 1, 1, 1, 4, 1.0, 1.0, 1.0,
                                      False, 0.0, 1.0))
    assert ResumeState.of(run).is_finished(("local", Mode.MEASURED, 0))


def test_a_line_cut_by_a_killed_driver_is_repaired_before_new_lines(tmp_path):
    run = _run_with_meta(tmp_path, write_workload(tmp_path))
    run.append_trial(_trial("a"))
    with (run.path / "trials.jsonl").open("a") as f:
        f.write('{"profile": "local", "mo')  # SIGKILL in the middle of a write
    assert run.repair_tails() == ["trials.jsonl"]
    run.append_trial(_trial("b"))
    assert [t.trial_id for t in run.trials()] == ["a", "b"]


def test_a_run_whose_definitions_changed_is_not_resumed(tmp_path):
    path = write_workload(tmp_path)
    run = _run_with_meta(tmp_path, path)
    path.write_text(path.read_text().replace("epochs = 2", "epochs = 3"))
    with pytest.raises(UserError, match="changed since this run began"):
        load_resume(run, host_cores=2, knobs=TestKnobs())
    with pytest.raises(UserError, match="test knobs"):
        path.write_text(path.read_text().replace("epochs = 3", "epochs = 2"))
        load_resume(run, host_cores=2, knobs=TestKnobs(slowdown=0.2))


def test_resume_takes_the_runs_own_settings(tmp_path):
    run = _run_with_meta(tmp_path, write_workload(tmp_path))
    proc = bench_main("run", "--resume", str(run.path), "--grid", "small")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--grid" in proc.stderr and "fix:" in proc.stderr


def ours(pids: set[int]) -> set[int]:
    """Leaving out the Spark processes of others' tests and runs on this shared host."""
    return {pid for pid in pids if of_this_session(pid)}


def _hand_made_orphan() -> tuple[Path, subprocess.Popen]:
    """A folder and a process as a killed driver leaves them (its owner file names a dead
    driver), in the temp folder `bench run` cleans first."""
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-orphan-"))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    write_owner(folder, [child.pid])
    owner = json.loads((folder / OWNER_FILE).read_text())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner["driver"] = {"pid": dead.pid, "started": time.time() - 5}
    (folder / OWNER_FILE).write_text(json.dumps(owner))
    return folder, child


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_driver_killed_with_sigkill_leaves_orphans_that_are_cleaned_then_resumed(tmp_path,
                                                                                   no_leaks):
    """One scenario: a driver SIGKILLed mid-grid leaves its cluster running; `bench cluster
    clean` stops it by the pids it recorded; `bench run --resume` finishes the run without
    running a trial twice (and cleans what another killed driver left, first). The run has the
    pull dispatcher beside the map, and the driver dies while the pull dispatcher runs."""
    # 8 epochs: a trial of about a second, so the kill lands mid-way through the 1-node
    # profile (3 trials of margin) while the replays and the floor, which repeat every trial's
    # time, stay short
    workload = write_workload(tmp_path, epochs=8, rates="[0.01, 0.02, 0.03, 0.04, 0.05]")
    out = tmp_path / "runs"
    before_spark = spark_processes()
    # the floor stays on: a resumed run reports the floor's rows too
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "run", "--workload", str(workload), "--clusters",
         "local,2-node", "--deploy-rows", "0", "--trials-per-node", "0", "--backends", "pull",
         "--out", str(out)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            trials = list(out.glob("*/trials.jsonl"))
            if trials and trials[0].read_text().count('"profile": "local@pull"') >= 2:
                break
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = (out / "latest").resolve()
    before = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()
              if line.endswith("}")]
    pulled = [r for r in before if r["profile"] == "local@pull"]
    assert 2 <= len(pulled) < 5, "killed mid-way through the 1-node profile's pull dispatcher"
    orphans = ours(spark_processes() - before_spark)
    assert orphans, "the killed driver's cluster should still be running"

    cleaned = bench("cluster", "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert "removed" in cleaned.stdout
    assert not ours(spark_processes() - before_spark), "processes of the killed run still running"
    assert not any(Path(f).exists() for f in cleaned.stdout.split() if "bench-" in f)

    folder, child = _hand_made_orphan()
    try:
        resumed = bench("run", "--resume", str(run_dir))
        assert child.wait(timeout=15) is not None  # stopped by the resumed run, by its pid
    finally:
        child.kill()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming {run_dir}" in resumed.stdout
    assert "stopped" in resumed.stdout  # what a killed run left was cleaned up first
    assert not folder.exists()

    rows = [json.loads(line) for line in (run_dir / "trials.jsonl").read_text().splitlines()]
    seen = Counter((r["profile"], r["mode"], r["repeat"], r["trial_id"]) for r in rows)
    assert all(n == 1 for n in seen.values()), "a trial ran twice"
    # local measured, 2-node measured and replayed, through the map and the pull dispatcher,
    # and the floor-2 process pool beside them: every trial of each, all there
    trials = json.loads((run_dir / "run.json").read_text())["workload"]["trials"]
    assert len(seen) == 7 * trials
    assert {profile for profile, *_ in seen} == {"local", "local@pull", "2-node", "2-node@pull",
                                                "floor-2"}
    first = {(r["trial_id"], r["test_error"]) for r in before}
    assert first <= {(r["trial_id"], r["test_error"]) for r in rows}  # kept, not re-run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["accuracy"]["metrics_identical"] is True
    assert any("local@pull (measured) was resumed" in n for n in summary["notes"])
