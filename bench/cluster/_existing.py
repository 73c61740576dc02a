"""A cluster that already runs (standalone, YARN or Kubernetes): bench only connects to it."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from bench.cluster._base import Cluster
from bench.errors import UserError


class ExistingCluster(Cluster):
    @property
    def master_url(self) -> str:
        assert self.profile.master is not None
        return self.profile.master

    def start(self) -> None:
        if self.master_url.startswith("spark://"):
            self._check_reachable()

    def stop(self) -> None:
        pass  # not ours to stop

    def _check_reachable(self) -> None:
        url = urlparse(self.master_url)
        host, port = url.hostname or "", url.port or 7077
        try:
            with socket.create_connection((host, port), timeout=5):
                pass
        except OSError as e:
            raise UserError(
                f"the Spark master {self.master_url} is unreachable ({e.strerror or e})",
                where=f"cluster profile '{self.profile.name}' ({self.profile.path})",
                fix="start the cluster, or correct 'master' in the profile",
            ) from None
