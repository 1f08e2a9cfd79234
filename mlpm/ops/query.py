"""Read-only questions: list, tree, why, info, search. Each returns plain data."""

from __future__ import annotations

from typing import Any

from mlpm import semver
from mlpm.errors import DamagedIndex, NoMatchingVersion, NotInstalled, PackageNotFound, StaleLock
from mlpm.lockcheck import read_lock
from mlpm.ops import Session
from mlpm.project import Lock, Project
from mlpm.registry.records import Interface, Record, check_name, parse_spec
from mlpm.registry.search import Found
from mlpm.registry.versions import latest_version, newest_matching
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
            "formats": sorted(pkg.formats),
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
    """Everything the registry (and the project, if any) knows of a package; for
    ``hf:ORG/REPO[@AT]``, what the Hugging Face repository says before installing."""
    if name_or_spec.startswith("hf:"):
        return _hf_info(name_or_spec, session, project)
    name, rng = parse_spec(name_or_spec)
    location = session.registry_location(project)
    lock = read_lock(project) if project is not None else None
    if lock is not None and name in lock.packages and session.registry is None:
        location = lock.packages[name].registry
    registry = session.open(location)
    records = sorted(registry.records(name), key=lambda r: semver.parse_version(r.version))
    latest = latest_version(records)
    if rng is not None:
        newest = newest_matching(records, rng)
        if newest is None:
            raise NoMatchingVersion(
                f"no version of {name} matches {rng}; available: "
                f"{', '.join(r.version for r in records if not r.yanked)}.")
        chosen = newest
    else:
        chosen = next((r for r in records if r.version == latest), records[-1])
    installed = lock.packages[name].version if lock and name in lock.packages else None
    data = chosen.to_json()
    data.pop("artifacts")
    iface = chosen.interface or Interface()
    data.update({
        "registry": registry.display,
        "latest": latest,
        "newer_available": latest is not None and semver.compare(latest, chosen.version) > 0,
        "installed": installed,
        "size": chosen.size if all(a.size is not None for a in chosen.artifacts) else None,
        "formats": [{"format": a.format, "file": a.path, "size": a.size, "sha256": a.sha256,
                     "signatures": iface.signatures_for(a.format)}  # each format's own
                    for a in chosen.artifacts if a.role != "samples"],
        "samples": [{"file": a.path, "size": a.size, "sha256": a.sha256}
                    for a in chosen.artifacts if a.role == "samples"],
        "versions": [{"version": r.version, "yanked": r.yanked,
                      "published": r.published, "size": r.size} for r in records],
        "dependents": lock.dependents(name) if lock else [],
        "conversions": ([c.to_json() for c in lock.packages[name].conversions]
                        if lock and name in lock.packages
                        and lock.packages[name].version == chosen.version else []),
        "entrypoints": iface.entrypoints or [],
        "signatures": iface.signatures or [],
    })
    return data


