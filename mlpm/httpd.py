"""Limits shared by mlpm's two HTTP servers, `mlpm serve` and `mlpm registry serve`.

Each connection has a thread, so what a client can hold is bounded here
(docs/security.md#limits):

- at most ``max_connections`` open connections; one more is answered 503 and closed at
  once (clients retry; mlpm's own client does, with backoff);
- a request head (request line and headers) must arrive within ``idle_timeout`` seconds of
  the connection opening or of the previous response: a client that sends nothing, or a
  slowloris that trickles a header line every few seconds, is dropped;
- a request head is at most 128 KiB (``MAX_HEAD``, read-ahead included), else 431 and
  the connection is closed: the stdlib alone allows 100 lines of 64 KiB each;
- every socket read or write waits at most ``idle_timeout`` seconds;
- after an answer given without reading the request's body, the rest of it is read and
  dropped for at most LINGER seconds, so that the client gets the answer, not a reset;
- responses go out without Nagle's delay (TCP_NODELAY): with keep-alive, a response written
  in two parts (headers, then a sendfile body) would otherwise stall ~40 ms on the client's
  delayed ACK;
- the listen backlog is BACKLOG, so that a burst of parallel clients (mlpm fetches index
  files 8 at a time) waits in the kernel's queue instead of being refused.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDLE_TIMEOUT = 30.0  # seconds
MAX_CONNECTIONS = 128
BACKLOG = 128
MAX_REFUSED = 64  # refused sockets waiting a second to be closed
MAX_HEAD = 128 << 10  # bytes of request line and headers, as read from the socket
LINGER = 2.0  # seconds to read and drop an unread body after answering (see LimitedHandler)


class HeadTooLarge(Exception):
    """The request line and headers passed MAX_HEAD."""


class _DeadlineReader(socket.SocketIO):
    """A socket's reading side that refuses to read past ``deadline`` (monotonic seconds),
    or more than ``head_budget`` bytes (while a request head is read).

    The deadline is checked between reads, so a client is dropped at most one read timeout
    after it, without a system call per read to move the socket's timeout."""

    deadline: float | None = None
    head_budget: int | None = None

    def __init__(self, sock: socket.socket):
        super().__init__(sock, "rb")
        # as socket.makefile does: the socket closes after its files (a private counter)
        sock._io_refs += 1  # type: ignore[attr-defined]

    def readinto(self, b) -> int | None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeoutError("the request did not arrive in time")
        n = super().readinto(b)
        if self.head_budget is not None and n:
            self.head_budget -= n
            if self.head_budget < 0:
                raise HeadTooLarge
        return n


class LimitedHandler(BaseHTTPRequestHandler):
    """A request handler whose request heads must arrive within ``server.idle_timeout``.

    A handler that answers without reading a request's body sets ``linger``: closing a
    socket with unread bytes sends a TCP reset, which can destroy the answer before the
    client reads it. The connection is then half-closed after the answer, and what the
    client still sends is read and dropped, for at most LINGER seconds (as nginx's
    lingering_close)."""

    disable_nagle_algorithm = True
    linger = False
    server: LimitedServer

    def setup(self) -> None:
        # StreamRequestHandler applies it per read; the stubs declare it class-wide only
        self.timeout = self.server.idle_timeout  # type: ignore[misc]
        super().setup()
        self.rfile.close()
        self.reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        self.reader.deadline = time.monotonic() + self.server.idle_timeout
        self.reader.head_budget = MAX_HEAD
        try:
            super().handle_one_request()
        except HeadTooLarge:
            self.close_connection = self.linger = True
            try:
                self.wfile.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                 b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass

    def finish(self) -> None:
        super().finish()
        if not self.linger:
            return
        sock = self.connection
        try:
            sock.shutdown(socket.SHUT_WR)
            end = time.monotonic() + LINGER
            while (left := end - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(65536):
                    break
        except OSError:  # the client is gone, or LINGER passed
            pass

    def head_done(self) -> None:
        """The request head is in: no deadline until the next one (or a body's own)."""
        self.reader.deadline = None
        self.reader.head_budget = None


class LimitedServer(ThreadingHTTPServer):
    """A threaded HTTP server with a bounded number of connections (see the module doc)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = BACKLOG
    busy_body = b"503 Service Unavailable: too many connections; retry shortly\n"
    busy_type = "text/plain; charset=utf-8"

    def __init__(self, address, handler, *, max_connections: int = MAX_CONNECTIONS,
                 idle_timeout: float = IDLE_TIMEOUT):
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.open_connections = 0
        self._count = threading.Lock()
        self._refused: deque[tuple[float, socket.socket]] = deque()
        super().__init__(address, handler)

    def process_request(self, request, client_address) -> None:
        with self._count:
            full = self.open_connections >= self.max_connections
            if not full:
                self.open_connections += 1
        if full:
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # no thread started: give the slot back
            self._release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._count:
            self.open_connections -= 1

    def _refuse(self, sock: socket.socket) -> None:
        """503 from the accepting thread: one non-blocking send, never a wait. The socket
        is closed a second later (by ``service_actions``), once the request it carries has
        arrived and been discarded: closing it with unread bytes would send a reset, and
        the client would lose the 503."""
        head = (f"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                f"Content-Type: {self.busy_type}\r\nContent-Length: {len(self.busy_body)}\r\n"
                "Connection: close\r\n\r\n").encode("latin-1")
        try:
            sock.setblocking(False)
            sock.send(head + self.busy_body)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._refused.append((time.monotonic() + 1.0, sock))
        while len(self._refused) > MAX_REFUSED:
            _discard(self._refused.popleft()[1])

    def service_actions(self) -> None:
        super().service_actions()
        now = time.monotonic()
        while self._refused and self._refused[0][0] <= now:
            _discard(self._refused.popleft()[1])

    def server_close(self) -> None:
        super().server_close()
        while self._refused:
            _discard(self._refused.popleft()[1])


def _discard(sock: socket.socket) -> None:
    """Read what arrived (bounded) and close."""
    try:
        for _ in range(16):
            if not sock.recv(65536):
                break
    except OSError:  # nothing more to read now
        pass
    sock.close()
