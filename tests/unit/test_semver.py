"""Versions and ranges behave exactly as npm's node-semver says they do.

The tables are node-semver's own test fixtures (test/fixtures/*.js and
test/ranges/*.js in npm/node-semver), ported as data: the cases for node's default
options only, since mlpm implements neither ``loose`` nor ``includePrerelease``.
"""

from __future__ import annotations

import doctest
import pickle

import pytest

from mlpm import semver
from mlpm.semver import (
    MAX_LENGTH,
    MAX_SAFE_INTEGER,
    InvalidRange,
    InvalidVersion,
    Range,
    Version,
)

# ---------------------------------------------------------------- node-semver fixtures

# test/fixtures/range-include.js: the range allows the version.
RANGE_INCLUDE = [
    ("1.0.0 - 2.0.0", "1.2.3"),
    ("^1.2.3+build", "1.2.3"),
    ("^1.2.3+build", "1.3.0"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2"),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha"),
    ("1.2.3+asdf - 2.4.3+asdf", "1.2.3"),
    ("1.0.0", "1.0.0"),
    (">=*", "0.2.4"),
    ("", "1.0.0"),
    ("*", "1.2.3"),
    (">=1.0.0", "1.0.0"),
    (">=1.0.0", "1.0.1"),
    (">=1.0.0", "1.1.0"),
    (">1.0.0", "1.0.1"),
    (">1.0.0", "1.1.0"),
    ("<=2.0.0", "2.0.0"),
    ("<=2.0.0", "1.9999.9999"),
    ("<=2.0.0", "0.2.9"),
    ("<2.0.0", "1.9999.9999"),
    ("<2.0.0", "0.2.9"),
    (">= 1.0.0", "1.0.0"),
    (">=  1.0.0", "1.0.1"),
    (">=   1.0.0", "1.1.0"),
    ("> 1.0.0", "1.0.1"),
    (">  1.0.0", "1.1.0"),
    ("<=   2.0.0", "2.0.0"),
    ("<= 2.0.0", "1.9999.9999"),
    ("<=  2.0.0", "0.2.9"),
    ("<    2.0.0", "1.9999.9999"),
    ("<\t2.0.0", "0.2.9"),
    (">=0.1.97", "0.1.97"),
    ("0.1.20 || 1.2.4", "1.2.4"),
    (">=0.2.3 || <0.0.1", "0.0.0"),
    (">=0.2.3 || <0.0.1", "0.2.3"),
    (">=0.2.3 || <0.0.1", "0.2.4"),
    ("||", "1.3.4"),
    ("2.x.x", "2.1.3"),
    ("1.2.x", "1.2.3"),
    ("1.2.x || 2.x", "2.1.3"),
    ("1.2.x || 2.x", "1.2.3"),
    ("x", "1.2.3"),
    ("2.*.*", "2.1.3"),
    ("1.2.*", "1.2.3"),
    ("1.2.* || 2.*", "2.1.3"),
    ("1.2.* || 2.*", "1.2.3"),
    ("*", "1.2.3"),
    ("2", "2.1.2"),
    ("2.3", "2.3.1"),
    ("~0.0.1", "0.0.1"),
    ("~0.0.1", "0.0.2"),
    ("~x", "0.0.9"),
    ("~2", "2.0.9"),
    ("~2.4", "2.4.0"),
    ("~2.4", "2.4.5"),
    ("~>3.2.1", "3.2.2"),
    ("~1", "1.2.3"),
    ("~>1", "1.2.3"),
    ("~> 1", "1.2.3"),
    ("~1.0", "1.0.2"),
    ("~ 1.0", "1.0.2"),
    ("~ 1.0.3", "1.0.12"),
    (">=1", "1.0.0"),
    (">= 1", "1.0.0"),
    ("<1.2", "1.1.1"),
    ("< 1.2", "1.1.1"),
    ("~v0.5.4-pre", "0.5.5"),
    ("~v0.5.4-pre", "0.5.4"),
    ("=0.7.x", "0.7.2"),
    ("<=0.7.x", "0.7.2"),
    (">=0.7.x", "0.7.2"),
    ("<=0.7.x", "0.6.2"),
    ("~1.2.1 >=1.2.3", "1.2.3"),
    ("~1.2.1 =1.2.3", "1.2.3"),
    ("~1.2.1 1.2.3", "1.2.3"),
    ("~1.2.1 >=1.2.3 1.2.3", "1.2.3"),
    ("~1.2.1 1.2.3 >=1.2.3", "1.2.3"),
    (">=1.2.1 1.2.3", "1.2.3"),
    ("1.2.3 >=1.2.1", "1.2.3"),
    (">=1.2.3 >=1.2.1", "1.2.3"),
    (">=1.2.1 >=1.2.3", "1.2.3"),
    (">=1.2", "1.2.8"),
    ("^1.2.3", "1.8.1"),
    ("^0.1.2", "0.1.2"),
    ("^0.1", "0.1.2"),
    ("^0.0.1", "0.0.1"),
    ("^1.2", "1.4.2"),
    ("^1.2 ^1", "1.4.2"),
    ("^1.2.3-alpha", "1.2.3-pre"),
    ("^1.2.0-alpha", "1.2.0-pre"),
    ("^0.0.1-alpha", "0.0.1-beta"),
    ("^0.0.1-alpha", "0.0.1"),
    ("^0.1.1-alpha", "0.1.1-beta"),
    ("^x", "1.2.3"),
    ("x - 1.0.0", "0.9.7"),
    ("x - 1.x", "0.9.7"),
    ("1.0.0 - x", "1.9.7"),
    ("1.x - x", "1.9.7"),
    ("<=7.x", "7.9.9"),
]

