"""mlpm.semver gives the same answers as npm's own node-semver, on thousands of inputs.

A seeded generator writes versions and ranges covering the whole grammar (``^ ~ ~> x X *``,
hyphen ranges, ``||``, comparators, partial versions, ``v`` / ``=`` prefixes, whitespace,
prereleases, build metadata) plus invalid input (garbage, leading zeros, huge numbers,
too-long text, four-part versions).  All questions go to one node process running the
pinned node-semver (tests/node/semver_oracle.js); every answer must match.

Where node throws, mlpm raises ValueError.  Where node quietly answers false / null
because an input is unreadable (satisfies, maxSatisfying, inc), mlpm raises instead;
that counts as agreement only when node itself could not read that input.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlpm import semver

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
ORACLE = NODE_DIR / "semver_oracle.js"
SEED = 20240611
RANGE_COUNT = 3000
VERSION_COUNT = 2500


@pytest.fixture(scope="session")
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.fail(
            "node is not installed: the semver differential test needs node and npm "
            "(node-semver is the reference implementation mlpm must agree with)."
        )
    if not (NODE_DIR / "node_modules" / "semver").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is not installed: it is needed to install node-semver for the test.")
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR)], check=True, timeout=300)
    return executable


def ask_node(node: str, questions: list[list[object]]) -> list[dict[str, object]]:
    done = subprocess.run(
        [node, str(ORACLE)],
        input=json.dumps(questions),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    reply = json.loads(done.stdout)
    assert reply["version"].startswith("7."), f"expected node-semver 7.x, got {reply['version']}"
    assert len(reply["answers"]) == len(questions)
    return reply["answers"]


# ---------------------------------------------------------------- the generator


class Generator:
    """Random but reproducible versions and ranges, biased to small numbers so ranges hit."""

    # fmt: off

    NUMBERS = ["0", "1", "2", "3", "0", "1", "2", "10"]
    ODD_NUMBERS = [
        "01", "00", "007", "9007199254740990", "9007199254740991", "9007199254740992",
        "99999999999999999999", "1" * 257, "1" * 300,
    ]
    PRE_IDS = [
        "alpha", "beta", "rc", "0", "1", "2", "10", "alpha-1", "-", "0a", "x", "beta-", "pre",
        "9007199254740993", "9007199254740992", "0x1a", "Infinity", "1e5", "-1",
    ]
    BAD_PRE_IDS = ["01", "", "a_b", "\u00e4", "00"]
    BUILDS = ["build.5", "001", "sha.abc123", "x-y", "b", "0"]
    VERSION_PREFIXES = ["v", "=", " ", "v ", "\t", "V", "  v", "\u00a0", "\ufeff", "vv", "\u0085"]
    OPERATORS = [
        "", "", "", "=", ">", ">=", "<", "<=", "~", "~>", "^", "^", "~", "~ ", "^ ", "> ",
        ">= ", "<  ", "= ", "~>  ", "<=\t",
    ]
    BAD_OPERATORS = ["=>", "=<", "!", "==", "~^", "^~", "<>", ">>"]
    BAD_VERSIONS = [
        "", " ", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3+",
        "1.2.3-01", "1.2.3-alpha..1", "1.2.3+a..b", "1.2.3beta", "a.b.c", "garbage",
        "1.2.3 - 2", "v", "x.y.z", "1.2.x", "*", "1.2.3-\u00e4", "\u00851.2.3", "1..3",
        "-1.2.3", "1.2.-3", "1.2.3 1.2.4", "9007199254740992.0.0", "0.9007199254740992.0",
        "0.0.9007199254740992", "9007199254740991.9007199254740991.9007199254740991",
        "1" * 255 + ".0.0", "1." + "1" * 251 + ".0", "1.2.3-" + "a" * 251, "1.2.3+" + "b" * 251,
    ]
    ODD_RANGES = [
        "", " ", "*", "x", "X", "||", " || ", "|| 1", "1 ||", "1.2.3.4", "01.2.3", ">01.2.3",
        "garbage", "1.2.3 - ", "- 1.2.3", "~1.2.3beta", "1.2.3 - 2.3.4 - 5", "^1.2.3+build",
        ">=1.2.3 <=", ">=>1", "<<1", ">x", "<x", ">=x", "<=X", "x.1", "1.x.3", "1.2.*.4",
        "^*", "~*", "~>*", "1.2.3*", "*1.2.3", "**", "+build", "foo+bar", "1+a+b", "++ab",
        "v1.2.3 - 2", "=1.2.3 - 2", "1 || >2 <1", "^9007199254740991", "^9007199254740990",
        "~9007199254740991.1", ">9007199254740990", ">9007199254740991", "<=9007199254740990.x",
        "v" * 300 + "1", "v" * 3000, "=" * 2000 + "1", "1" * 300, "1." + "1" * 300,
        "1.2.3-" + "a" * 300, "1.2.3+" + "b" * 300, ">= 1.2.3 - 2", "~> 1.2", "<\u00852",
        "\u00a0^1.2\u3000", "1.2.3\n- 2", "^1.2.3-0", "<1.2.3-0", ">=0.0.0", ">=0.0.0-0",
        "<0.0.0-0", "<0.0.0", ">=0.0.0 <0.0.0-0", "^0.0.0", "~0.0.0", "^0.0", "^0", "~0",
        "0.0.0 - 0.0.0", "1.2.3 - 1.2.3", "* - *", "x - x", "1.x - 2.x", ">1.x", "<=1.x",
        ">=1.x", "<1.x", "=1.x", "=*", "> * ", "<*", "~1.2.x-beta", "^1.x.x-beta",
        "1.2.3-beta - 1.2.3", "1.2.3 - 1.2.3-beta", "v1.2.3", "vv1.2.3", "= 1.2.3", "=v1.2.3",
        "> = 1.2.3", "> v1.2.3", "> =v1.2.3", "<=   =1.2", "~ v1", "^ =1", "~> =1.2",
        "1.2.3 || <0.0.0-0", "<0.0.0-0 || <x", "* || 1.2.3", "1.2.3 || *", "1.2.3 *",
        "1.2.3 x", ">1.2.3 >=1.2.3", ">=1.2.3 >1.2.3", "<1.2.3 <=1.2.3", "1.2.3 1.2.3",
        "1.2.3 =1.2.3 v1.2.3", "^1.2.3 ^1.2.4 ^1.2.3", "1.2.3-alpha.1+build.5",
        "1.2.3-alpha.1 +build.5", ">= 1.2.3+build <2", "1.2.3 +x 2.0.0", "~1.2.3-0",
        "^0.0.1-alpha.beta.1", ">1.2.3-alpha.1 <1.2.3-beta", "1.2.3-x.X.*", "\t1\t-\t2\t",
        "1 -2", "1- 2", "1 - 2 - 3", "1 - 2 || 3 - 4", "~1 || ^2 || 3.x || 4.X.x || 5.*",
        "=v 1.2.3", ">=v 1", "<v 1.2", "v 1", "> v 1", "=v= 1", "<= v=1.x", "^v 1", "~v 1.2",
        "> 1 <  2", " >  1", "> >1", "<<=1", "~>>1", "~~1", "^^1", "1.2.3-beta+b - 2+c",
        # Around the bounded repetitions of node's safe regexes.
        "1.2.3-" + "1" * 256 + "a", "1.2.3-" + "1" * 257 + "a", "1.2.3-" + "1" * 257,
        "> 1.2.3-" + "a" * 300 + " < 2", ("1" * 257 + ".") * 2 + "1", "1" * 256 + ".0.0",
        "> " + "1" * 258 + " <= 1.2.3", "=  v" + "9" * 16 + ".0.0", "~" + "v" * 20 + "1.2",
    ]
    # fmt: on

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def number(self) -> str:
        return self.pick(self.ODD_NUMBERS) if self.chance(0.01) else self.pick(self.NUMBERS)

    def prerelease(self) -> str:
        ids = [self.pick(self.PRE_IDS) for _ in range(self.rng.choice([1, 1, 2, 2, 3]))]
        if self.chance(0.02):
            ids[self.rng.randrange(len(ids))] = self.pick(self.BAD_PRE_IDS)
        return "-" + ".".join(ids)

    def build(self) -> str:
        return "+" + ".".join(self.pick(self.BUILDS) for _ in range(self.rng.choice([1, 2])))

    def version(self) -> str:
        if self.chance(0.08):
            return self.pick(self.BAD_VERSIONS)
        text = ".".join(self.number() for _ in range(3))
        if self.chance(0.3):
            text += self.prerelease()
        if self.chance(0.12):
            text += self.build()
        if self.chance(0.12):
            text = self.pick(self.VERSION_PREFIXES) + text
        if self.chance(0.05):
            text += self.pick([" ", "\n", "\t", "\u3000", ".4", "x"])
        return text

    def plain_version(self) -> str:
        """A clean version, likely to land inside the generated ranges."""
        text = ".".join(self.pick(self.NUMBERS) for _ in range(3))
        return text + self.prerelease() if self.chance(0.2) else text

    def partial(self) -> str:
        count = self.rng.choice([1, 2, 3, 3, 3])
        parts = [self.number() for _ in range(count)]
        # Wildcards go last (1.x, 1.2.*); now and then before a number, which is invalid.
        wild = self.rng.randrange(count + 3)
        for at in range(wild, count) if self.chance(0.97) else [wild % count]:
            parts[at] = self.pick(["x", "X", "*"])
        text = ".".join(parts)
        if count == 3 and self.chance(0.25):
            text += self.prerelease()
        if self.chance(0.08):
            text += self.build()
        if self.chance(0.06):
            text = self.pick(["v", "=", "v=", "=v", " ", "v ", "=v ", "= v"]) + text
        return text

    def comparator(self) -> str:
        operators = self.BAD_OPERATORS if self.chance(0.02) else self.OPERATORS
        return self.pick(operators) + self.partial()

    def simple(self) -> str:
        if self.chance(0.18):
            hyphen = self.pick([" - ", " - ", "  -  ", " -\t", "\t-\t"])
            return self.partial() + hyphen + self.partial()
        joiner = self.pick([" ", " ", " ", "  ", "\t", " \n "])
        return joiner.join(self.comparator() for _ in range(self.rng.choice([1, 1, 2, 2, 3])))

    def range(self) -> str:
        if self.chance(0.07):
            return self.pick(self.ODD_RANGES)
        count = self.rng.choice([1, 1, 1, 2, 2, 3])
        text = self.pick(["||", " || ", " || ", "  ||", "|| "]).join(
            self.simple() for _ in range(count)
        )
        if self.chance(0.05):
            text = self.pick([" ", "\t", "\n"]) + text + self.pick([" ", "", "\r\n"])
        if self.chance(0.04):
            at = self.rng.randrange(len(text) + 1)
            text = text[:at] + self.pick(list("abv!@#$%^&*()-+=~<>|., 0")) + text[at:]
        return text

    def saved_range(self) -> str:
        """What npm would save for an install: ^V, ~V or V exactly."""
        return self.pick(["^", "~", "", "^", ">="]) + ".".join(self.number() for _ in range(3))


# fmt: off
RELEASES = [
    "major", "minor", "patch", "premajor", "preminor", "prepatch", "prerelease",
    "release", "pre", "fake", "",
]
# fmt: on
IDENTIFIERS = [None, None, None, "alpha", "beta", "rc.1", "1", "", "dev.baz", "01", "a_b", "0x1"]
BASES = [None, None, "0", "1", False]


# Versions whose precedence node decides in surprising ways (numeric strings as doubles).
EDGE_COMPARES = [
    ("1.0.0-9007199254740993", "1.0.0-9007199254740992"),
    ("1.0.0-9007199254740993.a", "1.0.0-9007199254740992.b"),
    ("1.0.0-9007199254740991", "1.0.0-9007199254740990"),
    ("1.0.0-99999999999999999999", "1.0.0-1"),
    ("1.0.0-99999999999999999999", "1.0.0-alpha"),
    ("1.2.3-a.10", "1.2.3-a.9"),
    ("1.2.3-r2", "1.2.3-R2"),
    ("1.0.0+a", "1.0.0+b"),
    ("1.0.0-0", "1.0.0--"),
]


def questions() -> list[list[object]]:
    gen = Generator(SEED)
    asked: list[list[object]] = []
    # Every curated odd input once, then random ones.
    curated = [(r, "1.2.3") for r in gen.ODD_RANGES] + [("*", v) for v in gen.BAD_VERSIONS]
    for text, version in curated:
        asked += [["range", text], ["validRange", text], ["satisfies", version, text]]
        asked += [["valid", version], ["parse", version], ["subset", text, "^1.2.3"]]
    for a, b in EDGE_COMPARES:
        asked += [["compare", a, b], ["compare", b, a], ["satisfies", a, f">={b}"]]
    for _ in range(RANGE_COUNT):
        text = gen.range()
        asked.append(["range", text])
        asked.append(["validRange", text])
        asked.append(["satisfies", gen.version(), text])
        asked.append(["satisfies", gen.plain_version(), text])
        pool = [gen.pick([gen.version(), gen.plain_version()]) for _ in range(gen.rng.randrange(9))]
        asked.append(["maxSatisfying", pool, text])
        asked.append(["minSatisfying", pool, text])
        other = gen.saved_range() if gen.chance(0.4) else gen.range()
        asked.append(["subset", other, text] if gen.chance(0.5) else ["subset", text, other])
        asked.append(["intersects", text, gen.range()])
    for _ in range(VERSION_COUNT):
        text = gen.version()
        asked.append(["valid", text])
        asked.append(["parse", text])
        asked.append(["compare", text, gen.version()])
        asked.append(["inc", text, gen.pick(RELEASES), gen.pick(IDENTIFIERS), gen.pick(BASES)])
    # node's subset treats identical cached pieces as subsets, even null ones.
    for sub, dom in [
        ("^1 || >3 <2", "^1"),
        ("^1 || >3 <2", ">3 <2 || ^1"),
        (">3 <2 || ^1", "^1"),
        ("1.2.3 1.2.4 || ^1", "^1 || 1.2.3 1.2.4"),
        ("garbage", "garbage"),
        ("<x", "<x"),
        ("<x", "<x || 1"),
        ("*", ">=0.0.0"),
        ("", "*"),
    ]:
        asked.append(["subset", sub, dom])
    return asked


# ---------------------------------------------------------------- mlpm's answers


def outcome(call: Callable[[], object]) -> tuple[str, object]:
    try:
        return "value", call()
    except semver.InvalidRange:
        return "InvalidRange", None
    except semver.InvalidVersion:
        return "InvalidVersion", None
    except ValueError:
        return "ValueError", None


def bump(version: str, release: str, identifier: str | None, base: object) -> str:
    return str(semver.Version.parse(version).bump(release, identifier, base))  # type: ignore[arg-type]


def parsed(text: str) -> list[object]:
    v = semver.Version.parse(text)
    return [v.major, v.minor, v.patch, list(v.prerelease), list(v.build), str(v)]


def disagreement(question: list[object], answer: dict[str, object]) -> str | None:
    """None when mlpm agrees with node's answer, else a line describing the difference."""
    op, args = question[0], question[1:]
    if op == "satisfies":
        kind, value = outcome(lambda: semver.satisfies(*args))
        if not answer["rangeOk"]:
            expected = ("InvalidRange", None)
        elif not answer["versionOk"]:
            expected = ("InvalidVersion", None)
        else:
            expected = ("value", answer["value"])
    elif op in ("maxSatisfying", "minSatisfying"):
        fn = semver.max_satisfying if op == "maxSatisfying" else semver.min_satisfying
        kind, value = outcome(lambda: fn(*args))
        expected = ("value", answer["value"]) if answer["rangeOk"] else ("InvalidRange", None)
    elif op == "inc":
        kind, value = outcome(lambda: bump(*args))
        if kind != "value":
            kind = "null"
        expected = ("null", None) if answer["value"] is None else ("value", answer["value"])
    else:
        call = {
            "range": lambda: str(semver.Range(*args)),
            "validRange": lambda: semver.valid_range(*args),
            "valid": lambda: semver.valid(*args),
            "parse": lambda: parsed(*args),
            "subset": lambda: semver.subset(*args),
            "intersects": lambda: semver.intersects(*args),
            "compare": lambda: semver.compare(*args),
        }[op]
        kind, value = outcome(call)
        if "error" in answer:
            # node threw a TypeError: mlpm must raise its ValueError for the same input.
            expected = (kind if kind != "value" else "an error", None)
        else:
            expected = ("value", answer["value"])
    if (kind, value) == expected:
        return None
    return f"{op}{tuple(args)!r}: node {expected!r}, mlpm {(kind, value)!r}"


