"""Cluster backends: a local standalone cluster bench starts, or an existing one it connects to."""

from __future__ import annotations

from pathlib import Path

from bench.cluster._base import Cluster
from bench.cluster._existing import ExistingCluster, check_reachable
from bench.cluster._local import LocalStandaloneCluster
from bench.definitions.profile import ClusterProfile, load_profile, load_profiles

__all__ = [
    "Cluster", "ClusterProfile", "ExistingCluster", "LocalStandaloneCluster", "check_reachable",
    "cluster_for",
    "load_profile", "load_profiles",
]


def cluster_for(profile: ClusterProfile, log_dir: Path) -> Cluster:
    """The backend a profile asks for: its own master if it names one, else a local cluster."""
    if profile.is_local:
        return LocalStandaloneCluster(profile, log_dir)
    return ExistingCluster(profile)
