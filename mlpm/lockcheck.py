"""Is mlpm.lock a complete, consistent resolution of the manifest? The lock is checked,
not trusted: a bad merge or a hand edit must not pass for a lock mlpm wrote.

``check_lock`` answers from the two parsed files alone, in this order (the first
answer is the one a failing ``mlpm install --frozen`` names):

1. every manifest dependency has an entry, at a version inside the manifest's range;
2. every entry is complete: a SemVer version, at least one file, each with a sha256
   and a size, and no file whose url or ``sha256-prefix`` names another sha256;
3. no package has two entries;
4. every dependency an entry lists has an entry, at the version it lists;
5. every entry is needed: reachable from a manifest dependency.

It is pure Python over the parsed files (the no-op ``mlpm install`` runs it on every
call); mlpm.semver decides the common ranges without compiling node-semver's grammar.
``compare_record`` is the other half: a locked entry against the registry's record of
the same version, run when the registry is read anyway (docs/reference/lockfile.md,
"Consistency").
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:

    from mlpm.project import Lock, LockedPackage, Project
    from mlpm.registry.records import Record

# What each kind of inconsistency means for a repair (``mlpm install`` without --frozen).
MISSING = "missing"      # no entry for a package that is needed: resolve it
RANGE = "range"          # the locked version is outside a range: resolve it again
RECORD = "record"        # the entry itself is wrong: rebuild it from the registry's record
DUPLICATE = "duplicate"  # two entries for one package: keep one
EDGE = "edge"            # a dependency listed at another version than the one locked
ORPHAN = "orphan"        # an entry nothing needs: drop it
UNKNOWN = "unknown"      # the registry has no such version: resolve it again
REGISTRY = "registry"    # the lock and the registry disagree about bytes: not repaired


class Inconsistency:
    """One way mlpm.lock is not a consistent resolution of the manifest.

    ``problem`` completes "mlpm.lock needs to be updated: ..."; ``reason`` is the
    parenthesis of the repair note ("added digits 1.2.1 (it was missing)"); ``name`` is
    the package whose entry a repair resolves again.
    """

    __slots__ = ("kind", "name", "problem", "reason")

    def __init__(self, kind: str, name: str, problem: str, reason: str):
        self.kind = kind
        self.name = name
        self.problem = problem
        self.reason = reason

    def __repr__(self) -> str:
        return f"Inconsistency({self.kind!r}, {self.name!r}, {self.problem!r})"

    def __str__(self) -> str:
        return self.problem


def check_lock(project: Project | None, lock: Lock, *,
               against_manifest: bool = True) -> list[Inconsistency]:
    """Every way ``lock`` is not a complete, consistent resolution of ``project``'s
    manifest, most telling first; [] for a lock mlpm wrote.

    ``against_manifest=False`` checks the lock alone (steps 2-4): for a lock whose
    manifest-hash says the manifest changed since, the manifest cannot be held against it.
    """
    found: list[Inconsistency] = []
    manifest = project.manifest_path.name if project is not None else "the manifest"
    roots = list(project.dependencies.items()) if project is not None else []
    if against_manifest:
        for name, rng in roots:
            pkg = lock.packages.get(name)
            if pkg is None:
                found.append(Inconsistency(
                    MISSING, name, f"it has no entry for {name}, which {manifest} asks for",
                    "it was missing"))
            elif _is_version(pkg.version) and not satisfies(pkg.version, rng):
                found.append(Inconsistency(
                    RANGE, name, f"it pins {name} {pkg.version}, outside the range {rng} that "
                    f"{manifest} asks for", f"{pkg.version} is outside {manifest}'s range {rng}"))
            else:
                found += _source_problems(project, name, pkg, manifest)
    for pkg in lock.packages.values():
        found += _record_problems(pkg)
    for name, versions in sorted(getattr(lock, "duplicates", {}).items()):
        found.append(Inconsistency(
            DUPLICATE, name, f"it has {len(versions)} entries for {name} "
            f"({', '.join(versions)})", "it had more than one entry"))
    for pkg in lock.packages.values():
        for dep, version in sorted(pkg.dependencies.items()):
            target = lock.packages.get(dep)
            if target is None:
                found.append(Inconsistency(
                    MISSING, dep, f"{pkg.name} {pkg.version} depends on {dep}, which it has no "
                    "entry for", "it was missing"))
            elif target.version != version:
                found.append(Inconsistency(
                    EDGE, pkg.name, f"{pkg.name} {pkg.version} depends on {dep} {version}, but "
                    f"it pins {dep} {target.version}",
                    f"its entry said it uses {dep} {version}, not the locked {target.version}"))
    if against_manifest:
        needed = _reachable(lock, [name for name, _ in roots])
        for name in sorted(set(lock.packages) - needed):
            found.append(Inconsistency(
                ORPHAN, name, f"it has an entry for {name} {lock.packages[name].version}, which "
                f"nothing in {manifest} needs", f"nothing in {manifest} needs it"))
    return found


def _source_problems(project: Project | None, name: str, pkg: LockedPackage,
                     manifest: str) -> list[Inconsistency]:
    """A direct dependency locked from another place, or another revision, than the
    manifest now names: resolved again (UNKNOWN), since the pin belongs to the old one."""
    if project is None:
        return []
    asked = project.source_location(name)
    source = project.sources.get(name)
    if asked is not None and asked != pkg.registry:
        return [Inconsistency(UNKNOWN, name, f"it takes {name} from {pkg.registry}, but "
                              f"{manifest} takes it from {asked}",
                              f"{manifest} moved it to {asked}")]
    if source is not None and source.rev is not None and source.rev != pkg.revision:
        return [Inconsistency(UNKNOWN, name, f"it pins {name} at the revision {pkg.revision}, "
                              f"but {manifest} asks for {source.rev}",
                              f"{manifest} asks for the revision {source.rev}")]
    return []


def _record_problems(pkg: LockedPackage) -> list[Inconsistency]:
    label = f"{pkg.name} {pkg.version}"

    def bad(what: str) -> Inconsistency:
        return Inconsistency(RECORD, pkg.name, f"its entry for {label} {what}",
                             f"its entry {what}")

    if not _is_version(pkg.version):
        return [Inconsistency(RECORD, pkg.name, f"its entry for {pkg.name} has the version "
                              f"'{pkg.version}', which is not a SemVer version",
                              f"its version '{pkg.version}' is not a SemVer version")]
    if not pkg.artifacts:
        return [bad("lists no files")]
    for art in pkg.artifacts:
        if not art.sha256:
            return [bad(f"gives {art.path} no sha256")]
        if art.size is None:
            return [bad(f"gives {art.path} no size")]
        named = _url_sha256(art.url)
        if named is not None and named != art.sha256:
            return [bad(f"gives {art.path} the sha256 {art.sha256[:12]}…, but its url names "
                        f"{named[:12]}…")]
        if art.sha256_prefix and not art.sha256.startswith(art.sha256_prefix):
            return [bad(f"gives {art.path} the sha256 {art.sha256[:12]}…, which does not start "
                        f"with its sha256-prefix {art.sha256_prefix}")]
    return []


def _url_sha256(url: str) -> str | None:
    """The sha256 a registry's own content-addressed url names (artifacts/ab/<sha256>)."""
    from mlpm.registry.layout import artifact_sha256

    return artifact_sha256(url)


