"""Cluster profiles and the choice of measured or replay mode."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest

from bench.cluster import load_profile, load_profiles
from bench.cluster._local import node_cpus
from bench.errors import UserError
from bench.execute.plan import ModeChoice, plan
from bench.store.records import Mode

GOOD = """
nodes = 2
cores = 1
memory = "2g"
executor_memory = "1g"

[spark]
"spark.network.timeout" = "300s"
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_profiles():
    local, two, thirteen = load_profiles(["local", "2-node", "13-node"])
    assert (local.nodes, two.nodes, thirteen.nodes) == (1, 2, 13)
    assert local.cores == two.cores == thirteen.cores  # one node type: speedups compare
    assert thirteen.slots == 13 and thirteen.is_local
    existing = load_profile("existing-example")
    assert existing.master.startswith("spark://") and not existing.is_local


def test_profile_fields(tmp_path):
    p = load_profile(str(write(tmp_path, GOOD)))
    assert p.name == "p" and p.slots == 2 and p.threads_per_trial == 1
    assert p.spark == {"spark.network.timeout": "300s"}


BAD = [
    ("zero nodes", lambda t: t.replace("nodes = 2", "nodes = 0"), "greater than 0"),
    ("negative cores", lambda t: t.replace("cores = 1", "cores = -2"), "greater than 0"),
    ("memory notation", lambda t: t.replace('memory = "2g"', 'memory = "2GB"'), "like \"512m\""),
    ("executor bigger than node", lambda t: t.replace('executor_memory = "1g"',
                                                      'executor_memory = "4g"'), "exceeds"),
    ("unknown key", lambda t: t.replace("cores = 1", "cores = 1\ncpus = 4"), "unknown key 'cpus'"),
    ("bad master", lambda t: "master = \"localhost:7077\"\n" + t, "must start with one of"),
    ("not a spark setting", lambda t: t.replace('"spark.network.timeout"', '"network.timeout"'),
     "not a Spark setting"),
    ("trials per node", lambda t: t.replace("cores = 1", "cores = 3\ntrials_per_node = 2"),
     "does not divide"),
    ("string nodes", lambda t: t.replace("nodes = 2", 'nodes = "two"'), "must be an integer"),
]


@pytest.mark.parametrize("change,expected", [(c, e) for _, c, e in BAD],
                         ids=[name for name, _, _ in BAD])
def test_bad_profile_is_a_user_error(tmp_path, change, expected):
    path = write(tmp_path, change(GOOD))
    with pytest.raises(UserError) as info:
        load_profile(str(path))
    assert expected in info.value.message
    assert str(path) in info.value.message


def test_unknown_profile_lists_the_known_ones():
    with pytest.raises(UserError, match="13-node"):
        load_profile("7-node")


def test_a_profile_listed_twice():
    with pytest.raises(UserError, match="listed twice"):
        load_profiles(["local", "local"])


def _modes(planned):
    return {pp.profile.name: (tuple(m.value for m in pp.modes), pp.oversubscribed) for pp in planned}


def test_auto_mode_on_a_two_core_host():
    planned = plan(load_profiles(["13-node", "2-node", "local"]), ModeChoice.AUTO, host_cores=2)
    assert planned[0].profile.name == "local"  # the reference runs first
    assert _modes(planned) == {
        "local": (("measured",), False),
        "2-node": (("measured", "replay"), False),
        "13-node": (("replay",), False),
    }


def test_forced_measured_is_flagged_oversubscribed():
    planned = plan(load_profiles(["local", "13-node"]), ModeChoice.MEASURED, host_cores=2)
    assert _modes(planned)["13-node"] == (("measured",), True)


def test_replay_everywhere_still_measures_the_reference():
    planned = plan(load_profiles(["local", "2-node"]), ModeChoice.REPLAY, host_cores=64)
    assert _modes(planned) == {"local": (("measured",), False), "2-node": (("replay",), False)}
    assert planned[1].modes == (Mode.REPLAY,)


def test_replay_without_a_one_node_profile_is_refused():
    with pytest.raises(UserError, match="1-node"):
        plan(load_profiles(["13-node"]), ModeChoice.AUTO, host_cores=2)


def test_a_fixed_port_is_refused_only_when_spark_could_not_bind_it():
    from bench.cluster.preflight import check_ports

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        fixed = {"spark.driver.port": str(port)}
        check_ports(fixed, "127.0.0.1", where="p.toml [spark]")  # Spark retries the next ones
        check_ports({}, "127.0.0.1", where="p.toml [spark]")  # nothing fixed
        with pytest.raises(UserError, match=f"port {port} is in use") as info:
            check_ports(fixed | {"spark.port.maxRetries": "0"}, "127.0.0.1", where="p.toml [spark]")
        assert "p.toml [spark]" in info.value.message and info.value.fix
    with pytest.raises(UserError, match="from 0 to 65535"):
        check_ports({"spark.blockManager.port": "70000"}, "127.0.0.1", where="p.toml [spark]")


def test_nodes_get_their_own_cpus_when_the_host_has_enough():
    cpus = sorted(os.sched_getaffinity(0))
    assert node_cpus(1, 1) == [cpus[:1]]
    assert node_cpus(len(cpus), 1) == [[c] for c in cpus]
    assert node_cpus(len(cpus) + 1, 1) == []  # oversubscribed: the OS schedules them
