"""Workload files: grid expansion, the baseline, and every kind of bad file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench.definitions.workload import load_workload
from bench.errors import UserError

GOOD = """
description = "test workload"
default_grid = "small"

[dataset]
name = "digits"

[model]
family = "mlp"

[training]
epochs = 2
batch_size = 32
seed = 7

[baseline]
learning_rate = 0.01
neurons = 32
layers = 1
momentum = 0.0

[grids.small]
learning_rate = [0.1, 1]
neurons = [16, 32]

[grids.one]
learning_rate = [0.01]
"""


def write(tmp_path: Path, text: str, name: str = "w.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_grid_expands_in_file_order_with_baseline_first(tmp_path):
    w = load_workload(str(write(tmp_path, GOOD)))
    specs = w.trials()
    assert [s.trial_id for s in specs] == [
        "learning_rate=0.01,neurons=32",  # the baseline, not in the grid: added first
        "learning_rate=0.1,neurons=16",
        "learning_rate=0.1,neurons=32",
        "learning_rate=1.0,neurons=16",
        "learning_rate=1.0,neurons=32",
    ]
    assert [s.index for s in specs] == [0, 1, 2, 3, 4]
    assert [s.is_baseline for s in specs] == [True, False, False, False, False]
    # axes not in the grid keep their baseline values; an int learning rate becomes a float
    assert specs[3].params == {"learning_rate": 1.0, "neurons": 16, "layers": 1, "momentum": 0.0}
    assert isinstance(specs[3].params["learning_rate"], float)


def test_baseline_inside_the_grid_is_not_trained_twice(tmp_path):
    w = load_workload(str(write(tmp_path, GOOD)))
    specs = w.trials("one")
    assert [(s.trial_id, s.is_baseline) for s in specs] == [("learning_rate=0.01", True)]


def test_definition_hash_follows_the_definition(tmp_path):
    a = load_workload(str(write(tmp_path, GOOD, "a.toml")))
    b = load_workload(str(write(tmp_path, GOOD.replace("seed = 7", "seed = 8"), "b.toml")))
    assert a.definition_hash() == load_workload(str(tmp_path / "a.toml")).definition_hash()
    assert a.definition_hash() != b.definition_hash()
    assert a.definition_hash("small") != a.definition_hash("one")
    # a timeout changes which trials finish; the stop after failures changes none of them
    timed = GOOD.replace("seed = 7", "seed = 7\ntimeout_s = 60")
    assert load_workload(str(write(tmp_path, timed, "c.toml"))).definition_hash() != \
        a.definition_hash()
    patient = GOOD.replace("seed = 7", "seed = 7\nmax_failures_in_a_row = 50")
    assert load_workload(str(write(tmp_path, patient, "d.toml"))).definition_hash() == \
        a.definition_hash()


def test_shipped_workloads_load():
    root = Path(__file__).resolve().parent.parent / "workloads"
    for path in root.glob("*.toml"):
        w = load_workload(str(path))
        for grid in ("small", "medium", "large"):
            assert len(w.trials(grid)) >= 2, (path, grid)


BAD = [
    ("not TOML", lambda t: t.replace("[model]", "[model"), "not valid TOML"),
    ("unknown top key", lambda t: t + '\nepoch = 3\n', "unknown key 'epoch'"),
    ("typo in a table", lambda t: t.replace("batch_size", "batchsize"), "did you mean 'batch_size' where it says 'batchsize'"),
    ("wrong type", lambda t: t.replace("epochs = 2", 'epochs = "2"'), "'epochs' must be an integer"),
    ("zero epochs", lambda t: t.replace("epochs = 2", "epochs = 0"), "greater than 0"),
    ("negative batch", lambda t: t.replace("batch_size = 32", "batch_size = -1"), "greater than 0"),
    ("unknown dataset", lambda t: t.replace('name = "digits"', 'name = "cifar"'),
     "unknown dataset 'cifar'"),
    ("unknown model", lambda t: t.replace('family = "mlp"', 'family = "resnet"'),
     "unknown model family 'resnet'"),
    ("learning rate 0", lambda t: t.replace("learning_rate = 0.01", "learning_rate = 0.0"),
     "must be in (0"),
    ("baseline key not a hyperparameter",
     lambda t: t.replace("momentum = 0.0", "momentum = 0.0\ndropout = 0.5"), "unknown key 'dropout'"),
    ("baseline misses a hyperparameter", lambda t: t.replace("layers = 1\n", ""),
     "missing required key 'layers'"),
    ("empty grid", lambda t: t.replace("[grids.one]\nlearning_rate = [0.01]", "[grids.one]"),
     "empty grid"),
    ("empty list", lambda t: t.replace("neurons = [16, 32]", "neurons = []"), "empty list"),
    ("grid value of the wrong type", lambda t: t.replace("neurons = [16, 32]", 'neurons = [16, "x"]'),
     "must be a number"),
    ("fractional neurons", lambda t: t.replace("neurons = [16, 32]", "neurons = [16.5]"),
     "whole number"),
    ("grid key unknown", lambda t: t.replace("neurons = [16, 32]", "neuron = [16]"),
     "did you mean 'neurons'"),
    ("duplicate grid value", lambda t: t.replace("neurons = [16, 32]", "neurons = [16, 16]"),
     "lists a value twice"),
    ("no grids", lambda t: t.split("[grids.small]")[0].replace('default_grid = "small"\n', ""),
     "missing required key 'grids'"),
    ("default grid unknown", lambda t: t.replace('default_grid = "small"', 'default_grid = "huge"'),
     "unknown grid 'huge'"),
    ("boolean as a number", lambda t: t.replace("layers = 1", "layers = true"), "must be an integer"),
    ("timeout of 0", lambda t: t.replace("seed = 7", "seed = 7\ntimeout_s = 0"), "greater than 0"),
    ("failures in a row of 0", lambda t: t.replace("seed = 7", "seed = 7\nmax_failures_in_a_row = 0"),
     "greater than 0"),
]


@pytest.mark.parametrize("change,expected", [(c, e) for _, c, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_workload_is_a_user_error_naming_the_file(tmp_path, change, expected):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(UserError) as info:
        load_workload(str(path))
    assert expected in info.value.message
    assert str(path) in info.value.message


def test_unknown_workload_name_lists_the_known_ones():
    with pytest.raises(UserError, match="digits-mlp"):
        load_workload("no-such-workload")


def test_unknown_grid_lists_the_grids(tmp_path):
    w = load_workload(str(write(tmp_path, GOOD)))
    with pytest.raises(UserError, match="small, one"):
        w.trials("huge")