# test/fixtures/range-exclude.js: the range does not allow the version.
RANGE_EXCLUDE = [
    ("1.0.0 - 2.0.0", "2.2.3"),
    ("1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2"),
    ("1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha"),
    ("^1.2.3+build", "2.0.0"),
    ("^1.2.3+build", "1.2.0"),
    ("^1.2.3", "1.2.3-pre"),
    ("^1.2", "1.2.0-pre"),
    (">1.2", "1.3.0-beta"),
    ("<=1.2.3", "1.2.3-beta"),
    ("^1.2.3", "1.2.3-beta"),
    ("=0.7.x", "0.7.0-asdf"),
    (">=0.7.x", "0.7.0-asdf"),
    ("1.0.0", "1.0.1"),
    (">=1.0.0", "0.0.0"),
    (">=1.0.0", "0.0.1"),
    (">=1.0.0", "0.1.0"),
    (">1.0.0", "0.0.1"),
    (">1.0.0", "0.1.0"),
    ("<=2.0.0", "3.0.0"),
    ("<=2.0.0", "2.9999.9999"),
    ("<=2.0.0", "2.2.9"),
    ("<2.0.0", "2.9999.9999"),
    ("<2.0.0", "2.2.9"),
    (">=0.1.97", "0.1.93"),
    ("0.1.20 || 1.2.4", "1.2.3"),
    (">=0.2.3 || <0.0.1", "0.0.3"),
    (">=0.2.3 || <0.0.1", "0.2.2"),
    ("2.x.x", "1.1.3"),
    ("2.x.x", "3.1.3"),
    ("1.2.x", "1.3.3"),
    ("1.2.x || 2.x", "3.1.3"),
    ("1.2.x || 2.x", "1.1.3"),
    ("2.*.*", "1.1.3"),
    ("2.*.*", "3.1.3"),
    ("1.2.*", "1.3.3"),
    ("1.2.* || 2.*", "3.1.3"),
    ("1.2.* || 2.*", "1.1.3"),
    ("2", "1.1.2"),
    ("2.3", "2.4.1"),
    ("~0.0.1", "0.1.0-alpha"),
    ("~0.0.1", "0.1.0"),
    ("~2.4", "2.5.0"),
    ("~2.4", "2.3.9"),
    ("~>3.2.1", "3.3.2"),
    ("~>3.2.1", "3.2.0"),
    ("~1", "0.2.3"),
    ("~>1", "2.2.3"),
    ("~1.0", "1.1.0"),
    ("<1", "1.0.0"),
    (">=1.2", "1.1.1"),
    ("~v0.5.4-beta", "0.5.4-alpha"),
    ("=0.7.x", "0.8.2"),
    (">=0.7.x", "0.6.2"),
    ("<0.7.x", "0.7.2"),
    ("<1.2.3", "1.2.3-beta"),
    ("=1.2.3", "1.2.3-beta"),
    (">1.2", "1.2.8"),
    ("^0.0.1", "0.0.2-alpha"),
    ("^0.0.1", "0.0.2"),
    ("^1.2.3", "2.0.0-alpha"),
    ("^1.2.3", "1.2.2"),
    ("^1.2", "1.1.9"),
    ("^1.0.0", "2.0.0-rc1"),
]

# range-exclude.js: "invalid versions never satisfy"; mlpm says why instead.
UNREADABLE_VERSIONS = [("*", "not a version"), (">=2", "glorp")]

# test/fixtures/range-parse.js: node's validRange(); None means not a range.
RANGE_PARSE = [
    ("1.0.0 - 2.0.0", ">=1.0.0 <=2.0.0"),
    ("1 - 2", ">=1.0.0 <3.0.0-0"),
    ("1.0 - 2.0", ">=1.0.0 <2.1.0-0"),
    ("1.0.0", "1.0.0"),
    (">=*", "*"),
    ("", "*"),
    ("*", "*"),
    (">=1.0.0", ">=1.0.0"),
    (">1.0.0", ">1.0.0"),
    ("<=2.0.0", "<=2.0.0"),
    ("1", ">=1.0.0 <2.0.0-0"),
    ("<2.0.0", "<2.0.0"),
    (">= 1.0.0", ">=1.0.0"),
    (">=  1.0.0", ">=1.0.0"),
    (">=   1.0.0", ">=1.0.0"),
    ("> 1.0.0", ">1.0.0"),
    (">  1.0.0", ">1.0.0"),
    ("<=   2.0.0", "<=2.0.0"),
    ("<= 2.0.0", "<=2.0.0"),
    ("<=  2.0.0", "<=2.0.0"),
    ("<    2.0.0", "<2.0.0"),
    ("<\t2.0.0", "<2.0.0"),
    (">=0.1.97", ">=0.1.97"),
    ("0.1.20 || 1.2.4", "0.1.20||1.2.4"),
    (">=0.2.3 || <0.0.1", ">=0.2.3||<0.0.1"),
    ("||", "*"),
    ("2.x.x", ">=2.0.0 <3.0.0-0"),
    ("1.2.x", ">=1.2.0 <1.3.0-0"),
    ("1.2.x || 2.x", ">=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0"),
    ("x", "*"),
    ("2.*.*", ">=2.0.0 <3.0.0-0"),
    ("1.2.*", ">=1.2.0 <1.3.0-0"),
    ("1.2.* || 2.*", ">=1.2.0 <1.3.0-0||>=2.0.0 <3.0.0-0"),
    ("2", ">=2.0.0 <3.0.0-0"),
    ("2.3", ">=2.3.0 <2.4.0-0"),
    ("~2.4", ">=2.4.0 <2.5.0-0"),
    ("~>3.2.1", ">=3.2.1 <3.3.0-0"),
    ("~1", ">=1.0.0 <2.0.0-0"),
    ("~>1", ">=1.0.0 <2.0.0-0"),
    ("~> 1", ">=1.0.0 <2.0.0-0"),
    ("~1.0", ">=1.0.0 <1.1.0-0"),
    ("~ 1.0", ">=1.0.0 <1.1.0-0"),
    ("^0", "<1.0.0-0"),
    ("^ 1", ">=1.0.0 <2.0.0-0"),
    ("^0.1", ">=0.1.0 <0.2.0-0"),
    ("^1.0", ">=1.0.0 <2.0.0-0"),
    ("^1.2", ">=1.2.0 <2.0.0-0"),
    ("^0.0.1", ">=0.0.1 <0.0.2-0"),
    ("^0.0.1-beta", ">=0.0.1-beta <0.0.2-0"),
    ("^0.1.2", ">=0.1.2 <0.2.0-0"),
    ("^1.2.3", ">=1.2.3 <2.0.0-0"),
    ("^1.2.3-beta.4", ">=1.2.3-beta.4 <2.0.0-0"),
    ("<1", "<1.0.0-0"),
    ("< 1", "<1.0.0-0"),
    (">=1", ">=1.0.0"),
    (">= 1", ">=1.0.0"),
    ("<1.2", "<1.2.0-0"),
    ("< 1.2", "<1.2.0-0"),
    (">01.02.03", None),
    ("~1.2.3beta", None),
    ("^ 1.2 ^ 1", ">=1.2.0 <2.0.0-0 >=1.0.0"),
    ("1.2 - 3.4.5", ">=1.2.0 <=3.4.5"),
    ("1.2.3 - 3.4", ">=1.2.3 <3.5.0-0"),
    ("1.2 - 3.4", ">=1.2.0 <3.5.0-0"),
    (">1", ">=2.0.0"),
    (">1.2", ">=1.3.0"),
    (">X", "<0.0.0-0"),
    ("<X", "<0.0.0-0"),
    ("<x <* || >* 2.x", "<0.0.0-0"),
    (">x 2.x || * || <x", "*"),
]

