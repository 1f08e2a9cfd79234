"""install, upgrade and outdated: resolve, fetch and verify, then lock and save."""

from __future__ import annotations

from mlpm.errors import InconsistentLock, IntegrityError, NotInstalled, StaleLock, UsageError
from mlpm.lockcheck import (
    DUPLICATE,
    RECORD,
    REGISTRY,
    UNKNOWN,
    Inconsistency,
    cached_size_problems,
    check_lock,
    compare_record,
    read_lock,
)
from mlpm.ops import (
    Change,
    Session,
    commit,
    diff_locks,
    locked_from_record,
)
from mlpm.project import HF_PREFIX, Lock, Project, Source
from mlpm.registry.records import parse_spec
from mlpm.registry.versions import latest_version, newest_matching
from mlpm.session import fetch_locked

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from mlpm.sources import Sources


class InstallResult:
    """What install / upgrade did."""

    def __init__(self, packages: int = 0):
        self.changes: list[Change] = []
        self.saved: dict[str, str] = {}  # manifest ranges written: name -> range
        self.fetched_files = 0
        self.fetched_bytes = 0
        self.packages = packages
        self.notes: list[str] = []  # e.g. the interface changes an upgrade --latest crossed
        self.dry_run = False  # True: nothing was fetched or written; fetched_* is the plan
        self.unknown_sizes = 0  # files to fetch whose size the registry does not record


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


def _lock_from(session: Session, sources: Sources, resolution, old: Lock | None,
               distrust: frozenset[str] | set[str] = frozenset()) -> Lock:
    """The new lock; a version locked before keeps the digests pinned at first install.

    ``distrust``: packages whose old entries were found wrong (see mlpm/lockcheck.py);
    they are rebuilt from the registry's records alone.
    """
    lock = Lock("")
    for name, record in resolution.records.items():
        location = sources.location_of(name)
        pkg = locked_from_record(record, location, resolution.edges[name])
        hub = record.get("hf")
        if isinstance(hub, dict):  # a Hugging Face package: the revision and its commit
            pkg.revision, pkg.commit = hub.get("revision"), hub.get("commit")
        before = old.packages.get(name) if old else None
        if before is not None and before.version == pkg.version and name not in distrust \
                and before.registry == location:
            _same_bytes_as_locked(before, record, session.open(location).display)
            pinned = {(a.format, a.path, a.url): a for a in before.artifacts if a.pinned}
            pkg.artifacts = [a if a.pinned else pinned.get((a.format, a.path, a.url), a)
                             for a in pkg.artifacts]
            pkg.conversions = list(before.conversions)
        lock.packages[name] = pkg
    return lock


def _same_bytes_as_locked(before, record, registry: str) -> None:
    """A published version is immutable: if the registry now gives other files, digests or
    dependencies for a version the lock pins, one of the two was altered."""
    for problem in compare_record(before, record, registry):
        if problem.kind == REGISTRY:
            raise IntegrityError(problem.problem)


def _verify_locked(session: Session, lock: Lock, missing: set[str],
                   frozen: bool) -> list[Inconsistency]:
    """What the store and the registry say against a lock that is consistent on its own.

    A cached blob of another size than the lock gives is always looked at (one stat per
    file to fetch). The registry's records are compared only when the install reads the
    registry anyway, never on a plain no-op install: before fetching a file (the fetched
    packages, read fresh), and on --frozen (every package, from the records already on
    this machine: a folder registry's index, an HTTP registry's cached index files).
    """
    found = cached_size_problems(session.store, lock, missing)
    if found or session.offline:
        return found
    found += _against_registry(session, lock, sorted(missing), fresh=True)
    if frozen:
        on_disk = Session(session.store, offline=True)
        found += _against_registry(on_disk, lock, sorted(set(lock.packages) - missing),
                                   fresh=False)
    return found


def _against_registry(session: Session, lock: Lock, names: list[str],
                      fresh: bool) -> list[Inconsistency]:
    from mlpm.errors import OfflineError, PackageNotFound, RegistryError

    found: list[Inconsistency] = []
    for name in names:
        pkg = lock.packages[name]
        if pkg.registry.startswith(HF_PREFIX):
            continue  # a commit's files do not change: the Hub is asked for them alone
        try:
            registry = session.open(pkg.registry)
            record = registry.record(name, pkg.version)
        except PackageNotFound:
            # A cached copy of an HTTP index may predate the version: no evidence then.
            if fresh or not pkg.registry.startswith(("http://", "https://")):
                found.append(Inconsistency(
                    UNKNOWN, name, f"it pins {name} {pkg.version}, which the registry "
                    f"{registry.display} does not have", f"the registry has no {pkg.version}"))
            continue
        except (RegistryError, OfflineError, OSError):
            continue  # the registry cannot be read now: nothing to compare with
        found += compare_record(pkg, record, registry.display)
    return found


