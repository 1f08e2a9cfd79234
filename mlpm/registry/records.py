"""Package names, index paths and version records: the data a registry holds.

A record is one JSON object on one line of a package's index file; see
docs/reference/registry-index.md for the format. Records are immutable once
published except for the ``yanked`` flag (as in Cargo's index).
"""

from __future__ import annotations

import json
import re

from mlpm.errors import InvalidName, InvalidSpec

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

# Lower-case ASCII only: no look-alikes, no path tricks, the same on every file system.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PREFIX = re.compile(r"[0-9a-f]{4,64}")

#: Formats a record's artifacts may have, and the framework each needs to load.
FORMAT_FRAMEWORK = {
    "onnx": "onnx",
    "torchscript": "torch",
    "exported-program": "torch",
    "state-dict": "torch",
    "torch-hub": "torch",
    "savedmodel": "tensorflow",
    "tflite": "tensorflow",
}

FILE_SUFFIX_FORMAT = {".onnx": "onnx", ".pt": "torchscript", ".pt2": "exported-program"}


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid package name, else raise ``InvalidName``.

    >>> check_name("resnet50")
    'resnet50'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        shown = name if isinstance(name, str) and name.isprintable() else repr(name)
        raise InvalidName(
            f"'{shown}' is not a valid package name: use lower-case letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit (at most 64)."
        )
    return name


def check_sha256(digest: str, what: str = "artifact") -> str:
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ValueError(f"the {what}'s sha256 '{digest}' is not 64 lower-case hex digits.")
    return digest


