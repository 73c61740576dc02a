"""The runner on a small grid as a pytest-benchmark: `make bench-ci`.

One round of one whole `bench run` (never pytest-benchmark's calibration: it would run the Spark
job again and again). The run's own figures go into ``extra_info``, its summary under
``bench_summary``, so the ``--benchmark-json`` file is a result `bench compare` and `bench check`
read.
"""

from __future__ import annotations

import pytest

from bench.compare.results import BENCHMARK_SUMMARY_KEY

from ._runs import run_grid, summary

pytestmark = [pytest.mark.bench_run, pytest.mark.spark, pytest.mark.tensorflow]

# What `make check` runs: the gate's figures, without the floor, deployment and weak scaling.
RUN = ("--workload", "digits-mlp", "--grid", "small", "--clusters", "local,2-node",
       "--repeats", "3", "--no-floor", "--deploy-rows", "0", "--trials-per-node", "0")


def test_small_grid_on_local_and_2_node(benchmark, tmp_path):
    run_dir = benchmark.pedantic(run_grid, args=(tmp_path, *RUN), rounds=1, iterations=1)
    doc = summary(run_dir)
    rows = {f"{p['name']} ({p['mode']})": p for p in doc["profiles"]}
    benchmark.extra_info.update({
        "run_id": doc["run_id"],
        "speedup": {k: p["speedup"] for k, p in rows.items()},
        "efficiency": {k: p["efficiency"] for k, p in rows.items()},
        "efficiency_vs_bound": {k: p["efficiency_vs_bound"] for k, p in rows.items()},
        "wall_s": {k: p["wall_s"] for k, p in rows.items()},
        "accuracy": doc["accuracy"],
        BENCHMARK_SUMMARY_KEY: doc,
    })
    assert doc["accuracy"]["metrics_identical"] is True
    assert rows["2-node (measured)"]["speedup"] > 1.0
