"""Ray Tune on the profile's Spark cluster (``ray.util.spark``): the way users run a grid on Ray.

``open`` starts a Ray cluster on the Spark application before any clock: its head in this
driver's host with no CPUs (it runs no trial), one Ray worker node per Spark task slot, each a
long-lived Spark task holding that slot (so no Spark job runs while it is open). ``run`` is one
``Tuner`` over the grid: a grid search over the index into the payloads (Ray generates its
variants in order), as many trials at once as there are slots, each one ``grid.task`` on the
dataset that Ray's object store holds (a Spark broadcast cannot be read in a Ray worker).
``close`` stops the Ray cluster and waits for every process it started on this host.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import psutil

from bench.cluster.spark_session import temporary_environment
from bench.execute.backends.base import GridSubmission, active_session, require

log = logging.getLogger(__name__)

# Ray's own memory figures are logical (trials ask for none); the object stores are small and
# spill to disk past them. The dataset sits in the head's.
HEAD_MEMORY = 512 * 2**20
HEAD_OBJECT_STORE = 512 * 2**20
WORKER_OBJECT_STORE = 256 * 2**20
STOP_PATIENCE_S = 5.0  # for the Ray processes to exit once told to (each step)
# Ray's unix sockets live under its temp dir, whose path must stay short (108 bytes a socket).
SHORT_TEMP = "/tmp"
HOOK = "RAY_ON_SPARK_START_HOOK"

# In a Ray worker: the holder of the dataset it read last, so trials of a reused worker share
# one float32 copy (bench.execute.tasks.float_data caches by holder).
_HOLDERS: dict[str, _ObjectStoreData] = {}


class _ObjectStoreData:
    """Stands in for a Spark broadcast in a Ray worker: ``.value`` is the dataset, read from
    Ray's object store (and the holder can be weakly held)."""

    def __init__(self, ref: Any) -> None:
        self.ref = ref

    @property
    def value(self) -> Any:
        import ray

        return ray.get(self.ref)

    def __reduce__(self) -> tuple:
        return _holder, (self.ref,)


def _holder(ref: Any) -> _ObjectStoreData:
    held = _HOLDERS.get(ref.hex())
    if held is None:
        _HOLDERS.clear()
        held = _HOLDERS[ref.hex()] = _ObjectStoreData(ref)
    return held


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Ray on Spark copies its nodes' console output to this process's stdout, and advises on
    sizes for Databricks: kept in the debug log instead (it says little while all goes well)."""
    spark_log = logging.getLogger("ray.util.spark")
    level, out = spark_log.level, io.StringIO()
    spark_log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(out):
            yield
    finally:
        spark_log.setLevel(level)
        log.debug("Ray on Spark said: %s", out.getvalue())


def _trial(config: dict, *, task: Any, payloads: list[dict]) -> None:
    """One Ray trial: the task sends its result to the driver itself; Ray gets it too."""
    from ray import tune

    result = task(payloads[config["trial"]])
    tune.report({"val_error": result["val_error"], "result": result})


def _cancel_stopper() -> Any:
    from ray.tune import Stopper

    class Cancel(Stopper):
        """Stops every trial once ``cancel`` is set (Tune asks at each of its steps)."""

        def __init__(self) -> None:
            self.event = threading.Event()

        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return self.event.is_set()

        def __getstate__(self) -> dict:  # Tune saves its experiment state; an Event cannot go
            return {}

        def __setstate__(self, state: dict) -> None:
            self.event = threading.Event()

    return Cancel()


class _StartHook:
    """Ray on Spark's start hook (named by RAY_ON_SPARK_START_HOOK while ``open`` runs): its
    environment goes to every Ray node it starts, the head here and the workers in the Spark
    tasks. Ray starts its nodes with the ``ray`` script beside the node's Python, found on PATH:
    the executors' PATH need not have the Python's folder (a venv's bin) on it."""

    def __init__(self, is_global: bool = False) -> None:
        from ray.util.spark.start_hook_base import RayOnSparkStartHook

        self._base = RayOnSparkStartHook(is_global)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def custom_environment_variables(self) -> dict[str, str]:
        folders = {os.path.dirname(p) for p in (sys.executable, os.environ.get("PYSPARK_PYTHON"))
                   if p}
        return {"PATH": os.pathsep.join([*sorted(folders), os.environ.get("PATH", "")])}


def _only_errors(logger: logging.Logger) -> None:
    if not any(isinstance(f, _OnlyErrors) for f in logger.filters):
        logger.addFilter(_OnlyErrors())


class _OnlyErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def _running_in(folder: str | None) -> list[psutil.Process]:
    """Processes of this host whose command line names ``folder`` (Ray's temp root of one
    open: a raylet of that cluster has it in its sockets' paths), and their children."""
    if not folder:
        return []
    found: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, TypeError):
            if folder in " ".join(proc.info["cmdline"] or []):
                # and what it started: Ray's agents retitle themselves ("ray::DashboardAgent")
                found += [p for p in [proc, *proc.children(recursive=True)] if p not in found]
    return found


