"""A Spark standalone cluster on this machine: one master and N worker processes on 127.0.0.1.

Each worker is a node of the profile, with its own cores (pinned to its own CPUs where the host
has enough), memory and work directory. Every process started here is stopped here, by its
process id, on success, error and interrupt.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from bench.cluster._base import Cluster
from bench.cluster.leftovers import write_owner
from bench.definitions.profile import ClusterProfile
from bench.errors import UserError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_STOP_GRACE_S = 10.0
# Many JVMs start at once on a few cores: the quick-starting JIT tier and the serial collector
# halve their start-up CPU (measured: 13 nodes on 2 cores).
JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The master's REST submission server listens on the fixed port 6066 (+ retries) of every local
# cluster at once and bench never submits through it. A master keeps the ports it is given or
# exits: one that moved to the next port would leave bench polling another cluster's web UI.
MASTER_OPTIONS = "-Dspark.master.rest.enabled=false -Dspark.port.maxRetries=0"
_MASTER_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def node_cpus(nodes: int, cores: int) -> list[list[int]]:
    """Each node's own CPUs, when this host has enough for all of them; else none (an
    oversubscribed profile, replayed: its trials sleep) and the OS schedules freely.

    A node of one core must not borrow an idle second one: TensorFlow's and the JVM's other
    threads would, and the 1-node reference would be faster than one node is (docs/method.md: the
    1-node profile has the same kind of node as the others). Pinned, a node's trials also see
    the speed of its own CPUs only, as its machine probe does (bench.ml.machine_probe).
    """
    if not hasattr(os, "sched_getaffinity"):  # macOS, Windows: no CPU affinity to set
        return []
    cpus = sorted(os.sched_getaffinity(0))
    if nodes * cores > len(cpus):
        return []
    return [cpus[i * cores:(i + 1) * cores] for i in range(nodes)]


class LocalStandaloneCluster(Cluster):
    def __init__(self, profile: ClusterProfile, log_dir: Path, start_timeout_s: float = 90.0):
        super().__init__(profile)
        self.log_dir = log_dir
        self.start_timeout_s = start_timeout_s
        # pyspark imported here, not at the top: `bench --help` and bad input stay light
        from pyspark.find_spark_home import _find_spark_home

        self.spark_home = Path(_find_spark_home())
        self._procs: list[subprocess.Popen] = []
        self._tmp: Path | None = None
        self._url: str | None = None
        self.node_cpus: list[list[int]] = []  # the CPUs each worker is pinned to, if it is

    @property
    def master_url(self) -> str:
        if self._url is None:
            raise RuntimeError("the cluster is not started")
        return self._url

    @property
    def driver_host(self) -> str:
        return LOOPBACK

    @property
    def python(self) -> str:
        return sys.executable  # the venv's python, which has bench and TensorFlow installed

    def spark_settings(self) -> dict[str, str]:
        return {"spark.executor.extraJavaOptions": JVM_OPTIONS}

    @property
    def work_dir(self) -> Path | None:
        return self._tmp

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _env(self) -> dict[str, str]:
        assert self._tmp is not None
        return {
            **os.environ,
            "SPARK_HOME": str(self.spark_home),
            # The hostname resolves to loopback here; without this Spark binds elsewhere.
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_LOCAL_DIRS": str(self._tmp / "scratch"),
            "SPARK_DAEMON_MEMORY": "256m",  # master and worker daemons need little heap
            "SPARK_DAEMON_JAVA_OPTS": JVM_OPTIONS,
            "SPARK_MASTER_OPTS": MASTER_OPTIONS,
            "PYSPARK_PYTHON": self.python,
        }

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(
                [str(self.spark_home / "bin" / "spark-class"), *args],
                env=self._env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                # Own session: a Ctrl-C in the terminal reaches bench, which stops these in order.
                start_new_session=True,
            )
        self._procs.append(proc)
        write_owner(self._tmp, self.pids())  # a killed driver's cluster can still be found
        return proc

    def start(self) -> None:
        begin = time.perf_counter()
        self._tmp = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{self.profile.name}-"))
        write_owner(self._tmp, [])
        self._start_master()
        self.node_cpus = node_cpus(self.profile.nodes, self.profile.cores)
        for i in range(self.profile.nodes):
            work = self._tmp / f"worker-{i}"
            work.mkdir()
            worker = self._spawn(f"worker-{i}", [
                "org.apache.spark.deploy.worker.Worker",
                "--host", LOOPBACK, "--port", "0", "--webui-port", "0",
                "--cores", str(self.profile.cores), "--memory", self.profile.memory,
                "--work-dir", str(work), self._url,
            ])
            if self.node_cpus:  # its executors and Python workers, started later, inherit it
                with contextlib.suppress(psutil.NoSuchProcess):  # _wait says why it exited
                    psutil.Process(worker.pid).cpu_affinity(self.node_cpus[i])
        self._wait(self._all_workers_alive, f"{self.profile.nodes} workers to register")
        self.startup_s = time.perf_counter() - begin
        log.info("local cluster %s up at %s in %.1f s; nodes pinned to CPUs %s",
                 self.profile.name, self._url, self.startup_s, self.node_cpus or "none")

    def _start_master(self) -> None:
        """Its ports are free a moment before it binds them; another run's cluster may take one
        in between. The master then exits, and is started again on other ports."""
        for attempt in range(1, _MASTER_ATTEMPTS + 1):
            port, ui_port = _free_port(), _free_port()
            master = self._spawn("master", [
                "org.apache.spark.deploy.master.Master",
                "--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui_port),
            ])
            self._ui = f"http://{LOOPBACK}:{ui_port}/json/"
            url = f"spark://{LOOPBACK}:{port}"
            try:  # the state of this master, not of another one on a port it took first
                self._wait(lambda s, url=url: s is not None and s.get("url") == url,
                           "the master to start")
            except UserError:
                if master.poll() is None or attempt == _MASTER_ATTEMPTS:
                    raise
                log.warning("the Spark master exited at start (a port taken meanwhile?); "
                            "starting it again on other ports")
                self._procs.remove(master)
                continue
            self._url = url
            return

    def _all_workers_alive(self, state: dict | None) -> bool:
        if state is None:
            return False
        alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
        return len(alive) >= self.profile.nodes

    def _master_state(self) -> dict | None:
        try:
            with urllib.request.urlopen(self._ui, timeout=2) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, json.JSONDecodeError):
            return None

    def _wait(self, ready, what: str) -> dict:
        deadline = time.monotonic() + self.start_timeout_s + 2 * self.profile.nodes
        while True:
            for i, proc in enumerate(self._procs):
                if proc.poll() is not None:
                    name = "master" if i == 0 else f"worker-{i - 1}"
                    log_file = self.log_dir / f"{name}.log"
                    raise UserError(
                        f"the Spark {name} exited with code {proc.returncode} while waiting for "
                        f"{what}; last lines of its log:\n{_tail(log_file)}",
                        where=str(log_file),
                        fix="read the log; a busy port or too little memory are common causes",
                    )
            state = self._master_state()
            if ready(state):
                return state or {}
            if time.monotonic() > deadline:
                raise UserError(
                    f"timed out after {self.start_timeout_s:.0f} s waiting for {what}",
                    where=str(self.log_dir),
                    fix="read the master and worker logs there; the host may be overloaded",
                )
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop workers (and through them their executors), then the master; then anything of
        theirs still alive, by pid. Safe to call twice."""
        procs, self._procs = self._procs, []
        family: list[psutil.Process] = []
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                family += psutil.Process(proc.pid).children(recursive=True)
        for proc in reversed(procs):  # workers first, the master last
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("Spark process %d did not stop in %.0f s: killing it", proc.pid,
                            _STOP_GRACE_S)
                proc.kill()
                proc.wait()
        _, alive = psutil.wait_procs(family, timeout=_STOP_GRACE_S)
        for child in alive:  # executors and Python workers whose parent is gone
            log.warning("killing leftover process %d (%s)", child.pid, child.name())
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(alive, timeout=_STOP_GRACE_S)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
