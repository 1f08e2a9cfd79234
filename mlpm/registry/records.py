"""Package names, index paths and version records: the data a registry holds.

A record is one JSON object on one line of a package's index file; see
docs/reference/registry-index.md for the format. Records are immutable once
published except for the ``yanked`` flag (as in Cargo's index).
"""

from __future__ import annotations

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
        raise ValueError(f"the {what}'s sha256 '{digest}' is not 64 lower-case hex digits")
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
    # Declared for readers and the type checker; __init__ sets them past __setattr__.
    format: str
    path: str
    sha256: str
    size: int | None
    url: str
    role: str | None
    upstream: str | None
    sha256_prefix: str | None

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
        url = _check_url(data["url"])
        if not sha and not prefix and not _is_http(url):
            raise ValueError("an artifact in the registry needs its sha256")
        if prefix is not None and not _PREFIX.fullmatch(str(prefix)):
            raise ValueError(f"the artifact's sha256-prefix '{prefix}' is not hex digits")
        return cls(format=str(data["format"]), path=_check_relative(data["path"], "path"),
                   sha256=check_sha256(sha) if sha else "",
                   size=_check_size(data.get("size")),
                   url=url, role=data.get("role"),
                   upstream=data.get("upstream"),
                   sha256_prefix=str(prefix) if prefix is not None else None)


