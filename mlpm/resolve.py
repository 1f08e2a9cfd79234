"""Resolution: a resolvelib provider over model -> model dependencies with semver ranges.

The newest version that satisfies every range wins, except that a locked version is
reused while it still fits and its package is not being upgraded (pdm's
ReusePinProvider idea: `mlpm upgrade a` moves `a`, not everything). Yanked versions
are never newly chosen but a locked one keeps working. A conflict is explained as a
chain of who needs what, never as "ResolutionImpossible". Packages are pinned in this
order: those in the last conflict, locked ones, those with fewer versions, then by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import filterfalse, islice, takewhile

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


class Candidate:
    """One published version of a package. The provider makes exactly one per record and
    hands out that same object every time, so a candidate equals only itself and hashes as
    cheaply as any object (sets of incompatible candidates are built at C speed)."""

    __slots__ = ("record", "name", "version", "parsed")

    def __init__(self, record: Record, parsed: semver.Version | None = None):
        self.record = record
        self.name = record.name
        self.version = record.version
        self.parsed = semver.parse_version(record.version) if parsed is None else parsed

    def __repr__(self) -> str:
        return f"Candidate(record={self.record!r})"

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


def _sort_key(record: Record):
    return semver.parse_version(record.version)


def _orderable(version: semver.Version) -> bool:
    """Whether SemVer precedence is a total order around ``version``, so that bisecting a
    sorted list finds the versions a comparator accepts. Only a numeric prerelease part too
    big to be a number (node compares those as doubles, which may tie) breaks it."""
    return not any(isinstance(part, str) and part.isascii() and part.isdigit()
                   for part in version.prerelease)


def _order_key(version: semver.Version) -> tuple:
    """A tuple that Python orders as SemVer precedence orders ``version`` (for an
    orderable one): compared at C speed, where Version's own comparisons run Python."""
    return (version.major, version.minor, version.patch, not version.prerelease,
            tuple((0, part) if isinstance(part, int) else (1, part)
                  for part in version.prerelease))


class _Package:
    """One package's candidates, read and sorted once per resolution: newest first, yanked
    versions left out unless it is the locked one."""

    __slots__ = ("candidates", "ascending", "keys", "by_version", "twins", "windows",
                 "known", "known_set", "runs")

    def __init__(self, records: Iterable[Record], locked: str | None):
        # Stable like sorted(records, key=_sort_key, reverse=True): equal versions keep
        # the registry's order.
        keyed = [(semver.parse_version(rec.version), rec) for rec in records]
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        self.candidates = [Candidate(rec, parsed) for parsed, rec in keyed
                           if not rec.yanked or rec.version == locked]
        self.ascending = [c.parsed for c in reversed(self.candidates)]
        self.by_version: dict[str, list[Candidate]] = {}
        for cand in self.candidates:
            self.by_version.setdefault(cand.version, []).append(cand)
        self.twins = len(self.by_version) != len(self.candidates)  # one version, two records
        # Order keys for bisecting, made when a range first needs them; [] when
        # precedence is not a total order here (see _orderable).
        self.keys: list[tuple] | None = None
        # range text -> [(start, stop)] slices of `candidates` outside which it allows nothing
        self.windows: dict[str, list[tuple[int, int]]] = {}
        # The incompatible candidates resolvelib passed last time, as a list in its order
        # and as a set; for a window's first index, where the run of incompatible
        # candidates starting there ends. Backjumping passes the same candidates again,
        # reordered or with a few more, so with the memo a call costs the new ones (plus a
        # set copy at C speed), and the candidates it steps over are the newly failed.
        self.known: list[Candidate] = []
        self.known_set: set[Candidate] = set()
        self.runs: dict[int, int] = {}

    def incompatible(self, given: list[Candidate], starts: Iterable[int]
                     ) -> tuple[set[Candidate], dict[int, int]]:
        """The set of the candidates in ``given``, and for each index in ``starts`` the
        first index at or after it whose candidate is not in that set (or the end). A set
        once returned is never changed (a later call copies it)."""
        known, count = self.known, len(self.known)
        if count and len(given) == count and given[0] is known[-1] \
                and given[1:] == known[:-1]:  # the same, the last one moved to the front
            bad = self.known_set
        elif count and len(given) >= count and given[:count] == known:  # more at the end
            bad = self.known_set
            if len(given) > count:
                bad = bad.copy()
                bad.update(islice(given, count, None))
        elif count and len(given) > count and given[-count:] == known:  # more in front
            bad = self.known_set.copy()
            bad.update(islice(given, len(given) - count))
        else:  # identity comparisons above, at C speed; anything else starts over
            bad = set(given)
            self.runs = {}
        # Each branch above keeps every candidate the last set held, so runs only grow.
        runs, candidates, ends = self.runs, self.candidates, {}
        for start in starts:
            end = runs.get(start, start)
            end += sum(1 for _ in takewhile(bad.__contains__, islice(candidates, end, None)))
            runs[start] = ends[start] = end
        self.known, self.known_set = given, bad
        return bad, ends

    def window(self, rng: _Range) -> list[tuple[int, int]]:
        found = self.windows.get(rng.text)
        if found is None:
            found = self.windows[rng.text] = self._window(rng)
        return found

    def _window(self, rng: _Range) -> list[tuple[int, int]]:
        import bisect

        count = len(self.candidates)
        if rng.text == "*" or not count:
            return [(0, count)] if count else []
        if self.keys is None:
            self.keys = [_order_key(v) for v in self.ascending] \
                if all(_orderable(v) for v in self.ascending) else []
        orderable = bool(self.keys)
        if rng.plain is not None and orderable:  # one comparator: one span
            op, bound = rng.plain
            keys = self.keys
            low = 0 if op[0] == "<" else \
                (bisect.bisect_right if op == ">" else bisect.bisect_left)(keys, bound)
            high = count if op[0] == ">" else \
                (bisect.bisect_left if op == "<" else bisect.bisect_right)(keys, bound)
            return [(count - high, count - low)] if low < high else []
        sets = getattr(rng.range, "_set", None)
        if not orderable or not isinstance(sets, tuple):
            return [(0, count)] if count else []
        spans = []
        for simple in sets:
            span = self._span(simple, bisect.bisect_left, bisect.bisect_right)
            if span is None:
                return [(0, count)] if count else []
            low, high = span
            if low < high:  # ascending [low, high) is descending [count - high, count - low)
                spans.append((count - high, count - low))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, stop in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
            else:
                merged.append((start, stop))
        return merged

    def _span(self, simple, left, right) -> tuple[int, int] | None:
        """The indices of ``ascending`` that one ``||`` alternative can allow; None when
        it is not made of plain comparators."""
        keys = self.keys or []
        low, high = 0, len(keys)
        for comparator in simple:
            version = getattr(comparator, "semver", None)
            operator = getattr(comparator, "operator", None)
            if version is None:
                if operator is None:
                    return None
                continue  # any version
            if not isinstance(version, semver.Version) or not _orderable(version):
                return None
            if operator in ("", ">=", ">"):
                at = (left if operator in ("", ">=") else right)(keys, _order_key(version))
                low = max(low, at)
            if operator in ("", "<=", "<"):
                at = (right if operator in ("", "<=") else left)(keys, _order_key(version))
                high = min(high, at)
            if operator not in ("", ">=", ">", "<=", "<"):
                return None
        return low, high


