"""Read-only questions: list, tree, why, info, search. Each returns plain data."""

from __future__ import annotations

from typing import Any

from mlpm import semver
from mlpm.errors import DamagedIndex, NoMatchingVersion, NotInstalled, PackageNotFound, StaleLock
from mlpm.lockcheck import read_lock
from mlpm.ops import Session
from mlpm.project import Lock, Project
from mlpm.registry.records import check_name, parse_spec
from mlpm.registry.versions import latest_version
from mlpm.resolve import PROJECT


def _lock(project: Project) -> Lock:
    lock = read_lock(project)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first.")
    return lock


def list_packages(project: Project) -> list[dict[str, Any]]:
    lock = read_lock(project)
    if lock is None:
        return []
    rows = []
    for name, pkg in sorted(lock.packages.items()):
        rows.append({
            "name": name, "version": pkg.version, "direct": name in project.dependencies,
            "range": project.dependencies.get(name), "framework": pkg.framework,
            "formats": sorted({a.format for a in pkg.artifacts}),
            "size": sum(a.size or 0 for a in pkg.artifacts), "registry": pkg.registry,
            "dependents": lock.dependents(name),
        })
    return rows


def tree(project: Project) -> list[dict[str, Any]]:
    """Nested {name, version, range, dependencies: [...]} from each direct dependency.

    Each package's dependencies are listed once, as `npm ls` does: where it appears again
    (or under another package before its own top-level line) its node has no children and
    ``"deduped": true``. So the tree has one node per locked dependency edge, however
    many paths a wide, diamond-shaped graph has; it is built without recursion.
    """
    lock = _lock(project)
    expanded = {n for n in project.dependencies if n in lock.packages}  # shown at the top

    def node(name: str, rng: str | None) -> dict[str, Any]:
        pkg = lock.packages.get(name)
        return {"name": name, "range": rng, "version": pkg.version if pkg else None,
                "dependencies": []}

    roots = [node(n, r) for n, r in sorted(project.dependencies.items())]
    stack = [(out, True) for out in reversed(roots)]
    while stack:  # depth first, in print order: the first appearance is the expanded one
        out, top = stack.pop()
        pkg = lock.packages.get(out["name"])
        if pkg is None or not pkg.dependencies:
            continue
        if not top:
            if out["name"] in expanded:
                out["deduped"] = True
                continue
            expanded.add(out["name"])
        out["dependencies"] = [node(dep, None) for dep in sorted(pkg.dependencies)]
        stack.extend((child, False) for child in reversed(out["dependencies"]))
    return roots


WHY_LIMIT = 100  # chains `mlpm why` lists; a wide graph has more than can be printed
_WHY_STEPS = 100_000  # a bound on the search, for locks with cycles


def why(project: Project, name: str, limit: int = WHY_LIMIT) -> tuple[list[list[str]], int]:
    """Chains from the project down to ``name``, shortest first, at most ``limit`` of them;
    and how many chains there are in all (a diamond graph 30 wide and 30 deep has 30**29).

    e.g. ([["the project (needs head@^1)", "head@1.0.0", "tiny@1.2.0"]], 1)
    """
    check_name(name)
    lock = _lock(project)
    if name not in lock.packages:
        raise NotInstalled(f"{name} is not installed in this project; `mlpm list` shows what is.")
    pkgs = lock.packages
    direct = [n for n in project.dependencies if n in pkgs]
    parents: dict[str, list[str]] = {n: [] for n in pkgs}
    for pkg in pkgs.values():
        for dep in pkg.dependencies:
            if dep in parents:
                parents[dep].append(pkg.name)
    # steps from the project to each package, to try the shortest way up first
    depth = dict.fromkeys(direct, 1)
    queue = list(direct)
    for current in queue:
        for dep in pkgs[current].dependencies:
            if dep in pkgs and dep not in depth:
                depth[dep] = depth[current] + 1
                queue.append(dep)
    for ups in parents.values():
        ups.sort(key=lambda n: (depth.get(n, len(pkgs) + 1), n))
    # chains per package: one if it is direct, plus its parents' (a cycle's back edge: none)
    counts: dict[str, int] = {}
    entered: set[str] = set()
    todo = [name]
    while todo:
        current = todo[-1]
        if current not in entered:
            entered.add(current)
            todo.extend(p for p in parents[current] if p not in entered)
            continue
        todo.pop()
        if current not in counts:
            counts[current] = int(current in project.dependencies) + sum(
                counts.get(p, 0) for p in parents[current])
    # the chains themselves: depth-first up the parents, closest to the project first
    label = {n: f"{n}@{pkgs[n].version}" for n in pkgs}
    chains: list[list[str]] = []
    stack: list[tuple[str, tuple[str, ...]]] = [(name, ())]
    steps = 0
    while stack and len(chains) < limit and steps < _WHY_STEPS:
        current, below = stack.pop()
        steps += 1
        chain = (current, *below)
        if current in project.dependencies:
            chains.append([f"{PROJECT} (needs {current}@{project.dependencies[current]})",
                           *(label[n] for n in chain)])
        stack.extend((p, chain) for p in reversed(parents[current])
                     if p in depth and p not in chain)
    return sorted(chains, key=len), counts.get(name, 0)


