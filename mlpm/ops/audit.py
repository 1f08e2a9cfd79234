"""``mlpm audit``: scan every locked artifact of a project and check the advisories and
yanks its registry publishes for the locked versions; and the manifest's ``allow-pickle``
opt-in that the state-dict loader reads.

The scanning itself (what each framework's loader would unpickle) is mlpm/audit.py, below
the frameworks that also call it; this module is the project-level operation on top.

    >>> from mlpm.ops.audit import audit  # doctest: +SKIP
    >>> report = audit(Project.find(), Store())  # doctest: +SKIP
    >>> report.exit_code, [f.kind for f in report.findings]  # doctest: +SKIP
    (1, ['unsafe-pickle'])
"""

from __future__ import annotations

from mlpm.audit import AuditReport, Finding, scan_file
from mlpm.lockcheck import read_lock
from mlpm.project import Project

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from mlpm.registry.records import Record

# -- the per-package opt-in ----------------------------------------------------------------


def allow_pickle_list(project: Project) -> list[str]:
    """The manifest's ``allow-pickle = ["name", ...]`` ([tool.mlpm] in pyproject.toml)."""
    return project.opted_in("allow-pickle")


def pickle_allowed(project: Project, name: str) -> bool:
    """Whether the project opted into full (code-running) pickle loading for ``name``.

    >>> pickle_allowed(Project.find(), "legacy-model")  # doctest: +SKIP
    False
    """
    return name in allow_pickle_list(project)


# -- the audit -----------------------------------------------------------------------------


def audit(project: Project, store, *, session=None) -> AuditReport:
    """Scan every locked artifact of ``project`` in ``store`` and check its advisories.

    ``session`` (an ``mlpm.ops.Session``) is used to read the registry; by default one is
    made over ``store`` honouring MLPM_OFFLINE. Offline, versions whose index is not
    cached are listed in ``report.unchecked`` instead of failing.
    """
    from mlpm.errors import OfflineError, StaleLock
    from mlpm.ops import Session

    lock = read_lock(project)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first, then audit.")
    if session is None:
        from mlpm.fetch import is_offline

        session = Session(store, offline=is_offline())
    allowed = set(allow_pickle_list(project))
    report = AuditReport()
    for name in sorted(lock.packages):
        pkg = lock.packages[name]
        label = f"{pkg.name}@{pkg.version}"
        report.packages += 1
        for art in pkg.artifacts:
            if not store.has_blob(art.sha256, art.size):
                report.unchecked.append(f"{label} {art.path}: not in the cache; run "
                                        "`mlpm install` first")
                continue
            try:
                scan = scan_file(store.blob_path(art.sha256), art.format)
            except OSError as exc:
                report.unchecked.append(f"{label} {art.path}: unreadable ({exc})")
                continue
            report.artifacts += 1
            report.pickles += scan.pickles
            report.findings += scan.findings(label, art.path, allowed=name in allowed)
        try:
            record = session.open(pkg.registry).record(pkg.name, pkg.version)
        except OfflineError:
            report.unchecked.append(f"{label}: advisories not checked (offline, index not "
                                    "cached)")
            continue
        except LookupError:
            report.unchecked.append(f"{label}: the registry no longer lists this version")
            continue
        report.findings += _record_findings(label, record)
    return report


def _record_findings(label: str, record: Record) -> list[Finding]:
    out = []
    for adv in record.advisories:
        fixed = adv.get("fixed-in")
        detail = f"{adv.get('id', 'advisory')}: {adv.get('summary', '(no summary)')}"
        if fixed:
            detail += f"; fixed in {fixed}: run `mlpm install {record.name}@^{fixed}`"
        out.append(Finding(label, None, "advisory", detail,
                           severity=str(adv.get("severity") or "unknown")))
    if record.yanked:
        reason = record.yanked_reason
        out.append(Finding(label, None, "yanked",
                           f"yanked by its publisher: {reason or 'no reason given'}; run "
                           f"`mlpm upgrade {record.name}` to move to a version that is not",
                           severity="high" if reason else None))
    return out