def _repair_notes(problems: list[Inconsistency], old: Lock, new: Lock) -> list[str]:
    """One line per package a repair changed: what changed, and why."""
    notes, seen = [], set()
    for problem in problems:
        if problem.name in seen:
            continue
        seen.add(problem.name)
        before, after = old.packages.get(problem.name), new.packages.get(problem.name)
        if after is None:
            if before is None:
                continue
            change = f"removed {problem.name} {before.version}"
        elif before is None:
            change = f"added {problem.name} {after.version}"
        elif problem.kind == DUPLICATE:
            change = f"kept one entry for {problem.name}, at {after.version}"
        elif before.version != after.version:
            change = f"{problem.name} {before.version} -> {after.version}"
        elif before.to_toml() != after.to_toml():
            change = f"rewrote the entry for {problem.name} {after.version}"
        else:
            continue  # right all along: another entry was the wrong one
        notes.append(f"mlpm.lock repaired: {change} ({problem.reason})")
    return notes


def _apply(session: Session, project: Project, old: Lock | None, new: Lock,
           result: InstallResult, dry_run: bool = False,
           options_before: dict[str, dict[str, str]] | None = None) -> InstallResult:
    """Fetch, verify and convert everything, and check that every package still loads in
    the formats the project uses it in; only then write the lock and the manifest.
    ``options_before``: the manifest's format= / context= options before this command."""
    if dry_run:
        return _plan(session, old, new, result)
    result.fetched_files, result.fetched_bytes = fetch_locked(session, list(new.packages.values()))
    before = project.options if options_before is None else options_before
    _keep_conversions(session, project, old, new, before)
    result.notes += _check_uses(session, project, old, new, before)
    commit(session, project, new)
    result.changes = diff_locks(old, new)
    result.packages = len(new.packages)
    return result


def _plan(session: Session, old: Lock | None, new: Lock, result: InstallResult) -> InstallResult:
    """--dry-run: what _apply would change and fetch; nothing is fetched or written."""
    missing = [a for p in new.packages.values() for a in p.artifacts
               if not session.store.has_blob(a.sha256, a.size)]
    result.dry_run = True
    result.fetched_files = len(missing)
    result.fetched_bytes = sum(a.size or 0 for a in missing)
    result.unknown_sizes = sum(a.size is None for a in missing)
    result.changes = diff_locks(old, new)
    result.packages = len(new.packages)
    return result


def _changed(project: Project, old: Lock | None, new: Lock,
             options_before: dict[str, dict[str, str]]):
    """(new package, its old entry or None) for each package this command adds, moves to
    another version or uses in other options: the ones whose uses must be checked again."""
    for name, pkg in new.packages.items():
        before = old.packages.get(name) if old else None
        if before is None or before.version != pkg.version or \
                project.options.get(name, {}) != options_before.get(name, {}):
            yield pkg, before


def _conversions_in_use(project: Project, before, options_before: dict[str, dict[str, str]]):
    """The old entry's conversions the project still uses: all of them, except one made
    for manifest options that this command changed (``--format savedmodel`` instead of
    ``--context edge`` drops the TFLite conversion)."""
    from mlpm.ops.convert import wanted_format

    old_options = options_before.get(before.name, {})
    if old_options == project.options.get(before.name, {}):
        return list(before.conversions)
    from mlpm.errors import MlpmError

    try:
        served = wanted_format(before, old_options) if old_options else None
    except MlpmError:  # options this mlpm no longer reads: keep every conversion
        served = None
    return [c for c in before.conversions if c.format != served]


