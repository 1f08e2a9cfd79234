"""The typed result of each command that takes ``--json``: its JSON schema, in one place.

One frozen class per command (pipx's ``OperationResult`` is the model): the fields,
declared in ``__slots__`` in the order the JSON lists them, *are* the schema of
docs/reference/json.md. Each class is built from the operation's public attributes
(``from_*``), never from an object's ``__dict__``, and ``to_json()`` gives the command's
data, which ``mlpm.cli.commands.common.emit_json`` wraps in the envelope
(``{"schema": 1, "command": ...}``, ``mlpm.cli.render.envelope``).

Records a command passes through as the registry or an operation wrote them (``info``,
``publish``, ``convert``, ``audit``) are ``Record`` results: the record with snake_case
keys (``mlpm.cli.render.snake_keys``).

Only the click commands import this module, and only for ``--json``: it stays off the
start-up paths, and it uses no ``dataclasses`` or ``typing`` at import all the same.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, ClassVar


def _json(value: Any) -> Any:
    """A field's value as JSON data: results and lists of results become dicts and lists."""
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value


class Result:
    """A frozen result: its fields are its ``__slots__``, set once by ``__init__``.

    ``to_json()`` maps each field, in order, to its value (nested results as dicts);
    a subclass overrides it only where a key is present or absent by the data.
    """

    __slots__: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """The field names, in JSON order: the ``__slots__`` of the class and its bases."""
        return tuple(name for klass in reversed(cls.__mro__)
                     for name in klass.__dict__.get("__slots__", ()))

    def _set(self, **values: Any) -> None:
        for name in self.fields():
            object.__setattr__(self, name, values.pop(name))
        if values:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.fields())

    __hash__ = None  # type: ignore[assignment]  # fields may be lists

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.fields())
        return f"{type(self).__name__}({fields})"

    def to_json(self) -> dict[str, Any]:
        """The command's --json data (without the envelope), keys in snake_case."""
        return {name: _json(getattr(self, name)) for name in self.fields()}


# -- install, upgrade, remove ------------------------------------------------------------


class Change(Result):
    """A locked package that changed: ``old`` None when added, ``new`` None when removed."""

    __slots__ = ("name", "old", "new")
    name: str
    old: str | None
    new: str | None

    def __init__(self, name: str, old: str | None, new: str | None) -> None:
        self._set(name=name, old=old, new=new)

    @classmethod
    def from_op(cls, change: Any) -> Change:
        return cls(change.name, change.old, change.new)


class InstallResult(Result):
    """``install`` / ``upgrade``: what changed, the ranges saved, what was (would be) fetched."""

    __slots__ = ("dry_run", "changes", "saved", "packages", "notes", "fetched_files",
                 "fetched_bytes", "unknown_sizes")
    dry_run: bool
    changes: list[Change]
    saved: dict[str, str]
    packages: int
    notes: list[str]
    fetched_files: int
    fetched_bytes: int
    unknown_sizes: int

    def __init__(self, *, dry_run: bool, changes: list[Change], saved: dict[str, str],
                 packages: int, notes: list[str], fetched_files: int, fetched_bytes: int,
                 unknown_sizes: int) -> None:
        self._set(dry_run=dry_run, changes=changes, saved=saved, packages=packages,
                  notes=notes, fetched_files=fetched_files, fetched_bytes=fetched_bytes,
                  unknown_sizes=unknown_sizes)

    @classmethod
    def from_op(cls, result: Any) -> InstallResult:
        """From ``mlpm.ops.install.InstallResult``."""
        return cls(dry_run=getattr(result, "dry_run", False),
                   changes=[Change.from_op(c) for c in result.changes],
                   saved=dict(result.saved), packages=result.packages,
                   notes=list(getattr(result, "notes", [])),
                   fetched_files=result.fetched_files, fetched_bytes=result.fetched_bytes,
                   unknown_sizes=getattr(result, "unknown_sizes", 0))


class RemoveResult(Result):
    """``remove``: the packages that leave the lock and the cache space freed."""

    __slots__ = ("dry_run", "changes", "freed_files", "freed_bytes")
    dry_run: bool
    changes: list[Change]
    freed_files: int
    freed_bytes: int

    def __init__(self, *, dry_run: bool, changes: list[Change], freed_files: int,
                 freed_bytes: int) -> None:
        self._set(dry_run=dry_run, changes=changes, freed_files=freed_files,
                  freed_bytes=freed_bytes)

    @classmethod
    def from_op(cls, result: Any) -> RemoveResult:
        """From ``mlpm.ops.remove.RemoveResult``."""
        return cls(dry_run=getattr(result, "dry_run", False),
                   changes=[Change.from_op(c) for c in result.changes],
                   freed_files=result.freed_files, freed_bytes=result.freed_bytes)


