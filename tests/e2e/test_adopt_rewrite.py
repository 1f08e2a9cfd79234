"""`mlpm adopt --rewrite`: an application's hub calls become mlpm calls, and it still works.

The application is real: it loads a PyTorch Hub repo with ``torch.hub.load`` and a state
dict with ``torch.hub.load_state_dict_from_url`` from a loopback server, and prints what
the models compute. After the rewrite it runs again against a project whose mlpm.lock pins
the same model and weights, and prints the same numbers, with every line the rewrite did
not touch kept byte for byte. The call sites are read here with ``ast`` (the scanner is
tested on its own); the mappings are built as the mapper builds an exact match.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from mlpm.adopt.rewrite import plan_rewrite
from mlpm.adopt.sites import EXACT, NAME, CallSite, Mapping
from tests.conftest import needs, run_mlpm, serve_registry
from tests.models import make_hub_package

APP = '''\
"""Scores four features with two models (written the way hub users write it)."""
import json
import sys

import torch  # CPU is enough here

HUB = sys.argv[1]        # the hub repo, checked out next to the app
WEIGHTS = sys.argv[2]    # the calibration weights, served by the team


def main():
    # The classifier, straight from its hub repo.
    model = torch.hub.load(
        HUB,  # a local checkout
        "tiny_net",
        source="local",
        trust_repo=True,
    )
    state = torch.hub.load_state_dict_from_url(WEIGHTS,
                                               map_location="cpu")  # a plain state dict
    x = torch.ones(2, 4)
    print(json.dumps({"logits": model(x).tolist(),
                      "state": {k: v.tolist() for k, v in sorted(state.items())}}))


if __name__ == "__main__":
    main()
'''

KINDS = {"torch.hub.load": "tinyhub", "torch.hub.load_state_dict_from_url": "calibration"}


def sites_of(source: str, file: str, cell: int | None = None) -> list[CallSite]:
    """The hub calls of ``source``, located as the scanner locates them (ast positions)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in KINDS:
            out.append(CallSite(Path(file), node.lineno, node.col_offset, node.end_lineno,
                                node.end_col_offset, ast.unparse(node.func),
                                ast.get_source_segment(source, node) or "", cell=cell))
    return sorted(out, key=lambda s: s.line)


def exact(site: CallSite) -> Mapping:
    return Mapping(site, EXACT, KINDS[site.kind], "1.0.0", replacement="load")


@pytest.fixture
def adopted_app(registry, project, tmp_path):
    """The app in ``project``, its hub checkout and weights server, and a lock that pins the
    same hub repo and weights as mlpm packages."""
    torch = needs("torch")

    weights, hub = make_hub_package(tmp_path / "pkg")
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    # torch.hub keeps the weights it downloaded where hubconf asks for them: the app's
    # cache already has them (the URL in hubconf.py is not reachable from here)
    checkpoints = tmp_path / "home" / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copyfile(weights, checkpoints / weights.name)
    calib = tmp_path / "calib"
    calib.mkdir()
    torch.manual_seed(7)
    torch.save({"scale": torch.rand(3), "shift": torch.rand(3)}, calib / "model.pt")
    (calib / "mlpm.toml").write_text(tomli_w.dumps({"package": {
        "name": "calibration", "version": "1.0.0", "framework": "torch",
        "files": {"state-dict": "model.pt"}}}))
    assert run_mlpm("publish", str(calib), "--registry", str(registry.root), cwd=calib).code == 0
    files = serve_registry(tmp_path / "served")
    shutil.copyfile(calib / "model.pt", files.root / "calibration-3f2a.pth")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    installed = run_mlpm("install", "tinyhub", "calibration", cwd=project)
    assert installed.code == 0, installed.err
    (project / "app.py").write_text(APP)
    yield project, [str(hub), files.url + "calibration-3f2a.pth"], files
    files.server.shutdown()
    files.server.server_close()


