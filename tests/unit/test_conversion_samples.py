"""Sample inputs from files and declared values (mlpm/convert/samples.py), and the reason a
TorchScript model gives when it fails (mlpm/convert/errors.py)."""

from __future__ import annotations

import zipfile

import pytest

from mlpm.convert import ConversionError
from mlpm.convert.errors import reason
from mlpm.convert.samples import (
    MAX_PUBLISHED_SAMPLES_BYTES,
    Samples,
    declared_values,
    input_specs,
    sample_inputs,
    sources,
)
from tests.conftest import needs

np = needs("numpy")

VAD = {"name": "forward",
       "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 16]},
                  {"name": "sr", "dtype": "int64", "shape": []}],
       "outputs": [{"name": "speech", "dtype": "float32", "shape": ["batch", 2]}]}


def test_a_torchscript_failure_is_told_by_its_last_line_and_the_line_that_raised():
    torch = needs("torch")

    class Net(torch.nn.Module):
        def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
            if sr not in (8000, 16000):
                raise ValueError("Supported sampling rates: [8000, 16000]")
            return x

    with pytest.raises(Exception) as caught:
        torch.jit.script(Net())(torch.zeros(1), 3)
    assert str(caught.value).startswith("The following operation failed")
    text = reason(caught.value)
    assert text.startswith("ValueError: Supported sampling rates: [8000, 16000] (at ")
    assert 'raise ValueError("Supported sampling rates: [8000, 16000]")' in text
    assert "TorchScript interpreter" not in text


def test_other_errors_keep_their_first_line():
    assert reason(RuntimeError("shapes do not match\nmore detail")) == \
        "RuntimeError: shapes do not match"


def test_declared_values_are_read_and_checked():
    iface = {"sr": {"values": [8000, 16000]}, "labels": "speech", "notes": {"values": [1]}}
    assert declared_values(iface) == {"sr": [8000, 16000]}
    with pytest.raises(ValueError, match="'rate', which is not an input"):
        declared_values({"rate": {"values": [1]}}, ["x", "sr"])
    with pytest.raises(ValueError, match="list of 1 to 64"):
        declared_values({"sr": {"values": []}}, ["sr"])
    with pytest.raises(ValueError, match="all be numbers"):
        declared_values({"sr": {"values": [16000, "fast"]}}, ["sr"])
    with pytest.raises(ValueError, match="unknown keys"):
        declared_values({"sr": {"values": [1], "range": [0, 1]}}, ["sr"])


def test_declared_values_fill_their_input_and_noise_the_rest():
    specs = input_specs(VAD, None, "vad@1.0.0", Samples(values={"sr": [8000, 16000]}))
    samples = sample_inputs(specs)
    assert [s["sr"].item() for s in samples] == [8000, 16000]  # a tensor input: in turn
    assert [s["x"].shape for s in samples] == [(1, 16), (2, 16)]
    assert sources(specs, None)["inputs"] == "publisher-values"
    specs[1].scalar = "int"  # forward(sr: int): a converter fixes it, so one value
    assert [s["sr"].item() for s in sample_inputs(specs)] == [8000, 8000]


def test_a_samples_file_gives_values_and_shapes_and_covers_both_batch_sizes(tmp_path):
    file = tmp_path / "speech.npz"
    x = np.arange(3 * 16, dtype=np.float32).reshape(3, 16)
    np.savez(file, x=x, sr=np.int64(16000))
    samples = Samples.from_file(file)
    assert samples.origin.startswith("user:sha256:") and samples.label == "speech.npz (yours)"
    specs = input_specs(VAD, None, "vad@1.0.0", samples)
    runs = sample_inputs(specs)
    assert [r["x"].shape for r in runs] == [(3, 16), (1, 16)]
    assert np.array_equal(runs[0]["x"], x) and np.array_equal(runs[1]["x"], x[:1])
    used = sources(specs, samples)
    assert used["inputs"] == samples.origin and used["text"] == "speech.npz (yours)"

    np.savez(file, x=x[:1])
    specs = input_specs(VAD, None, "vad@1.0.0", Samples.from_file(file, publisher=True))
    runs = sample_inputs(specs)  # batch 1 given: batch 2 repeats it (the export example)
    assert [r["x"].shape for r in runs] == [(1, 16), (2, 16)]
    assert np.array_equal(runs[1]["x"], np.concatenate([x[:1], x[:1]]))
    used = sources(specs, Samples.from_file(file, publisher=True))
    assert used["inputs"] == "publisher-samples"
    assert used["text"] == "speech.npz (publisher) (x); random values (sr)"


