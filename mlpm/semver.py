"""Versions and version ranges, exactly as npm's node-semver 7.x understands them.

Versions follow SemVer 2.0.0; ranges follow node-semver's grammar (``^ ~ ~> x X *``,
hyphen ranges, ``||``, comparators, partial versions and the prerelease rule), so a user
who knows npm is never surprised.  Only node-semver's default, strict mode is
implemented (no ``loose``, no ``includePrerelease``).

node-semver desugars a range by rewriting its text in a few passes and then reading the
result as comparators; this module follows the same passes so that odd inputs are
accepted or refused exactly as npm does.  The regular expressions are node-semver's
bounded ("safe") ones, built and compiled on first use so that importing is cheap.

>>> satisfies("1.2.7", "1.2")
True
>>> str(Range("^0.2.3 || 2.x"))
'>=0.2.3 <0.3.0-0||>=2.0.0 <3.0.0-0'
>>> max_satisfying(["1.2.3", "1.3.0", "2.0.0"], "~1.2")
'1.2.3'
>>> subset("^1.2.3", "1.2")
False
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = [
    "MAX_LENGTH",
    "MAX_SAFE_BUILD_LENGTH",
    "MAX_SAFE_COMPONENT_LENGTH",
    "MAX_SAFE_INTEGER",
    "RELEASE_TYPES",
    "InvalidRange",
    "InvalidVersion",
    "Range",
    "Version",
    "compare",
    "intersects",
    "max_satisfying",
    "min_satisfying",
    "parse_range",
    "parse_version",
    "satisfies",
    "subset",
    "valid",
    "valid_range",
]

# node-semver's limits; they decide which long or huge inputs are refused.
MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1
MAX_SAFE_COMPONENT_LENGTH = 16
MAX_SAFE_BUILD_LENGTH = MAX_LENGTH - 6
# Release kinds npm documents; ``Version.bump`` also takes node's "release" and "pre".
RELEASE_TYPES = ("major", "premajor", "minor", "preminor", "patch", "prepatch", "prerelease")


class InvalidVersion(ValueError):
    """A text that is not a SemVer 2.0.0 version (node-semver would throw TypeError)."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(
            f"'{text}' is not a valid version: versions look like 1.2.3 (SemVer 2.0.0)."
        )


class InvalidRange(ValueError):
    """A text that is not a node-semver range (node-semver would throw TypeError)."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(
            f"'{text}' is not a valid version range: "
            "use e.g. 1.2, ^1.2.0, ~1.2.3, >=1.0.0 <2.0.0 or 1.x."
        )


# JavaScript's \s and String.prototype.trim() use this set, not Python's str.isspace().
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_JS_SPACE_SET = frozenset(_JS_SPACE)
_VERSION_START = frozenset("0123456789xX*")
_VERSION_PREFIX = _JS_SPACE_SET | {"v", "="}
_DIGITS = frozenset("0123456789")
_IDENTIFIER_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_LETTERS_AND_HYPHEN = _IDENTIFIER_CHARS - _DIGITS


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


class _Grammar:
    """node-semver's bounded regular expressions, compiled once on first use."""

    def __init__(self) -> None:
        s = r"[\t\n\x0b\x0c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
        prefix = s[:-1] + "v=]"
        num = rf"0|[1-9][0-9]{{0,{MAX_LENGTH}}}"
        non_num = rf"[0-9]{{0,{MAX_LENGTH}}}[a-zA-Z-][a-zA-Z0-9-]{{0,{MAX_SAFE_BUILD_LENGTH}}}"
        pre_id = rf"(?:{non_num}|{num})"
        pre = rf"(?:-({pre_id}(?:\.{pre_id})*))"
        build_id = rf"[a-zA-Z0-9-]{{1,{MAX_SAFE_BUILD_LENGTH}}}"
        build = rf"(?:\+({build_id}(?:\.{build_id})*))"
        full_plain = rf"v?({num})\.({num})\.({num}){pre}?{build}?"
        gtlt = r"((?:<|>)?=?)"
        x_id = rf"{num}|x|X|\*"
        x_plain = rf"{prefix}*({x_id})(?:\.({x_id})(?:\.({x_id})(?:{pre})?{build}?)?)?"

        self.space_run = re.compile(s + "+")
        self.full = re.compile(full_plain)
        self.prerelease = re.compile(pre)
        self.build = re.compile(build)
        # Unbounded on purpose: node strips every "+build" from a range with this one.
        self.build_strip = re.compile(r"\+[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*")
        self.hyphen = re.compile(rf"{s}?({x_plain}){s}-{s}({x_plain}){s}?")
        self.tilde_trim = re.compile(rf"({s}?)~>?{s}")
        self.caret_trim = re.compile(rf"({s}?)\^{s}")
        self.tilde = re.compile(rf"~>?{x_plain}")
        self.caret = re.compile(rf"\^{x_plain}")
        self.x_range = re.compile(rf"{gtlt}{s}?{x_plain}")
        self.star = re.compile(rf"(<|>)?=?{s}?\*")
        self.gte0 = re.compile(rf"{s}?>={s}?0\.0\.0{s}?")
        self.comparator = re.compile(rf"{gtlt}{s}?({full_plain})|")
        # What JavaScript's Number() accepts, for node's isNaN()/Number() on identifiers.
        self.js_number = re.compile(
            r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
            r"|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+"
        )


@functools.cache
def _grammar() -> _Grammar:
    return _Grammar()


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _identifier(text: str) -> str | int:
    # node keeps numeric identifiers as numbers only below MAX_SAFE_INTEGER.
    if _is_digits(text) and (text == "0" or text[0] != "0") and int(text) < MAX_SAFE_INTEGER:
        return int(text)
    return text


