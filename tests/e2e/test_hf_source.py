"""Hugging Face repositories as packages, through the `mlpm` command, against a real
Hugging Face-compatible server (olah, tests/hf_hub.py) serving git repositories built here:
install by tag range, branch or commit; the lock; offline installs that make no
connection; outdated and upgrade of a branch; sharded checkpoints, ONNX files, adapters that
depend on their base; several sources in one project; the errors a user can cause."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import assert_clean_error, needs, publish, run_mlpm
from tests.hf_hub import Lfs, hf_hub_fixture, hf_hub_server_fixture  # noqa: F401

np = needs("numpy")
st = pytest.importorskip("safetensors.numpy", reason="needs safetensors: pip install 'mlpm[hf]'")


def weights(value: float, *, name: str = "fc.weight", shape=(3, 4)) -> bytes:
    return st.save({name: np.full(shape, value, np.float32),
                    "fc.bias": np.zeros(shape[0], np.float32)})


CONFIG = json.dumps({"architectures": ["TinyModel"], "model_type": "tiny",
                     "hidden_size": 4}).encode()
CARD = b"---\nlicense: mit\npipeline_tag: feature-extraction\n---\n# tiny\n"


@pytest.fixture
def env(hf_hub):
    return {"HF_ENDPOINT": hf_hub.endpoint}


def tagged_repo(hf_hub, name="tiny"):
    """A repository tagged v1.0.0, v1.1.0 (new weights) and v2.0.0 (a tensor renamed), with
    a pickle copy of the weights beside the safetensors file."""
    repo = hf_hub.repo(name)
    repo.commit({"model.safetensors": Lfs(weights(1)), "pytorch_model.bin": Lfs(b"pickle"),
                 "config.json": CONFIG, "README.md": CARD}, tag="v1.0.0")
    repo.commit({"model.safetensors": Lfs(weights(2))}, tag="v1.1.0")
    repo.commit({"model.safetensors": Lfs(weights(2, name="fc.kernel"))}, tag="v2.0.0")
    return repo


def lock_of(project):
    return tomllib.loads((project / "mlpm.lock").read_text())


def manifest_of(project):
    return tomllib.loads((project / "mlpm.toml").read_text())


def init(project):
    assert run_mlpm("init", cwd=project).code == 0


def test_install_by_tag_range_locks_the_commit_and_each_files_digest(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}@^1", cwd=project, env=env)
    assert result.code == 0, result.err
    assert "+ tiny 1.1.0" in result.out
    assert manifest_of(project)["dependencies"]["tiny"] == {"hf": repo.repo_id,
                                                            "version": "^1.1.0"}
    (pkg,) = lock_of(project)["package"]
    assert pkg["registry"] == f"hf:{repo.repo_id}"
    assert pkg["revision"] == "v1.1.0" and pkg["commit"] == repo.head("v1.1.0")
    files = {a["path"]: a for a in pkg["artifacts"]}
    # safetensors over the pickle copy, plus the config and the card
    assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
    data = weights(2)
    assert files["model.safetensors"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["model.safetensors"]["size"] == len(data)
    assert files["config.json"]["sha256"] == hashlib.sha256(CONFIG).hexdigest()


def test_newest_tag_without_a_range_and_an_exact_tag(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    init(project)
    assert run_mlpm("install", f"hf:{repo.repo_id}", cwd=project, env=env).code == 0
    assert lock_of(project)["package"][0]["version"] == "2.0.0"
    result = run_mlpm("install", f"hf:{repo.repo_id}@v1.0.0", cwd=project, env=env)
    assert result.code == 0, result.err
    assert "~ tiny 2.0.0 -> 1.0.0" in result.out
    assert manifest_of(project)["dependencies"]["tiny"]["version"] == "^1.0.0"


def test_locked_install_asks_the_hub_only_for_the_pinned_files(hf_hub, env, project, tmp_path):
    repo = tagged_repo(hf_hub)
    init(project)
    assert run_mlpm("install", f"hf:{repo.repo_id}@1.0.0", cwd=project, env=env).code == 0
    commit = repo.head("v1.0.0")
    fresh = {**env, "MLPM_CACHE_DIR": str(tmp_path / "other-cache")}
    mark = hf_hub.mark()
    result = run_mlpm("install", cwd=project, env=fresh)
    assert result.code == 0, result.err
    _, requests = hf_hub.since(mark)
    assert requests, "the files had to be fetched into the new cache"
    assert all(path.startswith(f"/{repo.repo_id}/resolve/{commit}/") for _, path in requests), \
        requests


def test_offline_install_makes_no_connection(hf_hub, env, project, tmp_path):
    repo = tagged_repo(hf_hub)
    init(project)
    assert run_mlpm("install", f"hf:{repo.repo_id}@^1", cwd=project, env=env).code == 0
    for offline in (["--offline"], []):
        mark = hf_hub.mark()
        extra = {} if offline else {"HF_HUB_OFFLINE": "1"}
        result = run_mlpm("install", *offline, cwd=project, env={**env, **extra})
        assert result.code == 0, result.err
        assert hf_hub.since(mark) == (0, [])
    # a new package while offline: one sentence, nothing asked, nothing written
    before = (project / "mlpm.toml").read_text()
    mark = hf_hub.mark()
    result = run_mlpm("install", f"hf:{repo.repo_id}@^2", "--name", "other", "--offline",
                      cwd=project, env=env)
    assert_clean_error(result, 1, "offline")
    assert hf_hub.since(mark) == (0, [])
    assert (project / "mlpm.toml").read_text() == before


def test_branch_tracking_outdated_and_upgrade_move_the_commit(hf_hub, env, project):
    repo = hf_hub.repo("encoder")
    first = repo.commit({"model.safetensors": Lfs(weights(1)), "config.json": CONFIG})
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}@main", cwd=project, env=env)
    assert result.code == 0, result.err
    assert manifest_of(project)["dependencies"]["encoder"] == {"hf": repo.repo_id, "rev": "main"}
    assert lock_of(project)["package"][0]["commit"] == first

    second = repo.commit({"model.safetensors": Lfs(weights(5))})
    # a plain install keeps the locked commit
    assert run_mlpm("install", cwd=project, env=env).code == 0
    assert lock_of(project)["package"][0]["commit"] == first
    rows = run_mlpm("outdated", "--json", cwd=project, env=env)
    assert rows.code == 0, rows.err
    (row,) = rows.json["packages"]
    assert row["current"] == f"0.0.0+{first[:12]}" and row["wanted"] == f"0.0.0+{second[:12]}"

    result = run_mlpm("upgrade", cwd=project, env=env)
    assert result.code == 0, result.err
    assert lock_of(project)["package"][0]["commit"] == second


def test_exact_commit(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    commit = repo.head("v1.0.0")
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}@{commit}", cwd=project, env=env)
    assert result.code == 0, result.err
    assert manifest_of(project)["dependencies"]["tiny"] == {"hf": repo.repo_id, "rev": commit}
    assert lock_of(project)["package"][0]["commit"] == commit


def test_sharded_checkpoint_brings_every_shard(hf_hub, env, project):
    repo = hf_hub.repo("big")
    shard1 = st.save({"a": np.ones(4, np.float32)})
    shard2 = st.save({"b": np.ones(4, np.float32)})
    index = json.dumps({"metadata": {"total_size": 32}, "weight_map": {
        "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})
    repo.commit({"model-00001-of-00002.safetensors": Lfs(shard1),
                 "model-00002-of-00002.safetensors": Lfs(shard2),
                 "model.safetensors.index.json": index.encode(), "config.json": CONFIG},
                tag="v1.0.0")
    init(project)
    assert run_mlpm("install", f"hf:{repo.repo_id}", cwd=project, env=env).code == 0
    paths = sorted(a["path"] for a in lock_of(project)["package"][0]["artifacts"])
    assert paths == ["config.json", "model-00001-of-00002.safetensors",
                     "model-00002-of-00002.safetensors", "model.safetensors.index.json"]


def test_onnx_format_takes_the_onnx_files(hf_hub, env, project):
    repo = hf_hub.repo("exported")
    repo.commit({"model.safetensors": Lfs(weights(1)), "onnx/model.onnx": Lfs(b"onnx-bytes"),
                 "config.json": CONFIG}, tag="v1.0.0")
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}", "--format", "onnx", cwd=project, env=env)
    assert result.code == 0, result.err
    (pkg,) = lock_of(project)["package"]
    assert sorted(a["path"] for a in pkg["artifacts"]) == ["config.json", "onnx/model.onnx"]
    assert {a["format"] for a in pkg["artifacts"]} == {"onnx"}


def test_an_adapter_depends_on_its_base(hf_hub, env, project):
    base = hf_hub.repo("base-model")
    base.commit({"model.safetensors": Lfs(weights(1)), "config.json": CONFIG})
    adapter = hf_hub.repo("my-lora", org=base.repo_id.split("/")[0])
    adapter.commit({"adapter_model.safetensors": Lfs(weights(3, name="lora.A")),
                    "adapter_config.json": json.dumps({
                        "base_model_name_or_path": base.repo_id, "peft_type": "LORA"}).encode()})
    init(project)
    result = run_mlpm("install", f"hf:{adapter.repo_id}", cwd=project, env=env)
    assert result.code == 0, result.err
    lock = {p["name"]: p for p in lock_of(project)["package"]}
    assert set(lock) == {"my-lora", "base-model"}
    assert lock["base-model"]["registry"] == f"hf:{base.repo_id}"
    assert "base-model" in lock["my-lora"]["dependencies"]

    why = run_mlpm("why", "base-model", cwd=project, env=env)
    assert why.code == 0 and "my-lora" in why.out, why.err
    assert_clean_error(run_mlpm("remove", "base-model", cwd=project, env=env), 1, "my-lora")

    # loading the adapter gives its tensors and its base's
    code = ("import mlpm, json; t = mlpm.load('my-lora'); print(json.dumps({k: sorted(v) "
            "for k, v in t.items()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"adapter": ["fc.bias", "lora.A"],
                                      "base": ["fc.bias", "fc.weight"]}


def test_registry_and_hub_packages_in_one_project(hf_hub, env, project, tmp_path,
                                                  model_files):
    team = tmp_path / "team-registry"
    publish(team, model_files[1], "detector", "2.0.0")
    repo = tagged_repo(hf_hub)
    (project / "mlpm.toml").write_text(
        f'[registries]\nteam = "{team}"\n\n[dependencies]\n'
        f'detector = {{ version = "^2", registry = "team" }}\n'
        f'tiny = {{ hf = "{repo.repo_id}", version = "^1" }}\n')
    result = run_mlpm("install", cwd=project, env=env)
    assert result.code == 0, result.err
    lock = {p["name"]: p for p in lock_of(project)["package"]}
    assert lock["detector"]["registry"] == str(team.resolve())
    assert lock["tiny"]["registry"] == f"hf:{repo.repo_id}"
    listed = run_mlpm("list", "--json", cwd=project, env=env)
    assert {p["name"] for p in listed.json["packages"]} == {"detector", "tiny"}
    # the manifest naming an undefined registry is one sentence
    (project / "mlpm.toml").write_text('[dependencies]\ndetector = { version = "^2", '
                                       'registry = "nowhere" }\n')
    assert_clean_error(run_mlpm("install", cwd=project, env=env), 1, "nowhere", "[registries]")


def test_name_clash_and_name_option(hf_hub, env, project):
    one, two = tagged_repo(hf_hub, "tiny"), tagged_repo(hf_hub, "tiny")
    init(project)
    assert run_mlpm("install", f"hf:{one.repo_id}", cwd=project, env=env).code == 0
    assert_clean_error(run_mlpm("install", f"hf:{two.repo_id}", cwd=project, env=env), 2,
                       "--name")
    result = run_mlpm("install", f"hf:{two.repo_id}", "--name", "tiny-two", cwd=project,
                      env=env)
    assert result.code == 0, result.err
    assert manifest_of(project)["dependencies"]["tiny-two"]["hf"] == two.repo_id


@pytest.mark.parametrize("spec, words", [
    ("hf:nobody/nothing", ("nobody/nothing", "check the name")),
    ("hf:{repo}@no-such-branch", ("no-such-branch", "branches: main")),
    ("hf:{repo}@^9", ("no version", "^9")),
    ("hf:not a repo", ("not a Hugging Face repo id",)),
])
def test_user_errors_are_one_sentence_and_write_nothing(hf_hub, env, project, spec, words):
    repo = tagged_repo(hf_hub)
    init(project)
    before = (project / "mlpm.toml").read_text()
    result = run_mlpm("install", spec.format(repo=repo.repo_id), cwd=project, env=env)
    assert result.code in (1, 2)
    assert_clean_error(result, result.code, *words)
    assert (project / "mlpm.toml").read_text() == before
    assert not (project / "mlpm.lock").exists()


def test_unreachable_hub(project, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    init(project)
    result = run_mlpm("install", "hf:acme/model", cwd=project,
                      env={"HF_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert_clean_error(result, 1, "cannot reach the Hugging Face Hub", "HF_ENDPOINT")


def test_load_and_path(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    init(project)
    assert run_mlpm("install", f"hf:{repo.repo_id}@1.0.0", cwd=project, env=env).code == 0
    code = ("import mlpm, json\n"
            "t = mlpm.load('tiny')\n"
            "p = mlpm.path('tiny')\n"
            "print(json.dumps({'keys': sorted(t), 'sum': float(t['fc.weight'].sum()),\n"
            "  'type': type(t['fc.weight']).__module__, 'files': sorted(x.name for x in "
            "p.iterdir()), 'config': json.loads((p / 'config.json').read_text())}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["keys"] == ["fc.bias", "fc.weight"] and seen["sum"] == 12.0
    assert seen["type"] == "numpy"
    assert seen["files"] == ["README.md", "config.json", "model.safetensors"]
    assert seen["config"]["model_type"] == "tiny"


def test_an_lfs_file_is_verified_against_the_hubs_sha256(hf_hub, env, project):
    """The Hub publishes an LFS file's sha256: bytes that differ are refused while they
    stream, and nothing is locked."""
    repo = hf_hub.repo("tampered")
    good = Lfs(weights(1))
    repo.commit({"model.safetensors": good, "config.json": CONFIG}, tag="v1.0.0")
    stored = (repo.path / ".git" / "lfs" / "objects" / good.sha256[:2] / good.sha256[2:4]
              / good.sha256)
    stored.write_bytes(weights(9))  # same size, other bytes
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}", cwd=project, env=env)
    assert_clean_error(result, 1, "model.safetensors", "does not match")
    assert not (project / "mlpm.lock").exists()
    assert "dependencies" not in manifest_of(project) or not manifest_of(project)["dependencies"]


def test_info_before_install_reads_config_card_and_tensor_headers(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    init(project)
    mark = hf_hub.mark()
    result = run_mlpm("info", f"hf:{repo.repo_id}@^1", "--json", cwd=project, env=env)
    assert result.code == 0, result.err
    data = result.json
    assert data["version"] == "1.1.0" and data["latest"] == "2.0.0"
    assert data["license"] == "mit" and data["task"] == "feature-extraction"
    assert data["config"]["architectures"] == ["TinyModel"]
    assert data["tensors"]["parameters"] == 15
    assert data["tensors"]["tensors"] == {"fc.bias": ["F32", [3]], "fc.weight": ["F32", [3, 4]]}
    assert [v["version"] for v in data["versions"]] == ["1.0.0", "1.1.0", "2.0.0"]
    # the weights were not downloaded: only their headers were read
    _, requests = hf_hub.since(mark)
    weight_gets = [p for m, p in requests if m == "GET" and p.endswith("model.safetensors")]
    assert weight_gets, requests
    text = run_mlpm("info", f"hf:{repo.repo_id}", cwd=project, env=env)
    assert "tensors:      2 tensors, 15 parameters (F32 2)" in text.out, text.out
    assert not (project / "mlpm.lock").exists()


def test_rate_limit_is_one_sentence(project):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class TooMany(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), TooMany)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        init(project)
        result = run_mlpm("install", "hf:acme/model", cwd=project,
                          env={"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}"})
        assert_clean_error(result, 1, "rate-limiting", "HF_TOKEN")
        assert not (project / "mlpm.lock").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_diff_between_revisions_and_outdated_say_what_breaks(hf_hub, env, project):
    repo = tagged_repo(hf_hub)
    init(project)
    minor = run_mlpm("diff", f"hf:{repo.repo_id}@v1.0.0", f"hf:{repo.repo_id}@v1.1.0",
                     "--json", cwd=project, env=env)
    assert minor.code == 0, minor.err
    assert minor.json["level"] == "minor"
    assert [c["text"] for c in minor.json["interface"]] == ["new weights"]
    major = run_mlpm("diff", f"hf:{repo.repo_id}@v1.1.0", f"hf:{repo.repo_id}@v2.0.0",
                     "--json", cwd=project, env=env)
    assert major.json["level"] == "major"
    assert "tensor 'fc.weight' renamed to 'fc.kernel'" in \
        [c["text"] for c in major.json["interface"]]

    assert run_mlpm("install", f"hf:{repo.repo_id}@^1", cwd=project, env=env).code == 0
    rows = run_mlpm("outdated", "--json", cwd=project, env=env)
    assert rows.code == 0, rows.err
    (row,) = rows.json["packages"]
    assert (row["current"], row["wanted"], row["latest"]) == ("1.1.0", "1.1.0", "2.0.0")
    assert any("fc.weight" in text for text in row["breaking"]), row


def test_a_private_repository_needs_hf_token_and_the_token_is_sent(project):
    """A Hub that refuses requests without the right token: without HF_TOKEN the sentence
    says to set it; with HF_TOKEN the Hub sees `Authorization: Bearer TOKEN`."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str] = []

    class Private(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization", ""))
            ok = self.headers.get("Authorization") == "Bearer hf_secret"
            body = b'{"branches": [], "tags": [], "converts": []}' if ok else \
                b'{"error": "Repository not found"}'
            self.send_response(200 if ok else 401)
            if not ok:
                self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Private)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        init(project)
        result = run_mlpm("install", "hf:acme/private", cwd=project,
                          env={"HF_ENDPOINT": endpoint})
        assert_clean_error(result, 1, "acme/private", "HF_TOKEN")
        result = run_mlpm("install", "hf:acme/private", cwd=project,
                          env={"HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_secret"})
        assert "Bearer hf_secret" in seen
        assert_clean_error(result, 1, "acme/private", "no branch")  # an empty repository
        assert "hf_secret" not in result.err
    finally:
        server.shutdown()
        server.server_close()


