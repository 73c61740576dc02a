"""A small TCP server on the driver: each Spark task sends its result here the moment it ends.

Spark hands a job's results to the driver only when the whole job is done; this channel lets the
runner write each trial to ``trials.jsonl`` as it finishes, so a crash loses no finished trial.
A message that asks (``"ask": true``) gets a one-line answer from the referee of its grid run.
"""

from __future__ import annotations

import json
import logging
import queue
import socketserver
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        for line in self.rfile:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                log.warning("ignored a malformed message from %s", self.client_address)
                continue
            referee = server.referees.get(message.get("token"))
            answer = None
            if referee is not None:
                try:
                    answer = referee(message)
                except Exception:  # a bug: keep its traceback, and let the attempt run
                    log.exception("the referee could not judge %s", message)
            if message.get("ask"):  # the task waits for this line before it goes on
                self.wfile.write(json.dumps(answer or {"run": True}).encode() + b"\n")
                self.wfile.flush()
            server.inbox.put(message)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    inbox: queue.Queue
    referees: dict[str, Callable[[dict], dict | None]]


class ResultChannel:
    """Listens on ``bind_host`` (an ephemeral port); messages arrive in ``inbox``."""

    def __init__(self, bind_host: str = "127.0.0.1", advertised_host: str | None = None) -> None:
        self._server = _Server((bind_host, 0), _Handler)
        self._server.inbox = queue.Queue()
        # token of a grid run -> what hears its messages first and answers its questions
        self._server.referees = {}
        self.address = (advertised_host or bind_host, self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-result-channel", daemon=True
        )

    @property
    def inbox(self) -> queue.Queue:
        return self._server.inbox

    @property
    def referees(self) -> dict[str, Callable[[dict], dict | None]]:
        return self._server.referees

    def __enter__(self) -> ResultChannel:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
