"""Models are programs: TorchScript files, exported programs and SavedModels run their
publisher's code, so mlpm hands them to a framework only from a trusted source and after
a static scan. Each test builds the attack itself and checks that nothing ran (a marker
file that must not appear), that nothing was left behind, and what the user is told."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tests.conftest import assert_clean_error, needs, run_mlpm
from tests.models import make_onnx, make_torchscript

# -- the hostile models, built here ---------------------------------------------------------


def evil_torchscript(path: Path, marker: Path) -> Path:
    """A scripted module whose ``__setstate__`` (run by torch.jit.load) writes ``marker``
    with torch.save and reads it back with torch.from_file."""
    import warnings

    torch = needs("torch")

    class Evil(torch.nn.Module):
        def __init__(self, target: str):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(4, 3))
            self.target = target

        def forward(self, x):
            return x @ self.w

        @torch.jit.export
        def __getstate__(self):
            return (self.w, self.training, self.target)

        @torch.jit.export
        def __setstate__(self, state: tuple[torch.Tensor, bool, str]):
            torch.save(state[0], state[2])
            t = torch.from_file(state[2], shared=False, size=4, dtype=torch.uint8)
            self.w = state[0] + t.sum() * 0
            self.training = state[1]
            self.target = state[2]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(Evil(str(marker)))
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(path))
    return path


def exported_program(path: Path) -> Path:
    """A real torch.export archive of a Linear layer."""
    torch = needs("torch")

    torch.manual_seed(0)
    program = torch.export.export(torch.nn.Linear(4, 3).eval(), (torch.zeros(2, 4),))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))
    return path


def code_pickle(call: str, argument: str) -> bytes:
    """A protocol-2 pickle that calls ``call`` (module.name) with one string: what a
    hostile publisher puts where torch expects tensors."""
    module, name = call.rsplit(".", 1)
    text = argument.encode()
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X"
            + len(text).to_bytes(4, "little") + text + b"\x85R.")


def evil_exported_program(path: Path, marker: Path) -> Path:
    """An exported program whose first weight is stored as a pickle (use_pickle, which
    torch.export.load reads with weights_only=False) that calls builtins.exec."""
    good = exported_program(path.with_name("good-" + path.name))
    payload = code_pickle("builtins.exec", f"open({str(marker)!r}, 'w').write('ran')")
    with zipfile.ZipFile(good) as src:
        config_name = next(n for n in src.namelist() if n.endswith("model_weights_config.json"))
        config = json.loads(src.read(config_name))
        first = next(iter(config["config"].values()))
        first["use_pickle"] = True
        weight = config_name.rsplit("/", 1)[0] + "/" + first["path_name"]
        with zipfile.ZipFile(path, "w") as out:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == config_name:
                    data = json.dumps(config).encode()
                elif info.filename == weight:
                    data = payload
                out.writestr(info, data)
    return path


SAVEDMODELS = '''
import sys
import numpy as np
import tensorflow as tf

marker, out = sys.argv[1], sys.argv[2]

class Writer(tf.Module):  # a signature that writes a file
    def __init__(self):
        self.w = tf.Variable(np.ones((4, 3), "float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serving_default(self, x):
        tf.io.write_file(marker, "ran")
        return {"scores": x @ self.w}

class Checkpointer(tf.Module):  # a signature that saves a checkpoint where it likes
    def __init__(self):
        self.w = tf.Variable(np.ones((4, 3), "float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serving_default(self, x):
        tf.raw_ops.SaveV2(prefix=marker, tensor_names=["w"], shape_and_slices=[""],
                          tensors=[self.w.read_value()])
        return {"scores": x @ self.w}

class Benign(tf.Module):
    def __init__(self):
        self.w = tf.Variable(np.ones((4, 3), "float32"))

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
    def serving_default(self, x):
        return {"scores": tf.nn.softmax(x @ self.w)}

for name, cls in (("writer", Writer), ("checkpointer", Checkpointer), ("benign", Benign)):
    m = cls()
    tf.saved_model.save(m, f"{out}/{name}/saved_model",
                        signatures={"serving_default": m.serving_default})
'''


@pytest.fixture(scope="module")
def savedmodels(tmp_path_factory):
    """Three SavedModels (writes a file / writes a checkpoint / benign), built in a
    subprocess so that this test process never imports TensorFlow."""
    if importlib.util.find_spec("tensorflow") is None:
        needs("tensorflow")  # skips
    root = tmp_path_factory.mktemp("savedmodels")
    marker = root / "tf-marker"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", SAVEDMODELS, str(marker), str(root)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not marker.exists()  # saving traced the functions without running them
    return root, marker


def package(folder: Path, name: str, *files: tuple[str, Path], framework: str = "torch",
            kind: str = "torchscript") -> Path:
    """A package folder whose mlpm.toml lists ``files`` as (format, file) artifacts."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for fmt, file in files:
        target = folder / file.name
        if file.is_dir():
            shutil.copytree(file, target)
        else:
            shutil.copy(file, target)
        parts.append(f'[[package.artifacts]]\nformat = "{fmt}"\nrole = "model"\n'
                     f'file = "{file.name}"\n')
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "{name}"
        version = "1.0.0"
        framework = "{framework}"
        kind = "{kind}"
        description = "a model built by tests/e2e/test_code_trust.py"

    ''') + "\n".join(parts))
    return folder


def publish_and_install(registry, project: Path, folder: Path, name: str) -> str:
    """Publish the package, install it in ``project``; returns the source to trust."""
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert result.code == 0, result.err
    if not (project / "mlpm.toml").exists():
        assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    result = run_mlpm("install", name, cwd=project)
    assert result.code == 0, result.err
    return f"{registry.url}#{name}"


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def trusted_file(isolated: Path) -> Path:
    from mlpm.trust import config_dir

    return config_dir() / "trusted.toml"


# -- TorchScript ----------------------------------------------------------------------------


@pytest.fixture
def evil_ts(registry, project, tmp_path):
    needs("torch")
    marker = tmp_path / "ts-marker"
    model = evil_torchscript(tmp_path / "build" / "model.pt", marker)
    onnx = make_onnx(tmp_path / "build" / "model.onnx", 1)
    folder = package(tmp_path / "pkg-evil", "scripted", ("torchscript", model), ("onnx", onnx))
    source = publish_and_install(registry, project, folder, "scripted")
    assert not marker.exists()
    return project, source, marker


def test_the_torchscript_attack_is_real_without_mlpm(tmp_path):
    """Plain torch.jit.load of the crafted file writes the marker: the scan below guards
    against something that happens."""
    marker = tmp_path / "plain-marker"
    model = evil_torchscript(tmp_path / "model.pt", marker)
    code = "import sys, torch; torch.jit.load(sys.argv[1])"
    out = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert marker.exists()


def test_torchscript_that_hides_its_calls_behind_getattr_is_caught(tmp_path):
    """Hand-written TorchScript code may spell torch.save as getattr(torch, "save"), which
    torch.jit.load compiles and runs: the scan reads it as the call it is."""
    from mlpm.codescan import scan

    marker = tmp_path / "getattr-marker"
    model = evil_torchscript(tmp_path / "model.pt", marker)
    hidden = tmp_path / "hidden.pt"
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(hidden, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".py"):
                data = data.replace(b"torch.save(", b'getattr(torch, "save")(').replace(
                    b"torch.from_file(", b"getattr(torch, 'from_file')(")
                assert b"torch.save" not in data and b"torch.from_file" not in data
            out.writestr(info, data)
    assert sorted(f.what for f in scan("torchscript", hidden)) == [
        "calls torch.from_file", "calls torch.save"]
    code = "import sys, torch; torch.jit.load(sys.argv[1])"
    out = subprocess.run([sys.executable, "-c", code, str(hidden)], capture_output=True,
                         text=True)
    assert out.returncode == 0 and marker.exists(), out.stderr[-2000:]  # the attack is real


def test_untrusted_torchscript_is_refused_before_torch_sees_it(evil_ts):
    project, source, marker = evil_ts
    code = ("import mlpm, sys\ntry:\n    mlpm.load('scripted', format='torchscript')\n"
            "except mlpm.MlpmError as e:\n    print(type(e).__name__, '|', e)\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    assert out.stdout.splitlines() == [
        f"UntrustedCode | scripted@1.0.0 is a TorchScript model, which runs its publisher's "
        f"code when loaded, from '{source}', which you have not trusted; trust it with "
        f"`mlpm trust {source}` (or pass trust=True to mlpm.load, or set MLPM_TRUST={source}), "
        'or load its onnx form instead (format="onnx").',
        "torch imported: False"], out.stderr
    assert not marker.exists()


def test_trusted_torchscript_with_file_operators_is_refused_unless_allowed(evil_ts):
    import mlpm
    from mlpm.errors import UnsafeModel

    project, source, marker = evil_ts
    assert run_mlpm("trust", source, cwd=project).code == 0
    with pytest.raises(UnsafeModel) as err:
        mlpm.load("scripted", format="torchscript", project_dir=project)
    import mlpm as lib

    with zipfile.ZipFile(lib.path("scripted", format="torchscript", project_dir=project)) as z:
        (code_file,) = [n for n in z.namelist() if n.endswith(".py") and b"from_file" in
                        z.read(n)]
    assert str(err.value) == (
        f"scripted@1.0.0 is a TorchScript model that calls torch.save ({code_file}), which "
        "writes a file (and 1 more), so mlpm refused to hand it to torch even though you "
        'trust its source; only if you accept that, add it to allow-unsafe-code = '
        '["scripted"] in the manifest.')
    assert not marker.exists()
    # The data form needs no trust decision at all.
    session = mlpm.load("scripted", format="onnx", project_dir=project)
    assert type(session).__name__ == "InferenceSession"
    # The explicit opt-in loads it, and the publisher's code runs: the refusal was real.
    manifest = project / "mlpm.toml"
    manifest.write_text('allow-unsafe-code = ["scripted"]\n' + manifest.read_text())
    module = mlpm.load("scripted", format="torchscript", project_dir=project)
    assert marker.exists() and hasattr(module, "forward")


def test_benign_torchscript_loads_once_trusted(registry, project, tmp_path, monkeypatch):
    torch = needs("torch")

    import mlpm
    from mlpm.trust import UntrustedCode

    model = make_torchscript(tmp_path / "build" / "model.pt", 3)
    folder = package(tmp_path / "pkg", "linear-ts", ("torchscript", model))
    source = publish_and_install(registry, project, folder, "linear-ts")
    with pytest.raises(UntrustedCode, match="ask its publisher for an ONNX, safetensors or "
                       "TFLite form"):
        mlpm.load("linear-ts", project_dir=project)
    monkeypatch.setenv("MLPM_TRUST", source)  # trusted for this run only
    module = mlpm.load("linear-ts", project_dir=project)
    assert module(torch.ones(2, 4)).shape == (2, 3)


def test_onnx_needs_no_trust_decision(registry, project, tmp_path, isolated):
    import mlpm

    onnx = make_onnx(tmp_path / "build" / "model.onnx", 2)
    folder = package(tmp_path / "pkg", "plain", ("onnx", onnx), framework="onnx", kind="onnx")
    publish_and_install(registry, project, folder, "plain")
    session = mlpm.load("plain", project_dir=project)
    assert session.run(None, {"x": __import__("numpy").ones((1, 4), "float32")})[0].shape \
        == (1, 3)
    assert not trusted_file(isolated).exists()


def test_convert_and_serve_refuse_untrusted_and_unsafe_torchscript(evil_ts, isolated):
    project, source, marker = evil_ts
    store = isolated / "cache"
    before = files_under(store)
    lock = (project / "mlpm.lock").read_text()
    result = run_mlpm("convert", "scripted", "--to", "exported-program", cwd=project)
    assert_clean_error(result, 1, "is a TorchScript model", f"mlpm trust {source}")
    from mlpm.loading import runner_for
    from mlpm.project import Project

    # serve picks the ONNX form, which needs no trust decision
    assert type(runner_for(Project.find(project), "scripted")).__name__ == "OnnxRunner"
    # Trusted: the scan refuses the conversion; nothing is converted or recorded.
    result = run_mlpm("convert", "scripted", "--to", "exported-program", "--trust",
                      cwd=project)
    assert_clean_error(result, 1, "calls torch.save", 'allow-unsafe-code = ["scripted"]')
    assert not marker.exists()
    assert files_under(store) == before
    assert (project / "mlpm.lock").read_text() == lock


def test_serve_runner_refuses_unsafe_torchscript(registry, project, tmp_path):
    from mlpm.errors import UnsafeModel
    from mlpm.loading import runner_for
    from mlpm.project import Project
    from mlpm.trust import UntrustedCode

    marker = tmp_path / "serve-marker"
    model = evil_torchscript(tmp_path / "build" / "model.pt", marker)
    folder = package(tmp_path / "pkg", "served", ("torchscript", model))
    text = (folder / "mlpm.toml").read_text()
    (folder / "mlpm.toml").write_text(text.replace('[[package.artifacts]]', textwrap.dedent('''
        [[package.interface.signatures]]
        name = "forward"
        inputs = [{name = "x", dtype = "float32", shape = ["batch", 4]}]
        outputs = [{name = "y", dtype = "float32", shape = ["batch", 3]}]

        [[package.artifacts]]'''), 1))
    publish_and_install(registry, project, folder, "served")
    with pytest.raises(UntrustedCode):
        runner_for(Project.find(project), "served")
    with pytest.raises(UnsafeModel, match="calls torch.save"):
        runner_for(Project.find(project), "served", trust=True)
    result = run_mlpm("serve", "served", "--port", "0", "--trust", cwd=project)
    assert_clean_error(result, 1, "served@1.0.0 is a TorchScript model that calls torch.save")
    assert not marker.exists()


# -- exported programs ----------------------------------------------------------------------


def test_the_exported_program_attack_is_real_without_mlpm(tmp_path):
    marker = tmp_path / "plain-marker"
    archive = evil_exported_program(tmp_path / "evil.pt2", marker)
    code = "import sys, torch; torch.export.load(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(archive)], capture_output=True)
    assert marker.read_text() == "ran"


def test_exported_program_with_a_code_pickle_is_refused(registry, project, tmp_path,
                                                        isolated):
    import mlpm
    from mlpm.errors import UnsafeModel
    from mlpm.trust import UntrustedCode

    marker = tmp_path / "ep-marker"
    archive = evil_exported_program(tmp_path / "build" / "model.pt2", marker)
    folder = package(tmp_path / "pkg", "exported", ("exported-program", archive),
                     kind="exported-program")
    source = publish_and_install(registry, project, folder, "exported")
    with pytest.raises(UntrustedCode, match="is an exported program, which runs"):
        mlpm.load("exported", project_dir=project)
    with pytest.raises(UnsafeModel) as err:
        mlpm.load("exported", project_dir=project, trust=True)
    assert "has a pickle that imports builtins.exec (" in str(err.value)
    assert "which can run any code when unpickled" in str(err.value)
    assert source in trusted_file(isolated).read_text()
    # a conversion from it is refused the same way, by the command line too
    result = run_mlpm("convert", "exported", "--to", "onnx", cwd=project)
    assert_clean_error(result, 1, "imports builtins.exec", "allow-unsafe-code")
    assert not marker.exists()


def test_benign_exported_program_loads_once_trusted(registry, project, tmp_path):
    torch = needs("torch")

    import mlpm

    archive = exported_program(tmp_path / "build" / "model.pt2")
    folder = package(tmp_path / "pkg", "exported-ok", ("exported-program", archive),
                     kind="exported-program")
    publish_and_install(registry, project, folder, "exported-ok")
    module = mlpm.load("exported-ok", project_dir=project, trust=True)
    assert module(torch.ones(2, 4)).shape == (2, 3)


# -- SavedModels ----------------------------------------------------------------------------


def test_savedmodel_that_writes_files_is_refused(registry, project, tmp_path, savedmodels,
                                                 isolated, monkeypatch):
    import mlpm
    from mlpm.errors import UnsafeModel
    from mlpm.trust import UntrustedCode

    root, marker = savedmodels
    tf_was_loaded = "tensorflow" in sys.modules  # by an earlier test in this process
    folder = package(tmp_path / "pkg", "tf-writer", ("savedmodel", root / "writer" /
                     "saved_model"), framework="tensorflow", kind="savedmodel")
    source = publish_and_install(registry, project, folder, "tf-writer")
    with pytest.raises(UntrustedCode) as err:
        mlpm.load("tf-writer", project_dir=project)
    assert str(err.value).startswith(f"tf-writer@1.0.0 is a SavedModel, which runs its "
                                     f"publisher's code when loaded, from '{source}'")
    with pytest.raises(UntrustedCode):
        mlpm.keras_layer("tf-writer", project_dir=project)
    with monkeypatch.context() as env:
        env.setenv("MLPM_TRUST", source)
        with pytest.raises(UnsafeModel) as err:
            mlpm.load("tf-writer", project_dir=project, signature="serving_default")
        assert "is a SavedModel that uses the op WriteFile (saved_model.pb, function " \
            "__inference_serving_default_" in str(err.value)
        assert "which writes files, so mlpm refused to hand it to TensorFlow" in str(err.value)
        with pytest.raises(UnsafeModel):
            mlpm.keras_layer("tf-writer", project_dir=project)
    assert tf_was_loaded or "tensorflow" not in sys.modules  # refused before TF was imported
    # Conversions and install --context check the same way, and change nothing.
    store, lock = files_under(isolated / "cache"), (project / "mlpm.lock").read_text()
    result = run_mlpm("convert", "tf-writer", "--to", "tflite", cwd=project)
    assert_clean_error(result, 1, "is a SavedModel, which runs", f"mlpm trust {source}")
    result = run_mlpm("install", "tf-writer", "--context", "edge", "--trust", cwd=project)
    assert_clean_error(result, 1, "uses the op WriteFile")
    assert files_under(isolated / "cache") == store
    assert (project / "mlpm.lock").read_text() == lock
    assert not marker.exists()


def test_savedmodel_checkpoint_ops_outside_the_saver_are_refused(savedmodels):
    from mlpm.codescan import scan

    root, _ = savedmodels
    found = [str(f) for f in scan("savedmodel", root / "checkpointer" / "saved_model")]
    assert len(found) == 1 and found[0].startswith("uses the op SaveV2 outside the model's "
                                                   "saver (saved_model.pb, function ")
    # the saver's own SaveV2 / RestoreV2 / MergeV2Checkpoints are what every model has
    assert scan("savedmodel", root / "benign" / "saved_model") == []


def test_benign_savedmodel_loads_and_serves_once_trusted(registry, project, tmp_path,
                                                         savedmodels):
    from mlpm.loading import runner_for
    from mlpm.project import Project

    root, _ = savedmodels
    folder = package(tmp_path / "pkg", "tf-ok", ("savedmodel", root / "benign" /
                     "saved_model"), framework="tensorflow", kind="savedmodel")
    source = publish_and_install(registry, project, folder, "tf-ok")
    assert run_mlpm("trust", source, cwd=project).code == 0
    runner = runner_for(Project.find(project), "tf-ok")
    assert type(runner).__name__ == "SavedModelRunner"


# -- the scanners themselves ----------------------------------------------------------------


def test_scans_import_no_framework(tmp_path, savedmodels):
    root, _ = savedmodels
    ts = evil_torchscript(tmp_path / "m.pt", tmp_path / "never")
    ep = evil_exported_program(tmp_path / "m.pt2", tmp_path / "never")
    code = textwrap.dedent(f'''
        import sys
        from pathlib import Path
        from mlpm.codescan import scan
        print(len(scan("torchscript", Path({str(ts)!r}))),
              len(scan("exported-program", Path({str(ep)!r}))),
              len(scan("savedmodel", Path({str(root / "writer" / "saved_model")!r}))),
              sorted(m for m in ("torch", "tensorflow", "onnxruntime") if m in sys.modules))
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["2", "1", "1", "[]"], out.stderr


