"""A real OCI registry for the tests: Docker Distribution 2.8 (Debian's `docker-registry`,
installed by `.ci/setup --tests`), on 127.0.0.1 only, behind a counting TCP proxy.

    from tests.oci_registry import oci_fixture, oci_server_fixture  # noqa: F401
    # (also: oci_namespace_fixture, oci_basic_fixture + oci_basic_server_fixture,
    #  oci_token_fixture + oci_token_server_fixture)

    def test_x(oci):                          # anonymous, plain HTTP
        ns = oci.namespace()                  # a fresh "nsN": repositories ns/NAME are new
        oci.url                               # "http://127.0.0.1:PORT" (the counting proxy)
        oci.host                              # "127.0.0.1:PORT"
        oci.ref(ns)                           # "oci://127.0.0.1:PORT/nsN"
        oci.push_blob(f"{ns}/model", data)    # helpers, with plain requests: "sha256:..."
        oci.requests                          # [("GET", "/v2/"), ("HEAD", "/v2/nsN/..."), ...]
        mark = oci.mark(); ...; conns, reqs = oci.since(mark)

    def test_y(oci_basic):                    # HTTPS + htpasswd
        oci_basic.url                         # "https://127.0.0.1:PORT"
        oci_basic.ca_file                     # pass as REQUESTS_CA_BUNDLE / verify=
        oci_basic.username, oci_basic.password

    def test_z(oci_token):                    # token auth (Bearer), plain HTTP
        oci_token.token_url                   # the realm: a loopback token server (JWT, RS256)
        oci_token.username, oci_token.password
        oci_token.token_requests              # [TokenRequest(user, scopes, granted, status)]

Each variant is one registry per session (it answers within about 0.1 s, but the certificates
and keys are made once); every `namespace()` is fresh, so tests never see each other's
repositories (the catalog is shared, though: filter it by namespace).

The proxy records every connection and every request line: for the plain-HTTP variants it is
hf_hub's threaded TCP proxy; for the TLS variant (basic) an asyncio one that terminates TLS with
the same certificate and re-encrypts to the registry (it counts a connection once its TLS
handshake succeeded). Nothing is set globally; the registry writes
only inside its own temporary directory and dies with the process that started it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.hf_hub import Mark, _CountingProxy, _die_with_parent, _free_port

REGISTRY_BIN = "docker-registry"
SETUP_HINT = ("the OCI registry is not installed: run `bash .ci/setup --tests` "
              "(it runs `apt-get install -y docker-registry`)")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"


def registry_binary() -> str | None:
    return shutil.which(REGISTRY_BIN)


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- certificates, passwords and tokens (openssl CLI + the standard library only) ------------


def _openssl(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    proc = subprocess.run(["openssl", *args], input=stdin, cwd=cwd, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@dataclass(frozen=True)
class Pki:
    """A CA and a server certificate for IP 127.0.0.1 signed by it (EC P-256), in ``root``."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, root: Path) -> Pki:
        root.mkdir(parents=True, exist_ok=True)
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "7",
                 "-subj", "/CN=mlpm tests CA", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=root)
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
                 cwd=root)
        (root / "server.ext").write_text(
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "7", "-extfile",
                 "server.ext", cwd=root)
        return cls(root / "ca.pem", root / "server.pem", root / "server.key")


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash (what Distribution's htpasswd accepts), cost 4 so that the registry,
    which checks it on every request, stays fast: glibc's crypt(3), else `htpasswd -B`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # deprecated in 3.11, removed in 3.13
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
        if hashed and hashed.startswith("$2"):
            return hashed
    except (ImportError, OSError):
        pass
    if shutil.which("htpasswd"):
        out = subprocess.run(["htpasswd", "-nbB", "-C", "4", "user", password],
                             capture_output=True, check=True, text=True).stdout
        return out.strip().split(":", 1)[1]
    raise RuntimeError("no bcrypt available (neither crypt(3) with $2b$ nor htpasswd -B)")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenSigner:
    """RS256 JWTs whose header carries the signing certificate (``x5c``); Distribution trusts
    them because that certificate is in its ``rootcertbundle``."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.key_file = root / "token.key"
        self.cert_file = root / "token.pem"
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "token.key",
                 "-out", "token.pem", "-days", "7", "-subj", "/CN=mlpm tests token issuer",
                 cwd=root)
        der = _openssl("x509", "-in", str(self.cert_file), "-outform", "DER")
        self.x5c = base64.b64encode(der).decode()

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = _openssl("dgst", "-sha256", "-sign", str(self.key_file),
                             stdin=signing_input.encode())
        return signing_input + "." + _b64url(signature)


@dataclass
class TokenRequest:
    user: str | None      # None: anonymous (no Authorization header)
    scopes: list[str]     # as asked: ["repository:ns1/model:pull,push", ...]
    granted: list[dict]   # the JWT's "access" claim
    status: int           # 200, or 401 for bad credentials


class TokenServer:
    """The realm of a token-auth registry: `GET /token?service=&scope=` (Basic credentials
    optional) answers `{"token": JWT, "access_token": JWT, "expires_in": 300}`.

    Policy: a known user with the right password gets every action asked for; no credentials
    get "pull" only if ``anonymous_pull`` (else an empty grant, so the registry says 401
    insufficient_scope); wrong credentials get 401 here."""

    def __init__(self, signer: TokenSigner, service: str, issuer: str,
                 users: dict[str, str], anonymous_pull: bool = True) -> None:
        self.signer = signer
        self.service = service
        self.issuer = issuer
        self.users = users
        self.anonymous_pull = anonymous_pull
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                outer._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="oci-token-server")
        self._thread.start()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(handler.path).query)
        scopes = query.get("scope", [])
        user: str | None = None
        auth = handler.headers.get("Authorization", "")
        ok = True
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user, password = "?", ""
            ok = self.users.get(user) == password
        granted: list[dict] = []
        if ok:
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                wanted = [a for a in actions.split(",") if a]
                if user is None:
                    wanted = [a for a in wanted if a == "pull" and self.anonymous_pull]
                if wanted:
                    granted.append({"type": kind, "name": name, "actions": wanted})
        with self._lock:
            self.requests.append(TokenRequest(user, scopes, granted, 200 if ok else 401))
        if not ok:
            body = b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
            status = 401
        else:
            now = int(time.time())
            token = self.signer.sign({
                "iss": self.issuer, "sub": user or "", "aud": query.get("service", [""])[0],
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8),
                "access": granted})
            body = json.dumps({"token": token, "access_token": token, "expires_in": 300,
                               "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(now))}).encode()
            status = 200
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


# --- a counting proxy that can also terminate and re-originate TLS ---------------------------


class _TlsProxy(_CountingProxy):
    """hf_hub's counting proxy for a TLS registry: it terminates TLS (the server certificate
    ``cert``/``key``) to see the request lines and re-encrypts towards the registry (trusting
    ``ca``). One asyncio thread runs every connection: an SSL object is never shared between
    threads. A connection is counted once its TLS handshake succeeded."""

    def __init__(self, upstream_port: int, cert: Path, key: Path, ca: Path) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(cert, key)
        self._client_ctx = ssl.create_default_context(cafile=str(ca))
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="oci-tls-proxy")
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._error is not None or not hasattr(self, "port"):
            raise RuntimeError(f"the TLS proxy did not start: {self._error!r}")

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._handle, "127.0.0.1", 0, ssl=self._server_ctx, ssl_handshake_timeout=10))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported by __init__
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        up_writer = None
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port, ssl=self._client_ctx,
                server_hostname="127.0.0.1")
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer, True),
                                 self._pipe(up_reader, writer, False))
        except (OSError, ssl.SSLError, asyncio.CancelledError):
            pass  # the registry is gone, or the proxy is closing
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    with contextlib.suppress(Exception):
                        w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    parse: bool) -> None:
        buf, body_left = b"", 0
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if parse:
                    buf, body_left = self._parse(buf + data, body_left)
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            self._server.close()
            for w in list(self._writers):  # the pipes then read EOF and their tasks end
                w.close()
            others = asyncio.all_tasks() - {asyncio.current_task()}
            if others:
                await asyncio.wait(others, timeout=2)
            await asyncio.sleep(0.05)  # let the TLS transports finish closing
            self._loop.stop()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(timeout=5)


# --- the server -----------------------------------------------------------------------------


class OciServer:
    """Docker Distribution on 127.0.0.1 behind a counting proxy; a context manager.

    ``auth``: "none" (anonymous push and pull), "basic" (htpasswd users; everything needs
    credentials) or "token" (Bearer tokens from the loopback ``token_url``; see ``TokenServer``
    for who gets what). ``tls`` (default: only for "basic") serves HTTPS with a CA of its own at
    ``ca_file``. Distribution 2.8.2 does accept htpasswd over plain HTTP too (``tls=False``)."""

    _namespaces = itertools.count(1)

    def __init__(self, root: Path, auth: str = "none", users: dict[str, str] | None = None,
                 anonymous_pull: bool = True, tls: bool | None = None) -> None:
        if auth not in ("none", "basic", "token"):
            raise ValueError(f"auth must be none, basic or token, not {auth!r}")
        self.root = root
        self.auth = auth
        self.users = dict(users or {"alice": "s3cret-alice"})
        self.username, self.password = next(iter(self.users.items()))
        self.anonymous_pull = anonymous_pull
        self.tls = (auth == "basic") if tls is None else tls
        self.scheme = "https" if self.tls else "http"
        self.pki: Pki | None = None
        self.token_server: TokenServer | None = None
        self.service = "mlpm-tests-registry"
        self.issuer = "mlpm-tests-token-issuer"
        self.registry_port = 0
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen | None = None
        self._proxy: _CountingProxy | None = None

    # -- addresses --

    @property
    def port(self) -> int:
        assert self._proxy is not None, "the server is not running"
        return self._proxy.port

    @property
    def host(self) -> str:
        """"127.0.0.1:PORT" of the counting proxy (what clients should use)."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def direct_url(self) -> str:
        """The registry itself, bypassing the proxy (nothing is counted)."""
        return f"{self.scheme}://127.0.0.1:{self.registry_port}"

    @property
    def ca_file(self) -> str | None:
        """The CA of the HTTPS variant (pass it as REQUESTS_CA_BUNDLE or verify=)."""
        return str(self.pki.ca_file) if self.pki else None

    @property
    def token_url(self) -> str | None:
        return self.token_server.url if self.token_server else None

    @property
    def token_requests(self) -> list[TokenRequest]:
        if self.token_server is None:
            return []
        with self.token_server._lock:
            return list(self.token_server.requests)

    def namespace(self, prefix: str = "ns") -> str:
        """A fresh namespace: no repository under it exists yet."""
        return f"{prefix}{next(self._namespaces)}"

    def ref(self, namespace: str) -> str:
        """"oci://127.0.0.1:PORT/NAMESPACE"."""
        return f"oci://{self.host}/{namespace}"

    @property
    def log(self) -> str:
        path = self.root / "registry.out"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- life cycle --

    def start(self, timeout: float = 30.0) -> OciServer:
        binary = registry_binary()
        if binary is None:
            raise FileNotFoundError(SETUP_HINT)
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        if self.tls:
            self.pki = Pki.create(self.root / "pki")
        if self.auth == "basic":
            (self.root / "htpasswd").write_text(
                "".join(f"{u}:{bcrypt_hash(p)}\n" for u, p in self.users.items()))
        elif self.auth == "token":
            signer = TokenSigner(self.root / "token")
            self.token_server = TokenServer(signer, self.service, self.issuer, self.users,
                                            self.anonymous_pull)
        for _attempt in range(3):
            port = _free_port()
            self._write_config(port)
            if self._launch(binary, port, timeout):
                break
            self._kill()
        else:
            self.stop()
            raise RuntimeError(f"docker-registry did not start:\n{self.log}")
        self.registry_port = port
        if self.pki is not None:
            self._proxy = _TlsProxy(port, self.pki.cert_file, self.pki.key_file,
                                    self.pki.ca_file)
        else:
            self._proxy = _CountingProxy(port)
        return self

    def _write_config(self, port: int) -> None:
        lines = [
            "version: 0.1",
            "log:",
            "  level: info",
            "  formatter: json",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {self.root / 'data'}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{port}",
            f"  secret: {secrets.token_hex(16)}",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
        ]
        if self.pki is not None:
            lines += ["  tls:",
                      f"    certificate: {self.pki.cert_file}",
                      f"    key: {self.pki.key_file}"]
        if self.auth == "basic":
            lines += ["auth:", "  htpasswd:", "    realm: mlpm-tests",
                      f"    path: {self.root / 'htpasswd'}"]
        elif self.auth == "token":
            assert self.token_server is not None
            lines += ["auth:", "  token:",
                      f"    realm: {self.token_server.url}",
                      f"    service: {self.service}",
                      f"    issuer: {self.issuer}",
                      f"    rootcertbundle: {self.token_server.signer.cert_file}"]
        self.config = self.root / "config.yml"
        self.config.write_text("\n".join(lines) + "\n")

    def _launch(self, binary: str, port: int, timeout: float) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                    "all_proxy"):
            env.pop(key, None)
        out = open(self.root / "registry.out", "ab")  # noqa: SIM115 - the child owns it
        started = time.monotonic()
        self._proc = subprocess.Popen(
            [binary, "serve", str(self.config)], cwd=self.root, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()) if sys.platform == "linux" else None)
        out.close()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.02)
                continue
            if f"listening on 127.0.0.1:{port}" in self.log:
                self.startup_seconds = time.monotonic() - started
                return True
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        self._kill()
        if self.token_server is not None:
            self.token_server.close()
            self.token_server = None

    def __enter__(self) -> OciServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the server saw (through the proxy at .url) --

    @property
    def connections(self) -> int:
        assert self._proxy is not None, "the server is not running"
        return self._proxy.connections

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path?query) of every request received at .url, in order."""
        assert self._proxy is not None, "the server is not running"
        with self._proxy._lock:
            return list(self._proxy.requests)

    def mark(self) -> Mark:
        return Mark(self.connections, len(self.requests))

    def since(self, mark: Mark) -> tuple[int, list[tuple[str, str]]]:
        """Connections and requests received after ``mark``."""
        return self.connections - mark.connections, self.requests[mark.requests:]

    # -- small helpers to set up content with plain requests (the session's credentials) --

    def session(self):
        """A requests.Session able to push and pull here (credentials, CA, token dance)."""
        import requests

        session = requests.Session()
        session.trust_env = False
        if self.ca_file:
            session.verify = self.ca_file
        if self.auth == "basic":
            session.auth = (self.username, self.password)
        elif self.auth == "token":
            session.hooks["response"].append(_bearer_hook(session, self))
        return session

    def push_blob(self, repo: str, data: bytes, session=None) -> str:
        """Upload ``data`` to ``repo`` (POST then monolithic PUT); returns its digest."""
        s = session or self.session()
        digest = digest_of(data)
        r = s.post(f"{self.url}/v2/{repo}/blobs/uploads/")
        r.raise_for_status()
        location = r.headers["Location"]
        sep = "&" if "?" in location else "?"
        r = s.put(f"{location}{sep}digest={digest}", data=data,
                  headers={"Content-Type": "application/octet-stream"})
        r.raise_for_status()
        return digest

    def push_manifest(self, repo: str, reference: str, manifest: dict | bytes,
                      media_type: str = OCI_MANIFEST, session=None) -> str:
        """PUT a manifest under a tag or digest; returns its digest."""
        s = session or self.session()
        body = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        r = s.put(f"{self.url}/v2/{repo}/manifests/{reference}", data=body,
                  headers={"Content-Type": media_type})
        r.raise_for_status()
        return r.headers.get("Docker-Content-Digest") or digest_of(body)

    def push_artifact(self, repo: str, tag: str, layers: dict[str, bytes], *,
                      config: bytes = b"{}", config_media_type: str = OCI_EMPTY,
                      artifact_type: str | None = None,
                      layer_media_type: str = "application/octet-stream",
                      annotations: dict[str, str] | None = None, session=None) -> str:
        """Push an OCI artifact: ``layers`` {title: bytes} (org.opencontainers.image.title
        annotations), a config blob, and a manifest tagged ``tag``; returns its digest."""
        s = session or self.session()
        descriptors = []
        for title, data in layers.items():
            descriptors.append({
                "mediaType": layer_media_type, "digest": self.push_blob(repo, data, s),
                "size": len(data), "annotations": {"org.opencontainers.image.title": title}})
        manifest: dict = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_media_type, "digest": self.push_blob(repo, config, s),
                       "size": len(config)},
            "layers": descriptors}
        if artifact_type:
            manifest["artifactType"] = artifact_type
        if annotations:
            manifest["annotations"] = annotations
        return self.push_manifest(repo, tag, manifest, session=s)


def _bearer_hook(session, server: OciServer):
    """A requests response hook doing the Docker token dance: on a 401 with a Bearer
    challenge, get a token from the realm (with the server's credentials) and retry once."""
    challenge = re.compile(r'(\w+)="([^"]*)"')

    def hook(response, *args, **kwargs):
        header = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not header.startswith("Bearer ") \
                or getattr(response.request, "_mlpm_retried", False):
            return response
        params = dict(challenge.findall(header))
        token_r = session.get(params["realm"], params={k: v for k, v in params.items()
                                                        if k in ("service", "scope")},
                              auth=(server.username, server.password))
        token_r.raise_for_status()
        request = response.request.copy()
        request.headers["Authorization"] = "Bearer " + token_r.json()["token"]
        request._mlpm_retried = True
        response.content  # noqa: B018 - release the connection
        return session.send(request)

    return hook


# --- fixtures -------------------------------------------------------------------------------


def _server_fixture(auth: str, **kwargs):
    if registry_binary() is None:
        if os.environ.get("CI"):
            pytest.fail(SETUP_HINT)
        pytest.skip(SETUP_HINT)
    root = Path(tempfile.mkdtemp(prefix=f"mlpm-oci-{auth}-"))
    server = OciServer(root, auth=auth, **kwargs)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", name="oci_server")
def oci_server_fixture():
    """One anonymous plain-HTTP registry for the whole session; tests use ``oci``."""
    yield from _server_fixture("none")


@pytest.fixture(name="oci")
def oci_fixture(oci_server):
    """The session's anonymous registry (``OciServer``); use ``oci.namespace()`` per test."""
    return oci_server


@pytest.fixture(name="oci_namespace")
def oci_namespace_fixture(oci_server):
    """A fresh namespace on the anonymous registry, e.g. "ns7"."""
    return oci_server.namespace()


@pytest.fixture(scope="session", name="oci_basic_server")
def oci_basic_server_fixture():
    yield from _server_fixture("basic")


@pytest.fixture(name="oci_basic")
def oci_basic_fixture(oci_basic_server):
    """HTTPS + htpasswd registry: ``.username``/``.password``, ``.ca_file``."""
    return oci_basic_server


@pytest.fixture(scope="session", name="oci_token_server")
def oci_token_server_fixture():
    yield from _server_fixture("token")


@pytest.fixture(name="oci_token")
def oci_token_fixture(oci_token_server):
    """Token-auth registry: ``.token_url`` (realm), ``.username``/``.password``."""
    return oci_token_server
