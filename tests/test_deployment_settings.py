"""A workload sizes its own deployment step ([deployment] rows), a grid or --set changes it, and
--deploy-rows wins; the shipped mnist-convnet laptop grid reads as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_workload

from bench.cli import build_parser
from bench.commands import run as run_command
from bench.definitions.overrides import parse_set
from bench.definitions.workload import load_workload
from bench.errors import UserError
from bench.execute.deployment import DEFAULT_ROWS

SIZED = """
[deployment]
rows = 5_000

[grids.laptop]
learning_rate = [0.01, 0.03]

[grids.laptop.settings]
deployment.rows = 700
"""


@pytest.fixture
def workload(tmp_path: Path) -> Path:
    path = write_workload(tmp_path)
    path.write_text(path.read_text() + SIZED)
    return path


def _job(*argv: str):
    args = build_parser().parse_args(["run", *argv, "--clusters", "local"])
    return run_command._new(args)


def test_the_workloads_rows_then_the_grids_then_set_then_the_flag(workload):
    assert _job("--workload", str(workload)).deploy_rows == 5_000
    assert _job("--workload", str(workload), "--grid", "laptop").deploy_rows == 700
    assert _job("--workload", str(workload), "--grid", "laptop",
                "--set", "deployment.rows=90").deploy_rows == 90
    assert _job("--workload", str(workload), "--deploy-rows", "0").deploy_rows == 0


def test_without_a_deployment_table_bench_default_holds(tmp_path):
    assert _job("--workload", str(write_workload(tmp_path))).deploy_rows == DEFAULT_ROWS


def test_a_bad_rows_value_names_where_it_was_given(workload):
    with pytest.raises(UserError, match="rows") as e:
        load_workload(str(workload), settings=[parse_set("deployment.rows=-3")])
    assert "--set deployment.rows=-3" in e.value.message
    with pytest.raises(UserError, match="unknown key 'row'"):
        load_workload(str(workload), settings=[parse_set("deployment.row=3")])


def test_the_rows_are_not_part_of_the_definition():
    laptop = load_workload("mnist-convnet", "laptop")
    resized = load_workload("mnist-convnet", "laptop", [parse_set("deployment.rows=10")])
    assert laptop.definition_hash("laptop") == resized.definition_hash("laptop")


def test_the_mnist_laptop_grid_is_the_2016_shape_shortened():
    w = load_workload("mnist-convnet", "laptop")
    specs = w.trials("laptop")
    assert len(specs) == 15 and specs[0].is_baseline  # the tutorial's defaults are in the grid
    assert {s.params["neurons"] for s in specs} == {64, 128, 256, 512, 1024}
    assert (w.training.epochs, w.dataset.train_limit, w.dataset.validation_size) == (1, 2000, 1000)
    assert w.training.shuffle is False and w.deployment.rows == 20_000
    # the full-size grids keep the tutorial's training
    assert load_workload("mnist-convnet", "medium").training.epochs == 10
