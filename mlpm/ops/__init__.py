"""Operations: each a transaction over the project files and the store.

An operation resolves and fetches everything first and writes mlpm.lock and the
manifest only when all artifacts are verified in the store, so a failure (conflict,
network, hash mismatch) leaves the project exactly as it was.
"""

from __future__ import annotations

import os

from mlpm.project import Lock, LockedPackage, Project
from mlpm.registry import BUNDLED, Registry, canonical, open_registry
from mlpm.registry.records import Record
from mlpm.store import Store


class Session:
    """What every operation needs: the store, offline mode, and a registry override."""

    def __init__(self, store: Store | None = None, offline: bool = False,
                 registry: str | None = None):
        self.store = store if store is not None else Store()
        self.offline = offline
        self.registry = registry  # --registry or MLPM_REGISTRY, as typed
        self._open: dict[str, Registry] = {}

    @classmethod
    def from_env(cls, registry: str | None = None, offline: bool = False) -> Session:
        from mlpm.fetch import is_offline

        return cls(Store(), offline or is_offline(),
                   registry or os.environ.get("MLPM_REGISTRY") or None)

    def registry_location(self, project: Project | None) -> str:
        """--registry / MLPM_REGISTRY, else the manifest's, else the bundled registry."""
        if self.registry:
            return canonical(self.registry)
        if project is not None and project.registry:
            return canonical(project.registry, base=project.root)
        return BUNDLED

    def open(self, location: str) -> Registry:
        if location not in self._open:
            self._open[location] = open_registry(location, self.store, self.offline)
        return self._open[location]


class Change:
    """A package whose locked version changed: added (old None), removed (new None) or moved."""

    def __init__(self, name: str, old: str | None, new: str | None):
        self.name = name
        self.old = old
        self.new = new

    def __str__(self) -> str:
        if self.old is None:
            return f"+ {self.name} {self.new}"
        if self.new is None:
            return f"- {self.name} {self.old}"
        return f"~ {self.name} {self.old} -> {self.new}"


def diff_locks(old: Lock | None, new: Lock) -> list[Change]:
    before = {n: p.version for n, p in (old.packages.items() if old else [])}
    after = {n: p.version for n, p in new.packages.items()}
    changes = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            changes.append(Change(name, before.get(name), after.get(name)))
    return changes


def locked_from_record(record: Record, registry: str, edges: dict[str, str]) -> LockedPackage:
    return LockedPackage(
        name=record.name, version=record.version, registry=registry,
        framework=record.framework, artifacts=list(record.artifacts),
        dependencies=dict(edges), fingerprint=record.get("fingerprint"),
        kind=record.get("kind"), interface=record.get("interface"),
        upstream=record.get("upstream"),
    )


def fetch_locked(session: Session, packages: list[LockedPackage]) -> tuple[int, int]:
    """Make every artifact of ``packages`` present and verified in the store.

    Artifacts whose full sha256 the registry does not know are pinned here: the
    package's artifact list is updated with the digest and size measured on download.
    Returns (files fetched, bytes fetched); nothing is fetched that is already there.
    """
    from mlpm.fetch import fetch_many

    jobs, owners = [], []
    for pkg in packages:
        registry = session.open(pkg.registry)
        for i, art in enumerate(pkg.artifacts):
            if not session.store.has_blob(art.sha256, art.size):
                jobs.append((registry.artifact_url(art), art.sha256, art.size,
                             f"{pkg.name}@{pkg.version} {art.path}", art.sha256_prefix))
                owners.append((pkg, i))
    if not jobs:
        return 0, 0
    paths = fetch_many(session.store, jobs, offline=session.offline)
    fetched = 0
    for (pkg, i), path in zip(owners, paths, strict=True):
        size = path.stat().st_size
        fetched += size
        if not pkg.artifacts[i].pinned:
            pkg.artifacts[i] = pkg.artifacts[i].pin(path.name, size)
    return len(jobs), fetched


def commit(session: Session, project: Project, lock: Lock) -> None:
    """Write mlpm.lock, then the manifest, then record the blobs the project uses."""
    lock.manifest_hash = project.manifest_hash()
    lock.write(project.lock_path)
    project.save()
    session.store.set_refs(project.root, project.lock_path, lock.references())


def missing_blobs(store: Store, lock: Lock) -> list[str]:
    return [a.sha256 for p in lock.packages.values() for a in p.artifacts
            if not store.has_blob(a.sha256, a.size)]