def test_torchscript_custom_and_network_operators_are_named(tmp_path):
    from mlpm.codescan import scan

    model = make_torchscript(tmp_path / "m.pt", 1)
    with zipfile.ZipFile(model) as src:
        names = src.namelist()
        code = next(n for n in names if "/code/" in n and n.endswith(".py"))
        patched = tmp_path / "patched.pt"
        with zipfile.ZipFile(patched, "w") as out:
            for name in names:
                data = src.read(name)
                if name == code:
                    data += (b"\ndef sneaky(x: Tensor) -> Tensor:\n"
                             b"  _0 = ops.my_lib.run_shell(x)\n"
                             b"  _1 = getattr(torch, 'save')(x, '/tmp/x')\n"
                             b"  return torch . ops . c10d . send(x)\n")
                out.writestr(name, data)
    found = sorted(str(f) for f in scan("torchscript", patched))
    assert found == [
        f"calls the custom operator my_lib::run_shell ({code}), which comes from a native "
        "library mlpm cannot check",
        f"calls torch.ops.c10d.send ({code}), which communicates with other processes",
        f"calls torch.save ({code}), which writes a file"]
    assert scan("torchscript", model) == []


def test_pickled_members_of_exported_programs_are_scanned_like_torch_reads_them(tmp_path):
    from mlpm.codescan import scan

    good = exported_program(tmp_path / "m.pt2")
    assert scan("exported-program", good) == []
    # a tensor saved with torch.save (a zip inside the zip) whose pickle imports os.system
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00true"
                   b"\x85R.")
    bad = tmp_path / "bad.pt2"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("m/data/constants/custom_obj_0", code_pickle("builtins.eval", "1"))
        out.writestr("m/data/weights/weight_9", inner.getvalue())
    found = sorted(str(f) for f in scan("exported-program", bad))
    assert found == [
        "has a pickle that imports builtins.eval (m/data/constants/custom_obj_0), "
        "which can run any code when unpickled",
        "has a pickle that imports posix.system (m/data/weights/weight_9!archive/data.pkl), "
        "which can run any code when unpickled"]