def _keep_conversions(session: Session, project: Project, old: Lock | None, new: Lock,
                      options_before: dict[str, dict[str, str]]) -> None:
    """A package used in a converted format stays usable in it: a new version is converted
    (and parity-checked) before the lock switches to it; a failure keeps the old lock."""
    from mlpm.ops.convert import convert_for_manifest, ensure_converted

    for pkg, before in _changed(project, old, new, options_before):
        if before is None or before.version == pkg.version or pkg.conversions:
            continue
        for conv in _conversions_in_use(project, before, options_before):
            if conv.format is not None and not any(a.format == conv.format
                                                   for a in pkg.artifacts):
                ensure_converted(pkg, conv.format, session, signature=conv.signature,
                                 tolerance=conv.tolerance_asked, input_shapes=conv.input_shapes)
    if project.options:
        convert_for_manifest(project, new, session)


def _check_uses(session: Session, project: Project, old: Lock | None, new: Lock,
                options_before: dict[str, dict[str, str]]) -> list[str]:
    """Before the lock switches a package to another version (or adds it, or uses it in
    other options), every format the project uses it in (its manifest's context= /
    format=, a conversion the old lock records) must load: a converted one was made and
    parity-checked by _keep_conversions; a published one is checked here. Raises
    FormatNotLoadable, so nothing is written; returns one note per version change checked."""
    from mlpm.artifacts import label

    notes = []
    for pkg, before in _changed(project, old, new, options_before):
        moved = before is not None and before.version != pkg.version
        for fmt, use in _uses(project, before, pkg, options_before).items():
            if any(a.format == fmt for a in pkg.artifacts):
                _check_published(session, project, before, pkg, fmt, use)
                if moved:
                    notes.append(f"{label(pkg)} as {fmt} {use}: its published file loads")
                continue
            conv = next((c for c in pkg.conversions if c.format == fmt), None)
            if conv is not None and moved:
                gap = conv.parity.get("max_abs")
                notes.append(f"{label(pkg)} as {fmt} {use}: converted"
                             + (f", parity max abs {gap:.2g}" if gap is not None else ""))
    return notes


def _uses(project: Project, before, pkg, options_before: dict[str, dict[str, str]],
          ) -> dict[str, str]:
    """Format -> why the project uses ``pkg`` in it, in words ("in the edge context")."""
    from mlpm.ops.convert import wanted_format

    uses: dict[str, str] = {}
    options = project.options.get(pkg.name, {})
    target = wanted_format(pkg, options)
    if target is not None:
        uses[target] = (f"in the {options['context']} context" if options.get("context")
                        else f"({project.manifest_path.name} asks for {target})")
    kept = _conversions_in_use(project, before, options_before) if before is not None else []
    for conv in kept:
        if conv.format is not None and conv.format not in uses:
            uses[conv.format] = f"(mlpm.lock records a {conv.format} conversion)"
    return uses


# Data formats: loading one runs no publisher code, so the check loads it for real.
_LOAD_CHECKED = ("onnx", "tflite")


def _check_published(session: Session, project: Project, before, pkg, fmt: str,
                     use: str) -> None:
    """Raise FormatNotLoadable unless ``pkg``'s published ``fmt`` loads: mlpm has a loader,
    a TFLite file needs no custom op (read without TensorFlow), and a data format loads in
    the runtime ``mlpm.load`` uses, when that is installed. Code-bearing formats are not
    loaded here: that needs the user's trust, which ``mlpm.load`` asks for."""
    from mlpm.artifacts import choose_artifact, is_snapshot, label, loadable_formats, not_loadable
    from mlpm.errors import FormatNotLoadable, FrameworkMissing
    from mlpm.frameworks import LOADABLE, load_file

    reason = None
    if fmt not in LOADABLE:
        reason = "mlpm.load has no loader for this format"
    elif fmt in _LOAD_CHECKED and not is_snapshot(pkg):  # a snapshot loads as a folder
        file = session.store.blob_path(choose_artifact(pkg, fmt).sha256)
        reason = _custom_ops(file) if fmt == "tflite" else None
        if reason is None:
            try:
                load_file(fmt, file, label(pkg))
            except FrameworkMissing:
                pass  # nothing to run it with here: mlpm.load will say what to install
            except FormatNotLoadable as exc:
                reason = str(exc).rstrip(".")
    if reason is None:
        return
    others = loadable_formats(pkg, besides=fmt)
    stays = f" ({pkg.name} stays at {before.version})" if before is not None and \
        before.version != pkg.version else ""
    fix = (f"`mlpm install {pkg.name}@{pkg.version} --format {others[0]}` uses a format that "
           f"loads" if others else f"ask its publisher for a {fmt} file mlpm can load")
    raise not_loadable(pkg, fmt, reason, use, f"mlpm.lock and {project.manifest_path.name} "
                       f"are unchanged{stays}; {fix}")