def info(name_or_spec: str, *, session: Session, project: Project | None) -> dict[str, Any]:
    """Everything the registry (and the project, if any) knows of a package."""
    name, rng = parse_spec(name_or_spec)
    location = session.registry_location(project)
    lock = read_lock(project) if project is not None else None
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
        "size": chosen.size if all(a.size is not None for a in chosen.artifacts) else None,
        "formats": [{"format": a.format, "file": a.path, "size": a.size, "sha256": a.sha256}
                    for a in chosen.artifacts],
        "versions": [{"version": r.version, "yanked": r.yanked,
                      "published": r.get("published"), "size": r.size} for r in records],
        "dependents": lock.dependents(name) if lock else [],
        "conversions": ([c.to_json() for c in lock.packages[name].conversions]
                        if lock and name in lock.packages
                        and lock.packages[name].version == chosen.version else []),
        "entrypoints": (chosen.get("interface") or {}).get("entrypoints", []),
        "signatures": (chosen.get("interface") or {}).get("signatures", []),
    })
    return data


def diff_versions(spec_a: str, spec_b: str, *, session: Session,
                  project: Project | None) -> dict[str, Any]:
    """What changed between two versions: interface (with the semver level), metrics,
    size, formats and release notes."""
    from mlpm.interface import diff

    name_a, rng_a = parse_spec(spec_a)
    name_b, rng_b = parse_spec(spec_b)
    registry = session.open(session.registry_location(project))

    def pick(name: str, rng: str | None):
        records = registry.records(name)
        if rng is None:
            newest = latest_version(records)
            return next(r for r in records if r.version == newest)
        allowed = [r for r in records if semver.satisfies(r.version, rng)]
        if not allowed:
            raise NoMatchingVersion(f"no version of {name} matches {rng}; available: "
                                    f"{', '.join(r.version for r in records)}.")
        return max(allowed, key=lambda r: semver.parse_version(r.version))

    a, b = pick(name_a, rng_a), pick(name_b, rng_b)
    changes = _changes(a, b)
    metrics_a, metrics_b = a.get("metrics") or {}, b.get("metrics") or {}
    between = [r for r in registry.records(name_b) if name_a == name_b
               and semver.compare(a.version, r.version) < 0
               and semver.compare(r.version, b.version) <= 0]
    return {
        "a": f"{a.name}@{a.version}", "b": f"{b.name}@{b.version}",
        "level": diff.required_level(changes),
        "interface": [c.as_dict() for c in changes],
        "metrics": {k: [metrics_a.get(k), metrics_b.get(k)]
                    for k in sorted(set(metrics_a) | set(metrics_b))
                    if metrics_a.get(k) != metrics_b.get(k)},
        "size": [a.size if all(x.size is not None for x in a.artifacts) else None,
                 b.size if all(x.size is not None for x in b.artifacts) else None],
        "formats": {"removed": [f for f in a.formats if f not in b.formats],
                    "added": [f for f in b.formats if f not in a.formats]},
        "release_notes": [{"version": r.version, "notes": r.get("release-notes", "")}
                          for r in sorted(between, key=lambda r: semver.parse_version(r.version))],
    }


def breaking(registry, name: str, current: str, latest: str | None) -> list[str]:
    """How the latest version breaks the interface of the current one (empty: it does not)."""
    if latest is None or latest == current:
        return []
    changes = _changes(registry.record(name, current), registry.record(name, latest))
    return [c.text for c in changes if c.level == "major"]


def _changes(old, new) -> list:
    """The interface changes from one published record to another."""
    from mlpm.interface import diff

    return diff.diff(old.get("interface"), new.get("interface"),
                     old_weights=old.get("weights"), new_weights=new.get("weights"),
                     old_formats=old.formats, new_formats=new.formats,
                     old_code=old.get("code"), new_code=new.get("code"))


def search(text: str, *, session: Session, project: Project | None, task: str | None = None,
           framework: str | None = None) -> list[dict[str, Any]]:
    """Packages whose name, description, task or family contains ``text`` (case-insensitive)."""
    registry = session.open(session.registry_location(project))
    needle = text.lower()
    hits = []
    for name in registry.names(strict=True):  # an unreachable registry is an error here
        try:
            records = registry.records(name)
        except (PackageNotFound, DamagedIndex) as exc:  # one bad package hides no other
            import sys

            why = (f"the registry {registry.display} lists '{name}' but has no index file "
                   "for it" if isinstance(exc, PackageNotFound) else str(exc).rstrip("."))
            print(f"warning: {why}; search skipped it.", file=sys.stderr)
            continue
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
