"""``mlpm adopt --write``: add the exactly mapped packages to the manifest and lock them.

The manifest is created as ``mlpm init`` would (mlpm.toml, or ``[tool.mlpm]`` in an
existing pyproject.toml) when the folder has none. The packages go through the install
operation in one transaction (mlpm/ops/install.py): registry packages as ``NAME@VERSION``
(the version the call site maps to; the manifest keeps ``^VERSION``, npm's save rule),
Hugging Face repositories as ``hf:ORG/REPO@REVISION`` (the revision the code asks for, else
the repository's default branch). If the install fails, a manifest created here is removed
again, so nothing is left half-written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpm.adopt.sites import EXACT, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mlpm.ops.install import InstallResult
    from mlpm.session import Session


@dataclass
class Written:
    """What ``--write`` did."""

    manifest: Path | None = None           # the manifest written (None: nothing to add)
    created: bool = False                  # True: the manifest was created here
    specs: list[str] = field(default_factory=list)  # what was installed, as install specs
    notes: list[str] = field(default_factory=list)  # call sites left out, and why
    install: InstallResult | None = None


def plan(mappings: list[Mapping]) -> tuple[list[Mapping], list[str]]:
    """One mapping per package among the EXACT ones, and a note for each left out: two call
    sites may ask for different versions (or revisions) of one package, and a project holds
    one of them (the newest version; for a repository, the first revision met)."""
    from mlpm import semver

    chosen: dict[str, Mapping] = {}
    notes: list[str] = []
    for m in mappings:
        if m.how != EXACT or m.package is None:
            continue
        before = chosen.get(m.package)
        if before is None:
            chosen[m.package] = m
            continue
        if (before.source, before.version, before.revision) == (m.source, m.version, m.revision):
            continue
        if before.source == m.source and before.version and m.version:
            newer = m if semver.parse_version(m.version) > semver.parse_version(before.version) \
                else before
            older = before if newer is m else m
            chosen[m.package] = newer
            notes.append(f"{m.package}: {older.site.where} asks for {older.version} and "
                         f"{newer.site.where} for {newer.version}; added {newer.version}")
            continue
        notes.append(f"{m.package}: {m.site.where} asks for {_spec(m)} but {before.site.where} "
                     f"for {_spec(before)}; added the first (install the other under another "
                     "name with `mlpm install hf:ORG/REPO@REV --name NAME`)")
    return list(chosen.values()), notes


def _spec(m: Mapping) -> str:
    if m.source and m.source.startswith("hf:"):
        return f"{m.source}@{m.revision}" if m.revision else m.source
    return f"{m.package}@{m.version}"


def write(root: Path, mappings: list[Mapping], session: Session) -> Written:
    """Add every EXACT mapping's package to the project at (or above) ``root`` and lock
    them; creates the manifest in ``root`` when there is none."""
    from mlpm.errors import ProjectNotFound
    from mlpm.ops.install import install
    from mlpm.project import Project

    chosen, notes = plan(mappings)
    done = Written(notes=notes)
    if not chosen:
        return done
    specs = []
    for m in chosen:
        if m.source and m.source.startswith("hf:"):
            revision = m.revision or _default_branch(session, m.source)
            specs.append(f"{m.source}@{revision}")
        else:
            specs.append(f"{m.package}@{m.version}")
    try:
        project = Project.find(root)
        backup = None
    except ProjectNotFound:
        pyproject = root / "pyproject.toml"
        backup = pyproject.read_bytes() if pyproject.is_file() else None
        project = Project.init(root)
        done.created = True
    done.manifest = project.manifest_path
    try:
        done.install = install(project, specs, session=session)
    except BaseException:
        if done.created:  # as it was before: no manifest, or the pyproject.toml untouched
            if backup is not None:
                from mlpm.store import write_atomic

                write_atomic(project.manifest_path, backup)
            else:
                project.manifest_path.unlink(missing_ok=True)
        raise
    done.specs = specs
    return done


def _default_branch(session: Session, source: str) -> str:
    """The branch the code's calls without ``revision=`` read: the repository's default."""
    repo = session.open(source)
    return repo.default_branch()[0]  # type: ignore[attr-defined]
