"""`--mlflow`: a hand-made run logged to MLflow and read back with MlflowClient, every figure
compared with the records it came from; and a store MLflow cannot use refused as a UserError."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from made_runs import write_grid_run

from bench.compare.results import summary_of_run
from bench.errors import UserError
from bench.report.mlflow_tracking import MlflowLogged, log_to_mlflow
from bench.store.records import Mode, TrialStatus
from bench.store.rundir import SUMMARY, RunDirectory, write_json

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

ROWS = {("local", Mode.MEASURED, 1): [1.0, 1.1], ("2-node", Mode.MEASURED, 2): [1.0, 1.05]}


def make_run(out: Path, repeats: int = 2) -> RunDirectory:
    """write_grid_run's run, plus a process-pool floor row (another back-end) and summary.json."""
    run = RunDirectory.open(write_grid_run(out, repeats=repeats, rows=ROWS))
    for t in run.trials():
        if t.profile == "2-node" and t.repeat == 0:
            run.append_trial(dataclasses.replace(t, profile="floor-2"))
    two_node = next(pr for pr in run.profile_runs() if pr.profile == "2-node")
    run.append_profile_run(dataclasses.replace(two_node, profile="floor-2", repeat=0,
                                               runner="process-pool", startup_s=0.0))
    write_json(run.path / SUMMARY, summary_of_run(run))
    return run


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> tuple[RunDirectory, MlflowLogged, dict[str, str], str]:
    """The run logged to the default store (./mlruns, here a temporary folder): one store for
    the module, since creating one runs MLflow's database migrations (seconds)."""
    home = tmp_path_factory.mktemp("mlflow")
    run = make_run(home / "runs")
    before = fingerprint(run.path)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        mp.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
        global_uri, env = mlflow.get_tracking_uri(), dict(os.environ)
        done = log_to_mlflow(run.path)
        # the caller's MLflow state is untouched: its URI, no run left active, no variable set
        # (MLflow's telemetry unsets its own session variable: not bench's doing)
        assert mlflow.get_tracking_uri() == global_uri
        assert {k: v for k, v in os.environ.items() if env.get(k) != v} == {}
        assert mlflow.active_run() is None
    assert fingerprint(run.path) == before  # only read
    return run, done, before, str(home)


def all_runs(done: MlflowLogged) -> list:
    return MlflowClient(done.tracking_uri).search_runs([done.experiment_id], max_results=1000)


def test_the_default_store_is_sqlite_in_mlruns(logged) -> None:
    _, done, _, home = logged
    assert done.tracking_uri == f"sqlite:///{Path(home, 'mlruns', 'mlflow.db')}"
    assert Path(home, "mlruns", "mlflow.db").is_file()
    assert done.experiment_name == "bench grid g"
    assert MlflowClient(done.tracking_uri).get_experiment(done.experiment_id).name == \
        "bench grid g"


def test_one_parent_per_grid_run_with_its_params_and_figures(logged) -> None:
    run, done, _, _ = logged
    parents = [r for r in all_runs(done) if "mlflow.parentRunId" not in r.data.tags]
    grid_runs = run.profile_runs()
    assert done.parent_runs == len(parents) == len(grid_runs) == 5
    rows = {(r["name"], r["mode"]): r for r in json.loads((run.path / SUMMARY).read_text())[
        "profiles"]}
    by_key = {(p.data.params["profile"], p.data.params["mode"], p.data.params["repeat"]): p
              for p in parents}
    for gr in grid_runs:
        p = by_key[(gr.profile, gr.mode.value, str(gr.repeat))]
        assert p.info.run_name == f"{gr.profile} {gr.mode.value} repeat {gr.repeat}"
        assert p.data.params == {
            "workload": "grid", "grid": "g", "profile": gr.profile, "mode": gr.mode.value,
            "runner": gr.runner, "nodes": str(gr.nodes), "cores": str(gr.cores),
            "slots": str(gr.slots), "repeat": str(gr.repeat), "run_id": run.run_id,
            "order": gr.order}
        m = p.data.metrics
        assert (m["wall_s"], m["startup_s"], m["warmup_s"], m["trials"]) == \
            (gr.wall_s, gr.startup_s, gr.warmup_s, gr.trials)
        assert "probe_s" not in m and "data_fetch_s" not in m  # the records have none
        row = rows[(gr.profile, gr.mode.value)]
        for figure in ("speedup", "efficiency_vs_bound", "overhead_per_trial_s"):
            assert m[figure] == pytest.approx(row[figure])
        assert p.info.status == "FINISHED"
    runners = Counter(p.data.params["runner"] for p in parents)
    assert runners == {"spark": 4, "process-pool": 1}


