"""`StubHttpServer`: a real loopback HTTP server with a programmable handler, for what respx cannot
fake (real timeouts, the urllib3 stack of the kubernetes client)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# --------------------------------------------------------------------------------------------
# A real loopback HTTP server with a programmable answer
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    trickle: float = 0.0
    """Seconds between the body's bytes: sent one at a time, each in time for a per-read timeout."""


@dataclass
class StubHttpServer:
    """Answers every request with `reply(method, path)`; records the paths it saw.

    A delayed or trickled reply waits on an event that `stop` sets, so no handler thread outlives
    a test.
    """

    reply: Callable[[str, str], Reply]
    requests: list[tuple[str, str]] = field(default_factory=list)
    _release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> StubHttpServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                stub.requests.append((self.command, self.path))
                reply = stub.reply(self.command, self.path)
                if reply.delay:
                    stub._release.wait(reply.delay)
                payload = json.dumps(reply.body).encode()
                with contextlib.suppress(ConnectionError):  # the client may have given up
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if not reply.trickle:
                        self.wfile.write(payload)
                    for index in range(len(payload) if reply.trickle else 0):
                        self.wfile.write(payload[index : index + 1])
                        if stub._release.wait(reply.trickle):
                            break

            do_GET = do_POST = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="stub-http", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
