"""Done when (issue 13): bench measures on a Spark standalone cluster it did not start, whose
executors' Python has no bench but the copy bench ships with its job, and leaves that cluster as
it found it.

The cluster is started here, not by bench: a master on 127.0.0.2 and two workers of one core, on
127.0.0.2 and 127.0.0.3, each with its own folders. Its executors run the venv's interpreter and
packages with bench taken out (``executor_python``): a task of an application that ships nothing
finds no bench there, so bench's trials import it only from the zip bench adds to its
application (bench.execute.experiment.package_archive)."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from commandline import TEST_RUN, bench

MASTER_HOST = "127.0.0.2"
WORKER_HOSTS = ("127.0.0.2", "127.0.0.3")
DRIVER_HOST = "127.0.0.1"
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"  # quick starts on a busy host
START_TIMEOUT_S = 120.0
STOP_GRACE_S = 10.0


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _hides_bench(name: str) -> bool:
    """A site-packages entry that would make bench importable: the package itself, its
    metadata, or the editable install's path hook."""
    return name == "bench" or name.startswith("bench-") or (
        name.startswith("__editable__") and "bench" in name)


def executor_python(folder: Path) -> tuple[Path, Path]:
    """A Python for the executors: this venv's interpreter started with ``-S`` (no site: no .pth
    file runs, so no editable-install finder), its packages on PYTHONPATH through a folder of
    links to every entry of the venv's site-packages but bench's. Every start is logged: the
    wrapper script and its log."""
    site = folder / "site-packages"  # TensorFlow looks for its plugins in *site-packages* paths
    site.mkdir(parents=True)
    real = Path(sysconfig.get_path("purelib"))
    for entry in sorted(real.iterdir()):
        if not _hides_bench(entry.name):
            (site / entry.name).symlink_to(entry)
    log = folder / "starts.log"
    wrapper = folder / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        "# The venv's Python and packages without bench (see tests/test_external_cluster.py)\n"
        f"echo \"$$ $*\" >> '{log}'\n"
        f"PYTHONPATH=\"${{PYTHONPATH:+$PYTHONPATH:}}{site}\" exec '{sys.executable}' -S \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper, log


@dataclass
class ExternalCluster:
    """A master and workers started by this test, each in its own process group."""

    folder: Path
    master_port: int = 0
    ui_port: int = 0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://{MASTER_HOST}:{self.master_port}"

    def state(self) -> dict | None:
        """The master's JSON: workers, running and completed applications."""
        try:
            with urllib.request.urlopen(f"http://{MASTER_HOST}:{self.ui_port}/json/",
                                        timeout=2) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            return None

    def spawn(self, name: str, host: str, args: list[str]) -> None:
        from pyspark.find_spark_home import _find_spark_home

        spark_home = Path(_find_spark_home())
        own = self.folder / name
        (own / "scratch").mkdir(parents=True)
        (own / "logs").mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYSPARK_", "SPARK_", "BENCH_")) and k != "PYTHONPATH"}
        env |= {
            "SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": host,
            "SPARK_LOCAL_DIRS": str(own / "scratch"), "SPARK_LOG_DIR": str(own / "logs"),
            "SPARK_WORKER_DIR": str(own / "work"), "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_DAEMON_JAVA_OPTS": JVM_OPTIONS,
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false -Dspark.port.maxRetries=0",
        }
        with (own / "logs" / f"{name}.out").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                [str(spark_home / "bin" / "spark-class"), *args], env=env, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def wait(self, ready: Callable[[dict], bool], what: str) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    log = self.folder / name / "logs" / f"{name}.out"
                    raise AssertionError(f"{name} exited ({proc.returncode}) waiting for {what}:"
                                         f"\n{log.read_text(errors='replace')[-3000:]}")
            if (state := self.state()) is not None and ready(state):
                return state
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def start(self) -> None:
        for attempt in range(3):  # a free port may be taken by another test before the master
            self.master_port, self.ui_port = _free_port(MASTER_HOST), _free_port(MASTER_HOST)
            self.spawn("master", MASTER_HOST, [
                "org.apache.spark.deploy.master.Master", "--host", MASTER_HOST,
                "--port", str(self.master_port), "--webui-port", str(self.ui_port)])
            try:
                self.wait(lambda s: s.get("url") == self.master_url, "the master")
                break
            except AssertionError:
                if attempt == 2 or self.procs["master"].poll() is None:
                    raise
                del self.procs["master"]
                os.rename(self.folder / "master", self.folder / f"master-failed-{attempt}")
        for i, host in enumerate(WORKER_HOSTS):
            work = self.folder / f"worker-{i}" / "work"
            self.spawn(f"worker-{i}", host, [
                "org.apache.spark.deploy.worker.Worker", "--host", host, "--port", "0",
                "--webui-port", "0", "--cores", "1", "--memory", "2g", "--work-dir", str(work),
                self.master_url])
        self.wait(lambda s: len(alive_workers(s)) == len(WORKER_HOSTS), "both workers")

    def workers(self) -> list[psutil.Process]:
        return [psutil.Process(p.pid) for n, p in self.procs.items() if n.startswith("worker")]

    def stop(self) -> None:
        """Workers first (their executors are in their process groups), then the master: each
        process group by its pid, SIGTERM then SIGKILL. Safe to call twice."""
        procs, self.procs = self.procs, {}
        family: list[psutil.Process] = []
        for proc in procs.values():
            with contextlib.suppress(psutil.Error):
                family += psutil.Process(proc.pid).children(recursive=True)
        for name in sorted(procs, key=lambda n: n == "master"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(procs[name].pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        _, alive = psutil.wait_procs(family, timeout=STOP_GRACE_S)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(alive, timeout=STOP_GRACE_S)


def alive_workers(state: dict) -> list[dict]:
    return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]


# An application that ships nothing: where its task runs, is bench importable?
NOTHING_SHIPPED = """
import json, sys
from pyspark import SparkConf, SparkContext

master, driver_host, jvm = sys.argv[1:]  # the executors' Python: PYSPARK_PYTHON
conf = (SparkConf().setMaster(master).setAppName("nothing shipped")
        .set("spark.driver.host", driver_host)
        .set("spark.cores.max", "1").set("spark.executor.memory", "512m")
        .set("spark.ui.enabled", "false").set("spark.executor.extraJavaOptions", jvm))
sc = SparkContext(conf=conf)
try:
    def probe(_):
        import importlib.util
        return {"bench": importlib.util.find_spec("bench") is not None,
                "executable": sys.executable, "no_site": sys.flags.no_site}
    print(json.dumps(sc.parallelize([0], 1).map(probe).collect()[0]))
finally:
    sc.stop()
"""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture
def external_cluster(tmp_path: Path) -> Iterator[ExternalCluster]:
    """The cluster of this test: stopped on success, failure, Ctrl-C and SIGTERM (as the
    session's shared cluster is), and at exit otherwise."""
    cluster = ExternalCluster(tmp_path / "cluster")
    atexit.register(cluster.stop)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)
        signal.signal(signal.SIGTERM, previous)