def index_path(name: str) -> str:
    """Where a package's index file lives, relative to ``index/`` (Cargo's layout).

    >>> index_path("a"), index_path("abc"), index_path("resnet50")
    ('1/a', '3/a/abc', 're/sn/resnet50')
    """
    check_name(name)
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``NAME[@RANGE]`` into a checked name and the range text (None when absent).

    >>> parse_spec("resnet50@1.2")
    ('resnet50', '1.2')
    """
    from mlpm import semver

    name, sep, rng = spec.partition("@")
    check_name(name)
    if not sep:
        return name, None
    rng = rng.strip()
    if not rng:
        raise InvalidSpec(f"'{spec}' has an empty range after '@': write e.g. {name}@1.2 "
                          f"or {name}@^1.2.0.")
    try:
        semver.parse_range(rng)
    except ValueError:
        raise InvalidSpec(
            f"'{rng}' in '{spec}' is not a valid version range: use e.g. {name}@1.2, "
            f"{name}@^1.2.0, {name}@~1.2.3 or {name}@\">=1.0.0 <2.0.0\"."
        ) from None
    return name, rng


class Artifact:
    """One file of a package version, addressed by its sha256 (immutable).

    ``sha256`` is empty for a public artifact whose full digest is not published (only
    torch.hub's 8-hex ``sha256_prefix``, or nothing for a hub code archive): mlpm checks
    the prefix on download and pins the full digest in mlpm.lock at first install.
    ``role`` tells the parts of a multi-file package apart ("code", "weights", "model");
    ``upstream`` is the URL the model's own code would download it from, which mlpm
    serves from its store instead.
    """

    __slots__ = ("format", "path", "sha256", "size", "url", "role", "upstream", "sha256_prefix")
    _OPTIONAL = ("role", "upstream", "sha256_prefix")

    def __init__(self, format: str, path: str, sha256: str, size: int | None, url: str,  # noqa: A002
                 role: str | None = None, upstream: str | None = None,
                 sha256_prefix: str | None = None):
        set_ = object.__setattr__
        set_(self, "format", format)
        set_(self, "path", path)  # file name inside the package, e.g. "model.onnx"
        set_(self, "sha256", sha256)
        set_(self, "size", size)
        set_(self, "url", url)  # relative to the registry root, or an absolute http(s) URL
        set_(self, "role", role)
        set_(self, "upstream", upstream)
        set_(self, "sha256_prefix", sha256_prefix)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Artifact is immutable")

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Artifact({self.format!r}, {self.path!r}, {self.sha256[:12]!r}..., {self.size})"

    @property
    def pinned(self) -> bool:
        """Whether the full sha256 is known (else it is pinned at first install)."""
        return bool(self.sha256)

    def pin(self, sha256: str, size: int) -> Artifact:
        """This artifact with its full digest and size, as measured on first download."""
        return Artifact(self.format, self.path, sha256, size, self.url, self.role,
                        self.upstream, self.sha256_prefix)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"format": self.format, "path": self.path}
        if self.sha256:
            data["sha256"] = self.sha256
        if self.size is not None:
            data["size"] = self.size
        data["url"] = self.url
        for key in self._OPTIONAL:
            if getattr(self, key) is not None:
                data[key.replace("_", "-")] = getattr(self, key)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Artifact:
        sha = str(data.get("sha256") or "")
        prefix = data.get("sha256-prefix")
        if not sha and not prefix and not str(data.get("url", "")).startswith("http"):
            raise ValueError("an artifact in the registry needs its sha256")
        if prefix is not None and not _PREFIX.fullmatch(str(prefix)):
            raise ValueError(f"the artifact's sha256-prefix '{prefix}' is not hex digits")
        return cls(format=str(data["format"]), path=_check_relative(str(data["path"]), "path"),
                   sha256=check_sha256(sha) if sha else "",
                   size=_check_size(data.get("size")),
                   url=_check_url(str(data["url"])), role=data.get("role"),
                   upstream=data.get("upstream"),
                   sha256_prefix=str(prefix) if prefix is not None else None)


def _check_size(size: Any) -> int | None:
    """A byte count: a non-negative whole number (not a bool, float, inf or nan)."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"the artifact size {size!r} is not a whole number of bytes")
    return size


def _check_relative(text: str, what: str) -> str:
    """A path inside the registry or package: no '..', no absolute path, no NUL."""
    parts = text.replace("\\", "/").split("/")
    if not text or text.startswith("/") or "\x00" in text or ".." in parts or ":" in parts[0]:
        raise ValueError(f"the artifact {what} '{text}' escapes its folder")
    return text


def _check_url(url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    return _check_relative(url, "url")


# Fields every record has, in the order they are written; anything else is kept in `extra`.
_CORE = ("name", "version", "framework", "artifacts", "dependencies", "yanked")


class Record:
    """One published version of a package, as one line of the sparse index."""

    def __init__(self, name: str, version: str, framework: str, artifacts: list[Artifact],
                 dependencies: dict[str, str] | None = None, yanked: bool = False,
                 extra: dict[str, Any] | None = None):
        self.name = name
        self.version = version
        self.framework = framework
        self.artifacts = artifacts
        self.dependencies = dependencies or {}  # name -> range
        self.yanked = yanked
        self.extra = extra or {}  # description, license, metrics, ...

    def __repr__(self) -> str:
        return f"Record({self.name}@{self.version}{', yanked' if self.yanked else ''})"

    @property
    def formats(self) -> list[str]:
        seen: list[str] = []
        for art in self.artifacts:
            if art.format not in seen:
                seen.append(art.format)
        return seen

    @property
    def size(self) -> int:
        return sum(a.size or 0 for a in self.artifacts)

    def get(self, key: str, default: Any = None) -> Any:
        return self.extra.get(key, default)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "framework": self.framework,
            "artifacts": [a.to_json() for a in self.artifacts],
            "dependencies": dict(self.dependencies),
            "yanked": self.yanked,
        }
        data.update(self.extra)
        return data

    def to_line(self) -> str:
        return json.dumps(self.to_json(), sort_keys=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        from mlpm import semver

        name = check_name(data["name"])
        version = str(semver.parse_version(data["version"]))
        deps = {check_name(k): str(v) for k, v in (data.get("dependencies") or {}).items()}
        return cls(
            name=name,
            version=version,
            framework=str(data.get("framework", "")),
            artifacts=[Artifact.from_json(a) for a in data.get("artifacts", [])],
            dependencies=deps,
            yanked=bool(data.get("yanked", False)),
            extra={k: v for k, v in data.items() if k not in _CORE},
        )


def parse_index_file(name: str, text: str) -> list[Record]:
    """Parse a package's index file; a malformed line is an error naming the package."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = Record.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"the registry's index file for '{name}' is corrupt at line {lineno} ({exc}); "
                "ask the registry's owner to repair it."
            ) from None
        if record.name != name:
            raise ValueError(
                f"the registry's index file for '{name}' holds a record for '{record.name}'; "
                "ask the registry's owner to repair it."
            )
        records.append(record)
    return records
