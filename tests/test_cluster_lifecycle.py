"""Local clusters stop every process they started, on success and on error."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from bench.cluster import LocalStandaloneCluster, load_profile
from bench.cluster.spark_session import shutdown_gateway, spark_context

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


def test_a_master_port_taken_meanwhile_starts_the_master_again(tmp_path, monkeypatch, caplog):
    """Between choosing a free port and binding it, another run's cluster may take it: the master
    then exits and starts again on other ports. It never moves to the next port, which would leave
    bench polling another cluster's web UI, and it opens no fixed port (no REST server on 6066)."""
    from bench.cluster import _local

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports, free_port = iter([port]), _local._free_port
        monkeypatch.setattr(_local, "_free_port", lambda: next(ports, None) or free_port())
        cluster = LocalStandaloneCluster(load_profile("local"), tmp_path)
        with cluster:
            assert cluster.master_url.startswith("spark://127.0.0.1:")
            assert cluster.master_url != f"spark://127.0.0.1:{port}"
            pids = cluster.pids()
            assert len(pids) == 2  # the master that started and its worker
    assert "starting it again on other ports" in caplog.text
    assert not any(psutil.pid_exists(pid) for pid in pids)
    assert "StandaloneRestServer" not in (tmp_path / "master.log").read_text()
