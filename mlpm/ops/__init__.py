"""Operations: each a transaction over the project files and the store.

An operation resolves and fetches everything first and writes mlpm.lock and the
manifest only when all artifacts are verified in the store, so a failure (conflict,
network, hash mismatch) leaves the project exactly as it was.
"""

from __future__ import annotations

from mlpm.project import Lock, LockedPackage, Project
from mlpm.registry.records import Record
from mlpm.session import Session  # also imported from here by the operations and their callers


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
        dependencies=dict(edges), fingerprint=record.fingerprint, kind=record.kind,
        interface=iface.to_json() if (iface := record.interface) else None,
        upstream=record.upstream,
    )


def commit(session: Session, project: Project, lock: Lock) -> None:
    """Write mlpm.lock, then the manifest, then record the blobs the project uses."""
    lock.manifest_hash = project.manifest_hash()
    lock.write(project.lock_path)
    project.save()
    session.store.set_refs(project.root, project.lock_path, lock.references())
