"""`mlpm registry serve`: a registry directory over HTTP, with ETag and Range support.

A registry is static files, so any HTTP server, CDN or object store can serve it;
this one is the zero-setup option. It answers GET and HEAD, revalidates with
ETag / If-None-Match (304) and resumes with Range (206); artifacts are sent as immutable
(``Cache-Control``), index files with a ``max-age`` only when asked. Connections are bounded as
mlpm.httpd describes: at most 128 open, each dropped after 30 s without a whole request
head (docs/security.md#limits).
"""

from __future__ import annotations

import posixpath
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlpm.httpd import IDLE_TIMEOUT, MAX_CONNECTIONS, LimitedHandler, LimitedServer
from mlpm.registry.layout import artifact_sha256, is_text_rel


class RegistryRequestHandler(LimitedHandler):
    """Serve files below ``server.root``; nothing outside it, no directory listings."""

    server_version = "mlpm-registry/1"
    protocol_version = "HTTP/1.1"
    server: RegistryServer

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.head_done()
        return ok

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        if getattr(self.server, "verbose", False):
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _resolve(self) -> Path | None:
        rel = posixpath.normpath(unquote(urlsplit(self.path).path)).lstrip("/")
        if rel in ("", ".") or rel.startswith("..") or "\x00" in rel:
            return None
        root: Path = self.server.root
        path = (root / rel).resolve()
        if root not in path.parents or not path.is_file():
            return None
        return path

    def do_HEAD(self) -> None:  # noqa: N802 (stdlib naming)
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _error(self, status: HTTPStatus) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        path = self._resolve()
        if path is None:
            self._error(HTTPStatus.NOT_FOUND)
            return
        st = path.stat()
        size = st.st_size
        etag = f'"{st.st_mtime_ns:x}-{size:x}"'
        rel = path.relative_to(self.server.root).as_posix()
        cache_control = self.server.cache_control(rel)
        if self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            if cache_control:
                self.send_header("Cache-Control", cache_control)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start, end = 0, size - 1
        status = HTTPStatus.OK
        wanted = _parse_range(self.headers.get("Range"), size)
        if wanted == "unsatisfiable":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if wanted is not None:
            start, end = wanted
            status = HTTPStatus.PARTIAL_CONTENT
        length = end - start + 1
        self.send_response(status)
        text = is_text_rel(rel)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if text
                         else "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag)
        if cache_control:
            self.send_header("Cache-Control", cache_control)
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head or not length:  # sendfile refuses a count of 0 (an empty file)
            return
        with open(path, "rb") as fh:
            try:
                # zero-copy os.sendfile where it exists; each wait bounded by the idle timeout
                self.wfile.flush()
                self.connection.sendfile(fh, start, length)
            except OSError:  # the client went away or stopped reading
                self.close_connection = True


def _parse_range(header: str | None, size: int):
    """One ``bytes=A-B`` range as (start, end); None to send everything (absent, several
    ranges or unparsable: RFC 9110 lets a server ignore Range); "unsatisfiable" for 416."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, sep, last = header[6:].strip().partition("-")
    if not sep or not (first or last) or any(p and not p.isdigit() for p in (first, last)):
        return None
    if not first:  # a suffix: the last N bytes
        n = int(last)
        return (max(0, size - n), size - 1) if n > 0 and size else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end


class RegistryServer(LimitedServer):
    server_address: tuple[str, int]  # AF_INET's (host, port)

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 0,
                 handler: type[BaseHTTPRequestHandler] = RegistryRequestHandler,
                 verbose: bool = False, *, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int = MAX_CONNECTIONS, index_max_age: int | None = None):
        self.root = Path(root).resolve()
        self.verbose = verbose
        self.index_max_age = index_max_age
        super().__init__((host, port), handler, idle_timeout=idle_timeout,
                         max_connections=max_connections)

    def cache_control(self, rel: str) -> str | None:
        """The Cache-Control header for the file at ``rel``: artifacts are content-addressed,
        so they never change; index files change on publish and yank, so they get a
        ``max-age`` only when one was asked for (``index_max_age``), else none and each
        client's MLPM_INDEX_TTL decides
        (docs/reference/registry-index.md#caching-and-freshness)."""
        if artifact_sha256(rel) is not None:
            return "public, max-age=31536000, immutable"
        if self.index_max_age is not None and is_text_rel(rel):
            return f"max-age={self.index_max_age}"
        return None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def serve(root: Path, host: str, port: int, verbose: bool = True) -> None:
    """Serve until interrupted (SIGINT / SIGTERM end it cleanly)."""
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    server = RegistryServer(root, host, port, verbose=verbose)
    signal.signal(signal.SIGTERM, stop)
    print(f"Serving the registry {root} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()
