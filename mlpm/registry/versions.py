"""Version questions about a package's records, answered in one place: the newest
release a new resolve may choose (yanked versions never; prereleases only when there is
nothing else), built on ``semver``."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlpm.registry.records import Record


def latest_version(records: Iterable[Record]) -> str | None:
    """The newest non-yanked release (prereleases only if nothing else exists).

    >>> from mlpm.registry.records import Record
    >>> latest_version([Record("x", v, "onnx", []) for v in ("1.0.0", "2.0.0-rc.1", "1.4.2")])
    '1.4.2'
    """
    from mlpm import semver

    versions = [r.version for r in records if not r.yanked]
    stable = [v for v in versions if not semver.parse_version(v).is_prerelease]
    pool = stable or versions
    return max(pool, key=semver.parse_version) if pool else None
