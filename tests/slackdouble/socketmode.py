"""Slack's end of Socket Mode: a ws:// server the app connects to (apps.connections.open names it),
which hands the app envelopes and reads its acks.

Standard library only, like the rest of the double: the WebSocket protocol (RFC 6455) is small
for a server that talks to one local client: the opening handshake, text frames (the client's
are masked), ping and pong, close. Slack's envelope: `{"envelope_id", "type": "slash_commands" |
"interactive" | "events_api", "payload", "accepts_response_payload"}`; the app acks with
`{"envelope_id"}` and, for what accepts one, a `payload` (a slash command's immediate reply).
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import uuid
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


class SocketModeServer:
    """One app's Socket Mode connection; a new connection (a reconnect) replaces the last one."""

    def __init__(self, *, app_id: str, host: str = "127.0.0.1") -> None:
        self._app_id = app_id
        self._listener = socket.create_server((host, 0))
        port = self._listener.getsockname()[1]
        self.url = f"ws://{host}:{port}/link/?ticket={uuid.uuid4()}&app_id={app_id}"
        self._lock = threading.Condition()
        self._connection: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._acks: dict[str, dict[str, Any]] = {}
        self.connections = 0
        self.unexpected: list[str] = []  # anything the app sent that Slack would not expect
        self._stopping = False
        self._accepting = threading.Thread(target=self._accept, name="socket-mode-accept", daemon=True)
        self._accepting.start()

    # -- what a test does -----------------------------------------------------------------------

    def wait_connected(self, timeout: float = 30.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._connection is not None, timeout=timeout):
                raise TimeoutError("the app did not connect over Socket Mode")

    def send(self, envelope_type: str, payload: dict[str, Any], *, accepts_response_payload: bool,
             retry_attempt: int = 0, retry_reason: str = "") -> str:
        """Hand the app one envelope; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                    "accepts_response_payload": accepts_response_payload}
        if envelope_type == "events_api":
            envelope.update({"retry_attempt": retry_attempt, "retry_reason": retry_reason})
        self._send_text(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float) -> dict[str, Any] | None:
        """The app's ack of an envelope, or None if none came within `timeout` seconds."""
        with self._lock:
            self._lock.wait_for(lambda: envelope_id in self._acks, timeout=timeout)
            return self._acks.get(envelope_id)

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            try:
                self._frame(connection, _CLOSE, struct.pack("!H", 1001))
            except OSError:
                pass
            connection.close()
        self._listener.close()

    # -- the protocol -----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), name="socket-mode-connection",
                             daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        reader = connection.makefile("rb")
        try:
            if not self._handshake(connection, reader):
                connection.close()
                return
            with self._lock:
                self._connection = connection
                self.connections += 1
                self._lock.notify_all()
            self._send_text(json.dumps({"type": "hello", "num_connections": 1,
                                        "connection_info": {"app_id": self._app_id},
                                        "debug_info": {"host": "slackdouble", "approximate_connection_time": 3600}}))
            while True:
                opcode, data = self._read_frame(reader)
                if opcode == _TEXT:
                    self._received(data.decode("utf-8"))
                elif opcode == _PING:
                    self._frame(connection, _PONG, data)
                elif opcode == _CLOSE:
                    self._frame(connection, _CLOSE, data[:2])
                    return
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            with self._lock:
                if self._connection is connection:
                    self._connection = None
            connection.close()

    @staticmethod
    def _handshake(connection: socket.socket, reader: Any) -> bool:
        request_line = reader.readline().decode("latin-1")
        headers: dict[str, str] = {}
        while (line := reader.readline().decode("latin-1").strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not request_line.startswith("GET ") or headers.get("upgrade", "").lower() != "websocket" or not key:
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return False
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324 - RFC 6455
        connection.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        return True

    @staticmethod
    def _read_frame(reader: Any) -> tuple[int, bytes]:
        """One whole message (continuation frames joined); a client's frames must be masked."""
        opcode, message = None, b""
        while True:
            head = reader.read(2)
            if len(head) < 2:
                raise ConnectionError("closed")
            final, frame_opcode = head[0] & 0x80, head[0] & 0x0F
            masked, length = head[1] & 0x80, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            if not masked:
                raise ValueError("a client's frames are masked")
            mask = reader.read(4)
            data = bytes(b ^ mask[n % 4] for n, b in enumerate(reader.read(length)))
            if frame_opcode >= 0x8:  # control frames come whole, even between fragments
                return frame_opcode, data
            opcode = frame_opcode if opcode is None else opcode
            message += data
            if final:
                return opcode, message

    def _frame(self, connection: socket.socket, opcode: int, data: bytes) -> None:
        length = len(data)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        with self._send_lock:
            connection.sendall(head + data)

    def _send_text(self, text: str) -> None:
        with self._lock:
            connection = self._connection
        if connection is None:
            raise ConnectionError("the app is not connected over Socket Mode")
        self._frame(connection, _TEXT, text.encode("utf-8"))

    def _received(self, text: str) -> None:
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            self.unexpected.append(text)
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not isinstance(envelope_id, str):
            self.unexpected.append(text)
            return
        with self._lock:
            if envelope_id in self._acks:
                self.unexpected.append(f"a second ack of {envelope_id}")
            self._acks[envelope_id] = message
            self._lock.notify_all()