# test/fixtures/comparisons.js: the first version ranks above the second.
COMPARISONS = [
    ("0.0.0", "0.0.0-foo"),
    ("0.0.1", "0.0.0"),
    ("1.0.0", "0.9.9"),
    ("0.10.0", "0.9.0"),
    ("0.99.0", "0.10.0"),
    ("2.0.0", "1.2.3"),
    ("1.2.3", "1.2.3-asdf"),
    ("1.2.3", "1.2.3-4"),
    ("1.2.3", "1.2.3-4-foo"),
    ("1.2.3-5-foo", "1.2.3-5"),
    ("1.2.3-5", "1.2.3-4"),
    ("1.2.3-5-foo", "1.2.3-5-Foo"),
    ("3.0.0", "2.7.2+asdf"),
    ("1.2.3-a.10", "1.2.3-a.5"),
    ("1.2.3-a.b", "1.2.3-a.5"),
    ("1.2.3-a.b", "1.2.3-a"),
    ("1.2.3-a.b.c.10.d.5", "1.2.3-a.b.c.5.d.100"),
    ("1.2.3-r2", "1.2.3-r100"),
    ("1.2.3-r100", "1.2.3-R2"),
]

# test/fixtures/equality.js: equal precedence (build metadata does not count).
EQUALITY = [
    ("1.2.3-beta+build", "1.2.3-beta+otherbuild"),
    ("1.2.3+build", "1.2.3+otherbuild"),
    ("  v1.2.3+build", "1.2.3+otherbuild"),
]

# test/fixtures/invalid-versions.js: not versions, with node's reason.
INVALID_VERSIONS = [
    ("1" * (MAX_LENGTH - 1) + ".0.0", "too long"),
    (f"{MAX_SAFE_INTEGER}0.0.0", "too big"),
    (f"0.{MAX_SAFE_INTEGER}0.0", "too big"),
    (f"0.0.{MAX_SAFE_INTEGER}0", "too big"),
    ("hello, world", "not a version"),
]

# test/fixtures/valid-versions.js: (text, major, minor, patch, prerelease, build).
VALID_VERSIONS = [
    ("1.0.0", 1, 0, 0, (), ()),
    ("2.1.0", 2, 1, 0, (), ()),
    ("3.2.1", 3, 2, 1, (), ()),
    ("v1.2.3", 1, 2, 3, (), ()),
    ("1.2.3-0", 1, 2, 3, (0,), ()),
    ("1.2.3-123", 1, 2, 3, (123,), ()),
    ("1.2.3-1.2.3", 1, 2, 3, (1, 2, 3), ()),
    ("1.2.3-1a", 1, 2, 3, ("1a",), ()),
    ("1.2.3-a1", 1, 2, 3, ("a1",), ()),
    ("1.2.3-alpha", 1, 2, 3, ("alpha",), ()),
    ("1.2.3-alpha.1", 1, 2, 3, ("alpha", 1), ()),
    ("1.2.3-alpha-1", 1, 2, 3, ("alpha-1",), ()),
    ("1.2.3-alpha-.-beta", 1, 2, 3, ("alpha-", "-beta"), ()),
    ("1.2.3+456", 1, 2, 3, (), ("456",)),
    ("1.2.3+build", 1, 2, 3, (), ("build",)),
    ("1.2.3+new-build", 1, 2, 3, (), ("new-build",)),
    ("1.2.3+build.1", 1, 2, 3, (), ("build", "1")),
    ("1.2.3+build.1a", 1, 2, 3, (), ("build", "1a")),
    ("1.2.3+build.a1", 1, 2, 3, (), ("build", "a1")),
    ("1.2.3+build.alpha", 1, 2, 3, (), ("build", "alpha")),
    ("1.2.3+build.alpha.beta", 1, 2, 3, (), ("build", "alpha", "beta")),
    ("1.2.3-alpha+build", 1, 2, 3, ("alpha",), ("build",)),
]