class OutdatedPackage(Result):
    """One row of ``outdated``: locked, newest in range, newest release; how it breaks."""

    __slots__ = ("name", "current", "wanted", "latest", "direct", "range", "breaking")
    name: str
    current: str
    wanted: str | None
    latest: str | None
    direct: bool
    range: str | None
    breaking: list[str]

    def __init__(self, *, name: str, current: str, wanted: str | None, latest: str | None,
                 direct: bool, range: str | None, breaking: list[str]) -> None:
        self._set(name=name, current=current, wanted=wanted, latest=latest, direct=direct,
                  range=range, breaking=breaking)

    @classmethod
    def from_op(cls, row: Any) -> OutdatedPackage:
        """From ``mlpm.ops.install.Outdated``."""
        return cls(name=row.name, current=row.current, wanted=row.wanted, latest=row.latest,
                   direct=row.direct, range=row.range, breaking=list(row.breaking))


class OutdatedResult(Result):
    """``outdated``."""

    __slots__ = ("packages",)
    packages: list[OutdatedPackage]

    def __init__(self, packages: list[OutdatedPackage]) -> None:
        self._set(packages=packages)

    @classmethod
    def from_op(cls, rows: Iterable[Any]) -> OutdatedResult:
        return cls([OutdatedPackage.from_op(r) for r in rows])


# -- list, tree, why, search ---------------------------------------------------------------


class Package(Result):
    """One locked package of ``list``."""

    __slots__ = ("name", "version", "direct", "range", "framework", "formats", "size",
                 "registry", "dependents")
    name: str
    version: str
    direct: bool
    range: str | None
    framework: str
    formats: list[str]
    size: int
    registry: str | None
    dependents: list[str]

    def __init__(self, *, name: str, version: str, direct: bool, range: str | None,
                 framework: str, formats: list[str], size: int, registry: str | None,
                 dependents: list[str]) -> None:
        self._set(name=name, version=version, direct=direct, range=range,
                  framework=framework, formats=formats, size=size, registry=registry,
                  dependents=dependents)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Package:
        """From a row of ``mlpm.ops.query.list_packages``."""
        return cls(**{name: row[name] for name in cls.fields()})


class ListResult(Result):
    """``list``."""

    __slots__ = ("packages",)
    packages: list[Package]

    def __init__(self, packages: list[Package]) -> None:
        self._set(packages=packages)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> ListResult:
        return cls([Package.from_row(r) for r in rows])


class TreeNode(Result):
    """A node of ``tree``: a package where its dependent needs it, and its dependencies.
    ``deduped``: listed elsewhere with its dependencies (the key appears only then)."""

    __slots__ = ("name", "range", "version", "dependencies", "deduped")
    name: str
    range: str | None
    version: str | None
    dependencies: list[TreeNode]
    deduped: bool

    def __init__(self, *, name: str, range: str | None, version: str | None,
                 dependencies: list[TreeNode], deduped: bool = False) -> None:
        self._set(name=name, range=range, version=version, dependencies=dependencies,
                  deduped=deduped)

    @classmethod
    def from_nodes(cls, nodes: list[dict[str, Any]]) -> list[TreeNode]:
        """From ``mlpm.ops.query.tree``; built without recursion (a lock may be deeper
        than Python's stack)."""
        order: list[dict[str, Any]] = []  # every node, each after its parent
        todo: list[dict[str, Any]] = list(nodes)
        while todo:
            node = todo.pop()
            order.append(node)
            todo.extend(node["dependencies"])
        built: dict[int, TreeNode] = {}
        for node in reversed(order):  # children before parents
            built[id(node)] = cls(name=node["name"], range=node["range"],
                                  version=node["version"],
                                  dependencies=[built[id(c)] for c in node["dependencies"]],
                                  deduped=bool(node.get("deduped")))
        return [built[id(n)] for n in nodes]

    def to_json(self) -> dict[str, Any]:
        """Without recursion, like ``from_nodes``."""
        out: dict[int, dict[str, Any]] = {}
        order: list[TreeNode] = []
        todo: list[TreeNode] = [self]
        while todo:
            node = todo.pop()
            order.append(node)
            todo.extend(node.dependencies)
        for node in reversed(order):
            data: dict[str, Any] = {"name": node.name, "range": node.range,
                                    "version": node.version,
                                    "dependencies": [out[id(c)] for c in node.dependencies]}
            if node.deduped:
                data["deduped"] = True
            out[id(node)] = data
        return out[id(self)]


class TreeResult(Result):
    """``tree``: one node per direct dependency."""

    __slots__ = ("dependencies",)
    dependencies: list[TreeNode]

    def __init__(self, dependencies: list[TreeNode]) -> None:
        self._set(dependencies=dependencies)

    @classmethod
    def from_nodes(cls, nodes: list[dict[str, Any]]) -> TreeResult:
        return cls(TreeNode.from_nodes(nodes))