def test_onnx_from_the_hub_loads_as_a_session(hf_hub, env, project, tmp_path):
    from tests.models import make_onnx

    needs("onnxruntime")
    model = make_onnx(tmp_path / "model.onnx", 4)
    repo = hf_hub.repo("onnx-only")
    repo.commit({"onnx/model.onnx": Lfs(model.read_bytes()), "config.json": CONFIG},
                tag="v1.0.0")
    init(project)
    result = run_mlpm("install", f"hf:{repo.repo_id}", "--format", "onnx", cwd=project,
                      env=env)
    assert result.code == 0, result.err
    code = ("import mlpm, numpy as np; s = mlpm.load('onnx-only'); "
            "print(s.run(None, {s.get_inputs()[0].name: np.ones((2, 4), np.float32)})[0].shape)")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 3)"


def test_a_fine_tune_naming_its_base_in_the_card_depends_on_it(hf_hub, env, project):
    base = hf_hub.repo("bert-base")
    base.commit({"model.safetensors": Lfs(weights(1)), "config.json": CONFIG})
    tuned = hf_hub.repo("bert-tuned", org=base.repo_id.split("/")[0])
    card = f"---\nlicense: mit\nbase_model: {base.repo_id}\n---\n# tuned\n".encode()
    tuned.commit({"model.safetensors": Lfs(weights(2)), "config.json": CONFIG,
                  "README.md": card}, tag="v1.0.0")
    init(project)
    result = run_mlpm("install", f"hf:{tuned.repo_id}", cwd=project, env=env)
    assert result.code == 0, result.err
    lock = {p["name"]: p for p in lock_of(project)["package"]}
    assert lock["bert-tuned"]["dependencies"] == {"bert-base": lock["bert-base"]["version"]}
    tree = run_mlpm("tree", cwd=project, env=env)
    assert "bert-base" in tree.out, tree.err


