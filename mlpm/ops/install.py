"""install, upgrade and outdated: resolve, fetch and verify, then lock and save."""

from __future__ import annotations

from mlpm.errors import NotInstalled, StaleLock, UsageError
from mlpm.ops import (
    Change,
    Session,
    commit,
    diff_locks,
    fetch_locked,
    locked_from_record,
    missing_blobs,
)
from mlpm.project import Lock, Project
from mlpm.registry.records import parse_spec


class InstallResult:
    """What install / upgrade did."""

    def __init__(self, packages: int = 0):
        self.changes: list[Change] = []
        self.saved: dict[str, str] = {}  # manifest ranges written: name -> range
        self.fetched_files = 0
        self.fetched_bytes = 0
        self.packages = packages
        self.up_to_date = False
        self.notes: list[str] = []  # e.g. the interface changes an upgrade --latest crossed


def save_range(installed: str, typed: str | None) -> str:
    """npm's save rule: ``^INSTALLED`` unless the typed range is narrower than that.

    >>> save_range("1.2.3", None), save_range("1.2.3", "1.2"), save_range("1.2.3", "^1.0.0")
    ('^1.2.3', '1.2', '^1.2.3')
    """
    from mlpm import semver

    caret = f"^{installed}"
    if typed is None or semver.valid(typed) is not None or semver.subset(caret, typed):
        return caret
    return typed


def _stale_reason(project: Project, lock: Lock | None) -> str:
    from mlpm import semver

    manifest = project.manifest_path.name
    if lock is None:
        return "there is no mlpm.lock"
    for name, rng in project.dependencies.items():
        pkg = lock.packages.get(name)
        if pkg is None:
            return f"{manifest} asks for {name} but mlpm.lock has no {name}"
        if not semver.satisfies(pkg.version, rng):
            return f"{manifest} asks for {name}@{rng} but mlpm.lock pins {name} {pkg.version}"
    return f"{manifest} changed since mlpm.lock was written"


def _lock_from(session: Session, location: str, resolution, old: Lock | None) -> Lock:
    """The new lock; a version locked before keeps the digests pinned at first install."""
    lock = Lock("")
    for name, record in resolution.records.items():
        pkg = locked_from_record(record, location, resolution.edges[name])
        before = old.packages.get(name) if old else None
        if before is not None and before.version == pkg.version:
            _same_bytes_as_locked(before, pkg)
            pinned = {(a.format, a.path, a.url): a for a in before.artifacts if a.pinned}
            pkg.artifacts = [a if a.pinned else pinned.get((a.format, a.path, a.url), a)
                             for a in pkg.artifacts]
            pkg.conversions = list(before.conversions)
        lock.packages[name] = pkg
    return lock


def _same_bytes_as_locked(before, now) -> None:
    """A published version is immutable: if the registry now gives other digests for a
    version the lock pins, the registry was tampered with (or the lock was)."""
    locked = {(a.format, a.path): a.sha256 for a in before.artifacts}
    for art in now.artifacts:
        old = locked.get((art.format, art.path))
        if art.pinned and old and old != art.sha256:
            from mlpm.errors import IntegrityError

            raise IntegrityError(
                f"the registry's record of {now.name}@{now.version} now gives sha256 "
                f"{art.sha256[:12]}… for {art.path}, but mlpm.lock pins {old[:12]}…; published "
                "versions never change, so the registry (or the lock) was tampered with: ask "
                "the registry's owner, and do not install until it is explained."
            )


def _apply(session: Session, project: Project, old: Lock | None, new: Lock,
           result: InstallResult) -> InstallResult:
    """Fetch, verify and convert everything, and only then write the lock and the manifest."""
    result.fetched_files, result.fetched_bytes = fetch_locked(session, list(new.packages.values()))
    _keep_conversions(session, project, old, new)
    commit(session, project, new)
    result.changes = diff_locks(old, new)
    result.packages = len(new.packages)
    return result


def _keep_conversions(session: Session, project: Project, old: Lock | None, new: Lock) -> None:
    """A package used in a converted format stays usable in it: a new version is converted
    (and parity-checked) before the lock switches to it; a failure keeps the old lock."""
    from mlpm.ops.convert import convert_for_manifest, ensure_converted

    for name, pkg in new.packages.items():
        before = old.packages.get(name) if old else None
        if before is None or before.version == pkg.version or pkg.conversions:
            continue
        for conv in before.conversions:
            if not any(a.format == conv["format"] for a in pkg.artifacts):
                ensure_converted(pkg, conv["format"], session, signature=conv.get("signature"),
                                 tolerance=conv.get("tolerance-asked"),
                                 input_shapes=conv.get("input-shapes"))
    if project.options:
        convert_for_manifest(project, new, session)


def install(project: Project, specs: list[str] | None = None, *, session: Session,
            frozen: bool = False, options: dict[str, str] | None = None) -> InstallResult:
    """``mlpm install [SPEC...]``: with no spec, exactly what mlpm.lock says (like ``npm ci``).

    ``options`` (format= / context=) are kept in the manifest for the packages named.
    """
    with project.locked():
        return _install(project, specs, session=session, frozen=frozen, options=options)


