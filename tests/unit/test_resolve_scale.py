"""The resolver at Hugging Face scale (mlpm/resolve.py): backtracking over many versions
reads and sorts each package once, decides each (range, version) once, and gives exactly the
matches a plain newest-first filter gives. benchmarks/resolve_scale.py has the timings."""

from __future__ import annotations

import random

import pytest

from mlpm import semver
from mlpm.registry.records import Record
from mlpm.resolve import Provider, Requirement, resolve
from tests.unit.test_resolve import MemoryRegistry, rec, versions


def backjump(n: int) -> MemoryRegistry:
    """a@i needs x@=i and b needs x@=0: every a but the oldest fails after b is pinned."""
    return MemoryRegistry(*[rec(f"a@{i}.0.0", f"x@={i}.0.0") for i in range(n)],
                          *[rec(f"x@{i}.0.0") for i in range(n)],
                          rec("b@1.0.0", "x@=0.0.0"))


def count_range_checks(monkeypatch) -> list[tuple[str, str]]:
    checks: list[tuple[str, str]] = []
    allows = semver.Range.allows

    def counting(self, version):
        checks.append((self.text, str(version)))
        return allows(self, version)

    monkeypatch.setattr(semver.Range, "allows", counting)
    return checks


def test_backtracking_over_many_versions_reads_each_package_once():
    registry = backjump(300)
    result = resolve(registry, {"a": "*", "b": "*"})
    assert versions(result) == {"a": "0.0.0", "b": "1.0.0", "x": "0.0.0"}
    assert sorted(registry.asked) == ["a", "b", "x"]  # read once, sorted once


def test_each_range_decides_each_version_at_most_once(monkeypatch):
    checks = count_range_checks(monkeypatch)
    resolve(backjump(200), {"a": "*", "b": "*"})
    assert checks and len(checks) == len(set(checks))


@pytest.mark.parametrize("n", [100, 200])
def test_the_work_of_a_backjump_does_not_grow_with_the_versions_seen(monkeypatch, n):
    # n backjumps; before the memos each re-tested every version (n * n checks in all)
    checks = count_range_checks(monkeypatch)
    resolve(backjump(n), {"a": "*", "b": "*"})
    assert len(checks) <= 4 * n


VERSIONS = ["0.1.0", "0.2.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0",
            "1.0.0+build.7", "1.0.1", "1.2.0-rc.1", "1.2.0-rc.10", "1.2.0", "1.2.3",
            "2.0.0-0", "2.0.0", "2.1.0", "1.2.0-99999999999999999999", "1.2.0-x.9007199254740993"]
RANGES = ["*", "^1", "^1.0.0", "~1.2", "1.x", "<2", "<=1.2.0", ">1.0.0", ">=1.0.0-alpha <1.2",
          "1.0.0 - 2.0.0", "^0.1", "0.1.x || 2.x", "=1.0.0", "1.0.0", "^1.0.0-alpha",
          "~1.2.0-rc.1", ">=2.0.0-0", "<1.0.0-beta || >2", "^9", "1.2.0 || 0.1.0",
          ">=1.0.0 <1.0.0", "1.2.0-rc.1 - 1.2.0", ">=1.2.0-99999999999999999998"]


def plain_matches(records, ranges, bad, locked, pin):
    """What find_matches must yield: mlpm 0.x's newest-first filter, the pin first."""
    ordered = sorted(records, key=lambda r: semver.parse_version(r.version), reverse=True)
    found = [r for r in ordered if r.version not in bad
             and (not r.yanked or r.version == locked)
             and all(semver.parse_range(t).allows(r.version) for t in ranges)]
    if pin is not None:
        found.sort(key=lambda r: r.version != pin)
    return found


