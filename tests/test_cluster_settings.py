"""What bench tells Spark for a profile (no cluster needed): executors sized from the profile on
YARN and Kubernetes, the settings the measurement depends on kept out of [spark], the result
channel's port in [ports], and the driver's environment as it was after each profile."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from bench.cluster import ExistingCluster, load_profile
from bench.cluster import spark_session as session
from bench.cluster.preflight import check_result_channel_port, result_channel_host
from bench.cluster.spark_session import spark_conf, spark_context
from bench.definitions.profile import with_nodes
from bench.errors import UserError

PROFILE = """
nodes = 4
cores = 8
memory = "16g"
executor_memory = "6g"
trials_per_node = 2
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def profile_at(tmp_path: Path, master: str | None, extra: str = ""):
    head = f'master = "{master}"\n' if master else ""
    return load_profile(str(write(tmp_path, head + PROFILE + extra)))


def conf_of(profile, sweep_nodes: int | None = None) -> dict[str, str]:
    cluster = ExistingCluster(profile)
    shape = with_nodes(profile, sweep_nodes) if sweep_nodes else None
    return dict(spark_conf(cluster, "test", shape).getAll())


@pytest.mark.parametrize("master", ["yarn", "k8s://https://kube.example:6443"])
def test_yarn_and_kubernetes_get_one_executor_per_node_sized_as_the_node(tmp_path, master):
    conf = conf_of(profile_at(tmp_path, master))
    assert conf["spark.master"] == master
    assert conf["spark.executor.instances"] == "4"  # one per node: the executor wait is met
    assert conf["spark.executor.cores"] == "8"
    assert conf["spark.task.cpus"] == "4"  # 2 trials per node of 8 cores
    assert conf["spark.cores.max"] == "32"
    assert conf["spark.executor.memory"] == "6g"
    # the container holds the node's memory: the rest beside the heap for TensorFlow's worker
    assert conf["spark.executor.memoryOverhead"] == f"{16 * 1024 - 6 * 1024}m"
    assert conf["spark.dynamicAllocation.enabled"] == "false"
    assert conf["spark.speculation"] == "false"


@pytest.mark.parametrize("master", ["yarn", "k8s://https://kube.example:6443"])
def test_a_sweep_asks_for_its_own_node_count(tmp_path, master):
    conf = conf_of(profile_at(tmp_path, master), sweep_nodes=2)
    assert conf["spark.executor.instances"] == "2"
    assert conf["spark.cores.max"] == "16"
    assert conf["spark.executor.cores"] == "8"


def test_a_standalone_master_is_bounded_by_its_cores_and_asks_no_instances(tmp_path):
    conf = conf_of(profile_at(tmp_path, "spark://master.example:7077"))
    assert "spark.executor.instances" not in conf
    assert "spark.executor.memoryOverhead" not in conf
    assert conf["spark.cores.max"] == "32" and conf["spark.executor.cores"] == "8"
    assert conf_of(profile_at(tmp_path, "spark://master.example:7077"),
                   sweep_nodes=3)["spark.cores.max"] == "24"


def test_the_least_overhead_is_sparks_own(tmp_path):
    text = PROFILE.replace('executor_memory = "6g"', 'executor_memory = "16g"')
    profile = load_profile(str(write(tmp_path, 'master = "yarn"\n' + text)))
    assert conf_of(profile)["spark.executor.memoryOverhead"] == "384m"


def test_the_profiles_other_spark_settings_pass_and_have_the_last_word(tmp_path):
    profile = profile_at(tmp_path, "yarn", '[spark]\n"spark.network.timeout" = "300s"\n'
                                           '"spark.executor.memoryOverhead" = "2g"\n'
                                           '"spark.pyspark.python" = "/opt/py/bin/python"\n')
    conf = conf_of(profile)
    assert conf["spark.network.timeout"] == "300s"
    assert conf["spark.executor.memoryOverhead"] == "2g"
    assert conf["spark.pyspark.python"] == "/opt/py/bin/python"


REFUSED = [
    ("spark.task.cpus", "trials_per_node"),
    ("spark.cores.max", "'nodes' and 'cores'"),
    ("spark.executor.cores", "'cores'"),
    ("spark.executor.instances", "'nodes'"),
    ("spark.executor.memory", "'executor_memory'"),
    ("spark.master", "'master'"),
    ("spark.dynamicAllocation.enabled", "bench fixes it"),
    ("spark.speculation", "bench fixes it"),
    ("spark.python.worker.reuse", "bench fixes it"),
    ("spark.scheduler.mode", "bench fixes it"),
    ("spark.locality.wait", "bench fixes it"),
    ("spark.executorEnv.TF_NUM_INTRAOP_THREADS", "'trials_per_node'"),
    ("spark.executorEnv.TF_ENABLE_ONEDNN_OPTS", "bench fixes it"),
]


@pytest.mark.parametrize("key,instead", REFUSED, ids=[k for k, _ in REFUSED])
def test_settings_the_measurement_depends_on_are_refused_in_the_spark_table(tmp_path, key,
                                                                            instead):
    path = write(tmp_path, PROFILE + f'[spark]\n"{key}" = "1"\n')
    with pytest.raises(UserError) as info:
        load_profile(str(path))
    message = info.value.message
    assert f"'{key}'" in message and f"{path} [spark]" in message
    assert instead in info.value.fix