def _install(project: Project, specs: list[str] | None, *, session: Session, frozen: bool,
             options: dict[str, str] | None) -> InstallResult:
    specs = list(specs or [])
    parsed = [parse_spec(s) for s in specs]
    if frozen and parsed:
        raise UsageError("--frozen installs exactly what mlpm.lock says and cannot add packages; "
                         "drop --frozen to install new ones.")
    location = session.registry_location(project)
    if session.registry and not frozen:
        project.registry = session.registry if location.startswith("http") else location
    lock = Lock.read(project.lock_path)
    fresh = lock is not None and lock.manifest_hash == project.manifest_hash()

    if not parsed:
        if fresh:
            result = InstallResult(packages=len(lock.packages))
            if missing_blobs(session.store, lock):
                result.fetched_files, result.fetched_bytes = fetch_locked(
                    session, list(lock.packages.values()))
            if result.fetched_files or not session.store.refs_fresh(project.root,
                                                                    project.lock_path):
                session.store.set_refs(project.root, project.lock_path, lock.references())
            result.up_to_date = result.fetched_files == 0
            return result
        from mlpm.resolve import resolve

        if frozen:
            raise StaleLock(f"mlpm.lock is out of date: {_stale_reason(project, lock)}; run "
                            "`mlpm install` without --frozen to update it, then commit mlpm.lock.")
        resolution = resolve(session.open(location), project.dependencies,
                             locked=_pins(lock), unpinned=set())
        return _apply(session, project, lock, _lock_from(session, location, resolution, lock),
                      InstallResult())

    from mlpm.resolve import resolve

    requirements = dict(project.dependencies)
    for name, rng in parsed:
        requirements[name] = rng or "*"
        if options:
            project.options[name] = dict(options)
    resolution = resolve(session.open(location), requirements, locked=_pins(lock),
                         unpinned={name for name, _ in parsed})
    result = InstallResult()
    for name, rng in parsed:
        project.dependencies[name] = save_range(resolution.records[name].version, rng)
        result.saved[name] = project.dependencies[name]
    return _apply(session, project, lock, _lock_from(session, location, resolution, lock), result)


def _pins(lock: Lock | None) -> dict[str, str]:
    return {n: p.version for n, p in lock.packages.items()} if lock else {}


def latest_version(records) -> str | None:
    """The newest non-yanked release (prereleases only if nothing else exists)."""
    from mlpm import semver

    versions = [r.version for r in records if not r.yanked]
    stable = [v for v in versions if not semver.parse_version(v).is_prerelease]
    pool = stable or versions
    return max(pool, key=semver.parse_version) if pool else None


def upgrade(project: Project, names: list[str] | None = None, *, session: Session,
            latest: bool = False) -> InstallResult:
    """``mlpm upgrade [NAME...] [--latest]``: newest versions the ranges (or --latest) allow."""
    with project.locked():
        return _upgrade(project, names, session=session, latest=latest)


def _upgrade(project: Project, names: list[str] | None, *, session: Session,
             latest: bool) -> InstallResult:
    parsed = [parse_spec(n) for n in names or []]
    for name, rng in parsed:
        if rng is not None:
            raise UsageError(f"upgrade takes package names, not ranges; to change the range run "
                             f"`mlpm install {name}@{rng}`.")
    names = [name for name, _ in parsed]
    lock = Lock.read(project.lock_path)
    for name in names:
        if name not in project.dependencies and (lock is None or name not in lock.packages):
            raise NotInstalled(f"{name} is not installed in this project; run `mlpm install "
                               f"{name}` to add it.")
    if latest:
        targets = names or list(project.dependencies)
        for name in targets:
            if name not in project.dependencies:
                raise UsageError(f"{name} is only a dependency of other packages; --latest moves "
                                 "direct dependencies: upgrade the package that needs it.")
    from mlpm.resolve import resolve

    location = session.registry_location(project)
    registry = session.open(location)
    requirements = dict(project.dependencies)
    result = InstallResult()
    if latest:
        for name in targets:
            newest = latest_version(registry.records(name))
            if newest is not None:
                requirements[name] = f"^{newest}"
    resolution = resolve(registry, requirements, locked=_pins(lock),
                         unpinned=set(names) if names else None)
    if latest:
        from mlpm.ops.query import breaking

        for name in targets:
            new = resolution.records[name].version
            project.dependencies[name] = f"^{new}"
            result.saved[name] = project.dependencies[name]
            old = lock.packages[name].version if lock and name in lock.packages else None
            if old and old != new:
                for text in breaking(registry, name, old, new):
                    result.notes.append(f"{name} {old} -> {new} breaks the interface: {text}")
    return _apply(session, project, lock, _lock_from(session, location, resolution, lock), result)


class Outdated:
    """One row of `mlpm outdated`."""

    def __init__(self, name: str, current: str, wanted: str | None, latest: str | None,
                 direct: bool, range: str, breaking: list[str] | None = None):  # noqa: A002
        self.breaking = breaking or []  # how latest breaks current's interface
        self.name = name
        self.current = current
        self.wanted = wanted
        self.latest = latest
        self.direct = direct
        self.range = range


def outdated(project: Project, *, session: Session, everything: bool = False) -> list[Outdated]:
    """current / wanted (newest in range) / latest for each locked package."""
    from mlpm import semver

    lock = Lock.read(project.lock_path)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first.")
    rows = []
    for name, pkg in sorted(lock.packages.items()):
        registry = session.open(pkg.registry)
        records = registry.records(name)
        ranges = []
        if name in project.dependencies:
            ranges.append(project.dependencies[name])
        for other in lock.packages.values():
            if name in other.dependencies:
                try:
                    ranges.append(registry.record(other.name, other.version).dependencies[name])
                except (LookupError, KeyError):
                    pass
        allowed = [r.version for r in records if not r.yanked
                   and all(semver.satisfies(r.version, rng) for rng in ranges)]
        wanted = max(allowed, key=semver.parse_version) if allowed else None
        from mlpm.ops.query import breaking

        latest = latest_version(records)
        row = Outdated(name, pkg.version, wanted, latest, name in project.dependencies,
                       " ".join(ranges) or "*", breaking(registry, name, pkg.version, latest))
        if everything or row.current != row.wanted or row.current != row.latest:
            rows.append(row)
    return rows