# test/fixtures/increments.js: (version, release, expected, identifier, identifier_base);
# None as expected means node's inc() refuses (mlpm raises ValueError).
INCREMENTS = [
    ("1.2.3", "major", "2.0.0", None, None),
    ("1.2.3", "minor", "1.3.0", None, None),
    ("1.2.3", "patch", "1.2.4", None, None),
    ("1.2.3-tag", "major", "2.0.0", None, None),
    ("1.2.3", "fake", None, None, None),
    ("1.2.0-0", "patch", "1.2.0", None, None),
    ("fake", "major", None, None, None),
    ("1.2.3-4", "major", "2.0.0", None, None),
    ("1.2.3-4", "minor", "1.3.0", None, None),
    ("1.2.3-4", "patch", "1.2.3", None, None),
    ("1.2.3-alpha.0.beta", "major", "2.0.0", None, None),
    ("1.2.3-alpha.0.beta", "minor", "1.3.0", None, None),
    ("1.2.3-alpha.0.beta", "patch", "1.2.3", None, None),
    ("1.2.4", "prerelease", "1.2.5-0", None, None),
    ("1.2.3-0", "prerelease", "1.2.3-1", None, None),
    ("1.2.3-alpha.0", "prerelease", "1.2.3-alpha.1", None, None),
    ("1.2.3-alpha.1", "prerelease", "1.2.3-alpha.2", None, None),
    ("1.2.3-alpha.2", "prerelease", "1.2.3-alpha.3", None, None),
    ("1.2.3-alpha.0.beta", "prerelease", "1.2.3-alpha.1.beta", None, None),
    ("1.2.3-alpha.1.beta", "prerelease", "1.2.3-alpha.2.beta", None, None),
    ("1.2.3-alpha.2.beta", "prerelease", "1.2.3-alpha.3.beta", None, None),
    ("1.2.3-alpha.10.0.beta", "prerelease", "1.2.3-alpha.10.1.beta", None, None),
    ("1.2.3-alpha.10.1.beta", "prerelease", "1.2.3-alpha.10.2.beta", None, None),
    ("1.2.3-alpha.10.2.beta", "prerelease", "1.2.3-alpha.10.3.beta", None, None),
    ("1.2.3-alpha.10.beta.0", "prerelease", "1.2.3-alpha.10.beta.1", None, None),
    ("1.2.3-alpha.10.beta.1", "prerelease", "1.2.3-alpha.10.beta.2", None, None),
    ("1.2.3-alpha.10.beta.2", "prerelease", "1.2.3-alpha.10.beta.3", None, None),
    ("1.2.3-alpha.9.beta", "prerelease", "1.2.3-alpha.10.beta", None, None),
    ("1.2.3-alpha.10.beta", "prerelease", "1.2.3-alpha.11.beta", None, None),
    ("1.2.3-alpha.11.beta", "prerelease", "1.2.3-alpha.12.beta", None, None),
    ("1.2.0", "prepatch", "1.2.1-0", None, None),
    ("1.2.0-1", "prepatch", "1.2.1-0", None, None),
    ("1.2.0", "preminor", "1.3.0-0", None, None),
    ("1.2.3-1", "preminor", "1.3.0-0", None, None),
    ("1.2.0", "premajor", "2.0.0-0", None, None),
    ("1.2.3-1", "premajor", "2.0.0-0", None, None),
    ("1.2.0-1", "minor", "1.2.0", None, None),
    ("1.0.0-1", "major", "1.0.0", None, None),
    ("1.0.0-1", "release", "1.0.0", None, None),
    ("1.2.0-1", "release", "1.2.0", None, None),
    ("1.2.3-1", "release", "1.2.3", None, None),
    ("1.2.3", "release", None, None, None),
    ("1.2.3", "major", "2.0.0", "dev", None),
    ("1.2.3", "minor", "1.3.0", "dev", None),
    ("1.2.3", "patch", "1.2.4", "dev", None),
    ("1.2.3-tag", "major", "2.0.0", "dev", None),
    ("1.2.3", "fake", None, "dev", None),
    ("1.2.0-0", "patch", "1.2.0", "dev", None),
    ("fake", "major", None, "dev", None),
    ("1.2.3-4", "major", "2.0.0", "dev", None),
    ("1.2.3-4", "minor", "1.3.0", "dev", None),
    ("1.2.3-4", "patch", "1.2.3", "dev", None),
    ("1.2.3-alpha.0.beta", "major", "2.0.0", "dev", None),
    ("1.2.3-alpha.0.beta", "minor", "1.3.0", "dev", None),
    ("1.2.3-alpha.0.beta", "patch", "1.2.3", "dev", None),
    ("1.2.4", "prerelease", "1.2.5-dev.0", "dev", None),
    ("1.2.3-0", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.0", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.0", "prerelease", "1.2.3-alpha.1", "alpha", None),
    ("1.2.3-alpha.0.beta", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.0.beta", "prerelease", "1.2.3-alpha.1.beta", "alpha", None),
    ("1.2.3-alpha.10.0.beta", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.10.0.beta", "prerelease", "1.2.3-alpha.10.1.beta", "alpha", None),
    ("1.2.3-alpha.10.1.beta", "prerelease", "1.2.3-alpha.10.2.beta", "alpha", None),
    ("1.2.3-alpha.10.2.beta", "prerelease", "1.2.3-alpha.10.3.beta", "alpha", None),
    ("1.2.3-alpha.10.beta.0", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.10.beta.0", "prerelease", "1.2.3-alpha.10.beta.1", "alpha", None),
    ("1.2.3-alpha.10.beta.1", "prerelease", "1.2.3-alpha.10.beta.2", "alpha", None),
    ("1.2.3-alpha.10.beta.2", "prerelease", "1.2.3-alpha.10.beta.3", "alpha", None),
    ("1.2.3-alpha.9.beta", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-alpha.9.beta", "prerelease", "1.2.3-alpha.10.beta", "alpha", None),
    ("1.2.3-alpha.10.beta", "prerelease", "1.2.3-alpha.11.beta", "alpha", None),
    ("1.2.3-alpha.11.beta", "prerelease", "1.2.3-alpha.12.beta", "alpha", None),
    ("1.2.0", "prepatch", "1.2.1-dev.0", "dev", None),
    ("1.2.0-1", "prepatch", "1.2.1-dev.0", "dev", None),
    ("1.2.0", "preminor", "1.3.0-dev.0", "dev", None),
    ("1.2.3-1", "preminor", "1.3.0-dev.0", "dev", None),
    ("1.2.0", "premajor", "2.0.0-dev.0", "dev", None),
    ("1.2.3-1", "premajor", "2.0.0-dev.0", "dev", None),
    ("1.2.3-1", "premajor", "2.0.0-dev.1", "dev", 1),
    ("1.2.0-1", "minor", "1.2.0", "dev", None),
    ("1.0.0-1", "major", "1.0.0", "dev", None),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.0", "dev", None),
    ("1.2.3-0", "prerelease", "1.2.3-1.0", "1", None),
    ("1.2.3-1.0", "prerelease", "1.2.3-1.1", "1", None),
    ("1.2.3-1.1", "prerelease", "1.2.3-1.2", "1", None),
    ("1.2.3-1.1", "prerelease", "1.2.3-2.0", "2", None),
    ("1.2.0-1", "prerelease", "1.2.0-alpha.0", "alpha", "0"),
    ("1.2.1", "prerelease", "1.2.2-alpha.0", "alpha", "0"),
    ("0.2.0", "prerelease", "0.2.1-alpha.0", "alpha", "0"),
    ("1.2.2", "prerelease", "1.2.3-alpha.1", "alpha", "1"),
    ("1.2.3", "prerelease", "1.2.4-alpha.1", "alpha", "1"),
    ("1.2.4", "prerelease", "1.2.5-alpha.1", "alpha", "1"),
    ("1.2.0", "prepatch", "1.2.1-dev.1", "dev", "1"),
    ("1.2.0-1", "prepatch", "1.2.1-dev.1", "dev", "1"),
    ("1.2.0", "premajor", "2.0.0-dev.0", "dev", "0"),
    ("1.2.3-1", "premajor", "2.0.0-dev.0", "dev", "0"),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.0", "dev", "0"),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.1", "dev", "1"),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.bar.0", "", "0"),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.bar.1", "", "1"),
    ("1.2.0", "preminor", "1.3.0-dev.1", "dev", "1"),
    ("1.2.3-1", "preminor", "1.3.0-dev.0", "dev", None),
    ("1.2.0", "prerelease", "1.2.1-1", "", "1"),
    ("1.2.0-1", "prerelease", "1.2.0-alpha", "alpha", False),
    ("1.2.1", "prerelease", "1.2.2-alpha", "alpha", False),
    ("1.2.2", "prerelease", "1.2.3-alpha", "alpha", False),
    ("1.2.0", "prepatch", "1.2.1-dev", "dev", False),
    ("1.2.0-1", "prepatch", "1.2.1-dev", "dev", False),
    ("1.2.0", "premajor", "2.0.0-dev", "dev", False),
    ("1.2.3-1", "premajor", "2.0.0-dev", "dev", False),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev", "dev", False),
    ("1.2.3-dev.bar", "prerelease", "1.2.3-dev.baz", "dev.baz", False),
    ("1.2.0", "preminor", "1.3.0-dev", "dev", False),
    ("1.2.3-1", "preminor", "1.3.0-dev", "dev", False),
    ("1.2.3-dev", "prerelease", None, "dev", False),
    ("1.2.0-dev", "premajor", "2.0.0-dev", "dev", False),
    ("1.2.0-dev", "preminor", "1.3.0-beta", "beta", False),
    ("1.2.0-dev", "prepatch", "1.2.1-dev", "dev", False),
    ("1.2.0", "prerelease", None, "", False),
    ("1.0.0-rc.1+build.4", "prerelease", "1.0.0-rc.2", "rc", False),
]

# test/fixtures/range-intersection.js: (a, b, some version satisfies both).
RANGE_INTERSECTION = [
    ("1.3.0 || <1.0.0 >2.0.0", "1.3.0 || <1.0.0 >2.0.0", True),
    ("<1.0.0 >2.0.0", ">0.0.0", False),
    (">0.0.0", "<1.0.0 >2.0.0", False),
    ("<1.0.0 >2.0.0", ">1.4.0 <1.6.0", False),
    ("<1.0.0 >2.0.0", ">1.4.0 <1.6.0 || 2.0.0", False),
    (">1.0.0 <=2.0.0", "2.0.0", True),
    ("<1.0.0 >=2.0.0", "2.1.0", False),
    ("<1.0.0 >=2.0.0", ">1.4.0 <1.6.0 || 2.0.0", False),
    ("1.5.x", "<1.5.0 || >=1.6.0", False),
    ("<1.5.0 || >=1.6.0", "1.5.x", False),
    (
        "<1.6.16 || >=1.7.0 <1.7.11 || >=1.8.0 <1.8.2",
        ">=1.6.16 <1.7.0 || >=1.7.11 <1.8.0 || >=1.8.2",
        False,
    ),
    (
        "<=1.6.16 || >=1.7.0 <1.7.11 || >=1.8.0 <1.8.2",
        ">=1.6.16 <1.7.0 || >=1.7.11 <1.8.0 || >=1.8.2",
        True,
    ),
    (">=1.0.0", "<=1.0.0", True),
    (">1.0.0 <1.0.0", "<=0.0.0", False),
    ("*", "0.0.1", True),
    ("*", ">=1.0.0", True),
    ("*", ">1.0.0", True),
    ("*", "~1.0.0", True),
    ("*", "<1.6.0", True),
    ("*", "<=1.6.0", True),
    ("1.*", "0.0.1", False),
    ("1.*", "2.0.0", False),
    ("1.*", "1.0.0", True),
    ("1.*", "<2.0.0", True),
    ("1.*", ">1.0.0", True),
    ("1.*", "<=1.0.0", True),
    ("1.*", "^1.0.0", True),
    ("1.0.*", "0.0.1", False),
    ("1.0.*", "<0.0.1", False),
    ("1.0.*", ">0.0.1", True),
    ("*", "1.3.0 || <1.0.0 >2.0.0", True),
    ("1.3.0 || <1.0.0 >2.0.0", "*", True),
    ("1.*", "1.3.0 || <1.0.0 >2.0.0", True),
    ("x", "0.0.1", True),
    ("x", ">=1.0.0", True),
    ("x", ">1.0.0", True),
    ("x", "~1.0.0", True),
    ("x", "<1.6.0", True),
    ("x", "<=1.6.0", True),
    ("1.x", "0.0.1", False),
    ("1.x", "2.0.0", False),
    ("1.x", "1.0.0", True),
    ("1.x", "<2.0.0", True),
    ("1.x", ">1.0.0", True),
    ("1.x", "<=1.0.0", True),
    ("1.x", "^1.0.0", True),
    ("1.0.x", "0.0.1", False),
    ("1.0.x", "<0.0.1", False),
    ("1.0.x", ">0.0.1", True),
    ("x", "1.3.0 || <1.0.0 >2.0.0", True),
    ("1.3.0 || <1.0.0 >2.0.0", "x", True),
    ("1.x", "1.3.0 || <1.0.0 >2.0.0", True),
    ("*", "*", True),
    ("x", "", True),
]

# test/fixtures/comparator-intersection.js, one comparator per range.
COMPARATOR_INTERSECTION = [
    ("1.3.0", ">=1.3.0", True),
    ("1.3.0", ">1.3.0", False),
    (">=1.3.0", "1.3.0", True),
    (">1.3.0", "1.3.0", False),
    (">1.3.0", ">1.2.0", True),
    (">1.2.0", ">1.3.0", True),
    (">=1.2.0", ">1.3.0", True),
    (">1.2.0", ">=1.3.0", True),
    ("<1.3.0", "<1.2.0", True),
    ("<1.2.0", "<1.3.0", True),
    ("<=1.2.0", "<1.3.0", True),
    ("<1.2.0", "<=1.3.0", True),
    (">=1.3.0", "<=1.3.0", True),
    (">=v1.3.0", "<=1.3.0", True),
    (">=1.3.0", ">=1.3.0", True),
    ("<=1.3.0", "<=1.3.0", True),
    ("<=1.3.0", "<=v1.3.0", True),
    (">1.3.0", "<=1.3.0", False),
    (">=1.3.0", "<1.3.0", False),
    (">1.0.0", "<2.0.0", True),
    (">=1.0.0", "<2.0.0", True),
    (">=1.0.0", "<=2.0.0", True),
    (">1.0.0", "<=2.0.0", True),
    ("<=2.0.0", ">1.0.0", True),
    ("<=1.0.0", ">=2.0.0", False),
    ("", "", True),
    ("", ">1.0.0", True),
    ("<=2.0.0", "", True),
]

# test/ranges/subset.js: (sub, dom, every version sub allows is in dom).
SUBSET = [
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "1.x", True),
    ("1.2.3 1.2.4", "1.2.3", True),
    ("1.2.3 1.2.4", "1.2.9", True),
    ("1.2.3", ">1.2.0", True),
    ("1.2.3 2.3.4 || 2.3.4", "3", False),
    ("^1.2.3-pre.0", "1.x", False),
    (">2 <1", "3", True),
    ("1 || 2 || 3", ">=1.0.0", True),
    ("1.2.3", "*", True),
    ("^1.2.3", "*", True),
    ("^1.2.3-pre.0", "*", False),
    ("1 || 2 || 3", "*", True),
    ("^1.2.3-pre.0", ">=1.0.0", False),
    ("^1.2.3-pre.0", ">=1.2.3-pre.0", True),
    (">1.2.3-pre.0", ">=1.2.3-pre.0", True),
    (">1.2.3-pre.0", ">1.2.3-pre.0 || 2", True),
    ("1 >1.2.3-pre.0", ">1.2.3-pre.0", True),
    ("1 <=1.2.3-pre.0", ">=1.0.0-0", False),
    ("1 <=1.2.3-pre.0", "<=1.2.3-pre.0", True),
    ("<1.2.3-pre.0", "<=1.2.3-pre.0", True),
    ("<1.2.3-pre.0", "<1.2.3-pre.0 || 2", True),
    ("1 <1.2.3-pre.0", "<1.2.3-pre.0", True),
    ("*", "*", True),
    ("", "*", True),
    ("*", "", True),
    ("", "", True),
    ("*", ">=0.0.0", True),
    ("*", ">=0.0.0-0", True),
    ("^2 || ^3 || ^4", ">=1", True),
    ("^2 || ^3 || ^4", ">1", True),
    ("^2 || ^3 || ^4", ">=2", True),
    ("^2 || ^3 || ^4", ">=3", False),
    (">=1", "^2 || ^3 || ^4", False),
    (">1", "^2 || ^3 || ^4", False),
    (">=2", "^2 || ^3 || ^4", False),
    (">=3", "^2 || ^3 || ^4", False),
    ("^1", "^2 || ^3 || ^4", False),
    ("^2", "^2 || ^3 || ^4", True),
    ("^3", "^2 || ^3 || ^4", True),
    ("^4", "^2 || ^3 || ^4", True),
    ("1.x", "^2 || ^3 || ^4", False),
    ("2.x", "^2 || ^3 || ^4", True),
    ("3.x", "^2 || ^3 || ^4", True),
    ("4.x", "^2 || ^3 || ^4", True),
    (">=1.0.0 <=1.0.0 || 2.0.0", "1.0.0 || 2.0.0", True),
    ("<=1.0.0 >=1.0.0 || 2.0.0", "1.0.0 || 2.0.0", True),
    (">=1.0.0", "1.0.0", False),
    (">=1.0.0 <2.0.0", "<2.0.0", True),
    (">=1.0.0 <2.0.0", ">0.0.0", True),
    (">=1.0.0 <=1.0.0", "1.0.0", True),
    (">=1.0.0 <=1.0.0", "2.0.0", False),
    ("<2.0.0", ">=1.0.0 <2.0.0", False),
    (">=1.0.0", ">=1.0.0 <2.0.0", False),
    (">=1.0.0 <2.0.0", ">=1.0.0", True),
    (">=1.0.0 <2.0.0", ">1.0.0", False),
    (">=1.0.0 <=2.0.0", "<2.0.0", False),
    (">=1.0.0", "<1.0.0", False),
    ("<=1.0.0", ">1.0.0", False),
    ("<=1.0.0 >1.0.0", ">1.0.0", True),
    ("1.0.0 >1.0.0", ">1.0.0", True),
    ("1.0.0 <1.0.0", ">1.0.0", True),
    ("<1 <2 <3", "<4", True),
    ("<3 <2 <1", "<4", True),
    (">1 >2 >3", ">0", True),
    (">3 >2 >1", ">0", True),
    ("<=1 <=2 <=3", "<4", True),
    ("<=3 <=2 <=1", "<4", True),
    (">=1 >=2 >=3", ">0", True),
    (">=3 >=2 >=1", ">0", True),
    (">=3 >=2 >=1", ">=3 >=2 >=1", True),
    (">2.0.0", ">=2.0.0", True),
]

# test/ranges/max-satisfying.js and min-satisfying.js: (versions, range, max, min).
BEST_SATISFYING = [
    (["1.2.3", "1.2.4"], "1.2", "1.2.4", "1.2.3"),
    (["1.2.4", "1.2.3"], "1.2", "1.2.4", "1.2.3"),
    (["1.2.3", "1.2.4", "1.2.5", "1.2.6"], "~1.2.3", "1.2.6", "1.2.3"),
    ([], "1.2", None, None),
]


# ---------------------------------------------------------------- fixture tests


@pytest.mark.parametrize(("text", "version"), RANGE_INCLUDE)
def test_range_allows_version(text: str, version: str) -> None:
    assert semver.satisfies(version, text)
    assert Range.parse(text).allows(Version.parse(version))
    assert version in Range(text)


@pytest.mark.parametrize(("text", "version"), RANGE_EXCLUDE)
def test_range_refuses_version(text: str, version: str) -> None:
    assert not semver.satisfies(version, text)
    assert version not in Range.parse(text)


@pytest.mark.parametrize(("text", "version"), UNREADABLE_VERSIONS)
def test_an_unreadable_version_is_reported_not_silently_refused(text: str, version: str) -> None:
    with pytest.raises(InvalidVersion, match="is not a valid version"):
        semver.satisfies(version, text)
    assert version not in Range.parse(text)  # `in` answers like node's test()


@pytest.mark.parametrize(("text", "expected"), RANGE_PARSE)
def test_range_normalizes_like_node(text: str, expected: str | None) -> None:
    assert semver.valid_range(text) == expected
    if expected is None:
        with pytest.raises(InvalidRange):
            Range.parse(text)
    else:
        # str() is node's range.range, which is '' where validRange says '*'.
        assert str(Range.parse(text)) == ("" if expected == "*" else expected)
        assert Range.parse(text).text == text


@pytest.mark.parametrize(("greater", "lesser"), COMPARISONS)
def test_versions_order_by_semver_precedence(greater: str, lesser: str) -> None:
    high, low = Version.parse(greater), Version.parse(lesser)
    assert high > low and low < high and high >= low and low <= high
    assert high != low
    assert semver.compare(greater, lesser) == 1
    assert semver.compare(lesser, greater) == -1
    assert semver.compare(greater, greater) == 0
    assert sorted([high, low]) == [low, high]


@pytest.mark.parametrize(("a", "b"), EQUALITY)
def test_build_metadata_does_not_change_precedence(a: str, b: str) -> None:
    assert Version.parse(a) == Version.parse(b)
    assert hash(Version.parse(a)) == hash(Version.parse(b))
    assert semver.compare(a, b) == 0


@pytest.mark.parametrize(("text", "reason"), INVALID_VERSIONS)
def test_invalid_versions_are_refused(text: str, reason: str) -> None:
    assert semver.valid(text) is None, reason
    with pytest.raises(InvalidVersion) as caught:
        Version.parse(text)
    assert str(caught.value) == (
        f"'{text}' is not a valid version: versions look like 1.2.3 (SemVer 2.0.0)."
    )
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", [None, 123, ["1.2.3"], b"1.2.3"])
def test_only_text_can_be_a_version(text: object) -> None:
    # invalid-versions.js: a regexp or an object with toString() is not a version either.
    assert semver.valid(text) is None
    with pytest.raises(InvalidVersion):
        Version.parse(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "major", "minor", "patch", "pre", "build"), VALID_VERSIONS)