class Step(Result):
    """One package on a chain of ``why``."""

    __slots__ = ("name", "version")
    name: str
    version: str

    def __init__(self, name: str, version: str) -> None:
        self._set(name=name, version=version)


class Chain(Result):
    """One way the project needs a package: from a direct dependency (with its manifest
    range) down to the package."""

    __slots__ = ("range", "path")
    range: str | None
    path: list[Step]

    def __init__(self, range: str | None, path: list[Step]) -> None:
        self._set(range=range, path=path)


class WhyResult(Result):
    """``why``: the chains listed (the shortest first), and how many exist in all."""

    __slots__ = ("name", "version", "chains", "total")
    name: str
    version: str | None
    chains: list[Chain]
    total: int

    def __init__(self, *, name: str, version: str | None, chains: list[Chain],
                 total: int) -> None:
        self._set(name=name, version=version, chains=chains, total=total)

    @classmethod
    def from_chains(cls, name: str, chains: list[list[str]], direct: dict[str, str],
                    total: int) -> WhyResult:
        """``chains``: the text chains ``mlpm.ops.query.why`` returns, each opening with
        the project and then ``NAME@VERSION`` labels; ``direct``: the manifest's ranges."""
        out: list[Chain] = []
        for chain in chains:
            path: list[Step] = []
            for label in chain[1:]:
                pkg, sep, at = label.partition("@")
                if sep:
                    path.append(Step(pkg, at))
            if path:
                out.append(Chain(direct.get(path[0].name), path))
        version = out[0].path[-1].version if out else None
        return cls(name=name, version=version, chains=out, total=total)


class Hit(Result):
    """One package ``search`` found: its newest release."""

    __slots__ = ("name", "version", "framework", "task", "description")
    name: str
    version: str
    framework: str
    task: str | None
    description: str

    def __init__(self, *, name: str, version: str, framework: str, task: str | None,
                 description: str) -> None:
        self._set(name=name, version=version, framework=framework, task=task,
                  description=description)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Hit:
        """From a hit of ``mlpm.ops.query.search``."""
        return cls(**{name: row[name] for name in cls.fields()})


class SearchResult(Result):
    """``search``: the hits shown, and how many more match (at least that many when
    ``more_exact`` is false)."""

    __slots__ = ("packages", "more", "more_exact")
    packages: list[Hit]
    more: int
    more_exact: bool

    def __init__(self, packages: list[Hit], more: int = 0, more_exact: bool = True) -> None:
        self._set(packages=packages, more=more, more_exact=more_exact)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]], more: int = 0,
                  more_exact: bool = True) -> SearchResult:
        return cls([Hit.from_row(r) for r in rows], more, more_exact)


# -- records passed through: info, diff, convert, publish, audit ---------------------------


class Record(Result):
    """A record an operation returns as data (``info``: the registry's record and what
    mlpm knows of it; ``diff``; ``convert``: the conversion entry; ``publish``: the
    record written; ``audit``: the report), with snake_case keys except inside maps keyed
    by names (docs/reference/json.md lists the keys of each)."""

    __slots__ = ("data",)
    data: dict[str, Any]

    def __init__(self, data: dict[str, Any]) -> None:
        from mlpm.cli.render import snake_keys

        self._set(data=snake_keys(data))

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


class AuditResult(Record):
    """``audit``: ``ok``, ``checked``, ``findings``, ``unchecked``. The envelope's
    ``schema`` versions the output, so the report's own ``version`` (for library callers
    of ``AuditReport.to_json``) is left out."""

    __slots__ = ()

    @classmethod
    def from_report(cls, report: Any) -> AuditResult:
        return cls({k: v for k, v in report.to_json().items() if k != "version"})


# -- trust, cache --------------------------------------------------------------------------


class TrustList(Result):
    """``trust --list``: the sources trusted.toml keeps, and those MLPM_TRUST adds."""

    __slots__ = ("trusted", "from_env")
    trusted: list[str]
    from_env: list[str]

    def __init__(self, trusted: list[str], from_env: list[str]) -> None:
        self._set(trusted=trusted, from_env=from_env)


class CacheEntry(Result):
    """A cached blob or conversion, with the package@versions, formats, files and projects
    that use it. ``sha256``: blobs only (the key is absent for a conversion)."""

    __slots__ = ("kind", "id", "sha256", "size", "packages", "formats", "files", "projects",
                 "path")
    kind: str
    id: str
    sha256: str | None
    size: int
    packages: list[str]
    formats: list[str]
    files: list[str]
    projects: list[str]
    path: str

    def __init__(self, *, kind: str, id: str, sha256: str | None, size: int,
                 packages: list[str], formats: list[str], files: list[str],
                 projects: list[str], path: str) -> None:
        self._set(kind=kind, id=id, sha256=sha256, size=size, packages=packages,
                  formats=formats, files=files, projects=projects, path=path)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        if self.kind != "blob":
            del data["sha256"]
        return data