@pytest.fixture(scope="session")
def answered(node: str) -> list[tuple[list[object], dict[str, object]]]:
    asked = questions()
    return list(zip(asked, ask_node(node, asked), strict=True))


OPS = [
    *("range", "validRange", "valid", "parse", "satisfies", "maxSatisfying", "minSatisfying"),
    *("subset", "intersects", "compare", "inc"),
]


@pytest.mark.parametrize("op", OPS)
def test_mlpm_agrees_with_node_semver(answered, op: str) -> None:
    pairs = [(q, a) for q, a in answered if q[0] == op]
    assert len(pairs) >= 2000 or op not in ("range", "satisfies")
    problems = [line for q, a in pairs if (line := disagreement(q, a)) is not None]
    assert not problems, f"{len(problems)} of {len(pairs)} {op} answers differ:\n" + "\n".join(
        problems[:25]
    )


def test_the_generator_covers_the_grammar(answered) -> None:
    """The random ranges really exercise each feature, valid and invalid."""
    ranges = [q[1] for q, _ in answered if q[0] == "range"]
    valid = [q[1] for q, a in answered if q[0] == "range" and "error" not in a]
    features = "^ ~> ~ || >= <= > < x X * v = -alpha +build".split() + [" - ", "\t"]
    for feature in features:
        assert sum(feature in r for r in valid) >= 20, feature
    assert sum(len(r) > 256 for r in ranges) >= 1
    assert len(valid) >= len(ranges) * 0.6
    assert len(ranges) - len(valid) >= 300  # plenty of invalid ranges too
    satisfied = [a["value"] for q, a in answered if q[0] == "satisfies"]
    assert len(satisfied) >= 5000
    assert satisfied.count(True) >= 700
    versions = [a["value"] for q, a in answered if q[0] == "valid"]
    assert versions.count(None) >= 150
    subsets = [a.get("value") for q, a in answered if q[0] == "subset"]
    assert subsets.count(True) >= 150 and subsets.count(False) >= 150
