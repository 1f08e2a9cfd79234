"""The whole life of a model in a project, through the `mlpm` command, over real HTTP."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.models import make_onnx

np = needs("numpy")


def manifest(project: Path) -> dict:
    return tomllib.loads((project / "mlpm.toml").read_text())


def lock(project: Path) -> dict:
    return tomllib.loads((project / "mlpm.lock").read_text())


def locked_versions(project: Path) -> dict[str, str]:
    return {p["name"]: p["version"] for p in lock(project).get("package", [])}


def cache_blobs(cache: Path) -> set[str]:
    base = cache / "blobs" / "sha256"
    return {p.name for p in base.glob("*/[!.]*")} if base.is_dir() else set()


@pytest.fixture
def tiny(registry, model_files):
    """`tiny` 1.0.0, 1.1.0, 1.2.0, 1.2.1 (1.2.0's weights, new metadata: a PATCH) and 2.0.0."""
    for key, version in [(1, "1.0.0"), (2, "1.1.0"), (3, "1.2.0"), (13, "1.2.1"), (5, "2.0.0")]:
        publish(registry.root, model_files[key], "tiny", version)
    return registry


def start(project: Path, registry) -> None:
    result = run_mlpm("init", "--registry", registry.url, cwd=project)
    assert result.code == 0, result.err


def outputs(session, batch: np.ndarray) -> np.ndarray:
    return session.run(None, {"x": batch})[0]


def expected(model_file: Path, batch: np.ndarray) -> np.ndarray:
    onnxruntime = needs("onnxruntime")

    return onnxruntime.InferenceSession(str(model_file)).run(None, {"x": batch})[0]


def test_install_a_range_pins_the_newest_match_and_keeps_the_range(tiny, project, model_files,
                                                                    monkeypatch):
    start(project, tiny)
    result = run_mlpm("install", "tiny@1.2", cwd=project)
    assert result.code == 0, result.err
    assert "+ tiny 1.2.1" in result.out
    assert manifest(project)["dependencies"] == {"tiny": "1.2"}
    assert manifest(project)["registry"] == tiny.url
    locked = lock(project)
    assert locked["version"] == 1 and locked["manifest-hash"].startswith("sha256:")
    (pkg,) = locked["package"]
    assert (pkg["name"], pkg["version"], pkg["registry"]) == ("tiny", "1.2.1", tiny.url)
    assert pkg["artifacts"][0]["sha256"] and pkg["artifacts"][0]["size"] > 0
    assert "@generated" in (project / "mlpm.lock").read_text().splitlines()[0]

    # The application loads the locked version and it computes what 1.2.1's weights compute.
    import mlpm

    monkeypatch.chdir(project)
    batch = np.arange(8, dtype=np.float32).reshape(2, 4)
    session = mlpm.load("tiny")
    assert type(session).__name__ == "InferenceSession"
    np.testing.assert_allclose(outputs(session, batch), expected(model_files[13], batch), rtol=1e-6)


def test_install_saves_caret_of_what_was_installed(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny", cwd=project).code == 0
    assert manifest(project)["dependencies"]["tiny"] == "^2.0.0"
    assert run_mlpm("install", "tiny@1.1.0", cwd=project).code == 0
    assert manifest(project)["dependencies"]["tiny"] == "^1.1.0"
    assert locked_versions(project) == {"tiny": "1.1.0"}
    assert run_mlpm("install", "tiny@~1.2.0", cwd=project).code == 0
    assert manifest(project)["dependencies"]["tiny"] == "~1.2.0"
    assert run_mlpm("install", "tiny@^1.0.0", cwd=project).code == 0  # ^1.2.1 fits inside ^1.0.0
    assert manifest(project)["dependencies"]["tiny"] == "^1.2.1"


def test_new_patch_shows_in_outdated_and_upgrade_picks_it_up(tiny, project, model_files):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    publish(tiny.root, model_files[23], "tiny", "1.2.2")

    result = run_mlpm("outdated", "--json", cwd=project)
    assert result.code == 0, result.err
    (row,) = result.json["packages"]
    assert (row["name"], row["current"], row["wanted"], row["latest"]) == \
        ("tiny", "1.2.1", "1.2.2", "2.0.0")
    text = run_mlpm("outdated", cwd=project).out
    assert "tiny" in text and "1.2.1" in text and "1.2.2" in text and "2.0.0" in text

    result = run_mlpm("upgrade", cwd=project)
    assert result.code == 0, result.err
    assert "tiny 1.2.1 -> 1.2.2" in result.out
    assert locked_versions(project) == {"tiny": "1.2.2"}
    assert manifest(project)["dependencies"]["tiny"] == "1.2"  # the range stays as typed


def test_upgrade_latest_crosses_a_major_and_records_caret(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    result = run_mlpm("upgrade", "tiny", "--latest", cwd=project)
    assert result.code == 0, result.err
    assert "tiny 1.2.1 -> 2.0.0" in result.out
    assert manifest(project)["dependencies"]["tiny"] == "^2.0.0"
    assert locked_versions(project) == {"tiny": "2.0.0"}


def test_scoped_upgrade_moves_only_the_named_package(registry, project, model_files):
    publish(registry.root, model_files[1], "alpha", "1.0.0")
    publish(registry.root, model_files[2], "beta", "1.0.0")
    start(project, registry)
    assert run_mlpm("install", "alpha@^1", "beta@^1", cwd=project).code == 0
    publish(registry.root, model_files[3], "alpha", "1.1.0")
    publish(registry.root, model_files[4], "beta", "1.1.0")
    assert run_mlpm("upgrade", "alpha", cwd=project).code == 0
    assert locked_versions(project) == {"alpha": "1.1.0", "beta": "1.0.0"}
    assert run_mlpm("upgrade", cwd=project).code == 0
    assert locked_versions(project) == {"alpha": "1.1.0", "beta": "1.1.0"}


def test_dependents_why_tree_and_removal(tiny, project, model_files, isolated):
    publish(tiny.root, model_files[7], "head", "1.0.0", "tiny@^1.2")
    start(project, tiny)
    result = run_mlpm("install", "head", cwd=project)
    assert result.code == 0, result.err
    assert locked_versions(project) == {"head": "1.0.0", "tiny": "1.2.1"}

    listed = run_mlpm("list", "--json", cwd=project).json["packages"]
    assert {(r["name"], r["version"], r["direct"]) for r in listed} == \
        {("head", "1.0.0", True), ("tiny", "1.2.1", False)}

    why = run_mlpm("why", "tiny", cwd=project)
    assert why.code == 0 and "head@1.0.0" in why.out and "tiny@1.2.1" in why.out
    tree = run_mlpm("tree", "--json", cwd=project).json["dependencies"]
    assert tree[0]["name"] == "head" and tree[0]["dependencies"][0]["name"] == "tiny"

    # tiny made direct too: removing it is refused while head needs it.
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    refused = run_mlpm("remove", "tiny", cwd=project)
    assert_clean_error(refused, 1, "tiny", "head")
    assert locked_versions(project) == {"head": "1.0.0", "tiny": "1.2.1"}

    # Removing head, then tiny, frees every blob and says how much.
    cache = isolated / "cache"
    before = cache_blobs(cache)
    assert len(before) == 2
    result = run_mlpm("remove", "head", cwd=project)
    assert result.code == 0, result.err
    assert "- head 1.0.0" in result.out and "freed" in result.out
    assert locked_versions(project) == {"tiny": "1.2.1"}
    result = run_mlpm("remove", "tiny", cwd=project)
    assert result.code == 0, result.err
    assert cache_blobs(cache) == set()
    assert manifest(project)["dependencies"] == {}


def test_removing_the_dependent_takes_its_dependency_along(tiny, project, model_files, isolated):
    publish(tiny.root, model_files[7], "head", "1.0.0", "tiny@^1.2")
    start(project, tiny)
    assert run_mlpm("install", "head", cwd=project).code == 0
    result = run_mlpm("remove", "head", cwd=project)
    assert result.code == 0, result.err
    assert "- tiny 1.2.1" in result.out
    assert locked_versions(project) == {}
    assert cache_blobs(isolated / "cache") == set()
    size = (model_files[7].stat().st_size + model_files[13].stat().st_size)
    assert "freed" in result.out and "(2 files)" in result.out and size > 0


def test_removal_keeps_blobs_another_project_uses(tiny, project, tmp_path, isolated):
    other = tmp_path / "other"
    other.mkdir()
    for folder in (project, other):
        start(folder, tiny)
        assert run_mlpm("install", "tiny@1.2", cwd=folder).code == 0
    result = run_mlpm("remove", "tiny", cwd=project)
    assert result.code == 0 and "freed 0 B" in result.out
    assert len(cache_blobs(isolated / "cache")) == 1


def test_conflict_names_both_packages(tiny, project, model_files):
    publish(tiny.root, model_files[7], "head", "1.0.0", "tiny@^1.2")
    start(project, tiny)
    assert run_mlpm("install", "tiny@^2.0.0", cwd=project).code == 0
    before = (project / "mlpm.toml").read_text(), (project / "mlpm.lock").read_text()
    result = run_mlpm("install", "head", cwd=project)
    assert_clean_error(result, 1, "tiny@^2.0.0", "head@1.0.0 needs tiny@^1.2", "the project")
    assert ((project / "mlpm.toml").read_text(), (project / "mlpm.lock").read_text()) == before


def test_frozen_fails_on_an_edited_manifest(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    assert run_mlpm("install", "--frozen", cwd=project).code == 0
    text = (project / "mlpm.toml").read_text().replace('tiny = "1.2"', 'tiny = "^2.0.0"')
    (project / "mlpm.toml").write_text(text)
    result = run_mlpm("install", "--frozen", cwd=project)
    assert_clean_error(result, 1, "mlpm.lock is out of date", "tiny@^2.0.0", "without --frozen")
    assert locked_versions(project) == {"tiny": "1.2.1"}
    # Without --frozen the lock follows the manifest.
    assert run_mlpm("install", cwd=project).code == 0
    assert locked_versions(project) == {"tiny": "2.0.0"}


def test_install_from_lock_reproduces_elsewhere(tiny, project, tmp_path, model_files):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    publish(tiny.root, model_files[23], "tiny", "1.2.2")  # newer, but the lock pins 1.2.1
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("mlpm.toml", "mlpm.lock"):
        (clone / name).write_bytes((project / name).read_bytes())
    result = run_mlpm("install", cwd=clone, env={"MLPM_CACHE_DIR": str(tmp_path / "cache2")})
    assert result.code == 0, result.err
    assert locked_versions(clone) == {"tiny": "1.2.1"}
    assert (clone / "mlpm.lock").read_bytes() == (project / "mlpm.lock").read_bytes()


def test_flipped_byte_on_the_server_is_refused_and_never_loaded(tiny, project, isolated):
    start(project, tiny)
    records = [json.loads(line) for line in
               (tiny.root / "index" / "ti" / "ny" / "tiny").read_text().splitlines()]
    target = next(r for r in records if r["version"] == "1.2.1")["artifacts"][0]
    blob = tiny.root / target["url"]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    before = (project / "mlpm.toml").read_text()
    result = run_mlpm("install", "tiny@1.2", cwd=project)
    assert_clean_error(result, 1, "sha256", "deleted")
    assert not (project / "mlpm.lock").exists()
    assert (project / "mlpm.toml").read_text() == before
    cache = isolated / "cache"
    assert target["sha256"] not in cache_blobs(cache)
    assert not list((cache / "partial").glob("*")) if (cache / "partial").exists() else True


def test_load_makes_no_request_once_cached(tiny, project, monkeypatch):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    tiny.requests.clear()
    import mlpm

    monkeypatch.chdir(project / ".")
    session = mlpm.load("tiny", format="onnx")
    assert session.get_inputs()[0].name == "x"
    assert tiny.requests == []


def test_load_fetches_a_missing_artifact_from_the_locked_registry(tiny, project, monkeypatch,
                                                                  tmp_path):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    monkeypatch.setenv("MLPM_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.chdir(project)
    import mlpm

    assert mlpm.load("tiny").get_outputs()[0].name == "y"
    assert any(p.startswith("/artifacts/") for p in tiny.paths())


def test_offline_uses_the_cache_and_refuses_the_rest(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    tiny.server.shutdown()  # nothing is listening any more
    tiny.server.server_close()
    assert run_mlpm("install", "--offline", cwd=project).code == 0
    result = run_mlpm("install", "tiny@2", cwd=project, env={"MLPM_OFFLINE": "1"})
    assert result.code == 1 and "Traceback" not in result.err
    assert "offline" in result.err or "not in the cache" in result.err


def test_index_files_are_revalidated_with_etags(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    tiny.requests.clear()
    assert run_mlpm("outdated", cwd=project).code == 0
    index_requests = [r for r in tiny.requests if r[1].startswith("/index/")]
    assert index_requests and all("If-None-Match" in h for _, _, h in index_requests)


def test_yanked_versions_are_skipped_but_locked_ones_keep_working(tiny, project):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    result = run_mlpm("yank", "tiny@1.2.1", "--registry", str(tiny.root), cwd=project)
    assert result.code == 0, result.err
    assert run_mlpm("install", "--frozen", cwd=project).code == 0
    assert locked_versions(project) == {"tiny": "1.2.1"}

    fresh = project.parent / "fresh"
    fresh.mkdir()
    start(fresh, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=fresh).code == 0
    assert locked_versions(fresh) == {"tiny": "1.2.0"}
    info = run_mlpm("info", "tiny", "--json", cwd=fresh).json
    assert {"version": "1.2.1", "yanked": True} .items() <= \
        next(v for v in info["versions"] if v["version"] == "1.2.1").items()


def test_pyproject_projects_use_tool_mlpm(tiny, project):
    (project / "pyproject.toml").write_text('[project]\nname = "app"  # my app\nversion = "0.1"\n')
    start(project, tiny)
    assert not (project / "mlpm.toml").exists()
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    text = (project / "pyproject.toml").read_text()
    assert "# my app" in text
    data = tomllib.loads(text)
    assert data["tool"]["mlpm"]["dependencies"] == {"tiny": "1.2"}
    assert locked_versions(project) == {"tiny": "1.2.1"}
    sub = project / "src" / "pkg"
    sub.mkdir(parents=True)
    assert run_mlpm("list", "--json", cwd=sub).json["packages"][0]["name"] == "tiny"


def test_info_shows_versions_dependencies_and_sizes(tiny, project, model_files):
    publish(tiny.root, model_files[7], "head", "1.0.0", "tiny@^1.2")
    start(project, tiny)
    data = run_mlpm("info", "head", "--json", cwd=project).json
    assert data["name"] == "head" and data["version"] == "1.0.0"
    assert data["dependencies"] == {"tiny": "^1.2"}
    assert data["formats"][0]["size"] == model_files[7].stat().st_size
    text = run_mlpm("info", "tiny@1.1", cwd=project).out
    assert "tiny@1.1.0" in text and "newer: 2.0.0" in text and "1.2.1" in text


def test_cache_commands(tiny, project, isolated):
    start(project, tiny)
    assert run_mlpm("install", "tiny@1.2", cwd=project).code == 0
    assert run_mlpm("cache", "dir", cwd=project).out.strip() == str(isolated / "cache")
    listed = run_mlpm("cache", "list", "--json", cwd=project).json["entries"]
    assert len(listed) == 1 and listed[0]["projects"] == [str(project.resolve())]
    assert run_mlpm("cache", "verify", cwd=project).code == 0
    blob = next((isolated / "cache" / "blobs").rglob("*/*/[!.]*"))
    blob.chmod(0o644)
    blob.write_bytes(b"corrupted")
    result = run_mlpm("cache", "verify", cwd=project)
    assert result.code == 1 and "1 corrupt" in result.out
    (project / "mlpm.lock").unlink()  # the project no longer uses anything
    result = run_mlpm("cache", "prune", cwd=project)
    assert result.code == 0 and "(1 file)" in result.out
    assert cache_blobs(isolated / "cache") == set()


def test_torchscript_packages_load_as_torch_modules(registry, project, tmp_path, monkeypatch):
    torch = needs("torch")

    from tests.models import make_torchscript

    file = make_torchscript(tmp_path / "lin.pt", weights_seed=3)
    publish(registry.root, file, "lin", "0.1.0")
    start(project, registry)
    assert run_mlpm("install", "lin", cwd=project).code == 0
    assert manifest(project)["dependencies"]["lin"] == "^0.1.0"
    monkeypatch.chdir(project)
    import mlpm

    module = mlpm.load("lin", trust=True)  # TorchScript runs code: trust its source
    reference = torch.jit.load(str(file))
    x = torch.ones(2, 4)
    torch.testing.assert_close(module(x), reference(x))


def test_publish_a_package_directory(registry, project, tmp_path, model_files):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(model_files[1].read_bytes())
    publish(registry.root, model_files[2], "base", "1.0.0")
    (folder / "mlpm.toml").write_text(
        '[package]\nname = "clf"\nversion = "0.2.0"\nframework = "onnx"\n'
        'description = "A classifier head"\nlicense = "MIT"\n'
        'files = { onnx = "model.onnx" }\n[package.metrics]\naccuracy = 0.91\n'
        '[dependencies]\nbase = "^1.0.0"\n')
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root), cwd=tmp_path)
    assert result.code == 0, result.err
    data = run_mlpm("info", "clf", "--json", "--registry", registry.url, cwd=tmp_path).json
    assert data["description"] == "A classifier head" and data["metrics"] == {"accuracy": 0.91}
    assert data["dependencies"] == {"base": "^1.0.0"} and data["license"] == "MIT"
    again = run_mlpm("publish", str(folder), "--registry", str(registry.root), cwd=tmp_path)
    assert_clean_error(again, 1, "clf@0.2.0 is already published", "0.2.1")


def test_registry_serve_command_serves_over_http(tiny, project):
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mlpm", "registry", "serve", str(tiny.root),
                             "--port", str(port), "--quiet"], stdout=subprocess.PIPE, text=True)
    try:
        assert "Serving" in proc.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert run_mlpm("init", "--registry", url, cwd=project).code == 0
        deadline = time.time() + 10
        result = run_mlpm("install", "tiny@1.2", cwd=project)
        while result.code != 0 and time.time() < deadline:
            time.sleep(0.2)
            result = run_mlpm("install", "tiny@1.2", cwd=project)
        assert result.code == 0, result.err
        assert locked_versions(project) == {"tiny": "1.2.1"}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_published_onnx_matches_the_file(registry, tmp_path):
    file = make_onnx(tmp_path / "m.onnx", 42)
    publish(registry.root, file, "m", "1.0.0")
    record = json.loads((registry.root / "index" / "1" / "m").read_text())
    art = record["artifacts"][0]
    assert (registry.root / art["url"]).read_bytes() == file.read_bytes()
    assert art["size"] == file.stat().st_size and record["yanked"] is False


def test_outdated_and_upgrade_latest_show_how_the_next_major_breaks(registry, project,
                                                                   tmp_path):
    make_onnx(tmp_path / "v1.onnx", 1, output_name="y")
    make_onnx(tmp_path / "v2.onnx", 2, output_name="probabilities")
    publish(registry.root, tmp_path / "v1.onnx", "lin", "1.0.0")
    publish(registry.root, tmp_path / "v2.onnx", "lin", "2.0.0")
    start(project, registry)
    assert run_mlpm("install", "lin@1", cwd=project).code == 0
    (row,) = run_mlpm("outdated", "--json", cwd=project).json["packages"]
    assert row["latest"] == "2.0.0" and any("'y'" in b for b in row["breaking"])
    assert "probabilities" in run_mlpm("outdated", cwd=project).out
    result = run_mlpm("upgrade", "lin", "--latest", cwd=project)
    assert result.code == 0, result.err
    assert "note: lin 1.0.0 -> 2.0.0 breaks the interface" in result.out
    assert "'y'" in result.out