def test_valid_versions_are_read_into_parts(text, major, minor, patch, pre, build) -> None:
    version = Version.parse(text)
    assert (version.major, version.minor, version.patch) == (major, minor, patch)
    assert version.prerelease == pre
    assert version.build == build
    assert version.is_prerelease == bool(pre)
    assert semver.valid(text) == str(version)


@pytest.mark.parametrize(("version", "release", "expected", "identifier", "base"), INCREMENTS)
def test_bump_increments_like_npm_version(version, release, expected, identifier, base) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            Version.parse(version).bump(release, identifier, base)
    else:
        assert str(Version.parse(version).bump(release, identifier, base)) == expected


@pytest.mark.parametrize(("a", "b", "expected"), RANGE_INTERSECTION + COMPARATOR_INTERSECTION)
def test_ranges_intersect_when_some_version_fits_both(a: str, b: str, expected: bool) -> None:
    assert semver.intersects(a, b) is expected
    assert semver.intersects(b, a) is expected
    assert Range.parse(a).intersects(b) is expected


@pytest.mark.parametrize(("sub", "dom", "expected"), SUBSET)
def test_subset(sub: str, dom: str, expected: bool) -> None:
    assert semver.subset(sub, dom) is expected
    assert semver.subset(Range(sub), Range(dom)) is expected


