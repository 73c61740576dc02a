"""A small TCP server on the driver: each Spark task sends its result here the moment it ends.

Spark hands a job's results to the driver only when the whole job is done; this channel lets the
runner write each trial to ``trials.jsonl`` as it finishes, so a crash loses no finished trial.
"""

from __future__ import annotations

import json
import logging
import queue
import socketserver
import threading
from types import TracebackType

log = logging.getLogger(__name__)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            try:
                self.server.inbox.put(json.loads(line))  # type: ignore[attr-defined]
            except json.JSONDecodeError:
                log.warning("ignored a malformed message from %s", self.client_address)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ResultChannel:
    """Listens on ``bind_host`` (an ephemeral port); messages arrive in ``inbox``."""

    def __init__(self, bind_host: str = "127.0.0.1", advertised_host: str | None = None) -> None:
        self._server = _Server((bind_host, 0), _Handler)
        self._server.inbox = queue.Queue()  # type: ignore[attr-defined]
        self.address = (advertised_host or bind_host, self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-result-channel", daemon=True
        )

    @property
    def inbox(self) -> queue.Queue:
        return self._server.inbox  # type: ignore[attr-defined]

    def __enter__(self) -> ResultChannel:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
