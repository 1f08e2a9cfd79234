"""`mlpm adopt --caches`: what torch.hub, tensorflow_hub and huggingface_hub already
downloaded goes into mlpm's store without a download, and `--prune` frees the copies.

The caches are made by the libraries themselves, offline: torch.hub and tensorflow_hub
download from the test's registry on 127.0.0.1, huggingface_hub from the local Hugging
Face–compatible server (tests/hf_hub.py). The project's lock pins the same artifacts.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from mlpm.adopt.caches import HUGGINGFACE, TFHUB, TORCH, adopt_caches, wanted_from_lock
from mlpm.project import Lock
from mlpm.store import Store
from tests.conftest import assert_clean_error, needs, run_mlpm
from tests.hf_hub import Lfs, hf_hub_fixture, hf_hub_server_fixture  # noqa: F401
from tests.models import save_savedmodel

FILL = '''
import os, sys
import torch.hub
calib, other, saved, repo, unrelated = sys.argv[1:6]
torch.hub.load_state_dict_from_url(calib, progress=False)
torch.hub.download_url_to_file(
    other, os.path.join(torch.hub.get_dir(), "checkpoints", "other-weights.pth"), progress=False)
import tensorflow_hub as hub
print(hub.resolve(saved))
from huggingface_hub import hf_hub_download, snapshot_download
print(snapshot_download(repo))
print(hf_hub_download(unrelated, "model.safetensors"))
'''


@pytest.fixture
def cached_project(registry, project, tmp_path, hf_hub, monkeypatch):
    """A project locking a state dict, a SavedModel and a Hugging Face repository (installed
    into another cache), and the three framework caches filled with the same files by the
    frameworks' own download functions."""
    torch = needs("torch")
    needs("tensorflow_hub")

    calib = tmp_path / "calib"
    calib.mkdir()
    torch.manual_seed(3)
    torch.save({"scale": torch.rand(64), "shift": torch.rand(64)}, calib / "model.pt")
    (calib / "mlpm.toml").write_text(tomli_w.dumps({"package": {
        "name": "calibration", "version": "1.0.0", "framework": "torch",
        "files": {"state-dict": "model.pt"}}}))
    saved = tmp_path / "saved"
    save_savedmodel(saved / "saved_model")
    (saved / "mlpm.toml").write_text(tomli_w.dumps({"package": {
        "name": "tfmodel", "version": "1.0.0", "framework": "tensorflow", "kind": "savedmodel",
        "artifacts": [{"format": "savedmodel", "role": "model", "file": "saved_model"}]}}))
    for folder in (calib, saved):
        result = run_mlpm("publish", str(folder), "--registry", str(registry.root), cwd=folder)
        assert result.code == 0, result.err
    (registry.root / "other.pth").write_bytes(os.urandom(5000))

    repo = hf_hub.repo("tiny")
    repo.commit({"model.safetensors": Lfs(os.urandom(3000)), "config.json": b'{"a": 1}'})
    unrelated = hf_hub.repo("unrelated")
    unrelated.commit({"model.safetensors": Lfs(os.urandom(2000))})
    hf_env = {"HF_ENDPOINT": hf_hub.endpoint}

    first = {**hf_env, "MLPM_CACHE_DIR": str(tmp_path / "first-cache")}
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    for spec in ("calibration", "tfmodel", f"hf:{repo.repo_id}"):
        result = run_mlpm("install", spec, cwd=project, env=first)
        assert result.code == 0, result.err
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    # a registry's lock records artifact URLs relative to the registry
    urls = {p["name"]: registry.url + p["artifacts"][0]["url"]
            for p in lock["package"] if p["name"] != "tiny"}

    monkeypatch.setenv("HF_HOME", str(tmp_path / "home" / "hf"))
    env = {**os.environ, **hf_env, "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_XET": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", FILL, urls["calibration"],
                          registry.url + "other.pth", urls["tfmodel"], repo.repo_id,
                          unrelated.repo_id], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return project, registry, hf_hub, repo, urls