_PLAIN_OPERATORS = ("<=", ">=", "<", ">", "=")  # two-character ones first


def _plain_comparator(text: str) -> tuple[str, tuple] | None:
    """``(operator, order key)`` for a range that is one comparator on a plain version
    ("<2.0.0", "=1.4.0", "1.4.0", ">=0.3.1"); None for anything else. Backtracking meets
    a new one of these at every step, and reading them needs no grammar."""
    op = next((o for o in _PLAIN_OPERATORS if text.startswith(o)), "")
    parts = text[len(op):].split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) <= 15
                                  and (p == "0" or p[0] != "0") for p in parts):
        return None
    return op or "=", (int(parts[0]), int(parts[1]), int(parts[2]), True, ())


def _compare(op: str, have: tuple, bound: tuple) -> bool:
    if op == "<":
        return have < bound
    if op == "<=":
        return have <= bound
    if op == ">":
        return have > bound
    if op == ">=":
        return have >= bound
    return have == bound


class _Range:
    """A range and its memo of verdicts, one per version. One comparator on a plain
    version is decided by comparing order keys (a release it allows is one the full
    grammar allows; a prerelease asks the grammar, for node's prerelease rule)."""

    __slots__ = ("text", "plain", "_range", "verdicts")

    def __init__(self, text: str):
        self.text = text
        self.plain = _plain_comparator(text)
        self._range = None if self.plain is not None else semver.parse_range(text)
        self.verdicts: dict[str, bool] = {}

    @property
    def range(self) -> semver.Range:
        if self._range is None:
            self._range = semver.parse_range(self.text)
        return self._range

    def allows(self, cand: Candidate) -> bool:
        verdict = self.verdicts.get(cand.version)
        if verdict is None:
            plain = self.plain
            if plain is not None and not cand.parsed.prerelease:
                verdict = _compare(plain[0], _order_key(cand.parsed), plain[1])
            else:
                verdict = self.range.allows(cand.parsed)
            self.verdicts[cand.version] = verdict
        return verdict


TYPE_CHECKING = False  # resolvelib loads lazily; the type checker still sees the base
if TYPE_CHECKING:
    from resolvelib.providers import AbstractProvider

    _ProviderBase = AbstractProvider[Requirement, Candidate, str]
else:
    _ProviderBase = object


