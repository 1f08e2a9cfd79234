"""mirror: copy packages from one registry to another (folder, HTTP, OCI as the source;
folder or OCI as the destination), records byte for byte, artifacts by their sha256.

What is copied: every version of every package (or the versions the NAME@RANGE specs
match, yanked ones included, or exactly what an mlpm.lock pins), with its yank flag and
reason. A version already in the destination is not copied again, only its yank flag is
brought up to date, so re-running a mirror copies what is missing and an interrupted one
resumes. A project that points its registry at the mirror keeps its lock: same records,
same sha256s.
"""

from __future__ import annotations

from pathlib import Path

from mlpm.errors import PackageNotFound, UsageError
from mlpm.registry import Registry, canonical
from mlpm.registry.records import Artifact, Record, parse_spec
from mlpm.session import Session


class MirrorResult:
    """What a mirror did: versions copied, yank flags changed, artifact bytes copied."""

    def __init__(self) -> None:
        self.copied: list[str] = []  # "name@version"
        self.updated: list[str] = []  # yank flag brought up to date
        self.present = 0  # versions the destination had already
        self.files = 0
        self.bytes = 0


def mirror(src: str, dst: str, specs: list[str] | None = None, *, lock: Path | None = None,
           session: Session) -> MirrorResult:
    """``mlpm registry mirror SRC DST [NAME[@RANGE]...] [--lock mlpm.lock]``."""
    source_location, target_location = canonical(src), canonical(dst)
    if source_location == target_location:
        raise UsageError("the source and the destination are the same registry.")
    if target_location.startswith(("http://", "https://")) or target_location == "bundled":
        raise UsageError(f"{dst} cannot be written: mirror into a registry folder (serve it "
                         "with `mlpm registry serve`) or an oci:// registry.")
    if specs and lock is not None:
        raise UsageError("give NAME@RANGE specs or --lock, not both.")
    source = session.open(source_location)
    wanted = _wanted(source, specs or [], lock)
    target = _Target(target_location, session)
    result = MirrorResult()
    for name, records in wanted.items():
        have = {r.version: r for r in target.records(name)}
        for record in records:
            there = have.get(record.version)
            if there is not None:
                result.present += 1
                if there.yanked != record.yanked or there.yanked_reason != record.yanked_reason:
                    target.set_yanked(name, record.version, record.yanked, record.yanked_reason)
                    result.updated.append(f"{name}@{record.version}")
                continue
            files = _fetch(session, source, record)
            target.add(record, files, list(have.values()))
            have[record.version] = record
            result.copied.append(f"{name}@{record.version}")
            result.files += len(files)
            result.bytes += sum(p.stat().st_size for _, p in files)
    return result


def _wanted(source: Registry, specs: list[str], lock: Path | None) -> dict[str, list[Record]]:
    """The records to copy, oldest first per package."""
    from mlpm import semver

    out: dict[str, list[Record]] = {}
    if lock is not None:
        from mlpm.project import Lock

        read = Lock.read(lock)
        if read is None:
            raise UsageError(f"{lock} does not exist; give the path of a project's mlpm.lock.")
        for pkg in read.packages.values():
            out.setdefault(pkg.name, []).append(source.record(pkg.name, pkg.version))
    elif specs:
        for spec in specs:
            name, rng = parse_spec(spec)
            matching = [r for r in source.records(name)
                        if rng is None or semver.satisfies(r.version, rng)]
            if not matching:
                raise PackageNotFound(f"no version of {name} matches {rng} in the registry "
                                      f"{source.display}; run `mlpm info {name}` to see them.")
            out.setdefault(name, []).extend(r for r in matching if r not in out[name])
    else:
        for name in source.names(strict=True):
            out[name] = list(source.records(name))
    return {name: sorted(records, key=lambda r: semver.parse_version(r.version))
            for name, records in out.items()}


def _fetch(session: Session, source: Registry, record: Record) -> list[tuple[Artifact, Path]]:
    """The record's artifacts that the registry holds, verified in the store (public ones,
    fetched from where they live at install, are not copied)."""
    from mlpm.fetch import fetch_blob

    files = []
    for art in record.artifacts:
        if not art.sha256 or art.url.startswith(("http://", "https://")):
            continue
        path = fetch_blob(session.store, source.artifact_url(art, record.name), art.sha256,
                          art.size, label=f"{record.name}@{record.version} {art.path}",
                          offline=session.offline)
        files.append((art, path))
    return files


class _Target:
    """The destination: a registry folder or an OCI registry."""

    def __init__(self, location: str, session: Session):
        self.location = location
        self.session = session
        if location.startswith("oci://"):
            from mlpm.registry.oci import OciRegistry

            self.oci: OciRegistry | None = OciRegistry(location, session.store, offline=False)
            self.folder: Path | None = None
        else:
            from mlpm.ops.publish import registry_dir

            self.oci = None
            self.folder = registry_dir(location)

    def records(self, name: str) -> list[Record]:
        if self.oci is not None:
            return self.oci.records(name) if self.oci.exists(name) else []
        from mlpm.registry import open_registry

        local = open_registry(str(self.folder))
        return local.records(name) if local.exists(name) else []

    def add(self, record: Record, files: list[tuple[Artifact, Path]],
            existing: list[Record]) -> None:
        if self.oci is not None:
            if self.oci.exists_version(record.name, record.version):
                self.oci.repair_index(record.name)  # a mirror killed before its index write
                return
            self.oci.publish_version(record, files, existing)
            return
        from mlpm.ops.publish import add_to_folder

        assert self.folder is not None
        add_to_folder(self.folder, record, files)

    def set_yanked(self, name: str, version: str, yanked: bool, reason: str | None) -> None:
        if self.oci is not None:
            self.oci.set_yanked(name, version, yanked, reason)
            return
        from mlpm.ops.publish import yank

        yank(f"{name}@{version}", str(self.folder), undo=not yanked, reason=reason)
