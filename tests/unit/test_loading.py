"""What `mlpm.path` and `mlpm.interface` (mlpm/loading.py) hand a program: the locked
version's verified file from the store and its interface, or one sentence saying what to
run first. The project installs digits from the registry bundled with mlpm (offline)."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from mlpm.errors import NotInstalled, ProjectNotFound, StaleLock, UsageError
from mlpm.loading import interface, path
from mlpm.ops.install import install
from mlpm.project import Lock, Project
from mlpm.session import Session


@pytest.fixture
def installed(project, monkeypatch):
    """A project with digits@1.0.0 installed and locked (mlpm.toml + mlpm.lock)."""
    monkeypatch.setenv("MLPM_OFFLINE", "1")  # the bundled registry needs no network
    proj = Project.init(project)
    install(proj, ["digits@1.0.0"], session=Session.from_env())
    return project


def test_path_is_the_locked_file_verified_in_the_store(installed):
    pkg = Lock.read(installed / "mlpm.lock").packages["digits"]
    (art,) = pkg.artifacts
    file = path("digits", project_dir=installed)
    assert file.is_file() and not file.is_relative_to(installed)  # in the cache, not the project
    assert hashlib.sha256(file.read_bytes()).hexdigest() == art.sha256
    assert not os.stat(file).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert path("digits", "onnx", project_dir=installed) == file


def test_interface_comes_from_the_lock(installed):
    iface = interface("digits", project_dir=installed)
    assert iface == Lock.read(installed / "mlpm.lock").packages["digits"].interface
    (sig,) = iface["signatures"]
    assert [i["name"] for i in sig["inputs"]] == ["pixels"]
    assert sig["outputs"][0]["shape"] == ["batch", 10]


def test_interface_without_a_project_asks_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPM_OFFLINE", "1")
    alone = tmp_path / "not-a-project"
    alone.mkdir()
    iface = interface("digits", project_dir=alone)
    assert iface["signatures"][0]["name"] == "main"


def test_a_package_the_lock_lacks_says_which_install_to_run(installed):
    with pytest.raises(NotInstalled) as err:
        path("digits-calibrator", project_dir=installed)
    assert "run `mlpm install digits-calibrator` there first" in str(err.value)


def test_no_lock_yet_says_to_install(project):
    Project.init(project)
    with pytest.raises(StaleLock, match="run `mlpm install` there first"):
        path("digits", project_dir=project)


def test_a_folder_outside_any_project_says_to_init(tmp_path):
    alone = tmp_path / "nowhere"
    alone.mkdir()
    with pytest.raises(ProjectNotFound, match="mlpm init"):
        path("digits", project_dir=alone)


def test_an_unknown_format_name_is_refused_listing_the_formats(installed):
    with pytest.raises(UsageError) as err:
        path("digits", "onyx", project_dir=installed)
    assert "unknown format 'onyx'" in str(err.value) and "onnx" in str(err.value)
