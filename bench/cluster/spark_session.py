"""The SparkContext of one profile: its settings, waiting for executors, and a clean stop."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pyspark import SparkConf, SparkContext

from bench.cluster import Cluster, ClusterProfile, SessionCluster
from bench.definitions.profile import memory_mb
from bench.errors import UserError

log = logging.getLogger(__name__)

DRIVER_LOGGING = Path(__file__).with_name("log4j2.properties")
# Masters whose resource manager starts as many executors as the application asks for.
RESOURCE_MANAGED = ("yarn", "k8s://")
MIN_OVERHEAD_MB = 384  # Spark's own least memory overhead of an executor


def executor_environment(threads: int) -> dict[str, str]:
    """The executors' environment for TensorFlow: threads from the profile, one fixed oneDNN
    setting (it changes results), quiet logs, no GPU search."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "OMP_NUM_THREADS": str(threads),
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
        "KERAS_BACKEND": "tensorflow",
        "PYTHONHASHSEED": "0",
    }


def spark_conf(cluster: Cluster, app_name: str,
               profile: ClusterProfile | None = None) -> SparkConf:
    """The application's settings; ``profile`` (a sweep's node count) overrides the cluster's."""
    profile = profile or cluster.profile
    conf = SparkConf(loadDefaults=False)
    conf.setMaster(cluster.master_url).setAppName(app_name)
    settings = {
        "spark.executor.cores": profile.cores,
        # A task takes all the cores its trial uses: one trial per node at a time by default.
        "spark.task.cpus": profile.threads_per_trial,
        "spark.cores.max": profile.nodes * profile.cores,
        "spark.executor.memory": profile.executor_memory,
        "spark.python.worker.reuse": "true",
        "spark.locality.wait": "0s",  # trials have no data locality to wait for
        "spark.ui.enabled": "false",  # no port to clash with another run on the host
        "spark.ui.showConsoleProgress": "false",  # bench draws its own progress bar
        "spark.scheduler.mode": "FIFO",
        "spark.dynamicAllocation.enabled": "false",
        "spark.speculation": "false",  # a speculative copy of a trial would run it twice at once
        # Read when the driver's JVM starts (the first context of the process).
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{DRIVER_LOGGING}",
    }
    if cluster.master_url.startswith(RESOURCE_MANAGED):
        settings.update(executor_sizes(profile))
    if cluster.driver_host:
        settings["spark.driver.host"] = cluster.driver_host
        settings["spark.driver.bindAddress"] = cluster.driver_host
    if cluster.python:
        settings["spark.pyspark.python"] = cluster.python
    for key, value in executor_environment(profile.threads_per_trial).items():
        settings[f"spark.executorEnv.{key}"] = value
    settings.update(cluster.spark_settings())
    # The profile has the last word on the rest; what the measurement depends on it cannot set
    # (bench.definitions.profile refuses those keys in [spark]).
    settings.update(profile.spark)
    for key, value in settings.items():
        conf.set(key, str(value))
    return conf


def executor_sizes(profile: ClusterProfile) -> dict[str, str | int]:
    """YARN and Kubernetes start the executors the application asks for, and a standalone
    master's spark.cores.max does not bound them: one executor per node of the profile (a sweep's
    profile has its own node count), each a container of the node's memory: the executor's heap
    and, beside it, the rest for the Python worker that runs TensorFlow (Spark's own default,
    a tenth of the heap, would leave a trial's worker to be killed by the resource manager)."""
    overhead = max(MIN_OVERHEAD_MB, memory_mb(profile.memory) - memory_mb(profile.executor_memory))
    return {
        "spark.executor.instances": profile.nodes,
        "spark.executor.memoryOverhead": f"{overhead}m",
    }


@contextlib.contextmanager
def spark_context(
    cluster: Cluster, app_name: str, py_files: list[str], executor_timeout_s: float = 120.0,
    profile: ClusterProfile | None = None,
) -> Iterator[SparkContext]:
    """A SparkContext on ``cluster`` with every expected executor registered; stopped on exit.
    ``profile``: use that many of the cluster's nodes (a sweep), not all of them.
    The process's environment is as it was again on exit: the next profile of the run starts
    from the user's, not from this one's.
    A given SparkSession's context (SessionCluster) is used as it is and never stopped."""
    if isinstance(cluster, SessionCluster):  # the caller's own (bench.run(spark=...))
        with cluster.application(py_files, profile) as sc:
            yield sc
        return
    conf = spark_conf(cluster, app_name, profile)
    with temporary_environment(_driver_environment(cluster, conf)):
        sc = SparkContext(conf=conf)
        try:
            sc.setLogLevel("ERROR")
            for path in py_files:
                sc.addPyFile(path)
            _wait_for_executors(sc, cluster, executor_timeout_s,
                                (profile or cluster.profile).nodes)
            yield sc
        finally:
            sc.stop()


def _driver_environment(cluster: Cluster, conf: SparkConf) -> dict[str, str]:
    """Variables the driver's process needs set while the context runs."""
    env = {}
    if cluster.driver_host and "SPARK_LOCAL_IP" not in os.environ:  # the user's stays
        env["SPARK_LOCAL_IP"] = cluster.driver_host
    # PySpark takes the executors' Python from this variable, not from the setting.
    python = conf.get("spark.pyspark.python")
    if python:
        env["PYSPARK_PYTHON"] = python
    return env


@contextlib.contextmanager
def temporary_environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for the block; each variable as it was (or unset) after it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _wait_for_executors(sc: SparkContext, cluster: Cluster, timeout_s: float,
                        expected: int) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        # The status includes the driver's own block manager.
        registered = sc._jsc.sc().getExecutorMemoryStatus().size() - 1
        if registered >= expected:
            log.info("%d executors registered on %s", registered, cluster.master_url)
            return
        if time.monotonic() > deadline:
            raise UserError(
                f"only {registered} of {expected} executors registered in {timeout_s:.0f} s",
                where=f"cluster {cluster.master_url} (profile '{cluster.profile.name}')",
                fix="check that the cluster has the nodes, cores and memory the profile says",
            )
        time.sleep(0.1)


def shutdown_gateway() -> None:
    """Stop the driver's JVM (py4j gateway) that PySpark keeps for the life of the process."""
    gateway = SparkContext._gateway
    if gateway is None:
        return
    proc = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):
        gateway.shutdown()
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
    SparkContext._gateway = None
    SparkContext._jvm = None