def test_a_range_is_a_subset_of_itself_as_text_or_object() -> None:
    r = Range.parse("^1")
    assert semver.subset("^1", "^1")
    assert semver.subset("^1", r) and semver.subset(r, "^1") and semver.subset(r, r)
    assert semver.subset(Range("^1"), Range("^1"))


@pytest.mark.parametrize(("versions", "text", "high", "low"), BEST_SATISFYING)
def test_max_and_min_satisfying(versions, text, high, low) -> None:
    assert semver.max_satisfying(versions, text) == high
    assert semver.min_satisfying(versions, text) == low


def test_max_satisfying_with_a_bad_range_says_so() -> None:
    # node answers null for 'some frogs and sneks-v2.5.6'; mlpm says why.
    with pytest.raises(InvalidRange):
        semver.max_satisfying([], "some frogs and sneks-v2.5.6")


# ---------------------------------------------------------------- mlpm's use of the API


def test_npm_save_rule_keeps_a_typed_range_that_caret_does_not_fit() -> None:
    """`mlpm install resnet50@1.2` resolves 1.2.7; the manifest keeps what npm would."""
    typed = "1.2"
    installed = semver.max_satisfying(["1.1.0", "1.2.0", "1.2.7", "1.3.0", "2.0.0"], typed)
    assert installed == "1.2.7"
    caret = f"^{installed}"
    saved = caret if semver.subset(caret, typed) else typed
    assert saved == "1.2"
    # A bare name (typed range *) saves ^INSTALLED.
    assert semver.subset(caret, "*")
    # A tilde inside the typed range fits and would be saved.
    assert semver.subset("~1.2.7", typed)


