"""A SparkContext the caller already has (``bench.run(spark=session)``): bench runs its jobs on
that context's cluster and leaves the context as it found it.

The cluster's shape comes from the context, or from the caller (``nodes``, ``cores``): its
executors are the nodes (a ``local[N]`` master is one node of N cores), a node's cores are
``spark.executor.cores`` (else the context's task slots shared among its executors), and a node
runs ``cores / spark.task.cpus`` trials at once, as the context schedules them. bench cannot
change what a running context was started with (its executors, their cores and environment, its
task size), so a profile of a given session records what the session has, nothing more.

bench never stops the context and never changes its configuration or its log level. Its Spark
jobs run in threads of their own (bench.execute.runner), whose job groups stay with them in
PySpark's pinned-thread mode (the default); the calling thread's local properties (job group,
description, scheduler pool, job tags, anything set with ``setLocalProperty``) are put back as
they were when the run ends, on error too. bench itself is shipped to the executors once per
context (``addPyFile``): the archive is kept for as long as this process lives, since Spark
serves it from its path to executors that join later.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.cluster._base import Cluster
from bench.cluster.leftovers import write_owner
from bench.definitions.profile import ClusterProfile
from bench.errors import UserError

log = logging.getLogger(__name__)

SESSION_PROFILE = "session"  # the profile's name; a sweep's counts are session@1, session@2, ...
EXECUTOR_WAIT_S = 60.0  # for the executors a just-created session has asked for
_SETTLE_S = 2.0  # without a count to wait for: the executors are all there once none joined
_LOCAL_CLUSTER = re.compile(r"^local-cluster\[\s*(\d+)\s*,")


class SessionCluster(Cluster):
    """The cluster of a running SparkContext that is not bench's: used as it is, never stopped."""

    def __init__(self, profile: ClusterProfile, sc: Any) -> None:
        super().__init__(profile)
        self.sc = sc

    @property
    def master_url(self) -> str:
        return str(self.sc.master)

    def start(self) -> None:
        check_usable(self.sc)

    def stop(self) -> None:
        pass  # the caller's: bench never stops it

    def java(self) -> str:
        """The Java the context's driver runs (for run.json's environment)."""
        try:
            system = self.sc._jvm.java.lang.System
            return f"{system.getProperty('java.version')} ({system.getProperty('java.home')})"
        except Exception:  # noqa: BLE001 - a record only: no answer is better than no run
            return "unknown (a given SparkSession)"

    @contextlib.contextmanager
    def application(self, py_files: list[str],
                    profile: ClusterProfile | None = None) -> Iterator[Any]:
        """The context, for one profile's grid runs (bench.cluster.spark_session.spark_context):
        bench shipped to it, the calling thread's local properties put back on exit."""
        check_usable(self.sc)
        wanted = profile or self.profile
        if wanted.nodes < self.profile.nodes:
            log.warning("%s: a given SparkSession keeps its %d executors: Spark may place this "
                        "count's trials on any of them (bench limits only its warm-up to %d "
                        "nodes)", wanted.name, self.profile.nodes, wanted.nodes)
        if not pinned_threads(self.sc):
            log.warning("the given SparkSession's PySpark shares JVM threads among Python "
                        "threads (PYSPARK_PIN_THREAD=false): the job groups of bench's jobs may "
                        "stay on a JVM thread the session's later jobs run in")
        saved = local_properties(self.sc)
        try:
            _ship(self.sc, py_files)
            yield self.sc
        finally:
            restore_local_properties(self.sc, saved)


