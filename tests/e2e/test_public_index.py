"""Public models whose full sha256 is not published, and the bundled index itself."""

from __future__ import annotations

import hashlib
import textwrap
import tomllib

from tests.conftest import assert_clean_error, run_mlpm


def remote_package(folder, url: str, prefix: str | None, name: str = "remote") -> None:
    folder.mkdir(parents=True)
    prefix_line = f'sha256-prefix = "{prefix}"' if prefix else ""
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "{name}"
        version = "1.0.0"
        framework = "onnx"
        kind = "onnx"

        [[package.artifacts]]
        format = "onnx"
        path = "model.onnx"
        url = "{url}"
        {prefix_line}
    '''))


def test_a_hash_prefix_is_checked_and_the_full_digest_pinned_at_first_install(
        registry, model_files, project, tmp_path):
    data = model_files[1].read_bytes()
    (registry.root / "upstream").mkdir()
    (registry.root / "upstream" / "model.onnx").write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    remote_package(tmp_path / "pkg", registry.url + "upstream/model.onnx", digest[:8])
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", "remote", cwd=project)
    assert result.code == 0, result.err
    (pkg,) = tomllib.loads((project / "mlpm.lock").read_text())["package"]
    art = pkg["artifacts"][0]
    assert art["sha256"] == digest and art["size"] == len(data)
    assert art["sha256-prefix"] == digest[:8]
    # From now on the pinned digest is what counts: changed upstream bytes are refused.
    (registry.root / "upstream" / "model.onnx").write_bytes(model_files[2].read_bytes())
    other = tmp_path / "other"
    other.mkdir()
    for name in ("mlpm.toml", "mlpm.lock"):
        (other / name).write_bytes((project / name).read_bytes())
    result = run_mlpm("install", cwd=other, env={"MLPM_CACHE_DIR": str(tmp_path / "c2")})
    assert_clean_error(result, 1, "does not match its recorded sha256")


def test_a_wrong_hash_prefix_is_refused(registry, model_files, project, tmp_path):
    (registry.root / "upstream").mkdir()
    (registry.root / "upstream" / "model.onnx").write_bytes(model_files[1].read_bytes())
    remote_package(tmp_path / "pkg", registry.url + "upstream/model.onnx", "deadbeef")
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", "remote", cwd=project)
    assert_clean_error(result, 1, "sha256 prefix", "deadbeef")
    assert not (project / "mlpm.lock").exists()


def test_the_bundled_index_describes_real_public_models(tmp_path):
    info = run_mlpm("info", "resnet50", "--json", cwd=tmp_path, env={"MLPM_OFFLINE": "1"}).json
    assert info["version"] == "1.1.0" and info["upstream"]["repo"] == "pytorch/vision"
    weights = next(f for f in info["formats"] if f["file"].endswith(".pth"))
    assert weights["file"] == "resnet50-11ad3fa6.pth"
    assert info["entrypoints"][0]["name"] == "resnet50"
    assert info["signatures"][0]["outputs"][0]["shape"] == ["batch", 1000]
    assert info["metrics"]["imagenet-1k-acc@1"] == 80.858
    diff = run_mlpm("diff", "resnet50@1.0", "resnet50@1.1", "--json", cwd=tmp_path).json
    assert diff["level"] == "minor" and "imagenet-1k-acc@1" in diff["metrics"]
    hits = run_mlpm("search", "mobilenet", "--framework", "tensorflow", "--json",
                    cwd=tmp_path).json["packages"]
    assert {h["name"] for h in hits} >= {"mobilenet-v2-100-224-classification",
                                         "mobilenet-v2-100-224-feature-vector"}
    bert = run_mlpm("info", "bert-en-uncased-l12-h768-a12", "--json", cwd=tmp_path).json
    assert bert["dependencies"] == {"bert-en-uncased-preprocess": "^1.0.0"}
