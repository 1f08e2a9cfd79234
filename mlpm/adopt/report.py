"""``mlpm adopt``'s report: scan a folder, map every call site, and say so in a table.

``adopt(path, session)`` is the operation (scan.py, then mapping.py against the registry
the project uses); ``rows`` and ``summary`` are the text the command prints. Under
``--json`` the command prints ``mlpm.cli.commands.adopt.AdoptResult`` built from the same
``Adoption``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlpm.adopt.sites import EXACT, NAME, UNMAPPED, UNRESOLVED, Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mlpm.session import Session

HOW_ORDER = (EXACT, NAME, UNRESOLVED, UNMAPPED)
CALL_WIDTH = 60  # the call's text is cut to this in the table (--json has it whole)


@dataclass(frozen=True)
class Adoption:
    """What ``mlpm adopt`` found in a folder and what each call site maps to."""

    root: Path                           # the adopted folder
    registry: str                        # the registry mapped against, as recorded
    mappings: list[Mapping]              # one per call site, in file order
    files: int                           # Python files and notebooks read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why) not read
    upstream_index: bool = True          # False: the registry has no upstreams index

    def counts(self) -> dict[str, int]:
        return {how: sum(m.how == how for m in self.mappings) for how in HOW_ORDER}


def adopt(path: Path | str, session: Session) -> Adoption:
    """Scan ``path`` and map each call site against the registry the project there uses
    (``--registry`` / MLPM_REGISTRY, else its manifest's, else the bundled registry)."""
    from mlpm.adopt.mapping import Mapper
    from mlpm.adopt.scan import scan
    from mlpm.errors import ProjectNotFound
    from mlpm.project import Project

    found = scan(path)
    try:
        project: Project | None = Project.find(found.root)
    except ProjectNotFound:
        project = None
    location = session.registry_location(project)
    mapper = Mapper(session.open(location), found.root)
    mappings = [mapper.map(site) for site in found.sites]
    return Adoption(root=found.root, registry=location, mappings=mappings, files=found.files,
                    skipped=list(found.skipped),
                    upstream_index=not mapper.upstreams.consulted or mapper.upstreams.available)


def package_text(mapping: Mapping) -> str:
    """``resnet50@1.1.0``, ``all-minilm-l6-v2 (hf:ORG/REPO@main)``, or ``-``."""
    if mapping.package is None:
        return "-"
    if mapping.source and mapping.source.startswith("hf:"):
        rev = mapping.revision or "default branch"
        return f"{mapping.package} ({mapping.source}@{rev})"
    return f"{mapping.package}@{mapping.version}" if mapping.version else mapping.package


def how_text(mapping: Mapping) -> str:
    return f"{mapping.how}: {mapping.reason}" if mapping.reason else mapping.how


def rows(adoption: Adoption) -> list[list[str]]:
    """The table's rows: where, the call (shortened to one line), package, how sure."""
    out = []
    for m in adoption.mappings:
        call = " ".join(m.site.call.split())
        if len(call) > CALL_WIDTH:
            call = call[:CALL_WIDTH - 3] + "..."
        out.append([m.site.where, call, package_text(m), how_text(m)])
    return out


HEADER = ["WHERE", "CALL", "PACKAGE", "HOW SURE"]


def summary(adoption: Adoption) -> str:
    """One line: how many call sites of each kind of match, in how many files."""
    counts = adoption.counts()
    sites = len(adoption.mappings)
    parts = ", ".join(f"{n} {how}" for how, n in counts.items() if n)
    text = f"{sites} call site{'s' * (sites != 1)} in {adoption.files} " \
        f"file{'s' * (adoption.files != 1)}" + (f": {parts}" if parts else "")
    return text + "."