def run_app(project: Path, script: str, args: list[str]) -> dict:
    out = subprocess.run([sys.executable, script, *args], cwd=project, capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_rewritten_app_loads_the_same_models_and_gives_the_same_outputs(adopted_app):
    project, args, served = adopted_app
    before = run_app(project, "app.py", args)
    assert served.paths("/calibration-3f2a.pth")  # the original really downloaded it

    plan = plan_rewrite(project, [exact(s) for s in sites_of(APP, "app.py")])
    assert plan.skipped == []
    assert plan.diff.startswith("--- a/app.py\n+++ b/app.py\n")
    assert (project / "app.py").read_text() == APP  # a plan writes nothing
    plan.write()
    after_text = (project / "app.py").read_text()
    assert '    model = mlpm.load(\n        "tinyhub",  # a local checkout\n' \
           '        trust=True,\n    )\n' in after_text
    assert '    state = mlpm.load("calibration")  # a plain state dict\n' in after_text
    assert after_text.count("import mlpm\n") == 1

    # every line outside the two calls is kept byte for byte, in order
    touched = {n for s in sites_of(APP, "app.py") for n in range(s.line, s.end_line + 1)}
    kept = [line for n, line in enumerate(APP.splitlines(keepends=True), 1)
            if n not in touched]
    new_lines = after_text.splitlines(keepends=True)
    assert [line for line in new_lines if line in kept] == kept
    added = [line for line in new_lines if line not in kept]
    assert added == ["import mlpm\n", "    model = mlpm.load(\n",
                     '        "tinyhub",  # a local checkout\n', "        trust=True,\n",
                     "    )\n", '    state = mlpm.load("calibration")  # a plain state dict\n']

    served.requests.clear()
    assert run_app(project, "app.py", args) == before
    assert served.requests == []  # the weights came from mlpm's store, by the lock


def test_a_notebook_cell_is_rewritten_and_the_rest_of_the_notebook_kept(adopted_app):
    project, args, _ = adopted_app
    code = APP.split("def main():\n")[1].split("\n\nif __name__")[0]
    cell_code = "import json, sys\nimport torch\n%matplotlib inline\n" + \
        "HUB, WEIGHTS = sys.argv[1], sys.argv[2]\n" + \
        "\n".join(line[4:] for line in code.splitlines())
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Scoring\n", "Café ☕\n"]},
        {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["keep"]},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["old\n"]}],
         "source": cell_code.splitlines(keepends=True)}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"  # as nbformat writes it
    (project / "scoring.ipynb").write_text(text)
    runnable = "\n".join(line for line in cell_code.splitlines() if not line.startswith("%"))
    (project / "cell.py").write_text(runnable)
    before = run_app(project, "cell.py", args)

    hidden = cell_code.replace("%matplotlib inline", "#")  # ast cannot read a magic line
    plan = plan_rewrite(project, [exact(s) for s in sites_of(hidden, "scoring.ipynb", 1)])
    assert plan.skipped == []
    assert "--- a/scoring.ipynb[cell 1]" in plan.diff
    plan.write()
    after = json.loads((project / "scoring.ipynb").read_text())
    new_code = "".join(after["cells"][1]["source"])
    assert new_code.startswith("import json, sys\nimport torch\nimport mlpm\n%matplotlib inline\n")
    assert "torch.hub" not in new_code
    # everything but that cell's source is unchanged, down to the JSON layout
    after["cells"][1]["source"] = nb["cells"][1]["source"]
    assert json.dumps(after, indent=1, ensure_ascii=False) + "\n" == text
    assert (project / "scoring.ipynb").read_text().count("Café ☕") == 1

    (project / "cell.py").write_text("\n".join(
        line for line in new_code.splitlines() if not line.startswith("%")))
    assert run_app(project, "cell.py", args) == before


