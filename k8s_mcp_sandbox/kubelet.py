"""Just enough of a kubelet for `GET pods/{name}/log` to work through a real kube-apiserver.

The sandbox cluster has no kubelet, so the apiserver has nowhere to fetch container logs from.
For a log request the apiserver looks up the pod's node, takes the node's `InternalIP` and
`status.daemonEndpoints.kubeletEndpoint.Port`, and proxies
`GET https://<ip>:<port>/containerLogs/<namespace>/<pod>/<container>?tailLines=..&previous=..`.
This module answers exactly that request, over TLS on 127.0.0.1, with canned lines from a
`LogSource`; the seeded nodes point at it. The apiserver verifies our certificate
(`--kubelet-certificate-authority`), so nothing runs with verification switched off.

Everything else (exec, attach, port-forward, stats) answers 404.
"""

from __future__ import annotations

import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from k8s_mcp_sandbox.process import Service


@dataclass(frozen=True, slots=True)
class LogRequest:
    """One container log request as the apiserver forwards it (kubelet query names)."""

    namespace: str
    pod: str
    container: str
    previous: bool = False


LogSource = Callable[[LogRequest], Sequence[str] | None]
"""Returns the container's log lines (oldest first), or None if there is no such log."""

_LOG_PREFIX = "/containerLogs/"
_LOG_EPOCH = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)


class LogNotFound(LookupError):
    """The log source has no log for this container (mapped to a kubelet-style 404)."""


class FakeKubelet(Service):
    """A TLS server on 127.0.0.1 that serves `/containerLogs/...` from a `LogSource`.

    Runs in a daemon thread of the current process, so it needs no binary and no cleanup
    beyond `stop()` (idempotent; also called by the context manager).
    """

    def __init__(
        self,
        *,
        logs: LogSource,
        cert_file: Path,
        key_file: Path,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._logs = logs
        self._cert_file = cert_file
        self._key_file = key_file
        self._host = host
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests: list[str] = []
        """Paths (with query) served so far, oldest first, and `error: ...` for failed connections;
        lets tests see what the apiserver asked."""

    @property
    def port(self) -> int:
        """The bound port (after `start()`); the seeded nodes advertise it."""
        if self._server is None:
            raise RuntimeError("FakeKubelet is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"https://{self._host}:{self.port}"

    def start(self) -> FakeKubelet:
        if self._server is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._cert_file, self._key_file)
        server = _Server((self._host, self._port), _Handler, kubelet=self)
        # Handshake lazily in the handler thread, so one slow client cannot stall accept().
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-kubelet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def render(self, request: LogRequest, query: dict[str, list[str]]) -> bytes:
        """The response body for one log request, honouring the kubelet's query parameters.

        `tailLines` keeps the last N lines, `limitBytes` truncates, `timestamps=true` prefixes
        each line with a deterministic RFC 3339 time; `follow` ends after the canned lines.
        """
        lines = self._logs(request)
        if lines is None:
            raise LogNotFound(request)
        selected = list(lines)
        tail = _int_param(query, "tailLines")
        if tail is not None:
            selected = selected[-tail:] if tail > 0 else []
        if _bool_param(query, "timestamps"):
            offset = len(lines) - len(selected)
            selected = [f"{_timestamp(offset + i)} {line}" for i, line in enumerate(selected)]
        body = "".join(f"{line}\n" for line in selected).encode()
        limit = _int_param(query, "limitBytes")
        if limit is not None and limit >= 0:
            body = body[:limit]
        return body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        kubelet: FakeKubelet,
    ) -> None:
        self.kubelet = kubelet
        super().__init__(address, handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Keep failed connections (TLS alerts, resets) off stderr; record them instead."""
        error = sys.exc_info()[1]
        self.kubelet._record(f"error: {error!r}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.kubelet._record(self.path)
        parts = urlsplit(self.path)
        if not parts.path.startswith(_LOG_PREFIX):
            self._reply(404, b"404 page not found\n")
            return
        segments = [unquote(s) for s in parts.path[len(_LOG_PREFIX) :].split("/")]
        if len(segments) != 3 or not all(segments):
            self._reply(400, b"expected /containerLogs/{namespace}/{pod}/{container}\n")
            return
        namespace, pod, container = segments
        query = parse_qs(parts.query)
        request = LogRequest(namespace, pod, container, previous=_bool_param(query, "previous"))
        try:
            body = self.server.kubelet.render(request, query)
        except LogNotFound:
            if request.previous:
                message = f'previous terminated container "{container}" in pod "{pod}" not found\n'
                self._reply(400, message.encode())
            else:
                self._reply(404, f'container "{container}" in pod "{pod}" is not available\n'.encode())
            return
        except ValueError as exc:
            self._reply(400, f"{exc}\n".encode())
            return
        self._reply(200, body)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: our stderr may be an MCP stdio channel; `FakeKubelet.requests` records instead."""


def _int_param(query: dict[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        raise ValueError(f"{name}: not an integer: {values[0]!r}") from None


def _bool_param(query: dict[str, list[str]], name: str) -> bool:
    values = query.get(name)
    return values is not None and len(values) > 0 and values[0].lower() in {"1", "true"}


def _timestamp(index: int) -> str:
    """Line `index` of any canned log was written `index` seconds after a fixed epoch."""
    moment = _LOG_EPOCH + timedelta(seconds=index)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")