def _compare_identifiers(a: str | int, b: str | int) -> int:
    if isinstance(a, int) and isinstance(b, int):
        return (a > b) - (a < b)
    a_num = isinstance(a, int) or _is_digits(a)
    b_num = isinstance(b, int) or _is_digits(b)
    if a_num and b_num:
        # JavaScript compares numeric strings as doubles, so huge ones may tie.
        fa, fb = float(a), float(b)
        return (fa > fb) - (fa < fb)
    if a_num:
        return -1
    if b_num:
        return 1
    assert isinstance(a, str) and isinstance(b, str)  # neither is numeric here
    return 0 if a == b else (-1 if a < b else 1)


class Version:
    """A SemVer 2.0.0 version: immutable, hashable, ordered by SemVer precedence.

    Build metadata is kept but ignored by ordering and equality, as node-semver's
    ``compare`` ignores it.

    >>> v = Version.parse("v1.2.3-alpha.1+build.5")
    >>> v.major, v.prerelease, v.build
    (1, ('alpha', 1), ('build', '5'))
    >>> str(v), v.is_prerelease
    ('1.2.3-alpha.1', True)
    >>> Version.parse("1.2.3") > v
    True
    """

    __slots__ = ("major", "minor", "patch", "prerelease", "build", "_text", "_key")

    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...]
    build: tuple[str, ...]
    _text: str
    _key: tuple[object, ...]

    def __init__(
        self,
        major: int,
        minor: int,
        patch: int,
        prerelease: Iterable[str | int] = (),
        build: Iterable[str] = (),
    ) -> None:
        pre = tuple(x if isinstance(x, int) else _identifier(str(x)) for x in prerelease)
        text = f"{major}.{minor}.{patch}"
        if pre:
            text += "-" + ".".join(str(x) for x in pre)
        # Equal versions must hash alike; huge numeric identifiers compare as doubles.
        key: list[object] = [major, minor, patch]
        for x in pre:
            if isinstance(x, str) and _is_digits(x):
                key.append(float(x))
                break
            key.append(x)
        else:
            key.append(len(pre))
        for name, value in (
            ("major", major),
            ("minor", minor),
            ("patch", patch),
            ("prerelease", pre),
            ("build", tuple(build)),
            ("_text", text),
            ("_key", tuple(key)),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Version is immutable; use bump() to get a new one")

    def __reduce__(self) -> tuple[type[Version], tuple[object, ...]]:
        return (Version, (self.major, self.minor, self.patch, self.prerelease, self.build))

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        """Read a version the way node's ``new SemVer(text)`` does (strict mode).

        A leading ``v`` and surrounding whitespace are allowed; anything else that is
        not SemVer 2.0.0 raises :class:`InvalidVersion`.

        >>> Version.parse(" v1.2.3 ")
        Version('1.2.3')
        >>> Version.parse("01.2.3")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlpm.semver.InvalidVersion: '01.2.3' is not a valid version: ...
        """
        if isinstance(text, Version):
            return text
        if not isinstance(text, str):
            raise InvalidVersion(text)
        return _parse_version_text(text)

    @property
    def is_prerelease(self) -> bool:
        """True for versions such as ``1.2.3-beta.1``."""
        return bool(self.prerelease)

    def bump(
        self,
        release: str,
        identifier: str | None = None,
        identifier_base: str | int | bool | None = None,
    ) -> Version:
        """The next version of kind ``release``, as node-semver's ``inc()`` computes it.

        ``release`` is one of major, minor, patch, premajor, preminor, prepatch,
        prerelease (and node's release / pre).  ``identifier`` names the prerelease
        (``"beta"`` gives ``-beta.0``); ``identifier_base`` "0" or "1" picks the first
        number, ``False`` leaves it off.  Build metadata is dropped.

        >>> str(Version.parse("1.2.3").bump("minor"))
        '1.3.0'
        >>> str(Version.parse("1.2.3").bump("prerelease", "rc"))
        '1.2.4-rc.0'
        >>> str(Version.parse("1.2.4-rc.0").bump("prerelease"))
        '1.2.4-rc.1'
        """
        draft = _Draft(self)
        draft.increment(release, identifier, identifier_base)
        return draft.version()

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        suffix = "+" + ".".join(self.build) if self.build else ""
        return f"Version('{self._text}{suffix}')"

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _compare_versions(self, other) == 0

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _compare_versions(self, other) < 0

    def __le__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _compare_versions(self, other) <= 0

    def __gt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _compare_versions(self, other) > 0

    def __ge__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return _compare_versions(self, other) >= 0


@functools.lru_cache(maxsize=4096)
def _parse_version_text(text: str) -> Version:
    # The length limit applies before trimming, as in node.
    if len(text) > MAX_LENGTH:
        raise InvalidVersion(text)
    plain = _plain_version(text)
    if plain is not None:
        return plain
    match = _grammar().full.fullmatch(_js_trim(text))
    if match is None:
        raise InvalidVersion(text)
    major, minor, patch = int(match[1]), int(match[2]), int(match[3])
    if max(major, minor, patch) > MAX_SAFE_INTEGER:
        raise InvalidVersion(text)
    pre = tuple(_identifier(x) for x in match[4].split(".")) if match[4] else ()
    build = tuple(match[5].split(".")) if match[5] else ()
    return Version(major, minor, patch, pre, build)


def _plain_parts(text: str) -> tuple[int, ...] | None:
    """The numbers of a plain "X", "X.Y" or "X.Y.Z" (no prefix, prerelease, build or
    padding), read without the grammar's regexes; None for anything else."""
    parts = text.split(".")
    if len(parts) > 3:
        return None
    out = []
    for part in parts:
        if not _is_digits(part) or len(part) > 16 or (len(part) > 1 and part[0] == "0"):
            return None
        out.append(int(part))
    return tuple(out) if max(out) <= MAX_SAFE_INTEGER else None


def _plain_version(text: str) -> Version | None:
    """``MAJOR.MINOR.PATCH`` read without building the grammar (most records' versions, so
    reading an index stays cheap); None when the full grammar must decide."""
    parts = _plain_parts(text)
    return Version(*parts, (), ()) if parts is not None and len(parts) == 3 else None


def _quick_satisfies(version: str, range: str) -> bool | None:
    """node-semver's answer for a plain version against the ranges mlpm writes ("^1.2.3",
    "~1.2.3", "1.2", "1", "1.2.3", "*"), without the grammar (a no-op install decides
    every locked range); None for anything else.

    >>> _quick_satisfies("1.2.7", "1.2"), _quick_satisfies("0.3.0", "^0.2.1")
    (True, False)
    """
    have = _plain_parts(version)
    if have is None or len(have) != 3:
        return None
    if range == "*":
        return True
    op = range[:1] if range[:1] in "^~" else ""
    want = _plain_parts(range[len(op):])
    if want is None:
        return None
    if op == "":  # "1", "1.2": that prefix; "1.2.3": exactly
        return have[:len(want)] == want
    if len(want) != 3:
        return None
    if have < want:
        return False
    if op == "~":
        return have[:2] == want[:2]
    major, minor, _ = want  # "^": up to the next change of the first non-zero part
    if major:
        return have[0] == major
    if minor:
        return have[:2] == want[:2]
    return have == want


def _compare_versions(a: Version, b: Version) -> int:
    if a._text == b._text:
        return 0
    for x, y in ((a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)):
        if x != y:
            return -1 if x < y else 1
    a_pre, b_pre = a.prerelease, b.prerelease
    # A version without a prerelease ranks above the same version with one.
    if not a_pre or not b_pre:
        return (not a_pre) - (not b_pre)
    for i in range(max(len(a_pre), len(b_pre))):
        if i >= len(b_pre):
            return 1
        if i >= len(a_pre):
            return -1
        if a_pre[i] != b_pre[i]:
            # node returns the first differing pair's verdict, even a double-rounding tie.
            return _compare_identifiers(a_pre[i], b_pre[i])
    return 0


def _js_number(text: str) -> float:
    """JavaScript's Number(text): NaN when the text is not a number."""
    body = _js_trim(text)
    if not body:
        return 0.0
    if not _grammar().js_number.fullmatch(body):
        return float("nan")
    if body[:2].lower() in ("0x", "0o", "0b"):
        return float(int(body[2:], {"x": 16, "o": 8, "b": 2}[body[1].lower()]))
    return float(body)


def _js_isnan(text: str) -> bool:
    number = _js_number(text)
    return number != number


def _js_truthy_number(value: object) -> bool:
    # node picks the prerelease base with `Number(identifierBase) ? 1 : 0`.
    if value is None or isinstance(value, bool):
        return bool(value)
    number = float(value) if isinstance(value, (int, float)) else _js_number(str(value))
    return number == number and number != 0


class _Draft:
    """A mutable copy of a version that node's inc() algorithm edits in place."""

    def __init__(self, version: Version) -> None:
        self.major, self.minor, self.patch = version.major, version.minor, version.patch
        self.pre: list[str | int] = list(version.prerelease)

    def version(self) -> Version:
        # Identifiers such as "dev.baz" are stored whole by node; split them like a parse would.
        ids = ".".join(str(x) for x in self.pre).split(".") if self.pre else []
        return Version(self.major, self.minor, self.patch, [_identifier(x) for x in ids])

    def increment(self, release: str, identifier: str | None, base_arg: object) -> None:
        if not isinstance(release, str):
            raise ValueError(f"invalid increment: {release!r}")
        if release.startswith("pre"):
            if not identifier and base_arg is False:
                raise ValueError("invalid increment: the prerelease identifier is empty")
            if identifier:
                match = _grammar().prerelease.search("-" + identifier)
                if match is None or match[1] != identifier:
                    raise ValueError(f"invalid prerelease identifier: {identifier!r}")
        if release == "premajor":
            self.pre, self.patch, self.minor = [], 0, 0
            self.major += 1
            self.increment("pre", identifier, base_arg)
        elif release == "preminor":
            self.pre, self.patch = [], 0
            self.minor += 1
            self.increment("pre", identifier, base_arg)
        elif release == "prepatch":
            self.pre = []
            self.increment("patch", identifier, base_arg)
            self.increment("pre", identifier, base_arg)
        elif release == "prerelease":
            if not self.pre:
                self.increment("patch", identifier, base_arg)
            self.increment("pre", identifier, base_arg)
        elif release == "release":
            if not self.pre:
                raise ValueError("invalid increment: the version is not a prerelease")
            self.pre = []
        elif release == "major":
            # 1.0.0-5 bumps to 1.0.0; 1.1.0 bumps to 2.0.0.
            if self.minor != 0 or self.patch != 0 or not self.pre:
                self.major += 1
            self.minor, self.patch, self.pre = 0, 0, []
        elif release == "minor":
            if self.patch != 0 or not self.pre:
                self.minor += 1
            self.patch, self.pre = 0, []
        elif release == "patch":
            if not self.pre:
                self.patch += 1
            self.pre = []
        elif release == "pre":
            self._increment_prerelease(identifier, base_arg)
        else:
            raise ValueError(
                f"invalid increment: {release!r} is not one of {', '.join(RELEASE_TYPES)}"
            )

    def _increment_prerelease(self, identifier: str | None, base_arg: object) -> None:
        base = 1 if _js_truthy_number(base_arg) else 0
        if not self.pre:
            self.pre = [base]
        else:
            for i in range(len(self.pre) - 1, -1, -1):
                item = self.pre[i]
                if isinstance(item, int):
                    self.pre[i] = item + 1
                    break
            else:
                if identifier == ".".join(str(x) for x in self.pre) and base_arg is False:
                    raise ValueError("invalid increment: the prerelease identifier already exists")
                self.pre.append(base)
        if identifier:
            fresh: list[str | int] = [identifier] if base_arg is False else [identifier, base]
            wanted = identifier.split(".")
            same_prefix = len(wanted) <= len(self.pre) and all(
                _compare_identifiers(self.pre[i], wanted[i]) == 0 for i in range(len(wanted))
            )
            if not same_prefix:
                self.pre = fresh
            else:
                after = self.pre[len(wanted)] if len(wanted) < len(self.pre) else None
                # node restarts the counter unless a number (to JS isNaN) follows it.
                if after is None or (isinstance(after, str) and _js_isnan(after)):
                    self.pre = fresh


class _Comparator:
    """One comparator of a range: an operator and a version; value '' means any version."""

    __slots__ = ("operator", "semver", "value")

    def __init__(self, text: str) -> None:
        grammar = _grammar()
        text = grammar.space_run.sub(" ", _js_trim(text))
        match = grammar.comparator.fullmatch(text)
        if match is None:
            raise InvalidRange(text)
        operator = match[1] or ""
        self.operator = "" if operator == "=" else operator
        self.semver: Version | None = None
        if match[2]:
            self.semver = Version.parse(match[2])
        self.value = "" if self.semver is None else self.operator + str(self.semver)

    def test(self, version: Version) -> bool:
        if self.semver is None:
            return True
        order = _compare_versions(version, self.semver)
        if self.operator == "":
            return order == 0
        if self.operator == ">":
            return order > 0
        if self.operator == ">=":
            return order >= 0
        if self.operator == "<":
            return order < 0
        return order <= 0

    def intersects(self, other: _Comparator) -> bool:
        if self.operator == "":
            # value is "" exactly when semver is None (any version)
            return self.semver is None or Range.parse(other.value).allows(self.semver)
        if other.operator == "":
            return other.semver is None or Range.parse(self.value).allows(other.semver)
        # Nothing sorts below <0.0.0-0 (or <0.0.0 outside prerelease mode).
        if self.value.startswith("<0.0.0") or other.value.startswith("<0.0.0"):
            return False
        if self.operator[0] == other.operator[0]:
            return True
        assert self.semver is not None and other.semver is not None
        if str(self.semver) == str(other.semver):
            if "=" in self.operator and "=" in other.operator:
                return True
        order = _compare_versions(self.semver, other.semver)
        if order < 0 and self.operator[0] == ">" and other.operator[0] == "<":
            return True
        return order > 0 and self.operator[0] == "<" and other.operator[0] == ">"


_Simple = tuple[_Comparator, ...]


class Range:
    """A node-semver range such as ``^1.2.3``, ``1.2`` or ``>=1.0.0 <2.0.0 || 3.x``.

    ``str(range)`` is node's normalized ``range.range`` string; ``text`` is the range
    as typed.  Construct with ``Range(text)`` or the cached ``Range.parse(text)``.

    >>> r = Range.parse("1.2")
    >>> str(r), r.text
    ('>=1.2.0 <1.3.0-0', '1.2')
    >>> "1.2.9" in r, r.allows("1.3.0"), r.allows("1.2.9-beta")
    (True, False, False)
    """

    __slots__ = ("text", "_set", "_formatted")

    text: str

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise InvalidRange(text)
        self.text = text
        try:
            self._set: tuple[_Simple, ...] = _parse_sets(text)
        except ValueError:
            raise InvalidRange(text) from None
        self._formatted = "||".join(" ".join(c.value for c in simple) for simple in self._set)

    @classmethod
    def parse(cls, text: str | Range) -> Range:
        """Read a range the way node's ``new Range(text)`` does (strict mode).

        >>> str(Range.parse("~1.2.3 || >=2 <2.5"))
        '>=1.2.3 <1.3.0-0||>=2.0.0 <2.5.0-0'
        >>> Range.parse("1.2.3.4")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        mlpm.semver.InvalidRange: '1.2.3.4' is not a valid version range: ...
        """
        if isinstance(text, Range):
            return text
        if not isinstance(text, str):
            raise InvalidRange(text)
        return _parse_range_text(text)

    def allows(self, version: Version | str) -> bool:
        """Whether ``version`` is in the range, prerelease rule included (node's ``test``).

        A prerelease only matches when some comparator names a prerelease of the same
        major.minor.patch.

        >>> Range.parse("^1.2.3-beta.2").allows("1.2.3-beta.4")
        True
        >>> Range.parse("^1.2.3-beta.2").allows("1.2.4-beta.1")
        False
        """
        version = Version.parse(version)
        return any(_test_set(simple, version) for simple in self._set)

    def __contains__(self, version: object) -> bool:
        # Like node's test(): something that is not a version is simply not in the range.
        if isinstance(version, str):
            try:
                version = Version.parse(version)
            except InvalidVersion:
                return False
        return isinstance(version, Version) and self.allows(version)

    def __reduce__(self) -> tuple[type[Range], tuple[str]]:
        return (Range, (self.text,))

    def intersects(self, other: Range | str) -> bool:
        """Whether some version could satisfy both ranges (node's ``Range.intersects``).

        >>> Range.parse("1.x").intersects("<1.5.0 || >=3")
        True
        """
        other = Range.parse(other)
        for mine in self._set:
            if not _is_satisfiable(mine):
                continue
            for theirs in other._set:
                if _is_satisfiable(theirs) and all(a.intersects(b) for a in mine for b in theirs):
                    return True
        return False

    def __str__(self) -> str:
        return self._formatted

    def __repr__(self) -> str:
        return f"Range({self.text!r})"


@functools.lru_cache(maxsize=4096)
def _parse_range_text(text: str) -> Range:
    return Range(text)


def _parse_sets(text: str) -> tuple[_Simple, ...]:
    grammar = _grammar()
    raw = grammar.space_run.sub(" ", _js_trim(text))
    sets = [_parse_simple(_js_trim(piece)) for piece in raw.split("||")]
    if len(sets) > 1:
        # Drop "matches nothing" alternatives (keeping one if all are), then collapse to *
        # when an alternative matches anything.
        sets = [simple for simple in sets if simple[0].value != "<0.0.0-0"] or sets[:1]
        if len(sets) > 1:
            for simple in sets:
                if len(simple) == 1 and simple[0].value == "":
                    return (simple,)
    return tuple(sets)


class _PieceCache:
    """node's 1000-entry LRU of parsed ``||`` pieces.

    It matters beyond speed: node's subset() treats two pieces that are the very same
    cached object as subsets of each other, and we must agree with it.
    """

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self.entries: dict[str, _Simple] = {}

    def get(self, key: str) -> _Simple | None:
        value = self.entries.pop(key, None)
        if value is not None:
            self.entries[key] = value
        return value

    def put(self, key: str, value: _Simple) -> None:
        if len(self.entries) >= self.size:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = value


_PIECES = _PieceCache()


def _parse_simple(piece: str) -> _Simple:
    grammar = _grammar()
    piece = grammar.build_strip.sub("", piece)
    cached = _PIECES.get(piece)
    if cached is not None:
        return cached
    text = piece
    hyphen = grammar.hyphen.fullmatch(text)
    if hyphen is not None:
        text = _desugar_hyphen(hyphen)
    text = _trim_operator_space(text)
    text = grammar.tilde_trim.sub(r"\1~", text)
    text = grammar.caret_trim.sub(r"\1^", text)
    desugared = " ".join(_desugar_comparator(token) for token in text.split(" "))
    tokens = [
        "" if grammar.gte0.fullmatch(_js_trim(token)) else _js_trim(token)
        for token in grammar.space_run.split(desugared)
    ]
    comparators = [_Comparator(token) for token in tokens]
    unique: dict[str, _Comparator] = {}
    for comparator in comparators:
        if comparator.value == "<0.0.0-0":
            # Not cached, as in node: a fresh object each time.
            return (comparator,)
        unique[comparator.value] = comparator
    if len(unique) > 1:
        unique.pop("", None)
    result = tuple(unique.values())
    _PIECES.put(piece, result)
    return result


def _is_x(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _desugar_hyphen(match: re.Match[str]) -> str:
    """``1.2 - 3.4`` becomes ``>=1.2.0 <3.5.0-0``."""
    low, l_major, l_minor, l_patch = match[1], match[2], match[3], match[4]
    high, h_major, h_minor, h_patch, h_pre = match[7], match[8], match[9], match[10], match[11]
    if _is_x(l_major):
        low = ""
    elif _is_x(l_minor):
        low = f">={l_major}.0.0"
    elif _is_x(l_patch):
        low = f">={l_major}.{l_minor}.0"
    else:
        low = f">={low}"
    if _is_x(h_major):
        high = ""
    elif _is_x(h_minor):
        high = f"<{int(h_major) + 1}.0.0-0"
    elif _is_x(h_patch):
        high = f"<{h_major}.{int(h_minor) + 1}.0-0"
    elif h_pre:
        high = f"<={h_major}.{h_minor}.{h_patch}-{h_pre}"
    else:
        high = f"<={high}"
    return _js_trim(f"{low} {high}")


def _desugar_comparator(token: str) -> str:
    """One space-separated token: carets, tildes, x-ranges and stars to comparators."""
    grammar = _grammar()
    token = grammar.build.sub("", token, count=1)
    token = " ".join(_desugar_caret(t) for t in grammar.space_run.split(_js_trim(token)))
    token = " ".join(_desugar_tilde(t) for t in grammar.space_run.split(_js_trim(token)))
    token = " ".join(_desugar_x_range(t) for t in grammar.space_run.split(token))
    return grammar.star.sub("", _js_trim(token), count=1)


def _desugar_tilde(token: str) -> str:
    """``~1.2.3`` allows patch-level changes: ``>=1.2.3 <1.3.0-0``."""
    match = _grammar().tilde.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, pre = match[1], match[2], match[3], match[4]
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    low = f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    return f">={low} <{major}.{int(minor) + 1}.0-0"


def _desugar_caret(token: str) -> str:
    """``^1.2.3`` allows changes that keep the left-most non-zero part."""
    match = _grammar().caret.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, pre = match[1], match[2], match[3], match[4]
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        if major == "0":
            return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
        return f">={major}.{minor}.0 <{int(major) + 1}.0.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    if major != "0":
        return f"{low} <{int(major) + 1}.0.0-0"
    if minor != "0":
        return f"{low} <{major}.{int(minor) + 1}.0-0"
    return f"{low} <{major}.{minor}.{int(patch) + 1}-0"


def _desugar_x_range(token: str) -> str:
    """``1.2.x``, ``>1.2``, ``<=1`` and friends to plain comparators."""
    token = _js_trim(token)
    match = _grammar().x_range.fullmatch(token)
    if match is None:
        return token
    operator, major, minor, patch = match[1], match[2], match[3], match[4]
    # An x before a number (x.1, 1.x.3) is not an x-range; the comparator parse refuses it.
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
        return token
    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    x_patch = x_minor or _is_x(patch)
    if operator == "=" and x_patch:
        operator = ""
    if x_major:
        return "<0.0.0-0" if operator in (">", "<") else "*"
    if operator and x_patch:
        m: int | str = 0 if x_minor else minor
        big: int | str = major
        if operator == ">":
            # >1 means >=2.0.0 and >1.2 means >=1.3.0.
            operator = ">="
            if x_minor:
                big, m = int(major) + 1, 0
            else:
                m = int(minor) + 1
        elif operator == "<=":
            # <=1.2 means <1.3.0-0: every 1.2.x is allowed.
            operator = "<"
            if x_minor:
                big = int(major) + 1
            else:
                m = int(minor) + 1
        return f"{operator}{big}.{m}.0" + ("-0" if operator == "<" else "")
    if x_minor:
        return f">={major}.0.0 <{int(major) + 1}.0.0-0"
    if x_patch:
        return f">={major}.{minor}.0 <{major}.{int(minor) + 1}.0-0"
    return match[0]


def _trim_operator_space(text: str) -> str:
    """Join an operator to its version (``> 1.2.3`` to ``>1.2.3``), in linear time.

    This is node's comparator-trim replacement, ``(\\s?)(<|>)?=?\\s?(version)`` applied
    globally keeping groups 1-3: only a blank right after the operator goes.  A scanner
    rather than that regex keeps long runs of ``v`` or ``=`` from taking quadratic time.
    """
    dropped: list[int] = []
    length = len(text)
    i = 0
    while i < length:
        start = i
        if text[i] in "<>":
            i += 1
        elif text[i] not in _VERSION_PREFIX and text[i] not in _VERSION_START:
            i += 1
            continue
        while i < length and text[i] in _VERSION_PREFIX:
            i += 1
        if i >= length or text[i] not in _VERSION_START:
            continue
        # Keep a leading blank, step over "<", ">" and "=", drop the blank after them.
        j = start + 1 if text[start] in _JS_SPACE_SET else start
        if text[j] in "<>":
            j += 1
        if text[j] == "=":
            j += 1
        if text[j] in _JS_SPACE_SET:
            dropped.append(j)
        i = _version_end(text, i)
    if not dropped:
        return text
    pieces, last = [], 0
    for j in dropped:
        pieces.append(text[last:j])
        last = j + 1
    pieces.append(text[last:])
    return "".join(pieces)


def _digit_run(text: str, i: int) -> int:
    # No rule reads more than MAX_LENGTH + 1 digits; stopping there keeps scans linear.
    j, limit = i, min(len(text), i + MAX_LENGTH + 2)
    while j < limit and text[j] in _DIGITS:
        j += 1
    return j - i


def _number_end(text: str, i: int, loose: bool) -> int:
    """End of ``0|[1-9][0-9]{0,256}`` (strict) or ``[0-9]{1,256}`` (loose) at i."""
    run = _digit_run(text, i)
    if run == 0:
        return i
    if not loose and text[i] == "0":
        return i + 1
    return i + min(run, MAX_LENGTH + (0 if loose else 1))


def _pre_identifier_end(text: str, i: int, loose: bool) -> int:
    run = _digit_run(text, i)
    after = i + run
    # A letter or hyphen after at most 256 digits makes an alphanumeric identifier.
    if run <= MAX_LENGTH and after < len(text) and text[after] in _LETTERS_AND_HYPHEN:
        end = after + 1
        limit = end + MAX_SAFE_BUILD_LENGTH
        while end < min(limit, len(text)) and text[end] in _IDENTIFIER_CHARS:
            end += 1
        return end
    return _number_end(text, i, loose)


def _prerelease_end(text: str, i: int, loose: bool) -> int:
    hyphen = i < len(text) and text[i] == "-"
    if not hyphen and not loose:
        return i
    first = i + hyphen
    end = _pre_identifier_end(text, first, loose)
    if end == first:
        if not (loose and hyphen):
            return i
        # Loose syntax lets the hyphen itself be the identifier.
        end = _pre_identifier_end(text, i, loose)
    while end < len(text) and text[end] == ".":
        nxt = _pre_identifier_end(text, end + 1, loose)
        if nxt == end + 1:
            break
        end = nxt
    return end


def _build_end(text: str, i: int) -> int:
    def identifier_end(k: int) -> int:
        end = k
        limit = min(len(text), k + MAX_SAFE_BUILD_LENGTH)
        while end < limit and text[end] in _IDENTIFIER_CHARS:
            end += 1
        return end

    if i >= len(text) or text[i] != "+":
        return i
    end = identifier_end(i + 1)
    if end == i + 1:
        return i
    while end < len(text) and text[end] == ".":
        nxt = identifier_end(end + 1)
        if nxt == end + 1:
            break
        end = nxt
    return end


def _version_end(text: str, i: int) -> int:
    """Where node's loose full version, or else its x-range version, starting at i ends."""
    end = i
    for part in range(3):
        nxt = _number_end(text, end, loose=True)
        # A run of more than 256 digits cannot be followed by the needed dot.
        if nxt == end or (part < 2 and (nxt >= len(text) or text[nxt] != ".")):
            break
        end = nxt + 1 if part < 2 else nxt
    else:
        return _build_end(text, _prerelease_end(text, end, loose=True))

    def part_end(k: int) -> int:
        if k < len(text) and text[k] in _DIGITS:
            return _number_end(text, k, loose=False)
        return k + 1 if k < len(text) and text[k] in "xX*" else k

    end = part_end(i)
    for _ in range(2):
        if end >= len(text) or text[end] != ".":
            return end
        nxt = part_end(end + 1)
        if nxt == end + 1:
            return end
        end = nxt
    return _build_end(text, _prerelease_end(text, end, loose=False))


def _test_set(simple: _Simple, version: Version) -> bool:
    if not all(comparator.test(version) for comparator in simple):
        return False
    if not version.prerelease:
        return True
    # A prerelease needs a comparator naming a prerelease of the same major.minor.patch.
    for comparator in simple:
        allowed = comparator.semver
        if (
            allowed is not None
            and allowed.prerelease
            and (
                (allowed.major, allowed.minor, allowed.patch)
                == (version.major, version.minor, version.patch)
            )
        ):
            return True
    return False


def _is_satisfiable(simple: _Simple) -> bool:
    remaining = list(simple)
    probe = remaining.pop()
    result = True
    while result and remaining:
        result = all(probe.intersects(other) for other in remaining)
        probe = remaining.pop()
    return result


def parse_version(text: str | Version) -> Version:
    """Same as :meth:`Version.parse`.

    >>> parse_version("1.0.0-rc.1").prerelease
    ('rc', 1)
    """
    return Version.parse(text)


def parse_range(text: str | Range) -> Range:
    """Same as :meth:`Range.parse`.

    >>> str(parse_range("1.x || >=2.5.0 || 5.0.0 - 7.2.3"))
    '>=1.0.0 <2.0.0-0||>=2.5.0||>=5.0.0 <=7.2.3'
    """
    return Range.parse(text)


def valid(text: object) -> str | None:
    """The normalized version string, or None when ``text`` is not a version.

    >>> valid(" v1.2.3+build "), valid("1.2")
    ('1.2.3', None)
    """
    try:
        return str(Version.parse(text))  # type: ignore[arg-type]
    except InvalidVersion:
        return None


def valid_range(text: object) -> str | None:
    """node's ``validRange``: the normalized range, ``'*'`` for any version, or None.

    >>> valid_range("~1.2"), valid_range(""), valid_range("1.2.3.4")
    ('>=1.2.0 <1.3.0-0', '*', None)
    """
    try:
        return str(Range.parse(text)) or "*"  # type: ignore[arg-type]
    except InvalidRange:
        return None


def satisfies(version: str | Version, range: str | Range) -> bool:
    """Whether ``version`` is in ``range``; raises InvalidVersion / InvalidRange on bad input.

    >>> satisfies("1.2.3", "^1.0.0"), satisfies("2.0.0-rc.1", "^1.0.0")
    (True, False)
    """
    if isinstance(version, str) and isinstance(range, str):
        quick = _quick_satisfies(version, range)
        if quick is not None:
            return quick
    parsed = Range.parse(range)
    return parsed.allows(Version.parse(version))


def _best(versions: Iterable[str | Version], range: str | Range, sign: int) -> str | None:
    parsed = Range.parse(range)
    best: tuple[str | Version, Version] | None = None
    for item in versions:
        if isinstance(item, Version):
            version = item
        elif isinstance(item, str) and item:
            try:
                version = Version.parse(item)
            except InvalidVersion:
                continue  # node skips versions it cannot read
        else:
            continue
        if parsed.allows(version) and (
            best is None or _compare_versions(best[1], version) == -sign
        ):
            best = (item, version)
    if best is None:
        return None
    return best[0] if isinstance(best[0], str) else str(best[0])


def max_satisfying(versions: Iterable[str | Version], range: str | Range) -> str | None:
    """The highest version in ``versions`` that the range allows, as given, or None.

    Unreadable versions in the list are skipped; an invalid range raises InvalidRange.

    >>> max_satisfying(["1.2.3", "1.2.4", "junk", "1.3.0-rc.1"], "~1.2")
    '1.2.4'
    """
    return _best(versions, range, 1)


def min_satisfying(versions: Iterable[str | Version], range: str | Range) -> str | None:
    """The lowest version in ``versions`` that the range allows, as given, or None.

    >>> min_satisfying(["1.2.3", "1.2.4", "2.0.0"], ">1.2.3")
    '1.2.4'
    """
    return _best(versions, range, -1)


def compare(a: str | Version, b: str | Version) -> int:
    """-1, 0 or 1 by SemVer precedence (build metadata ignored), like node's ``compare``.

    >>> compare("1.2.3-beta.2", "1.2.3-beta.11"), compare("1.0.0+a", "1.0.0+b")
    (-1, 0)
    """
    return _compare_versions(Version.parse(a), Version.parse(b))


def intersects(a: str | Range, b: str | Range) -> bool:
    """Whether any version could satisfy both ranges (node's ``intersects``).

    >>> intersects("^1.2", "~1.4.0"), intersects("1.x", ">=2")
    (True, False)
    """
    return Range.parse(a).intersects(Range.parse(b))


def subset(sub: str | Range, dom: str | Range) -> bool:
    """Whether every version ``sub`` allows is also allowed by ``dom`` (node's ``subset``).

    npm's save rule uses it: keep ``^1.2.3`` unless the user typed a range it does not
    fit inside.

    >>> subset("^1.2.3", ">=1.0.0"), subset("^1.2.3", "1.2"), subset("~1.2.3", "1.2")
    (True, False, True)
    """
    # node returns true for the very same input, even an invalid one, without parsing.
    if sub is dom or (isinstance(sub, str) and isinstance(dom, str) and sub == dom):
        return True
    # Fresh parses (not Range.parse's cache) so piece identity matches node's.
    sub_range = sub if isinstance(sub, Range) else Range(sub)
    dom_range = dom if isinstance(dom, Range) else Range(dom)
    saw_non_null = False
    for simple_sub in sub_range._set:
        for simple_dom in dom_range._set:
            verdict = _simple_subset(simple_sub, simple_dom)
            saw_non_null = saw_non_null or verdict is not None
            if verdict:
                break
        else:
            # Null pieces are ignored, but only until a non-null piece has been seen.
            if saw_non_null:
                return False
    return True


def _higher_gt(a: _Comparator | None, b: _Comparator) -> _Comparator:
    if a is None:
        return b
    assert a.semver is not None and b.semver is not None
    order = _compare_versions(a.semver, b.semver)
    if order != 0:
        return a if order > 0 else b
    return b if b.operator == ">" and a.operator == ">=" else a


def _lower_lt(a: _Comparator | None, b: _Comparator) -> _Comparator:
    if a is None:
        return b
    assert a.semver is not None and b.semver is not None
    order = _compare_versions(a.semver, b.semver)
    if order != 0:
        return a if order < 0 else b
    return b if b.operator == "<" and a.operator == "<=" else a


def _same_tuple(a: Version, b: Version) -> bool:
    return (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch)


def _simple_subset(sub: _Simple, dom: _Simple) -> bool | None:
    """Is one ``||`` piece inside another?  None when ``sub`` matches nothing at all."""
    if sub is dom:
        return True
    if len(sub) == 1 and sub[0].semver is None:
        if len(dom) == 1 and dom[0].semver is None:
            return True
        sub = (_Comparator(">=0.0.0"),)
    if len(dom) == 1 and dom[0].semver is None:
        dom = (_Comparator(">=0.0.0"),)

    equal: list[Version] = []
    gt: _Comparator | None = None
    lt: _Comparator | None = None
    for c in sub:
        if c.operator in (">", ">="):
            gt = _higher_gt(gt, c)
        elif c.operator in ("<", "<="):
            lt = _lower_lt(lt, c)
        elif c.semver is not None and all(c.semver is not e for e in equal):
            equal.append(c.semver)
    if len(equal) > 1:
        return None

    gtlt: int | None = None
    if gt is not None and lt is not None:
        assert gt.semver is not None and lt.semver is not None
        gtlt = _compare_versions(gt.semver, lt.semver)
        if gtlt > 0 or (gtlt == 0 and (gt.operator != ">=" or lt.operator != "<=")):
            return None

    for eq in equal:
        if gt is not None and not _test_set((gt,), eq):
            return None
        if lt is not None and not _test_set((lt,), eq):
            return None
        return all(_test_set((c,), eq) for c in dom)

    # A prerelease bound needs a dom comparator with a prerelease on the same tuple.
    need_lt_pre = lt.semver if lt is not None and lt.semver and lt.semver.prerelease else None
    need_gt_pre = gt.semver if gt is not None and gt.semver and gt.semver.prerelease else None
    # <1.2.3-0 is the same as <1.2.3.
    if (
        need_lt_pre is not None
        and lt is not None
        and lt.operator == "<"
        and need_lt_pre.prerelease == (0,)
    ):
        need_lt_pre = None

    has_dom_lt = has_dom_gt = False
    for c in dom:
        has_dom_gt = has_dom_gt or c.operator in (">", ">=")
        has_dom_lt = has_dom_lt or c.operator in ("<", "<=")
        dom_pre = c.semver if c.semver is not None and c.semver.prerelease else None
        if gt is not None:
            if need_gt_pre is not None and dom_pre and _same_tuple(dom_pre, need_gt_pre):
                need_gt_pre = None
            if c.operator in (">", ">="):
                higher = _higher_gt(gt, c)
                if higher is c and higher is not gt:
                    return False
            elif gt.operator == ">=" and gt.semver is not None and not c.test(gt.semver):
                return False
        if lt is not None:
            if need_lt_pre is not None and dom_pre and _same_tuple(dom_pre, need_lt_pre):
                need_lt_pre = None
            if c.operator in ("<", "<="):
                lower = _lower_lt(lt, c)
                if lower is c and lower is not lt:
                    return False
            elif lt.operator == "<=" and lt.semver is not None and not c.test(lt.semver):
                return False
        if not c.operator and (lt is not None or gt is not None) and gtlt != 0:
            return False

    # A one-sided sub cannot fit a dom bounded on the other side (>1.0.0 vs <2.0.0).
    if gt is not None and has_dom_lt and lt is None and gtlt != 0:
        return False
    if lt is not None and has_dom_gt and gt is None and gtlt != 0:
        return False
    return need_gt_pre is None and need_lt_pre is None
