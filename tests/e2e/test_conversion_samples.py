"""Conversions of models that need meaningful inputs, and parity measured on real ones.

A sample-rate-dependent TorchScript model rejects noise: the error says torch's real
reason, and `--sample FILE.npz` or the publisher's declared values make it convert. A
model whose conversion error grows with the signal is checked on the publisher's
`samples.npz`, which the report names and mlpm.lock records."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from tests.conftest import assert_clean_error, needs, run_mlpm

torch = needs("torch")
needs("onnxscript")
needs("onnxruntime")
np = needs("numpy")


class VoiceActivity(torch.nn.Module):
    """A voice-activity detector's calling convention: audio frames and their sample rate."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 2)

    def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
        if sr not in (8000, 16000):
            raise ValueError("Supported sampling rates: [8000, 16000]")
        scale = 1.0 if sr == 16000 else 2.0
        return torch.sigmoid(self.linear(x) * scale)


class FrameEnergy(torch.nn.Module):
    """Energy of filtered frames: its float32 rounding error grows with the signal's level."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 8, 64, stride=32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.unsqueeze(1)).pow(2).sum(-1)


def scripted(model: type[torch.nn.Module], file: Path) -> Path:
    torch.manual_seed(0)  # the same weights, so the same conversion error, in every run
    file.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(model().eval()), str(file))
    return file


def package(folder: Path, name: str, version: str, model: Path, extra: str = "") -> Path:
    """A TorchScript package folder; ``extra`` is TOML appended to its mlpm.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pt").write_bytes(model.read_bytes())
    (folder / "mlpm.toml").write_text(textwrap.dedent(f'''
        [package]
        name = "{name}"
        version = "{version}"
        framework = "torch"
        kind = "torchscript"
        files = {{ torchscript = "model.pt" }}
        ''') + textwrap.dedent(extra))
    return folder


def publish(registry, folder: Path):
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert result.code == 0, result.err
    return result


def app(registry, project: Path) -> Path:
    project.mkdir(exist_ok=True)
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    return project


def conversion(project: Path, name: str) -> dict:
    lock = tomllib.loads((project / "mlpm.lock").read_text())
    (conv,) = next(p for p in lock["package"] if p["name"] == name)["conversions"]
    return conv