class RayTune:
    name = "ray"
    counts_spark_jobs = False  # Ray's trials are no Spark jobs
    holds_slots = True  # its worker nodes are long-lived Spark tasks: closed after each grid

    def __init__(self) -> None:
        require(self.name, "ray")
        self._temp: str | None = None  # Ray's temp root and Tune's storage, removed in close
        self._head: psutil.Process | None = None
        self._started: list[psutil.Process] = []  # this host's Ray processes, waited for in close
        self._cpus = 1
        self._stopper: Any = None

    def open(self, sc: Any, slots: int) -> None:
        """Start a Ray cluster of ``slots`` worker nodes on ``sc``'s application and connect."""
        import ray
        from ray.util.spark import cluster_init, setup_ray_cluster

        active_session(sc)  # Ray on Spark finds the application by the thread's active session
        # A Ray node per Spark task slot, of the task's CPUs: one trial per node at a time.
        self._cpus = int(sc.getConf().get("spark.task.cpus", "1"))
        self._temp = tempfile.mkdtemp(prefix="bench-ray-", dir=SHORT_TEMP)
        quiet = {"disable_usage_stats": None, "include_dashboard": False}
        with temporary_environment({HOOK: f"{__name__}._StartHook"}), _quiet():
            setup_ray_cluster(
                max_worker_nodes=slots, min_worker_nodes=slots,
                num_cpus_worker_node=self._cpus, num_gpus_worker_node=0,
                object_store_memory_worker_node=WORKER_OBJECT_STORE,
                num_cpus_head_node=0, num_gpus_head_node=0,
                memory_head_node=HEAD_MEMORY, object_store_memory_head_node=HEAD_OBJECT_STORE,
                head_node_options=quiet, worker_node_options={"disable_usage_stats": None},
                ray_temp_root_dir=self._temp,
            )
        # Its job server warns on stdout as each worker node's Spark job ends, after close()
        # (it sets its logger's level itself, so a filter, not a level, keeps that out)
        _only_errors(logging.getLogger("ray.autoscaler._private.spark.spark_job_server"))
        cluster = cluster_init._active_ray_cluster
        if cluster is not None:
            with contextlib.suppress(psutil.Error):
                self._head = psutil.Process(cluster.head_proc.pid)
        ray.init(address=cluster.address if cluster else "auto", log_to_driver=False,
                 logging_level=logging.WARNING, configure_logging=False)

    def run(self, grid: GridSubmission) -> list[dict]:
        import ray
        from ray import tune

        self._stopper = _cancel_stopper()
        holder = _ObjectStoreData(ray.put(grid.data_bc.value))
        trainable = tune.with_resources(
            tune.with_parameters(_trial, task=grid.task(data=holder), payloads=grid.payloads),
            {"cpu": self._cpus})
        tuner = tune.Tuner(
            trainable,
            param_space={"trial": tune.grid_search(list(range(len(grid.payloads))))},
            tune_config=tune.TuneConfig(max_concurrent_trials=grid.slots, reuse_actors=True),
            run_config=tune.RunConfig(
                name=grid.group, storage_path=os.path.join(self._temp or SHORT_TEMP, "tune"),
                verbose=0, stop=self._stopper, log_to_file=False,
                checkpoint_config=tune.CheckpointConfig(num_to_keep=1,
                                                        checkpoint_at_end=False)),
        )
        with _quiet():  # Tune prints where its results are, which close() removes
            results = tuner.fit()
        if self._stopper.event.is_set():
            raise RuntimeError("bench: the Ray Tune run was cancelled")
        if results.errors:  # a task that raised: Spark's map would fail its job too
            raise RuntimeError(f"bench: {len(results.errors)} Ray trials raised; the first: "
                               f"{results.errors[0]}")
        return [r.metrics["result"] for r in results if r.metrics and "result" in r.metrics]

    def cancel(self, sc: Any) -> None:
        if self._stopper is not None:
            self._stopper.event.set()

    def close(self) -> None:
        """Stop the Ray cluster, wait for its processes on this host, remove its files."""
        import ray
        from ray.util.spark import shutdown_ray_cluster

        if self._head is not None:  # the head and all it started, found while they run
            with contextlib.suppress(psutil.Error):
                self._started = [self._head, *self._head.children(recursive=True)]
        # The worker nodes' agents, on a cluster of this host: orphaned when their Spark task
        # ends, they would linger about 70 s. Ours are those run in the temp root we made.
        self._started += [p for p in _running_in(self._temp) if p not in self._started]
        try:
            with _quiet():
                try:
                    ray.shutdown()
                finally:
                    with contextlib.suppress(RuntimeError):  # none active: open failed early
                        shutdown_ray_cluster()
                    self._wait_stopped()
        finally:
            if self._temp is not None:
                shutil.rmtree(self._temp, ignore_errors=True)
                self._temp = None

    def _wait_stopped(self) -> None:
        """The head's processes exit on their own once told to; the worker nodes' agents, which
        lose their raylet with its Spark task, would wait about 70 s: told to stop, by pid."""
        _, alive = psutil.wait_procs(self._started, timeout=STOP_PATIENCE_S)
        for signal_them in (psutil.Process.terminate, psutil.Process.kill):
            if not alive:
                break
            log.debug("stopping %d Ray processes that outlived their cluster: %s", len(alive),
                      [p.pid for p in alive])
            for proc in alive:
                with contextlib.suppress(psutil.Error):
                    signal_them(proc)
            _, alive = psutil.wait_procs(alive, timeout=STOP_PATIENCE_S)
        for proc in alive:
            log.warning("a Ray process did not stop: %s", proc.pid)
        self._started, self._head = [], None
