"""SavedModel routes: to TFLite (TensorFlow's converter) and to ONNX (tf2onnx).

Both convert one signature at a time: a TFLite conversion of several signatures at
once has been seen to keep only one of them silently, so each signature gets its own
file and the interpreter is asked to confirm the signature survived. tf2onnx runs as
its command line (its Python API follows Keras 3 and not SavedModels), all signatures
in one subprocess so that TensorFlow is imported there once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from mlpm.convert.errors import ConversionError, reason
from mlpm.convert.samples import TensorSpec, sample_inputs, shapes_of

OPSET = 17

# Runs tf2onnx's command line once per (saved model, signature, output) job.
_TF2ONNX = """
import json, sys
from tf2onnx import convert
for saved_model, signature, output, opset in json.loads(sys.argv[1]):
    sys.argv = ["tf2onnx.convert", "--saved-model", saved_model, "--signature_def", signature,
                "--output", output, "--opset", str(opset)]
    print("mlpm: converting signature", signature, file=sys.stderr, flush=True)
    convert.main()
"""


def _tf():
    from mlpm.frameworks.tensorflow import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    return tf


def file_names(signatures: list[str], target: str) -> dict[str, str]:
    """Signature -> file name: ``model.<ext>`` for one, ``<signature>.<ext>`` for several."""
    from mlpm.convert.routes import FILE_NAMES

    if len(signatures) == 1:
        return {signatures[0]: FILE_NAMES[target]}
    suffix = Path(FILE_NAMES[target]).suffix
    return {s: re.sub(r"[^A-Za-z0-9_.-]", "_", s) + suffix for s in signatures}


def build(source, target: str, folder: Path, plans: dict[str, list[TensorSpec]],
          progress) -> dict:
    """Convert every signature in ``plans`` into ``folder``; returns, per signature, the
    outputs of the original and of the conversion on the same samples."""
    import warnings

    label = source.label
    names = file_names(list(plans), target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        tf = _tf()
        progress(f"loading {label}")
        try:
            loaded = tf.saved_model.load(str(source.path))
        except Exception as exc:
            raise ConversionError(f"cannot load the SavedModel {label} to convert it: "
                                  f"{reason(exc)}.") from None
        originals = {}
        for sig, specs in plans.items():
            if sig not in loaded.signatures:
                raise ConversionError(f"{label} has no signature '{sig}'; it has "
                                      f"{', '.join(sorted(loaded.signatures)) or 'none'}.")
            samples = sample_inputs(specs)
            fn = loaded.signatures[sig]
            expected = [_run_signature(tf, fn, sample, label, sig) for sample in samples]
            originals[sig] = (samples, expected)
        progress(f"converting {label} to {target} ({len(plans)} signature(s))")
        if target == "tflite":
            runners = {sig: _tflite(tf, source.path, sig, folder / names[sig], label)
                       for sig in plans}
        else:
            _tf2onnx(source.path, {sig: folder / names[sig] for sig in plans}, label)
            if target == "js":  # the ONNX file, run where a JavaScript application runs it
                from mlpm.convert.js import runner

                runners = {sig: runner(folder / names[sig], label, named=True) for sig in plans}
            else:
                runners = {sig: _onnx_runner(folder / names[sig], label, sig) for sig in plans}
        progress(f"checking parity of {label} as {target}")
        per = {}
        for sig, specs in plans.items():
            samples, expected = originals[sig]
            actual = []
            for sample in samples:
                try:
                    actual.append(runners[sig](sample))
                except Exception as exc:
                    raise ConversionError(
                        f"the {target} conversion of {label} (signature '{sig}') fails on a "
                        f"sample input {shapes_of([sample])[0]} that the original takes: "
                        f"{reason(exc)}; nothing was kept.") from None
            per[sig] = {"expected": expected, "actual": actual,
                        "inputs": [s.to_json() for s in specs],
                        "sample_shapes": shapes_of(samples)}
    return {"files": [names[s] for s in plans], "signature_files": names, "per_signature": per}


def _run_signature(tf, fn, sample: dict, label: str, sig: str) -> dict:
    try:
        out = fn(**{name: tf.constant(value) for name, value in sample.items()})
    except Exception as exc:
        raise ConversionError(
            f"{label} itself fails on a sample input {shapes_of([sample])[0]} (signature "
            f"'{sig}'): {reason(exc)}; pass --input-shape with the shape it takes.") from None
    return {name: value.numpy() for name, value in out.items()}


def _interpreter(tf, path: Path):
    from mlpm.frameworks.tflite import interpreter  # the one mlpm.load runs, too

    return interpreter(path)


def _tflite(tf, saved_model: Path, sig: str, file: Path, label: str):
    """Convert one signature; return a runner, after checking the signature survived."""
    try:
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model),
                                                             signature_keys=[sig])
        file.write_bytes(converter.convert())
    except Exception as exc:
        raise ConversionError(f"the TFLite converter cannot convert the signature '{sig}' of "
                              f"{label}: {reason(exc)}; publish a TFLite artifact "
                              "instead.") from None
    interpreter = _interpreter(tf, file)
    kept = interpreter.get_signature_list()
    if sig not in kept:
        raise ConversionError(f"the TFLite converter dropped the signature '{sig}' of {label} "
                              f"(the result has {', '.join(kept) or 'none'}); nothing was "
                              "kept.")
    runner = interpreter.get_signature_runner(sig)
    return lambda sample: runner(**sample)


def _tf2onnx(saved_model: Path, outputs: dict[str, Path], label: str) -> None:
    jobs = [[str(saved_model), sig, str(file), OPSET] for sig, file in outputs.items()]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", _TF2ONNX, json.dumps(jobs)], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not all(f.is_file() for f in outputs.values()):
        started = re.findall(r"mlpm: converting signature (.+)", proc.stderr)
        which = f" (signature '{started[-1]}')" if started else ""
        raise ConversionError(f"tf2onnx cannot convert {label}{which}: "
                              f"{last_error_line(proc.stderr)}; publish an ONNX artifact "
                              "instead.")


def last_error_line(stderr: str) -> str:
    """The last line of a converter's stderr that is not log noise."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in reversed(lines):
        if not re.match(r"^(\d{4}-\d\d-\d\d|[WI]\d{4} |WARNING: All log)", line):
            return line if len(line) <= 300 else line[:297] + "..."
    return lines[-1] if lines else "it exited without a message"


def _onnx_runner(file: Path, label: str, sig: str):
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ConversionError(f"ONNX Runtime cannot load the ONNX conversion of {label} "
                              f"(signature '{sig}'): {reason(exc)}; nothing was kept.") from None
    feeds = {i.name.removesuffix(":0"): i.name for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]

    def run(sample: dict) -> dict:
        feed = {feeds.get(name, name): value for name, value in sample.items()}
        return dict(zip(outputs, session.run(None, feed), strict=True))

    return run
