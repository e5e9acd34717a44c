"""A real HTTP server on 127.0.0.1 that serves files and injects faults on request.

Use the ``http_server`` fixture (import it into a conftest.py)::

    url = http_server.add("/a.bin", data, drop_after=1000, drop_times=1)
    ...
    assert http_server.count("/a.bin") == 2
    assert http_server.requests_for("/a.bin")[1].headers["Range"] == "bytes=1000-"

Faults per route (see :class:`Route`): honour or ignore ``Range``; cut the connection after
K body bytes for the first n requests; serve wrong bytes of the right length; answer a status
(404/429/500…) for the first n requests (or always); sleep between chunks. Every request is
logged with its headers. The server listens only on 127.0.0.1, on a random free port, in a
daemon thread, and stops when the fixture ends.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HOST = "127.0.0.1"
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass
class Route:
    """One served path and the faults it injects."""

    data: bytes
    honour_range: bool = True
    drop_after: int | None = None  # cut the connection after this many body bytes …
    drop_times: int = 1  # … for the first n GETs that reach the body
    wrong_bytes: bool = False  # serve the same length with every byte flipped
    status: int | None = None  # answer this status (no body) …
    status_times: int | None = 1  # … for the first n requests; None: always
    retry_after: str | None = None  # Retry-After header sent with ``status``
    delay: float = 0.0  # seconds slept before each chunk
    chunk: int = 16 * 1024
    etag: bool = True
    last_modified: bool = True
    statuses_sent: int = 0
    drops_done: int = 0

    @property
    def etag_value(self) -> str:
        return '"' + hashlib.sha256(self.data).hexdigest()[:16] + '"'


@dataclass
class Logged:
    """A request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class FaultServer:
    """The server; start with ``with FaultServer() as s:`` or use the ``http_server`` fixture."""

    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up and inspection -----------------------------------------------------------

    def add(self, path: str, data: bytes, **faults: object) -> str:
        """Serve ``data`` at ``path`` with the given :class:`Route` faults; return its URL."""
        with self._lock:
            self.routes[path] = Route(data, **faults)  # type: ignore[arg-type]
        return self.url(path)

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def requests_for(self, path: str, method: str = "GET") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.path == path and r.method == method]

    def count(self, path: str, method: str = "GET") -> int:
        """How many ``method`` requests reached ``path``."""
        return len(self.requests_for(path, method))

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> FaultServer:
        httpd = ThreadingHTTPServer((HOST, 0), _Handler)
        httpd.daemon_threads = True
        httpd.fault_server = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------------

    def _begin(
        self, method: str, path: str, headers: dict[str, str]
    ) -> tuple[Logged, Route | None]:
        with self._lock:
            entry = Logged(method, path, headers)
            self.log.append(entry)
            # a query string does not change the file (as with any static server; git's
            # "dumb" HTTP clients probe info/refs?service=... first)
            return entry, self.routes.get(path) or self.routes.get(path.split("?", 1)[0])

    def _take_status(self, route: Route) -> int | None:
        with self._lock:
            if route.status is None:
                return None
            if route.status_times is not None and route.statuses_sent >= route.status_times:
                return None
            route.statuses_sent += 1
            return route.status

    def _take_drop(self, route: Route) -> int | None:
        with self._lock:
            if route.drop_after is None or route.drops_done >= route.drop_times:
                return None
            route.drops_done += 1
            return route.drop_after


def closed_port_url(path: str = "/file.bin") -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    return f"http://{HOST}:{port}{path}"


@pytest.fixture
def http_server() -> Iterator[FaultServer]:
    """A started :class:`FaultServer`, stopped after the test."""
    with FaultServer() as server:
        yield server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a cut is unambiguous

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        pass  # keep test output clean

    def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
        self._serve(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        server: FaultServer = self.server.fault_server  # type: ignore[attr-defined]
        entry, route = server._begin(self.command, self.path, dict(self.headers.items()))
        if route is None:
            return self._status(entry, 404)
        status = server._take_status(route)
        if status is not None:
            return self._status(entry, status, route.retry_after)
        data = bytes(b ^ 0xFF for b in route.data) if route.wrong_bytes else route.data
        start = self._range_start(route)
        entry.status = 206 if start is not None else 200
        self._send_headers(route, data, start)
        if body:
            cut = server._take_drop(route)
            self._send_body(route, data[start or 0 :], cut)

    def _range_start(self, route: Route) -> int | None:
        value = self.headers.get("Range")
        if not value or not route.honour_range or not value.startswith("bytes="):
            return None
        if_range = self.headers.get("If-Range")
        if if_range and if_range not in (route.etag_value, LAST_MODIFIED):
            return None  # the client's copy is of another version: send it all
        first = value[len("bytes=") :].split("-", 1)[0]
        if not first.isdigit() or int(first) >= len(route.data):
            return None
        return int(first)

    def _send_headers(self, route: Route, data: bytes, start: int | None) -> None:
        self.send_response(200 if start is None else 206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - (start or 0)))
        self.send_header("Accept-Ranges", "bytes" if route.honour_range else "none")
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if route.etag:
            self.send_header("ETag", route.etag_value)
        if route.last_modified:
            self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()

    def _send_body(self, route: Route, payload: bytes, cut: int | None) -> None:
        limit = len(payload) if cut is None else min(cut, len(payload))
        try:
            for pos in range(0, limit, route.chunk):
                if route.delay:
                    time.sleep(route.delay)
                self.wfile.write(payload[pos : min(pos + route.chunk, limit)])
            self.wfile.flush()
            if cut is not None:
                self._cut()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing to do

    def _cut(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _status(self, entry: Logged, status: int, retry_after: str | None = None) -> None:
        entry.status = status
        self.send_response(status)
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.send_header("Content-Length", "0")
        self.end_headers()