def test_one_child_per_trial_under_its_grid_run(logged) -> None:
    run, done, _, _ = logged
    runs = all_runs(done)
    parents = {r.info.run_id: r for r in runs if "mlflow.parentRunId" not in r.data.tags}
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    trials = run.trials()
    assert done.trial_runs == len(children) == len(trials) == 35
    seen = set()
    for child in children:
        parent = parents[child.data.tags["mlflow.parentRunId"]].data.params
        key = (parent["profile"], parent["mode"], int(parent["repeat"]), child.info.run_name)
        t = next(t for t in trials if (t.profile, t.mode.value, t.repeat, t.trial_id) == key)
        seen.add(key)
        assert child.data.params == {k: json.dumps(v) for k, v in t.params.items()}
        m = child.data.metrics
        for name in ("val_error", "test_error", "final_loss", "cpu_s"):
            assert m.get(name) == getattr(t, name)  # absent in MLflow when the record has none
        assert {k: v for k, v in m.items() if k.startswith("phase_")} == \
            {f"phase_{k}_s": v for k, v in t.phases.items()}
        tags = child.data.tags
        assert (tags["status"], tags["executor_id"], tags["host"]) == \
            (t.status.value, t.executor_id, t.host)
        if t.status is TrialStatus.FAILED:
            assert tags["error"].endswith("ValueError: learning rate too high")
            assert child.info.status == "FAILED"
        else:
            assert "error" not in tags
        if t.status is TrialStatus.OK:
            assert child.info.status == "FINISHED"
    assert len(seen) == len(trials)


def test_logging_again_adds_nothing(logged) -> None:
    run, done, before, _ = logged
    again = log_to_mlflow(run.path, done.tracking_uri)
    assert (again.parent_runs, again.trial_runs, again.skipped_parents) == (0, 0, 5)
    assert len(all_runs(done)) == 40
    assert fingerprint(run.path) == before


@pytest.mark.parametrize("uri", ["nosuch://host/x", "sqlite:///{file}/sub/mlflow.db"])
def test_a_bad_uri_is_a_user_error_and_loses_nothing(tmp_path, uri) -> None:
    run = make_run(tmp_path / "runs", repeats=1)
    before = fingerprint(run.path)
    (tmp_path / "a-file").write_text("not a folder")
    bad = uri.format(file=tmp_path / "a-file")
    with pytest.raises(UserError) as raised:
        log_to_mlflow(run.path, bad)
    assert raised.value.where == "--mlflow"
    assert bad in raised.value.what and "sqlite:///" in raised.value.fix
    assert fingerprint(run.path) == before


def test_a_folder_with_the_file_store_allowed_is_a_file_store(tmp_path, monkeypatch) -> None:
    # MLflow 3.17 refuses ./mlruns as a file store unless this is set; whoever sets it gets one.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    run = make_run(tmp_path / "runs", repeats=1)
    # a grid run whose driver died after two trials: no profiles.jsonl line, its trials kept
    for t in [t for t in run.trials() if t.profile == "local"][:2]:
        run.append_trial(dataclasses.replace(t, repeat=1))
    done = log_to_mlflow(run.path, str(tmp_path / "store"))
    assert done.tracking_uri == (tmp_path / "store").as_uri()
    runs = all_runs(done)
    assert len(runs) == done.parent_runs + done.trial_runs == 4 + 23
    unfinished = next(r for r in runs if r.info.run_name == "local measured repeat 1 (unfinished)")
    assert unfinished.info.status == "KILLED" and unfinished.data.metrics == {}  # no figures
    assert "runner" not in unfinished.data.params  # its grid run's record never came
    assert sum(r.data.tags.get("mlflow.parentRunId") == unfinished.info.run_id for r in runs) == 2