def _reachable(lock: Lock, roots: list[str]) -> set[str]:
    seen: set[str] = set()
    stack = [name for name in roots if name in lock.packages]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(d for d in lock.packages[name].dependencies if d in lock.packages)
    return seen


def cached_size_problems(store, lock: Lock, names: set[str]) -> list[Inconsistency]:
    """A blob cached under a locked sha256 is verified content, so a lock that gives it
    another size is wrong. Only ``names`` (the packages with a file to fetch) are looked at:
    a file that is in place at its locked size needs no stat beyond the one already made."""
    import os

    found = []
    for name in sorted(names):
        pkg = lock.packages[name]
        for art in pkg.artifacts:
            try:
                size = os.stat(store.blob_path(art.sha256)).st_size
            except (OSError, ValueError):
                continue
            if size != art.size and store.has_blob(art.sha256):
                found.append(Inconsistency(
                    RECORD, name, f"its entry for {name} {pkg.version} gives {art.path} the size "
                    f"{art.size}, but the cached file with its sha256 has {size} bytes",
                    f"its entry gave {art.path} the size {art.size}, not {size}"))
                break
    return found


def compare_record(pkg: LockedPackage, record: Record, registry: str) -> list[Inconsistency]:
    """A locked entry against the registry's record of the same version.

    Files are compared where the record knows their digest (a public file with only a
    ``sha256-prefix`` is compared on that prefix and its size); files the record has and
    the lock lacks, or the reverse, and other dependencies are disagreements too. The
    lock's dependency versions must satisfy the record's ranges (the lock keeps versions
    only; the ranges are the record's).
    """
    found: list[Inconsistency] = []
    label = f"{pkg.name}@{pkg.version}"
    theirs = {(a.format, a.path): a for a in record.artifacts}
    ours = {(a.format, a.path): a for a in pkg.artifacts}
    for key, art in ours.items():
        other = theirs.get(key)
        if other is None:
            found.append(_disagree(label, registry, f"mlpm.lock lists {art.path} ({art.format}), "
                                   "which the registry's record does not have"))
            continue
        if other.sha256:
            differs = other.sha256 != art.sha256 or (other.size is not None
                                                      and other.size != art.size)
        else:
            differs = (other.sha256_prefix
                       and not art.sha256.startswith(other.sha256_prefix)) \
                or (other.size is not None and other.size != art.size)
        if differs:
            found.append(_disagree(
                label, registry, f"mlpm.lock pins {art.path} at sha256 {art.sha256[:12]}… "
                f"({_bytes(art.size)}), the registry {registry} gives "
                f"{(other.sha256 or other.sha256_prefix or '?')[:12]}… ({_bytes(other.size)})"))
    for key, other in theirs.items():
        if key not in ours:
            found.append(_disagree(label, registry, f"the registry's record has {other.path} "
                                   f"({other.format}), which mlpm.lock does not list"))
    if set(record.dependencies) != set(pkg.dependencies):
        said = ", ".join(sorted(pkg.dependencies)) or "nothing"
        says = ", ".join(f"{n}@{r}" for n, r in sorted(record.dependencies.items())) or "nothing"
        found.append(_disagree(label, registry, f"mlpm.lock says it depends on {said}, the "
                               f"registry {registry} says {says}"))
    else:
        for dep, rng in sorted(record.dependencies.items()):
            version = pkg.dependencies[dep]
            if _is_version(version) and not satisfies(version, rng):
                found.append(Inconsistency(
                    RANGE, dep, f"{pkg.name} {pkg.version} needs {dep}@{rng}, but it pins "
                    f"{dep} {version}", f"{pkg.name} {pkg.version} needs {dep}@{rng}"))
    return found