def _hf_info(spec: str, session: Session, project: Project | None) -> dict[str, Any]:
    from mlpm.errors import UsageError
    from mlpm.registry.hfid import check_repo_id, package_name

    repo_id, _, at = spec[3:].partition("@")
    try:
        check_repo_id(repo_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    lock = read_lock(project) if project is not None else None
    name = next((p.name for p in (lock.packages.values() if lock else [])
                 if p.registry == "hf:" + repo_id), None) or package_name(repo_id) or "model"
    data = session.open("hf:" + repo_id).describe(name, at)  # type: ignore[attr-defined]
    if lock is not None and name in lock.packages:
        data["installed"] = lock.packages[name].version
        data["dependents"] = lock.dependents(name)
    return data


def _hf_record(spec: str, session: Session) -> Record:
    """The record ``hf:ORG/REPO[@AT]`` means."""
    from mlpm.errors import UsageError
    from mlpm.registry.hfid import check_repo_id, package_name

    if not spec.startswith("hf:"):
        raise UsageError(f"{spec} is a registry package; compare a Hugging Face repository "
                         "with another of its revisions: mlpm diff hf:ORG/REPO@A "
                         "hf:ORG/REPO@B.")
    repo_id, _, at = spec[3:].partition("@")
    try:
        check_repo_id(repo_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return session.open("hf:" + repo_id).pick(  # type: ignore[attr-defined]
        package_name(repo_id) or "model", at)


def diff_versions(spec_a: str, spec_b: str, *, session: Session,
                  project: Project | None) -> dict[str, Any]:
    """What changed between two versions: interface (with the semver level), metrics,
    size, formats and release notes."""
    from mlpm.interface import diff

    if spec_a.startswith("hf:") or spec_b.startswith("hf:"):
        a, b = _hf_record(spec_a, session), _hf_record(spec_b, session)
        changes = _changes(a, b)
        return {"a": f"{spec_a.partition('@')[0]}@{a.version}",
                "b": f"{spec_b.partition('@')[0]}@{b.version}",
                "level": diff.required_level(changes),
                "interface": [c.as_dict() for c in changes], "metrics": {},
                "size": [a.size, b.size],
                "formats": {"removed": [f for f in a.formats if f not in b.formats],
                            "added": [f for f in b.formats if f not in a.formats]},
                "release_notes": []}
    name_a, rng_a = parse_spec(spec_a)
    name_b, rng_b = parse_spec(spec_b)
    registry = session.open(session.registry_location(project))

    def pick(name: str, rng: str | None) -> Record:
        records = registry.records(name)
        if rng is None:
            latest = latest_version(records)
            return next(r for r in records if r.version == latest)
        newest = newest_matching(records, rng, yanked=True)  # a yanked version can be diffed
        if newest is None:
            raise NoMatchingVersion(f"no version of {name} matches {rng}; available: "
                                    f"{', '.join(r.version for r in records)}.")
        return newest

    a, b = pick(name_a, rng_a), pick(name_b, rng_b)
    changes = _changes(a, b)
    metrics_a, metrics_b = a.metrics, b.metrics
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
        "release_notes": [{"version": r.version, "notes": r.release_notes}
                          for r in sorted(between, key=lambda r: semver.parse_version(r.version))],
    }


def breaking(registry, name: str, current: str, latest: str | None) -> list[str]:
    """How the latest version breaks the interface of the current one (empty: it does not)."""
    if latest is None or latest == current:
        return []
    changes = _changes(registry.record(name, current), registry.record(name, latest))
    return [c.text for c in changes if c.level == "major"]


def _changes(old: Record, new: Record) -> list:
    """The interface changes from one published record to another."""
    from mlpm.interface import diff

    hub = getattr(old, "changes_to", None)  # a Hugging Face commit: its tensors and files
    if hub is not None and hasattr(new, "changes_to"):
        return hub(new)

    return diff.diff(old.interface, new.interface,
                     old_weights=old.weights_digest, new_weights=new.weights_digest,
                     old_formats=old.formats, new_formats=new.formats,
                     old_code=old.code_digest, new_code=new.code_digest,
                     old_digests=old.format_digests, new_digests=new.format_digests)


def search(text: str, *, session: Session, project: Project | None, task: str | None = None,
           framework: str | None = None, limit: int | None = None) -> Found:
    """Packages whose name, description, task, family or algorithm contains ``text``
    (case-insensitive): the first ``limit`` (None: all) in rank order (the name itself,
    names that start with the text, the rest; by name within each), and how many more
    match. From the registry's search index when it has one (synced into a local database,
    mlpm/registry/search.py), else from ``names`` (in its order) and every package's index
    file; a listed name without an index file (a publish under way, or one that died) is
    skipped with a warning."""
    registry = session.open(session.registry_location(project))
    from mlpm.errors import OfflineError
    from mlpm.registry.search import search as from_index

    try:
        indexed = from_index(registry, text, task, framework, limit)
    except OfflineError:  # no synced copy of the index: what is cached of names, if any
        indexed = None
    if indexed is not None:
        return indexed
    needle = text.lower()
    hits = []
    for name in dict.fromkeys(registry.names(strict=True)):  # unreachable: an error here
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
        haystack = " ".join((name, rec.description, rec.task or "", rec.family or "",
                             rec.algorithm or ""))
        if needle not in haystack.lower():
            continue
        if task and rec.task != task or framework and rec.framework != framework:
            continue
        hits.append({"name": name, "version": rec.version, "framework": rec.framework,
                     "task": rec.task, "description": rec.description})
    hits.sort(key=lambda h: (h["name"] != needle, not str(h["name"]).startswith(needle)))
    shown = hits if limit is None else hits[:limit]
    return Found(shown, len(hits) - len(shown), True)
