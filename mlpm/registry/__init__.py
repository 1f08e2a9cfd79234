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
from pathlib import Path

from mlpm.errors import PackageNotFound, RegistryError
from mlpm.registry.records import Artifact, Record, check_name, index_path, parse_index_file

BUNDLED = "bundled"
CONFIG = {"mlpm-registry": 1}


def bundled_path() -> Path:
    """The registry-index/ folder shipped beside the mlpm package."""
    return Path(__file__).resolve().parents[2] / "registry-index"


def canonical(location: str | os.PathLike, base: Path | None = None) -> str:
    """The string a registry is recorded as: ``bundled``, a URL, or an absolute path."""
    text = str(location).strip()
    if text == BUNDLED:
        return BUNDLED
    if text.startswith(("http://", "https://")):
        return text.rstrip("/") + "/"
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
    def artifact_url(self, artifact: Artifact) -> str:
        """Where to fetch ``artifact`` from: a URL or a local path."""

    def records(self, name: str) -> list[Record]:
        """Every published version of ``name`` (yanked ones included), oldest first."""
        check_name(name)
        if name not in self._records:
            text = self._read_index(name)
            if text is None:
                raise self._not_found(name)
            try:
                self._records[name] = parse_index_file(name, text)
            except ValueError as exc:
                raise RegistryError(f"{exc}") from None
        return self._records[name]

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

    def names(self) -> list[str]:
        try:
            return self._read_names()
        except (RegistryError, OSError):
            return []

    def _not_found(self, name: str) -> PackageNotFound:
        import difflib

        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        hint = (f"did you mean {', '.join(close)}?" if close
                else "check the spelling, or run `mlpm search` to find a package.")
        return PackageNotFound(f"no such package '{name}' in the registry {self.display}; {hint}")

    @property
    def display(self) -> str:
        return "bundled with mlpm" if self.location == BUNDLED else self.location


class LocalRegistry(Registry):
    """A registry in a directory: read directly, and the only kind one can publish into."""

    def __init__(self, location: str, path: Path):
        super().__init__(location)
        self.path = path

    def _read_index(self, name: str) -> str | None:
        try:
            return (self.path / "index" / index_path(name)).read_text()
        except FileNotFoundError:
            return None

    def _read_names(self) -> list[str]:
        names = self.path / "names"
        return names.read_text().split() if names.is_file() else []

    def artifact_url(self, artifact: Artifact) -> str:
        if artifact.url.startswith(("http://", "https://")):
            return artifact.url
        return str(self.path / artifact.url)


class HttpRegistry(Registry):
    """A registry served over HTTP(S); index files are cached and revalidated by ETag."""

    def __init__(self, location: str, store, offline: bool):
        super().__init__(location)
        self.store = store
        self.offline = offline

    def _get(self, rel: str) -> str | None:
        from mlpm.fetch import get_index_file

        cache = self.store.index_cache(self.location) / rel
        return get_index_file(self.location + rel, cache, offline=self.offline)

    def _read_index(self, name: str) -> str | None:
        return self._get("index/" + index_path(name))

    def _read_names(self) -> list[str]:
        text = self._get("names")
        return text.split() if text else []

    def artifact_url(self, artifact: Artifact) -> str:
        if artifact.url.startswith(("http://", "https://")):
            return artifact.url
        return self.location + artifact.url


def open_registry(location: str, store=None, offline: bool = False) -> Registry:
    """Open a registry given as recorded by ``canonical`` (``bundled``, URL or path)."""
    if location.startswith(("http://", "https://")):
        if store is None:
            from mlpm.store import Store

            store = Store()
        return HttpRegistry(location, store, offline)
    path = bundled_path() if location == BUNDLED else Path(location)
    if not (path / "config.json").is_file():
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
    if not (path / "config.json").exists():
        write_atomic(path / "config.json", json.dumps(CONFIG, indent=2) + "\n")