def _bytes(size: int | None) -> str:
    return "size unknown" if size is None else f"{size} bytes"


def _disagree(label: str, registry: str, detail: str) -> Inconsistency:
    return Inconsistency(
        REGISTRY, label.split("@", 1)[0],
        f"the lock and the registry disagree about {label}: {detail}; published versions "
        "never change, so one of them was altered: if mlpm.lock was edited or merged by hand, "
        "restore it from version control, else ask the registry's owner, and do not install "
        "until it is explained.", "the registry disagrees")


# -- versions and ranges -----------------------------------------------------------------

def _is_version(text: str) -> bool:
    """A SemVer version written the canonical way (build metadata, as a Hugging Face
    package tracking a revision has, kept)."""
    from mlpm import semver

    core = semver.valid(text)
    if core is None or core == text:
        return core is not None
    build = semver.parse_version(text).build
    return bool(build) and text == f"{core}+{'.'.join(build)}"


def satisfies(version: str, rng: str) -> bool:
    """Whether a locked version is in a range; a range mlpm cannot read is not satisfied.
    (mlpm.semver decides the ranges mlpm writes without compiling its grammar.)"""
    from mlpm import semver

    try:
        return semver.satisfies(version, rng)
    except ValueError:
        return False


# -- the strict read: list, tree, why, load... -------------------------------------------


def read_lock(project: Project) -> Lock | None:
    """The project's lock (None if there is none), refused with ``InconsistentLock`` when
    it is not a consistent resolution of the project's manifest: what every command but
    install reads (install reads ``Lock.read`` as written, to repair it)."""
    from mlpm.project import Lock

    lock = Lock.read(project.lock_path)
    if lock is not None:
        refuse_inconsistent(lock, project)
    return lock


def refuse_inconsistent(lock: Lock, project: Project) -> None:
    """Raise ``InconsistentLock`` naming the first inconsistency of ``project``'s lock.

    The manifest is held against the lock only while the lock's manifest-hash says it was
    made from that manifest: a stale lock (the manifest was edited since) is checked on
    its own, as the commands that read it do not check freshness.
    """
    from mlpm.errors import InconsistentLock

    fresh = lock.manifest_hash == project.manifest_hash()
    problems = check_lock(project, lock, against_manifest=fresh)
    if problems:
        raise InconsistentLock(f"{project.lock_path} is not a consistent lock: {problems[0]}; "
                               f"run `mlpm install` in {project.root} to repair it.")
