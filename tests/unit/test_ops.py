"""What the operations share (mlpm/ops/__init__.py): the changes an install reports
between two locks, and a registry record turned into a locked package."""

from __future__ import annotations

from mlpm.ops import Change, diff_locks, locked_from_record
from mlpm.project import Lock, LockedPackage
from mlpm.registry.records import Artifact, Record

SHA = "0f" * 32


def lock_of(**versions: str) -> Lock:
    return Lock("sha256:x", {n: LockedPackage(n, v, "bundled", "onnx", [])
                             for n, v in versions.items()})


def test_diff_locks_lists_added_removed_and_moved_packages_by_name():
    old = lock_of(alpha="1.0.0", beta="2.0.0", gamma="1.1.0")
    new = lock_of(alpha="1.0.0", beta="2.1.0", delta="0.1.0")
    changes = diff_locks(old, new)
    assert [str(c) for c in changes] == ["~ beta 2.0.0 -> 2.1.0", "+ delta 0.1.0",
                                         "- gamma 1.1.0"]
    assert [(c.name, c.old, c.new) for c in changes] == [
        ("beta", "2.0.0", "2.1.0"), ("delta", None, "0.1.0"), ("gamma", "1.1.0", None)]


def test_diff_locks_from_no_lock_adds_everything_and_same_locks_change_nothing():
    new = lock_of(beta="2.0.0", alpha="1.0.0")
    assert [str(c) for c in diff_locks(None, new)] == ["+ alpha 1.0.0", "+ beta 2.0.0"]
    assert diff_locks(new, lock_of(alpha="1.0.0", beta="2.0.0")) == []


def test_a_downgrade_is_reported_as_a_move():
    assert str(Change("alpha", "1.2.0", "1.1.0")) == "~ alpha 1.2.0 -> 1.1.0"
    assert [str(c) for c in diff_locks(lock_of(alpha="1.2.0"), lock_of(alpha="1.1.0"))] == \
        ["~ alpha 1.2.0 -> 1.1.0"]


def test_a_record_becomes_a_locked_package_with_its_chosen_dependencies():
    art = Artifact("onnx", "model.onnx", SHA, 10, f"artifacts/0f/{SHA}")
    record = Record("detector", "2.0.1", "onnx", [art], {"backbone": "^1.0.0"},
                    extra={"fingerprint": "sha256:" + "aa" * 32, "kind": "onnx",
                           "interface": {"signatures": [{"name": "main"}]},
                           "description": "not locked"})
    pkg = locked_from_record(record, "https://models.example.com/reg/", {"backbone": "1.4.0"})
    assert (pkg.name, pkg.version, pkg.registry, pkg.framework) == \
        ("detector", "2.0.1", "https://models.example.com/reg/", "onnx")
    assert pkg.artifacts == [art]
    assert pkg.dependencies == {"backbone": "1.4.0"}  # the locked version, not the range
    assert pkg.fingerprint == "sha256:" + "aa" * 32 and pkg.kind == "onnx"
    assert pkg.interface == {"signatures": [{"name": "main"}]}
    assert "description" not in pkg.to_toml()
