"""The registry's upstreams index: from where a model comes from to the packages that name it.

    upstreams/head.json     {"mlpm-upstreams": 1}: the registry keeps this index
    upstreams/<ab>/<cd>     JSON lines {"key": KEY, "name": NAME, "version": VERSION}, where
                            abcd... is the sha256 of KEY (``shard_rel``)

A key is an upstream written one way (``torch_hub_key``, ``tfhub_key``, ``url_key``): a
PyTorch Hub repo and entrypoint, a TF Hub handle, or a URL the model's code downloads
from. ``mlpm adopt`` looks a key up in one shard (one GET over HTTP, cached and revalidated
like an index file) instead of reading every index file, then reads the few packages it
names to pick the version whose upstream matches. ``mlpm publish`` appends a new version's
lines; ``mlpm registry reindex`` rebuilds every shard from ``index/``
(docs/reference/registry-index.md, "Upstreams").

>>> url_key("HTTPS://Download.PyTorch.org/models/resnet50-0676ba61.pth#x")
'url:download.pytorch.org/models/resnet50-0676ba61.pth'
>>> tfhub_key("https://tfhub.dev/google/nnlm-en-dim50/2/?tf-hub-format=compressed")
'tfhub:tfhub.dev/google/nnlm-en-dim50/2'
>>> shard_rel(torch_hub_key("pytorch/vision", "resnet50"))[:10]
'upstreams/'
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mlpm.files import append_line
from mlpm.registry import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mlpm.registry import Registry
    from mlpm.registry.records import Record

FORMAT = 1
UPSTREAMS_DIR = layout.UPSTREAMS_DIR
HEAD_REL = layout.UPSTREAMS_HEAD_REL
MAX_SHARD_BYTES = 16 << 20  # a shard holds the lines of keys sharing 16 bits of a hash
MAX_KEY_CHARS = 2048
# TF Hub's mirror in China serves the same handles as tfhub.dev.
_TFHUB_HOSTS = {"hub.tensorflow.google.cn": "tfhub.dev", "www.tfhub.dev": "tfhub.dev"}


def torch_hub_key(repo: str, entrypoint: str) -> str:
    """A PyTorch Hub model: ``owner/repo`` (any case, as GitHub treats it) and entrypoint."""
    return f"torch-hub:{repo.strip().lower()}:{entrypoint.strip()}"


def tfhub_key(handle: str) -> str:
    """A TF Hub handle, without scheme, query (``?tf-hub-format=...``), fragment or final
    ``/``, its host in lower case."""
    from urllib.parse import urlsplit

    text = handle.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    host = _TFHUB_HOSTS.get(host, host)
    return f"tfhub:{host}{parts.path.rstrip('/')}"


def url_key(url: str) -> str:
    """A download URL, without scheme or fragment, its host in lower case."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and parts.port not in (80, 443):
        host += f":{parts.port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"url:{host}{parts.path}{query}"


