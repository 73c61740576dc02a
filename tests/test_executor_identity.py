"""Which executor a task runs in, found from the task's own process on any cluster manager, and
the referee that tells a dead Python worker from a lost executor by it (no Spark needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.execute import executors
from bench.execute.attempts import AttemptReferee
from bench.execute.executors import ExecutorIdentity, machine_description

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_processes(monkeypatch):
    """A process tree of pids -> (parent, command line), read instead of /proc."""
    tree: dict[int, tuple[int, list[str]]] = {}
    monkeypatch.setattr(executors, "_parent", lambda pid: tree.get(pid, (None, []))[0])
    monkeypatch.setattr(executors, "_cmdline", lambda pid: tree.get(pid, (None, []))[1])
    monkeypatch.delenv("SPARK_EXECUTOR_ID", raising=False)
    return tree


JVM = ["/usr/lib/jvm/bin/java", "-cp", "/spark/jars/*", "-Xmx1g",
       "org.apache.spark.executor.YarnCoarseGrainedExecutorBackend", "--driver-url",
       "spark://CoarseGrainedScheduler@10.0.0.1:40000", "--executor-id", "7", "--hostname",
       "node-3", "--cores", "8", "--app-id", "application_1_0001"]


def test_the_id_comes_from_the_executors_command_line_above_the_daemon(fake_processes):
    fake_processes.update({
        100: (90, ["python3", "-m", "pyspark.daemon"]),  # the forked worker
        90: (80, ["python3", "-m", "pyspark.daemon"]),  # the daemon
        80: (1, JVM),  # the executor's JVM
    })
    assert executors._find_identity(100) == ExecutorIdentity("7", 80, "command line")


def test_kubernetes_pods_name_their_executor_in_the_environment(fake_processes, monkeypatch):
    fake_processes.update({100: (90, ["python3"]), 90: (80, ["python3"]),
                           80: (1, ["/opt/java/bin/java", "-cp", "x", "Main"])})
    monkeypatch.setenv("SPARK_EXECUTOR_ID", "12")
    assert executors._find_identity(100) == ExecutorIdentity("12", 80, "environment")


def test_a_standalone_work_directory_names_it(fake_processes, monkeypatch, tmp_path):
    work = tmp_path / "app-20261202013000-0001" / "3"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    assert executors._find_identity(100) == ExecutorIdentity("3", None, "work directory")


def test_where_nothing_tells_it_the_worker_pid_names_it_and_it_is_unknown(fake_processes,
                                                                        monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    identity = executors._find_identity(100)
    assert identity == ExecutorIdentity(None, None, "none") and not identity.known
    assert identity.name() == f"pid-{os.getpid()}"


def test_a_real_process_tree(tmp_path):
    """A parent whose command line carries --executor-id, as an executor's JVM does: its child
    finds the id and the parent's pid through /proc."""
    child = ("import json, os; from bench.execute.executors import executor_identity as e; "
             "i = e(); print(json.dumps([i.executor_id, i.executor_pid, i.source, os.getppid()]))")
    parent = ("import subprocess, sys; "
              f"sys.exit(subprocess.run([sys.executable, '-c', {child!r}]).returncode)")
    done = subprocess.run([sys.executable, "-c", parent, "--executor-id", "5"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    executor_id, executor_pid, source, parent_pid = json.loads(done.stdout)
    assert (executor_id, source) == ("5", "command line") and executor_pid == parent_pid


def test_an_executor_describes_its_machine_as_the_driver_is_described():
    from bench.cluster.environment import capture

    described = machine_description()
    driver = capture("17", ROOT)
    for key in ("python", "spark", "tensorflow", "cpu_model", "cores", "usable_cores", "os",
                "machine"):
        assert described[key] == driver[key], key
    assert abs(described["memory_gib"] - driver["memory_gib"]) <= 0.1


def start(trial: str, attempt: int, executor: str, *, jvm: int | None = None,
          known: bool = True, host: str = "h", pid: int = 100) -> dict:
    return {"token": "g", "start": {"trial_id": trial, "attempt": attempt, "executor_id": executor,
                                    "executor_known": known, "executor_pid": jvm, "host": host,
                                    "pid": pid, "oom_kills": 7, "started_at": 1.0}}


def referee(live: set[str] | None) -> AttemptReferee:
    return AttemptReferee("g", lambda: None if live is None else set(live))


def test_a_retry_in_the_same_executor_process_means_its_worker_died_whatever_spark_lists():
    for live in (None, set()):  # Spark cannot say, or lists no such id: the process says
        judge = referee(live)
        judge.hear(start("t", 0, "pid-4242", jvm=80, known=False, pid=4242))
        answer = judge.hear(start("t", 1, "pid-4300", jvm=80, known=False, pid=4300))
        assert answer["run"] is False and answer["status"] == "crashed"
        assert "pid 4242" in answer["error"]


def test_an_unknown_executor_elsewhere_is_given_sparks_retry():
    judge = referee({"0", "1"})
    judge.hear(start("t", 0, "pid-4242", jvm=80, known=False))
    # another executor process, or the same pid on another host: nothing tells a dead worker
    assert judge.hear(start("t", 1, "pid-4300", jvm=81, known=False)) == {"run": True}
    judge.hear(start("u", 0, "pid-1", jvm=80, known=False, host="a"))
    assert judge.hear(start("u", 1, "pid-2", jvm=80, known=False, host="b")) == {"run": True}
    assert judge.crashed == {}


def test_a_pid_name_is_never_taken_for_an_id_spark_lists():
    judge = referee({"pid-4242"})  # however unlikely: an unknown id is not looked up
    judge.hear(start("t", 0, "pid-4242", known=False))
    assert judge.hear(start("t", 1, "pid-4300", known=False)) == {"run": True}


def test_a_known_executor_still_listed_in_another_process_lost_only_its_worker():
    judge = referee({"0", "1"})
    judge.hear(start("t", 0, "1", jvm=80))
    assert judge.hear(start("t", 1, "0", jvm=81))["status"] == "crashed"
    lost = referee({"0"})  # executor 1 is gone: the trial deserves another node
    lost.hear(start("t", 0, "1", jvm=80))
    assert lost.hear(start("t", 1, "0", jvm=81)) == {"run": True}


def test_run_json_keeps_what_each_profiles_executors_run_on(tmp_path):
    from bench.store.rundir import RunDirectory

    run = RunDirectory.create(tmp_path, "w")
    run.write_meta({"profiles": [{"name": "local"}, {"name": "2-node"}], "environment": {}})
    described = [{"executor_id": "0", **machine_description()}]
    run.record_executors("2-node", described)
    run.record_executors("2-node", described * 2)  # a resume ran the profile again
    local, two = run.meta()["profiles"]
    assert "executors" not in local and two["executors"] == described * 2


def test_a_bench_outside_a_checkout_records_no_commit(tmp_path):
    # an installed bench: git would answer for a repository around the environment, not bench
    from bench.cluster.environment import capture

    outer = tmp_path / "repo"
    (outer / "lib" / "site").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    env = capture("17", outer / "lib" / "site")
    assert env["git_commit"] is None and env["git_dirty"] is None
    assert capture("17", ROOT)["git_commit"]  # the checkout's own
