"""Registries: a directory or an HTTP(S) base URL holding a sparse index and artifacts.

    config.json                 {"mlpm-registry": 1}
    names                       every package name, one a line (for suggestions and search)
    index/<prefix>/<name>       one JSON record a line, one line a version, append-only
    artifacts/<ab>/<sha256>     artifact bytes, byte for byte, by content

Resolving reads only the index files of the packages in the graph. See
docs/reference/registry-index.md.
"""

from __future__ import annotations

import abc
import os
import sys
from pathlib import Path

from mlpm.errors import DamagedIndex, InvalidName, MlpmError, PackageNotFound, RegistryError
from mlpm.registry import layout
from mlpm.registry.records import (
    MAX_INDEX_FILE_BYTES,
    Artifact,
    Record,
    check_name,
    parse_index_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future
    from queue import SimpleQueue

BUNDLED = "bundled"
PREFETCH_THREADS = 8  # index files an HttpRegistry fetches at once
CONFIG = {"mlpm-registry": 1}


def bundled_path() -> Path:
    """The bundled registry: ``mlpm/_bundled_registry/`` in an installed wheel (the build
    copies the repository's top-level registry-index/ there, see pyproject.toml), else
    registry-index/ beside the mlpm package (a source checkout, an editable install)."""
    package = Path(__file__).resolve().parents[1]
    inside = package / "_bundled_registry"
    return inside if inside.is_dir() else package.parent / "registry-index"


def canonical(location: str | os.PathLike, base: Path | None = None) -> str:
    """The string a registry is recorded as: ``bundled``, a URL, ``oci://HOST/NAMESPACE``,
    or an absolute path."""
    text = str(location).strip()
    if text == BUNDLED:
        return BUNDLED
    if text.startswith(("http://", "https://")):
        from mlpm.urls import check_http_url

        try:  # by its parts: a dot segment or user info would name another place
            check_http_url(text)
        except ValueError as exc:
            raise RegistryError(f"{exc}, so it cannot name a registry; give the registry's "
                                "plain URL, e.g. https://models.example.com/registry/.") \
                from None
        return text.rstrip("/") + "/"
    if text.startswith("oci://"):
        from mlpm.registry.oci_client import split_location

        try:
            host, namespace = split_location(text)
        except ValueError as exc:
            raise RegistryError(f"{exc}.") from None
        return f"oci://{host}/{namespace}"
    if text.startswith("file://"):
        from mlpm.fetch import local_path

        text = str(local_path(text))
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    resolved = path.resolve()
    return BUNDLED if resolved == bundled_path() else str(resolved)


class Registry(abc.ABC):
    """Read access to one registry; records are fetched per package and memoised."""

    def __init__(self, location: str):
        self.location = location
        self._records: dict[str, list[Record]] = {}

    @abc.abstractmethod
    def _read_index(self, name: str) -> str | None:
        """The text of ``name``'s index file, or None when the package does not exist."""

    @abc.abstractmethod
    def _read_names(self) -> list[str]:
        """Every package name the registry lists."""

    @abc.abstractmethod
    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        """Where to fetch ``artifact`` (of the package ``name``) from: a URL or a path."""

    def records(self, name: str) -> list[Record]:
        """Every published version of ``name`` (yanked ones included), oldest first."""
        check_name(name)
        if name not in self._records:
            try:
                text = self._read_index(name)
            except UnicodeDecodeError as exc:
                raise DamagedIndex(
                    f"the index file for '{name}' in the registry {self.display} is not UTF-8 "
                    f"text at line {_line_of(exc)} ({exc.reason}); ask the registry's owner to "
                    "repair it.") from None
            if text is None:
                raise self._not_found(name)
            try:
                self._records[name] = parse_index_file(name, text, self.display)
            except ValueError as exc:
                raise DamagedIndex(f"{exc}") from None
        return self._records[name]

    def prefetch(self, names: Iterable[str]) -> None:  # noqa: B027 (a no-op by default)
        """Start reading the index files of ``names`` ahead of ``records``, in parallel where
        that helps (an HTTP registry); never raises: ``records`` reports any failure."""

    def record(self, name: str, version: str) -> Record:
        for rec in self.records(name):
            if rec.version == version:
                return rec
        raise PackageNotFound(
            f"{name}@{version} is not in the registry {self.display}; run `mlpm info {name}` "
            "to see the versions it has."
        )

    def exists(self, name: str) -> bool:
        try:
            self.records(name)
        except PackageNotFound:
            return False
        return True

    def names(self, strict: bool = False) -> list[str]:
        """Every valid package name the registry lists; an unreachable registry is an error
        only when ``strict`` (search needs the list; a did-you-mean hint does without it).
        A line that is not a valid name is skipped, with a warning on stderr when strict."""
        try:
            listed = self._read_names()
        except UnicodeDecodeError as exc:
            if not strict:
                return []
            raise DamagedIndex(f"the names file of the registry {self.display} is not UTF-8 text "
                               f"at line {_line_of(exc)} ({exc.reason}); ask the registry's "
                               "owner to repair it.") from None
        except (RegistryError, OSError):
            if strict:
                raise
            return []
        good = [n for n in listed if _valid_name(n)]
        if strict and len(good) < len(listed):  # one bad line must not hide the others
            bad = [n for n in listed if not _valid_name(n)]
            shown = bad[0] if bad[0].isprintable() else repr(bad[0])
            what = (f"'{shown}', which is not a valid package name" if len(bad) == 1 else
                    f"'{shown}' and {len(bad) - 1} more lines that are not valid package names")
            print(f"warning: the names file of the registry {self.display} lists {what}; "
                  "search skipped them (ask the registry's owner to repair the file).",
                  file=sys.stderr)
        return good

    def _not_found(self, name: str) -> PackageNotFound:
        close = self._close_names(name)
        hint = (f"did you mean {', '.join(close)}?" if close
                else "check the spelling, or run `mlpm search` to find a package.")
        return PackageNotFound(f"no such package '{name}' in the registry {self.display}; {hint}")

    def _close_names(self, name: str) -> list[str]:
        """Did-you-mean: from the search index's bounded candidates when the registry has
        one, else difflib over every name; a hint never fails the command."""
        from mlpm.errors import MlpmError

        try:
            from mlpm.registry.search import suggestions

            close = suggestions(self, name)
        except (MlpmError, OSError, ArithmeticError, LookupError, ValueError):
            close = None
        except Exception as exc:  # sqlite3.Error: a broken cache database
            if type(exc).__module__ != "sqlite3":
                raise
            close = None
        if close is None:
            import difflib

            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        return close

    @property
    def display(self) -> str:
        return "bundled with mlpm" if self.location == BUNDLED else self.location


def _line_of(exc: UnicodeDecodeError) -> int:
    """The line of the undecodable byte, for a message the registry's owner can act on."""
    return bytes(exc.object).count(b"\n", 0, exc.start) + 1


def _valid_name(name: str) -> bool:
    try:
        check_name(name)
    except InvalidName:
        return False
    return True


class LocalRegistry(Registry):
    """A registry in a directory: read directly, and the only kind one can publish into."""

    def __init__(self, location: str, path: Path):
        super().__init__(location)
        self.path = path

    def _read_index(self, name: str) -> str | None:
        try:
            with open(layout.index_file(self.path, name), "rb") as fh:
                if os.fstat(fh.fileno()).st_size > MAX_INDEX_FILE_BYTES:  # never read it all
                    raise DamagedIndex(
                        f"the index file for '{name}' in the registry {self.display} is larger "
                        f"than {MAX_INDEX_FILE_BYTES >> 20} MiB; ask the registry's owner to "
                        "repair it.")
                return fh.read().decode("utf-8")
        except FileNotFoundError:
            return None

    def _read_names(self) -> list[str]:
        names = layout.names_file(self.path)
        # A line of bad bytes becomes a name check_name refuses, not a failed read.
        raw = names.read_bytes() if names.is_file() else b""
        return raw.decode("utf-8", "surrogateescape").split()

    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        if artifact.url.startswith(("http://", "https://")):
            return artifact.url
        return str(self.path / artifact.url)


class HttpRegistry(Registry):
    """A registry served over HTTP(S); index files are cached and revalidated by ETag, and
    ``prefetch`` reads several at once (PREFETCH_THREADS requests in flight)."""

    def __init__(self, location: str, store, offline: bool):
        super().__init__(location)
        self.store = store
        self.offline = offline
        self._pending: dict[str, Future[str | None]] = {}  # name -> its index file's text

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the index files of ``names`` not read yet on the prefetch threads (each
        has its own HTTP session, fetch.py's ``_local``); ``records(name)`` then takes the
        result, or its exception, instead of fetching again."""
        if self.offline:  # the cache is read in no time
            return
        from concurrent.futures import Future

        from mlpm.fetch import fresh_index_file

        queue = None
        cache = self.store.index_cache(self.location)
        for name in names:
            # a name read already, or not valid (records(name) reports it), is skipped
            if name in self._records or name in self._pending or not _valid_name(name):
                continue
            rel = layout.index_rel(name)
            future: Future[str | None] = Future()
            self._pending[name] = future
            try:
                text = fresh_index_file(cache / rel)
            except MlpmError:  # MLPM_INDEX_TTL is wrong: the fetch (records) says so
                text = None
            if text is not None and not _looks_like_html(text):
                future.set_result(text)  # inside its freshness window: no thread needed
                continue
            queue = queue or _prefetch_queue()
            queue.put((self._get, rel, future))

    def _get(self, rel: str) -> str | None:
        from mlpm.fetch import get_index_file

        cache = self.store.index_cache(self.location) / rel
        text = get_index_file(self.location + rel, cache, offline=self.offline)
        if text is not None and _looks_like_html(text):
            raise RegistryError(f"{self.location} is not an mlpm registry: it answered with an "
                                f"HTML page for {rel}; check the registry URL (the folder that "
                                "holds config.json and index/).")
        return text

    def _read_index(self, name: str) -> str | None:
        pending = self._pending.pop(name, None)
        if pending is not None:
            return pending.result()  # raises what the fetch raised
        return self._get(layout.index_rel(name))

    def _read_names(self) -> list[str]:
        text = self._get(layout.NAMES_REL)
        if text is None and self._get(layout.CONFIG_REL) is None:
            raise RegistryError(f"{self.location} is not an mlpm registry: it has no "
                                "config.json; check the registry URL (the folder that holds "
                                "config.json and index/).")
        return text.split() if text else []

    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        if artifact.url.startswith(("http://", "https://")):
            return artifact.url
        return self.location + artifact.url


_PREFETCH: SimpleQueue | None = None  # (fetch, rel, future): work for the prefetch threads


def _prefetch_queue() -> SimpleQueue:
    """The queue that PREFETCH_THREADS daemon threads, shared by every HttpRegistry of the
    process, take index files to fetch from. Daemon threads, not a ThreadPoolExecutor: the
    interpreter's exit (an error, Ctrl-C) must not wait for index files nobody will read."""
    global _PREFETCH
    if _PREFETCH is None:
        import threading
        from queue import SimpleQueue

        queue: SimpleQueue = SimpleQueue()
        for i in range(PREFETCH_THREADS):
            threading.Thread(target=_prefetcher, args=(queue,), name=f"mlpm-index-{i}",
                             daemon=True).start()
        _PREFETCH = queue
    return _PREFETCH


def _prefetcher(queue: SimpleQueue) -> None:
    while True:
        fetch, rel, future = queue.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fetch(rel))
            except BaseException as exc:  # noqa: BLE001 (records(name) raises it)
                future.set_exception(exc)
        del fetch, future  # hold no registry while waiting


def _looks_like_html(text: str) -> bool:
    """Index files are JSON lines and `names` is names: a page starting with a tag is a web
    server's answer (a login page, an SPA fallback, a directory listing)."""
    head = text[:512].lstrip("\ufeff \t\r\n").lower()
    return head.startswith("<")


def open_registry(location: str, store=None, offline: bool = False) -> Registry:
    """Open a registry given as recorded by ``canonical`` (``bundled``, URL or path)."""
    if location.startswith(("http://", "https://")):
        if store is None:
            from mlpm.store import Store

            store = Store()
        return HttpRegistry(location, store, offline)
    path = bundled_path() if location == BUNDLED else Path(location)
    if not layout.config_file(path).is_file():
        if location == BUNDLED:
            raise RegistryError(
                f"the bundled registry is missing at {path}; reinstall mlpm from its repository "
                "or pass --registry URL."
            )
        raise RegistryError(
            f"{path} is not an mlpm registry (no config.json); pass the folder that holds "
            "config.json and index/, or create one with `mlpm publish FILE --registry DIR`."
        )
    return LocalRegistry(location, path)


def init_registry_dir(path: Path) -> None:
    """Make ``path`` an empty registry if it is not one yet."""
    import json

    from mlpm.store import write_atomic

    path.mkdir(parents=True, exist_ok=True)
    if not layout.config_file(path).exists():
        write_atomic(layout.config_file(path), json.dumps(CONFIG, indent=2) + "\n")
