"""Cluster profiles (``clusters/*.toml``): how many nodes, their size, and where the master is."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench.definitions.locations import find_definition
from bench.definitions.tomlfile import Invalid, Table, load_toml, positive
from bench.errors import UserError

DEFAULT_PROFILES = ("local", "2-node", "13-node")
_MEMORY = re.compile(r"^\d+[mg]$")
_MASTERS = ("spark://", "yarn", "k8s://")

# Spark settings the measurement depends on, which bench sets itself from the profile
# (bench.cluster.spark_session.spark_conf): a [spark] table may not change them. Each with the
# profile key that says it instead, or why none does.
_NOT_IN_SPARK_TABLE = {
    "spark.master": "'master'",
    "spark.executor.cores": "'cores' (each node is one executor of that many cores)",
    "spark.executor.instances": "'nodes' (one executor per node)",
    "spark.cores.max": "'nodes' and 'cores' (the application takes nodes x cores)",
    "spark.task.cpus": "'trials_per_node' (a trial's task takes cores / trials_per_node)",
    "spark.executor.memory": "'executor_memory'",
    "spark.dynamicAllocation.enabled": None,  # the executor count is the profile's nodes
    "spark.speculation": None,  # a speculative copy would run a trial twice at once
    "spark.python.worker.reuse": None,  # a trial's worker keeps TensorFlow for the next
    "spark.scheduler.mode": None,  # trials are dispatched in bench's order (FIFO)
    "spark.locality.wait": None,  # a trial waits for no data locality
}
# The executors' environment bench sets (TensorFlow's threads and its one result-changing option).
_NOT_IN_EXECUTOR_ENV = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                        "TF_ENABLE_ONEDNN_OPTS", "PYTHONHASHSEED")


def memory_mb(text: str) -> int:
    """Spark's memory notation ("512m", "2g") in MiB."""
    number, unit = int(text[:-1]), text[-1]
    return number * 1024 if unit == "g" else number


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    path: Path
    description: str
    nodes: int
    cores: int  # per node
    memory: str  # per node, Spark notation
    executor_memory: str
    trials_per_node: int = 1
    master: str | None = None  # None: bench starts a local standalone cluster of this shape
    spark: dict[str, str] = field(default_factory=dict)  # extra Spark settings
    # A node-count sweep (`bench run --nodes`): this profile is `nodes` nodes of the cluster of
    # profile ``sweep_of``, which is started once for the whole sweep.
    sweep_of: str | None = None
    # [ports] result_channel: the driver's port for the trials' results (None: any free port)
    result_channel_port: int | None = None

    @property
    def slots(self) -> int:
        """Trials running at once (docs/method.md: slots = nodes x trials per node)."""
        return self.nodes * self.trials_per_node

    @property
    def threads_per_trial(self) -> int:
        """TensorFlow threads of one trial: the node's cores shared by its trials."""
        return self.cores // self.trials_per_node

    @property
    def is_local(self) -> bool:
        return self.master is None

    def definition_hash(self) -> str:
        d = asdict(self)
        # a port changes where results travel, not what is measured
        del d["path"], d["description"], d["name"], d["result_channel_port"]
        if d["sweep_of"] is None:  # hashes of profiles from before sweeps stay the same
            del d["sweep_of"]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "nodes": self.nodes,
            "cores": self.cores,
            "slots": self.slots,
            "memory": self.memory,
            "executor_memory": self.executor_memory,
            "trials_per_node": self.trials_per_node,
            "master": self.master or "local-standalone",
            "spark": self.spark,
            "hash": self.definition_hash(),
            "path": str(self.path),
            **({"sweep_of": self.sweep_of} if self.sweep_of else {}),
            **({"ports": {"result_channel": self.result_channel_port}}
               if self.result_channel_port else {}),
        }


def find_profile(name_or_path: str) -> Path:
    """A path as given, or a name looked up in ./clusters and then the project's clusters/."""
    return find_definition(name_or_path, folder="clusters", what="cluster profile",
                           option="--clusters")


