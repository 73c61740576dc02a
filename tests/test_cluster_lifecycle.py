"""Local clusters stop every process they started, on success and on error."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from bench.cluster import LocalStandaloneCluster, load_profile
from bench.spark_session import shutdown_gateway, spark_context

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_cluster_stops_every_process_on_error(tmp_path, no_leaks):
    cluster = LocalStandaloneCluster(load_profile("2-node"), tmp_path)
    with (pytest.raises(RuntimeError, match="boom"), cluster,
          spark_context(cluster, "bench error test", []) as sc):
        executors_seen = sc._jsc.sc().getExecutorMemoryStatus().size() - 1
        assert executors_seen == 2
        raise RuntimeError("boom")
    shutdown_gateway()  # the driver's own JVM, which PySpark keeps for the process's life
    assert cluster.work_dir is None
    for pid in cluster.pids():
        assert not psutil.pid_exists(pid)


def test_worker_logs_are_kept_for_the_user(tmp_path: Path):
    cluster = LocalStandaloneCluster(load_profile("local"), tmp_path)
    with cluster:
        pass
    assert (tmp_path / "master.log").read_text()
    assert (tmp_path / "worker-0.log").read_text()
