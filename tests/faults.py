"""Fault injection for the reliability tests: a misbehaving registry server on loopback,
and a pre-imported "zygote" process that forks real mlpm runs cheap enough to SIGKILL
hundreds of times.

``FaultServer`` serves a registry folder as ``mlpm registry serve`` does (GET/HEAD,
ETag, one-range Range requests) and applies a plan of faults to the requests that match:

    server.add("/artifacts/", "status", times=2, code=500)   # two 500s, then normal
    server.add("/index/", "status", code=429, retry_after="2")
    server.add("/artifacts/", "reset")                        # every time: TCP RST
    server.add("/artifacts/", "truncate", keep=0.5)           # half the body, then close
    server.add("/artifacts/", "stall", seconds=5)             # headers, a little, silence
    server.add("/artifacts/", "trickle", every=0.1, step=10)  # 10 bytes each 0.1 s, forever
    server.add("/artifacts/", "content_length", delta=+100)   # claims more than it sends
    server.add("/artifacts/", "content_length", delta=-100)   # claims less
    server.add("/artifacts/", "wrong_content")                # same length, other bytes
    server.add("/artifacts/", "ignore_range")                 # 200 with everything
    server.forbid = True                                      # any connection is a failure

Every request lands in ``server.log`` (method, path, headers, status, fault, time);
``server.connections`` counts accepted TCP connections, so "no network at all" can be
asserted below HTTP. ``rate`` throttles every body (bytes per second) so that a kill
lands mid-download.
"""

from __future__ import annotations

import json
import os
import posixpath
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mlpm.registry.server import _parse_range

KINDS = ("status", "reset", "stall", "trickle", "truncate", "content_length",
         "wrong_content", "ignore_range")


@dataclass
class Fault:
    prefix: str
    kind: str
    times: int | None  # None: every matching request
    params: dict


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    at: float
    status: int | None = None
    fault: str | None = None
    sent: int = 0  # body bytes written


class FaultHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer

    def log_message(self, format, *args):  # noqa: A002 (stdlib signature)
        pass

    def do_GET(self):  # noqa: N802 (stdlib naming)
        self._handle(head=False)

    def do_HEAD(self):  # noqa: N802
        self._handle(head=True)

    # -- plumbing ------------------------------------------------------------------------

    def _record(self) -> Request:
        req = Request(self.command, self.path, dict(self.headers), time.monotonic())
        with self.server.mutex:
            self.server.log.append(req)
        return req

    def _file(self) -> Path | None:
        rel = posixpath.normpath(unquote(urlsplit(self.path).path)).lstrip("/")
        if rel in ("", ".") or rel.startswith(".."):
            return None
        path = (self.server.root / rel).resolve()
        if self.server.root not in path.parents or not path.is_file():
            return None
        return path

    def _head(self, status: int, headers: dict[str, str], req: Request) -> None:
        req.status = status
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def _body(self, data: bytes, req: Request) -> None:
        rate = self.server.rate
        step = 16384 if rate else len(data) or 1
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            self.wfile.write(chunk)
            self.wfile.flush()
            req.sent += len(chunk)
            if rate:
                if self.server.stop.wait(len(chunk) / rate):
                    return

    def _close_now(self, rst: bool) -> None:
        self.close_connection = True
        if rst:  # SO_LINGER 0: close() sends a TCP reset instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        try:
            self.wfile.flush()
        except OSError:
            pass
        self.connection.close()

    # -- one request ---------------------------------------------------------------------

    def _handle(self, head: bool) -> None:
        req = self._record()
        fault = self.server.take(self.path)
        if self.server.forbid:
            req.fault = "forbidden"
            self._close_now(rst=True)
            return
        if fault is not None:
            req.fault = fault.kind
        path = self._file()
        if fault is not None and fault.kind == "status":
            body = f"{fault.params.get('code', 500)} injected\n".encode()
            headers = {"Content-Length": str(len(body)), "Content-Type": "text/plain"}
            if fault.params.get("retry_after") is not None:
                headers["Retry-After"] = str(fault.params["retry_after"])
            self._head(int(fault.params.get("code", 500)), headers, req)
            if not head:
                self._body(body, req)
            return
        if fault is not None and fault.kind == "reset":
            self._close_now(rst=True)
            return
        if path is None:
            body = b"404 Not Found\n"
            self._head(404, {"Content-Length": str(len(body))}, req)
            if not head:
                self._body(body, req)
            return
        data = path.read_bytes()
        size = len(data)
        st = path.stat()
        etag = f'"{st.st_mtime_ns:x}-{size:x}"'
        if self.headers.get("If-None-Match") == etag and fault is None:
            self._head(304, {"ETag": etag, "Content-Length": "0"}, req)
            return
        start, end, status = 0, size - 1, 200
        wanted = _parse_range(self.headers.get("Range"), size)
        if fault is not None and fault.kind == "ignore_range":
            wanted = None
        if wanted == "unsatisfiable":
            self._head(416, {"Content-Range": f"bytes */{size}", "Content-Length": "0"}, req)
            return
        if wanted is not None:
            start, end = wanted
            status = 206
        body = data[start:end + 1]
        if fault is not None and fault.kind == "wrong_content":
            body = bytes(b ^ 0x5A for b in body)
        length = len(body)
        if fault is not None and fault.kind == "content_length":
            length = max(0, length + int(fault.params.get("delta", 100)))
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length),
                   "ETag": etag, "Accept-Ranges": "bytes"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._head(status, headers, req)
        if head:
            return
        try:
            if fault is None or fault.kind in ("wrong_content", "ignore_range"):
                self._body(body, req)
            elif fault.kind == "truncate":
                keep = fault.params.get("keep", 0.5)
                n = int(len(body) * keep) if isinstance(keep, float) else int(keep)
                self._body(body[:n], req)
                self._close_now(rst=False)
            elif fault.kind == "stall":
                self._body(body[: int(fault.params.get("after", 1024))], req)
                self.server.stop.wait(float(fault.params.get("seconds", 30)))
                self._close_now(rst=False)
            elif fault.kind == "trickle":  # never silent long enough for a read timeout
                every = float(fault.params.get("every", 0.1))
                step = int(fault.params.get("step", 10))
                for i in range(0, len(body), step):
                    self._body(body[i:i + step], req)
                    if self.server.stop.wait(every):
                        break
                self._close_now(rst=False)
            elif fault.kind == "content_length":
                self._body(body[:length], req)  # at most what it claims, then hang up
                self._close_now(rst=False)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class FaultServer(ThreadingHTTPServer):
    """A registry folder served on 127.0.0.1 with faults injected by plan."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, rate: float | None = None):
        self.root = Path(root).resolve()
        self.rate = rate
        self.plan: list[Fault] = []
        self.log: list[Request] = []
        self.connections = 0
        self.errors = 0
        self.forbid = False
        self.mutex = threading.Lock()
        self.stop = threading.Event()
        super().__init__(("127.0.0.1", 0), FaultHandler)
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def add(self, prefix: str, kind: str, times: int | None = None, **params) -> FaultServer:
        assert kind in KINDS, kind
        with self.mutex:
            self.plan.append(Fault(prefix, kind, times, params))
        return self

    def clear(self) -> None:
        with self.mutex:
            self.plan.clear()
            self.log.clear()
            self.connections = 0

    def take(self, path: str) -> Fault | None:
        with self.mutex:
            for fault in self.plan:
                if path.startswith(fault.prefix) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-request is part of these tests: no traceback on stderr
        (in-process runs capture stderr, and it would read as mlpm's output)."""
        with self.mutex:
            self.errors += 1

    def verify_request(self, request, client_address) -> bool:
        with self.mutex:
            self.connections += 1
        return True

    def requests(self, prefix: str = "") -> list[Request]:
        with self.mutex:
            return [r for r in self.log if r.path.startswith(prefix)]

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


