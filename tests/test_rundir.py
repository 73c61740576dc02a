"""Run directories: lines appended as results arrive, read back after a crash."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.errors import UserError
from bench.store.records import FORMAT_VERSION, Mode, ProfileRun, TrialResult, TrialStatus
from bench.store.rundir import RunDirectory


def result(trial_id: str, **kw) -> TrialResult:
    fields = dict(profile="local", mode=Mode.MEASURED, repeat=0, trial_id=trial_id, index=0,
                  params={"learning_rate": 0.1}, is_baseline=False, status=TrialStatus.OK,
                  val_error=0.1, test_error=0.2, final_loss=0.3, started_at=1.0, ended_at=2.5)
    fields.update(kw)
    return TrialResult(**fields)


def test_two_runs_in_the_same_second_get_two_folders(tmp_path):
    a = RunDirectory.create(tmp_path, "w", now=0)
    b = RunDirectory.create(tmp_path, "w", now=0)
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()


def test_runs_started_at_once_each_get_their_own_folder(tmp_path):
    # mkdir is the claim: 16 runs of one workload in one second, created at the same moment.
    start = threading.Barrier(16)

    def create(_: int) -> Path:
        start.wait()
        return RunDirectory.create(tmp_path, "w", now=0).path

    with ThreadPoolExecutor(16) as pool:
        paths = list(pool.map(create, range(16)))
    assert len(set(paths)) == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_latest_is_replaced_atomically_by_runs_marking_at_once(tmp_path):
    runs = [RunDirectory.create(tmp_path, "w", now=0) for _ in range(4)]
    runs[0].mark_latest()
    latest = tmp_path / "latest"
    start, done = threading.Barrier(len(runs) + 1), threading.Event()
    seen: set[str] = set()

    def mark(run: RunDirectory) -> None:
        start.wait()
        for _ in range(200):
            run.mark_latest()

    def read() -> None:  # a reader never finds the link missing or pointing nowhere
        start.wait()
        while not done.is_set():
            seen.add(os.readlink(latest))
            assert latest.resolve().is_dir()

    with ThreadPoolExecutor(len(runs) + 1) as pool:
        reader = pool.submit(read)
        try:
            for future in [pool.submit(mark, run) for run in runs]:
                future.result()
        finally:
            done.set()
        reader.result()
    assert latest.is_symlink() and os.readlink(latest) in {r.path.name for r in runs}
    assert seen <= {r.path.name for r in runs}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [r.path.name for r in runs] + ["latest"])  # no temporary link left behind


def test_an_output_folder_whose_latest_is_not_a_link(tmp_path):
    (tmp_path / "latest").mkdir()
    with pytest.raises(UserError, match="not the link bench keeps") as info:
        RunDirectory.create(tmp_path, "w")
    assert info.value.fix and [p.name for p in tmp_path.iterdir()] == ["latest"]


def test_records_round_trip_and_a_cut_last_line_is_ignored(tmp_path):
    run = RunDirectory.create(tmp_path, "w")
    run.write_meta({"format_version": FORMAT_VERSION})
    run.append_trial(result("a"))
    run.append_trial(result("b", status=TrialStatus.FAILED, error="Traceback ..."))
    run.append_profile_run(ProfileRun("local", Mode.REPLAY, 0, 1, 1, 1, 2, 3.0, 4.0, 5.0, False,
                                      10.0, 13.0))
    with (run.path / "trials.jsonl").open("a") as f:
        f.write('{"profile": "loc')  # the driver died while writing
    reopened = RunDirectory.open(run.path)
    trials = reopened.trials()
    assert [t.trial_id for t in trials] == ["a", "b"]
    assert trials[1].status is TrialStatus.FAILED and trials[0].task_seconds == 1.5
    assert reopened.profile_runs()[0].mode is Mode.REPLAY


def test_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        RunDirectory.open(tmp_path)


def test_a_run_of_another_format_says_what_to_do(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"format_version": 0}))
    with pytest.raises(UserError, match="re-run"):
        RunDirectory.open(tmp_path)


def test_unwritable_output_folder(tmp_path):
    # A folder cannot be made below a file, whoever runs the test (root writes anywhere else).
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot create the output folder") as info:
        RunDirectory.create(blocker / "runs", "w")
    assert "--out" in info.value.message