def keys_of(record: Record) -> list[str]:
    """The keys a version is found by: its ``upstream`` table, and the absolute URLs of its
    weights and model files (``url`` and ``upstream``; hub code archives are left out)."""
    keys: list[str] = []
    up = record.upstream or {}
    kind, repo, entry = up.get("type"), up.get("repo"), up.get("entrypoint")
    if kind == "torch-hub" and isinstance(repo, str) and isinstance(entry, str):
        keys.append(torch_hub_key(repo, entry))
    handle = up.get("handle")
    if kind == "tfhub" and isinstance(handle, str):
        keys.append(tfhub_key(handle))
    if isinstance(up.get("url"), str) and _is_http(up["url"]):
        keys.append(url_key(up["url"]))
    for art in record.artifacts:
        if art.role == "code":
            continue
        keys += [url_key(u) for u in (art.upstream, art.url) if isinstance(u, str) and _is_http(u)]
    return [k for k in dict.fromkeys(keys) if len(k) <= MAX_KEY_CHARS]


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def shard_rel(key: str) -> str:
    """The shard a key's lines live in, relative to the registry root."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{UPSTREAMS_DIR}/{digest[:2]}/{digest[2:4]}"


def _line(key: str, record: Record) -> str:
    return json.dumps({"key": key, "name": record.name, "version": record.version},
                      ensure_ascii=False, separators=(",", ":")) + "\n"


# -- writing (a registry folder, under .publish.lock) ---------------------------------------


def has_index(root: Path) -> bool:
    try:
        head = json.loads((root / HEAD_REL).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and head.get("mlpm-upstreams") == FORMAT


def record_added(root: Path, record: Record) -> None:
    """After publish wrote a version's record: append its lines to their shards, or build
    the whole index once when the registry has none yet (made by an older mlpm)."""
    if not has_index(root):
        reindex(root)
        return
    for key in keys_of(record):
        path = root / shard_rel(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        append_line(path, _line(key, record))


def reindex(root: Path) -> int:
    """Rebuild every shard from ``index/`` (each replaced atomically, shards no key needs
    any more removed), then ``head.json``; returns how many lines were written. An
    unreadable index file is left out (``mlpm registry reindex`` reports it)."""
    from mlpm.registry.records import index_path, parse_index_file
    from mlpm.store import write_atomic

    shards: dict[str, list[str]] = {}
    index_dir = root / layout.INDEX_DIR
    for dirpath, _dirs, files in os.walk(index_dir):
        for fname in sorted(files):
            path = Path(dirpath) / fname
            try:
                if index_path(fname) != path.relative_to(index_dir).as_posix():
                    continue  # not an index file (a stray temp file)
                records = parse_index_file(fname, path.read_text("utf-8"), str(root))
            except (ValueError, OSError, UnicodeDecodeError):
                continue
            for record in records:
                for key in keys_of(record):
                    shards.setdefault(shard_rel(key), []).append(_line(key, record))
    folder = root / UPSTREAMS_DIR
    for rel, lines in shards.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / rel, "".join(sorted(lines)), durable=False)
    if folder.is_dir():
        for dirpath, _dirs, files in os.walk(folder):
            for fname in files:
                rel = (Path(dirpath) / fname).relative_to(root).as_posix()
                if rel != HEAD_REL and rel not in shards:
                    (Path(dirpath) / fname).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(root / HEAD_REL, json.dumps({"mlpm-upstreams": FORMAT}) + "\n")
    return sum(len(lines) for lines in shards.values())


# -- reading --------------------------------------------------------------------------------


class Upstreams:
    """The upstreams index of one registry, as read by ``mlpm adopt``: each shard read once.

    ``available`` is False for a registry without the index (an older folder registry not
    reindexed yet, an OCI registry): nothing can be found by upstream there.
    """

    def __init__(self, registry: Registry):
        self.registry = registry
        self._read = _reader(registry)
        self._shards: dict[str, list[dict[str, str]]] = {}
        self._available: bool | None = None  # head.json is read at the first lookup

    @property
    def available(self) -> bool:
        if self._available is None:
            self._available = self._read is not None and _head_ok(self._read(HEAD_REL))
        return self._available

    @property
    def consulted(self) -> bool:
        """Whether anything was looked up (the registry was read) at all."""
        return self._available is not None

    def lookup(self, key: str) -> list[tuple[str, str]]:
        """The (package, version) pairs whose record names ``key``, in the order listed."""
        if not self.available or self._read is None:
            return []
        rel = shard_rel(key)
        if rel not in self._shards:
            self._shards[rel] = _parse_shard(self._read(rel) or "")
        return list(dict.fromkeys((e["name"], e["version"]) for e in self._shards[rel]
                                  if e["key"] == key))


def _head_ok(text: str | None) -> bool:
    try:
        head = json.loads(text) if text else None
    except ValueError:
        return False
    return isinstance(head, dict) and head.get("mlpm-upstreams") == FORMAT


def _parse_shard(text: str) -> list[dict[str, str]]:
    """The shard's well-formed lines (a torn or hostile line is skipped: every hit is
    checked against the package's own index file anyway)."""
    from mlpm import semver
    from mlpm.registry.records import check_name

    entries = []
    for line in text[:MAX_SHARD_BYTES].split("\n"):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if isinstance(data, dict) and all(isinstance(data.get(k), str)
                                               for k in ("key", "name", "version")) \
                    and semver.valid(data["version"]) is not None:
                check_name(data["name"])
                entries.append({k: data[k] for k in ("key", "name", "version")})
        except ValueError:
            continue
    return entries


def _reader(registry: Registry):
    """How to read a file of the registry by its path from the root (None if missing), or
    None for a kind of registry without an upstreams index."""
    from mlpm.registry import HttpRegistry, LocalRegistry

    if isinstance(registry, LocalRegistry):
        root = registry.path

        def read_local(rel: str) -> str | None:
            try:
                with open(root / rel, "rb") as fh:
                    return fh.read(MAX_SHARD_BYTES).decode("utf-8", "replace")
            except (FileNotFoundError, NotADirectoryError):
                return None

        return read_local
    if isinstance(registry, HttpRegistry):
        return registry._get  # cached and revalidated by ETag, like an index file
    return None
