"""Hostile URLs and paths: a registry record, a package's mlpm.toml or a project's mlpm.lock
that tries to borrow a GitHub repo's trust with a URL that normalises elsewhere, or to
make mlpm read or delete a folder outside its cache. Each story builds the attack for
real (a loopback registry, crafted files) and checks that nothing ran, nothing outside
the cache changed, and what the user is told."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import tomli_w

from tests.conftest import assert_clean_error, run_mlpm
from tests.models import make_onnx, make_torchscript

# Each starts with https://github.com/pytorch/vision/ but is not a file of that repo.
BORROWED = [
    "https://github.com/pytorch/vision/../../attacker/evil/zipball/main",
    "https://github.com/pytorch/vision/%2e%2e/%2e%2e/attacker/evil/zipball/main",
    "https://github.com/pytorch/vision/%2E./.%2e/attacker/evil/zipball/main",
    "https://github.com/pytorch/vision/..%2f..%2fattacker/evil/zipball/main",
    "https://github.com/pytorch/vision/..\\..\\attacker/evil/zipball/main",
    "https://github.com/pytorch/vision/%252e%252e/%252e%252e/attacker/evil/zipball/main",
]


def hub_package(folder: Path, marker: Path, *, repo: str = "pytorch/vision",
                code_url: str | None = None) -> Path:
    """A hub package whose hubconf.py, once imported, writes ``marker``."""
    hub = folder / "hub"
    hub.mkdir(parents=True)
    (hub / "hubconf.py").write_text(textwrap.dedent(f'''
        """Hub code that leaves a trace when it runs."""
        import pathlib

        pathlib.Path({str(marker)!r}).write_text("hub code ran")
        dependencies = []


        def tiny(scale=1):
            """Returns a number."""
            return 42 * scale
    '''))
    code = f"url = '{code_url}'\n        path = 'evil.zip'" if code_url else 'file = "hub"'
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "evilhub"
        version = "1.0.0"
        framework = "torch"
        kind = "torch-hub"

        [package.upstream]
        type = "torch-hub"
        repo = "{repo}"
        entrypoint = "tiny"

        [[package.artifacts]]
        format = "torch-hub"
        role = "code"
        {code}
    '''))
    return folder


def rewrite_lock(project: Path, change) -> None:
    path = project / "mlpm.lock"
    data = tomllib.loads(path.read_text())
    change(data["package"][0])
    path.write_text(tomli_w.dumps(data))


def load_in_subprocess(project: Path, call: str) -> str:
    code = (f"import mlpm\ntry:\n    print('LOADED', {call})\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    return out.stdout


@pytest.fixture
def hub_installed(registry, project, tmp_path):
    """evilhub installed from a loopback registry (its code pinned and cached), the user
    trusting pytorch/vision; the marker its hub code would write."""
    marker = tmp_path / "hub-code-ran"
    hub_package(tmp_path / "pkg", marker)
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "evilhub", cwd=project).code == 0
    assert run_mlpm("trust", "pytorch/vision", cwd=project).code == 0
    return project, marker


@pytest.mark.parametrize("url", BORROWED)
def test_a_lock_cannot_borrow_pytorch_vision_trust_with_a_url_that_normalises_away(
        hub_installed, url):
    """The lock says the code is pytorch/vision's, at a URL that only starts like it."""
    project, marker = hub_installed

    def borrow(pkg):
        pkg["upstream"]["repo"] = "pytorch/vision"
        pkg["artifacts"][0]["url"] = url

    rewrite_lock(project, borrow)
    out = load_in_subprocess(project, "mlpm.load('evilhub')")
    assert out.startswith("ManifestError |"), out
    assert "mlpm.lock is damaged (package 'evilhub' artifacts[0]: the URL" in out
    assert "restore it from version control, or delete it and run `mlpm install`" in out
    assert not marker.exists()
    result = run_mlpm("install", cwd=project)
    assert_clean_error(result, 1, "artifacts[0]: the URL")
    assert not marker.exists()


def test_the_same_package_from_the_real_repo_url_is_trusted(hub_installed):
    """The control: a code URL really inside github.com/pytorch/vision keeps its trust."""
    project, marker = hub_installed

    def honest(pkg):
        pkg["upstream"]["repo"] = "pytorch/vision"
        pkg["artifacts"][0]["url"] = "https://github.com/pytorch/vision/zipball/main"

    rewrite_lock(project, honest)
    out = load_in_subprocess(project, "mlpm.load('evilhub', scale=2)")
    assert out.strip() == "LOADED 84" and marker.exists()  # pinned blob, from the cache