def test_a_named_registry_from_the_command_line(env, project, tmp_path, model_files):
    team = tmp_path / "team"
    publish(team, model_files[2], "detector", "2.1.0")
    (project / "mlpm.toml").write_text(f'[registries]\nteam = "{team}"\n\n[dependencies]\n')
    result = run_mlpm("install", "detector@^2", "--registry", "team", cwd=project)
    assert result.code == 0, result.err
    assert manifest_of(project)["dependencies"]["detector"] == {"version": "^2.1.0",
                                                                "registry": "team"}
    assert lock_of(project)["package"][0]["registry"] == str(team.resolve())
    assert_clean_error(run_mlpm("install", "x", "--registry", "nowhere", cwd=project), 1)


def test_gated_repositories_and_files_gone_from_the_hub(project, tmp_path):
    """A gated repository (HTTP 403 GatedRepo) and a locked file the Hub no longer has
    (HTTP 404): one sentence each, nothing written."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    commit = "a" * 40

    class Hub(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/models/acme/gated"):
                self.reply(403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"})
            elif self.path.startswith("/api/models/acme/gone/refs"):
                self.reply(200, json.dumps({"branches": [
                    {"name": "main", "ref": "refs/heads/main", "targetCommit": commit}],
                    "tags": [], "converts": []}).encode())
            elif self.path.startswith("/api/models/acme/gone/tree"):
                self.reply(200, json.dumps([{"type": "file", "path": "model.safetensors",
                                             "oid": "b" * 40, "size": 8}]).encode())
            else:
                self.reply(404, b'{"error": "Entry not found"}',
                           {"X-Error-Code": "EntryNotFound"})

        def reply(self, code, body, headers=None):
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub = {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
    try:
        init(project)
        before = (project / "mlpm.toml").read_text()
        assert_clean_error(run_mlpm("install", "hf:acme/gated", cwd=project, env=hub), 1,
                           "gated", "HF_TOKEN")
        assert_clean_error(run_mlpm("install", "hf:acme/gone", cwd=project, env=hub), 1,
                           "model.safetensors", "HTTP 404")
        assert (project / "mlpm.toml").read_text() == before
        assert not (project / "mlpm.lock").exists()
    finally:
        server.shutdown()
        server.server_close()