def test_matches_are_those_of_a_plain_newest_first_filter():
    rnd = random.Random(7)
    for _ in range(400):
        records = [Record("m", v, "onnx", [], {}, rnd.random() < 0.2)
                   for v in rnd.choices(VERSIONS, k=rnd.randint(1, 12))]  # twins too
        registry = MemoryRegistry(*records)
        locked = {"m": rnd.choice(VERSIONS)} if rnd.random() < 0.5 else {}
        provider = Provider(registry, locked, rnd.choice([None, set(), {"m"}]))
        for _ in range(3):  # again, as backtracking asks, with more known incompatible
            ranges = rnd.sample(RANGES, rnd.randint(1, 3))
            everything = list(provider.find_matches(
                "m", {"m": [Requirement("m", t) for t in ranges]}, {"m": []})())
            bad = rnd.sample(everything, min(len(everything), rnd.randint(0, 3)))
            got = list(provider.find_matches(
                "m", {"m": [Requirement("m", t) for t in ranges]}, {"m": bad})())
            want = plain_matches(records, ranges, {c.version for c in bad},
                                 locked.get("m"), provider._pin("m"))
            assert [c.record for c in got] == want, (ranges, bad, locked)
            assert all(provider.is_satisfied_by(Requirement("m", t), c)
                       for c in got for t in ranges)


def test_candidates_are_made_once_per_record():
    provider = Provider(MemoryRegistry(*[rec(f"m@1.{i}.0") for i in range(5)]), {}, None)
    first = list(provider.find_matches("m", {"m": [Requirement("m", "^1")]}, {"m": []})())
    again = list(provider.find_matches("m", {"m": [Requirement("m", "~1.2")]}, {"m": []})())
    assert again == [first[2]] and again[0] is first[2]


class LazyRecord(Record):
    """A record whose files and dependencies cost a network read (like HfRecord)."""

    @property  # type: ignore[override]
    def dependencies(self):
        raise AssertionError("find_matches read the dependencies")

    @dependencies.setter
    def dependencies(self, value):
        pass

    @property  # type: ignore[override]
    def artifacts(self):
        raise AssertionError("find_matches read the artifacts")

    @artifacts.setter
    def artifacts(self, value):
        pass


def test_matching_reads_only_the_version_and_the_yank_of_a_record():
    records = [LazyRecord("m", f"1.{i}.0", "onnx", [], None, i == 3) for i in range(6)]
    provider = Provider(MemoryRegistry(*records), {}, None)
    got = list(provider.find_matches("m", {"m": [Requirement("m", "^1")]}, {"m": []})())
    assert [c.version for c in got] == ["1.5.0", "1.4.0", "1.2.0", "1.1.0", "1.0.0"]


def test_dependencies_are_offered_to_a_registry_that_prefetches():
    class Prefetching(MemoryRegistry):
        def __init__(self, *records):
            super().__init__(*records)
            self.prefetched: list[list[str]] = []

        def prefetch(self, names):
            self.prefetched.append(list(names))

    registry = Prefetching(rec("app@1.0.0", "mid@^1", "leaf@^1"), rec("mid@1.0.0", "leaf@^1"),
                           rec("leaf@1.0.0"))
    assert versions(resolve(registry, {"app": "^1"})) == \
        {"app": "1.0.0", "mid": "1.0.0", "leaf": "1.0.0"}
    assert ["mid", "leaf"] in registry.prefetched and ["leaf"] in registry.prefetched


