"""Version questions about a package's records, answered in one place: the newest
release a new resolve may choose (yanked versions never; prereleases only when there is
nothing else), and which records match ranges and the newest of them, built on ``semver``."""

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


def matching(records: Iterable[Record], *ranges: str | None,
             yanked: bool = False) -> list[Record]:
    """The records whose version satisfies every range (None: any version), in the order
    given; yanked versions only with ``yanked=True`` (a lock may keep one, a new resolve
    never picks one). Prereleases match as ``semver.satisfies`` says (node-semver's rule).

    >>> from mlpm.registry.records import Record
    >>> rs = [Record("x", v, "onnx", []) for v in ("1.0.0", "1.4.2", "2.0.0-rc.1", "1.5.0")]
    >>> rs[3].yanked = True
    >>> [r.version for r in matching(rs, "^1.0.0")]
    ['1.0.0', '1.4.2']
    >>> [r.version for r in matching(rs, "^1.4", yanked=True)]
    ['1.4.2', '1.5.0']
    """
    from mlpm import semver

    wanted = [rng for rng in ranges if rng is not None]
    return [r for r in records if (yanked or not r.yanked)
            and all(semver.satisfies(r.version, rng) for rng in wanted)]


def newest_matching(records: Iterable[Record], *ranges: str | None,
                    yanked: bool = False) -> Record | None:
    """The newest record that :func:`matching` keeps, or None when none does: the one
    answer to "which version does ``NAME@RANGE`` mean", like ``semver.max_satisfying``
    over the records' versions but for every range at once.

    >>> from mlpm.registry.records import Record
    >>> rs = [Record("x", v, "onnx", []) for v in ("1.0.0", "1.4.2", "2.0.0", "1.5.0-rc.1")]
    >>> newest_matching(rs, "^1.0.0"), newest_matching(rs, "^1.0.0", "<1.2")
    (Record(x@1.4.2), Record(x@1.0.0))
    >>> newest_matching(rs, "^3") is None
    True
    """
    from mlpm import semver

    return max(matching(records, *ranges, yanked=yanked),
               key=lambda r: semver.parse_version(r.version), default=None)
