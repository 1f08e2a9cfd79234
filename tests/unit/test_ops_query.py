"""The read-only questions over a project's lock (mlpm/ops/query.py): `list`, `tree` and
`why`. The project installs digits and digits-calibrator (which depends on digits ^1.2.0)
from the registry bundled with mlpm, offline."""

from __future__ import annotations

import pytest

from mlpm.errors import NotInstalled, StaleLock
from mlpm.ops.install import install
from mlpm.ops.query import list_packages, tree, why
from mlpm.project import Project
from mlpm.session import Session


@pytest.fixture
def app(project, monkeypatch):
    monkeypatch.setenv("MLPM_OFFLINE", "1")
    proj = Project.init(project)
    install(proj, ["digits@1.2", "digits-calibrator"], session=Session.from_env())
    return Project.find(project)


def test_list_shows_each_locked_package_direct_or_not_and_who_needs_it(app):
    rows = {r["name"]: r for r in list_packages(app)}
    assert set(rows) == {"digits", "digits-calibrator"}
    digits = rows["digits"]
    assert digits["version"] == "1.2.1" and digits["direct"]
    assert digits["range"] == app.dependencies["digits"]
    assert digits["dependents"] == ["digits-calibrator"]
    assert "onnx" in digits["formats"] and digits["size"] > 0
    assert rows["digits-calibrator"]["dependents"] == []


def test_tree_nests_dependencies_under_each_direct_dependency(app):
    roots = tree(app)
    assert [(n["name"], n["version"]) for n in roots] == \
        [("digits", "1.2.1"), ("digits-calibrator", "1.1.0")]
    calibrator = roots[1]
    assert [(n["name"], n["version"]) for n in calibrator["dependencies"]] == \
        [("digits", "1.2.1")]
    assert roots[0]["dependencies"] == []


def test_why_lists_every_chain_from_the_project_shortest_first(app):
    chains, count = why(app, "digits")
    assert count == 2
    assert chains == [
        [f"the project (needs digits@{app.dependencies['digits']})", "digits@1.2.1"],
        [f"the project (needs digits-calibrator@{app.dependencies['digits-calibrator']})",
         "digits-calibrator@1.1.0", "digits@1.2.1"],
    ]


def test_why_of_a_package_not_locked_says_so(app):
    with pytest.raises(NotInstalled, match="`mlpm list` shows what is"):
        why(app, "resnet")


def test_tree_before_any_install_asks_for_one(project):
    proj = Project.init(project)
    assert list_packages(proj) == []
    with pytest.raises(StaleLock, match="run `mlpm install` first"):
        tree(proj)