class CacheList(Result):
    """``cache list``."""

    __slots__ = ("entries",)
    entries: list[CacheEntry]

    def __init__(self, entries: list[CacheEntry]) -> None:
        self._set(entries=entries)


class CacheVerify(Result):
    """``cache verify``: blobs re-hashed, and the sha256 of the corrupt ones."""

    __slots__ = ("checked", "corrupt")
    checked: int
    corrupt: list[str]

    def __init__(self, checked: int, corrupt: list[str]) -> None:
        self._set(checked=checked, corrupt=corrupt)


class CachePrune(Result):
    """``cache prune``: files and bytes freed (or that would be, with ``dry_run``)."""

    __slots__ = ("files", "bytes", "dry_run")
    files: int
    bytes: int
    dry_run: bool

    def __init__(self, files: int, bytes: int, dry_run: bool) -> None:
        self._set(files=files, bytes=bytes, dry_run=dry_run)


# -- adopt ----------------------------------------------------------------------------------


class AdoptSite(Result):
    """One call site and what it maps to (``how``: exact, name, unresolved, unmapped)."""

    __slots__ = ("file", "line", "cell", "where", "kind", "call", "args", "unresolved", "how",
                 "package", "version", "source", "revision", "reason")
    file: str
    line: int
    cell: int | None
    where: str
    kind: str
    call: str
    args: dict[str, Any]
    unresolved: dict[str, str]
    how: str
    package: str | None
    version: str | None
    source: str | None
    revision: str | None
    reason: str

    def __init__(self, **fields: Any) -> None:
        self._set(**fields)

    @classmethod
    def from_mapping(cls, m: Any) -> AdoptSite:
        """From ``mlpm.adopt.sites.Mapping``."""
        site = m.site
        return cls(file=site.file.as_posix(), line=site.line, cell=site.cell, where=site.where,
                   kind=site.kind, call=site.call, args=dict(site.args),
                   unresolved={n: site.reasons.get(n, "") for n in site.unresolved},
                   how=m.how, package=m.package, version=m.version, source=m.source,
                   revision=m.revision, reason=m.reason)


class AdoptResult(Result):
    """``adopt``: every call site found, the counts per ``how``, the files not read, and
    under ``--write`` what was added (``written``: null without --write)."""

    __slots__ = ("root", "registry", "files", "sites", "counts", "skipped", "written")
    root: str
    registry: str
    files: int
    sites: list[AdoptSite]
    counts: dict[str, int]
    skipped: list[dict[str, str]]
    written: dict[str, Any] | None

    def __init__(self, **fields: Any) -> None:
        self._set(**fields)

    @classmethod
    def from_op(cls, adoption: Any, written: Any) -> AdoptResult:
        """From ``mlpm.adopt.report.Adoption`` and ``mlpm.adopt.write.Written`` (None: no
        --write)."""
        done = None
        if written is not None:
            install = written.install
            done = {"manifest": str(written.manifest) if written.manifest else None,
                    "created": written.created, "specs": list(written.specs),
                    "saved": dict(install.saved) if install else {},
                    "changes": [{"name": c.name, "old": c.old, "new": c.new}
                                for c in (install.changes if install else [])],
                    "notes": list(written.notes)}
        return cls(root=str(adoption.root), registry=adoption.registry, files=adoption.files,
                   sites=[AdoptSite.from_mapping(m) for m in adoption.mappings],
                   counts=adoption.counts(),
                   skipped=[{"file": f, "reason": why} for f, why in adoption.skipped],
                   written=done)


class AdoptCachesResult(Result):
    """``adopt --caches [--prune]``: each framework cache and what it holds, the files
    imported into the store, the verified duplicates, and what --prune deleted and freed."""

    __slots__ = ("caches", "total", "imported", "present", "folders", "duplicate_bytes",
                 "pruned", "freed", "problems")
    caches: list[dict[str, Any]]
    total: int
    imported: list[dict[str, Any]]
    present: list[dict[str, Any]]
    folders: list[dict[str, Any]]
    duplicate_bytes: int
    pruned: list[str]
    freed: int
    problems: list[str]

    def __init__(self, **fields: Any) -> None:
        self._set(**fields)

    @classmethod
    def from_op(cls, adoption: Any) -> AdoptCachesResult:
        """From ``mlpm.adopt.caches.CacheAdoption``."""
        return cls(**adoption.to_json())