def test_matches_stay_exact_while_backjumping_reorders_and_extends_the_incompatible():
    # resolvelib passes the known-incompatible candidates again and again: the same ones
    # with the newest moved to the front, with more at the end or in front, or another
    # list altogether; every answer must be the plain filter's, and an earlier answer
    # must not change when a later call knows more.
    rnd = random.Random(11)
    for _ in range(200):
        records = [Record("m", f"{rnd.randint(0, 3)}.{i}.0", "onnx", [], {}, False)
                   for i in range(rnd.randint(2, 15))]
        provider = Provider(MemoryRegistry(*records), {}, None)
        ranges = [rnd.choice(["*", "^1", "<2.0.0", ">=1.3.0", "=1.2.0", "0.x || 3.x"])]
        reqs = {"m": [Requirement("m", t) for t in ranges]}
        everything = list(provider.find_matches("m", reqs, {"m": []})())
        given: list = []
        earlier: list[tuple[object, list]] = []
        for _ in range(8):
            step = rnd.choice(["rotate", "end", "front", "other", "same"])
            fresh = [c for c in everything if c not in given]
            if step == "rotate" and given:
                given = given[-1:] + given[:-1]
            elif step == "end" and fresh:
                given = given + rnd.sample(fresh, rnd.randint(1, len(fresh)))
            elif step == "front" and fresh:
                given = rnd.sample(fresh, rnd.randint(1, len(fresh))) + given
            elif step == "other":
                given = rnd.sample(everything, rnd.randint(0, len(everything)))
            factory = provider.find_matches("m", reqs, {"m": list(given)})
            want = plain_matches(records, ranges, {c.version for c in given}, None, None)
            assert [c.record for c in factory()] == want, (ranges, step)
            earlier.append((factory, want))
        for factory, want in earlier:  # asked again after later calls
            assert [c.record for c in factory()] == want


@pytest.mark.parametrize("text", ["<2.0.0", "<=1.2.0", ">1.0.0", ">=1.0.0", "=1.2.0",
                                  "1.2.3", "=0.0.0", ">=2.0.0", "<1.0.1", "<=0.1.0"])
def test_a_plain_comparator_allows_what_the_range_grammar_allows(text):
    provider = Provider(MemoryRegistry(*[rec(f"m@{v}") for v in VERSIONS]), {}, None)
    got = list(provider.find_matches("m", {"m": [Requirement("m", text)]}, {"m": []})())
    grammar = semver.parse_range(text)
    want = sorted((v for v in VERSIONS if grammar.allows(semver.parse_version(v))),
                  key=semver.parse_version, reverse=True)
    assert [c.version for c in got] == want
    assert all(provider.is_satisfied_by(Requirement("m", text), c) == grammar.allows(c.parsed)
               for c in provider._package("m").candidates)


def test_backjumping_over_plain_ranges_never_runs_the_range_grammar(monkeypatch):
    parsed: list[str] = []
    parse = semver.parse_range

    def counting(text):
        parsed.append(text)
        return parse(text)

    monkeypatch.setattr(semver, "parse_range", counting)
    result = resolve(backjump(100), {"a": "*", "b": "*"})
    assert versions(result) == {"a": "0.0.0", "b": "1.0.0", "x": "0.0.0"}
    assert parsed == ["*"]  # the project's range; a@i's x@=i.0.0 are read without it


def test_the_next_package_to_pin_is_the_one_get_preference_prefers():
    registry = MemoryRegistry(rec("a@1.0.0"), rec("b@1.0.0"), rec("c@1.0.0"))
    provider = Provider(registry, {"b": "1.0.0"}, {"a", "c"})

    class Cause:
        def __init__(self, name):
            self.requirement = Requirement(name, "*")

    for causes in ([], [Cause("c")], [Cause("b")], [Cause("c"), Cause("a")]):
        names = ["c", "b", "a"]
        chosen = provider.narrow_requirement_selection(names, {}, {}, {}, causes)
        best = min(names, key=lambda n: provider.get_preference(n, {}, {}, {}, causes))
        assert chosen == [best]


def test_a_package_with_fewer_versions_is_pinned_first(monkeypatch):
    # b has one version, a has 500: pinning b first makes every newer a fail at once
    # against x@=0.0.0, in one round, instead of one backjump per version of a.
    asked: list[str] = []
    find = Provider.find_matches

    def counting(self, identifier, requirements, incompatibilities):
        asked.append(identifier)
        return find(self, identifier, requirements, incompatibilities)

    monkeypatch.setattr(Provider, "find_matches", counting)
    result = resolve(backjump(500), {"a": "*", "b": "*"})
    assert versions(result) == {"a": "0.0.0", "b": "1.0.0", "x": "0.0.0"}
    assert asked.count("a") <= 2  # no backjumps: a's matches are asked for once