def _custom_ops(file) -> str | None:
    """Why a TFLite file cannot load as its flatbuffer tells (no TensorFlow): the custom
    ops it needs that no stock interpreter has; None when it needs none."""
    from mlpm.errors import InvalidModelFile
    from mlpm.interface.tflite import custom_ops

    try:
        # Flex ops are TensorFlow kernels, which TensorFlow's TFLite interpreter carries
        missing = [op for op in custom_ops(file) if not op.startswith("Flex")]
    except InvalidModelFile as exc:
        return str(exc).split(";")[0]
    if not missing:
        return None
    return (f"its tflite file needs the custom op{'s' * (len(missing) > 1)} "
            f"{', '.join(missing)}, which no stock TFLite interpreter has")


def install(project: Project, specs: list[str] | None = None, *, session: Session,
            frozen: bool = False, options: dict[str, str] | None = None,
            dry_run: bool = False, name: str | None = None,
            registry_name: str | None = None) -> InstallResult:
    """``mlpm install [SPEC...]``: with no spec, exactly what mlpm.lock says (like ``npm ci``).

    A spec is ``NAME[@RANGE]`` or ``hf:ORG/REPO[@RANGE|REVISION]`` (a Hugging Face
    repository; ``name`` chooses the package name it gets). ``registry_name`` takes the
    packages named from the manifest's ``[registries]`` entry of that name.
    ``options`` (format= / context=) are kept in the manifest for the packages named.
    ``dry_run``: resolve and report what would change and be fetched, writing nothing.
    """
    if not specs and not dry_run:
        done = _up_to_date(project, session, frozen)
        if done is not None:
            return done
    with project.locked():
        return _install(project, specs, session=session, frozen=frozen, options=options,
                        dry_run=dry_run, name=name, registry_name=registry_name)


def _up_to_date(project: Project, session: Session, frozen: bool) -> InstallResult | None:
    """A plain ``mlpm install`` with nothing to do, decided without holding the project:
    the lock is fresh and consistent, every file is in the store (and, with ``frozen``, the
    registry's records on this machine agree with it) and the store's record of what the
    project uses is current. Nothing is written, so no hold is needed (the files read are
    replaced atomically); anything else returns None and runs under the hold."""
    lock = Lock.read(project.lock_path)
    if lock is None or lock.manifest_hash != project.manifest_hash() or \
            check_lock(project, lock):
        return None
    if not all(session.store.has_blob(a.sha256, a.size)
               for p in lock.packages.values() for a in p.artifacts):
        return None
    if not session.store.refs_fresh(project.root, project.lock_path):
        return None
    if frozen and _verify_locked(session, lock, set(), frozen=True):
        return None  # the hold path says what disagrees
    return InstallResult(packages=len(lock.packages))


def _parse_specs(project: Project, specs: list[str], session: Session, name: str | None,
                 registry_name: str | None, options: dict[str, str] | None,
                 ) -> list[tuple[str, str | None]]:
    """Each spec as (package name, range typed); a Hugging Face spec or ``--registry NAME``
    also sets the dependency's source in ``project`` (saved only if the install succeeds)."""
    if name is not None and len(specs) != 1:
        raise UsageError("--name names one package; install the others in another command.")
    if registry_name is not None and registry_name not in project.registries:
        known = ", ".join(sorted(project.registries)) or "none"
        raise UsageError(f"the manifest's [registries] has no '{registry_name}' (defined: "
                         f"{known}); add it there, e.g. {registry_name} = "
                         '"https://models.example.com/reg/".')
    parsed: list[tuple[str, str | None]] = []
    for spec in specs:
        if spec.startswith(HF_PREFIX):
            if registry_name is not None:
                raise UsageError(f"{spec} comes from the Hugging Face Hub, not a registry; drop "
                                 "--registry for it.")
            parsed.append(_hf_spec(project, spec, session, name, options))
            continue
        pkg, rng = parse_spec(spec)
        if name is not None:
            raise UsageError("--name renames a Hugging Face repository (hf:ORG/REPO); a "
                             "registry package keeps its own name.")
        if registry_name is not None:
            project.sources[pkg] = Source(registry=registry_name)
        elif pkg in project.sources and project.sources[pkg].hf is not None:
            raise UsageError(f"{pkg} comes from the Hugging Face repository "
                             f"{project.sources[pkg].hf}; install it as "
                             f"hf:{project.sources[pkg].hf}@REVISION.")
        parsed.append((pkg, rng))
    return parsed


