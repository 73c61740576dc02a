"""A workload with its own Python code (a dataset loader, a model builder, hyperparameters it
declares): checked before any cluster starts, shipped to the executors, run like bench's own."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from commandline import bench, bench_main

from bench.definitions.user_code import ship_paths
from bench.definitions.workload import load_workload
from bench.errors import UserError
from bench.ml.datasets import load_dataset

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "workloads" / "digits-cnn.toml"
OWN_MODULES = {"mine_cnn", "other_cnn", "own_data", "models_pkg"}  # the tests' own files


def mine(folder: Path, module: str = "mine_cnn") -> Path:
    """The repository's example copied to ``folder`` as a user's own: mine.toml beside
    ``module``.py, a name nothing else on the path has."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "workloads" / "digits_cnn.py", folder / f"{module}.py")
    text = EXAMPLE.read_text().replace('"digits_cnn:', f'"{module}:')
    (folder / "mine.toml").write_text(text)
    return folder / "mine.toml"


@pytest.fixture(autouse=True)
def forget_modules():
    """Each test imports its own module files: none stays imported (or on the path) for the
    next, whose file of the same name says something else."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name in [n for n in sys.modules if n.split(".")[0] in OWN_MODULES]:
        del sys.modules[name]


def edited(tmp_path: Path, old: str, new: str, module_text: str | None = None) -> Path:
    workload = mine(tmp_path)
    workload.write_text(workload.read_text().replace(old, new, 1))
    if module_text is not None:
        (tmp_path / "mine_cnn.py").write_text(textwrap.dedent(module_text))
    return workload


def refusal(workload: Path, grid: str | None = None) -> UserError:
    with pytest.raises(UserError) as caught:
        load_workload(str(workload), grid=grid)
    return caught.value


# --- read and checked before any cluster starts ----------------------------------------------

def test_the_example_reads_with_its_declared_hyperparameters(tmp_path):
    w = load_workload(str(mine(tmp_path)), grid="tiny")
    assert (w.model, w.dataset.name) == ("mine_cnn:build_cnn", "mine_cnn:load_digits")
    assert w.baseline == {"learning_rate": 0.001, "filters": 16, "optimizer": "adam"}
    assert [t.trial_id for t in w.trials("tiny")] == [
        "learning_rate=0.001,filters=16", "learning_rate=0.001,filters=8",
        "learning_rate=0.01,filters=8", "learning_rate=0.01,filters=16"]
    assert w.code == (tmp_path / "mine_cnn.py",)  # shipped to the executors
    assert w.definition_hash("tiny") != load_workload(str(mine(tmp_path / "b", "other_cnn")),
                                                      grid="tiny").definition_hash("tiny")


def test_a_missing_module_is_named_with_where_it_was_looked_for(tmp_path):
    workload = edited(tmp_path, '"mine_cnn:build_cnn"', '"nowhere_cnn:build_cnn"')
    e = refusal(workload)
    assert "no module 'nowhere_cnn'" in e.what and str(tmp_path / "nowhere_cnn.py") in e.what
    assert "[model] builder" in e.where and "put nowhere_cnn.py in" in e.fix


def test_a_missing_function_is_named_with_those_the_module_has(tmp_path):
    e = refusal(edited(tmp_path, '"mine_cnn:build_cnn"', '"mine_cnn:build_model"'))
    assert "has no function 'build_model'" in e.what
    assert "build_cnn" in e.fix and "load_digits" in e.fix


def test_a_function_bench_cannot_call_as_a_builder_is_refused(tmp_path):
    # a loader named as the builder: it takes seed, not params, input_shape and num_classes
    e = refusal(edited(tmp_path, '"mine_cnn:build_cnn"', '"mine_cnn:load_digits"'))
    assert "cannot be called as bench calls a builder" in e.what
    assert "def build(params, *, input_shape, num_classes)" in e.fix


def test_a_loader_is_checked_with_its_options(tmp_path):
    workload = edited(tmp_path, '[model]', '[dataset.options]\nfolder = "/data"\n\n[model]')
    e = refusal(workload)
    assert "with [dataset.options] ['folder']" in e.what and "unexpected keyword" in e.what


def test_an_error_while_importing_the_module_shows_its_traceback(tmp_path):
    e = refusal(edited(tmp_path, "", "", module_text="""
        import numpy
        SIZE = numpy.zeros(3)[7]
        """))
    assert "importing module 'mine_cnn' raised an error" in e.what
    assert "IndexError" in e.what and "SIZE = numpy.zeros(3)[7]" in e.what


def test_a_module_that_imports_what_is_not_installed_says_so(tmp_path):
    e = refusal(edited(tmp_path, "", "", module_text="import not_installed_anywhere\n"))
    assert "imports 'not_installed_anywhere', which is neither installed nor beside" in e.what
    assert "put not_installed_anywhere.py in" in e.fix


def test_a_grid_of_an_undeclared_hyperparameter_is_refused(tmp_path):
    e = refusal(edited(tmp_path, "filters = [8, 16]", "filter = [8, 16]"), grid="tiny")
    assert "'filter' is not a declared hyperparameter" in e.what
    assert "did you mean 'filters'?" in e.fix and "[hyperparameters.filter]" in e.fix
    e = refusal(edited(tmp_path / "b", "filters = [8, 16]", "dropout = [0.1]"), grid="tiny")
    assert "declare it: [hyperparameters.dropout] with its type and range" in e.fix


def test_a_file_name_where_a_module_goes_and_options_with_a_seed_are_refused(tmp_path):
    e = refusal(edited(tmp_path, '"mine_cnn:build_cnn"', '"mine_cnn.py:build_cnn"'))
    assert 'write builder = "mine_cnn:build_cnn"' in e.fix
    e = refusal(edited(tmp_path / "b", "[model]", "[dataset.options]\nseed = 3\n\n[model]"))
    assert "gives 'seed', which bench passes itself" in e.what


def test_values_outside_the_declared_type_and_range_are_refused(tmp_path):
    e = refusal(edited(tmp_path, 'optimizer = "adam"', 'optimizer = "rmsprop"'))
    assert "must be one of adam, sgd, got 'rmsprop'" in e.what
    e = refusal(edited(tmp_path / "b", "learning_rate = [0.001, 0.01]",
                       "learning_rate = [0.001, 0.0]"))
    assert "must be in (0, 10]" in e.what
    e = refusal(edited(tmp_path / "c", "filters = [8, 16]", "filters = [8, 16.5]"))
    assert "whole number" in e.what


def test_a_builder_needs_declared_hyperparameters_and_a_family_has_its_own(tmp_path):
    workload = mine(tmp_path)
    text = workload.read_text()
    declared = text[text.index("[hyperparameters.learning_rate]"):text.index("[training]")]
    workload.write_text(text.replace(declared, ""))
    assert "declares its hyperparameters" in refusal(workload).what
    workload.write_text(text.replace('builder = "mine_cnn:build_cnn"', 'family = "mlp"'))
    assert "bench's 'mlp' has its own hyperparameters" in refusal(workload).what


def test_a_dataset_is_bench_or_the_workloads_not_both(tmp_path):
    e = refusal(edited(tmp_path, "[dataset]\n", '[dataset]\nname = "digits"\n'))
    assert "both 'name' (bench's dataset) and 'loader'" in e.what
    e = refusal(edited(tmp_path / "b", "[dataset]\n", "[dataset]\nvalidation_size = 100\n"))
    assert "'validation_size' is a setting of bench's datasets" in e.what


def test_bench_run_refuses_it_before_any_cluster_or_run_directory(tmp_path):
    workload = edited(tmp_path, '"mine_cnn:build_cnn"', '"mine_cnn:nothing"')
    done = bench_main("run", "--workload", str(workload), "--out", str(tmp_path / "runs"))
    assert done.returncode == 2 and "has no function 'nothing'" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_the_modules_beside_the_workload_are_shipped_and_installed_ones_not(tmp_path):
    mine(tmp_path)
    (tmp_path / "helpers.py").write_text("SIZE = 3\n")  # what mine_cnn may import
    package = tmp_path / "models_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("def build(params, *, input_shape, num_classes): ...\n")
    (tmp_path / "notes").mkdir()  # a folder that is no package: not code
    # numpy is installed, json is Python's: the executors have them
    assert ship_paths(["mine_cnn:build_cnn", "numpy:zeros", "json:loads"], tmp_path) == (
        tmp_path / "helpers.py", tmp_path / "mine_cnn.py", package)
    assert ship_paths([], tmp_path) == ()  # bench's own model and data: nothing to ship


def test_the_workloads_folder_never_hides_pythons_modules(tmp_path):
    import statistics

    workload = mine(tmp_path)
    (tmp_path / "statistics.py").write_text("raise RuntimeError('not the real statistics')\n")
    load_workload(str(workload))
    sys.modules.pop("statistics")
    import statistics as again  # the standard library's, though the folder is on sys.path

    assert again.__file__ == statistics.__file__ and again.fmean([1, 2]) == 1.5


def test_an_edited_module_is_read_anew_and_changes_the_definition(tmp_path):
    workload = mine(tmp_path)
    before = load_workload(str(workload)).definition_hash()
    module = tmp_path / "mine_cnn.py"
    module.write_text(module.read_text().replace("def build_cnn(", "def build_net("))
    # the same process (a notebook): the file as it is now, not the module imported before
    assert "has no function 'build_cnn'" in refusal(workload).what
    module.write_text(module.read_text() + "\n\ndef build_cnn(params, *, input_shape, "
                                           "num_classes):\n    return build_net(params, "
                                           "input_shape=input_shape, num_classes=num_classes)\n")
    assert load_workload(str(workload)).definition_hash() != before


def test_two_workloads_with_modules_of_one_name_each_get_their_own(tmp_path):
    a, b = mine(tmp_path / "a"), mine(tmp_path / "b")
    (tmp_path / "b" / "mine_cnn.py").write_text((tmp_path / "b" / "mine_cnn.py").read_text()
                                                .replace("def build_cnn(", "def build_b(")
                                                + "\nbuild_cnn = build_b\n")
    load_workload(str(a))
    load_workload(str(b))
    assert sys.modules["mine_cnn"].__file__ == str(tmp_path / "b" / "mine_cnn.py")


# --- the loader's data, checked ---------------------------------------------------------------

def loader(tmp_path: Path, body: str) -> str:
    (tmp_path / "own_data.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    return "own_data:load"


def test_the_loaders_arrays_are_broadcast_as_given(tmp_path):
    w = load_workload(str(mine(tmp_path)))
    data = load_dataset(w.dataset.name, seed=w.training.seed, train_limit=100)
    assert data.own and data.num_classes == 10 and data.x_train.shape == (100, 8, 8, 1)
    floats = data.as_float32()  # no scaling, no channel axis added: the loader's own
    assert floats.input_shape == (8, 8, 1) and floats.x_val.dtype == np.float32
    assert float(floats.x_train.max()) == 1.0


def test_a_loader_that_returns_misfitting_arrays_is_told_what_to_return(tmp_path):
    ref = loader(tmp_path, """
        import numpy as np
        def load(seed):
            x = np.zeros((10, 4), np.float32)
            y = np.zeros(10, np.int64)
            return {"x_train": x, "y_train": y, "x_val": x, "y_val": y[:9],
                    "x_test": x, "y_test": y}
        """)
    with pytest.raises(UserError) as caught:
        load_dataset(ref, seed=0, where="mine.toml [dataset]")
    assert "x_val (10, 4) and y_val (9,) do not fit together" in caught.value.what
    assert caught.value.where == "mine.toml [dataset] loader own_data:load"


def test_a_loader_that_raises_shows_its_own_traceback(tmp_path):
    ref = loader(tmp_path, """
        def load(seed):
            return open("/no/such/folder/train.csv")
        """)
    with pytest.raises(UserError) as caught:
        load_dataset(ref, seed=0, where="mine.toml [dataset]")
    assert "the loader raised an error" in caught.value.what
    assert "FileNotFoundError" in caught.value.what and "own_data.py" in caught.value.what


def test_a_loader_of_text_examples_is_refused_on_the_driver(tmp_path):
    ref = loader(tmp_path, """
        import numpy as np
        def load(seed):
            x, y = np.array([["a"], ["b"]]), np.array([0, 1])
            return dict(x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y)
        """)
    with pytest.raises(UserError, match="x_train holds <U1, not numbers"):
        load_dataset(ref, seed=0)


def test_a_loader_with_float_labels_is_refused(tmp_path):
    ref = loader(tmp_path, """
        import numpy as np
        def load(seed):
            x, y = np.zeros((4, 2)), np.array([0.0, 1.0, 1.0, 0.0])
            return dict(x_train=x, y_train=y, x_val=x, y_val=y, x_test=x, y_test=y)
        """)
    with pytest.raises(UserError, match="class numbers 0, 1, ... .integers., got float64"):
        load_dataset(ref, seed=0)


# --- inside a trial, with TensorFlow ----------------------------------------------------------

@pytest.mark.tensorflow
def test_a_builder_that_fails_is_its_trials_failure_with_the_traceback(tmp_path):
    from bench.ml.training import train_and_evaluate
    from bench.store.records import TrialStatus

    w = load_workload(str(edited(tmp_path, "", "", module_text=(
        ROOT / "workloads" / "digits_cnn.py").read_text() + textwrap.dedent("""
        def broken(params, *, input_shape, num_classes):
            return {"filters": params["filters"] / 0}

        def one_output(params, *, input_shape, num_classes):
            import keras
            model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                      keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy")
            return model

        def uncompiled(params, *, input_shape, num_classes):
            import keras
            return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                     keras.layers.Dense(num_classes)])
        """))))
    data = load_dataset(w.dataset.name, seed=1, train_limit=64).as_float32()
    params = dict(w.baseline)
    broken = train_and_evaluate(data, "mine_cnn:broken", params, epochs=1, batch_size=32, seed=1)
    assert broken.status is TrialStatus.FAILED
    assert "ZeroDivisionError" in broken.error and "mine_cnn.py" in broken.error
    one_output = train_and_evaluate(data, "mine_cnn:one_output", params, epochs=1,
                                    batch_size=32, seed=1)
    assert one_output.status is TrialStatus.FAILED
    assert "whose output is (None, 1)" in one_output.error
    uncompiled = train_and_evaluate(data, "mine_cnn:uncompiled", params, epochs=1,
                                    batch_size=32, seed=1)
    assert uncompiled.status is TrialStatus.FAILED
    assert "is not compiled: call model.compile" in uncompiled.error
    ok = train_and_evaluate(data, w.model, params, epochs=1, batch_size=32, seed=1)
    assert ok.status is TrialStatus.OK and 0.0 <= ok.test_error <= 1.0


# --- a run of it, from another folder, on bench's clusters -------------------------------------

@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_users_workload_in_its_own_folder_runs_on_one_and_two_nodes(tmp_path, no_leaks):
    workload = mine(tmp_path / "my-project")
    out = tmp_path / "runs"
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    # from a folder that is neither the workload's nor bench's: the module is found beside the
    # workload, shipped to the executors and to the floor's processes
    done = bench("run", "--workload", str(workload), "--grid", "tiny", "--clusters",
                 "local,2-node", "--deploy-rows", "2000", "--trials-per-node", "0",
                 "--out", str(out), cwd=elsewhere)
    assert done.returncode == 0, done.stderr[-3000:]
    run = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    rows = {(t["profile"], t["mode"]) for t in trials}
    assert rows == {("local", "measured"), ("2-node", "measured"), ("2-node", "replay"),
                    ("floor-2", "measured")}
    assert {t["status"] for t in trials} == {"ok"}, [t["error"] for t in trials if t["error"]]
    # the same trial function on every runner: bit-identical metrics everywhere
    by_trial: dict[str, set] = {}
    for t in trials:
        by_trial.setdefault(t["trial_id"], set()).add((t["val_error"], t["test_error"]))
    assert len(by_trial) == 4 and all(len(m) == 1 for m in by_trial.values()), by_trial
    summary = json.loads((run / "summary.json").read_text())
    assert summary["accuracy"]["metrics_identical"] is True
    deployed = [json.loads(line) for line in (run / "deployments.jsonl").read_text().splitlines()]
    assert deployed and all(d["rows"] == 2000 for d in deployed)
    meta = json.loads((run / "run.json").read_text())
    assert meta["workload"]["model"] == "mine_cnn:build_cnn"


# --- a whole trial function ([model] trial) ----------------------------------------------------

FOREST = ROOT / "workloads" / "digits-forest.toml"


def trial_module(tmp_path: Path, body: str) -> str:
    (tmp_path / "own_data.py").write_text(textwrap.dedent(body))
    sys.path.insert(0, str(tmp_path))
    return "own_data:trial"


@pytest.fixture(scope="module")
def digits():
    w = load_workload(str(FOREST))
    return load_dataset(w.dataset.name, seed=1, train_limit=200).as_float32()


@pytest.mark.parametrize(("body", "status", "says"), [
    ("return {'val_error': 0.25, 'test_error': 0.5, 'final_loss': 0.1}", "ok", None),
    # the test error counted from test_wrong, and 1 - accuracy's last bit forgiven
    ("return {'val_error': 0.25, 'test_wrong': [i % 2 == 0 for i in range(len(data.y_test))],"
     " 'final_loss': 0.1}", "ok", None),
    ("return {'val_error': 0.25, 'test_error': 1 - 0.5000000000000001, 'final_loss': 0.1,"
     " 'test_wrong': [i % 2 == 0 for i in range(len(data.y_test))]}", "ok", None),
    ("return {'val_error': 0.1, 'test_error': 0.3, "
     "'test_wrong': [i % 2 == 0 for i in range(len(data.y_test))]}", "failed",
     "but test_wrong says 0.5: return one of them, or both alike"),
    ("return {'status': 'diverged', 'error': 'loss went to inf'}", "diverged",
     "loss went to inf"),
    ("return {'val_error': 0.1, 'test_error': 0.2, 'final_loss': float('nan')}", "diverged",
     "final_loss nan"),
    ("return [0.1, 0.2]", "failed", "returned a list; return a dict with val_error"),
    ("return {'val_error': 1.5, 'test_error': 0.2}", "failed",
     "val_error=1.5; give the fraction"),
    ("return {'val_error': 0.1, 'test_error': 0.2, 'test_wrong': [True] * 3}", "failed",
     "test_wrong of shape (3,); give one boolean per test example"),
    ("return {'val_error': 0.1, 'test_error': 0.2, 'status': 'great'}", "failed",
     "status 'great'; use one of ok, diverged, timeout"),
    ("raise RuntimeError('my trial broke')", "failed", "RuntimeError: my trial broke"),
])
def test_a_trial_functions_result_is_read_or_its_failure_recorded(tmp_path, digits, body,
                                                                   status, says):
    from bench.ml.training import train_and_evaluate

    reference = trial_module(tmp_path, f"""
        def trial(params, data, context):
            assert context.seed == 7 and context.threads >= 1 and context.deadline is not None
            {body}
        """)
    outcome = train_and_evaluate(digits, reference, {}, epochs=1, batch_size=1, seed=7,
                                 timeout_s=60, trial_function=True)
    assert outcome.status.value == status, outcome.error
    if says:
        assert says in outcome.error
    assert outcome.phases["train"] > 0 and "cleanup" in outcome.phases
    if status == "ok":
        assert (outcome.val_error, outcome.test_error, outcome.final_loss) == (0.25, 0.5, 0.1)


def test_a_trial_function_past_its_deadline_is_a_timeout(tmp_path, digits):
    from bench.ml.training import train_and_evaluate

    reference = trial_module(tmp_path, """
        import time
        def trial(params, data, context):
            time.sleep(0.3)
            assert context.time_left() < 0
            return {'val_error': 0.1, 'test_error': 0.1}
        """)
    outcome = train_and_evaluate(digits, reference, {}, epochs=1, batch_size=1, seed=7,
                                 timeout_s=0.1, trial_function=True)
    assert outcome.status.value == "timeout" and "over the workload's per-trial" in outcome.error


def test_a_trial_function_has_no_deployment_step(tmp_path):
    done = bench_main("run", "--workload", str(FOREST), "--deploy-rows", "1000",
                      "--out", str(tmp_path / "runs"))
    assert done.returncode == 2 and "returns metrics, no model" in done.stderr
    assert "--deploy-rows 0" in done.stderr and not (tmp_path / "runs").exists()


@pytest.mark.spark
@pytest.mark.slow
def test_a_workloads_own_trial_function_runs_on_spark_without_keras(tmp_path, no_leaks):
    out = tmp_path / "runs"
    done = bench("run", "--workload", str(FOREST), "--grid", "small", "--clusters",
                 "local,2-node", "--no-floor", "--trials-per-node", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    run = next(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert {t["status"] for t in trials} == {"ok"}, [t["error"] for t in trials if t["error"]]
    assert len({t["trial_id"] for t in trials}) == 6
    summary = json.loads((run / "summary.json").read_text())
    assert summary["accuracy"]["metrics_identical"] is True
    # intervals from the test_wrong the function returned
    assert summary["accuracy"]["mcnemar_p"] is not None
    assert len(summary["accuracy"]["relative_error_reduction_interval"]) == 2
    assert not (run / "deployments.jsonl").exists()