def check_usable(sc: Any) -> None:
    """A context bench can run on: running, one whose executors stay put (the warm-up is a
    barrier stage, which Spark refuses under dynamic allocation), and one that runs each trial
    once (a speculative copy would run it twice at once)."""
    if getattr(sc, "_jsc", None) is None:
        raise UserError("the given SparkSession is stopped", where="bench.run(spark=...)",
                        fix="pass a running session, or leave spark= out to let bench start "
                            "its own clusters")
    if sc.getConf().get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        raise UserError(
            "the given SparkSession has dynamic allocation on: bench needs a fixed set of "
            "executors (its warm-up is a barrier stage, and the nodes are what it measures)",
            where="bench.run(spark=...)",
            fix="start the session with spark.dynamicAllocation.enabled=false")
    if sc.getConf().get("spark.speculation", "false").lower() == "true":
        raise UserError(
            "the given SparkSession has speculation on: a trial's speculative copy would run it "
            "twice at once, on a slot another trial's time counts", where="bench.run(spark=...)",
            fix="start the session with spark.speculation=false")


def session_profile(sc: Any, nodes: int | None = None, cores: int | None = None,
                    name: str = SESSION_PROFILE) -> ClusterProfile:
    """The profile of ``sc``'s cluster: ``nodes`` and ``cores`` (per node) as given, else read
    from the context (module docstring)."""
    check_usable(sc)
    conf = sc.getConf()
    master = str(sc.master)
    task_cpus = _whole(conf.get("spark.task.cpus", "1"), "spark.task.cpus")
    registered = 1 if _is_local(master) else wait_for_executors(sc)
    if nodes is None:
        nodes = registered
    elif not 1 <= nodes <= registered:
        raise UserError(f"nodes={nodes}, and the given SparkSession has {registered} executors",
                        where="bench.run(nodes=...)",
                        fix=f"give 1 to {registered} nodes, or leave nodes= out")
    if cores is None:
        cores = _whole(conf.get("spark.executor.cores", "0"), "spark.executor.cores") or \
            max(task_cpus, task_slots(sc) * task_cpus // registered)
    if cores < task_cpus:
        raise UserError(f"cores={cores} per node, and a task of the given SparkSession takes "
                        f"spark.task.cpus = {task_cpus}", where="bench.run(cores=...)",
                        fix=f"give {task_cpus} cores or more, or leave cores= out")
    executor_memory = conf.get("spark.executor.memory", "1g").strip().lower()
    per_node = cores // task_cpus
    return ClusterProfile(
        name=name, path=Path(f"<SparkSession {sc.applicationId}>"),
        description=f"the given SparkSession '{sc.appName}' ({sc.applicationId}) on {master}",
        nodes=nodes, cores=per_node * task_cpus, memory=executor_memory,
        executor_memory=executor_memory, trials_per_node=per_node, master=master)


def executor_count(sc: Any) -> int:
    """Executors registered now (the status counts the driver's block manager too)."""
    return max(0, sc._jsc.sc().getExecutorMemoryStatus().size() - 1)


def expected_executors(sc: Any) -> int | None:
    """The executors ``sc``'s settings ask for, where they say."""
    conf, master = sc.getConf(), str(sc.master)
    if match := _LOCAL_CLUSTER.match(master):
        return int(match.group(1))
    instances = conf.get("spark.executor.instances", None)
    if instances:
        return int(instances)
    cores_max, executor_cores = conf.get("spark.cores.max", None), \
        conf.get("spark.executor.cores", None)
    if cores_max and executor_cores and int(executor_cores) > 0:
        return int(cores_max) // int(executor_cores)
    return None


def wait_for_executors(sc: Any, timeout_s: float = EXECUTOR_WAIT_S) -> int:
    """The executors of ``sc`` once they have registered: as many as its settings ask for, or,
    where they do not say, as many as are there when none has joined for a moment."""
    expected = expected_executors(sc)
    deadline = time.monotonic() + timeout_s
    count, since = executor_count(sc), time.monotonic()
    while True:
        if expected is not None and count >= expected:
            return count
        if expected is None and count and time.monotonic() - since >= _SETTLE_S:
            return count
        if time.monotonic() > deadline:
            if count:
                log.warning("the given SparkSession has %d executors of the %s it asks for; "
                            "bench uses those", count, expected)
                return count
            raise UserError(f"no executor registered with the given SparkSession in "
                            f"{timeout_s:.0f} s", where=f"master {sc.master}",
                            fix="check that the cluster has the cores and memory the session "
                                "asks for")
        time.sleep(0.1)
        now = executor_count(sc)
        if now != count:
            count, since = now, time.monotonic()


def task_slots(sc: Any) -> int:
    """Tasks ``sc`` runs at once; its default parallelism where Spark does not say."""
    with contextlib.suppress(Exception):  # Spark-internal, reached through py4j
        jsc = sc._jsc.sc()
        return int(jsc.maxNumConcurrentTasks(
            jsc.resourceProfileManager().defaultResourceProfile()))
    return int(sc.defaultParallelism)


def pinned_threads(sc: Any) -> bool:
    """PySpark's pinned-thread mode: each Python thread has a JVM thread of its own, so local
    properties set in bench's job threads stay with them."""
    try:
        from py4j.clientserver import ClientServer
    except ImportError:
        return True
    gateway = getattr(sc, "_gateway", None)
    return gateway is None or isinstance(gateway, ClientServer)


def local_properties(sc: Any) -> dict[str, str]:
    """The calling thread's local properties (job group, description, pool, tags, ...).

    Walked with the Java iterator's own hasNext: py4j's Python iteration ends on a Java
    exception, and PySpark's handling of one starts the session's SQL state (which adds
    spark.sql.warehouse.dir to its configuration)."""
    props = sc._jsc.sc().getLocalProperties()
    names = props.stringPropertyNames().iterator()
    found = {}
    while names.hasNext():
        key = str(names.next())
        found[key] = str(props.getProperty(key))
    return found


def restore_local_properties(sc: Any, saved: dict[str, str]) -> None:
    """The calling thread's local properties as ``saved`` holds them: those added since
    removed, those changed set back."""
    now = local_properties(sc)
    for key in now.keys() - saved.keys():
        sc.setLocalProperty(key, None)
    for key, value in saved.items():
        if now.get(key) != value:
            sc.setLocalProperty(key, value)


# The given context's application id -> the names of the files shipped to it.
_SHIPPED: dict[str, set[str]] = {}
_KEEP: list[Path] = []  # the folder the shipped files are kept in, made once per process


def _ship(sc: Any, py_files: list[str]) -> None:
    """Each file once per context, from a folder that lasts as long as this process: Spark
    serves an added file from its path, and refuses another path of the same name."""
    shipped = _SHIPPED.setdefault(str(sc.applicationId), set())
    for path in py_files:
        name = Path(path).name
        if name in shipped:
            continue
        kept = _keep_folder() / name
        shutil.copyfile(path, kept)
        sc.addPyFile(str(kept))
        shipped.add(name)


def _keep_folder() -> Path:
    if not _KEEP:
        folder = Path(tempfile.mkdtemp(prefix="bench-ship-session-"))
        write_owner(folder, [])  # this process's: cleaned as a leftover only once it has ended
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _KEEP.append(folder)
    return _KEEP[0]


def _is_local(master: str) -> bool:
    """A master that runs tasks in the driver's own JVM (``local``, ``local[4]``, ``local[*]``)."""
    return master == "local" or master.startswith("local[")


def _whole(text: str, key: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"{key} = {text!r} is not a whole number",
                        where="the given SparkSession's configuration",
                        fix=f"start the session with a whole number for {key}") from None


# The session a run was given, by its profile's name: bench.cluster.cluster_for finds it there.
_GIVEN: dict[str, SessionCluster] = {}


@contextlib.contextmanager
def given_cluster(cluster: SessionCluster | None) -> Iterator[None]:
    """For the block, profiles of ``cluster``'s name (a sweep's counts too) run on it."""
    if cluster is None:
        yield
        return
    _GIVEN[cluster.profile.name] = cluster
    try:
        yield
    finally:
        _GIVEN.pop(cluster.profile.name, None)


def given_for(profile: ClusterProfile) -> SessionCluster | None:
    """The given session ``profile`` (or the sweep it is a count of) runs on, if any."""
    cluster = _GIVEN.get(profile.sweep_of or profile.name)
    return cluster if cluster is not None and cluster.profile.master == profile.master else None
