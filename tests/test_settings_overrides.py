"""Settings that change a workload's [training] and [dataset] for one run: a grid's own
([grids.NAME.settings]) and `bench run --set TABLE.KEY=VALUE`; hashed, recorded, resumed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from commandline import TEST_RUN, bench, bench_main
from conftest import write_workload

from bench.cli import build_parser
from bench.commands import run as run_command
from bench.definitions.knobs import TestKnobs
from bench.definitions.overrides import describe, parse_set, parse_value, to_record
from bench.definitions.recipe import TrialRecipe
from bench.definitions.workload import load_workload
from bench.errors import UserError
from bench.execute.resume import load_resume
from bench.store.rundir import RunDirectory

LAPTOP = """
[grids.laptop]
learning_rate = [0.01, 0.03]
neurons = [128, 512]

[grids.laptop.settings]
training = { epochs = 1 }
dataset = { train_limit = 400 }
"""


def sets(*items: str) -> list:
    return [parse_set(item) for item in items]


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    """The tiny workload (2 epochs, grid 'tiny', its default) with a grid 'laptop' that carries
    settings."""
    path = write_workload(tmp_path)
    path.write_text(path.read_text() + LAPTOP)
    return path


def test_values_are_read_as_toml_else_as_text():
    assert [parse_value(t) for t in ("2", "0.5", "false", '"text"', "1e3")] == \
        [2, 0.5, False, "text", 1000.0]
    assert parse_value("/data/mnist") == "/data/mnist"  # not TOML: the text itself
    assert parse_value("abc") == "abc"
    assert parse_value("2016-11-09") == "2016-11-09"  # a TOML date, but no setting takes one
    assert parse_value("1\nx = 2") == "1\nx = 2"  # one value, not a document
    setting = parse_set("dataset.path=/data/mnist")
    assert (setting.table, setting.key, setting.value) == ("dataset", "path", "/data/mnist")
    assert setting.where == "--set dataset.path=/data/mnist"
    for bad in ("training.epochs", "epochs=2", "=2", "training.=2"):
        with pytest.raises(ValueError, match="TABLE.KEY=VALUE"):
            parse_set(bad)


def test_a_setting_is_applied_and_hashed(workload, tmp_path):
    plain = load_workload(str(workload))
    changed = load_workload(str(workload), settings=sets("training.epochs=3",
                                                         "dataset.train_limit=500"))
    assert (changed.training.epochs, changed.dataset.train_limit) == (3, 500)
    assert TrialRecipe.of(changed).epochs == 3  # what every trial, replay and deployment train
    assert changed.definition_hash() != plain.definition_hash()
    # the same definition as a file that says so itself
    (tmp_path / "elsewhere").mkdir()
    same = write_workload(tmp_path / "elsewhere", epochs=3)
    same.write_text(same.read_text().replace("[dataset]\n", "[dataset]\ntrain_limit = 500\n")
                    + LAPTOP)
    assert load_workload(str(same)).definition_hash() == changed.definition_hash()
    # a setting that only says how to run, not what is measured, keeps the hash
    patient = load_workload(str(workload), settings=sets("training.max_failures_in_a_row=9"))
    assert patient.definition_hash() == plain.definition_hash()
    assert to_record(changed.settings) == {"training.epochs": {"value": 3, "from": "--set"},
                                           "dataset.train_limit": {"value": 500, "from": "--set"}}


def test_a_bad_value_gets_the_files_message_naming_the_set(workload):
    with pytest.raises(UserError) as e:
        load_workload(str(workload), settings=sets("training.epochs=abc"))
    assert e.value.where == "--set training.epochs=abc"
    assert e.value.what == "'epochs' must be an integer, got 'abc'"
    assert e.value.fix == "write --set training.epochs=2 (no quotes)"
    with pytest.raises(UserError, match="greater than 0") as e:
        load_workload(str(workload), settings=sets("dataset.train_limit=0"))
    assert e.value.where == "--set dataset.train_limit=0"


@pytest.mark.parametrize(("item", "what", "fix"), [
    ("training.epoch=2", "unknown key 'epoch' in [training]", "did you mean 'training.epochs'?"),
    ("dataset.trainlimit=5", "unknown key 'trainlimit'", "did you mean 'dataset.train_limit'?"),
    ("trainig.epochs=2", "'trainig' is not a table", "did you mean 'training'?"),
    ("model.family=cnn", "'model' is not a table", "the model, baseline and grids"),
])
def test_an_unknown_table_or_key_is_named_with_the_closest(workload, item, what, fix):
    with pytest.raises(UserError) as e:
        load_workload(str(workload), settings=sets(item))
    assert what in e.value.what and fix in e.value.fix
    assert e.value.where == f"--set {item}"


def test_bench_run_names_the_set_it_refuses(workload):
    done = bench_main("run", "--workload", str(workload), "--set", "training.epochs=abc")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--set training.epochs=abc: 'epochs' must be an integer, got 'abc'" in done.stderr


def test_a_malformed_set_is_a_usage_error():
    done = bench_main("run", "--set", "training.epochs")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--set" in done.stderr and "TABLE.KEY=VALUE" in done.stderr


def test_a_grids_settings_apply_only_when_it_is_chosen(workload):
    tiny = load_workload(str(workload))  # the default grid, 'tiny', has none
    laptop = load_workload(str(workload), grid="laptop")
    assert (tiny.training.epochs, tiny.dataset.train_limit, tiny.settings) == (2, None, ())
    assert (laptop.training.epochs, laptop.dataset.train_limit) == (1, 400)
    assert describe(to_record(laptop.settings)) == \
        "training.epochs=1 (grid laptop), dataset.train_limit=400 (grid laptop)"
    assert laptop.grids["laptop"] == {"learning_rate": [0.01, 0.03], "neurons": [128, 512]}
    assert len(laptop.trials("laptop")) == 5  # settings is no hyperparameter
    assert laptop.definition_hash("laptop") != tiny.definition_hash("tiny")
    # a workload read for one grid does not hash another whose settings differ
    with pytest.raises(ValueError, match="settings differ"):
        laptop.definition_hash("tiny")


def test_set_applies_on_top_of_the_grids_settings(workload):
    w = load_workload(str(workload), grid="laptop", settings=sets("training.epochs=4"))
    assert (w.training.epochs, w.dataset.train_limit) == (4, 400)
    assert to_record(w.settings) == {"training.epochs": {"value": 4, "from": "--set"},
                                     "dataset.train_limit": {"value": 400, "from": "grid laptop"}}


@pytest.mark.parametrize(("settings", "where", "message"), [
    ("training = { epoch = 1 }", "[grids.laptop.settings.training]", "did you mean"),
    ("dataset = { train_limit = -4 }", "[grids.laptop.settings.dataset]", "greater than 0"),
    ("model = { family = 'cnn' }", "[grids.laptop.settings]", "not a table settings can change"),
])
def test_every_grids_settings_are_checked_even_when_another_grid_runs(tmp_path, settings, where,
                                                                      message):
    path = write_workload(tmp_path)
    path.write_text(path.read_text() + LAPTOP.replace(
        "training = { epochs = 1 }\ndataset = { train_limit = 400 }", settings))
    with pytest.raises(UserError, match=message) as e:
        load_workload(str(path), grid="tiny")
    assert e.value.where == f"{path} {where}"


def test_a_grid_spelling_settings_wrong_is_told_the_right_name(tmp_path):
    path = write_workload(tmp_path)
    path.write_text(path.read_text() + LAPTOP.replace("laptop.settings", "laptop.setting"))
    with pytest.raises(UserError, match="did you mean 'settings'"):
        load_workload(str(path))


def _started_run(tmp_path: Path, monkeypatch, *argv: str) -> RunDirectory:
    """A run directory as `bench run ARGV` starts one (run.json written; no cluster)."""
    monkeypatch.setattr(run_command, "capture", lambda java, source: {})
    args = build_parser().parse_args(["run", *argv, "--clusters", "local",
                                      "--out", str(tmp_path / "runs")])
    return run_command._create_run(args.out, run_command._new(args), "java 17")


def test_the_run_records_its_settings_and_a_resume_reads_them_again(workload, tmp_path,
                                                                     monkeypatch, capsys):
    run = _started_run(tmp_path, monkeypatch, "--workload", str(workload), "--grid", "laptop",
                       "--set", "training.epochs=3", "--set", "dataset.path=/data/mnist")
    assert "changed for this run: training.epochs=3 (--set)" in capsys.readouterr().out
    recorded = run.meta()["workload"]
    assert recorded["settings"] == {
        "training.epochs": {"value": 3, "from": "--set"},
        "dataset.train_limit": {"value": 400, "from": "grid laptop"},
        "dataset.path": {"value": "/data/mnist", "from": "--set"}}
    assert recorded["epochs"] == 3
    job = load_resume(RunDirectory.open(run.path), host_cores=2, knobs=TestKnobs())
    assert (job.workload.training.epochs, job.workload.dataset.train_limit,
            job.workload.dataset.path) == (3, 400, "/data/mnist")
    assert job.workload.definition_hash("laptop") == recorded["hash"]
    assert job.grid == "laptop" and len(job.specs) == recorded["trials"]
    # the grid's settings come from the file again: changed there, the run is not resumed
    workload.write_text(workload.read_text().replace("train_limit = 400", "train_limit = 300"))
    with pytest.raises(UserError, match="changed since this run began"):
        load_resume(RunDirectory.open(run.path), host_cores=2, knobs=TestKnobs())


def test_a_run_without_settings_records_none_and_resumes_as_before(workload, tmp_path,
                                                                    monkeypatch):
    run = _started_run(tmp_path, monkeypatch, "--workload", str(workload))
    assert run.meta()["workload"]["settings"] == {}
    job = load_resume(RunDirectory.open(run.path), host_cores=2, knobs=TestKnobs())
    assert job.workload.settings == () and job.workload.training.epochs == 2


def test_resume_takes_no_set(workload, tmp_path, monkeypatch):
    run = _started_run(tmp_path, monkeypatch, "--workload", str(workload))
    done = bench_main("run", "--resume", str(run.path), "--set", "training.epochs=1")
    assert done.returncode == 2 and "--set" in done.stderr and "fix:" in done.stderr


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_run_with_settings_end_to_end_and_its_resume(tmp_path, no_leaks):
    """A 1-node run of a grid with settings and a --set over them; its last trial's result lost
    as a killed driver loses it, the resume trains it again the same way: the same test
    error (a test error is exact for a seed)."""
    path = write_workload(tmp_path, rates="[0.1, 0.5]")
    path.write_text(path.read_text() + "\n[grids.tiny.settings]\ntraining.epochs = 3\n"
                                       "dataset.train_limit = 600\n")
    out = tmp_path / "runs"
    done = bench("run", "--workload", str(path), "--clusters", "local",
                 "--set", "training.epochs=1", *TEST_RUN, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    run = (out / "latest").resolve()
    meta = json.loads((run / "run.json").read_text())
    assert meta["workload"]["settings"] == {
        "training.epochs": {"value": 1, "from": "--set"},
        "dataset.train_limit": {"value": 600, "from": "grid tiny"}}
    assert meta["workload"]["hash"] == load_workload(
        str(path), settings=sets("training.epochs=1")).definition_hash()
    assert ("Settings changed for this run: training.epochs=1 (--set), dataset.train_limit=600 "
            "(grid tiny).") in (run / "report.md").read_text()

    lines = (run / "trials.jsonl").read_text().splitlines()
    lost = json.loads(lines[-1])
    (run / "trials.jsonl").write_text("".join(line + "\n" for line in lines[:-1]))
    (run / "profiles.jsonl").write_text("")
    resumed = bench("run", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert len(again) == len(lines)
    rerun = again[-1]
    assert rerun["trial_id"] == lost["trial_id"] and rerun["status"] == lost["status"] == "ok"
    assert math.isclose(rerun["test_error"], lost["test_error"], abs_tol=0)
