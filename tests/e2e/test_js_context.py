"""The JavaScript context: `mlpm install NAME --context js` gives the ONNX file a JavaScript
application runs, checked in node with onnxruntime-node, found with
`mlpm.path(name, context="js")`, and recorded in mlpm.lock with its parity.

Every model here is built by the test (a torch module exported by torch.export, a TF
SavedModel, an ONNX file), published to a registry on loopback, and the file mlpm gives is
run by tests/js/run_model.js in node, as an application would, against the original
run in Python. onnxruntime-node comes from tests/js (`.ci/setup --tests` installs it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT, assert_clean_error, free_port, needs, run_mlpm
from tests.e2e.test_code_trust import package
from tests.e2e.test_savedmodel_packages import package_dir
from tests.models import make_onnx

np = needs("numpy")

JS = Path(__file__).resolve().parents[1] / "js"
NODE_MODULES = JS / "node_modules"
RUN_MODEL = JS / "run_model.js"
GET = "npm install onnxruntime-node"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    if executable is None or not (NODE_MODULES / "onnxruntime-node" / "package.json").is_file():
        pytest.fail("the js-context tests need node 18+ and onnxruntime-node in tests/js: run "
                    "`.ci/setup --tests` (npm ci --ignore-scripts --prefix tests/js).")
    return executable


@pytest.fixture(autouse=True)
def no_runtime_named(monkeypatch):
    for key in ("MLPM_NODE_MODULES", "MLPM_NODE", "MLPM_JS_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)


def in_node(node: str, model: str, inputs: dict) -> dict:
    """Run ``model`` in onnxruntime-node as a JavaScript application does: output name ->
    array, in the model's output order."""
    payload = {name: {"shape": list(a.shape), "data": a.ravel().tolist()}
               for name, a in inputs.items()}
    proc = subprocess.run([node, str(RUN_MODEL), model], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reply = json.loads(proc.stdout)
    return {o["name"]: np.array(o["data"], dtype=np.float32).reshape(o["dims"])
            for o in reply["outputs"]}


def python(project: Path, code: str, env: dict | None = None) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=project,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def js_path(project: Path, name: str) -> str:
    return python(project, f"import mlpm; print(mlpm.path({name!r}, context='js'))").strip()


def locked(project: Path, name: str) -> dict:
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    return next(p for p in lock["package"] if p["name"] == name)


def published(registry, project: Path, folder: Path) -> None:
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert result.code == 0, result.err
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0


def assert_js_conversion(conv: dict) -> None:
    """The lock's record of a js conversion: checked in onnxruntime-node, within tolerance."""
    assert conv["format"] == "js"
    parity = conv["parity"]
    assert parity["runtime"]["onnxruntime-node"] == "1.30.0"
    assert int(parity["runtime"]["node"].split(".")[0]) >= 18
    assert parity["samples"] == 2  # a variable batch: checked at sizes 1 and 2
    assert parity["max_abs"] <= parity["tolerance"] == 1e-4


# -- a torch model -------------------------------------------------------------------------


@pytest.fixture
def torch_package(tmp_path):
    """A small torch CNN with two outputs, exported with a variable batch (.pt2), and the
    original's outputs on a fixed input."""
    torch = needs("torch")
    needs("onnxscript")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 4, 3)
            self.head = torch.nn.Linear(4 * 6 * 6, 3)

        def forward(self, image):
            logits = self.head(torch.relu(self.conv(image)).flatten(1))
            return logits, torch.softmax(logits, dim=1)

    torch.manual_seed(0)
    net = Net().eval()
    program = torch.export.export(net, (torch.randn(2, 1, 8, 8),), strict=False,
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    (tmp_path / "build").mkdir()
    file = tmp_path / "build" / "net.pt2"
    torch.export.save(program, str(file))
    image = np.random.default_rng(7).standard_normal((3, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = [t.numpy() for t in net(torch.from_numpy(image))]
    folder = package(tmp_path / "pkg", "net", ("exported-program", file),
                     kind="exported-program")
    return folder, image, expected


def test_a_torch_model_installed_for_js_runs_in_onnxruntime_node(registry, project, node,
                                                                  torch_package):
    folder, image, expected = torch_package
    published(registry, project, folder)
    # The application's own node_modules, where `npm install onnxruntime-node` puts it.
    (project / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)

    result = run_mlpm("install", "net", "--context", "js", "--trust", cwd=project)
    assert result.code == 0, result.err
    manifest = tomllib.loads((project / "mlpm.toml").read_text())
    assert manifest["dependencies"]["net"]["context"] == "js"
    (conv,) = locked(project, "net")["conversions"]
    assert_js_conversion(conv)
    assert conv["converter"]["torch"].startswith("2.")

    file = js_path(project, "net")
    assert file.endswith(".onnx") and conv["key"] in file
    outputs = in_node(node, file, {"image": image})  # batch 3: not a size mlpm sampled
    assert [o.shape for o in outputs.values()] == [(3, 3), (3, 3)]
    for got, want in zip(outputs.values(), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-4)

    # `mlpm convert --to js` finds the same, recorded conversion.
    again = run_mlpm("convert", "net", "--to", "js", "--trust", "--json", cwd=project)
    assert again.code == 0, again.err
    assert again.json["reused"] is True and again.json["key"] == conv["key"]
    assert again.json["parity"]["runtime"]["onnxruntime-node"] == "1.30.0"


# -- a TensorFlow SavedModel ---------------------------------------------------------------


def test_a_savedmodel_converted_to_js_gives_each_signature_checked_in_node(
        registry, project, node, tmp_path):
    needs("tensorflow")
    needs("tf2onnx")
    folder = package_dir(tmp_path / "tf", "1.0.0", name="tfmodel")
    published(registry, project, folder)
    assert run_mlpm("install", "tfmodel", cwd=project).code == 0
    env = {"MLPM_NODE_MODULES": str(NODE_MODULES)}  # onnxruntime-node kept elsewhere

    result = run_mlpm("convert", "tfmodel", "--to", "js", "--trust", "--json", cwd=project,
                      env=env, timeout=300)
    assert result.code == 0, result.err
    assert set(result.json["signature_files"]) == {"serving_default", "features"}
    (conv,) = locked(project, "tfmodel")["conversions"]
    assert_js_conversion(conv)
    assert conv["converter"]["tf2onnx"]

    x = np.random.default_rng(3).random((5, 4), dtype=np.float32)
    original = json.loads(python(project, f"""
        import json, numpy as np, tensorflow as tf
        model = tf.saved_model.load({str(folder / 'saved_model')!r})
        x = np.array({x.tolist()!r}, dtype=np.float32)
        print(json.dumps(model.signatures["serving_default"](x=tf.constant(x))["scores"]
                         .numpy().tolist()))
    """))
    file = python(project, "import mlpm; print(mlpm.path('tfmodel', format='js'))",
                  env).strip()
    assert Path(file).name == "serving_default.onnx"  # the serving signature of the two
    (scores,) = in_node(node, file, {"x": x}).values()
    np.testing.assert_allclose(scores, np.array(original, dtype=np.float32), atol=1e-4)


# -- a published ONNX file -----------------------------------------------------------------


def test_a_published_onnx_file_is_used_for_js_once_it_ran_in_node(registry, project, node,
                                                                 tmp_path):
    needs("onnxruntime")
    (tmp_path / "build").mkdir()
    onnx_file = make_onnx(tmp_path / "build" / "linear.onnx", 3)
    folder = package(tmp_path / "pkg", "linear", ("onnx", onnx_file), framework="onnx",
                     kind="onnx")
    published(registry, project, folder)

    result = run_mlpm("install", "linear", "--context", "js", cwd=project,
                      env={"MLPM_NODE_MODULES": str(NODE_MODULES)})
    assert result.code == 0, result.err
    (conv,) = locked(project, "linear")["conversions"]
    assert_js_conversion(conv)
    assert conv["parity"]["max_abs"] == 0.0  # the same file, in two ONNX Runtimes
    file = js_path(project, "linear")
    assert Path(file).read_bytes() == onnx_file.read_bytes()  # the publisher's own file

    x = np.random.default_rng(1).random((2, 4), dtype=np.float32)
    expected = python(project, f"""
        import mlpm, numpy as np
        session = mlpm.load("linear")
        x = np.array({x.tolist()!r}, dtype=np.float32)
        print(session.run(None, {{"x": x}})[0].tolist())
    """)
    (got,) = in_node(node, file, {"x": x}).values()
    np.testing.assert_allclose(got, np.array(eval(expected), dtype=np.float32), atol=1e-6)


# -- when the JavaScript runtime is missing ------------------------------------------------


def test_missing_onnxruntime_node_or_node_is_one_sentence_and_changes_nothing(
        registry, project, tmp_path):
    needs("onnx")
    (tmp_path / "build").mkdir()
    onnx_file = make_onnx(tmp_path / "build" / "linear.onnx", 3)
    folder = package(tmp_path / "pkg", "linear", ("onnx", onnx_file), framework="onnx",
                     kind="onnx")
    published(registry, project, folder)
    manifest = (project / "mlpm.toml").read_text()

    result = run_mlpm("install", "linear", "--context", "js", cwd=project)
    assert_clean_error(result, 1, "no node_modules from", "has onnxruntime-node", GET,
                       "MLPM_NODE_MODULES")
    assert len(result.err.strip().splitlines()) == 1
    assert not (project / "mlpm.lock").exists()
    assert (project / "mlpm.toml").read_text() == manifest

    empty = tmp_path / "empty_modules"
    empty.mkdir()
    result = run_mlpm("install", "linear", "--context", "js", cwd=project,
                      env={"MLPM_NODE_MODULES": str(empty)})
    assert_clean_error(result, 1, f"MLPM_NODE_MODULES ({empty}) has no onnxruntime-node", GET)

    result = run_mlpm("install", "linear", "--context", "js", cwd=project,
                      env={"MLPM_NODE_MODULES": str(NODE_MODULES),
                           "MLPM_NODE": str(tmp_path / "no-node")})
    assert_clean_error(result, 1, "node is not installed here", "node 18+", GET)
    assert not (project / "mlpm.lock").exists()

    # mlpm.path of a package installed for another context converts on demand: same sentence
    assert run_mlpm("install", "linear", cwd=project).code == 0
    proc = subprocess.run([sys.executable, "-c", "import mlpm; mlpm.path('linear', "
                           "context='js')"], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("mlpm.errors.ConversionError: "
                                                           "the js context checks")


# -- the served model, from the page docs/serving.md shows -----------------------------------


def test_the_fetch_in_the_serving_docs_gets_the_served_models_answer(project, node):
    """docs/serving.md's browser snippet, run in node against `mlpm serve` (node's fetch has
    no same-origin rule, so it runs without --allow-origin: tests/e2e/test_serve_cors.py
    runs it as a page on another origin)."""
    needs("onnxruntime")
    offline = {"MLPM_OFFLINE": "1"}
    assert run_mlpm("init", cwd=project).code == 0
    assert run_mlpm("install", "digits@1.2", cwd=project, env=offline).code == 0
    doc = (ROOT / "docs" / "serving.md").read_text()
    (script,) = re.findall(r'<script type="module">\n(.*?)</script>', doc, re.S)
    port = free_port()
    page = project / "page.mjs"
    page.write_text(script.replace("http://127.0.0.1:8501", f"http://127.0.0.1:{port}"))

    server = subprocess.Popen([sys.executable, "-m", "mlpm", "serve", "digits", "--port",
                               str(port)], cwd=project, env=dict(os.environ, **offline),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        assert banner.startswith("Serving digits@1.2."), server.stderr.read()
        proc = subprocess.run([node, str(page)], capture_output=True, text=True, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr[-2000:]

    pixels = [(i % 16) / 16 for i in range(64)]
    digit = python(project, f"""
        import mlpm, numpy as np
        session = mlpm.load("digits", format="onnx")
        x = np.array([{pixels!r}], dtype=np.float32)
        print(int(session.run(None, {{session.get_inputs()[0].name: x}})[0].argmax()))
    """, offline).strip()
    assert proc.stdout.strip() == f"digit: {digit}"


# -- a Python-number input (forward(x, sr: int)) -------------------------------------------


def test_a_python_number_input_is_fixed_in_the_js_model_as_in_the_onnx_one(registry, project,
                                                                         node, tmp_path):
    """`sr: int` is fixed into the graph at export; the js route leaves it out of what node
    is fed, records it, and says so, exactly as the onnx route does."""
    needs("onnxscript")
    onnx = needs("onnx")
    torch = needs("torch")
    from tests.e2e.test_conversion_samples import VAD_INTERFACE, VoiceActivity, scripted
    from tests.e2e.test_conversion_samples import package as torchscript_package

    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    published(registry, project,
              torchscript_package(tmp_path / "vad", "vad", "1.0.0", model, VAD_INTERFACE))
    env = {"MLPM_NODE_MODULES": str(NODE_MODULES)}

    # the publisher's declared sr = 16000 makes the install convert
    result = run_mlpm("install", "vad", "--context", "js", "--trust", cwd=project, env=env)
    assert result.code == 0, result.err
    (conv,) = locked(project, "vad")["conversions"]
    assert_js_conversion(conv)
    assert conv["parity"]["inputs"] == "publisher-values"

    # a user's sample: the same report and note as --to onnx gives, for each
    speech = tmp_path / "speech.npz"
    x = np.sin(np.arange(2 * 16, dtype=np.float32) / 3).reshape(2, 16)
    np.savez(speech, x=x, sr=np.int64(16000))
    runs = {target: run_mlpm("convert", "vad", "--to", target, "--trust", "--sample",
                             str(speech), "--json", cwd=project, env=env)
            for target in ("onnx", "js")}
    for target, run in runs.items():
        assert run.code == 0, run.err
        told = run_mlpm("convert", "vad", "--to", target, "--trust", "--sample", str(speech),
                        cwd=project, env=env)  # the recorded conversion, told to people
        assert told.code == 0 and told.out.startswith("reused the cached conversion"), told.err
        assert f"note: sr is fixed at 16000 in the {target} model" in told.err
    parity = {t: r.json["parity"] for t, r in runs.items()}
    assert parity["js"]["fixed"] == parity["onnx"]["fixed"] == {"sr": 16000}
    for key in ("inputs", "sample_shapes", "samples", "sample_inputs", "input_sources"):
        assert parity["js"][key] == parity["onnx"][key], key
    assert parity["js"]["runtime"]["onnxruntime-node"] == "1.30.0"
    graphs = {t: onnx.load(r.json["path"]).graph for t, r in runs.items()}
    assert [i.name for i in graphs["js"].input] == [i.name for i in graphs["onnx"].input] \
        == ["x"]

    # what a JavaScript application gets: the audio alone, answered as the original at 16 kHz
    (got,) = in_node(node, runs["js"].json["path"], {"x": x}).values()
    with torch.no_grad():
        want = torch.jit.load(str(model))(torch.from_numpy(x), 16000).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
