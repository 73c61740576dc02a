"""The result channel where the network is not kind: a port fixed to one already taken, a channel
the executors cannot reach, and strangers or floods on its port.

A taken port is refused before any trial; a channel no executor reaches is a clear error within
seconds (bench.execute.runner.survey_executors), never trials that each wait for it; a task whose
channel broke after that fails fast and says what it cost. The channel takes only its runs'
messages, of a bounded size, from connections that do not idle."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from commandline import TEST_RUN, bench, bench_main

from bench.errors import UserError
from bench.execute import result_channel, tasks
from bench.execute.result_channel import MAX_MESSAGE_BYTES, ResultChannel

LOCAL_PROFILE = 'nodes = 1\ncores = 1\nmemory = "2g"\nexecutor_memory = "1g"\n'


@contextlib.contextmanager
def firewalled() -> Iterator[tuple[str, int]]:
    """An address whose connections hang until they time out, as behind a firewall that drops
    them: a listener that never accepts, its one-connection backlog already full."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exchange(address: tuple[str, int], data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` and end the connection's sending side, then read until the channel
    answers or closes the connection."""
    # reset: the channel dropped what was still coming
    with socket.create_connection(address, timeout=timeout) as conn, \
            contextlib.suppress(OSError):
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        return conn.makefile("rb").readline()
    return b""


def message(token: str, **fields) -> bytes:
    return json.dumps({"token": token, **fields}).encode() + b"\n"


@pytest.fixture
def channel() -> Iterator[ResultChannel]:
    with ResultChannel() as channel:
        channel.referees["mine"] = lambda m: {"heard": True} if m.get("ask") else None
        yield channel


def test_only_messages_of_a_run_it_serves_are_taken(channel):
    assert exchange(channel.address, message("mine", ask=True, start={})) == b'{"heard": true}\n'
    assert exchange(channel.address, message("another run", ask=True, start={})) == b""
    assert exchange(channel.address, message("", ask=True)) == b""
    assert exchange(channel.address, b"[1, 2]\n") == b""  # JSON, but not a message
    assert exchange(channel.address, b"GET / HTTP/1.1\r\n\r\n") == b""
    assert [channel.inbox.get(timeout=5)["token"]] == ["mine"] and channel.inbox.empty()
    assert channel.refused == 4


def test_a_trials_result_with_its_test_image_mask_fits_and_a_flood_does_not(channel):
    mask = "A" * 4096  # base64 of a per-image bitmask: about 2 KB for MNIST's test set
    exchange(channel.address, message("mine", result={"test_wrong": mask}))
    assert channel.inbox.get(timeout=5)["result"]["test_wrong"] == mask
    flood = message("mine", result={"test_wrong": "A" * MAX_MESSAGE_BYTES})
    assert exchange(channel.address, flood) == b""
    time.sleep(0.2)
    assert channel.inbox.empty() and channel.refused == 1


def test_a_connection_that_sends_nothing_is_let_go(monkeypatch):
    monkeypatch.setattr(result_channel._Handler, "timeout", 0.3)
    with ResultChannel() as channel, socket.create_connection(channel.address, timeout=5) as idle:
        began = time.monotonic()
        assert idle.recv(1) == b""  # the channel closed it
        assert time.monotonic() - began < 4
        assert channel.refused == 1


def test_connections_beyond_the_bound_are_closed_unread(monkeypatch):
    monkeypatch.setattr(result_channel, "MAX_CONNECTIONS", 2)
    with ResultChannel() as channel:
        channel.referees["mine"] = lambda m: None
        held = [socket.create_connection(channel.address, timeout=5) for _ in range(2)]
        try:
            time.sleep(0.3)  # both are being served, idle
            assert exchange(channel.address, message("mine", ask=True)) == b""
        finally:
            for conn in held:
                conn.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # their handlers end: the bound frees again
            answer = exchange(channel.address, message("mine", ask=True))
            if answer:
                break
            time.sleep(0.1)
        assert answer == b'{"run": true}\n'


def test_a_fixed_port_already_taken_names_the_setting():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UserError) as info:
            ResultChannel(port=port, where="p.toml [ports] result_channel")
    assert f"127.0.0.1:{port}" in info.value.message
    assert "p.toml [ports] result_channel" in info.value.message and info.value.fix


def test_a_task_whose_channel_broke_fails_fast_once_and_says_what_it_cost(monkeypatch):
    monkeypatch.setattr(tasks, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(tasks, "_UNREACHED", set())
    with firewalled() as address:
        began = time.monotonic()
        answer = tasks._ask(address, {"token": "grid", "start": {}})
        assert 0.4 < answer["unanswered_s"] < 3 and time.monotonic() - began < 3
        began = time.monotonic()  # the same grid run in this worker: not tried again
        assert tasks._ask(address, {"token": "grid", "start": {}}) == {}
        tasks._send(address, {"token": "grid", "result": {}})
        assert time.monotonic() - began < 0.1
        assert "unanswered_s" in tasks._ask(address, {"token": "next grid", "start": {}})


def test_word_that_an_attempt_raised_is_taken_for_no_result():
    import queue

    from bench.execute.runner import _Intake

    class Ended:
        def is_alive(self) -> bool:
            return False

    inbox: queue.Queue = queue.Queue()
    inbox.put({"token": "grid", "raised": {"trial_id": "t", "attempt": 0}})
    intake = _Intake(on_result=lambda r: None, on_start=None, max_failures_in_a_row=None,
                     clock=time.time)
    intake.listen(inbox, Ended(), "grid", expected=1)  # type: ignore[arg-type]
    assert inbox.empty() and intake.received == {}


class _LocalSpark:
    """Just enough of a SparkContext for survey_executors: each partition run here, in turn."""

    def __init__(self) -> None:
        self._partitions: list = []

    def setJobGroup(self, *args, **kwargs) -> None:
        pass

    def cancelJobGroup(self, group: str) -> None:
        pass

    def parallelize(self, data, slices: int) -> _LocalSpark:
        self._partitions = [[d] for d in data]
        return self

    def barrier(self) -> _LocalSpark:
        return self

    def mapPartitions(self, fn) -> _LocalSpark:
        self._fn = fn
        return self

    def collect(self) -> list:
        return [r for part in self._partitions for r in self._fn(iter(part))]


def test_the_survey_asks_the_channel_once_per_slot_and_reports_each_executor_once(channel):
    from bench.execute.runner import survey_executors

    executors = survey_executors(_LocalSpark(), channel, 3, where="p")
    (executor,) = executors  # three slots of this one process
    assert executor["slots"] == 3 and executor["channel"]["reached"]
    assert executor["python"] and executor["cpu_model"] and executor["cores"]
    assert list(channel.referees) == ["mine"]  # the survey's token is served no longer
    heard = [channel.inbox.get(timeout=5) for _ in range(3)]
    assert all("survey" in m for m in heard)


def test_a_survey_that_cannot_reach_the_channel_says_where_within_seconds(monkeypatch):
    from bench.execute import runner

    monkeypatch.setattr(runner, "SURVEY_TIMEOUT_S", 0.5)
    with ResultChannel() as channel, firewalled() as address:
        channel.address = address
        began = time.monotonic()
        with pytest.raises(UserError) as info:
            runner.survey_executors(_LocalSpark(), channel, 2, where="cluster profile 'p'")
        assert time.monotonic() - began < 5
    assert f"1 of 1 executors cannot reach the driver's result channel at " \
           f"{address[0]}:{address[1]}" in info.value.message
    assert "timed out" in info.value.message and f"TCP port {address[1]}" in info.value.fix


@pytest.mark.spark
def test_a_result_channel_port_already_taken_stops_the_run_before_any_trial(
        tmp_path, tiny_workload, no_leaks):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        profile = tmp_path / "fixed.toml"
        profile.write_text(LOCAL_PROFILE + f"[ports]\nresult_channel = {port}\n")
        began = time.monotonic()
        done = bench_main("run", "--workload", str(tiny_workload), "--clusters", str(profile),
                          "--mode", "measured", *TEST_RUN, "--out", str(tmp_path / "runs"))
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"port {port} is in use" in done.stderr and f"{profile} [ports]" in done.stderr
    assert "'result_channel'" in done.stderr
    assert time.monotonic() - began < 60  # no cluster was started
    assert not (tmp_path / "runs").exists()  # checked before a run directory is made


@pytest.fixture
def two_node_app(shared_cluster) -> Iterator:
    """A test's application on the session's 2-node cluster: stopped after the test, so that
    the next application (a bench run's) finds the cluster's cores free."""
    from bench.cluster.spark_session import spark_context

    with spark_context(shared_cluster, "bench channel tests", []) as sc:
        yield sc


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("how", ["firewalled", "nothing listening"])
def test_a_channel_no_executor_reaches_is_an_error_within_seconds(two_node_app, how):
    from bench.execute.runner import SURVEY_TIMEOUT_S, survey_executors

    with ResultChannel() as reachable:  # the Python workers start: what follows is the channel
        survey_executors(two_node_app, reachable, 2, where="cluster profile '2-node'")
    with ResultChannel() as channel, \
            (firewalled() if how == "firewalled" else contextlib.nullcontext()) as address:
        # the executors are told an address where nothing answers
        channel.address = address or ("127.0.0.1", free_port())
        began = time.monotonic()
        with pytest.raises(UserError) as info:
            survey_executors(two_node_app, channel, 2, where="cluster profile '2-node'")
        took = time.monotonic() - began
    host, port = channel.address
    assert f"2 of 2 executors cannot reach the driver's result channel at {host}:{port}" in \
        info.value.message
    assert "cluster profile '2-node'" in info.value.message
    assert f"TCP port {port}" in info.value.fix and "[ports] result_channel" in info.value.fix
    assert took < 2 * SURVEY_TIMEOUT_S + 10, took  # seconds, not a grid of waiting trials


@pytest.mark.spark
@pytest.mark.slow
def test_every_executor_reports_what_it_runs_on(two_node_app):
    from bench.cluster.environment import capture
    from bench.execute.runner import executor_ids, survey_executors

    with ResultChannel() as channel:
        executors = survey_executors(two_node_app, channel, 2, where="2-node")
        assert not channel.referees  # the survey's token is served no longer
    assert [e["executor_id"] for e in executors] == sorted(executor_ids(two_node_app))
    driver = capture("17", Path(__file__).parent.parent)
    for e in executors:
        assert e["executor_id_source"] == "command line"  # Spark's own id, not a pid
        assert e["channel"]["reached"] and e["slots"] == 1 and e["task_cpus"] == 1
        for key in ("python", "spark", "tensorflow", "cpu_model", "cores", "os", "machine"):
            assert e[key] == driver[key], key
        assert 1 <= e["usable_cores"] <= driver["usable_cores"]  # a node pinned to its CPUs


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_run_json_records_the_executors_that_ran_the_trials(tmp_path, tiny_workload,
                                                           shared_cluster, no_leaks):
    """A run on the session's cluster as an existing one, its channel at a fixed port."""
    profile = tmp_path / "theirs.toml"
    port = free_port()
    profile.write_text(f'master = "{shared_cluster.master_url}"\nnodes = 2\ncores = 1\n'
                       f'memory = "2g"\n[spark]\n"spark.pyspark.python" = "{sys.executable}"\n'
                       f'[ports]\nresult_channel = {port}\n')
    done = bench("run", "--workload", str(tiny_workload), "--clusters", str(profile),
                 "--mode", "measured", *TEST_RUN, "--out", str(tmp_path / "runs"),
                 env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"})
    assert done.returncode == 0, done.stderr[-3000:]
    run = next((tmp_path / "runs").glob("2*"))
    meta = json.loads((run / "run.json").read_text())
    (entry,) = meta["profiles"]
    assert entry["ports"] == {"result_channel": port}
    executors = entry["executors"]
    assert {e["executor_id"] for e in executors} == {"0", "1"}
    assert all(e["tensorflow"] and e["cpu_model"] and e["cores"] and e["fingerprint"]
               for e in executors)
    trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    assert {t["executor_id"] for t in trials} <= {"0", "1"}
    assert not any("channel_wait" in t["phases"] for t in trials)
