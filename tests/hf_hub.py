"""A real Hugging Face-compatible server for the tests: olah (a self-hosted HF mirror, installed
in its own venv by `.ci/setup --tests`) in offline mode, serving plain git repos built here.

    from tests.hf_hub import Lfs, hf_hub_fixture, hf_hub_server_fixture  # noqa: F401

    def test_x(hf_hub):                       # the fixture (imported as above)
        repo = hf_hub.repo("weights")          # a fresh ORG/REPO at mirrors/models/ORG/REPO
        first = repo.commit({"model.safetensors": data, "config.json": b"{}"}, tag="v1.0.0")
        repo.commit({"config.json": None})     # None deletes the file in the new commit
        hf_hub.endpoint                        # "http://127.0.0.1:PORT": pass as HF_ENDPOINT
        hf_hub.requests                        # [("GET", "/api/models/ORG/REPO/refs"), ...]

olah is started once per session (it answers about 1.1 s after the start); every `repo()`
gets a fresh ORG, so tests never see each other's repos. The endpoint is a small counting TCP
proxy in front of olah: it records every connection and every HTTP request line, so a test can
prove an `--offline` command made zero connections (`hf_hub.mark()` / `hf_hub.since(mark)`).
Nothing is set globally; olah writes only inside its own temporary directory, never tries the
internet (offline = true, and its upstream is a closed port on 127.0.0.1), and dies with the
process that started it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLAH_CLI = ROOT / ".venv-olah" / "bin" / "olah-cli"
SETUP_HINT = "olah is not installed: run `bash .ci/setup --tests` (it creates .venv-olah)"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "mlpm tests", "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "mlpm tests", "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
}


def _die_with_parent(parent: int):
    """For Popen(preexec_fn=): on Linux the child gets SIGKILL when the process that started it
    dies, so a killed pytest (a timeout, ^C twice) leaves no olah behind."""
    def preexec() -> None:
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- building repos with real git -----------------------------------------------------------


@dataclass(frozen=True)
class Lfs:
    """File content to commit as a git-LFS pointer, with the object stored where olah serves it
    from (``.git/lfs/objects/``): resolve/ then answers the object's bytes, with its sha256 as
    the ETag, and the tree / paths-info APIs report ``lfs.oid`` (the sha256) and its size."""

    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def pointer(self) -> bytes:
        return (f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\n"
                f"size {len(self.data)}\n").encode()


class GitRepo:
    """A plain (non-bare) git repository at ``mirrors/models/ORG/REPO``, written with git's
    plumbing so any branch can get a commit without a checkout. ``repo_id`` is "ORG/REPO"."""

    _clock = itertools.count(1)

    def __init__(self, path: Path, repo_id: str, branch: str = "main") -> None:
        self.path = path
        self.repo_id = repo_id
        self.default_branch = branch
        path.mkdir(parents=True)
        self.git("init", "--quiet", f"--initial-branch={branch}")

    def git(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
            ) -> str:
        full_env = {**os.environ, **_GIT_ENV, **(env or {})}
        proc = subprocess.run(["git", *args], cwd=self.path, input=stdin, env=full_env,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode().strip()

    def head(self, ref: str | None = None) -> str:
        """The commit sha of a branch or tag (default: the default branch)."""
        return self.git("rev-parse", f"{ref or self.default_branch}^{{commit}}")

    def commit(self, files: dict[str, bytes | Lfs | None], *, branch: str | None = None,
               message: str = "update", tag: str | None = None, base: str | None = None,
               replace: bool = False) -> str:
        """Commit ``files`` ({path: bytes or Lfs}; None deletes the path) on ``branch`` (from
        ``base``, or from the default branch, if new; the first commit is the root). With
        ``replace`` the commit holds exactly ``files``. Returns the new commit's sha."""
        branch = branch or self.default_branch
        index = self.path / ".git" / "mlpm-tests-index"
        env = {"GIT_INDEX_FILE": str(index)}
        index.unlink(missing_ok=True)
        parent = self._sha_or_none(f"refs/heads/{branch}")
        if parent is None and base is not None:
            parent = self.head(base)
        elif parent is None:
            parent = self._sha_or_none(f"refs/heads/{self.default_branch}")
        if parent is not None and not replace:
            self.git("read-tree", parent, env=env)
        for name, data in files.items():
            if data is None:
                self.git("update-index", "--force-remove", "--", name, env=env)
                continue
            if isinstance(data, Lfs):
                obj = self.path / ".git" / "lfs" / "objects" / data.sha256[:2] / data.sha256[2:4]
                obj.mkdir(parents=True, exist_ok=True)
                (obj / data.sha256).write_bytes(data.data)
                data = data.pointer
            blob = self.git("hash-object", "-w", "--stdin", stdin=data)
            self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
        tree = self.git("write-tree", env=env)
        index.unlink(missing_ok=True)
        # Distinct, increasing dates: a repo's history reads the same on every run.
        when = f"{1_700_000_000 + next(self._clock)} +0000"
        dates = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
        parents = ["-p", parent] if parent is not None else []
        sha = self.git("commit-tree", tree, *parents, "-m", message, env=dates)
        self.git("update-ref", f"refs/heads/{branch}", sha)
        if tag is not None:
            self.tag(tag, sha)
        return sha

    def tag(self, name: str, ref: str | None = None, *, annotated: bool = False) -> str:
        """Tag ``ref`` (default: the default branch); returns the tagged commit's sha."""
        sha = self.head(ref)
        if annotated:
            self.git("tag", "-a", "-m", name, name, sha)
        else:
            self.git("tag", name, sha)
        return sha

    def branch(self, name: str, ref: str | None = None) -> str:
        """Create branch ``name`` at ``ref`` (default: the default branch)."""
        sha = self.head(ref)
        self.git("branch", name, sha)
        return sha

    def delete_tag(self, name: str) -> None:
        self.git("tag", "-d", name)

    def _sha_or_none(self, ref: str) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        except RuntimeError:
            return None


