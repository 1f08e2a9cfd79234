"""The OCI distribution API, as mlpm uses it: a registry host, its auth, blobs, manifests,
tags and the catalog. Below mlpm/registry/oci.py, which lays an mlpm registry out on it
(docs/reference/registry-oci.md).

Auth as container tools do it: a request goes out anonymously; a ``401`` names the scheme
in ``WWW-Authenticate``: ``Bearer realm=…,service=…,scope=…`` (the token flow: a token
for that scope from the realm, with the credentials when there are any) or ``Basic``.
Credentials: ``MLPM_OCI_USERNAME`` / ``MLPM_OCI_PASSWORD``, else ``~/.docker/config.json``
(``auths`` entries with a base64 ``auth``; ``credHelpers`` / ``credsStore`` programs).
They are never logged and never part of an error message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from mlpm.errors import RegistryError

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_ACCEPT = ", ".join([OCI_MANIFEST, "application/vnd.oci.image.index.v1+json",
                     "application/vnd.docker.distribution.manifest.v2+json"])
MAX_MANIFEST = 4 << 20  # Distribution's own limit on a manifest
MAX_PAGES = 10_000  # tags / catalog pages followed
TIMEOUT = (10.0, 60.0)
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def split_location(location: str) -> tuple[str, str]:
    """``oci://HOST[:PORT]/NAMESPACE`` -> (host, namespace), checked.

    >>> split_location("oci://registry.example.com:5000/ml/models")
    ('registry.example.com:5000', 'ml/models')
    """
    if not location.startswith("oci://"):
        raise ValueError(f"'{location}' is not an oci:// location")
    host, _, namespace = location[len("oci://"):].partition("/")
    namespace = namespace.strip("/")
    if not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9a-fA-F:]+\](:[0-9]{1,5})?", host):
        raise ValueError(f"'{host}' in {location} is not a registry host (HOST or HOST:PORT)")
    part = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    if not namespace or not re.fullmatch(rf"{part}(?:/{part})*", namespace) or \
            len(namespace) > 200:
        raise ValueError(f"'{namespace}' in {location} is not a repository namespace: use "
                         "lower-case path parts, e.g. oci://registry.example.com/ml/models")
    return host, namespace


def _insecure(host: str) -> bool:
    """Plain HTTP is allowed for a loopback host, or one named in MLPM_INSECURE_REGISTRIES."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    listed = {h.strip() for h in os.environ.get("MLPM_INSECURE_REGISTRIES", "").split(",")}
    return name in _LOOPBACK or host in listed or name in listed


