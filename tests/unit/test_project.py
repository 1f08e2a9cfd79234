"""The project (mlpm/project.py): reading the manifest from mlpm.toml or pyproject.toml's
[tool.mlpm], saving it without losing the user's comments and layout, the manifest hash
the lock is checked against, and mlpm.lock written and read back."""

from __future__ import annotations

import textwrap

import pytest

from mlpm.errors import ManifestError, ProjectNotFound
from mlpm.project import LOCKFILE, Lock, LockedPackage, Project
from mlpm.registry.records import Artifact

SHA = "ab" * 32
MANIFEST = textwrap.dedent("""\
    # the models of the photo app
    registry = "https://models.example.com/reg/"

    [dependencies]
    resnet = "^1.2.0"   # the classifier
    detector = { version = "~2.0.1", format = "onnx" }
    """)


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_mlpm_toml_is_read_with_ranges_options_and_registry(project):
    write(project, "mlpm.toml", MANIFEST)
    proj = Project.find(project)
    assert proj.manifest_path == project / "mlpm.toml" and not proj.in_pyproject
    assert proj.dependencies == {"resnet": "^1.2.0", "detector": "~2.0.1"}
    assert proj.options == {"detector": {"format": "onnx"}}
    assert proj.registry == "https://models.example.com/reg/"
    assert proj.lock_path == project / LOCKFILE


def test_the_project_is_found_from_a_subfolder(project):
    write(project, "mlpm.toml", MANIFEST)
    deep = project / "src" / "app"
    deep.mkdir(parents=True)
    assert Project.find(deep).root == project


def test_tool_mlpm_in_pyproject_is_a_manifest(project):
    write(project, "pyproject.toml", """\
        [project]
        name = "photo-app"

        [tool.mlpm]
        registry = "bundled"

        [tool.mlpm.dependencies]
        digits = "^1.2.0"
        """)
    proj = Project.find(project)
    assert proj.in_pyproject and proj.manifest_path.name == "pyproject.toml"
    assert proj.dependencies == {"digits": "^1.2.0"} and proj.registry == "bundled"


def test_a_pyproject_without_tool_mlpm_is_not_a_project(project):
    write(project, "pyproject.toml", '[project]\nname = "x"\n')
    with pytest.raises(ProjectNotFound, match="run `mlpm init`"):
        Project.find(project)


@pytest.mark.parametrize("text, words", [
    ('[dependencies]\n"Bad Name" = "^1"\n',
     ["mlpm.toml", "'Bad Name' is not a valid package name"]),
    ('[dependencies]\nresnet = 1\n', ["the dependency 'resnet' needs a range string"]),
    ('dependencies = "resnet"\n', ["[dependencies]", "must be a table"]),
    ('registry = 3\n', ["registry must be a string"]),
    ('[dependencies\nresnet = "^1"\n', ["is not valid TOML"]),
])
def test_a_malformed_manifest_is_one_sentence_naming_the_problem(project, text, words):
    write(project, "mlpm.toml", text)
    with pytest.raises(ManifestError) as err:
        Project.find(project)
    for word in words:
        assert word in str(err.value)


def test_save_keeps_comments_order_and_layout(project):
    path = write(project, "mlpm.toml", MANIFEST)
    proj = Project.find(project)
    proj.dependencies["resnet"] = "^1.3.0"
    proj.dependencies["digits"] = "^1.2.1"
    proj.save()
    text = path.read_text()
    assert text.startswith("# the models of the photo app\n")
    assert 'resnet = "^1.3.0"   # the classifier' in text
    assert 'detector = { version = "~2.0.1", format = "onnx" }' in text  # untouched line
    assert text.index("resnet") < text.index("detector") < text.index("digits")
    again = Project.read(path)
    assert again.dependencies == {"resnet": "^1.3.0", "detector": "~2.0.1", "digits": "^1.2.1"}
    assert again.options == {"detector": {"format": "onnx"}}


def test_save_removes_a_dependency_and_changes_nothing_else(project):
    path = write(project, "mlpm.toml", MANIFEST)
    proj = Project.find(project)
    del proj.dependencies["detector"]
    proj.save()
    assert path.read_text() == MANIFEST.replace(
        'detector = { version = "~2.0.1", format = "onnx" }\n', "")


def test_save_into_pyproject_keeps_the_rest_of_the_file(project):
    original = textwrap.dedent("""\
        [project]
        name = "photo-app"  # keep me
        dependencies = ["numpy"]

        [tool.ruff]
        line-length = 100
        """)
    path = write(project, "pyproject.toml", original)
    proj = Project.init(project)
    assert proj.in_pyproject and not (project / "mlpm.toml").exists()
    proj.dependencies["digits"] = "^1.2.0"
    proj.save()
    text = path.read_text()
    assert text.startswith(original)
    assert Project.find(project).dependencies == {"digits": "^1.2.0"}