# --- a counting TCP proxy in front of olah --------------------------------------------------


_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]\r\n")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


class _CountingProxy:
    """Forwards 127.0.0.1:port to the upstream port, recording connections and requests."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hf-hub-proxy")
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    client.close()
                    return
                self.connections += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, parse: bool) -> None:
        buf = b""
        body_left = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if parse:
                    buf, body_left = self._parse(buf + data, body_left)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()
            with self._lock:
                self._socks.discard(src)

    def _parse(self, buf: bytes, body_left: int) -> tuple[bytes, int]:
        """Record each request line of a client stream (requests carry Content-Length bodies
        at most: huggingface_hub and requests never send chunked request bodies)."""
        while True:
            if body_left:
                skip = min(body_left, len(buf))
                buf, body_left = buf[skip:], body_left - skip
                if body_left:
                    return buf, body_left
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return buf, 0
            head, buf = buf[:end + 4], buf[end + 4:]
            match = _REQUEST_LINE.match(head)
            if match:
                with self._lock:
                    self.requests.append((match.group(1).decode(), match.group(2).decode()))
            length = _CONTENT_LENGTH.search(head)
            body_left = int(length.group(1)) if length else 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            socks = list(self._socks)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=5)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Mark:
    connections: int
    requests: int


@dataclass
class HubServer:
    """olah in offline mode serving git repos under ``root/mirrors``, behind a counting proxy.
    Use as a context manager, or the ``hf_hub`` fixture."""

    root: Path
    endpoint: str = ""
    olah_endpoint: str = ""  # olah itself, bypassing the counting proxy
    startup_seconds: float = 0.0
    _proc: subprocess.Popen | None = None
    _proxy: _CountingProxy | None = None
    _orgs: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def mirrors(self) -> Path:
        return self.root / "mirrors"

    @property
    def log(self) -> str:
        """olah's own output (stdout and stderr) so far."""
        path = self.root / "olah.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 30.0) -> HubServer:
        if not OLAH_CLI.exists():
            raise FileNotFoundError(SETUP_HINT)
        for sub in ("mirrors/models", "repos", "logs", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            port = _free_port()
            self._write_config(port)
            if self._launch(port, timeout):
                break
            self._kill()
        else:
            raise RuntimeError(f"olah did not start:\n{self.log}")
        self.olah_endpoint = f"http://127.0.0.1:{port}"
        self._proxy = _CountingProxy(port)
        self.endpoint = f"http://127.0.0.1:{self._proxy.port}"
        return self

    def _write_config(self, port: int) -> None:
        # offline: never ask the upstream; the upstream is a closed port on 127.0.0.1 anyway.
        # The mirror netloc is olah's own address (it only appears in redirects it never makes
        # for local mirrors).
        self.config = self.root / "olah.toml"
        self.config.write_text(
            "[basic]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            f'repos-path = "{self.root / "repos"}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            'hf-scheme = "http"\n'
            'hf-netloc = "127.0.0.1:9"\n'
            'hf-lfs-netloc = "127.0.0.1:9"\n'
            'mirror-scheme = "http"\n'
            f'mirror-netloc = "127.0.0.1:{port}"\n'
            f'mirror-lfs-netloc = "127.0.0.1:{port}"\n'
            "metadata-cache-ttl = 0\n"
            "\n[accessibility]\n"
            "offline = true\n")

    def _launch(self, port: int, timeout: float) -> bool:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGINGFACE_", "OLAH_", "PYTHON"))}
        env.update({"HOME": str(self.root / "home"), "HF_HOME": str(self.root / "home" / "hf"),
                    "XDG_CACHE_HOME": str(self.root / "home" / ".cache"),
                    "NO_PROXY": "*", "no_proxy": "*", "PYTHONDONTWRITEBYTECODE": "1"})
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                    "all_proxy"):
            env.pop(key, None)
        out = open(self.root / "olah.out", "ab")  # noqa: SIM115 - the child owns it
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [str(OLAH_CLI), "--config", str(self.config), "--log-path", str(self.root / "logs")],
            cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None)
        out.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"GET /api/models/-/-/refs HTTP/1.0\r\nHost: x\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1."):
                        self.startup_seconds = time.monotonic() - started
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        else:
            try:  # anything olah left in its process group
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        self._kill()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- repos --

    def repo(self, name: str = "model", org: str | None = None, branch: str = "main") -> GitRepo:
        """A new empty git repo served as model ``ORG/name`` (a fresh ORG unless given)."""
        org = org or f"org{next(self._orgs)}"
        return GitRepo(self.mirrors / "models" / org / name, f"{org}/{name}", branch)

    # -- what the server saw (through the proxy at .endpoint) --

    @property
    def connections(self) -> int:
        assert self._proxy is not None, "the server is not running"
        return self._proxy.connections

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request received at .endpoint, in order."""
        assert self._proxy is not None, "the server is not running"
        with self._proxy._lock:
            return list(self._proxy.requests)

    def mark(self) -> Mark:
        return Mark(self.connections, len(self.requests))

    def since(self, mark: Mark) -> tuple[int, list[tuple[str, str]]]:
        """Connections and requests received after ``mark``."""
        return self.connections - mark.connections, self.requests[mark.requests:]


@pytest.fixture(scope="session", name="hf_hub_server")
def hf_hub_server_fixture():
    """One olah for the whole session (see the module docstring); tests use ``hf_hub``."""
    if not OLAH_CLI.exists():
        if os.environ.get("CI"):
            pytest.fail(SETUP_HINT)
        pytest.skip(SETUP_HINT)
    root = Path(tempfile.mkdtemp(prefix="mlpm-olah-"))
    server = HubServer(root)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="hf_hub")
def hf_hub_fixture(hf_hub_server):
    """The session's olah (``HubServer``); each ``hf_hub.repo()`` is a fresh ORG/REPO."""
    return hf_hub_server
