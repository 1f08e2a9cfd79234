"""The HTTP/1.1 server of `mlpm serve`: routes, request heads and bodies, limits.

``ModelServer`` is the standard library's ``ThreadingHTTPServer`` behind mlpm's shared
connection limits (``mlpm.httpd.LimitedServer``: connection cap, head and idle deadlines);
``ModelRequestHandler`` routes the REST endpoints (see ``mlpm.serve``), parses request
heads without the email package, reads bodies under a size, rate and concurrency budget,
and writes each response in one write. ``serve`` runs it until SIGINT/SIGTERM.

CORS (``--allow-origin``): with origins allowed, a browser's ``OPTIONS`` preflight of a
route is answered 204 with the ``Access-Control-Allow-*`` headers when its ``Origin`` is
allowed (403 with one sentence when it is not), and every answer to an allowed ``Origin``
carries ``Access-Control-Allow-Origin``. Without, no CORS header is sent and ``OPTIONS``
gets 405 like any other method a route does not take.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote

from mlpm.httpd import MAX_CONNECTIONS, LimitedHandler, LimitedServer
from mlpm.serve.codec import (
    RequestError,
    answer_body,
    decode_json,
    encode_json,
    error_body,
    last_line,
    predict_json,
)

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

    from mlpm.serve.runners import Runner

MAX_BODY = 64 << 20  # bytes; a larger request body gets 413 without being read
IDLE_TIMEOUT = 60.0  # seconds for a whole request head, and for each read or write
MAX_CONCURRENT = 8  # predictions at once; their bodies total at most MAX_BODY bytes
QUEUE_WAIT = 30.0  # seconds a prediction waits for room before it gets 503
MIN_BODY_RATE = 256 << 10  # bytes/s a body must keep up, after IDLE_TIMEOUT's grace

_date = (0, "")
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_MAX_LINE = 65536  # bytes of one header line, as http.client allows
_MAX_HEADERS = 100
CORS_MAX_AGE = 600  # seconds a browser may reuse a preflight's answer
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name
_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str) -> str:
    """An ``--allow-origin`` value as a browser writes it in ``Origin``: ``*``, or
    ``scheme://host[:port]`` in lower case without the scheme's default port; a
    ValueError names the fix.

    >>> parse_origin("HTTPS://App.Example.com:443/")
    'https://app.example.com'
    """
    from urllib.parse import urlsplit

    text = text.strip()
    if text == "*":
        return text
    fix = (f"'{text}' is not an origin; give the page's scheme://host[:port] without a path "
           "(e.g. https://app.example.com or http://localhost:3000), or * for any page")
    try:
        url = urlsplit(text[:-1] if text.endswith("/") else text)
        port = url.port
    except ValueError:
        raise ValueError(fix) from None
    if (not re.fullmatch(r"[a-z][a-z0-9+.-]*", url.scheme.lower()) or not url.hostname
            or url.path or url.query or url.fragment or "@" in url.netloc
            or "," in text or any(c.isspace() for c in text)):
        raise ValueError(fix)
    scheme, host = url.scheme.lower(), url.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    keep = port is not None and _DEFAULT_PORTS.get(scheme) != port
    return f"{scheme}://{host}:{port}" if keep else f"{scheme}://{host}"


class Headers(dict):
    """A request's headers by lower-case name; the first of repeated headers wins (as
    ``email.message.Message.get``, which the stdlib would give, does)."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