def test_prereleases_are_only_picked_when_asked_for() -> None:
    published = ["1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0-rc.2"]
    assert semver.max_satisfying(published, "*") == "1.1.0"
    assert semver.max_satisfying(published, ">=1") == "1.1.0"
    assert semver.max_satisfying(published, "^2.0.0-rc.1") == "2.0.0-rc.2"
    assert semver.min_satisfying(published, "^2.0.0-rc.1") == "2.0.0-rc.1"


def test_max_satisfying_skips_junk_and_returns_the_text_given() -> None:
    versions = ["v1.2.3", "not-a-version", "", "1.2.4+build.7", Version.parse("1.2.2")]
    assert semver.max_satisfying(versions, "1.2") == "1.2.4+build.7"
    assert semver.min_satisfying(versions, "1.2") == "1.2.2"
    assert semver.max_satisfying(versions, ">=5") is None


def test_satisfies_reports_which_input_is_wrong() -> None:
    with pytest.raises(InvalidRange) as caught:
        semver.satisfies("1.2.3", "1.2.3.4")
    assert str(caught.value) == (
        "'1.2.3.4' is not a valid version range: "
        "use e.g. 1.2, ^1.2.0, ~1.2.3, >=1.0.0 <2.0.0 or 1.x."
    )
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InvalidVersion):
        semver.satisfies("1.2", "^1.0.0")
    with pytest.raises(InvalidVersion):
        Range.parse("*").allows("")


