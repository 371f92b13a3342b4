"""A local JSON API server for connector tests, with fault injection.

`FakeApiServer` runs a `ThreadingHTTPServer` on 127.0.0.1 (port 0: the OS picks a free one) speaking
HTTP/1.1 with keep-alive. Subclasses implement `handle(method, path, params, form)`. Faults are
matched per request (path suffix + query parameters) and fire a bounded number of times:

- `status`   answer with an HTTP status (e.g. 429 with Retry-After, 500, 503)
- `timeout`  stall longer than the client's read timeout before answering
- `truncate` a 200 whose JSON body is cut in half (Content-Length matches the cut body)
- `mutate`   run a callback that changes the data, then serve the request from the changed data
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Params = dict[str, list[str]]


@dataclass
class Fault:
    kind: Literal["status", "timeout", "truncate", "mutate"]
    path_suffix: str
    params: dict[str, str] = field(default_factory=dict)  # query values the request must carry
    times: int = 1
    status: int = 500
    retry_after: str | None = None
    delay: float = 0.0
    action: Callable[[], None] | None = None
    fired: int = 0

    def matches(self, path: str, params: Params) -> bool:
        if self.fired >= self.times or not path.endswith(self.path_suffix):
            return False
        return all(params.get(k, [None])[0] == v for k, v in self.params.items())


class HttpError(Exception):
    def __init__(self, status: int, payload: object) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload


class FakeApiServer:
    """Base class: serves `handle()` results as JSON; counts requests and TCP connections."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.requests = 0
        self.connections = 0
        self.log: list[tuple[str, str, Params, int]] = []  # (method, path, params, status)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- to implement ------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Params, form: Params) -> object:
        raise NotImplementedError

    def authorized(self, path: str, headers: Any) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}"

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeApiServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_fault(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def requests_to(self, path_suffix: str) -> list[Params]:
        return [params for _, path, params, _ in self.log if path.endswith(path_suffix)]

    def _take_fault(self, path: str, params: Params) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(path, params):
                    fault.fired += 1
                    return fault
        return None


def _handler_class(app: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with app.lock:
                app.connections += 1

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            params = parse_qs(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode()) if length else {}
            with app.lock:
                app.requests += 1
            if parts.path == "/_stats":  # counters for benchmarks running the server in another process
                self._send(200, {"requests": app.requests, "connections": app.connections}, {})
                return
            fault = app._take_fault(parts.path, params)
            extra_headers: dict[str, str] = {}
            if fault and fault.kind == "timeout":
                time.sleep(fault.delay)
            if fault and fault.kind == "mutate" and fault.action:
                fault.action()
            if fault and fault.kind == "status":
                status, payload = fault.status, {"status": fault.status, "error": "injected fault"}
                if fault.retry_after is not None:
                    extra_headers["Retry-After"] = fault.retry_after
            elif not app.authorized(parts.path, self.headers):
                status, payload = 401, {"status": 401, "error": "Unauthorized"}
            else:
                try:
                    status, payload = 200, app.handle(method, parts.path, params, form)
                except HttpError as exc:
                    status, payload = exc.status, exc.payload
            body = json.dumps(payload, separators=(",", ":")).encode()
            if fault and fault.kind == "truncate":
                body = body[: len(body) // 2]
            with app.lock:
                app.log.append((method, parts.path, params, status))
            self._send(status, body, extra_headers)

        def _send(self, status: int, body: bytes | object, extra_headers: dict[str, str]) -> None:
            if not isinstance(body, bytes):
                body = json.dumps(body, separators=(",", ":")).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout fault)
                self.close_connection = True

    return Handler


def paginate(items: list[Any], params: Params, *, default_per_page: int = 100) -> tuple[list[Any], dict[str, Any]]:
    """Lago-style page/per_page slicing and its `meta` block."""
    page = max(1, int(params.get("page", ["1"])[0] or 1))
    per_page = max(1, int(params.get("per_page", [str(default_per_page)])[0] or default_per_page))
    total = len(items)
    total_pages = max(1, -(-total // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < total_pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": total_pages,
        "total_count": total,
    }
    return chunk, meta
