"""`mlpm adopt` on a small application that loads its models through torch.hub, TF Hub and
the Hugging Face Hub: the report (text and --json) against a registry served on loopback
whose records name their upstreams, the reverse lookup that reads no unrelated index file,
`--write` into a new manifest and lock, and `mlpm install` from that lock on a clean cache."""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.hf_hub import Lfs, hf_hub_fixture, hf_hub_server_fixture  # noqa: F401
from tests.models import make_hub_package
from tests.oci_registry import oci_fixture, oci_server_fixture  # noqa: F401


def publish_tinyhub(registry_root: Path, folder: Path, version: str, seed: int, ref: str) -> str:
    """tinyhub at ``version``: hub code + weights, its upstream example/tinyhub at ``ref``;
    returns the weights' upstream URL."""
    weights, _ = make_hub_package(folder, version=version, seed=seed)
    manifest = folder / "mlpm.toml"
    manifest.write_text(manifest.read_text().replace(
        '\nentrypoint = "tiny_net"\n', f'\nentrypoint = "tiny_net"\nref = "{ref}"\n'))
    result = run_mlpm("publish", str(folder), "--registry", str(registry_root), cwd=folder)
    assert result.code == 0, result.err
    return f"https://models.example.org/tiny/{weights.name}"


def publish_encoder(registry_root: Path, folder: Path, onnx_file: Path, name: str = "encoder",
                    handle: str = "https://tfhub.dev/acme/encoder/2") -> None:
    """An ONNX package whose record names the TF Hub handle it was converted from."""
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx_file.read_bytes())
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "{name}"
        version = "1.0.0"
        framework = "onnx"
        description = "A text encoder, converted from TF Hub"
        license = "MIT"

        [package.upstream]
        type = "tfhub"
        handle = "{handle}"
        version = 2

        [[package.artifacts]]
        format = "onnx"
        file = "model.onnx"
    '''))
    result = run_mlpm("publish", str(folder), "--registry", str(registry_root), cwd=folder)
    assert result.code == 0, result.err


@pytest.fixture
def served(registry, tmp_path, model_files):
    needs("torch")
    v10 = publish_tinyhub(registry.root, tmp_path / "tiny-1.0", "1.0.0", 0, "v1.0")
    v11 = publish_tinyhub(registry.root, tmp_path / "tiny-1.1", "1.1.0", 1, "v1.1")
    publish_encoder(registry.root, tmp_path / "encoder", model_files[1])
    publish(registry.root, model_files[2], "unrelated", "1.0.0")
    return registry, v10, v11


def write_app(app: Path, weights_url: str) -> None:
    files = {
        "app/__init__.py": "",
        "app/settings.py": '''
            HUB = "example/tinyhub"
            TFHUB = "https://tfhub.dev"
        ''',
        "app/model.py": f'''
            import os
            import torch.hub as th
            from torch.hub import load_state_dict_from_url
            from .settings import HUB

            pinned = th.load(f"{{HUB}}:v1.0", "tiny_net")
            latest = th.load(HUB, model="tiny_net", trust_repo=True)
            wide = th.load(HUB, "tiny_net", hidden=16)
            chosen = th.load(HUB, os.environ["TINY_ENTRYPOINT"])
            state = load_state_dict_from_url("{weights_url}", progress=False)
        ''',
    }
    for name, text in files.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(textwrap.dedent(text).lstrip("\n"))
    cells = [["import tensorflow_hub as hub\n", "from app.settings import TFHUB\n",
              "%matplotlib inline\n"],
             ["layer = hub.KerasLayer(TFHUB + '/acme/encoder/2', trainable=False)\n"]]
    (app / "explore.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": src} for src in cells],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_adopt_reports_every_call_site_and_how_sure(served, project):
    registry, _, v11 = served
    write_app(project, v11)
    result = run_mlpm("adopt", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    lines = {line.split("  ")[0]: line for line in result.out.splitlines()[1:] if ".py" in line
             or ".ipynb" in line}
    assert "tinyhub@1.0.0" in lines["app/model.py:6"] and "exact" in lines["app/model.py:6"]
    assert "tinyhub@1.1.0" in lines["app/model.py:7"] and "exact" in lines["app/model.py:7"]
    assert "name: no version of tinyhub is example/tinyhub tiny_net hidden=16; it has 1.0.0 " \
        "(v1.0), 1.1.0 (v1.1)" in lines["app/model.py:8"]
    assert "unresolved" in lines["app/model.py:9"]
    assert "read from the environment variable TINY_ENTRYPOINT" in lines["app/model.py:9"]
    assert "tinyhub@1.1.0" in lines["app/model.py:10"]
    assert "encoder@1.0.0" in lines["explore.ipynb[cell 1]:1"]
    assert result.out.splitlines()[-1] == \
        "6 call sites in 4 files: 4 exact, 1 name, 1 unresolved."
    # the reverse lookup: the upstreams index and the packages it names, nothing else
    assert "/upstreams/head.json" in registry.paths()
    assert not [p for p in registry.paths("/index/") if "unrelated" in p]
    assert not Path(project / "mlpm.toml").exists()  # a report writes nothing


def test_adopt_json_is_the_report_as_data(served, project):
    registry, _, v11 = served
    write_app(project, v11)
    result = run_mlpm("adopt", ".", "--json", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    data = result.json
    assert data["command"] == "adopt" and data["written"] is None
    assert data["counts"] == {"exact": 4, "name": 1, "unresolved": 1, "unmapped": 0}
    first = data["sites"][0]
    assert {k: first[k] for k in ("where", "kind", "how", "package", "version", "source")} == {
        "where": "app/model.py:6", "kind": "torch.hub.load", "how": "exact",
        "package": "tinyhub", "version": "1.0.0", "source": None}
    assert first["args"] == {"repo_or_dir": "example/tinyhub:v1.0", "model": "tiny_net",
                             "kwargs": {}}
    unresolved = next(s for s in data["sites"] if s["how"] == "unresolved")
    assert unresolved["line"] == 9 and list(unresolved["unresolved"]) == ["model"]


def test_write_creates_the_manifest_locks_and_installs_from_a_clean_cache(served, project,
                                                                          tmp_path):
    registry, _, v11 = served
    write_app(project, v11)
    result = run_mlpm("adopt", "--write", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    assert "note: tinyhub: app/model.py:6 asks for 1.0.0 and app/model.py:7 for 1.1.0; " \
        "added 1.1.0" in result.out
    assert "Created mlpm.toml" in result.out
    manifest = tomllib.loads((project / "mlpm.toml").read_text())
    assert manifest["dependencies"] == {"tinyhub": "^1.1.0", "encoder": "^1.0.0"}
    assert manifest["registry"] == registry.url
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    assert {p["name"]: p["version"] for p in lock["package"]} == \
        {"tinyhub": "1.1.0", "encoder": "1.0.0"}

    again = run_mlpm("install", "--frozen", cwd=project,
                     env={"MLPM_CACHE_DIR": str(tmp_path / "clean-cache")})
    assert again.code == 0, again.err
    assert "installed: 2 packages" in again.out


def test_write_with_nothing_exact_writes_nothing(registry, project, model_files):
    (project / "app.py").write_text("import torch\ntorch.hub.load('someone/else', 'net')\n")
    result = run_mlpm("adopt", "--write", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    assert "has no upstreams index, so only names were matched" in result.out  # an empty one
    publish(registry.root, model_files[1], "unrelated", "1.0.0")  # publish starts the index
    result = run_mlpm("adopt", "--write", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err
    assert "unmapped: no package names someone/else net" in result.out
    assert "Nothing to write" in result.out and "upstreams index" not in result.out
    assert not (project / "mlpm.toml").exists()


def test_a_failed_write_leaves_no_manifest_behind(project, tmp_path):
    """An hf: dependency whose Hub is unreachable: the install fails with one sentence and
    the manifest created for it is removed again."""
    needs("torch")
    (project / "app.py").write_text(
        "from huggingface_hub import hf_hub_download\n"
        "p = hf_hub_download('acme/missing', 'model.safetensors', revision='main')\n")
    result = run_mlpm("adopt", "--write", cwd=project,
                      env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_ETAG_TIMEOUT": "1"})
    assert_clean_error(result, 1)
    assert not (project / "mlpm.toml").exists() and not (project / "mlpm.lock").exists()


def test_adopt_of_a_missing_folder_is_a_usage_error(project):
    result = run_mlpm("adopt", "no-such-folder", cwd=project)
    assert_clean_error(result, 2, "no-such-folder")


def test_hugging_face_calls_are_written_as_hf_dependencies_at_their_revision(hf_hub, project):
    needs("numpy")
    repo = hf_hub.repo("tiny")
    commit = repo.commit({"model.safetensors": Lfs(b"\x08" * 64), "config.json": b"{}"})
    (project / "app.py").write_text(textwrap.dedent(f'''
        from huggingface_hub import hf_hub_download

        REPO = "{repo.repo_id}"
        path = hf_hub_download(REPO, "model.safetensors")
    '''))
    env = {"HF_ENDPOINT": hf_hub.endpoint}
    report = run_mlpm("adopt", "--json", cwd=project, env=env)
    assert report.code == 0, report.err
    site = report.json["sites"][0]
    assert (site["how"], site["package"], site["source"], site["revision"]) == \
        ("exact", "tiny", f"hf:{repo.repo_id}", None)
    result = run_mlpm("adopt", "--write", cwd=project, env=env)
    assert result.code == 0, result.err
    manifest = tomllib.loads((project / "mlpm.toml").read_text())
    assert manifest["dependencies"]["tiny"] == {"hf": repo.repo_id, "rev": "main"}
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    (pkg,) = lock["package"]
    assert pkg["name"] == "tiny" and pkg["commit"] == commit


def test_reindex_rebuilds_the_upstreams_index_of_a_registry_copied_by_hand(registry, project,
                                                                          tmp_path, model_files):
    """A registry whose upstreams/ was lost (copied without it, or made by an older mlpm, or
    an OCI registry) still maps a package named after its model exactly: that package's own
    records are read. One published under another name is found again once `mlpm registry
    reindex` rebuilds the index from index/."""
    import shutil

    publish_encoder(registry.root, tmp_path / "encoder", model_files[1])
    publish_encoder(registry.root, tmp_path / "other", model_files[1], name="acme-words",
                    handle="https://tfhub.dev/acme/text/2")
    shutil.rmtree(registry.root / "upstreams")
    (project / "app.py").write_text(
        "import tensorflow_hub as hub\nm = hub.load('https://tfhub.dev/acme/encoder/2')\n"
        "t = hub.load('https://tfhub.dev/acme/text/2')\n")
    before = run_mlpm("adopt", "--json", "--registry", registry.url, cwd=project)
    by_name, other = before.json["sites"]
    assert (by_name["how"], by_name["package"], by_name["version"]) == \
        ("exact", "encoder", "1.0.0")
    assert other["how"] == "unmapped" and "mlpm registry reindex" in other["reason"], other
    assert run_mlpm("registry", "reindex", str(registry.root), cwd=tmp_path).code == 0
    after = run_mlpm("adopt", "--json", "--registry", registry.url, cwd=project)
    assert [(s["how"], s["package"], s["version"]) for s in after.json["sites"]] == \
        [("exact", "encoder", "1.0.0"), ("exact", "acme-words", "1.0.0")]


def test_an_oci_registry_maps_a_package_named_after_its_model_exactly(oci, project, tmp_path,
                                                                     model_files):
    """An OCI registry has no upstreams index: the package the call names is read instead."""
    folder = tmp_path / "folder-registry"
    publish_encoder(folder, tmp_path / "encoder", model_files[1])
    ref = oci.ref(oci.namespace())
    assert run_mlpm("registry", "mirror", str(folder), ref, cwd=tmp_path).code == 0
    (project / "app.py").write_text(
        "import tensorflow_hub as hub\nm = hub.load('https://tfhub.dev/acme/encoder/2')\n")
    result = run_mlpm("adopt", "--json", "--registry", ref, cwd=project)
    assert result.code == 0, result.err
    (site,) = result.json["sites"]
    assert (site["how"], site["package"], site["version"]) == ("exact", "encoder", "1.0.0")
