"""Sources: the places one project's packages come from, seen by the resolver as one.

A project may mix sources (docs/reference/manifest.md, "Sources"): its default registry,
named registries (``[registries]``, ``registry = "team"``) and Hugging Face repositories
(``hf = "ORG/REPO"``). ``Sources`` routes each package name to its own, the way cargo
routes a dependency to its ``registry``:

1. a direct dependency goes where the manifest says (the default registry when it says
   nothing);
2. a package some record depends on goes where that record says: the same registry as
   the record (cargo's rule), or the source it names (``dependency-sources``: an adapter's
   base model on the Hub);
3. a Hugging Face package only the lock remembers (a base model) stays on the Hub.

One name from two places is a conflict, told as one sentence. Everything else is the
``Registry`` seam: ``records(name)`` from the source the name is routed to.
"""

from __future__ import annotations

from mlpm.errors import ResolutionConflict
from mlpm.project import HF_PREFIX
from mlpm.registry import Registry
from mlpm.registry.records import Artifact, Record

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from mlpm.project import Lock, Project, Source



def open_source(location: str, store, offline: bool) -> Registry:
    """The registry a location names: ``hf:ORG/REPO``, ``oci://HOST/NAMESPACE``, or what
    ``open_registry`` opens (a folder, an HTTP registry, the bundled one)."""
    if location.startswith(HF_PREFIX):
        from mlpm.sources.hf import HfRepo

        return HfRepo(location[len(HF_PREFIX):], store, offline)
    if location.startswith("oci://"):
        from mlpm.registry.oci import OciRegistry

        return OciRegistry(location, store, offline)
    from mlpm.registry import open_registry

    return open_registry(location, store, offline)


class Sources(Registry):
    """Every source one resolution reads, each package name routed to its own."""

    def __init__(self, opener, default: str):
        super().__init__(default)
        self.opener = opener  # location -> Registry (the session's, so each opens once)
        self.default = default
        self.where: dict[str, str] = {}  # name -> location, as the manifest or a record says
        self.why: dict[str, str] = {}  # name -> who said so, for the conflict sentence
        self.hints: dict[str, str] = {}  # name -> hf location only the lock remembers
        self.commits: dict[str, str] = {}  # name -> the commit mlpm.lock pins (Hub packages)

    @classmethod
    def for_project(cls, session, project: Project, default: str,
                    lock: Lock | None = None) -> Sources:
        sources = cls(session.open, default)
        if lock is not None:
            for pkg in lock.packages.values():
                asked = project.sources.get(pkg.name)
                # A commit pin holds while the manifest still asks for that revision there.
                if pkg.commit and (asked is None or (asked.rev == pkg.revision and
                                                     project.source_location(pkg.name)
                                                     == pkg.registry)):
                    sources.commits[pkg.name] = pkg.commit
                if pkg.registry.startswith(HF_PREFIX):
                    sources.hints[pkg.name] = pkg.registry
        for name in dict.fromkeys([*project.dependencies, *project.sources]):
            location = project.source_location(name) or default
            sources.route(name, location, "the project", project.sources.get(name),
                          project.options.get(name, {}).get("format"))
        return sources

    def route(self, name: str, location: str, who: str, source: Source | None = None,
              format: str | None = None) -> None:  # noqa: A002
        before = self.where.get(name)
        if before is not None and before != location:
            raise ResolutionConflict(
                f"two packages are named {name}: {self.why[name]} takes it from "
                f"{_shown(before)}, {who} from {_shown(location)}; give the project's one "
                f"another name (`mlpm install ... --name OTHER`), or take both from one place.")
        if before is None:
            self.where[name] = location
            self.why[name] = who
            registry = self.opener(location)
            if hasattr(registry, "want"):
                registry.want(name, source, self.commits.get(name), format)

    def location_of(self, name: str) -> str:
        return self.where.get(name) or self.hints.get(name) or self.default

    def registry_of(self, name: str) -> Registry:
        location = self.location_of(name)
        if name not in self.where and location.startswith(HF_PREFIX):
            self.route(name, location, "mlpm.lock")
        return self.opener(location)

    # -- the Registry seam ----------------------------------------------------------------

    def records(self, name: str) -> list[Record]:
        return self.registry_of(name).records(name)

    def prefetch(self, names) -> None:
        """Ask each source for the index files of ``names`` ahead of the resolver (an HTTP
        registry fetches them in parallel; the others read them when asked)."""
        by_location: dict[str, list[str]] = {}
        for name in names:
            by_location.setdefault(self.location_of(name), []).append(name)
        for location, wanted in by_location.items():
            prefetch = getattr(self.opener(location), "prefetch", None)
            if prefetch is not None:
                prefetch(wanted)

    def depends(self, record: Record) -> list[tuple[str, str]]:
        """A record's dependencies, each routed: to the source the record names for it, else
        to the record's own registry."""
        own = self.location_of(record.name)
        deps = record.dependencies  # first: a Hub record reads its files (and sources) here
        named = record.get("dependency-sources") or {}
        out = []
        for dep, rng in deps.items():
            where = named.get(dep) if isinstance(named, dict) else None
            self.route(dep, where if isinstance(where, str) else own,
                       f"{record.name}@{record.version}")
            out.append((dep, rng))
        return out

    def _read_index(self, name: str) -> str | None:  # records() is overridden
        raise NotImplementedError

    def _read_names(self) -> list[str]:
        return self.opener(self.default).names()

    def artifact_url(self, artifact: Artifact, name: str | None = None) -> str:
        raise NotImplementedError("ask the package's own registry (registry_of)")

    @property
    def display(self) -> str:
        return self.opener(self.default).display


def _shown(location: str) -> str:
    if location.startswith(HF_PREFIX):
        return f"the Hugging Face repository {location[len(HF_PREFIX):]}"
    return "the bundled registry" if location == "bundled" else f"the registry {location}"