def test_source_of_compares_hosts_and_path_segments_not_prefixes(tmp_path):
    from mlpm.registry.records import Artifact
    from mlpm.trust import UntrustedCode, source_of

    def code_at(url):
        return [Artifact("torch-hub", "code.zip", "", None, url, role="code")]

    vision = {"repo": "pytorch/vision"}
    registry = "http://127.0.0.1:8000/team/"
    for url in [*BORROWED, "https://github.com@evil.example/pytorch/vision/zipball/main",
                "https://github.com:443@evil.example/pytorch/vision/zipball/main"]:
        with pytest.raises(UntrustedCode, match="code cannot be trusted: the URL"):
            source_of(vision, code_at(url), registry, "evilhub")
    assert source_of(vision, code_at("https://github.com/pytorch/vision/zipball/v0.20.1"),
                     registry, "evilhub") == "pytorch/vision"
    # Another repo, another host, or a longer owner name is never pytorch/vision.
    for url, source in [
        ("https://github.com/pytorch/vision-evil/zipball/main",
         "https://github.com/pytorch/vision-evil/zipball/#pytorch/vision"),
        ("https://github.com.evil.example/pytorch/vision/zipball/main",
         "https://github.com.evil.example/pytorch/vision/zipball/#pytorch/vision"),
        ("http://github.com/pytorch/vision/zipball/main",
         "http://github.com/pytorch/vision/zipball/#pytorch/vision"),
    ]:
        assert source_of(vision, code_at(url), registry, "evilhub") == source
    # Code at a registry-relative path, or under the registry's URL, is the registry's.
    assert source_of(vision, code_at("artifacts/ab/abcd"), registry, "x") == \
        f"{registry}#pytorch/vision"
    assert source_of(vision, code_at(registry + "artifacts/ab/abcd"), registry, "x") == \
        f"{registry}#pytorch/vision"
    # A lock naming a trusted registry cannot point the code at another server under it.
    assert source_of(vision, code_at("http://127.0.0.1:8000/other/code.zip"), registry,
                     "x") == "http://127.0.0.1:8000/other/#pytorch/vision"
    with pytest.raises(UntrustedCode):
        source_of(vision, code_at(registry + "%2e%2e/other/code.zip"), registry, "x")
    # The same for a model that runs code when loaded (TorchScript, SavedModel): its file
    # decides the source, so a lock naming a trusted registry lends nothing to evil.example.
    model = [Artifact("torchscript", "m.pt", "a" * 64, 10, "https://evil.example/m/m.pt")]
    assert source_of(None, model, registry, "lin") == "https://evil.example/m/#lin"
    model = [Artifact("savedmodel", "m.tar.gz", "", None,
                      "https://tfhub.dev/google/nnlm-en-dim50/2?tf-hub-format=compressed")]
    assert source_of(None, model, "bundled", "nnlm") == "https://tfhub.dev/google/nnlm-en-dim50/#nnlm"
    two = [Artifact("torchscript", "m.pt", "a" * 64, 10, "https://a.example/m.pt"),
           Artifact("exported-program", "m.pt2", "b" * 64, 10, "https://b.example/m.pt2")]
    with pytest.raises(UntrustedCode, match="comes from several places"):
        source_of(None, two, registry, "lin")
    data = [Artifact("onnx", "m.onnx", "a" * 64, 10, "https://cdn.example/m.onnx")]
    assert source_of(None, data, registry, "lin") == f"{registry}#lin"  # runs no code


@pytest.mark.parametrize("url, needle", [
    (BORROWED[0], "has a '..' path segment"),
    (BORROWED[1], "has a '%2e%2e' path segment"),
    (BORROWED[3], "has an encoded slash or backslash"),
    (BORROWED[4], "has a backslash"),
    ("https://github.com@evil.example/pytorch/vision/zipball/main", "has user info"),
    ("file:///etc/passwd", "does not start with http:// or https://"),
])
def test_publish_refuses_a_code_url_that_is_not_where_it_seems(registry, tmp_path, url,
                                                               needle):
    marker = tmp_path / "hub-code-ran"
    hub_package(tmp_path / "pkg", marker, code_url=url)
    result = run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                      cwd=tmp_path)
    assert_clean_error(result, 1, "[[package.artifacts]] in", needle,
                       "write the plain http(s) URL the file is really at.")
    assert not (registry.root / "index").exists() and not (registry.root / "names").exists()
    assert not marker.exists()


def test_publish_refuses_an_upstream_repo_with_dot_segments(registry, tmp_path):
    hub_package(tmp_path / "pkg", tmp_path / "marker", repo="pytorch/vision/../../attacker/evil")
    result = run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                      cwd=tmp_path)
    assert_clean_error(result, 1, "[package.upstream] repo 'pytorch/vision/../../attacker/evil'"
                       " is not a GitHub repository as OWNER/NAME")
    assert not (registry.root / "index").exists()


