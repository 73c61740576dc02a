"""The runner on a small grid as pytest-benchmark benchmarks: `make bench-ci`.

One `bench run` (a module-scoped fixture), then one benchmark per row of its table
(profile and mode), named ``test_grid_wall_time[2-node-measured]`` and so on. A benchmark's
samples are that row's grid wall times, one per repeat, as the run recorded them: pytest-benchmark
times its pedantic target with ``grid_clock`` (the marker's documented ``timer`` option), a clock
that only the recorded wall times move, so min, mean, stddev and ``--benchmark-compare-fail`` are
about the grids, not about a Python call. No calibration loop: each Spark grid runs once per
repeat, inside the run. The row's speedup, efficiency vs bound, overhead and the accuracy figures
go into ``extra_info``; the run's summary goes under ``bench_summary`` on the 1-node row only, so
the ``--benchmark-json`` file stays a result `bench compare` and `bench check` read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from commandline import bench_main

from bench.compare.results import BENCHMARK_SUMMARY_KEY

from ._runs import run_grid, summary

pytestmark = [pytest.mark.bench_run, pytest.mark.spark, pytest.mark.tensorflow]

# What `make check` runs: the gate's figures, without the floor, deployment and weak scaling.
RUN = ("--workload", "digits-mlp", "--grid", "small", "--clusters", "local,2-node",
       "--repeats", "3", "--no-floor", "--deploy-rows", "0", "--trials-per-node", "0")
# The rows of that run's table, each a benchmark; the first (the speedups' 1 node) carries the
# run's summary, once, so `bench compare FILE` needs no #NAME.
ROWS = (("local", "measured"), ("2-node", "measured"), ("2-node", "replay"))
SUMMARY_ROW = ROWS[0]

_now = [0.0]  # what grid_clock reads; a round's setup sets it to 0, its target to the wall time


def grid_clock() -> float:
    """pytest-benchmark's timer for these benchmarks: 0 before a round's target, the recorded
    grid wall time of one repeat after it, so a round's duration is exactly that wall time."""
    return _now[0]


def _elapse(wall_s: float) -> None:
    _now[0] = wall_s


def _rounds(walls: list[float]) -> Any:
    """pedantic's setup: one round per repeat, handing out the next recorded wall time."""
    left: Iterator[float] = iter(walls)

    def setup() -> tuple[tuple[float], dict[str, Any]]:
        _now[0] = 0.0
        return (next(left),), {}
    return setup


@pytest.fixture(scope="module")
def scaleout_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The run all the benchmarks of this module read: its summary.json."""
    return summary(run_grid(tmp_path_factory.mktemp("scaleout"), *RUN))


def _row(doc: dict[str, Any], profile: str, mode: str) -> dict[str, Any]:
    found = [p for p in doc["profiles"] if (p["name"], p["mode"]) == (profile, mode)]
    assert found, f"no row {profile} ({mode}) in run {doc['run_id']}"
    return found[0]


def row_info(doc: dict[str, Any], profile: str, mode: str) -> dict[str, Any]:
    """A row's extra_info: its figures and the run's accuracy (one training, all rows)."""
    row, acc = _row(doc, profile, mode), doc["accuracy"]
    info: dict[str, Any] = {
        "run_id": doc["run_id"], "workload": doc["workload"], "grid": doc["grid"],
        "profile": profile, "mode": mode, "nodes": row["nodes"], "slots": row["slots"],
        "repeats": row["repeats"],
        "speedup": row["speedup"], "speedup_interval": row["speedup_interval"],
        "efficiency": row["efficiency"], "bound_speedup": row["bound_speedup"],
        "efficiency_vs_bound": row["efficiency_vs_bound"],
        "overhead_per_trial_s": row["overhead_per_trial_s"],
        "baseline_test_error": acc["baseline_test_error"],
        "best_test_error": acc["best_test_error"],
        "relative_error_reduction": acc["relative_error_reduction"],
        "metrics_identical": acc["metrics_identical"],
    }
    if (profile, mode) == SUMMARY_ROW:
        info[BENCHMARK_SUMMARY_KEY] = doc
    return info


@pytest.mark.benchmark(timer=grid_clock, group="grid wall time (s): digits-mlp, grid small")
@pytest.mark.parametrize("profile, mode", ROWS, ids=[f"{p}-{m}" for p, m in ROWS])
def test_grid_wall_time(benchmark: Any, scaleout_run: dict[str, Any], profile: str,
                        mode: str) -> None:
    walls = _row(scaleout_run, profile, mode)["wall_samples_s"]
    assert len(walls) == 3, walls  # one per repeat of RUN
    benchmark.extra_info.update(row_info(scaleout_run, profile, mode))
    benchmark.pedantic(_elapse, setup=_rounds(walls), rounds=len(walls), iterations=1)
    assert benchmark.extra_info["metrics_identical"] is True
    if (profile, mode) == ("2-node", "measured"):
        assert benchmark.extra_info["speedup"] > 1.0


def test_every_row_is_a_benchmark(scaleout_run: dict[str, Any]) -> None:
    assert [(p["name"], p["mode"]) for p in scaleout_run["profiles"]] == list(ROWS)


def test_the_benchmark_file_is_a_result_bench_compare_reads(scaleout_run: dict[str, Any],
                                                           tmp_path: Path) -> None:
    # the file as --benchmark-json writes it, as far as bench reads it: names and extra_info
    benchmarks = [{"name": f"test_grid_wall_time[{p}-{m}]", "extra_info": row_info(scaleout_run, p, m)}
                  for p, m in ROWS]
    file = tmp_path / "bench-ci.json"
    file.write_text(json.dumps({"machine_info": {}, "benchmarks": benchmarks}))
    named = f"{file}#test_grid_wall_time[local-measured]"
    for args in ((str(file), str(file)), (named, named)):
        proc = bench_main("compare", *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "2-node" in proc.stdout
