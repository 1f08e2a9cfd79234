"""remove: drop packages from the manifest and the lock, and free the disk they used."""

from __future__ import annotations

from mlpm.errors import HasDependents, NotInstalled
from mlpm.lockcheck import read_lock
from mlpm.ops import Change, Session, diff_locks
from mlpm.project import Lock, Project
from mlpm.registry.records import check_name


class RemoveResult:
    """What remove did and freed."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.freed_files = 0
        self.freed_bytes = 0
        self.dry_run = False  # True: nothing was written; freed_* is what would be freed


def reachable(lock: Lock, roots: list[str]) -> set[str]:
    """Every locked package the given direct dependencies need, transitively."""
    seen: set[str] = set()
    stack = [r for r in roots if r in lock.packages]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(d for d in lock.packages[name].dependencies if d in lock.packages)
    return seen


def remove(project: Project, names: list[str], *, session: Session,
           dry_run: bool = False) -> RemoveResult:
    """``mlpm remove NAME...``: refused while a package that stays depends on NAME.

    ``dry_run``: report what would be removed and freed, writing and deleting nothing.
    """
    with project.locked():
        return _remove(project, names, session=session, dry_run=dry_run)


def _would_free(session: Session, project: Project, dropped: set[str],
                kept: set[str]) -> tuple[int, int]:
    """(files, bytes) that freeing ``dropped`` would delete: what neither this project's
    new lock nor any other project still uses (mirrors Store.free_unreferenced)."""
    store = session.store
    used = set(store.referenced(exclude_project=project.root)) | kept
    files = size = 0
    for sha in dropped - used:
        if sha.startswith("convert-"):
            folder = store.converted_entry(sha[8:])  # a key from the lock: checked to stay inside
        elif store.has_blob(sha):
            files += 1
            size += store.blob_path(sha).stat().st_size
            folder = store.root / "entries" / "unpacked" / sha
        else:
            continue
        if folder.is_dir():
            size += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return files, size


def _remove(project: Project, names: list[str], *, session: Session,
            dry_run: bool = False) -> RemoveResult:
    lock = read_lock(project)
    for name in names:
        check_name(name)
        if name not in project.dependencies:
            if lock is not None and name in lock.packages:
                dependents = ", ".join(lock.dependents(name))
                raise NotInstalled(f"{name} is not in mlpm.toml: it is installed only because "
                                   f"{dependents} depend{'s' if ',' not in dependents else ''} "
                                   "on it; remove that instead.")
            raise NotInstalled(f"{name} is not a dependency of this project; `mlpm list` shows "
                               "what is installed.")
    remaining = [n for n in project.dependencies if n not in names]
    if lock is not None:
        keep = reachable(lock, remaining)
        for name in names:
            if name in keep:
                users = [f"{d}@{lock.packages[d].version}" for d in lock.dependents(name)
                         if d in keep]
                raise HasDependents(
                    f"cannot remove {name}: {', '.join(users)} depend"
                    f"{'s' if len(users) == 1 else ''} on it; remove "
                    f"{'that' if len(users) == 1 else 'those'} first, or together: "
                    f"`mlpm remove {' '.join([*(u.split('@')[0] for u in users), name])}`."
                )
    fresh = lock is not None and lock.manifest_hash == project.manifest_hash()
    for name in names:
        del project.dependencies[name]
    result = RemoveResult()
    result.dry_run = dry_run
    if lock is None:
        if not dry_run:
            project.save()
        return result
    new = Lock(lock.manifest_hash, {n: p for n, p in lock.packages.items() if n in keep})
    if dry_run:
        result.changes = diff_locks(lock, new)
        result.freed_files, result.freed_bytes = _would_free(
            session, project, lock.references() - new.references(), new.references())
        return result
    if fresh:
        new.manifest_hash = project.manifest_hash()
    dropped = lock.references() - new.references()
    new.write(project.lock_path)
    project.save()
    session.store.set_refs(project.root, project.lock_path, new.references())
    result.freed_files, result.freed_bytes = session.store.free_unreferenced(dropped)
    result.changes = diff_locks(lock, new)
    return result