class Provider(_ProviderBase):
    """resolvelib provider (duck-typed to AbstractProvider so resolvelib loads lazily).

    Backtracking asks for the same package's matches again and again, each time with one
    more incompatible candidate. So each package's records are read and sorted once, each
    range is parsed once and decides each version once, a range's bounds narrow it to a
    slice of the sorted candidates, and the matches are produced lazily: what one call
    costs depends on how many candidates resolvelib consumes (and, at C speed, on how many
    are known incompatible), not on how many versions the package has.
    """

    def __init__(self, registry: Registry, locked: Mapping[str, str], unpinned: set[str] | None):
        self.registry = registry
        self.locked = dict(locked)
        self.unpinned = unpinned  # None: every package may move
        self.needed_by: dict[str, set[str]] = {}
        self._packages: dict[str, _Package] = {}
        self._ranges: dict[str, _Range] = {}
        self._verdicts: dict[str, dict[str, bool]] = {}  # range text -> its _Range's verdicts
        self._dependencies: dict[Candidate, list[Requirement]] = {}

    def _pin(self, name: str) -> str | None:
        if self.unpinned is not None and name not in self.unpinned:
            return self.locked.get(name)
        return None

    def _package(self, name: str) -> _Package:
        package = self._packages.get(name)
        if package is None:
            package = self._packages[name] = _Package(self.registry.records(name),
                                                      self.locked.get(name))
        return package

    def _range(self, text: str) -> _Range:
        rng = self._ranges.get(text)
        if rng is None:
            rng = self._ranges[text] = _Range(text)
            self._verdicts[text] = rng.verdicts
        return rng

    def identify(self, requirement_or_candidate) -> str:
        return requirement_or_candidate.name

    def get_preference(self, identifier, resolutions, candidates, information, backtrack_causes):
        conflicted = any(c.requirement.name == identifier for c in backtrack_causes)
        return (not conflicted, self._pin(identifier) is None, self._versions(identifier),
                identifier)

    def _versions(self, name: str) -> int:
        """How many versions the package has. Packages with fewer go first (as cargo's
        resolver orders them): one with a single version is pinned before one with
        thousands, whose versions that conflict with it then fail at once, in one round,
        instead of one backjump each."""
        package = self._packages.get(name)
        return len(package.candidates) if package is not None else 0

    def narrow_requirement_selection(self, identifiers, resolutions, candidates, information,
                                     backtrack_causes):
        # The one get_preference would choose, decided here: resolvelib then skips its
        # per-name preference calls (each builds two mappings), once a round.
        conflicted = {c.requirement.name for c in backtrack_causes}
        pin = self._pin
        versions = self._versions
        return [min(identifiers, key=lambda name: (name not in conflicted, pin(name) is None,
                                                   versions(name), name))]

    def find_matches(self, identifier, requirements, incompatibilities):
        ranges = [self._range(text)
                  for text in dict.fromkeys(r.range for r in requirements[identifier])]
        package = self._package(identifier)
        if ranges:  # the narrowest range drives, the others only check what it yields
            windows = min((package.window(rng) for rng in ranges),
                          key=lambda spans: sum(stop - start for start, stop in spans))
        else:
            windows = [(0, len(package.candidates))]
        pin = self._pin(identifier)
        first = package.by_version.get(pin, []) if pin is not None else []
        candidates = package.candidates
        given = list(incompatibilities[identifier])
        if package.twins:  # an incompatible version is incompatible in every record
            bad = set(given)
            for version in {c.version for c in bad}:
                bad.update(package.by_version.get(version, ()))
            skip = bad.union(first) if first else bad

            def twin_matches():  # the pin first (if it fits), then the newest
                for cand in first:
                    if cand not in bad and all(rng.allows(cand) for rng in ranges):
                        yield cand
                for start, stop in windows:
                    for cand in filterfalse(skip.__contains__, islice(candidates, start, stop)):
                        if all(rng.allows(cand) for rng in ranges):
                            yield cand

            return twin_matches
        bad, ends = package.incompatible(given, (start for start, _ in windows))
        skip = bad.union(first) if first else bad

        def matches():  # the pin first (if it fits), then the newest
            for cand in first:
                if cand not in bad and all(rng.allows(cand) for rng in ranges):
                    yield cand
            for start, stop in windows:  # from `start` to `ends[start]` all are incompatible
                for cand in filterfalse(skip.__contains__,
                                        islice(candidates, ends[start], stop)):
                    if all(rng.allows(cand) for rng in ranges):
                        yield cand

        return matches

    def is_satisfied_by(self, requirement, candidate) -> bool:
        # Asked for every requirement of every pinned package every round: the memo's
        # verdict with two lookups, the range consulted only the first time.
        try:
            return self._verdicts[requirement.range][candidate.version]
        except KeyError:
            return self._range(requirement.range).allows(candidate)

    def get_dependencies(self, candidate):
        known = self._dependencies.get(candidate)
        if known is not None:  # backjumping asks again for the candidates it pops
            return list(known)
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
        # Lets a registry over HTTP fetch the next index files in parallel (a no-op elsewhere).
        prefetch = getattr(self.registry, "prefetch", None)
        if prefetch is not None:
            prefetch([req.name for req in reqs])
        self._dependencies[candidate] = reqs
        return list(reqs)


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