def _serve_record(registry, artifact: dict) -> None:
    """Write a hand-made record into the served registry, as a hostile operator would."""
    record = {"name": "evilhub", "version": "1.0.0", "framework": "torch",
              "artifacts": [artifact], "dependencies": {}, "yanked": False,
              "kind": "torch-hub",
              "upstream": {"type": "torch-hub", "repo": "pytorch/vision", "entrypoint": "tiny"}}
    index = registry.root / "index" / "ev" / "il" / "evilhub"
    index.parent.mkdir(parents=True)
    index.write_text(json.dumps(record) + "\n")
    (registry.root / "names").write_text("evilhub\n")


@pytest.mark.parametrize("artifact, needle", [
    ({"format": "torch-hub", "role": "code", "path": "x.zip", "url": BORROWED[1]},
     "has a '%2e%2e' path segment"),
    ({"format": "torch-hub", "role": "code", "path": "x.zip", "url": BORROWED[0]},
     "has a '..' path segment"),
    ({"format": "torch-hub", "role": "code", "path": "x.zip", "sha256": "a" * 64,
      "url": "artifacts/%2E%2E/%2e./config.json"}, "has a '%2E%2E' path segment"),
    ({"format": "torch-hub", "role": "code", "path": "..\\..\\x.zip", "sha256": "a" * 64,
      "url": "artifacts/aa/" + "a" * 64}, "is not a plain relative path"),
    ({"format": "torch-hub", "role": "code", "path": "x.zip", "sha256": "../../x",
      "url": "artifacts/aa/x"}, "is not 64 lower-case hex digits"),
])
def test_a_registry_serving_a_hostile_record_is_refused_at_install(registry, project, isolated,
                                                                   artifact, needle):
    _serve_record(registry, artifact)
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    manifest = (project / "mlpm.toml").read_text()
    result = run_mlpm("install", "evilhub", "--trust", cwd=project)
    assert_clean_error(result, 1, "evilhub", registry.url.rstrip("/"), needle)
    assert not (project / "mlpm.lock").exists()
    assert (project / "mlpm.toml").read_text() == manifest
    assert not [p for p in registry.paths() if p.startswith("/artifacts")]  # nothing fetched
    assert not list((isolated / "home").rglob("trusted.toml"))  # --trust trusted nothing


# -- paths from mlpm.lock ---------------------------------------------------------------


@pytest.fixture
def onnx_installed(registry, project, tmp_path):
    make_onnx(tmp_path / "m.onnx", 1)
    assert run_mlpm("publish", str(tmp_path / "m.onnx"), "--registry", str(registry.root),
                    "--name", "digits", "--version", "1.0.0", cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "digits", cwd=project).code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("the user's own file")
    # a cache that has converted something before, so ../ from it resolves
    (tmp_path / "cache" / "entries" / "converted").mkdir(parents=True, exist_ok=True)
    return project, outside


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("relative", [True, False])
def test_remove_refuses_a_conversion_key_that_leads_outside_the_cache(onnx_installed, isolated,
                                                                      relative):
    project, outside = onnx_installed
    # cache/entries/converted/../../../outside is the folder beside the cache
    key = "../../../outside" if relative else str(outside)

    def plant(pkg):
        pkg["conversions"] = [{"format": "torchscript", "key": key, "digest": "sha256:00"}]

    rewrite_lock(project, plant)
    lock, manifest = (project / "mlpm.lock").read_text(), (project / "mlpm.toml").read_text()
    result = run_mlpm("remove", "digits", cwd=project)
    assert (outside / "keep.txt").read_text() == "the user's own file"
    assert_clean_error(result, 1, f"{project / 'mlpm.lock'} is damaged (package 'digits' "
                       f"conversions[0]: the key '{key}' is not 64 lower-case hex digits",
                       "restore it from version control, or delete it and run `mlpm install`")
    assert (outside / "keep.txt").read_text() == "the user's own file"
    assert (project / "mlpm.lock").read_text() == lock
    assert (project / "mlpm.toml").read_text() == manifest


