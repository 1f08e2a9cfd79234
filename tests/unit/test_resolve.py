"""The resolver (mlpm/resolve.py) over an in-memory registry: which version each package
gets, what a lock pins, what an upgrade may move, and the sentence a user reads when no
choice works."""

from __future__ import annotations

import pytest

from mlpm.errors import NoMatchingVersion, PackageNotFound, ResolutionConflict
from mlpm.registry import Registry
from mlpm.registry.records import Record
from mlpm.resolve import resolve


class MemoryRegistry(Registry):
    """A registry whose packages are Record objects held in memory; it counts the packages
    whose versions the resolver asked for."""

    def __init__(self, *records: Record):
        super().__init__("memory://test")
        self.held: dict[str, list[Record]] = {}
        for rec in records:
            self.held.setdefault(rec.name, []).append(rec)
        self.asked: list[str] = []

    def records(self, name: str) -> list[Record]:
        self.asked.append(name)
        if name not in self.held:
            raise PackageNotFound(f"no such package '{name}' in the registry {self.display}")
        return list(self.held[name])

    def _read_index(self, name: str) -> str | None:  # records() is overridden
        raise AssertionError("not used")

    def _read_names(self) -> list[str]:
        return sorted(self.held)

    def artifact_url(self, artifact) -> str:
        return artifact.url


def rec(spec: str, *depends: str, yanked: bool = False, **extra) -> Record:
    """``rec("a@1.2.0", "b@^1")``: a@1.2.0 depending on b@^1."""
    name, version = spec.split("@")
    deps = dict(d.split("@", 1) for d in depends)
    return Record(name, version, "onnx", [], deps, yanked,
                  {k.replace("_", "-"): v for k, v in extra.items()})


def versions(resolution) -> dict[str, str]:
    return {name: r.version for name, r in resolution.records.items()}


A = [rec("a@1.0.0"), rec("a@1.1.0"), rec("a@1.2.0"), rec("a@2.0.0")]
B = [rec("b@1.0.0"), rec("b@1.5.0")]


def test_the_newest_version_in_the_range_is_chosen():
    registry = MemoryRegistry(*A)
    assert versions(resolve(registry, {"a": "^1.0.0"})) == {"a": "1.2.0"}
    assert versions(resolve(registry, {"a": "~1.1"})) == {"a": "1.1.0"}
    assert versions(resolve(registry, {"a": "*"})) == {"a": "2.0.0"}


def test_a_locked_version_is_reused_while_it_still_fits():
    registry = MemoryRegistry(*A)
    pinned = resolve(registry, {"a": "^1.0.0"}, locked={"a": "1.1.0"}, unpinned=[])
    assert versions(pinned) == {"a": "1.1.0"}
    # the manifest's range moved past the lock: the lock gives way
    moved = resolve(registry, {"a": "^2.0.0"}, locked={"a": "1.1.0"}, unpinned=[])
    assert versions(moved) == {"a": "2.0.0"}
    # unpinned=None is a full upgrade: every package may move to its newest
    upgraded = resolve(registry, {"a": "^1.0.0"}, locked={"a": "1.1.0"}, unpinned=None)
    assert versions(upgraded) == {"a": "1.2.0"}


def test_an_upgrade_of_one_package_moves_only_that_package():
    registry = MemoryRegistry(*A, *B)
    locked = {"a": "1.0.0", "b": "1.0.0"}
    result = resolve(registry, {"a": "^1.0.0", "b": "^1.0.0"}, locked=locked, unpinned=["a"])
    assert versions(result) == {"a": "1.2.0", "b": "1.0.0"}
    result = resolve(registry, {"a": "^1.0.0", "b": "^1.0.0"}, locked=locked, unpinned=["b"])
    assert versions(result) == {"a": "1.0.0", "b": "1.5.0"}


def test_a_yanked_version_is_never_newly_chosen_but_a_locked_one_is_kept():
    registry = MemoryRegistry(*A, rec("a@1.3.0", yanked=True))
    assert versions(resolve(registry, {"a": "^1.0.0"})) == {"a": "1.2.0"}
    kept = resolve(registry, {"a": "^1.0.0"}, locked={"a": "1.3.0"}, unpinned=[])
    assert versions(kept) == {"a": "1.3.0"}
    # locked elsewhere (another package's pin) does not make it choosable here
    other = resolve(registry, {"a": "^1.0.0"}, locked={"a": "1.0.0"}, unpinned=None)
    assert versions(other) == {"a": "1.2.0"}


