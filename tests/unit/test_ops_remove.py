"""Which locked packages the project still needs after a removal (mlpm/ops/remove.py
``reachable``)."""

from __future__ import annotations

from mlpm.ops.remove import reachable
from mlpm.project import Lock, LockedPackage


def lock_of(graph: dict[str, list[str]]) -> Lock:
    return Lock("sha256:x", {n: LockedPackage(n, "1.0.0", "bundled", "onnx", [],
                                              {d: "1.0.0" for d in deps})
                             for n, deps in graph.items()})


GRAPH = {"app": ["mid", "shared"], "mid": ["leaf", "shared"], "leaf": [], "shared": [],
         "tool": ["shared"], "orphan": []}


def test_reachable_follows_dependencies_transitively():
    lock = lock_of(GRAPH)
    assert reachable(lock, ["app"]) == {"app", "mid", "leaf", "shared"}
    assert reachable(lock, ["tool"]) == {"tool", "shared"}
    assert reachable(lock, ["app", "tool"]) == {"app", "mid", "leaf", "shared", "tool"}


def test_what_no_root_reaches_is_what_a_removal_frees():
    lock = lock_of(GRAPH)
    kept = reachable(lock, ["tool"])  # `mlpm remove app` with tool still in the manifest
    assert set(lock.packages) - kept == {"app", "mid", "leaf", "orphan"}


def test_cycles_and_names_missing_from_the_lock_do_not_break_it():
    lock = lock_of({"a": ["b"], "b": ["a", "gone"]})
    assert reachable(lock, ["a", "not-locked"]) == {"a", "b"}
    assert reachable(lock, []) == set()