def test_a_samples_file_must_fit_the_signature(tmp_path):
    file = tmp_path / "s.npz"
    np.savez(file, x=np.zeros((1, 16), np.float64))
    with pytest.raises(ConversionError, match=r"is float64, but .* \.astype\('float32'\)"):
        input_specs(VAD, None, "vad@1.0.0", Samples.from_file(file))
    np.savez(file, x=np.zeros((1, 15), np.float32))
    with pytest.raises(ConversionError, match=r"shape \[1, 15\], but the signature"):
        input_specs(VAD, None, "vad@1.0.0", Samples.from_file(file))
    np.savez(file, audio=np.zeros((1, 16), np.float32))
    with pytest.raises(ConversionError, match="has an array 'audio'.*inputs are x, sr"):
        input_specs(VAD, None, "vad@1.0.0", Samples.from_file(file))
    two = {**VAD, "inputs": [*VAD["inputs"][:1],
                             {"name": "y", "dtype": "float32", "shape": ["batch", 2]}]}
    np.savez(file, x=np.zeros((1, 16), np.float32), y=np.zeros((2, 2), np.float32))
    with pytest.raises(ConversionError, match=r"different batch sizes \(x: 1, y: 2\)"):
        input_specs(two, None, "vad@1.0.0", Samples.from_file(file))


def test_a_samples_file_without_a_signature_gives_the_shapes(tmp_path):
    file = tmp_path / "s.npz"
    np.savez(file, x=np.zeros((1, 16), np.float32))
    (spec,) = input_specs(None, None, "m@1.0.0", Samples.from_file(file))
    assert (spec.name, spec.dtype, spec.dims, spec.batch) == ("x", "float32", [1, 16], False)
    (spec,) = input_specs(None, {"x": [-1, 16]}, "m@1.0.0", Samples.from_file(file))
    assert spec.batch  # --input-shape x=-1,16 makes its batch variable


def test_hostile_or_wrong_samples_files_are_refused(tmp_path):
    bad = tmp_path / "objects.npz"
    np.savez(bad, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ConversionError, match="Python objects, which mlpm never unpickles"):
        Samples.from_file(bad)

    text = tmp_path / "text.npz"
    text.write_text("x=1\n")
    with pytest.raises(ConversionError, match="not an .npz file"):
        Samples.from_file(text)

    strings = tmp_path / "strings.npz"
    np.savez(strings, x=np.array(["a", "b"]))
    with pytest.raises(ConversionError, match="'x' .* is <U1; sample inputs are numbers"):
        Samples.from_file(strings)

    big = tmp_path / "big.npz"
    np.savez(big, x=np.zeros(MAX_PUBLISHED_SAMPLES_BYTES // 4 + 1, np.float32))
    with pytest.raises(ConversionError, match="more than the 16 MiB a samples file may have"):
        Samples.from_file(big, publisher=True)

    bomb = tmp_path / "bomb.npz"  # a small file that unpacks to more than the bound
    np.savez_compressed(bomb, x=np.zeros(MAX_PUBLISHED_SAMPLES_BYTES // 4 + 1, np.float32))
    assert bomb.stat().st_size < 1 << 20
    with pytest.raises(ConversionError, match="unpacks to more than"):
        Samples.from_file(bomb, publisher=True)

    other = tmp_path / "other.npz"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("x.txt", "1")
    with pytest.raises(ConversionError, match="not an .npz of arrays"):
        Samples.from_file(other)


def test_a_lock_records_what_parity_ran_on_and_old_tables_still_read():
    from mlpm.project import LockedConversion

    old = LockedConversion.from_toml({"format": "onnx", "key": "a" * 64, "parity": {
        "max_abs": 9.5e-06, "max_rel": 2e-06, "tolerance": 0.0001, "samples": 2}})
    assert (old.parity or {}).get("inputs", "random") == "random"
    new = LockedConversion.from_toml({"format": "onnx", "key": "b" * 64, "parity": {
        "inputs": "publisher-samples", "max_abs": 9.8e-04, "tolerance": 0.01, "samples": 2}})
    assert new.to_toml()["parity"]["inputs"] == "publisher-samples"
    assert LockedConversion.from_toml(new.to_toml()).parity == new.parity
