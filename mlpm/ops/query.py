"""Read-only questions: list, tree, why, info, search. Each returns plain data."""

from __future__ import annotations

from typing import Any

from mlpm import semver
from mlpm.errors import NoMatchingVersion, NotInstalled, StaleLock
from mlpm.ops import Session
from mlpm.ops.install import latest_version
from mlpm.project import Lock, Project
from mlpm.registry.records import parse_spec
from mlpm.resolve import PROJECT


def _lock(project: Project) -> Lock:
    lock = Lock.read(project.lock_path)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first.")
    return lock


def list_packages(project: Project) -> list[dict[str, Any]]:
    lock = Lock.read(project.lock_path)
    if lock is None:
        return []
    rows = []
    for name, pkg in sorted(lock.packages.items()):
        rows.append({
            "name": name, "version": pkg.version, "direct": name in project.dependencies,
            "range": project.dependencies.get(name), "framework": pkg.framework,
            "formats": sorted({a.format for a in pkg.artifacts}),
            "size": sum(a.size for a in pkg.artifacts), "registry": pkg.registry,
            "dependents": lock.dependents(name),
        })
    return rows


def tree(project: Project) -> list[dict[str, Any]]:
    """Nested {name, version, range, dependencies: [...]} from each direct dependency."""
    lock = _lock(project)

    def node(name: str, rng: str | None, path: tuple[str, ...]) -> dict[str, Any]:
        pkg = lock.packages.get(name)
        out: dict[str, Any] = {"name": name, "range": rng,
                               "version": pkg.version if pkg else None, "dependencies": []}
        if pkg is None or name in path:
            return out
        for dep in sorted(pkg.dependencies):
            out["dependencies"].append(node(dep, None, (*path, name)))
        return out

    return [node(n, r, ()) for n, r in sorted(project.dependencies.items())]


def why(project: Project, name: str) -> list[list[str]]:
    """Every chain from the project down to ``name``.

    e.g. [["the project (needs head@^1)", "head@1.0.0", "tiny@1.2.0"]]
    """
    lock = _lock(project)
    if name not in lock.packages:
        raise NotInstalled(f"{name} is not installed in this project; `mlpm list` shows what is.")
    chains: list[list[str]] = []

    def up(current: str, chain: list[str]) -> None:
        label = f"{current}@{lock.packages[current].version}"
        if label in chain:
            return
        chain = [label, *chain]
        if current in project.dependencies:
            chains.append([f"{PROJECT} (needs {current}@{project.dependencies[current]})", *chain])
        for parent in lock.dependents(current):
            up(parent, chain)

    up(name, [])
    return sorted(chains, key=len)


def info(name_or_spec: str, *, session: Session, project: Project | None) -> dict[str, Any]:
    """Everything the registry (and the project, if any) knows of a package."""
    name, rng = parse_spec(name_or_spec)
    location = session.registry_location(project)
    lock = Lock.read(project.lock_path) if project is not None else None
    if lock is not None and name in lock.packages and session.registry is None:
        location = lock.packages[name].registry
    registry = session.open(location)
    records = sorted(registry.records(name), key=lambda r: semver.parse_version(r.version))
    latest = latest_version(records)
    if rng is not None:
        allowed = [r for r in records if not r.yanked and semver.satisfies(r.version, rng)]
        if not allowed:
            raise NoMatchingVersion(
                f"no version of {name} matches {rng}; available: "
                f"{', '.join(r.version for r in records if not r.yanked)}.")
        chosen = allowed[-1]
    else:
        chosen = next((r for r in records if r.version == latest), records[-1])
    installed = lock.packages[name].version if lock and name in lock.packages else None
    data = chosen.to_json()
    data.pop("artifacts")
    data.update({
        "registry": registry.display,
        "latest": latest,
        "newer_available": latest is not None and semver.compare(latest, chosen.version) > 0,
        "installed": installed,
        "size": chosen.size,
        "formats": [{"format": a.format, "file": a.path, "size": a.size, "sha256": a.sha256}
                    for a in chosen.artifacts],
        "versions": [{"version": r.version, "yanked": r.yanked,
                      "published": r.get("published"), "size": r.size} for r in records],
        "dependents": lock.dependents(name) if lock else [],
    })
    return data


def search(text: str, *, session: Session, project: Project | None, task: str | None = None,
           framework: str | None = None) -> list[dict[str, Any]]:
    """Packages whose name, description, task or family contains ``text`` (case-insensitive)."""
    registry = session.open(session.registry_location(project))
    needle = text.lower()
    hits = []
    for name in registry.names():
        records = registry.records(name)
        newest = latest_version(records)
        rec = next((r for r in records if r.version == newest), records[-1])
        haystack = " ".join(str(x) for x in (name, rec.get("description", ""), rec.get("task", ""),
                                            rec.get("family", ""), rec.get("algorithm", "")))
        if needle not in haystack.lower():
            continue
        if task and rec.get("task") != task or framework and rec.framework != framework:
            continue
        hits.append({"name": name, "version": rec.version, "framework": rec.framework,
                     "task": rec.get("task"), "description": rec.get("description", "")})
    return hits