def _hf_spec(project: Project, spec: str, session: Session, name: str | None,
             options: dict[str, str] | None) -> tuple[str, str | None]:
    """``hf:ORG/REPO[@X]``: X a 40-hex commit, a branch or non-SemVer tag (tracked as a
    revision), a SemVer tag or a range (over the repository's SemVer tags); none: the newest
    SemVer tag if there is one, else the default branch."""
    from mlpm.registry.hfid import check_repo_id, package_name
    from mlpm.registry.records import check_name

    repo_id, _, at = spec[len(HF_PREFIX):].partition("@")
    try:
        check_repo_id(repo_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    pkg = name if name is not None else package_name(repo_id)
    if pkg is None:
        raise UsageError(f"{repo_id}'s name cannot be a package name; choose one with --name, "
                         "e.g. --name my-model.")
    check_name(pkg)
    current = project.sources.get(pkg)
    if pkg in project.dependencies and (current is None or current.hf != repo_id):
        where = f"the Hugging Face repository {current.hf}" if current and current.hf else \
            "a registry"
        raise UsageError(f"the project already has a package named {pkg} (from {where}); "
                         "choose another name with --name.")
    repo = session.open(HF_PREFIX + repo_id)
    rev, rng = repo.interpret(at)  # type: ignore[attr-defined]
    keep = current if current is not None and current.hf == repo_id else None
    project.sources[pkg] = Source(hf=repo_id, rev=rev,
                                  include=keep.include if keep else None,
                                  exclude=keep.exclude if keep else None)
    return pkg, rng


def _install(project: Project, specs: list[str] | None, *, session: Session, frozen: bool,
             options: dict[str, str] | None, dry_run: bool = False, name: str | None = None,
             registry_name: str | None = None) -> InstallResult:
    specs = list(specs or [])
    options_before = {n: dict(o) for n, o in project.options.items()}  # as the manifest has them
    if frozen and specs:
        raise UsageError("--frozen installs exactly what mlpm.lock says and cannot add packages; "
                         "drop --frozen to install new ones.")
    parsed = _parse_specs(project, specs, session, name, registry_name, options)
    if frozen and parsed:
        raise UsageError("--frozen installs exactly what mlpm.lock says and cannot add packages; "
                         "drop --frozen to install new ones.")
    location = session.registry_location(project)
    if session.registry and not frozen:
        project.registry = session.registry if location.startswith("http") else location
    # The lock is checked, not trusted (mlpm/lockcheck.py): against the manifest while its
    # manifest-hash says it was made from it, else (stale: resolved again anyway) on its own.
    lock = Lock.read(project.lock_path)  # as written: install repairs it
    fresh = lock is not None and lock.manifest_hash == project.manifest_hash()
    problems = check_lock(project, lock, against_manifest=fresh) if lock is not None else []

    if not parsed:
        if lock is not None and fresh and not problems:
            result = InstallResult(packages=len(lock.packages))
            if dry_run:
                return _plan(session, lock, lock, result)
            missing = {p.name for p in lock.packages.values()
                       if not all(session.store.has_blob(a.sha256, a.size) for a in p.artifacts)}
            if missing or frozen:
                problems = _verify_locked(session, lock, missing, frozen)
            if not problems:
                if missing:
                    result.fetched_files, result.fetched_bytes = fetch_locked(
                        session, list(lock.packages.values()))
                if result.fetched_files or not session.store.refs_fresh(project.root,
                                                                        project.lock_path):
                    session.store.set_refs(project.root, project.lock_path, lock.references())
                return result
        for problem in problems:
            if problem.kind == REGISTRY:  # not repaired: which side is right is not known
                raise IntegrityError(problem.problem)
        if frozen and not fresh:
            raise StaleLock(f"mlpm.lock is out of date: {_stale_reason(project, lock)}; run "
                            "`mlpm install` without --frozen to update it, then commit mlpm.lock.")
        if frozen:
            raise InconsistentLock(f"mlpm.lock needs to be updated: {problems[0]}; run `mlpm "
                                   "install` without --frozen to update it, then commit "
                                   "mlpm.lock.")
        requirements, unpinned = dict(project.dependencies), set()
    else:
        requirements = dict(project.dependencies)
        for name, rng in parsed:
            requirements[name] = rng or "*"
            if options:
                project.options[name] = dict(options)
        unpinned = {name for name, _ in parsed}

    from mlpm.resolve import resolve

    moved = {p.name for p in problems if p.kind == UNKNOWN}
    locked = {n: v for n, v in _pins(lock).items() if n not in moved}
    from mlpm.sources import Sources

    sources = Sources.for_project(session, project, location, lock)
    resolution = resolve(sources, requirements, locked=locked, unpinned=unpinned)
    new = _lock_from(session, sources, resolution, lock,
                     {p.name for p in problems if p.kind in (RECORD, DUPLICATE)})
    result = InstallResult()
    if lock is not None:
        result.notes += _repair_notes(problems, lock, new)
    for pkg, rng in parsed:
        before = project.dependencies.get(pkg)
        source = project.sources.get(pkg)
        if source is not None and source.rev is not None:
            project.dependencies[pkg] = "*"  # the revision is the source's; no range
            if before != "*" or pkg not in (lock.packages if lock else {}):
                result.saved[pkg] = f"rev {source.rev}"
            continue
        project.dependencies[pkg] = save_range(resolution.records[pkg].version, rng)
        if project.dependencies[pkg] != before:  # say "saved" only when the manifest changes
            result.saved[pkg] = project.dependencies[pkg]
    return _apply(session, project, lock, new, result, dry_run, options_before)


def _pins(lock: Lock | None) -> dict[str, str]:
    return {n: p.version for n, p in lock.packages.items()} if lock else {}


def upgrade(project: Project, names: list[str] | None = None, *, session: Session,
            latest: bool = False, dry_run: bool = False) -> InstallResult:
    """``mlpm upgrade [NAME...] [--latest]``: newest versions the ranges (or --latest) allow;
    ``dry_run``: report what would change, writing nothing."""
    with project.locked():
        return _upgrade(project, names, session=session, latest=latest, dry_run=dry_run)


def _upgrade(project: Project, names: list[str] | None, *, session: Session,
             latest: bool, dry_run: bool = False) -> InstallResult:
    parsed = [parse_spec(n) for n in names or []]
    for name, rng in parsed:
        if rng is not None:
            raise UsageError(f"upgrade takes package names, not ranges; to change the range run "
                             f"`mlpm install {name}@{rng}`.")
    names = [name for name, _ in parsed]
    lock = read_lock(project)
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
    from mlpm.sources import Sources

    location = session.registry_location(project)
    registry = Sources.for_project(session, project, location, lock)
    requirements = dict(project.dependencies)
    result = InstallResult()
    if latest:  # a package tracking a revision has no range to widen
        targets = [n for n in targets if n not in project.sources
                   or project.sources[n].rev is None]
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
            if project.dependencies.get(name) != f"^{new}":
                result.saved[name] = f"^{new}"
            project.dependencies[name] = f"^{new}"
            old = lock.packages[name].version if lock and name in lock.packages else None
            if old and old != new:
                for text in breaking(registry, name, old, new):
                    result.notes.append(f"{name} {old} -> {new} breaks the interface: {text}")
    return _apply(session, project, lock, _lock_from(session, registry, resolution, lock), result,
                  dry_run)


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

    lock = read_lock(project)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first.")
    rows = []
    from mlpm.sources import Sources

    sources = Sources.for_project(session, project, session.registry_location(project), lock)
    for pkg in lock.packages.values():
        if pkg.registry.startswith(HF_PREFIX) and pkg.name not in sources.where:
            sources.route(pkg.name, pkg.registry, "mlpm.lock")
    for name, pkg in sorted(lock.packages.items()):
        registry = sources.registry_of(name)
        records = registry.records(name)
        ranges = []
        if name in project.dependencies:
            ranges.append(project.dependencies[name])
        for other in lock.packages.values():
            if name in other.dependencies:
                try:
                    ranges.append(sources.registry_of(other.name).record(
                        other.name, other.version).dependencies[name])
                except (LookupError, KeyError):
                    pass
        newest = newest_matching(records, *ranges)
        wanted = newest.version if newest is not None else None
        from mlpm.ops.query import breaking

        latest = latest_version(records)
        row = Outdated(name, pkg.version, wanted, latest, name in project.dependencies,
                       " ".join(ranges) or "*", breaking(registry, name, pkg.version, latest))
        if everything or row.current != row.wanted or row.current != row.latest:
            rows.append(row)
    return rows