def test_init_writes_an_mlpm_toml_once(project):
    proj = Project.init(project)
    assert proj.manifest_path == project / "mlpm.toml"
    assert Project.find(project).dependencies == {}
    with pytest.raises(ManifestError, match="already an mlpm project"):
        Project.init(project)


def test_the_manifest_hash_ignores_formatting_but_not_ranges(tmp_path):
    one, two, three = (tmp_path / n for n in ("one", "two", "three"))
    for folder in (one, two, three):
        folder.mkdir()
    write(one, "mlpm.toml", '[dependencies]\nresnet = "^1.2.0"\ndigits = "^1.0.0"\n')
    write(two, "mlpm.toml", """\
        # reordered, commented, spaced differently
        [dependencies]
        digits   =   '^1.0.0'      # digits first
        resnet = { version = "^1.2.0" }
        """)
    write(three, "mlpm.toml", '[dependencies]\nresnet = "^1.3.0"\ndigits = "^1.0.0"\n')
    h1, h2, h3 = (Project.find(f).manifest_hash() for f in (one, two, three))
    assert h1 == h2 and h1.startswith("sha256:")
    assert h3 != h1
    proj = Project.find(one)
    proj.registry = "bundled"
    assert proj.manifest_hash() != h1  # the registry is part of what the lock must match


def locked_package(name="resnet", version="1.2.0", **kw) -> LockedPackage:
    art = Artifact("onnx", "model.onnx", SHA, 1234, f"artifacts/ab/{SHA}")
    return LockedPackage(name, version, "bundled", "onnx", [art], **kw)


def test_a_lock_written_reads_back_the_same(project):
    path = project / LOCKFILE
    detector = locked_package("detector", "2.0.1", dependencies={"resnet": "1.2.0"},
                              fingerprint="sha256:" + "cd" * 32, kind="onnx",
                              interface={"signatures": [{"name": "main", "inputs": [
                                  {"name": "x", "dtype": "float32", "shape": [None, 3]}]}]})
    lock = Lock("sha256:" + "ef" * 32, {"resnet": locked_package(), "detector": detector})
    lock.write(path)
    text = path.read_text()
    assert text.startswith("# This file is @generated by mlpm.")
    assert text.index('name = "detector"') < text.index('name = "resnet"')  # sorted
    back = Lock.read(path)
    assert back.manifest_hash == lock.manifest_hash and back.duplicates == {}
    assert set(back.packages) == {"resnet", "detector"}
    got = back.packages["detector"]
    assert (got.version, got.registry, got.framework, got.kind, got.fingerprint) == \
        ("2.0.1", "bundled", "onnx", "onnx", detector.fingerprint)
    assert got.dependencies == {"resnet": "1.2.0"}
    assert got.artifacts == detector.artifacts
    assert got.interface == detector.interface  # an unknown dimension survives TOML
    assert back.dependents("resnet") == ["detector"]
    assert back.blobs() == {SHA}
    # writing what was read gives the same bytes
    back.write(project / "again.lock")
    assert (project / "again.lock").read_text() == text


def test_no_lock_file_reads_as_none(project):
    assert Lock.read(project / LOCKFILE) is None


def test_a_package_locked_twice_is_reported_as_a_duplicate(project):
    path = project / LOCKFILE
    Lock("sha256:x", {"resnet": locked_package()}).write(path)
    text = path.read_text()
    body = text[text.index("[[package]]"):]
    path.write_text(text + "\n" + body.replace('version = "1.2.0"', 'version = "1.3.0"'))
    assert Lock.read(path).duplicates == {"resnet": ["1.2.0", "1.3.0"]}


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace(SHA, "../../victim"),
     ["is damaged (package 'resnet' artifacts[0]:", "restore it from version control"]),
    (lambda t: t.replace('registry = "bundled"', 'registry = "relative/folder"'),
     ["is damaged (package 'resnet' registry:"]),
    (lambda t: t.replace("version = 1\n", "version = 99\n"),
     ["lock format version 99", "upgrade mlpm"]),
    (lambda t: t.replace("version = 1\n", ""), ["has no valid format version"]),
    (lambda t: t + "\n[[package]\n", ["is not valid TOML"]),
])
def test_a_damaged_lock_is_one_sentence_saying_how_to_recover(project, edit, words):
    path = project / LOCKFILE
    Lock("sha256:x", {"resnet": locked_package()}).write(path)
    path.write_text(edit(path.read_text()))
    with pytest.raises(ManifestError) as err:
        Lock.read(path)
    text = str(err.value)
    assert str(path) in text and "\n" not in text.strip()
    for word in words:
        assert word in text