def test_only_exact_mappings_that_keep_the_same_result_are_rewritten(adopted_app):
    project, _, _ = adopted_app
    source = ('import torch\n'
              'a = torch.hub.load("example/tinyhub", "tiny_net")\n'
              'b = torch.hub.load_state_dict_from_url(URL, map_location="cuda:0")\n'
              'c = torch.hub.load("example/tinyhub", "tiny_cnn", channels=5)\n'
              'd = torch.hub.load_state_dict_from_url(OTHER)\n')
    (project / "more.py").write_text(source)
    a, b, c, d = sites_of(source, "more.py")
    maps = [Mapping(a, NAME, "tinyhub", "1.0.0", reason="name only"),
            exact(b), exact(c),
            Mapping(d, EXACT, "not-locked", "1.0.0")]
    plan = plan_rewrite(project, maps)
    reasons = {s.mapping.site.line: s.reason for s in plan.skipped}
    assert set(reasons) == {3, 5}  # line 2 (a name match) is neither rewritten nor listed
    assert "map_location=" in reasons[3] and "CPU" in reasons[3]
    assert "not-locked is not in mlpm.lock" in reasons[5]
    plan.write()
    lines = (project / "more.py").read_text().splitlines()
    assert lines == ["import torch", "import mlpm", source.splitlines()[1],
                     source.splitlines()[2],
                     'c = mlpm.load("tinyhub", entrypoint="tiny_cnn", channels=5)',
                     source.splitlines()[4]]


def test_a_state_dict_url_of_a_hub_package_is_left_as_written(adopted_app):
    """mlpm.load of a PyTorch Hub package gives the model, not the state dict the call
    returns: that call stays, with the reason."""
    project, _, _ = adopted_app
    source = "import torch\nsd = torch.hub.load_state_dict_from_url(URL)\n"
    (project / "hub_weights.py").write_text(source)
    (site,) = sites_of(source, "hub_weights.py")
    plan = plan_rewrite(project, [Mapping(site, EXACT, "tinyhub", "1.0.0")])
    assert plan.edits == [] and plan.diff == ""
    assert "PyTorch Hub package" in plan.skipped[0].reason


def test_adopt_write_rewrite_from_the_command_line(registry, project, tmp_path):
    """`mlpm adopt --write --rewrite`: found, mapped through the registry, locked, shown as a
    diff, refused without --yes when it cannot ask, then rewritten; the app then runs the
    locked model."""
    torch = needs("torch")

    weights, _ = make_hub_package(tmp_path / "pkg")
    manifest = tmp_path / "pkg" / "mlpm.toml"
    manifest.write_text(manifest.read_text().replace(
        '\nentrypoint = "tiny_net"\n', '\nentrypoint = "tiny_net"\nref = "v1.0"\n'))
    assert run_mlpm("publish", str(tmp_path / "pkg"), "--registry", str(registry.root),
                    cwd=tmp_path).code == 0
    app = ('import torch\n\n'
           '# pinned by hand, for now\n'
           'model = torch.hub.load("example/tinyhub:v1.0", "tiny_net", trust_repo=True)\n'
           'print(model(torch.ones(1, 4)).tolist())\n')
    (project / "app.py").write_text(app)

    asked = run_mlpm("adopt", "--write", "--rewrite", "--registry", registry.url, cwd=project)
    assert asked.code == 2, asked.err
    assert "--yes" in asked.err and "Traceback" not in asked.err
    assert '+model = mlpm.load("tinyhub", trust=True)' in asked.out  # the diff came first
    assert (project / "app.py").read_text() == app

    done = run_mlpm("adopt", "--rewrite", "--yes", "--registry", registry.url, cwd=project)
    assert done.code == 0, done.err
    assert "Rewrote 1 call sites in 1 files." in done.out + done.err
    assert (project / "app.py").read_text() == (
        'import torch\nimport mlpm\n\n# pinned by hand, for now\n'
        'model = mlpm.load("tinyhub", trust=True)\n'
        'print(model(torch.ones(1, 4)).tolist())\n')
    out = subprocess.run([sys.executable, "app.py"], cwd=project, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    state = torch.load(weights, weights_only=True)
    x = torch.ones(1, 4)
    expected = torch.relu(x @ state["a.weight"].T + state["a.bias"]) @ state["b.weight"].T \
        + state["b.bias"]
    torch.testing.assert_close(torch.tensor(json.loads(out.stdout)), expected)
