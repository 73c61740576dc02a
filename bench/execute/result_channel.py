"""A small TCP server on the driver: each Spark task sends its result here the moment it ends.

Spark hands a job's results to the driver only when the whole job is done; this channel lets the
runner write each trial to ``trials.jsonl`` as it finishes, so a crash loses no finished trial.
A message that asks (``"ask": true``) gets a one-line answer from the referee of its grid run.

The channel listens on the network the executors reach the driver on, so it takes only what its
own runs send: a message must carry the token of a run it serves (each grid run registers its
referee under a fresh random token), be one JSON object on a line of at most
``MAX_MESSAGE_BYTES``, and arrive within ``READ_TIMEOUT_S`` of the last; at most
``MAX_CONNECTIONS`` connections are served at once. Anything else is dropped with its
connection: nothing on the network can stall the driver, flood its memory or pass for a trial.
"""

from __future__ import annotations

import json
import logging
import queue
import socketserver
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from bench.errors import UserError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 20  # a trial's result is a few KB (its test-image mask about 2 KB)
READ_TIMEOUT_S = 10.0  # a task writes its line at once; a silent connection is let go
MAX_CONNECTIONS = 256  # served at once; more are closed unread
_LOGGED_REFUSALS = 10  # refusals logged one by one; the rest are only counted

Referee = Callable[[dict], dict | None]


class _Handler(socketserver.StreamRequestHandler):
    timeout = READ_TIMEOUT_S  # the socket's timeout, for every read and write

    def handle(self) -> None:
        server: _Server = self.server  # type: ignore[assignment]
        while True:
            try:
                line = self.rfile.readline(MAX_MESSAGE_BYTES + 1)
            except TimeoutError:
                server.refuse(self.client_address, f"nothing read for {READ_TIMEOUT_S:.0f} s")
                return
            except OSError:  # reset by the other end: nothing to take
                return
            if not line:
                return
            if len(line) > MAX_MESSAGE_BYTES:
                server.refuse(self.client_address, f"a message over {MAX_MESSAGE_BYTES} bytes")
                return
            message = _parse(line)
            token = message.get("token") if message is not None else None
            referee = server.referees.get(token) if isinstance(token, str) else None
            if referee is None:
                server.refuse(self.client_address, "not a message of a run this channel serves"
                              if message is not None else "not a JSON object")
                return
            self._take(server, referee, message)

    def _take(self, server: _Server, referee: Referee, message: dict) -> None:
        answer = None
        try:
            answer = referee(message)
        except Exception:  # a bug: keep its traceback, and let the attempt run
            log.exception("the referee could not judge %s", message)
        if message.get("ask"):  # the task waits for this line before it goes on
            self.wfile.write(json.dumps(answer or {"run": True}).encode() + b"\n")
            self.wfile.flush()
        server.inbox.put(message)


def _parse(line: bytes) -> dict | None:
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True  # a fixed port whose last connection is in TIME_WAIT binds again
    # A wave of tasks connects at once (13 asks of a 13-node grid's first wave): with
    # socketserver's backlog of 5 the kernel would drop the rest's first tries for a second.
    request_queue_size = 128
    inbox: queue.Queue
    referees: dict[Any, Referee]

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.refused = 0
        self._refused_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def refuse(self, peer: Any, why: str) -> None:
        with self._refused_lock:
            self.refused += 1
            count = self.refused
        if count <= _LOGGED_REFUSALS:
            log.warning("result channel: dropped a connection from %s: %s%s", peer, why,
                        " (further ones are only counted)" if count == _LOGGED_REFUSALS else "")

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refuse(client_address, f"{MAX_CONNECTIONS} connections open already")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class ResultChannel:
    """Listens on ``bind_host`` at ``port`` (0: a free port); messages arrive in ``inbox``.

    Executors are told ``address``: ``advertised_host`` (default ``bind_host``) and the port.
    ``where`` names the setting that fixed the port, for the error when it cannot be bound."""

    def __init__(self, bind_host: str = "127.0.0.1", advertised_host: str | None = None,
                 port: int = 0, where: str | None = None) -> None:
        try:
            self._server = _Server((bind_host, port))
        except OSError as e:
            raise UserError(
                f"the result channel cannot listen on {bind_host}:{port}: {e.strerror or e}",
                where=where or f"{bind_host}:{port}",
                fix="give a free port the executors can reach (or none, to let bench choose "
                    "one), or stop what uses it") from None
        self._server.inbox = queue.Queue()
        # token of a run -> what hears its messages first and answers its questions
        self._server.referees = {}
        self.address = (advertised_host or bind_host, self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-result-channel", daemon=True
        )

    @property
    def inbox(self) -> queue.Queue:
        return self._server.inbox

    @property
    def referees(self) -> dict[Any, Referee]:
        """Token -> referee: only messages with a token listed here are taken."""
        return self._server.referees

    @property
    def refused(self) -> int:
        """Connections dropped so far: over-long, malformed, silent or of no run served."""
        return self._server.refused

    def __enter__(self) -> ResultChannel:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
