"""HTTP plumbing: a threaded stdlib server on 127.0.0.1 feeding an ``ApiDispatcher``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .api import HttpReply, HttpRequest

App = Callable[[HttpRequest], HttpReply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Tests open many short connections; the default backlog of 5 can refuse some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._serve("POST")

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def _serve(self, verb: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        target = urlsplit(self.path)
        reply = self.server.app(HttpRequest(verb, target.path, target.query, self.headers, body))
        if reply.drop:
            # Say nothing and hang up: the client sees the connection close mid-request.
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The caller went away (killed mid-call): Slack acted on the call and nobody hears it.
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the call log (SlackDouble.calls) is the record; stderr noise helps nobody


class DoubleServer:
    """Runs ``app`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Slack double is not started; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = _Server(self._address, self._app)
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="slack-double", daemon=True)
            thread.start()
            self._server, self._thread = server, thread

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