def _check_size(size: Any) -> int | None:
    """A byte count: a non-negative whole number (not a bool, float, inf or nan)."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"the artifact size {size!r} is not a whole number of bytes")
    return size


def _check_relative(text: Any, what: str) -> str:
    """A path inside the registry or package: relative, no '.' or '..' part, no backslash,
    NUL or other control character, no drive letter."""
    if not isinstance(text, str):
        raise ValueError(f"the artifact {what} {text!r} is not a string")
    parts = text.split("/")
    if not text or text.startswith("/") or "\\" in text or ":" in parts[0] or \
            any(p in (".", "..") for p in parts) or not text.isprintable():
        shown = text if text.isprintable() else repr(text)
        raise ValueError(f"the artifact {what} '{shown}' is not a plain relative path: it "
                         "could escape its folder")
    return text


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _check_url(url: Any) -> str:
    """An absolute http(s) URL or a path inside the registry, checked by its parts (dot
    segments, encoded or not, encoded slashes, user info are refused: mlpm/urls.py)."""
    from mlpm.urls import check_http_url, check_relative_url

    if not isinstance(url, str):
        raise ValueError(f"the artifact url {url!r} is not a string")
    if "://" in url or url.lower().startswith(("http:", "https:")):
        return check_http_url(url)
    return check_relative_url(url)


# The interface record's JSON keys and the attribute each is read by, in the order
# `mlpm/interface/build.py` writes them; anything else is kept, in place, in `unknown`.
_INTERFACE_FIELDS = (
    ("signatures", "signatures"),
    ("entrypoints", "entrypoints"),
    ("default-entrypoint", "default_entrypoint"),
    ("hub-dependencies", "hub_dependencies"),
    ("notes", "notes"),
    ("discovered", "discovered"),
    ("preprocessing", "preprocessing"),
    ("labels", "labels"),
    ("formats", "formats"),
)
_INTERFACE_ATTR = dict(_INTERFACE_FIELDS)


class Interface:
    """What a package version takes and gives: the ``interface`` object of its record
    (docs/reference/registry-index.md), also copied to mlpm.lock's ``[package.interface]``.

    Built at publish by ``mlpm/interface/build.py``; ``mlpm/interface/diff.py`` compares
    two of them. ``signatures`` and ``entrypoints`` stay JSON objects (name, inputs /
    outputs with dtype and shape; name, parameters, doc). A field the record does not have
    is None (``iface.signatures or []`` to iterate). ``formats`` holds each format's own
    signatures when a package publishes several formats (``{"onnx": {"signatures": [...]}}``);
    :meth:`signatures_for` answers for one format. ``from_json``/``to_json`` round-trip
    the JSON exactly: key order, keys present with null, and keys this class does not
    know (kept in ``unknown``).

        >>> iface = Interface.from_json({"signatures": [{"name": "main"}], "x-note": 1})
        >>> [s["name"] for s in iface.signatures or []], iface.entrypoints, iface.unknown
        (['main'], None, {'x-note': 1})
        >>> iface.to_json()
        {'signatures': [{'name': 'main'}], 'x-note': 1}
    """

    __slots__ = ("signatures", "entrypoints", "default_entrypoint", "hub_dependencies",
                 "notes", "discovered", "preprocessing", "labels", "formats", "unknown", "_keys")
    signatures: list[dict[str, Any]] | None  # ONNX / SavedModel / declared: name, inputs...
    entrypoints: list[dict[str, Any]] | None  # hubconf.py: name, parameters, doc, known...
    default_entrypoint: str | None
    hub_dependencies: list[str] | None  # hubconf.py's `dependencies`
    notes: Any  # what discovery could not tell (free text for people)
    discovered: list[str] | None  # which fields were read from the files, not declared
    preprocessing: Any  # the declared preprocessing contract
    labels: Any  # the declared label space
    formats: dict[str, Any] | None  # format -> {"signatures": [...]}, read from its own file
    unknown: dict[str, Any]  # any other key, kept as published
    _keys: list[str]  # the JSON keys, in order, of the record this was read from

    def __init__(self, signatures: list[dict[str, Any]] | None = None,
                 entrypoints: list[dict[str, Any]] | None = None,
                 default_entrypoint: str | None = None,
                 hub_dependencies: list[str] | None = None, notes: Any = None,
                 discovered: list[str] | None = None, preprocessing: Any = None,
                 labels: Any = None, unknown: dict[str, Any] | None = None,
                 formats: dict[str, Any] | None = None):
        self.signatures = signatures
        self.entrypoints = entrypoints
        self.default_entrypoint = default_entrypoint
        self.hub_dependencies = hub_dependencies
        self.notes = notes
        self.discovered = discovered
        self.preprocessing = preprocessing
        self.labels = labels
        self.formats = formats
        self.unknown = dict(unknown or {})
        self._keys = []

    @classmethod
    def from_json(cls, data: dict[str, Any] | Interface | None) -> Interface:
        """The interface of a JSON object (None or {}: an empty one; an Interface: itself)."""
        if isinstance(data, Interface):
            return data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"the interface is {_json_type(data)}, not an object")
        iface = cls()
        for key, value in data.items():
            attr = _INTERFACE_ATTR.get(key)
            if attr is None:
                iface.unknown[key] = value
            else:
                setattr(iface, attr, value)  # as published, null included
        iface._keys = list(data)
        return iface

    def to_json(self) -> dict[str, Any]:
        """The JSON object: the keys read, in their order, then any field set since."""
        keys = list(self._keys)
        for key, attr in _INTERFACE_FIELDS:
            value = getattr(self, attr)
            if key not in keys and value is not None:
                keys.append(key)
        keys += [k for k in self.unknown if k not in keys]
        data: dict[str, Any] = {}
        for key in keys:
            if key in _INTERFACE_ATTR:
                data[key] = getattr(self, _INTERFACE_ATTR[key])
            elif key in self.unknown:
                data[key] = self.unknown[key]
        return data

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interface) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __bool__(self) -> bool:
        return bool(self.to_json())

    def __repr__(self) -> str:
        names = [s.get("name") for s in self.signatures or () if isinstance(s, dict)] + \
            [e.get("name") for e in self.entrypoints or () if isinstance(e, dict)]
        return f"Interface({', '.join(str(n) for n in names)})"

    def signature(self, name: str, format: str | None = None) -> dict[str, Any] | None:  # noqa: A002
        """The signature called ``name`` (of ``format``'s own signatures when given), or None."""
        return next((s for s in self.signatures_for(format)
                     if isinstance(s, dict) and s.get("name") == name), None)

    def signatures_for(self, format: str | None = None) -> list[dict[str, Any]]:  # noqa: A002
        """The signatures of one format: its own when the record has them, else the
        package's ``signatures`` (a format whose file could not be read, or a record
        published before formats had their own).

            >>> iface = Interface.from_json({"signatures": [{"name": "serving_default"}],
            ...     "formats": {"onnx": {"signatures": [{"name": "main"}]}}})
            >>> [[s["name"] for s in iface.signatures_for(f)] for f in ("onnx", "tflite")]
            [['main'], ['serving_default']]
        """
        own = self.own_signatures(format) if format is not None else None
        if own is not None:
            return own
        return [s for s in self.signatures or () if isinstance(s, dict)]

    def own_signatures(self, format: str) -> list[dict[str, Any]] | None:  # noqa: A002
        """``format``'s own signatures as read from its file, or None when not recorded."""
        entry = self.formats.get(format) if isinstance(self.formats, dict) else None
        sigs = entry.get("signatures") if isinstance(entry, dict) else None
        return [s for s in sigs if isinstance(s, dict)] if isinstance(sigs, list) else None


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
        """The model formats, in artifact order (a samples file, role "samples", is none)."""
        seen: list[str] = []
        for art in self.artifacts:
            if art.format not in seen and art.role != "samples":
                seen.append(art.format)
        return seen

    @property
    def size(self) -> int:
        return sum(a.size or 0 for a in self.artifacts)

    def get(self, key: str, default: Any = None) -> Any:
        """A metadata field by its JSON key (kept for compatibility: read the properties)."""
        return self.extra.get(key, default)

    # The metadata fields mlpm reads, typed (docs/reference/registry-index.md). They read
    # and write `extra`, which keeps the record's JSON exactly as published.

    def _text(self, key: str) -> str | None:
        value = self.extra.get(key)
        return value if isinstance(value, str) else None

    def _table(self, key: str) -> dict[str, Any] | None:
        value = self.extra.get(key)
        return value if isinstance(value, dict) else None

    @property
    def description(self) -> str:
        return self._text("description") or ""

    @property
    def license(self) -> str | None:
        return self._text("license")

    @property
    def task(self) -> str | None:
        return self._text("task")

    @property
    def family(self) -> str | None:
        return self._text("family")

    @property
    def algorithm(self) -> str | None:
        return self._text("algorithm")

    @property
    def kind(self) -> str | None:
        """The package's kind: the format of its main artifact (``torch-hub``, ``onnx``...)."""
        return self._text("kind")

    @property
    def published(self) -> str | None:
        """When it was published, as ISO 8601 UTC (``2026-01-02T03:04:05Z``)."""
        return self._text("published")

    @property
    def release_notes(self) -> str:
        return self._text("release-notes") or ""

    @property
    def python_requires(self) -> list[str]:
        """PEP 508 requirements its code needs (a single string in older records)."""
        value = self.extra.get("python-requires")
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def fingerprint(self) -> str | None:
        """sha256 of the interface's contract (mlpm/interface/diff.py ``fingerprint``)."""
        return self._text("fingerprint")

    @property
    def weights_digest(self) -> str | None:
        """The ``weights`` digest: tells new weights from a repackaging (None: unknown)."""
        return self._text("weights")

    @property
    def code_digest(self) -> str | None:
        """The ``code`` digest: tells new code from a repackaging (None: unknown)."""
        return self._text("code")

    @property
    def format_digests(self) -> dict[str, dict[str, str]] | None:
        """Weights and code digests per format (``format-digests``), or None when the
        record has none: a single-format record's ``weights`` and ``code`` are its
        format's, an older multi-format record's are known only together."""
        table = self._table("format-digests")
        if table is None:
            if len(self.formats) == 1:
                own = {k: v for k, v in (("weights", self.weights_digest),
                                         ("code", self.code_digest)) if v}
                return {self.formats[0]: own}
            return None
        return {str(f): {k: v for k, v in d.items() if isinstance(v, str)}
                for f, d in table.items() if isinstance(d, dict)}

    @property
    def interface(self) -> Interface | None:
        """The interface record, or None when the record has none (unknown, not empty)."""
        data = self._table("interface")
        return Interface.from_json(data) if data is not None else None

    @interface.setter
    def interface(self, value: Interface | None) -> None:
        if value is None:
            self.extra.pop("interface", None)
        else:
            self.extra["interface"] = value.to_json()

    @property
    def upstream(self) -> dict[str, Any] | None:
        """Where the model comes from: ``repo``, ``ref``/``commit``, ``entrypoint``..."""
        return self._table("upstream")

    @property
    def metrics(self) -> dict[str, Any]:
        return self._table("metrics") or {}

    @property
    def advisories(self) -> list[dict[str, Any]]:
        """Security advisories against this version (malformed entries skipped)."""
        value = self.extra.get("advisories")
        return [a for a in value if isinstance(a, dict)] if isinstance(value, list) else []

    @property
    def yanked_reason(self) -> str | None:
        return self._text("yanked-reason")

    @yanked_reason.setter
    def yanked_reason(self, reason: str | None) -> None:
        self.extra.pop("yanked-reason", None)  # a new reason goes last, as yank writes it
        if reason is not None:
            self.extra["yanked-reason"] = reason

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
        import json

        return json.dumps(self.to_json(), sort_keys=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        from mlpm import semver

        name = check_name(data["name"])
        version = str(semver.parse_version(data["version"]))
        deps = {check_name(k): str(v) for k, v in (data.get("dependencies") or {}).items()}
        for key in _TABLES:
            if data.get(key) is not None and not isinstance(data[key], dict):
                raise ValueError(f"its '{key}' is {_json_type(data[key])}, not an object")
        return cls(
            name=name,
            version=version,
            framework=str(data.get("framework", "")),
            artifacts=[Artifact.from_json(a) for a in data.get("artifacts", [])],
            dependencies=deps,
            yanked=bool(data.get("yanked", False)),
            extra={k: v for k, v in data.items() if k not in _CORE},
        )


# Metadata fields that must be JSON objects when present (their readers index into them).
_TABLES = ("interface", "upstream", "metrics", "format-digests")
# Bounds on one record: the bundled registry's largest line is 5 kB and 8 levels deep.
MAX_RECORD_CHARS = 1 << 20
MAX_RECORD_DEPTH = 32
MAX_INDEX_FILE_BYTES = 64 << 20  # as an HTTP registry's index files are bounded in fetch


def _json_type(value: Any) -> str:
    kinds = {str: "a string", bool: "a boolean", int: "a number", float: "a number",
             list: "a list", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and lists more than ``limit`` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return False


def _parse_line(line: str) -> Record:
    if len(line) > MAX_RECORD_CHARS:
        raise ValueError(f"the line is longer than {MAX_RECORD_CHARS} characters")
    import json  # here, not at the top: a no-op install never parses a record

    try:
        data = json.loads(line)
    except RecursionError:  # the C decoder's answer to "[[[[...": thousands of levels
        raise ValueError(f"it nests more than {MAX_RECORD_DEPTH} levels deep") from None
    if not isinstance(data, dict):
        raise ValueError(f"it is {_json_type(data)}, not a JSON object")
    # Counting brackets is cheap; only a line with many of them is walked.
    if line.count("[") + line.count("{") > MAX_RECORD_DEPTH and \
            _too_deep(data, MAX_RECORD_DEPTH):
        raise ValueError(f"it nests more than {MAX_RECORD_DEPTH} levels deep")
    return Record.from_json(data)


def parse_index_file(name: str, text: str, registry: str | None = None) -> list[Record]:
    """Parse a package's index file; anything malformed is an error naming the package
    and ``registry``: a bad line, a record of another package, a version that appears
    twice (readers would silently disagree on which one counts) or no record at all.

        >>> parse_index_file("pkg", '{"name": "pkg", "version": "1.0.0"}')
        [Record(pkg@1.0.0)]
    """
    where = f"the index file for '{name}'" + (f" in the registry {registry}" if registry else "")
    fix = "ask the registry's owner to repair it."
    if len(text) > MAX_INDEX_FILE_BYTES:
        raise ValueError(f"{where} is larger than {MAX_INDEX_FILE_BYTES >> 20} MiB; {fix}")
    records: list[Record] = []
    seen: dict[str, int] = {}
    # split("\n"), not splitlines(): JSON strings may hold U+2028 and other line breaks.
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = _parse_line(line)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{where} is corrupt at line {lineno} ({detail}); {fix}") from None
        if record.name != name:
            raise ValueError(f"{where} holds a record for '{record.name}' at line {lineno}; "
                             f"{fix}")
        if record.version in seen:
            raise ValueError(f"{where} is damaged: version {record.version} appears twice (lines "
                             f"{seen[record.version]} and {lineno}), so which one counts is "
                             f"unclear; {fix}")
        seen[record.version] = lineno
        records.append(record)
    if not records:
        raise ValueError(f"{where} is empty: it lists no version; {fix}")
    return records
