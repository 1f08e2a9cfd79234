"""Resolution: a resolvelib provider over model -> model dependencies with semver ranges.

The newest version that satisfies every range wins, except that a locked version is
reused while it still fits and its package is not being upgraded (pdm's
ReusePinProvider idea: `mlpm upgrade a` moves `a`, not everything). Yanked versions
are never newly chosen but a locked one keeps working. A conflict is explained as a
chain of who needs what, never as "ResolutionImpossible".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mlpm import semver
from mlpm.errors import NoMatchingVersion, ResolutionConflict
from mlpm.registry import Registry
from mlpm.registry.records import Record

PROJECT = "the project"


@dataclass(frozen=True)
class Requirement:
    name: str
    range: str
    parent: str | None = None  # "name@version" of the package that needs it; None: the project

    @property
    def who(self) -> str:
        return self.parent or PROJECT

    def __str__(self) -> str:
        return f"{self.name}@{self.range}"


@dataclass(frozen=True)
class Candidate:
    record: Record

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def version(self) -> str:
        return self.record.version

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def _sort_key(record: Record):
    return semver.parse_version(record.version)


TYPE_CHECKING = False  # resolvelib loads lazily; the type checker still sees the base
if TYPE_CHECKING:
    from resolvelib.providers import AbstractProvider

    _ProviderBase = AbstractProvider[Requirement, Candidate, str]
else:
    _ProviderBase = object


class Provider(_ProviderBase):
    """resolvelib provider (duck-typed to AbstractProvider so resolvelib loads lazily)."""

    def __init__(self, registry: Registry, locked: Mapping[str, str], unpinned: set[str] | None):
        self.registry = registry
        self.locked = dict(locked)
        self.unpinned = unpinned  # None: every package may move
        self.needed_by: dict[str, set[str]] = {}

    def _pin(self, name: str) -> str | None:
        if self.unpinned is not None and name not in self.unpinned:
            return self.locked.get(name)
        return None

    def identify(self, requirement_or_candidate) -> str:
        return requirement_or_candidate.name

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        conflicted = any(c.requirement.name == identifier for c in backtrack_causes)
        return (not conflicted, self._pin(identifier) is None, identifier)

    def narrow_requirement_selection(self, identifiers, resolutions, candidates, information,
                                     backtrack_causes):
        return identifiers

    def find_matches(self, identifier, requirements, incompatibilities):
        ranges = [semver.parse_range(r.range) for r in requirements[identifier]]
        bad = {c.version for c in incompatibilities[identifier]}
        locked = self.locked.get(identifier)
        records = sorted(self.registry.records(identifier), key=_sort_key, reverse=True)
        matches = [
            Candidate(rec) for rec in records
            if rec.version not in bad
            and (not rec.yanked or rec.version == locked)
            and all(rng.allows(rec.version) for rng in ranges)
        ]
        pin = self._pin(identifier)
        if pin is not None:
            matches.sort(key=lambda c: c.version != pin)  # stable: the pin first, then newest
        return matches

    def is_satisfied_by(self, requirement, candidate) -> bool:
        return semver.satisfies(candidate.version, requirement.range)

    def get_dependencies(self, candidate):
        label = str(candidate)
        reqs = []
        # Routed by the registry when it spans several sources (mlpm/sources): an edge may
        # cross from a registry to the Hugging Face Hub.
        depends = getattr(self.registry, "depends", None)
        edges = depends(candidate.record) if depends is not None else \
            candidate.record.dependencies.items()
        for name, rng in edges:
            self.needed_by.setdefault(name, set()).add(label)
            reqs.append(Requirement(name, rng, label))
        return reqs


@dataclass
class Resolution:
    """The chosen record per package and who needs whom."""

    records: dict[str, Record]
    edges: dict[str, dict[str, str]]  # name -> {dependency name: chosen version}


def resolve(registry: Registry, requirements: Mapping[str, str], *,
            locked: Mapping[str, str] | None = None,
            unpinned: Iterable[str] | None = None) -> Resolution:
    """Choose one version per package satisfying every range, reusing locked pins.

    ``unpinned`` names the packages allowed to move away from their locked version
    (None: all of them, as a fresh resolve or a full upgrade).
    """
    from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver

    provider = Provider(registry, locked or {}, None if unpinned is None else set(unpinned))
    roots = [Requirement(name, rng) for name, rng in requirements.items()]
    for root in roots:
        provider.needed_by.setdefault(root.name, set()).add(PROJECT)
    resolver = Resolver(provider, BaseReporter())
    try:
        result = resolver.resolve(roots, max_rounds=10_000)
    except ResolutionImpossible as exc:
        raise _explain(registry, exc.causes, provider) from None
    except ResolutionTooDeep:
        raise ResolutionConflict(
            "the dependency graph is too tangled to resolve in 10,000 rounds; pin some "
            "packages to exact versions in mlpm.toml and retry."
        ) from None
    records = {name: cand.record for name, cand in result.mapping.items()}
    edges = {name: {dep: records[dep].version for dep in rec.dependencies}
             for name, rec in records.items()}
    return Resolution(records, edges)


def _available(registry: Registry, name: str) -> list[str]:
    recs = sorted((r for r in registry.records(name) if not r.yanked), key=_sort_key)
    return [r.version for r in recs]


def _explain(registry: Registry, causes, provider: Provider) -> Exception:
    """Turn resolvelib's causes into one sentence naming every package involved."""
    reqs: list[Requirement] = []
    for cause in causes:
        if cause.requirement not in reqs:
            reqs.append(cause.requirement)
    # A single range that nothing satisfies is not a conflict: say what exists.
    for req in reqs:
        available = _available(registry, req.name)
        if not any(semver.satisfies(v, req.range) for v in available):
            shown = ", ".join(available[-8:]) or "none"
            who = "" if req.parent is None else f" (needed by {req.parent})"
            yanked = sorted((r for r in registry.records(req.name)
                             if r.yanked and semver.satisfies(r.version, req.range)),
                            key=_sort_key)
            if yanked:  # say why the version asked for is not installable
                why = yanked[-1].yanked_reason
                what = (f"{req.name}@{yanked[-1].version} is yanked" if len(yanked) == 1 else
                        f"every version of {req.name} matching {req.range} is yanked "
                        f"(newest: {yanked[-1].version})")
                return NoMatchingVersion(
                    what + (f" ({why})" if why else "") + f"{who}; choose another version "
                    f"(`mlpm info {req.name}` lists them)"
                    + (f", e.g. {req.name}@^{available[-1]}." if available else "."))
            return NoMatchingVersion(
                f"no version of {req.name} matches {req.range}{who}; available: {shown}. "
                f"Use a range that includes one of them, e.g. {req.name}@^{available[-1]}."
                if available else
                f"{req.name} has no installable version (all are yanked){who}; choose "
                "another package or ask its publisher."
            )
    name = reqs[0].name
    parts = [f"{r.who} needs {r}" for r in reqs]
    chain = []
    for req in reqs:
        if req.parent:
            parent_name = req.parent.split("@", 1)[0]
            whos = sorted(provider.needed_by.get(parent_name, set()))
            if whos:
                chain.append(f"{req.parent} is there because {' and '.join(whos)} "
                             f"need{'s' if len(whos) == 1 else ''} {parent_name}")
    text = f"cannot install {name}: " + ", but ".join(parts)
    if chain:
        text += " (" + "; ".join(chain) + ")"
    dependents = list(dict.fromkeys(r.parent.split("@", 1)[0] for r in reqs if r.parent))
    fix = (f"change the range of {name} in the manifest, or use versions of "
           f"{' and '.join(dependents)} that accept the same {name}" if dependents
           else "make the ranges in the manifest agree")
    return ResolutionConflict(f"{text}. Fix: {fix}.")