def tone(frequency: float, samples: int, level: float = 1.0) -> np.ndarray:
    t = np.arange(samples) / 16000
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_a_sample_rate_model_says_why_it_fails_and_converts_with_a_sample(registry, project,
                                                                          tmp_path):
    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    publish(registry, package(tmp_path / "vad", "vad", "1.0.0", model))
    app(registry, project)
    assert run_mlpm("install", "vad", cwd=project).code == 0

    # its signature is read from the TorchScript file: x is a tensor, sr a Python int
    failed = run_mlpm("convert", "vad", "--to", "onnx", "--trust", "--input-shape", "x=1,16",
                      cwd=project)
    assert_clean_error(failed, 1, "ValueError: Supported sampling rates: [8000, 16000]",
                       "--sample FILE.npz")
    assert "The following operation failed" not in failed.err
    assert not (project / "mlpm.lock").read_text().count("[[package.conversions]]")

    speech = tmp_path / "speech.npz"
    np.savez(speech, x=tone(440, 16)[None], sr=np.int64(16000))
    result = run_mlpm("convert", "vad", "--to", "onnx", "--trust", "--sample", str(speech),
                      cwd=project)
    assert result.code == 0, result.err
    assert "parity on speech.npz (yours): max abs diff" in result.out
    assert "sr is fixed at 16000 in the onnx model" in result.err
    sha = hashlib.sha256(speech.read_bytes()).hexdigest()
    conv = conversion(project, "vad")
    assert conv["parity"]["inputs"] == f"user:sha256:{sha}"
    assert conv["parity"]["max_abs"] <= conv["parity"]["tolerance"]

    # the ONNX model takes the audio alone and computes what the original does at 16 kHz
    code = textwrap.dedent(f"""
        import json, numpy as np, torch, mlpm
        session = mlpm.load("vad", format="onnx")
        x = np.load({str(speech)!r})["x"]
        original = torch.jit.load({str(model)!r})(torch.from_numpy(x), 16000)
        diff = float(np.abs(session.run(None, {{"x": x}})[0] - original.detach().numpy()).max())
        print(json.dumps([[i.name for i in session.get_inputs()], diff]))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, env=dict(os.environ))
    assert out.returncode == 0, out.stderr[-3000:]
    names, diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert names == ["x"] and diff <= 1e-4


def test_a_sample_that_does_not_fit_the_model_is_refused_in_one_sentence(registry, project,
                                                                          tmp_path):
    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    publish(registry, package(tmp_path / "vad", "vad", "1.0.0", model))
    app(registry, project)
    assert run_mlpm("install", "vad", cwd=project).code == 0

    wrong_name = tmp_path / "wrong-name.npz"
    np.savez(wrong_name, audio=tone(440, 16)[None], sr=np.int64(16000))
    result = run_mlpm("convert", "vad", "--to", "onnx", "--trust", "--sample", str(wrong_name),
                      cwd=project)
    assert_clean_error(result, 1, "has an array 'audio'", "its inputs are x, sr")

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, x=np.array([{"not": "numbers"}], dtype=object), sr=np.int64(16000))
    result = run_mlpm("convert", "vad", "--to", "onnx", "--trust", "--sample", str(pickled),
                      cwd=project)
    assert_clean_error(result, 1, "Python objects, which mlpm never unpickles")

    not_npz = tmp_path / "speech.npz"
    not_npz.write_text("x,sr\n0.1,16000\n")
    result = run_mlpm("convert", "vad", "--to", "onnx", "--trust", "--sample", str(not_npz),
                      cwd=project)
    assert_clean_error(result, 1, "is not an .npz file", "numpy.savez")
    assert "conversions" not in (project / "mlpm.lock").read_text()


VAD_INTERFACE = '''
    [package.interface]
    sr = { values = [16000] }

    [[package.interface.signatures]]
    name = "forward"
    inputs = [{ name = "x", dtype = "float32", shape = ["batch", 16] },
              { name = "sr", dtype = "int64", shape = [] }]
    outputs = [{ name = "speech", dtype = "float32", shape = ["batch", 2] }]
'''


def test_declared_values_let_an_install_convert_a_sample_rate_model(registry, project,
                                                                    tmp_path):
    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    publish(registry, package(tmp_path / "vad", "vad", "1.0.0", model, VAD_INTERFACE))
    app(registry, project)

    info = run_mlpm("info", "vad", "--json", cwd=project)
    assert info.code == 0, info.err
    assert '"sr": {"values": [16000]}' in json.dumps(info.json)

    result = run_mlpm("install", "vad", "--format", "onnx", "--trust", cwd=project)
    assert result.code == 0, result.err
    conv = conversion(project, "vad")
    assert conv["format"] == "onnx" and conv["parity"]["inputs"] == "publisher-values"
    assert conv["parity"]["samples"] == 2  # batch sizes 1 and 2, sr = 16000 in both


def test_declared_values_must_name_an_input_of_the_package(registry, tmp_path):
    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    folder = package(tmp_path / "vad", "vad", "1.0.0", model,
                     VAD_INTERFACE.replace("sr = { values", "rate = { values"))
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert_clean_error(result, 1, "declares values for 'rate', which is not an input",
                       "x, sr")

    folder = package(tmp_path / "vad2", "vad", "1.0.0", model,
                     VAD_INTERFACE.replace("[16000]", "[16000.5]"))
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert_clean_error(result, 1, "does not fit the input 'sr', which is int64")


ENERGY_INTERFACE = '''
    [[package.interface.signatures]]
    name = "forward"
    inputs = [{ name = "x", dtype = "float32", shape = ["batch", 4000] }]
    outputs = [{ name = "energy", dtype = "float32", shape = ["batch", 8] }]
'''


def test_parity_runs_on_the_publishers_samples_and_the_lock_records_them(registry, tmp_path):
    model = scripted(FrameEnergy, tmp_path / "build" / "energy.pt")
    publish(registry, package(tmp_path / "v100", "energy", "1.0.0", model, ENERGY_INTERFACE))
    v101 = package(tmp_path / "v101", "energy", "1.0.1", model,
                   'samples = "samples.npz"\n' + ENERGY_INTERFACE)
    np.savez(v101 / "samples.npz", x=tone(440, 4000, level=16.0)[None])
    # samples are no model format: adding them is a packaging change, a PATCH release
    published = publish(registry, v101)
    assert "published energy@1.0.1 (torchscript," in published.out, published.out

    on_noise = app(registry, tmp_path / "noise")
    assert run_mlpm("install", "energy@1.0.0", cwd=on_noise).code == 0
    result = run_mlpm("convert", "energy", "--to", "onnx", "--trust", cwd=on_noise)
    assert result.code == 0, result.err
    assert "parity on random values: max abs diff" in result.out
    assert "pass --sample FILE.npz with real inputs" in result.err
    noise = conversion(on_noise, "energy")["parity"]
    assert noise["inputs"] == "random"

    on_tone = app(registry, tmp_path / "tone")
    assert run_mlpm("install", "energy@1.0.1", cwd=on_tone).code == 0
    result = run_mlpm("convert", "energy", "--to", "onnx", "--trust", cwd=on_tone)
    # noise passed the default 1e-4; the publisher's real signal shows the larger gap
    assert_clean_error(result, 1, "differs from the original by up to",
                       "on samples.npz (publisher)", "--tolerance")
    result = run_mlpm("convert", "energy", "--to", "onnx", "--trust", "--tolerance", "1e-2",
                      cwd=on_tone)
    assert result.code == 0, result.err
    assert "parity on samples.npz (publisher): max abs diff" in result.out
    assert "<= 0.01" in result.out
    real = conversion(on_tone, "energy")["parity"]
    assert real["inputs"] == "publisher-samples" and real["tolerance"] == 0.01
    assert real["max_abs"] > 10 * noise["max_abs"]
    assert noise["max_abs"] <= 1e-4 < real["max_abs"] <= 1e-2
    # info shows the samples apart from the formats, and what the recorded parity ran on
    info = run_mlpm("info", "energy", cwd=on_tone)
    assert info.code == 0, info.err
    formats = info.out.split("formats:\n", 1)[1].split("\n")
    assert formats[0].split()[0] == "torchscript" and not formats[1].startswith("  "), info.out
    assert "samples:      samples.npz" in info.out and "(parity inputs)" in info.out
    assert "(tolerance 0.01, on the publisher's samples)" in info.out, info.out
    listed = run_mlpm("list", "--json", cwd=on_tone)
    assert [row["formats"] for row in listed.json["packages"]] == [["torchscript"]], listed.out
    # the samples file is data: the audit has nothing to say about it
    audit = run_mlpm("audit", cwd=on_tone)
    assert audit.code == 0, audit.out + audit.err


def test_samples_that_do_not_fit_the_interface_are_refused_at_publish(registry, tmp_path):
    model = scripted(FrameEnergy, tmp_path / "build" / "energy.pt")
    folder = package(tmp_path / "pkg", "energy", "1.0.0", model,
                     'samples = "samples.npz"\n' + ENERGY_INTERFACE)
    np.savez(folder / "samples.npz", x=tone(440, 4000).astype(np.float64)[None])
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert_clean_error(result, 1, "samples.npz cannot be the package's samples",
                       "is float64", "astype('float32')")

    np.savez(folder / "samples.npz", x=tone(440, 3999)[None])
    result = run_mlpm("publish", str(folder), "--registry", str(registry.root),
                      cwd=folder.parent)
    assert_clean_error(result, 1, "has shape [1, 3999]", "[None, 4000]")
    assert not list((registry.root / "index").rglob("energy"))


def test_install_with_a_context_converts_on_the_users_sample(registry, project, tmp_path):
    model = scripted(VoiceActivity, tmp_path / "build" / "vad.pt")
    publish(registry, package(tmp_path / "vad", "vad", "1.0.0", model))
    app(registry, project)
    speech = tmp_path / "speech.npz"
    np.savez(speech, x=tone(440, 16)[None], sr=np.int64(8000))
    result = run_mlpm("install", "vad", "--context", "onnx", "--trust", "--sample",
                      str(speech), cwd=project)
    assert result.code == 0, result.err
    conv = conversion(project, "vad")
    assert conv["parity"]["inputs"].startswith("user:sha256:")


def test_an_upgrade_checks_the_new_version_on_its_samples_and_keeps_the_lock_if_it_fails(
        registry, project, tmp_path):
    model = scripted(FrameEnergy, tmp_path / "build" / "energy.pt")
    publish(registry, package(tmp_path / "v100", "energy", "1.0.0", model, ENERGY_INTERFACE))
    app(registry, project)
    result = run_mlpm("install", "energy@1.0.0", "--format", "onnx", "--trust", cwd=project)
    assert result.code == 0, result.err
    assert conversion(project, "energy")["parity"]["inputs"] == "random"
    before = (project / "mlpm.lock").read_text()

    v101 = package(tmp_path / "v101", "energy", "1.0.1", model,
                   'samples = "samples.npz"\n' + ENERGY_INTERFACE)
    np.savez(v101 / "samples.npz", x=tone(440, 4000, level=16.0)[None])
    publish(registry, v101)
    result = run_mlpm("install", "energy@1.0.1", "--trust", cwd=project)
    assert_clean_error(result, 1, "energy@1.0.1 differs from the original",
                       "on samples.npz (publisher)")
    assert (project / "mlpm.lock").read_text() == before