def test_asking_for_only_a_yanked_version_says_it_is_yanked_and_why():
    registry = MemoryRegistry(rec("c@1.0.0"),
                              rec("c@1.1.0", yanked=True, yanked_reason="wrong weights"))
    with pytest.raises(NoMatchingVersion) as err:
        resolve(registry, {"c": "1.1.0"})
    text = str(err.value)
    assert "c@1.1.0 is yanked" in text and "wrong weights" in text
    assert "c@^1.0.0" in text  # the version it can have instead


def test_a_range_nothing_satisfies_names_what_exists():
    registry = MemoryRegistry(*A, rec("a@2.1.0", yanked=True))
    with pytest.raises(NoMatchingVersion) as err:
        resolve(registry, {"a": "^3.0.0"})
    text = str(err.value)
    assert "no version of a matches ^3.0.0" in text
    assert "available: 1.0.0, 1.1.0, 1.2.0, 2.0.0." in text  # yanked 2.1.0 is not offered
    assert "a@^2.0.0" in text


def test_a_dependency_range_nothing_satisfies_names_the_package_that_needs_it():
    registry = MemoryRegistry(*A, rec("head@1.0.0", "a@^5"))
    with pytest.raises(NoMatchingVersion) as err:
        resolve(registry, {"head": "^1.0.0"})
    assert "no version of a matches ^5 (needed by head@1.0.0)" in str(err.value)


def test_a_conflict_names_both_requirements_and_the_chain_that_brought_them():
    registry = MemoryRegistry(*A, rec("detector@1.0.0", "a@^2.0.0"))
    with pytest.raises(ResolutionConflict) as err:
        resolve(registry, {"a": "^1.0.0", "detector": "^1.0.0"})
    text = str(err.value)
    assert text.startswith("cannot install a: ")
    assert "the project needs a@^1.0.0" in text
    assert "detector@1.0.0 needs a@^2.0.0" in text
    assert "detector@1.0.0 is there because the project needs detector" in text
    assert "Fix: change the range of a in the manifest, or use versions of detector" in text
    assert "ResolutionImpossible" not in text


def test_two_dependencies_that_disagree_are_both_named():
    registry = MemoryRegistry(*A, rec("left@1.0.0", "a@^1.0.0"), rec("right@1.0.0", "a@^2.0.0"))
    with pytest.raises(ResolutionConflict) as err:
        resolve(registry, {"left": "*", "right": "*"})
    text = str(err.value)
    assert "left@1.0.0 needs a@^1.0.0" in text and "right@1.0.0 needs a@^2.0.0" in text
    assert "use versions of left and right that accept the same a" in text \
        or "use versions of right and left that accept the same a" in text


def test_the_resolver_backtracks_to_an_older_version_of_a_dependency():
    # top's newest release needs base 2.x, which the project refuses: top 1.0.0 it is
    registry = MemoryRegistry(
        rec("base@1.0.0"), rec("base@1.4.0"), rec("base@2.0.0"),
        rec("top@1.0.0", "base@^1.0.0"), rec("top@1.1.0", "base@^2.0.0"))
    result = resolve(registry, {"top": "^1.0.0", "base": "^1.0.0"})
    assert versions(result) == {"top": "1.0.0", "base": "1.4.0"}
    assert result.edges == {"top": {"base": "1.4.0"}, "base": {}}


def test_transitive_dependencies_are_resolved_and_recorded_as_edges():
    registry = MemoryRegistry(
        rec("app@1.0.0", "mid@^1"), rec("mid@1.0.0", "leaf@~1.2"), rec("mid@1.1.0", "leaf@~1.3"),
        rec("leaf@1.2.9"), rec("leaf@1.3.1"), rec("leaf@1.4.0"), rec("unrelated@1.0.0"))
    result = resolve(registry, {"app": "^1.0.0"})
    assert versions(result) == {"app": "1.0.0", "mid": "1.1.0", "leaf": "1.3.1"}
    assert result.edges["app"] == {"mid": "1.1.0"} and result.edges["mid"] == {"leaf": "1.3.1"}
    assert "unrelated" not in registry.asked  # only the graph's packages are read


def test_an_unknown_package_is_package_not_found():
    with pytest.raises(PackageNotFound, match="no such package 'ghost'"):
        resolve(MemoryRegistry(*A), {"ghost": "^1.0.0"})


def test_no_requirements_resolve_to_nothing():
    result = resolve(MemoryRegistry(*A), {})
    assert result.records == {} and result.edges == {}
