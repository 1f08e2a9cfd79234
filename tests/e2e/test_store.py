"""The content-addressed store: fetched once across processes, resumed, verified."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from mlpm.errors import IntegrityError
from mlpm.fetch import fetch_blob
from mlpm.store import Store
from tests.conftest import needs, publish, run_mlpm


def test_concurrent_installs_fetch_each_blob_once(registry, model_files, tmp_path):
    publish(registry.root, model_files[1], "shared", "1.0.0")
    publish(registry.root, model_files[2], "other", "1.0.0", "shared@^1")
    projects = []
    for i in range(6):
        folder = tmp_path / f"app{i}"
        folder.mkdir()
        assert run_mlpm("init", "--registry", registry.url, cwd=folder).code == 0
        projects.append(folder)
    registry.requests.clear()
    procs = [subprocess.Popen([sys.executable, "-m", "mlpm", "install", "other"], cwd=folder,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for folder in projects]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    artifact_gets = [p for m, p, _ in registry.requests if m == "GET" and "/artifacts/" in p]
    assert sorted(artifact_gets) == sorted(set(artifact_gets)) and len(artifact_gets) == 2
    store = Store()
    assert store.verify() == [] and len(store.blobs()) == 2


def test_an_interrupted_download_resumes_with_a_range_request(registry, tmp_path):
    data = bytes(range(256)) * 4096  # 1 MiB
    sha = hashlib.sha256(data).hexdigest()
    (registry.root / "blob.bin").write_bytes(data)
    store = Store(tmp_path / "store")
    store.partial_path(sha).write_bytes(data[: 300_000])  # what a killed download left
    path = fetch_blob(store, registry.url + "blob.bin", sha, len(data), label="blob")
    assert path.read_bytes() == data
    (_, _, headers), = [r for r in registry.requests if r[1] == "/blob.bin"]
    assert headers.get("Range") == "bytes=300000-"
    assert not store.partial_path(sha).exists()


def test_wrong_bytes_are_deleted_and_never_kept(registry, tmp_path):
    (registry.root / "evil.bin").write_bytes(b"not what was published")
    store = Store(tmp_path / "store")
    sha = hashlib.sha256(b"what was published").hexdigest()
    with pytest.raises(IntegrityError, match="does not match its recorded sha256"):
        fetch_blob(store, registry.url + "evil.bin", sha, None, label="evil")
    assert not store.has_blob(sha) and not store.partial_path(sha).exists()
    # A wrong size is caught even before hashing completes.
    with pytest.raises(IntegrityError):
        fetch_blob(store, registry.url + "evil.bin", sha, 5, label="evil")
    assert store.blobs() == []


def test_blobs_are_read_only_and_prune_keeps_what_projects_use(tmp_path):
    store = Store(tmp_path / "store")
    file = tmp_path / "f.bin"
    file.write_bytes(b"weights")
    sha = store.add_file(file)
    assert store.blob_path(sha).stat().st_mode & 0o222 == 0
    lock = tmp_path / "mlpm.lock"
    lock.write_text("version = 1\n")
    store.set_refs(tmp_path, lock, [sha])
    assert store.prune() == (0, 0) and store.has_blob(sha)
    lock.unlink()
    assert store.prune() == (1, len(b"weights")) and not store.has_blob(sha)


def test_exported_programs_load_as_runnable_modules(registry, project, tmp_path, monkeypatch):
    torch = needs("torch")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 2)

        def forward(self, x):
            return torch.relu(self.lin(x))

    torch.manual_seed(0)
    net = Net().eval()
    file = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(1, 4),)), str(file))
    publish(registry.root, file, "net", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "net", cwd=project).code == 0
    monkeypatch.chdir(project)
    import mlpm

    module = mlpm.load("net", trust=True)  # an exported program runs code: trust its source
    x = torch.randn(1, 4)
    torch.testing.assert_close(module(x), net(x))


def _settle(*paths) -> None:
    """Age files past the memo's settling time (mtime and ctime both), as hours of use would."""
    import time

    time.sleep(0.05)
    for path in paths:
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)


def test_a_settled_lock_is_read_from_the_cache_and_any_edit_is_still_seen(
        registry, project, model_files, monkeypatch):
    import mlpm.store
    from mlpm.project import Lock

    publish(registry.root, model_files[1], "tiny", "1.0.0")
    publish(registry.root, model_files[2], "tiny", "1.1.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tiny@1.0", cwd=project).code == 0
    lock_file, manifest = project / "mlpm.lock", project / "mlpm.toml"
    _settle(lock_file, manifest)
    monkeypatch.setattr(mlpm.store, "SETTLED_NS", 0)
    first = Lock.read(lock_file)  # parses, and keeps a parsed copy
    memos = list((Store().root / "parsed").glob("*.marshal"))
    assert len(memos) == 1
    assert Lock.read(lock_file).packages["tiny"].version == first.packages["tiny"].version
    assert run_mlpm("install", "--frozen", cwd=project).code == 0

    # An in-place edit that keeps the size (same inode, same length) is still noticed.
    text = manifest.read_text()
    assert '"1.0"' in text
    with open(manifest, "r+", encoding="utf-8") as fh:
        fh.write(text.replace('"1.0"', '"1.1"'))
    result = run_mlpm("install", "--frozen", cwd=project)
    assert result.code == 1 and "mlpm.lock is out of date" in result.err, result.err
    result = run_mlpm("install", cwd=project)
    assert result.code == 0 and "tiny 1.0.0 -> 1.1.0" in result.out, result.out

    # A torn memo is parsed again, never trusted.
    _settle(lock_file)
    Lock.read(lock_file)
    memo, = [m for m in (Store().root / "parsed").glob("*.marshal") if m.stat().st_size > 200]
    memo.write_bytes(memo.read_bytes()[:40])
    assert Lock.read(lock_file).packages["tiny"].version == "1.1.0"
    listed = run_mlpm("list", "--json", cwd=project)
    assert '"version": "1.1.0"' in listed.out, listed.out


def test_prune_drops_the_parsed_copies_of_projects_that_are_gone(registry, tmp_path,
                                                                  model_files, monkeypatch):
    import mlpm.store
    from mlpm.project import Lock

    publish(registry.root, model_files[1], "tiny", "1.0.0")
    apps = [tmp_path / "kept", tmp_path / "gone"]
    for app in apps:
        app.mkdir()
        assert run_mlpm("init", "--registry", registry.url, cwd=app).code == 0
        assert run_mlpm("install", "tiny", cwd=app).code == 0
        _settle(app / "mlpm.lock")
    monkeypatch.setattr(mlpm.store, "SETTLED_NS", 0)
    for app in apps:
        Lock.read(app / "mlpm.lock")
    parsed = Store().root / "parsed"
    assert len(list(parsed.glob("*.marshal"))) == 2
    import shutil

    shutil.rmtree(apps[1])
    assert run_mlpm("cache", "prune", cwd=apps[0]).code == 0
    assert len(list(parsed.glob("*.marshal"))) == 1
    assert run_mlpm("install", "--frozen", cwd=apps[0]).code == 0