# -- cheap real processes to kill ----------------------------------------------------------

_ZYGOTE = r"""
import json, os, sys
import mlpm.cli, mlpm.cli.commands, mlpm.ops.install, mlpm.ops.remove, mlpm.resolve
import mlpm.fetch, mlpm.project, mlpm.store, requests, tomlkit, tomli_w, filelock, resolvelib
import click
for name in sys.argv[1:]:
    __import__(name)
out = sys.stdout
for line in sys.stdin:
    job = json.loads(line)
    if job["op"] == "wait":
        _, status = os.waitpid(job["pid"], 0)
        out.write(json.dumps({"status": status}) + "\n"); out.flush()
        continue
    if job["op"] == "inline":  # run here, unforked: warms caches the children inherit
        os.chdir(job["cwd"])
        saved = sys.stdout, sys.stderr
        with open(job["log"], "w") as log:
            sys.stdout = sys.stderr = log
            try:
                code = mlpm.cli.main(job["args"])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdout, sys.stderr = saved
        out.write(json.dumps({"code": code}) + "\n"); out.flush()
        continue
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(job["cwd"])
            os.environ.update(job["env"])
            fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1); os.dup2(fd, 2)
            sys.stdout = open(1, "w", closefd=False); sys.stderr = open(2, "w", closefd=False)
            code = mlpm.cli.main(job["args"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            code = 99
        try:
            sys.stdout.flush(); sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code if isinstance(code, int) else 1)
    out.write(json.dumps({"pid": pid}) + "\n"); out.flush()
"""


class Zygote:
    """A Python process that has imported mlpm and forks one child per mlpm command.

    A child is a real process running ``mlpm.cli.main``, as ``python -m mlpm`` would after
    its imports; killing it at a random delay therefore lands in mlpm's own work (resolve,
    fetch, write), not in the interpreter's start-up.
    """

    def __init__(self, env: dict[str, str], preload: tuple[str, ...] = ()):
        self.proc = subprocess.Popen([sys.executable, "-c", _ZYGOTE, *preload],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=env, cwd=str(Path(__file__).resolve().parents[1]))

    def _ask(self, job: dict) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], 120)
        assert ready, "the zygote stopped answering"
        return json.loads(self.proc.stdout.readline())

    def start(self, args: list[str], cwd: Path, log: Path,
              env: dict[str, str] | None = None) -> int:
        return self._ask({"op": "run", "args": args, "cwd": str(cwd), "log": str(log),
                          "env": env or {}})["pid"]

    def inline(self, args: list[str], cwd: Path, log: Path) -> int:
        """Run one command inside the zygote itself (e.g. to warm torch up before forking)."""
        return self._ask({"op": "inline", "args": args, "cwd": str(cwd), "log": str(log)})["code"]

    def wait(self, pid: int) -> int:
        """The child's exit code; -9 when it was killed by SIGKILL."""
        status = self._ask({"op": "wait", "pid": pid})["status"]
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def run(self, args: list[str], cwd: Path, log: Path) -> tuple[int, float]:
        t0 = time.monotonic()
        pid = self.start(args, cwd, log)
        code = self.wait(pid)
        return code, time.monotonic() - t0

    def kill_after(self, args: list[str], cwd: Path, log: Path, delay: float) -> int:
        pid = self.start(args, cwd, log)
        time.sleep(delay)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.wait(pid)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


# -- the CLI in this process ------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    out: str
    err: str
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


def run_cli(args: list[str], cwd: Path) -> Outcome:
    """``mlpm ARGS`` in this process (so a test may patch fetch's timing constants)."""
    import contextlib
    import io

    from mlpm.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    t0 = time.monotonic()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # `cache verify` exits 1 through sys.exit
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(here)
    text = err.getvalue()
    return Outcome(code, out.getvalue(), text, time.monotonic() - t0,
                   [line for line in text.splitlines() if line.strip()])
