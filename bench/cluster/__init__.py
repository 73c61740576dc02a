"""Cluster backends: a local standalone cluster bench starts, an existing one it connects to, or
the cluster of a SparkSession the caller gives (bench.run(spark=...))."""

from __future__ import annotations

from pathlib import Path

from bench.cluster._base import Cluster
from bench.cluster._existing import ExistingCluster, check_reachable
from bench.cluster._local import LocalStandaloneCluster
from bench.cluster._session import SessionCluster, given_cluster, given_for, session_profile
from bench.definitions.profile import ClusterProfile, load_profile, load_profiles

__all__ = [
    "Cluster", "ClusterProfile", "ExistingCluster", "LocalStandaloneCluster", "SessionCluster",
    "check_reachable", "cluster_for", "given_cluster", "load_profile", "load_profiles",
    "session_profile",
]


def cluster_for(profile: ClusterProfile, log_dir: Path) -> Cluster:
    """The backend a profile asks for: the given session's (bench.run(spark=...)), its own master
    if it names one, else a local cluster."""
    if (given := given_for(profile)) is not None:
        return given
    if profile.is_local:
        return LocalStandaloneCluster(profile, log_dir)
    return ExistingCluster(profile)