def credentials(host: str) -> tuple[str, str] | None:
    """(username, password) for ``host``: the environment, else docker's config."""
    user, password = os.environ.get("MLPM_OCI_USERNAME"), os.environ.get("MLPM_OCI_PASSWORD")
    if user and password:
        return user, password
    from pathlib import Path

    config_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        config = json.loads((Path(config_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    helper = (config.get("credHelpers") or {}).get(host) or config.get("credsStore")
    if isinstance(helper, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", helper):
        found = _from_helper(helper, host)
        if found is not None:
            return found
    for key, entry in (config.get("auths") or {}).items():
        if _same_host(key, host) and isinstance(entry, dict) and \
                isinstance(entry.get("auth"), str):
            import base64

            try:
                text = base64.b64decode(entry["auth"]).decode()
            except (ValueError, UnicodeDecodeError):
                continue
            user, sep, password = text.partition(":")
            if sep:
                return user, password
    return None


def _same_host(key: str, host: str) -> bool:
    key = re.sub(r"^https?://", "", key).split("/", 1)[0]
    return key == host


def _from_helper(helper: str, host: str) -> tuple[str, str] | None:
    """``docker-credential-HELPER get`` (the docker credential helper protocol)."""
    import shutil
    import subprocess

    program = shutil.which(f"docker-credential-{helper}")
    if program is None:
        return None
    try:
        out = subprocess.run([program, "get"], input=host.encode(), capture_output=True,
                             timeout=30, check=True).stdout
        data = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if isinstance(data, dict) and data.get("Username") and data.get("Secret"):
        return str(data["Username"]), str(data["Secret"])
    return None


class OciClient:
    """One registry host: requests with auth, blob and manifest operations."""

    def __init__(self, host: str):
        self.host = host
        self.insecure = _insecure(host)
        # A host that may speak plain HTTP is asked in it first (an HTTPS handshake against a
        # plain server costs a quarter second); its answer says if it wants HTTPS instead.
        self.scheme = "http" if self.insecure else "https"
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for Basic auth
        self._scheme_known = False  # a request got an HTTP answer: the scheme is settled
        self._session: Any = None

    def credentials(self) -> tuple[str, str] | None:
        """This host's credentials, looked up once (a credential helper is a process)."""
        if not hasattr(self, "_credentials"):
            self._credentials = credentials(self.host)
        return self._credentials

    # -- transport ------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"

    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers["User-Agent"] = "mlpm/0.1"
        return self._session

    def request(self, method: str, path: str, repo: str | None, push: bool = False,
                **kwargs: Any) -> Any:
        """``method`` on ``path`` with auth; tries https first and falls back to http for a
        host that allows it. Returns the response (the caller closes streams)."""
        import requests

        scope = f"repository:{repo}:{'pull,push' if push else 'pull'}" if repo else \
            "registry:catalog:*"
        given = dict(kwargs.pop("headers", {}) or {})
        for _attempt in range(4):  # at most: http -> https, then one auth challenge
            headers = {**given, **self.authorization(scope)}
            try:
                resp = self.session().request(method, self.base + path, headers=headers,
                                              timeout=TIMEOUT, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise self._untrusted(_short(exc)) from None
            except requests.exceptions.Timeout as exc:
                raise RegistryError(f"the OCI registry {self.host} did not answer in time "
                                    f"({_short(exc)}); check the host and port, and retry.") \
                    from None
            except requests.exceptions.ConnectionError as exc:
                if self.scheme == "http" and not self._scheme_known:
                    self.scheme = "https"  # a TLS server that drops plain HTTP
                    continue
                raise RegistryError(f"cannot reach the OCI registry {self.host} ({_short(exc)});"
                                    " check the host and port, and the network.") from None
            if self.scheme == "http" and not self._scheme_known and resp.status_code == 400 \
                    and b"HTTPS" in resp.content[:300]:
                self.scheme = "https"  # "Client sent an HTTP request to an HTTPS server."
                continue
            self._scheme_known = True
            if resp.status_code == 401 and self._challenge(resp, scope):
                resp.close()
                continue
            return resp
        return resp

    def _untrusted(self, detail: str) -> RegistryError:
        return RegistryError(f"the TLS certificate of the OCI registry {self.host} is not "
                             f"trusted ({detail}); set REQUESTS_CA_BUNDLE to its CA's "
                             "certificate file.")

    def authorization(self, scope: str) -> dict[str, str]:
        if scope in self._tokens:
            return {"Authorization": f"Bearer {self._tokens[scope]}"}
        if self._basic:
            creds = self.credentials()
            if creds is not None:
                import base64

                value = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
                return {"Authorization": f"Basic {value}"}
        return {}

    def _challenge(self, resp: Any, scope: str) -> bool:
        """Answer a 401: fetch a bearer token, or switch to Basic. False: nothing to try."""
        header = resp.headers.get("WWW-Authenticate", "")
        kind = header.split(" ", 1)[0].lower()
        if kind == "basic":
            if self._basic or self.credentials() is None:
                return False
            self._basic = True
            return True
        if kind != "bearer" or scope in self._tokens:
            return False
        params = dict(_CHALLENGE.findall(header))
        realm = params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            return False
        # the scope this client needs (pull, or pull,push): the challenge names only what the
        # refused request needed, and a push after a HEAD would be refused again
        query = {"service": params.get("service", ""), "scope": scope}
        creds = self.credentials()
        try:
            answer = self.session().get(realm, params=query, timeout=TIMEOUT,
                                        auth=creds if creds else None)
        except OSError as exc:
            raise RegistryError(f"cannot reach the token service of the OCI registry "
                                f"{self.host} ({_short(exc)}).") from None
        if answer.status_code in (401, 403):
            return False
        try:
            data = answer.json()
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token service of the OCI registry {self.host} answered "
                                f"HTTP {answer.status_code} without a token.")
        self._tokens[scope] = token
        return True

    def refused(self, resp: Any, what: str) -> RegistryError:
        """The sentence for a 401 / 403: what to configure."""
        has = self.credentials() is not None
        fix = ("the credentials mlpm found are refused: check MLPM_OCI_USERNAME / "
               "MLPM_OCI_PASSWORD or run `docker login " + self.host + "` again" if has else
               "set MLPM_OCI_USERNAME and MLPM_OCI_PASSWORD, or run `docker login "
               + self.host + "`")
        return RegistryError(f"the OCI registry {self.host} refused {what} (HTTP "
                             f"{resp.status_code}); {fix}.")

    def _fail(self, resp: Any, what: str) -> RegistryError:
        if resp.status_code in (401, 403):
            return self.refused(resp, what)
        code = ""
        try:
            errors = resp.json().get("errors") or []
            code = f": {errors[0].get('code')} {errors[0].get('message', '')}".rstrip()
        except (ValueError, AttributeError, IndexError, TypeError):
            pass
        return RegistryError(f"the OCI registry {self.host} answered HTTP {resp.status_code} "
                             f"to {what}{code}.")

    # -- reading ----------------------------------------------------------------------------

    def tags(self, repo: str) -> list[str] | None:
        """Every tag of ``repo`` (None: no such repository)."""
        found: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list?n=1000"
        for _page in range(MAX_PAGES):
            if path is None:
                break
            resp = self.request("GET", path, repo)
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._fail(resp, f"listing the tags of {repo}")
            found += [t for t in (resp.json().get("tags") or []) if isinstance(t, str)]
            path = _next(resp)
        return found

    def catalog(self) -> list[str]:
        """Every repository the registry lists (``/v2/_catalog``)."""
        found: list[str] = []
        path: str | None = "/v2/_catalog?n=1000"
        for _page in range(MAX_PAGES):
            if path is None:
                break
            resp = self.request("GET", path, None)
            if resp.status_code in (401, 403, 404, 405):
                raise RegistryError(
                    f"the OCI registry {self.host} does not let mlpm list its repositories "
                    f"(HTTP {resp.status_code} for /v2/_catalog), so search cannot work there; "
                    "use `mlpm info NAME` with a package name instead.")
            if resp.status_code != 200:
                raise self._fail(resp, "listing its repositories")
            found += [r for r in (resp.json().get("repositories") or []) if isinstance(r, str)]
            path = _next(resp)
        return found

    def manifest(self, repo: str, ref: str) -> tuple[str, dict[str, Any]] | None:
        """(digest, manifest) of ``repo:ref`` (a tag or a digest); None when there is none."""
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", repo,
                            headers={"Accept": _ACCEPT}, stream=True)
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise self._fail(resp, f"reading the manifest {repo}:{ref}")
            body = resp.raw.read(MAX_MANIFEST + 1, decode_content=True)
        if len(body) > MAX_MANIFEST:
            raise RegistryError(f"the manifest {repo}:{ref} on {self.host} is larger than "
                                f"{MAX_MANIFEST >> 20} MiB; ask the registry's owner to check it.")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        said = resp.headers.get("Docker-Content-Digest")
        if ref.startswith("sha256:") and digest != ref:
            raise RegistryError(f"the OCI registry {self.host} answered {repo}@{ref} with "
                                "other bytes; it is damaged or tampered with.")
        if said and said.startswith("sha256:") and said != digest:
            raise RegistryError(f"the manifest {repo}:{ref} on {self.host} does not match its "
                                "digest header; the registry is damaged or tampered with.")
        try:
            data = json.loads(body)
        except ValueError:
            raise RegistryError(f"the manifest {repo}:{ref} on {self.host} is not JSON.") \
                from None
        if not isinstance(data, dict):
            raise RegistryError(f"the manifest {repo}:{ref} on {self.host} is not an object.")
        return digest, data

    def blob(self, repo: str, digest: str, limit: int) -> bytes:
        """A small blob (a record, an index), read whole and verified against its digest."""
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", repo, stream=True)
        with resp:
            if resp.status_code != 200:
                raise self._fail(resp, f"reading the blob {digest[:19]}… of {repo}")
            body = resp.raw.read(limit + 1, decode_content=True)
        if len(body) > limit:
            raise RegistryError(f"the blob {digest[:19]}… of {repo} on {self.host} is larger "
                                f"than {limit >> 20} MiB, more than mlpm reads.")
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise RegistryError(f"the blob {digest[:19]}… of {repo} on {self.host} does not "
                                "match its digest; the registry is damaged or tampered with.")
        return body

    def has_blob(self, repo: str, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo, push=True)
        resp.close()
        if resp.status_code in (401, 403):
            raise self.refused(resp, f"reading {repo}")
        return resp.status_code == 200

    def blob_url(self, repo: str, digest: str) -> str:
        return f"{self.base}/v2/{repo}/blobs/{digest}"

    def pull_authorization(self, repo: str) -> dict[str, str]:
        """The header a download of ``repo``'s blobs needs (asks for a token if it must)."""
        scope = f"repository:{repo}:pull"
        if scope not in self._tokens and not self._basic:
            self.request("GET", "/v2/", repo).close()  # a 401 here says which auth it wants
        return self.authorization(scope)

    # -- writing ----------------------------------------------------------------------------

    def upload(self, repo: str, digest: str, size: int, path: Path | None = None,
               data: bytes | None = None, mount_from: str | None = None) -> None:
        """Upload a blob unless it is there: mounted from ``mount_from`` when the registry
        has it there, else POST then one PUT of the whole body."""
        if self.has_blob(repo, digest):
            return
        query = {"mount": digest, "from": mount_from} if mount_from else None
        resp = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo, push=True,
                            params=query)
        resp.close()
        if resp.status_code == 201:
            return  # mounted
        if resp.status_code != 202 or "Location" not in resp.headers:
            raise self._fail(resp, f"starting an upload to {repo}")
        from urllib.parse import urljoin

        location = urljoin(self.base + "/", resp.headers["Location"])
        if not location.startswith(self.base + "/"):
            raise RegistryError(f"the OCI registry {self.host} sent an upload location on "
                                "another host; mlpm does not send the model there.")
        sep = "&" if "?" in location else "?"
        path_only = location[len(self.base):] + f"{sep}digest={digest}"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if path is not None:
            with open(path, "rb") as fh:
                put = self.request("PUT", path_only, repo, push=True, headers=headers, data=fh)
        else:
            put = self.request("PUT", path_only, repo, push=True, headers=headers, data=data)
        put.close()
        if put.status_code != 201:
            raise self._fail(put, f"uploading a blob to {repo}")

    def put_manifest(self, repo: str, ref: str, body: bytes) -> str:
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", repo, push=True,
                            headers={"Content-Type": OCI_MANIFEST}, data=body)
        resp.close()
        if resp.status_code != 201:
            raise self._fail(resp, f"writing the manifest {repo}:{ref}")
        return "sha256:" + hashlib.sha256(body).hexdigest()


def _next(resp: Any) -> str | None:
    """The next page of a paginated list (the ``Link: <...>; rel="next"`` header)."""
    link = resp.headers.get("Link", "")
    match = re.match(r'\s*<([^>]+)>\s*;\s*rel="?next"?', link)
    if not match or not match.group(1).startswith("/v2/"):
        return None
    return match.group(1)


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "..."