def test_raw_weights_that_look_like_pickles_are_not_findings(tmp_path):
    """Raw tensor bytes may start like a pickle, a zip or a Windows program by chance;
    torch reads them as numbers, so the scan must not refuse a model for that."""
    from mlpm.codescan import scan

    good = exported_program(tmp_path / "m.pt2")
    odd = tmp_path / "odd.pt2"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(odd, "w") as out:
        weights = sorted(n for n in src.namelist() if "/data/weights/weight_" in n)
        starts = iter([b"\x80\x02\xff\xff", b"MZ\x90\x00", b"PK\x01\x02"])
        for info in src.infolist():
            data = src.read(info)
            if info.filename in weights:
                data = next(starts, data[:4]) + data[4:]
            out.writestr(info, data)
    assert len(weights) == 2
    assert scan("exported-program", odd) == []
    code = ("import sys, torch\n"
            "print(torch.export.load(sys.argv[1]).module()(torch.ones(2, 4)).shape)")
    out = subprocess.run([sys.executable, "-c", code, str(odd)], capture_output=True, text=True)
    assert out.stdout.strip() == "torch.Size([2, 3])", out.stderr[-1000:]


def test_a_member_the_scan_cannot_read_is_a_finding_not_a_crash(tmp_path):
    """A code member stored with a compression method Python's zipfile does not know:
    the scan cannot check it, so it says so (and the load is refused) instead of failing
    with a traceback or passing it unread."""
    import struct

    from mlpm.codescan import scan

    model = make_torchscript(tmp_path / "m.pt", 1)
    data = bytearray(model.read_bytes())
    with zipfile.ZipFile(model) as archive:
        pos = archive.start_dir
        code = next(n for n in archive.namelist() if "/code/" in n and n.endswith(".py"))
    while data[pos:pos + 4] == b"PK\x01\x02":  # central directory entries
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if data[pos + 46:pos + 46 + name_len].decode() == code:
            struct.pack_into("<H", data, pos + 10, 99)  # compression method 99 (AES)
        pos += 46 + name_len + extra_len + comment_len
    odd = tmp_path / "odd.pt"
    odd.write_bytes(bytes(data))
    (found,) = scan("torchscript", odd)
    assert found.what.startswith("holds a member mlpm cannot read (")
    assert (found.where, found.why) == (code, "cannot be checked")