def test_the_result_channel_port_is_a_profile_key(tmp_path):
    profile = profile_at(tmp_path, "yarn", "[ports]\nresult_channel = 40123\n")
    assert profile.result_channel_port == 40123
    assert profile.describe()["ports"] == {"result_channel": 40123}
    # where results travel is no part of what is measured: the definition is the same
    assert profile.definition_hash() == profile_at(tmp_path, "yarn").definition_hash()
    assert "ports" not in profile_at(tmp_path, "yarn").describe()


@pytest.mark.parametrize("ports,expected", [
    ("result_channel = 0", "from 1 to 65535"),
    ("result_channel = 70000", "from 1 to 65535"),
    ('result_channel = "40123"', "must be an integer"),
    ("results = 40123", "unknown key 'results'"),
])
def test_a_bad_ports_table_is_refused_with_its_file(tmp_path, ports, expected):
    path = write(tmp_path, PROFILE + f"[ports]\n{ports}\n")
    with pytest.raises(UserError) as info:
        load_profile(str(path))
    assert expected in info.value.message and f"{path} [ports]" in info.value.message


def test_a_busy_result_channel_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        profile = profile_at(tmp_path, None, f"[ports]\nresult_channel = {port}\n")
        assert result_channel_host(profile) == "127.0.0.1"  # a local cluster's driver
        with pytest.raises(UserError) as info:
            check_result_channel_port(profile)
        assert f"port {port} is in use" in info.value.message
        assert f"{profile.path} [ports]" in info.value.message
        assert "'result_channel'" in info.value.message and info.value.fix
    check_result_channel_port(profile)  # free again
    check_result_channel_port(profile_at(tmp_path, None))  # none fixed: bench picks one


def test_the_channel_binds_where_the_profile_puts_the_driver(tmp_path):
    assert result_channel_host(profile_at(tmp_path, "yarn")) == ""  # Spark picks it at start
    profile = profile_at(tmp_path, "yarn", '[spark]\n"spark.driver.host" = "10.0.0.5"\n')
    assert result_channel_host(profile) == "10.0.0.5"
    profile = profile_at(tmp_path, "yarn", '[spark]\n"spark.driver.host" = "10.0.0.5"\n'
                                           '"spark.driver.bindAddress" = "0.0.0.0"\n')
    assert result_channel_host(profile) == "0.0.0.0"


class _FakeContext:
    """Stands for pyspark's SparkContext: records the environment it was started in."""

    seen: list[dict[str, str | None]] = []

    def __init__(self, conf) -> None:
        _FakeContext.seen.append({k: os.environ.get(k) for k in ("SPARK_LOCAL_IP",
                                                                 "PYSPARK_PYTHON")})

    def setLogLevel(self, level: str) -> None:
        pass

    def stop(self) -> None:
        pass


class _Cluster(ExistingCluster):
    def __init__(self, profile, driver_host: str | None, python: str | None) -> None:
        super().__init__(profile)
        self._driver_host, self._python = driver_host, python

    @property
    def driver_host(self) -> str | None:
        return self._driver_host

    @property
    def python(self) -> str | None:
        return self._python


def test_the_environment_one_profile_sets_is_gone_for_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(session, "SparkContext", _FakeContext)
    monkeypatch.setattr(session, "_wait_for_executors", lambda *args: None)
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)
    monkeypatch.setenv("PYSPARK_PYTHON", "/the/users/python")
    _FakeContext.seen = []
    profile = profile_at(tmp_path, "spark://m.example:7077")
    with spark_context(_Cluster(profile, "127.0.0.1", "/venv/bin/python"), "a", []):
        assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert "SPARK_LOCAL_IP" not in os.environ
    assert os.environ["PYSPARK_PYTHON"] == "/the/users/python"
    with spark_context(_Cluster(profile, None, None), "b", []):
        pass
    assert _FakeContext.seen == [
        {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": "/venv/bin/python"},
        {"SPARK_LOCAL_IP": None, "PYSPARK_PYTHON": "/the/users/python"},
    ]


def test_the_environment_is_restored_when_the_context_fails(tmp_path, monkeypatch):
    def no_executors(*args):
        raise UserError("only 0 of 4 executors registered")

    monkeypatch.setattr(session, "SparkContext", _FakeContext)
    monkeypatch.setattr(session, "_wait_for_executors", no_executors)
    monkeypatch.setenv("SPARK_LOCAL_IP", "10.1.2.3")  # the user's own: kept, and kept after
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    _FakeContext.seen = []
    with pytest.raises(UserError), \
            spark_context(_Cluster(profile_at(tmp_path, "yarn"), "127.0.0.1", "/py"), "a", []):
        pass
    assert _FakeContext.seen == [{"SPARK_LOCAL_IP": "10.1.2.3", "PYSPARK_PYTHON": "/py"}]
    assert os.environ["SPARK_LOCAL_IP"] == "10.1.2.3" and "PYSPARK_PYTHON" not in os.environ