def files_under(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def test_caches_are_reported_imported_without_download_and_pruned_exactly(cached_project,
                                                                          tmp_path):
    project, registry, hf_hub, repo, urls = cached_project
    home = tmp_path / "home"
    checkpoints = home / "torch" / "hub" / "checkpoints"
    calib_file = checkpoints / os.path.basename(urls["calibration"])
    # a damaged copy: the right size, other bytes; it must be neither imported nor pruned
    damaged = checkpoints / "calibration-copy.pth"
    damaged.write_bytes(bytes(b ^ 0xFF for b in calib_file.read_bytes()))
    tfhub_folder = home / "tfhub" / hashlib.sha1(urls["tfmodel"].encode()).hexdigest()  # noqa: S324
    hf_repo = home / "hf" / "hub" / f"models--{repo.repo_id.replace('/', '--')}"
    assert calib_file.is_file() and tfhub_folder.is_dir() and hf_repo.is_dir()
    before = {k: files_under(home / k) for k in ("torch", "tfhub", "hf")}

    lock = Lock.read(project / "mlpm.lock")
    assert lock is not None
    wanted = wanted_from_lock(lock)
    result = adopt_caches(Store(), wanted)

    # the report: each cache, what it holds, and the total
    kinds = {c.kind: c for c in result.caches}
    assert set(kinds) == {TORCH, TFHUB, HUGGINGFACE}
    torch_models = {e.model: e.size for e in kinds[TORCH].entries}
    assert torch_models == {f"checkpoints/{calib_file.name}": calib_file.stat().st_size,
                            "checkpoints/calibration-copy.pth": calib_file.stat().st_size,
                            "checkpoints/other-weights.pth": 5000}
    assert [e.model for e in kinds[TFHUB].entries] == [urls["tfmodel"]]
    assert kinds[TFHUB].entries[0].size == sum(files_under(tfhub_folder).values())
    hf_models = sorted(e.model for e in kinds[HUGGINGFACE].entries)
    assert len(hf_models) == 2 and f"{repo.repo_id} (main)" in hf_models
    hf_root = home / "hf" / "hub"
    assert result.total == sum(files_under(checkpoints).values()) + \
        sum(files_under(tfhub_folder).values()) + \
        sum(b.stat().st_size for b in hf_root.glob("models--*/blobs/*"))
    text = "\n".join(result.lines())
    assert "PyTorch Hub cache" in text and "TensorFlow Hub cache" in text and "total:" in text

    # imported: the state dict and each file of the Hugging Face repository, nothing else
    pinned = {a["sha256"]: (p["name"], a["path"]) for p in
              tomllib.loads((project / "mlpm.lock").read_text())["package"]
              for a in p["artifacts"]}
    imported = {(m.wanted.sha256, m.file.path) for m in result.imported}
    hf_blobs = {b: hashlib.sha256(b.read_bytes()).hexdigest()
                for b in (hf_repo / "blobs").iterdir()}
    assert imported == {(hashlib.sha256(calib_file.read_bytes()).hexdigest(), calib_file)} | \
        {(sha, path) for path, sha in hf_blobs.items()}
    assert {pinned[sha][0] for sha, _ in imported} == {"calibration", "tiny"}
    assert all(Store().has_blob(sha) for sha, _ in imported)
    assert result.folders == []  # the SavedModel's archive is not in the store yet
    assert result.pruned == [] and result.freed == 0
    assert {k: files_under(home / k) for k in ("torch", "tfhub", "hf")} == before

    # install downloads only what no cache had: the SavedModel archive
    registry.requests.clear()
    mark = hf_hub.mark()
    installed = run_mlpm("install", cwd=project, env={"HF_ENDPOINT": hf_hub.endpoint})
    assert installed.code == 0, installed.err
    artifact_gets = [p for m, p, _ in registry.requests if m == "GET" and "/artifacts/" in p]
    assert artifact_gets == [urls["tfmodel"][len(registry.url) - 1:]]
    _, hf_requests = hf_hub.since(mark)
    assert [p for _, p in hf_requests if "/resolve/" in p] == []

    # --prune: exactly the verified duplicates go, and it says what that freed
    assert_clean_error(run_mlpm("adopt", "--prune", cwd=project), 2, "--caches")
    pruned = run_mlpm("adopt", "--caches", "--prune", "--json", cwd=project)
    assert pruned.code == 0, pruned.err
    done = pruned.json
    assert done["imported"] == []
    assert [f["path"] for f in done["folders"]] == [str(tfhub_folder)]
    assert set(done["pruned"]) == {str(p) for p in (calib_file, tfhub_folder, *hf_blobs)}
    assert done["freed"] == before["torch"][f"hub/checkpoints/{calib_file.name}"] + \
        sum(before["tfhub"].values()) + \
        sum(before["hf"][f"hub/{hf_repo.name}/blobs/{b.name}"] for b in hf_blobs)
    again = run_mlpm("adopt", "--caches", cwd=project)
    assert again.code == 0 and "freed" not in again.out
    assert "PyTorch Hub cache" in again.out and "Hugging Face cache" in again.out
    left = {k: files_under(home / k) for k in ("torch", "tfhub", "hf")}
    assert set(left["torch"]) == {"hub/checkpoints/calibration-copy.pth",
                                  "hub/checkpoints/other-weights.pth"}
    assert left["tfhub"] == {}
    assert not hf_repo.exists()
    assert not [name for name in left["hf"] if hf_repo.name in name], left["hf"]
    assert [name for name in left["hf"] if "--unrelated/blobs/" in name]  # it stays

    # the application's models still load, from the store alone
    code = ("import mlpm; sd = mlpm.load('calibration'); print(sorted(sd));"
            "print(len(list(mlpm.path('tiny').iterdir())))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env={**os.environ, "MLPM_OFFLINE": "1"}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["['scale', 'shift']", "2"]


def test_adopt_write_caches_locks_a_cached_repository_without_downloading_it(
        hf_hub, project, tmp_path, monkeypatch):
    """An app that calls hf_hub_download has the repository in its Hugging Face cache:
    `mlpm adopt --write --caches` locks it and takes the weights from that cache."""
    weights = Lfs(os.urandom(4000))
    repo = hf_hub.repo("encoder")
    repo.commit({"model.safetensors": weights, "config.json": b'{"hidden": 4}'})
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home" / "hf"))
    env = {**os.environ, "HF_ENDPOINT": hf_hub.endpoint, "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_XET": "1"}
    app = (f'from huggingface_hub import hf_hub_download\n\n'
           f'weights = hf_hub_download("{repo.repo_id}", "model.safetensors")\n')
    (project / "app.py").write_text(app)
    out = subprocess.run([sys.executable, "app.py"], cwd=project, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr

    mark = hf_hub.mark()
    result = run_mlpm("adopt", "--write", "--caches", cwd=project,
                      env={"HF_ENDPOINT": hf_hub.endpoint})
    assert result.code == 0, result.err
    _, requests = hf_hub.since(mark)
    assert not [p for _, p in requests if p.endswith("/model.safetensors")], requests
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    (pkg,) = lock["package"]
    assert {a["path"]: a["sha256"] for a in pkg["artifacts"]}["model.safetensors"] == \
        weights.sha256
    assert "imported" not in result.out  # imported before the lock, then already in the store
    assert "already in mlpm's store" in result.out and "--prune` frees them" in result.out
    code = "import mlpm; print(mlpm.path(%r).joinpath('model.safetensors').read_bytes().hex())"
    loaded = subprocess.run([sys.executable, "-c", code % pkg["name"]], cwd=project,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "MLPM_OFFLINE": "1"})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == weights.data.hex()


def test_a_prune_cut_short_is_finished_by_the_next_one(registry, project, tmp_path):
    """A folder --prune renamed aside but had not deleted yet (the process was killed) is
    never reported as a model, and the next --prune deletes it."""
    torch = needs("torch")

    (registry.root / "weights.pth").write_bytes(os.urandom(1000))
    checkpoints = tmp_path / "home" / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.hub.download_url_to_file(registry.url + "weights.pth",
                                   str(checkpoints / "weights.pth"), progress=False)
    leftover = tmp_path / "home" / "tfhub" / ".mlpm-prune-0a1b.4242.9f3e"
    (leftover / "variables").mkdir(parents=True)
    (leftover / "saved_model.pb").write_bytes(b"x" * 300)

    report = run_mlpm("adopt", "--caches", "--json", cwd=project)
    assert report.code == 0, report.err
    caches = {c["cache"]: c for c in report.json["caches"]}
    assert caches["tfhub"]["entries"] == [] and caches["tfhub"]["size"] == 0
    assert [e["model"] for e in caches["torch-hub"]["entries"]] == ["checkpoints/weights.pth"]
    assert report.json["total"] == 1000 and report.json["duplicate_bytes"] == 0
    assert leftover.is_dir()  # reporting deletes nothing

    pruned = run_mlpm("adopt", "--caches", "--prune", "--json", cwd=project)
    assert pruned.code == 0, pruned.err
    assert not leftover.exists()
    assert pruned.json["pruned"] == [] and pruned.json["freed"] == 0  # not a model copy
    assert (checkpoints / "weights.pth").is_file()  # no lock pins it: it stays