def _plant_conversion(folder: Path, key: str) -> None:
    """A complete-looking conversion entry (an ONNX model and its conversion.json)."""
    from mlpm.store import file_sha256

    model = make_onnx(folder / "model.onnx", 99)
    meta = {"mlpm-conversion": 1, "key": key, "format": "onnx", "files": ["model.onnx"],
            "sizes": {"model.onnx": model.stat().st_size}, "digest": file_sha256(model),
            "converter": {}, "parity": {}, "source": {}, "options": {}}
    (folder / "conversion.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("relative", [True, False])
def test_load_does_not_use_a_conversion_planted_outside_the_cache(registry, project, tmp_path,
                                                                 relative):
    make_torchscript(tmp_path / "m.pt", 1)
    assert run_mlpm("publish", str(tmp_path / "m.pt"), "--registry", str(registry.root),
                    "--name", "scripted", "--version", "1.0.0", cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "scripted", cwd=project).code == 0
    planted = tmp_path / "planted"
    key = "../../../planted" if relative else str(planted)
    (tmp_path / "cache" / "entries" / "converted").mkdir(parents=True, exist_ok=True)
    _plant_conversion(planted, key)
    before = _snapshot(planted)

    def plant(pkg):
        pkg["conversions"] = [{"format": "onnx", "key": key, "digest": "sha256:00"}]

    rewrite_lock(project, plant)
    out = load_in_subprocess(project, "type(mlpm.load('scripted', format='onnx')).__name__")
    assert "LOADED" not in out, out  # the planted model was not loaded
    assert out.startswith("ManifestError |"), out
    assert "package 'scripted' conversions[0]: the key" in out
    assert _snapshot(planted) == before


@pytest.mark.parametrize("field, value, needle", [
    ("sha256", "../../victim", "the artifact's sha256 '../../victim' is not 64 lower-case hex"),
    ("sha256", "Z" * 64, "is not 64 lower-case hex digits"),
    ("path", "../../victim", "is not a plain relative path"),
    ("path", "/etc/passwd", "is not a plain relative path"),
    ("url", "artifacts/../../../victim", "has a '..' path segment"),
    ("url", "artifacts/%2e%2e/%2E%2E/victim", "has a '%2e%2e' path segment"),
])
def test_a_lock_artifact_that_names_a_path_outside_is_refused(onnx_installed, tmp_path, field,
                                                              value, needle):
    project, _ = onnx_installed
    victim = tmp_path / "victim"  # where cache/blobs/sha256/../../victim leads
    victim.write_text("not a blob")

    def tamper(pkg):
        pkg["artifacts"][0][field] = value

    rewrite_lock(project, tamper)
    lock = (project / "mlpm.lock").read_text()
    for args in (["install"], ["remove", "digits"], ["audit"]):
        result = run_mlpm(*args, cwd=project)
        assert_clean_error(result, 1, "mlpm.lock is damaged (package 'digits' artifacts[0]:",
                           needle, "restore it from version control")
    out = load_in_subprocess(project, "mlpm.load('digits')")
    assert out.startswith("ManifestError |") and needle in out, out
    assert victim.read_text() == "not a blob"
    assert (project / "mlpm.lock").read_text() == lock


def test_a_lock_registry_with_dot_segments_is_refused(onnx_installed):
    project, _ = onnx_installed

    def tamper(pkg):
        pkg["registry"] = pkg["registry"] + "%2e%2e/elsewhere/"

    rewrite_lock(project, tamper)
    result = run_mlpm("install", cwd=project)
    assert_clean_error(result, 1, "package 'digits' registry: the URL", "path segment")


def test_the_store_checks_paths_after_resolving_links(isolated, tmp_path):
    """The last line of defence: even a well-formed key whose folder is a link out of the
    cache (planted by anything) is refused before it is read or deleted."""
    from mlpm.errors import UnsafePath
    from mlpm.store import Store

    store = Store()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    key = "ab" * 32
    link = store.root / "entries" / "converted" / key
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="outside mlpm's cache"):
        store.converted_entry(key)
    with pytest.raises(UnsafePath):
        store.free_unreferenced([f"convert-{key}"])
    with pytest.raises(UnsafePath, match="not 64 lower-case hex digits"):
        store.converted_entry("../../../outside")
    with pytest.raises(UnsafePath, match="not 64 lower-case hex digits"):
        store.blob_path("../../outside")
    (outside / "hubconf.py").write_text("raise SystemExit('planted code ran')\n")
    unpacked = store.root / "entries" / "unpacked" / key
    unpacked.parent.mkdir(parents=True)
    unpacked.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePath, match="delete that link from the cache"):
        store.unpacked(key, "hubconf.py")
    assert (outside / "keep.txt").read_text() == "mine"


def test_a_registry_url_that_normalises_elsewhere_is_refused(registry, project):
    hostile = registry.url + "team/%2e%2e/%2E%2E/other/"
    result = run_mlpm("init", "--registry", hostile, cwd=project)
    assert_clean_error(result, 1, f"the URL '{hostile}' has a '%2e%2e' path segment",
                       "so it cannot name a registry")
    assert list(project.iterdir()) == []  # no half-made project
    (project / "mlpm.toml").write_text(f'registry = "{registry.url}a/../b/"\n[dependencies]\n')
    result = run_mlpm("install", "digits", cwd=project)
    assert_clean_error(result, 1, "has a '..' path segment", "so it cannot name a registry")
    assert not (project / "mlpm.lock").exists() and registry.requests == []