def test_bump_refuses_unknown_releases_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'fake' is not one of major, premajor, minor"):
        Version.parse("1.2.3").bump("fake")
    with pytest.raises(ValueError, match="invalid prerelease identifier"):
        Version.parse("1.2.3").bump("prerelease", "01")
    assert Version.parse("1.2.3+build.9").bump("patch").build == ()


def test_versions_are_immutable_hashable_values() -> None:
    v = Version.parse("1.2.3-beta.1+exp.sha.5114f85")
    with pytest.raises(AttributeError):
        v.major = 2  # type: ignore[misc]
    assert {v, Version.parse("1.2.3-beta.1"), Version(1, 2, 3, ("beta", 1))} == {v}
    assert Version(1, 2, 3, ("beta", "1")) == v  # numeric identifiers are numbers
    assert repr(v) == "Version('1.2.3-beta.1+exp.sha.5114f85')"
    assert pickle.loads(pickle.dumps(v)) == v
    assert pickle.loads(pickle.dumps(v)).build == v.build
    assert Version.parse(v) is v
    assert semver.parse_version(" v1.2.3 ") == Version(1, 2, 3)


def test_huge_numeric_prerelease_identifiers_compare_like_node() -> None:
    # node compares numeric identifiers beyond 2**53 as doubles: these two tie.
    a = Version.parse("1.0.0-9007199254740993")
    b = Version.parse("1.0.0-9007199254740992")
    assert a == b and hash(a) == hash(b) and str(a) != str(b)
    assert Version.parse("1.0.0-9007199254740990").prerelease == (9007199254740990,)
    assert Version.parse("1.0.0-9007199254740991").prerelease == ("9007199254740991",)


def test_limits_match_node() -> None:
    assert Version.parse(f"{MAX_SAFE_INTEGER}.0.0").major == MAX_SAFE_INTEGER
    assert semver.valid(f"{MAX_SAFE_INTEGER + 1}.0.0") is None
    longest = "1.2.3-" + "a" * (MAX_LENGTH - 6)
    assert semver.valid(longest) == longest
    assert semver.valid(longest + "a") is None
    # ^MAX_SAFE_INTEGER would need a next major that does not exist.
    assert semver.valid_range(f"^{MAX_SAFE_INTEGER}") is None
    assert semver.valid_range(f"^{MAX_SAFE_INTEGER - 1}") is not None


def test_ranges_keep_the_text_as_typed() -> None:
    r = semver.parse_range(" ^1.2.3 ||  2.x ")
    assert r.text == " ^1.2.3 ||  2.x "
    assert str(r) == ">=1.2.3 <2.0.0-0||>=2.0.0 <3.0.0-0"
    assert repr(r) == "Range(' ^1.2.3 ||  2.x ')"
    assert Range.parse(r) is r
    assert Range.parse("^1.2.3") is Range.parse("^1.2.3")  # parsing is cached
    assert str(pickle.loads(pickle.dumps(r))) == str(r)
    assert 5 not in r  # type: ignore[operator]


@pytest.mark.timeout(60)
def test_hostile_ranges_are_read_in_linear_time() -> None:
    # node bounds its regexes against ReDoS; quadratic parsing would hang here, not fail.
    for text in ["v" * 100_000, "= " * 50_000 + "x", "1" * 100_000, "< " * 50_000 + "1"]:
        assert semver.valid_range(text) is None
    assert semver.valid_range("v" * 100_000 + "1") == ">=1.0.0 <2.0.0-0"


def test_docstring_examples_run() -> None:
    result = doctest.testmod(semver)
    assert result.failed == 0 and result.attempted >= 25
