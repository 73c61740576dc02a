"""The interface every cluster backend offers to the runner."""

from __future__ import annotations

import abc
from types import TracebackType

from bench.definitions.profile import ClusterProfile


class Cluster(abc.ABC):
    """A Spark cluster the runner can submit to: started (or reached) on enter, released on exit."""

    def __init__(self, profile: ClusterProfile) -> None:
        self.profile = profile
        self.startup_s = 0.0  # start until every worker registered; 0 for a cluster not ours

    @property
    @abc.abstractmethod
    def master_url(self) -> str: ...

    @property
    def driver_host(self) -> str | None:
        """Address executors reach the driver at; None lets Spark choose."""
        return None

    @property
    def python(self) -> str | None:
        """Python the executors run; None leaves it to the cluster's own settings."""
        return None

    def spark_settings(self) -> dict[str, str]:
        """Spark settings this backend needs; the profile's own settings override them."""
        return {}

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def pids(self) -> list[int]:
        """Processes this object started (none for a cluster that is not ours)."""
        return []

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()  # a half-started cluster is stopped too
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