def load_profile(name_or_path: str) -> ClusterProfile:
    path = find_profile(name_or_path)
    top = Table(load_toml(path), str(path))
    name = top.get("name", str, default=path.stem)
    nodes = top.get("nodes", int, check=positive)
    cores = top.get("cores", int, check=positive)
    memory = top.get("memory", str, check=_memory_check)
    executor_memory = top.get("executor_memory", str, default="1g", check=_memory_check)
    if memory_mb(executor_memory) > memory_mb(memory):
        raise UserError(
            f"executor_memory {executor_memory} exceeds the node's memory {memory}",
            where=str(path), fix="lower executor_memory or raise memory",
        )
    per_node = top.get("trials_per_node", int, default=1, check=positive)
    if cores % per_node:
        raise UserError(
            f"trials_per_node = {per_node} does not divide cores = {cores}",
            where=str(path), fix="each trial gets cores / trials_per_node threads: make it whole",
        )
    master = top.get("master", str, default=None, check=_master_check)
    spark = _spark_settings(top.table("spark", default={}))
    ports = top.table("ports", default={})
    channel_port = ports.get("result_channel", int, default=None, check=_port_check)
    ports.finish()
    description = top.get("description", str, default="")
    top.finish()
    return ClusterProfile(
        name=name, path=path, description=description, nodes=nodes, cores=cores, memory=memory,
        executor_memory=executor_memory, trials_per_node=per_node, master=master, spark=spark,
        result_channel_port=channel_port,
    )


def _spark_settings(table: Table) -> dict[str, str]:
    """The [spark] table: Spark settings, none of those bench sets from the profile itself."""
    spark = {}
    for key in list(table.data):
        value = table.get(key, (str, int, float, bool))
        if not key.startswith("spark."):
            raise UserError(f"'{key}' is not a Spark setting", where=table.where,
                            fix="Spark settings start with 'spark.'")
        _refuse_measured_setting(key, table.where)
        spark[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return spark


def _refuse_measured_setting(key: str, where: str) -> None:
    """A setting the measurement depends on is bench's to set, from the profile's own keys."""
    env = key.removeprefix("spark.executorEnv.")
    if key in _NOT_IN_SPARK_TABLE:
        instead = _NOT_IN_SPARK_TABLE[key]
    elif env != key and env in _NOT_IN_EXECUTOR_ENV:
        instead = "'cores' and 'trials_per_node' (TensorFlow's threads: cores / " \
                  "trials_per_node)" if "THREADS" in env else None
    else:
        return
    fix = f"remove it; set the profile's {instead} instead" if instead else \
        "remove it: bench fixes it for every profile, so that their figures compare"
    raise UserError(f"'{key}' is set by bench from the profile: the measurement depends on it",
                    where=where, fix=fix)


def with_nodes(profile: ClusterProfile, nodes: int) -> ClusterProfile:
    """``nodes`` nodes of ``profile``'s cluster, for a sweep: named ``<profile>@<nodes>``.

    The sweep starts ``profile``'s cluster once and runs each node count as its own Spark
    application limited to ``nodes`` executors (spark.cores.max; spark.executor.instances on
    YARN and Kubernetes), so every point of the sweep has the same nodes, processes and
    network."""
    if not 1 <= nodes <= profile.nodes:
        raise UserError(
            f"a sweep of profile '{profile.name}' can use 1 to {profile.nodes} nodes, not {nodes}",
            where="--nodes", fix=f"list node counts from 1 to {profile.nodes}, or sweep a "
                                 "bigger profile")
    return replace(profile, name=f"{profile.name}@{nodes}", nodes=nodes,
                   sweep_of=profile.name)


def load_profiles(names: list[str]) -> list[ClusterProfile]:
    profiles = [load_profile(n) for n in names]
    seen: set[str] = set()
    for p in profiles:
        if p.name in seen:
            raise UserError(f"cluster profile '{p.name}' is listed twice", where="--clusters",
                            fix="list it once")
        seen.add(p.name)
    return profiles


def _memory_check(value: str) -> Invalid | None:
    if _MEMORY.match(value) and memory_mb(value) > 0:
        return None
    return Invalid(f"must be like \"512m\" or \"2g\", got {value!r}",
                   "give a whole number of MiB or GiB in Spark's notation, e.g. \"512m\" or \"2g\"")


def _port_check(value: int) -> Invalid | None:
    if 1 <= value <= 65535:
        return None
    return Invalid(f"must be a port from 1 to 65535, got {value!r}",
                   "give a port the executors can reach the driver at, or leave the key out to "
                   "let bench choose a free one")


def _master_check(value: str) -> Invalid | None:
    if value.startswith(_MASTERS):
        return None
    return Invalid(f"must start with one of {', '.join(_MASTERS)}, got {value!r}",
                   "give a master URL such as spark://HOST:7077, or leave 'master' out to let "
                   "bench start a local cluster")
