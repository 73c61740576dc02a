"""Checks made before anything starts: Java for Spark, and whether the host can hold a cluster."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess

import psutil

from bench.cluster._local import LOOPBACK
from bench.definitions.profile import ClusterProfile
from bench.errors import UserError

MIN_JAVA = 17  # Spark 4 runs on Java 17 or newer

# Resident memory measured here per local node: worker and executor JVMs, and a Python worker
# that has imported TensorFlow (about 0.6 GB) when real trials run.
_DAEMON_MB = 300
_TENSORFLOW_WORKER_MB = 700
_PLAIN_WORKER_MB = 80

# The ports the driver binds on this host when a profile fixes them in its [spark] table.
DRIVER_PORTS = ("spark.driver.port", "spark.driver.blockManager.port", "spark.blockManager.port")
SPARK_PORT_RETRIES = 16  # Spark's default spark.port.maxRetries


def java_executable() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def java_version(java: str) -> int | None:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major  # "1.8" is Java 8


def check_java() -> str:
    """The Java version line, or a UserError saying what to install."""
    fix = ("install Java 17 or newer (e.g. `sudo apt-get install openjdk-17-jre-headless`) "
           "or set JAVA_HOME to one")
    java = java_executable()
    if java is None:
        raise UserError("Java was not found: Spark needs it", where="PATH and JAVA_HOME", fix=fix)
    version = java_version(java)
    if version is None or version < MIN_JAVA:
        raise UserError(f"Spark 4 needs Java {MIN_JAVA} or newer, found {version}",
                        where=java, fix=fix)
    return f"{version} ({java})"


def usable_cores() -> int:
    """Cores this process may run on (respects taskset and container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def local_cluster_mb(nodes: int, executor_memory_mb: int, tensorflow: bool) -> int:
    """Expected resident memory of a local cluster of ``nodes`` workers, in MiB."""
    python = _TENSORFLOW_WORKER_MB if tensorflow else _PLAIN_WORKER_MB
    # An executor seldom fills its heap here; count half of it as resident.
    return nodes * (_DAEMON_MB + executor_memory_mb // 2 + python)


def check_memory(profile_name: str, nodes: int, executor_memory_mb: int, tensorflow: bool,
                 where: str | None = None) -> None:
    need = local_cluster_mb(nodes, executor_memory_mb, tensorflow)
    available = psutil.virtual_memory().available // 2**20
    if need > available:
        raise UserError(
            f"a local {nodes}-node cluster needs about {need} MiB but {available} MiB are free",
            where=f"cluster profile '{profile_name}'" + (f" ({where})" if where else ""),
            fix="run it in replay mode (--mode replay or auto), use fewer nodes, "
                "or lower executor_memory",
        )


def check_ports(spark: dict[str, str], host: str, where: str) -> None:
    """Every port the profile fixes, or one of the spark.port.maxRetries ports after it, is free
    on ``host`` ("" for every address): Spark tries no others, and would fail only once the
    cluster has started, with a Java stack trace."""
    retries = _port_setting(spark, "spark.port.maxRetries", SPARK_PORT_RETRIES, where)
    for key in DRIVER_PORTS:
        port = _port_setting(spark, key, 0, where)
        if port == 0:  # Spark picks a free port itself
            continue
        last = min(port + retries, 65535)
        if any(_is_free(host, p) for p in range(port, last + 1)):
            continue
        tried = f"port {port} is in use" if last == port else \
            f"ports {port} to {last} (spark.port.maxRetries = {retries}) are all in use"
        raise UserError(
            f"'{key}' = {port}: {tried} on {host or 'this host'} (another bench run or "
            "another program)", where=where,
            fix=f"remove '{key}' to let Spark choose a free port, give a free one, or stop "
                "what uses it")


def result_channel_host(profile: ClusterProfile) -> str:
    """The address the driver's result channel binds: the driver's, as the profile fixes it;
    a local cluster's driver is on the loopback address; "" (every address) where Spark
    chooses it only once the driver starts."""
    return (profile.spark.get("spark.driver.bindAddress") or profile.spark.get("spark.driver.host")
            or (LOOPBACK if profile.is_local else ""))


def check_result_channel_port(profile: ClusterProfile) -> None:
    """The port ``[ports] result_channel`` fixes is free on the driver: the channel takes no
    other, and would fail only once the profile's cluster has started."""
    port = profile.result_channel_port
    if not port:
        return
    host = result_channel_host(profile)
    if _is_free(host, port):
        return
    raise UserError(
        f"'result_channel' = {port}: port {port} is in use on {host or 'this host'} (another "
        "bench run or another program)", where=f"{profile.path} [ports]",
        fix="give a free port the executors can reach, remove 'result_channel' to let bench "
            "choose one, or stop what uses it")


def _port_setting(spark: dict[str, str], key: str, default: int, where: str) -> int:
    text = spark.get(key, str(default))
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise UserError(f"'{key}' must be a whole number from 0 to 65535, got {text!r}",
                        where=where, fix="give a port number, or 0 to let Spark choose")
    return value


def _is_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        # as Spark binds: a port whose last connection is in TIME_WAIT can be bound again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True
