"""The Python API (bench.api): `import bench` stays light; load_run and compare give DataFrames;
bench.run goes through `bench run`'s own checks and run; and a given SparkSession is run on and
left as it was."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_workload
from made_runs import write_run

import bench
from bench.api import COMPARE_COLUMNS
from bench.cluster import ExistingCluster, SessionCluster, cluster_for, given_cluster
from bench.cluster._session import restore_local_properties, session_profile
from bench.definitions.profile import with_nodes
from bench.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
# what a test run reads nothing of: the floor, the deployment step, weak scaling
QUICK = {"no_floor": True, "deploy_rows": 0, "trials_per_node": 0}


def test_import_bench_loads_no_heavy_module():
    code = ("import sys, bench\nbench.__version__\n"
            "print(sorted(m for m in ('pyspark', 'tensorflow', 'pandas', 'bench.api') "
            "if m in sys.modules))\n"
            "print(callable(bench.run), callable(bench.load_run), callable(bench.compare))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True True True"]


def test_bench_compare_stays_the_function_once_the_compare_package_is_imported():
    import bench.compare.results  # noqa: F401 - the subpackage the import system sets

    assert bench.compare is bench.api.compare
    assert sys.modules["bench.compare"].__name__ == "bench.compare"


def test_load_run_and_compare_give_dataframes(tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", scale_2_node=1.5)
    run = bench.load_run(a)
    assert run.path == a.resolve() and run.meta["run_id"] == run.run_id
    # 3 rows (profile, mode) x 3 repeats x 3 trials; a column per hyperparameter and phase
    assert len(run.trials) == 27 and len(run.profiles) == 9 and run.deployments.empty
    assert {"profile", "mode", "repeat", "trial_id", "status", "test_error",
            "param.learning_rate", "phase.train"} <= set(run.trials.columns)
    assert "params" not in run.trials.columns and "phases" not in run.trials.columns
    assert {"nodes", "wall_s", "spark_tasks"} <= set(run.profiles.columns)
    assert run.summary["profiles"] and run.summary["workload"] == "w"

    verdicts = bench.compare(run, b)
    assert list(verdicts.columns) == COMPARE_COLUMNS and verdicts.attrs["comparable"]
    walls = verdicts[(verdicts.figure == "wall_s") & (verdicts.profile == "2-node")]
    assert list(walls["mode"]) == ["measured", "replay"]
    assert (walls["ratio"].round(6) == 1.5).all()
    assert set(bench.compare(a, a)["verdict"]) == {"same"}


@pytest.mark.parametrize(("given", "named"), [
    ({"repeats": 0}, "repeats="),
    ({"mode": "fast"}, "mode="),
    ({"sweep": [2, 4]}, "sweep="),
    ({"nodes": 2}, "nodes="),
    ({"clusters": "local", "spark": object()}, "clusters="),
    ({"workload": "no-such-workload"}, "no-such-workload"),
    ({"settings": {"training.epoch": 2}}, "training.epochs"),
], ids=["repeats", "mode", "sweep", "nodes-without-session", "clusters-and-session",
        "workload", "settings"])
def test_a_mistake_is_a_user_error_before_anything_starts(tmp_path, given, named):
    if "settings" in given:
        given = {**given, "workload": write_workload(tmp_path)}
    with pytest.raises(UserError, match=re.escape(named)):
        bench.run(out=tmp_path / "runs", **given)
    assert not (tmp_path / "runs").exists()


# --- a given session's profile and backend, on a stand-in context (no Spark) ----------------

class _Iterator:
    def __init__(self, items: list) -> None:
        self.items = items

    def iterator(self) -> _Iterator:
        return self

    def hasNext(self) -> bool:  # java.util.Iterator
        return bool(self.items)

    def next(self) -> str:
        return self.items.pop(0)


class _Properties:
    def __init__(self, values: dict) -> None:
        self.values = values

    def stringPropertyNames(self) -> _Iterator:  # java.util.Properties
        return _Iterator(list(self.values))

    def getProperty(self, key: str) -> str:
        return self.values[key]


class _Context:
    """What bench reads of a SparkContext, and its local properties, as py4j would give them."""

    def __init__(self, master: str, conf: dict, executors: int, slots: int) -> None:
        self.master, self.conf, self.executors, self.slots = master, conf, executors, slots
        self.applicationId, self.appName, self.defaultParallelism = "app-1", "notebook", slots
        self.properties: dict[str, str] = {}
        self._jsc = self

    def sc(self):
        return self

    def getConf(self) -> dict:  # SparkConf.get(key, default) as dict.get
        return self.conf

    def getExecutorMemoryStatus(self):  # the driver's block manager counts too
        return type("Status", (), {"size": lambda _: self.executors + 1})()

    def resourceProfileManager(self):
        return self

    def defaultResourceProfile(self) -> None:
        return None

    def maxNumConcurrentTasks(self, profile) -> int:
        return self.slots

    def getLocalProperties(self) -> _Properties:
        return _Properties(self.properties)

    def setLocalProperty(self, key: str, value: str | None) -> None:
        if value is None:
            self.properties.pop(key, None)
        else:
            self.properties[key] = value


@pytest.mark.parametrize(("master", "conf", "executors", "slots", "shape"), [
    ("local[4]", {}, 0, 4, (1, 4, 4)),
    ("spark://h:7077", {"spark.executor.cores": "2", "spark.cores.max": "4"}, 2, 4, (2, 2, 4)),
    ("spark://h:7077", {"spark.executor.cores": "4", "spark.task.cpus": "2",
                        "spark.executor.instances": "3"}, 3, 6, (3, 4, 6)),
    ("local-cluster[2,1,1024]", {}, 2, 2, (2, 1, 2)),
], ids=["local", "standalone", "task-cpus", "local-cluster"])
def test_a_session_profile_is_read_from_the_context(master, conf, executors, slots, shape):
    profile = session_profile(_Context(master, conf, executors, slots))
    assert (profile.nodes, profile.cores, profile.slots) == shape
    assert profile.master == master and profile.name == "session" and not profile.is_local


def test_a_session_profile_takes_the_nodes_and_cores_given():
    context = _Context("spark://h:7077", {"spark.executor.cores": "2"}, 4, 8)
    profile = session_profile(context, nodes=2, cores=1)
    assert (profile.nodes, profile.cores, profile.slots) == (2, 1, 2)
    with pytest.raises(UserError, match="4 executors"):
        session_profile(context, nodes=5)
    with pytest.raises(UserError, match="dynamic allocation"):
        session_profile(_Context("spark://h:7077", {"spark.dynamicAllocation.enabled": "true"},
                                 2, 2))


def test_the_given_session_is_the_cluster_of_its_profile_and_its_sweep(tmp_path):
    context = _Context("spark://h:7077", {"spark.executor.cores": "1"}, 2, 2)
    given = SessionCluster(session_profile(context), context)
    with given_cluster(given):
        assert cluster_for(given.profile, tmp_path) is given
        assert cluster_for(with_nodes(given.profile, 1), tmp_path) is given
    assert isinstance(cluster_for(given.profile, tmp_path), ExistingCluster)


def test_the_calling_threads_local_properties_are_put_back():
    context = _Context("local[2]", {}, 0, 2)
    context.properties = {"spark.jobGroup.id": "mine", "my.property": "kept"}
    saved = dict(context.properties)
    context.setLocalProperty("spark.jobGroup.id", "bench-1")
    context.setLocalProperty("spark.job.description", "bench: warm-up")
    context.setLocalProperty("my.property", None)
    restore_local_properties(context, saved)
    assert context.properties == saved


# --- bench.run on Spark --------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """A tiny grid run through bench.run on the local profile, with what it logged."""
    folder = tmp_path_factory.mktemp("api")
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("bench")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        run = bench.run(workload=write_workload(folder), clusters=["local"], out=folder / "runs",
                        **QUICK)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return run, lines


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_run_returns_the_run_as_load_run_reads_it(api_run):
    run, logged = api_run
    trials = run.meta["workload"]["trials"]  # the baseline and the grid, on 1 node, once
    assert len(run.trials) == trials and set(run.trials["profile"]) == {"local"}
    assert run.trials["param.learning_rate"].notna().all()
    assert (run.trials.loc[run.trials.status == "ok", "phase.train"] > 0).all()
    assert list(run.profiles[["profile", "mode", "nodes"]].itertuples(index=False, name=None)) \
        == [("local", "measured", 1)]
    assert run.summary == json.loads((run.path / "summary.json").read_text())
    again = bench.load_run(run.path)
    assert again.trials.equals(run.trials) and again.profiles.equals(run.profiles)
    # the command's lines, logged
    assert any(line.startswith("run directory") for line in logged), logged


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_compare_of_a_run_with_itself_finds_nothing_changed(api_run):
    run, _ = api_run
    verdicts = bench.compare(run, run.path)
    assert len(verdicts) and verdicts.attrs["comparable"]
    assert not {"worse", "improved"} & set(verdicts["verdict"])
    assert set(verdicts["profile"].dropna()) == {"local"}


LOCAL_PROPERTIES = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel",
                    "spark.scheduler.pool", "spark.job.tags", "my.property")


def _settings(sc) -> dict:
    """What a notebook set on its session: configuration, local properties, log level."""
    level = sc._jvm.org.apache.logging.log4j.LogManager.getRootLogger().getLevel().toString()
    return {**dict(sc.getConf().getAll()), "log level": level,
            **{f"local {key}": sc.getLocalProperty(key) for key in LOCAL_PROPERTIES}}


@pytest.mark.spark
@pytest.mark.tensorflow
@pytest.mark.slow
def test_a_given_session_is_run_on_and_left_as_it_was(tmp_path, shared_cluster, monkeypatch):
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    from bench.cluster.spark_session import shutdown_gateway

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # the executors' Python: bench's venv
    session = (SparkSession.builder.master(shared_cluster.master_url).appName("a notebook")
               .config("spark.cores.max", "2").config("spark.executor.cores", "1")
               .config("spark.executor.memory", "1g").config("spark.ui.enabled", "false")
               .config("spark.driver.host", "127.0.0.1")
               .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate())
    sc = session.sparkContext
    try:
        sc.setJobGroup("mine", "the notebook's own work")
        sc.setLocalProperty("my.property", "kept")
        sc.setLogLevel("WARN")
        before = _settings(sc)
        run = bench.run(spark=session, workload=write_workload(tmp_path),
                        out=tmp_path / "runs", **QUICK)
        assert SparkContext._active_spark_context is sc and sc._jsc is not None  # not stopped
        assert _settings(sc) == before
        assert session.range(3).count() == 3
        # the session's 2 executors, one profile at full size, measured (no 1-node reference)
        assert list(run.profiles[["profile", "mode", "nodes"]].itertuples(
            index=False, name=None)) == [("session", "measured", 2)]
        assert len(run.trials) == run.meta["workload"]["trials"]
        assert run.meta["profiles"][0]["master"] == shared_cluster.master_url
    finally:
        session.stop()
        shutdown_gateway()  # the process as bench's own runs leave it
