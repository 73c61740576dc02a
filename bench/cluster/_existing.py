"""A cluster that already runs (standalone, YARN or Kubernetes): bench only connects to it."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from bench.cluster._base import Cluster
from bench.definitions.profile import ClusterProfile
from bench.errors import UserError


class ExistingCluster(Cluster):
    @property
    def master_url(self) -> str:
        assert self.profile.master is not None
        return self.profile.master

    def start(self) -> None:
        check_reachable(self.profile)

    def stop(self) -> None:
        pass  # not ours to stop


def check_reachable(profile: ClusterProfile) -> None:
    """A spark:// master answers on its port; YARN and Kubernetes are left to Spark to reach."""
    if profile.master is None or not profile.master.startswith("spark://"):
        return
    url = urlparse(profile.master)
    host, port = url.hostname or "", url.port or 7077
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as e:
        raise UserError(
            f"the Spark master {profile.master} is unreachable ({e.strerror or e})",
            where=f"cluster profile '{profile.name}' ({profile.path})",
            fix="start the cluster, or correct 'master' in the profile",
        ) from None