def _http_date() -> str:
    """The Date header, formatted once per second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


class ModelRequestHandler(LimitedHandler):
    """The REST endpoints of ``server.runner`` (see the docstring of ``mlpm.serve``)."""

    server_version = "mlpm-serve/1"
    protocol_version = "HTTP/1.1"
    server: ModelServer
    raw_requestline: bytes  # set by the stdlib's handle_one_request, before parse_request

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def parse_request(self) -> bool:
        """The request line and headers, as the stdlib's parse_request reads them but
        without the email package's parser, a tenth of a small request's cost. HTTP/0.9
        is not spoken; a folded (obsolete) header line is refused."""
        self.command = None  # type: ignore[assignment]  # as the stdlib's parse_request does
        self.request_version = self.default_request_version
        self.close_connection = True
        self.requestline = requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if not words:
            return False
        if len(words) != 3 or not words[2].startswith("HTTP/"):
            self.send_error(400, f"Bad request line {requestline[:200]!r}")
            return False
        command, path, version = words
        number = version[5:].split(".")
        if len(number) != 2 or not all(n.isascii() and n.isdigit() and len(n) <= 10
                                       for n in number):
            self.send_error(400, f"Bad request version {version[:50]!r}")
            return False
        if int(number[0]) != 1:
            self.send_error(505, f"HTTP version {version[5:50]} is not supported; use HTTP/1.1")
            return False
        self.command, self.request_version = command, version
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(431, "A header line is longer than 65536 bytes")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, sep, value = str(line, "iso-8859-1").partition(":")
            if not sep or not name or name != name.strip():
                self.send_error(400, f"Bad header line {line[:100]!r}")
                return False
            key = name.lower()
            value = value.strip()
            if key == "content-length" and key in headers and headers[key] != value:
                self.send_error(400, "Conflicting Content-Length headers")
                return False
            headers.setdefault(key, value)
        else:
            self.send_error(431, f"More than {_MAX_HEADERS} headers")
            return False
        # a dict stands in for email.message.Message: handlers use only .get and `in`
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (
            number[1] == "0" and connection != "keep-alive")
        # "100 Continue" is sent only once the body is wanted (see _read_json), so that a
        # request refused on its headers (404, 411, 413) is answered without one
        self.expect_continue = (headers.get("expect", "").lower() == "100-continue"
                                and number[1] != "0")
        self.head_done()
        return True

    def do_GET(self) -> None:  # noqa: N802 (stdlib naming)
        self._handle()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _handle(self) -> None:
        server = self.server
        self._body_read = False
        self._admitted: int | None = None
        server.begin()
        try:
            origin = self.headers.get("Origin")
            self._allowed = server.allowed_origin(origin)
            cors = ""
            if self._allowed:
                cors = f"Access-Control-Allow-Origin: {self._allowed}\r\n"
            if server.allow_origins and "*" not in server.allow_origins:
                cors += "Vary: Origin\r\n"  # the answer depends on the page asking
            try:
                status, body, allow = self._route(server)
            except RequestError as err:
                status, body, allow = err.status, error_body(str(err)), None
            except Exception as err:  # the model failed: answer 500 and keep serving
                status, body, allow = 500, error_body(
                    f"{server.runner.name} failed on this request: {type(err).__name__}: "
                    f"{last_line(err)}"), None
                server.report(err)
            if not self._body_read and (self.headers.get("Content-Length", "0") != "0"
                                        or "Transfer-Encoding" in self.headers):
                # the unread body would read as the next request; drop it after answering
                self.close_connection = self.linger = True
            if server.stopping:
                self.close_connection = True
            if status == 204 and self._allowed:
                cors += self._preflight_headers(allow or "")
            self._send(status, body, allow, cors)
        finally:
            if self._admitted is not None:
                server.release(self._admitted)
            server.end()

    def _route(self, server: ModelServer) -> tuple[int, bytes, str | None]:
        runner = server.runner
        path = self.path.split("?", 1)[0]
        if not (path == "/v1/models" or path.startswith("/v1/models/")):
            raise RequestError(f"no such endpoint {path}; this server answers "
                               f"/v1/models/{runner.name}[/metadata] and "
                               f"/v1/models/{runner.name}:predict.", 404)
        rest = path[len("/v1/models/"):]
        if not rest.strip("/"):
            return self._only("GET", 200, server.models_body)
        verb = None
        head, sep, tail = rest.rpartition(":")
        if sep and "/" not in tail:
            rest, verb = head, tail
        parts = [unquote(p) for p in rest.strip("/").split("/")]
        name, parts = parts[0], parts[1:]
        version = None
        if len(parts) >= 2 and parts[0] == "versions":
            version, parts = parts[1], parts[2:]
        if verb is None and parts == []:
            endpoint, method = "status", "GET"
        elif verb is None and parts == ["metadata"]:
            endpoint, method = "metadata", "GET"
        elif verb == "predict" and parts == []:
            endpoint, method = "predict", "POST"
        else:
            raise RequestError(f"no such endpoint {path}; this server answers "
                               f"/v1/models/{runner.name}[/metadata] and "
                               f"/v1/models/{runner.name}:predict.", 404)
        if self.command != method and not (method == "GET" and self.command == "HEAD"):
            return self._other_method(server, path, method)
        if name != runner.name:
            raise RequestError(f"no model named {name!r} here; this server serves "
                               f"{runner.name!r}.", 404)
        if version is not None and version != runner.version:
            raise RequestError(f"{runner.name} has no version {version!r} here; this server "
                               f"serves version {runner.version}.", 404)
        if endpoint == "status":
            return 200, server.status_body, None
        if endpoint == "metadata":
            return 200, server.metadata_body, None
        request = self._read_json(server)
        return 200, answer_body(runner, predict_json(runner, request)), None

    def _only(self, method: str, status: int, body: bytes):
        if self.command in (method, "HEAD" if method == "GET" else method):
            return status, body, None
        return self._other_method(self.server, self.path, method)

    def _other_method(self, server: ModelServer, path: str,
                      method: str) -> tuple[int, bytes, str | None]:
        """405, or the answer to an OPTIONS (a browser's CORS preflight) when the server
        allows origins: 204 (Allow lists the methods), or 403 for an origin not allowed."""
        allow = "GET, HEAD" if method == "GET" else method
        origin = self.headers.get("Origin")
        if self.command == "OPTIONS" and server.allow_origins:
            if origin is None or self._allowed:
                return 204, b"", f"{allow}, OPTIONS"
            return 403, error_body(
                f"a page on {origin[:200]} may not call this server (it allows "
                f"{', '.join(server.allow_origins)}); restart it with --allow-origin "
                f"{origin[:200]} to let that page call it."), None
        if self.command == "OPTIONS" and origin is not None:
            return HTTPStatus.METHOD_NOT_ALLOWED, error_body(
                f"a page on {origin[:200]} asked to call {path} (a CORS preflight), and this "
                f"server allows no other origin; restart it with --allow-origin "
                f"{origin[:200]}."), allow
        return HTTPStatus.METHOD_NOT_ALLOWED, error_body(
            f"{path} takes {method}, not {self.command}."), allow

    def _preflight_headers(self, allow: str) -> str:
        """What an allowed preflight answers: the route's methods, the request headers
        the page asked for (header names only), and how long the answer holds."""
        asked = [h.strip() for h in self.headers.get("Access-Control-Request-Headers",
                                                     "").split(",") if h.strip()]
        if not asked or not all(_TOKEN.fullmatch(h) for h in asked):
            asked = ["Content-Type"]
        return (f"Access-Control-Allow-Methods: {allow}\r\n"
                f"Access-Control-Allow-Headers: {', '.join(asked)[:4096]}\r\n"
                f"Access-Control-Max-Age: {CORS_MAX_AGE}\r\n")

    def _read_json(self, server: ModelServer) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise RequestError("a POST needs a Content-Length header (chunked bodies are not "
                               "accepted).", 411)
        if not (length.isascii() and length.isdigit()):
            self.close_connection = True
            raise RequestError(f"the Content-Length header {length!r} is not a byte count.")
        size = int(length)
        if size > server.max_body:
            self.close_connection = True
            raise RequestError(f"the request body is {size} bytes, over this server's limit of "
                               f"{server.max_body} bytes; send fewer instances per request.",
                               413)
        if not server.admit(size):
            self.close_connection = True
            raise RequestError(f"the server is busy ({server.max_concurrent} predictions or "
                               f"{server.max_body} bytes of request bodies in progress); "
                               "retry in a moment.", 503)
        self._admitted = size
        if self.expect_continue:
            self.handle_expect_100()
        allowed = server.idle_timeout + size / MIN_BODY_RATE
        self.reader.deadline = time.monotonic() + allowed
        try:
            body = self.rfile.read(size)
        except OSError:  # the deadline passed, or one read waited idle_timeout
            self.close_connection = True
            raise RequestError(f"the request body did not arrive within {allowed:.0f} seconds; "
                               "send it faster or in smaller requests.", 408) from None
        finally:
            self.reader.deadline = None
        self._body_read = True
        if len(body) != size:
            self.close_connection = True
            raise RequestError("the request body ended before its Content-Length.")
        try:
            return decode_json(body.decode(json.detect_encoding(body), "surrogatepass"))
        except RequestError:
            raise
        except (ValueError, RecursionError) as err:  # JSONDecodeError, bad UTF-8, too deep
            raise RequestError(f"the request body is not valid JSON: {err}.") from None

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """The stdlib's own errors (bad request line, unknown method...) as JSON too."""
        self.close_connection = True
        self._send(code, error_body(message or _PHRASES.get(code, "Error")), None)

    def _send(self, status: int, body: bytes, allow: str | None, extra: str = "") -> None:
        """The whole response in one write: status line, headers and body (``extra``:
        more header lines, each ending in CRLF)."""
        status = int(status)
        if self.server.verbose:
            self.log_request(status, len(body))
        head = (f"{self.protocol_version} {status} {_PHRASES.get(status, '')}\r\n"
                f"Server: {self.server_version}\r\nDate: {_http_date()}\r\n")
        if status != 204:  # a 204 has no body, so no Content-Length either (RFC 9110)
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        head += extra
        if allow:
            head += f"Allow: {allow}\r\n"
        if status == 503:
            head += "Retry-After: 1\r\n"
        if self.close_connection:
            head += "Connection: close\r\n"
        elif getattr(self, "request_version", "") == "HTTP/1.0":
            head += "Connection: keep-alive\r\n"
        data = (head + "\r\n").encode("latin-1")
        if getattr(self, "command", None) != "HEAD":
            data += body
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ModelServer(LimitedServer):
    """A threaded HTTP/1.1 server of one ``Runner``; ``url`` is the model's base URL."""

    busy_type = "application/json"
    queue_wait = QUEUE_WAIT
    server_address: tuple[str, int] | tuple[str, int, int, int]  # AF_INET or AF_INET6

    def __init__(self, runner: Runner, host: str = "127.0.0.1", port: int = 0,
                 handler: type[BaseHTTPRequestHandler] = ModelRequestHandler,
                 verbose: bool = False, max_body: int = MAX_BODY, *,
                 max_concurrent: int = MAX_CONCURRENT,
                 max_connections: int = MAX_CONNECTIONS, idle_timeout: float = IDLE_TIMEOUT,
                 allow_origins: tuple[str, ...] = ()):
        import socket

        self.runner = runner
        self.allow_origins = tuple(parse_origin(o) for o in allow_origins)
        self.verbose = verbose
        self.max_body = max_body
        self.max_concurrent = max_concurrent
        self.stopping = False
        self._busy = 0
        self._idle = threading.Condition()
        self._room = threading.Condition()
        self._running = self._inflight = 0  # predictions admitted, and their body bytes
        self.busy_body = error_body(f"the server has {max_connections} connections open, its "
                                     "limit; retry in a moment.")
        # answers that never change, encoded once
        self.models_body = encode_json({"models": [runner.name]}).encode()
        self.status_body = encode_json({"model_version_status": [{
            "version": runner.version, "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""}}]}).encode()
        self.metadata_body = encode_json({
            "model_spec": {"name": runner.name, "signature_name": "",
                           "version": runner.version},
            "metadata": {"signature_def": {"signature_def": runner.signature_def()}}}).encode()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), handler, max_connections=max_connections,
                         idle_timeout=idle_timeout)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/v1/models/{self.runner.name}"

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin answer to a page on ``origin``, or None."""
        if origin is None or not self.allow_origins:
            return None
        if "*" in self.allow_origins:
            return "*"
        return origin if origin in self.allow_origins else None

    def begin(self) -> None:
        with self._idle:
            self._busy += 1

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            if not self._busy:
                self._idle.notify_all()

    def admit(self, size: int) -> bool:
        """Room for one more prediction with a ``size``-byte body (waits up to queue_wait):
        at most ``max_concurrent`` run at once, and their bodies total at most
        ``max_body`` bytes, so memory stays bounded however many clients post at once."""
        with self._room:
            if not self._room.wait_for(
                    lambda: self._running < self.max_concurrent
                    and self._inflight + size <= self.max_body, self.queue_wait):
                return False
            self._running += 1
            self._inflight += size
            return True

    def release(self, size: int) -> None:
        with self._room:
            self._running -= 1
            self._inflight -= size
            self._room.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop taking requests and wait for those in progress to be answered."""
        self.stopping = True
        with self._idle:
            return self._idle.wait_for(lambda: not self._busy, timeout)

    def report(self, err: BaseException) -> None:
        """A model failure goes to stderr even when quiet: it is the server's problem."""
        sys.stderr.write(f"error: {self.runner.name} failed on a request: "
                         f"{type(err).__name__}: {last_line(err)}\n")
        if self.verbose:
            import traceback

            traceback.print_exception(err, file=sys.stderr)
        sys.stderr.flush()


def make_server(runner: Runner, host: str = "127.0.0.1", port: int = 0, *,
                verbose: bool = False, max_body: int = MAX_BODY,
                max_concurrent: int = MAX_CONCURRENT, max_connections: int = MAX_CONNECTIONS,
                idle_timeout: float = IDLE_TIMEOUT,
                allow_origins: tuple[str, ...] = ()) -> ModelServer:
    """A ``ModelServer`` bound to ``host:port`` (0: a free port), not yet serving;
    ``allow_origins`` (``parse_origin`` values) are the pages on other origins that may
    call it (CORS).

    >>> server = make_server(OnnxRunner("m", "1.0.0", Path("m.onnx")))  # doctest: +SKIP
    >>> threading.Thread(target=server.serve_forever, daemon=True).start()  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:39211/v1/models/m'
    """
    return ModelServer(runner, host, port, verbose=verbose, max_body=max_body,
                       max_concurrent=max_concurrent, max_connections=max_connections,
                       idle_timeout=idle_timeout, allow_origins=allow_origins)


def _env_count(name: str, default: int) -> int:
    import os

    from mlpm.errors import UsageError

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and int(text) > 0):
        raise UsageError(f"{name}={text!r} is not a positive whole number; set it to a number "
                         f"such as {default} or unset it.")
    return int(text)


def serve(runner: Runner, host: str, port: int, *, verbose: bool = False,
          allow_origins: tuple[str, ...] = ()) -> None:
    """Serve ``runner`` until SIGINT or SIGTERM, then answer the requests in progress and
    return (so the process exits 0). ``allow_origins``: pages on other origins that may
    call it (CORS; ``*`` for any).

    >>> serve(OnnxRunner("m", "1.0.0", Path("m.onnx")), "127.0.0.1", 8501)  # doctest: +SKIP
    Serving m@1.0.0 at http://127.0.0.1:8501/v1/models/m (Ctrl-C to stop)
    """
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    from mlpm.fetch import env_bytes

    server = make_server(runner, host, port, verbose=verbose,
                         max_body=env_bytes("MLPM_SERVE_MAX_BODY", MAX_BODY),
                         max_concurrent=_env_count("MLPM_SERVE_MAX_CONCURRENT", MAX_CONCURRENT),
                         max_connections=_env_count("MLPM_SERVE_MAX_CONNECTIONS",
                                                    MAX_CONNECTIONS),
                         allow_origins=allow_origins)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        print(f"Serving {runner.name}@{runner.version} at {server.url} (Ctrl-C to stop)",
              flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        try:
            server.drain()
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
            pass
        if main:
            signal.signal(signal.SIGTERM, previous)
        sys.stdout.flush()