def _executors_gone(cluster: ExternalCluster) -> tuple[bool, str]:
    """No application on the master, no core in use, no process under a worker."""
    state = cluster.state() or {}
    busy = [w["host"] for w in alive_workers(state) if w.get("coresused")]
    children = []
    for worker in cluster.workers():
        with contextlib.suppress(psutil.Error):  # one that ended meanwhile is no leftover
            children += [f"{c.pid} {' '.join(c.cmdline())[-120:]}"
                         for c in worker.children(recursive=True)]
    gone = state.get("activeapps") == [] and not busy and not children
    return gone, f"apps {state.get('activeapps')}, busy workers {busy}, processes {children}"


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_sweep_on_a_cluster_bench_did_not_start(tmp_path: Path, tiny_workload: Path,
                                                  no_leaks: None,
                                                  external_cluster: ExternalCluster) -> None:
    cluster = external_cluster
    python, starts = executor_python(tmp_path / "executor-python")
    # the executors' Python has the packages but not bench
    done = subprocess.run([python, "-c", "import bench"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 1 and "No module named 'bench'" in done.stderr, done.stderr
    done = subprocess.run([python, "-c", "import numpy, pyspark, sklearn, psutil"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    # nor has it where an executor runs it, for an application that ships nothing
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_")}
    env["PYSPARK_PYTHON"] = str(python)
    done = subprocess.run([sys.executable, "-c", NOTHING_SHIPPED, cluster.master_url,
                           DRIVER_HOST, JVM_OPTIONS], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"bench": False, "executable": sys.executable, "no_site": 1}, seen
    starts.unlink()

    profile = tmp_path / "theirs.toml"
    profile.write_text(
        'description = "a standalone cluster bench did not start"\n'
        f'master = "{cluster.master_url}"\n'
        'nodes = 2\ncores = 1\nmemory = "2g"\nexecutor_memory = "1g"\n'
        "[spark]\n"
        f'"spark.pyspark.python" = "{python}"\n'
        f'"spark.driver.host" = "{DRIVER_HOST}"\n'  # the driver binds it too
        f'"spark.executor.extraJavaOptions" = "{JVM_OPTIONS}"\n')
    out = tmp_path / "runs"
    pids = {name: proc.pid for name, proc in cluster.procs.items()}
    done = bench("run", "--workload", str(tiny_workload), "--clusters", str(profile),
                 "--nodes", "1,2", "--mode", "measured", *TEST_RUN, "--out", str(out),
                 cwd=tmp_path, knobs={})
    assert done.returncode == 0, done.stderr[-3000:]

    run, = (p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    summary = json.loads((run / "summary.json").read_text())
    rows = {(p["name"], p["mode"], p["nodes"]) for p in summary["profiles"]}
    assert rows == {("theirs@1", "measured", 1), ("theirs@2", "measured", 2)}
    assert all(p["wall_s"] > 0 for p in summary["profiles"])
    # the same seed on one node and on two: the trials' metrics agree to the bit
    assert summary["accuracy"]["metrics_identical"] is True
    trials = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines()]
    executors = {name: {t["executor_id"] for t in trials if t["profile"] == name}
                 for name in ("theirs@1", "theirs@2")}
    assert [len(e) for e in executors.values()] == [1, 2], executors
    # the executors ran that Python: bench came from the zip shipped with each application
    daemons = [line for line in starts.read_text().splitlines() if "pyspark." in line]
    assert daemons, starts.read_text()

    # bench left the cluster running (not its to stop) and nothing of its applications on it
    assert {name: proc.pid for name, proc in cluster.procs.items()} == pids
    assert all(proc.poll() is None for proc in cluster.procs.values())
    deadline = time.monotonic() + 30  # a worker kills a finished application's executor
    while not (gone := _executors_gone(cluster))[0] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert gone[0], gone[1]
    state = cluster.state()
    assert state is not None
    assert sorted(w["host"] for w in alive_workers(state)) == sorted(WORKER_HOSTS)
    # the one that shipped nothing, and one application per node count
    assert len(state["completedapps"]) == 3
