"""The runners behind `mlpm serve`: a loaded model with named, typed inputs and outputs.

``Runner`` checks named arrays against the model's signature and calls ``_run``; one
subclass per runtime (``OnnxRunner`` on ONNX Runtime, ``TorchRunner`` on a torch module,
``SavedModelRunner`` on a SavedModel signature function) loads its framework when built,
never at import time.
"""

from __future__ import annotations

from pathlib import Path

from mlpm.serve.codec import (
    RequestError,
    TensorSpec,
    check_dims,
    checked_array,
    last_line,
    quote_names,
)

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

    import numpy as np

# onnxruntime's "tensor(T)" element names that differ from numpy's
_ORT_DTYPES = {"float": "float32", "double": "float64"}


class Runner:
    """What serves predictions: a loaded model with named, typed inputs and outputs.

    Subclasses set ``platform`` and implement ``_run`` (arrays already checked against
    the signature, in the input dtypes) to return one array per output name.

    >>> runner = OnnxRunner("digits", "1.0.0", Path("digits.onnx"))  # doctest: +SKIP
    >>> runner.predict({"pixels": images})["logits"].argmax(1)  # doctest: +SKIP
    """

    platform = ""

    def __init__(self, name: str, version: str, inputs: list[dict], outputs: list[dict],
                 signature_name: str | None = None):
        self.name = name
        self.version = version
        self.signature_name = signature_name or "serving_default"
        self.inputs = [TensorSpec.from_record(t) for t in inputs]
        self.outputs = [TensorSpec.from_record(t) for t in outputs]
        self._by_name = {spec.name: spec for spec in self.inputs}

    def metadata(self) -> dict:
        """The model's name, versions, platform and tensors, as KServe's (Open Inference
        Protocol) model metadata: ``{"name": "m", "versions": ["1.0.0"], "platform":
        "onnxruntime", "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [...]}``; -1 is a variable dimension, a null shape an unknown rank."""
        return {"name": self.name, "versions": [self.version], "platform": self.platform,
                "inputs": [s.metadata() for s in self.inputs],
                "outputs": [s.metadata() for s in self.outputs]}

    def signature_def(self) -> dict:
        """The TF Serving ``signature_def`` map of this model (its one signature)."""
        return {self.signature_name: {
            "inputs": {s.name: s.tensor_info() for s in self.inputs},
            "outputs": {s.name: s.tensor_info() for s in self.outputs},
            "method_name": "tensorflow/serving/predict"}}

    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on named input arrays; one array per output name, in signature
        order. Raises ``RequestError`` for a missing or unknown name, or a dtype, rank or
        fixed dimension that does not fit the signature."""
        missing = [s.name for s in self.inputs if s.name not in inputs]
        unknown = [k for k in inputs if k not in self._by_name]
        if unknown:
            raise RequestError(f"{self.name} has no input named {quote_names(unknown)}; its inputs "
                               f"are {quote_names(self._by_name)}.")
        if missing:
            raise RequestError(f"the request is missing the input {quote_names(missing)} of "
                               f"{self.name}; its inputs are {quote_names(self._by_name)}.")
        arrays = {s.name: checked_array(s, inputs[s.name]) for s in self.inputs}
        check_dims(self.inputs, arrays)
        return self._run(arrays)

    def _run(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _name_outputs(self, values: list) -> dict:
        """Pair the model's output values with the declared output names."""
        if self.outputs and len(values) != len(self.outputs):
            declared = quote_names(s.name for s in self.outputs)
            raise RuntimeError(f"{self.name} returned {len(values)} outputs but its signature "
                               f"declares {len(self.outputs)} ({declared})")
        names = [s.name for s in self.outputs] or [f"output_{i}" for i in range(len(values))]
        return dict(zip(names, values, strict=True))


class OnnxRunner(Runner):
    """An ONNX model on ONNX Runtime (CPU); names, dtypes and shapes come from the session."""

    platform = "onnxruntime"

    def __init__(self, name: str, version: str, path: Path,
                 providers: list[str] | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4  # a failed run is reported once, by the server
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=providers or ["CPUExecutionProvider"])
        super().__init__(name, version, [_ort_record(t) for t in self.session.get_inputs()],
                         [_ort_record(t) for t in self.session.get_outputs()])
        self._output_names = [s.name for s in self.outputs]
        from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

        self._invalid = InvalidArgument

    def _run(self, arrays):
        try:
            values = self.session.run(self._output_names, arrays)
        except self._invalid as err:  # ONNX Runtime's own check of the feeds
            raise RequestError(f"{self.name} rejected the inputs: {last_line(err)}") from None
        return dict(zip(self._output_names, values, strict=True))


class TorchRunner(Runner):
    """A torch module (TorchScript, an exported program's module, a hub entrypoint's
    model) called as ``module(*inputs)`` in signature order, under ``inference_mode``.

    ``signature`` is a signature of mlpm's interface record: ``{"name": ..., "inputs":
    [{"name", "dtype", "shape"}], "outputs": [...]}``. The module may return a tensor, a
    tuple / list of tensors (in output order) or a dict keyed by output name.
    """

    platform = "pytorch"

    def __init__(self, name: str, version: str, module: Any, signature: dict):
        import torch

        super().__init__(name, version, signature.get("inputs", []),
                         signature.get("outputs", []), signature.get("name"))
        self.module = module
        self._torch = torch

    def _run(self, arrays):
        torch = self._torch
        tensors = [torch.from_numpy(a if a.flags.writeable else a.copy())
                   for a in (arrays[s.name] for s in self.inputs)]
        with torch.inference_mode():
            result = self.module(*tensors)
        if isinstance(result, dict):
            names = [s.name for s in self.outputs] or list(result)
            missing = [n for n in names if n not in result]
            if missing:
                raise RuntimeError(f"{self.name} returned no output {quote_names(missing)}")
            values = [result[n] for n in names]
        elif isinstance(result, (tuple, list)):
            values = list(result)
        else:
            values = [result]
        return self._name_outputs([v.detach().cpu().numpy() for v in values])


class SavedModelRunner(Runner):
    """A SavedModel signature function (``loaded.signatures[NAME]``), called with one
    keyword argument per input; it returns a dict keyed by output name. Without
    ``signature``, the inputs and outputs are read from the function itself."""

    platform = "tensorflow"

    def __init__(self, name: str, version: str, fn: Any, signature: dict | None = None):
        import tensorflow as tf

        signature = signature or _tf_signature(fn)
        super().__init__(name, version, signature.get("inputs", []),
                         signature.get("outputs", []), signature.get("name"))
        self.fn = fn
        self._tf = tf

    def _run(self, arrays):
        tf = self._tf
        result = self.fn(**{name: tf.constant(a) for name, a in arrays.items()})
        if not isinstance(result, dict):
            result = {"output_0": result}
        names = [s.name for s in self.outputs] or list(result)
        missing = [n for n in names if n not in result]
        if missing:
            raise RuntimeError(f"{self.name} returned no output {quote_names(missing)}")
        return {n: _tf_numpy(result[n]) for n in names}



def _ort_record(arg) -> dict:
    element = arg.type[len("tensor("):-1] if arg.type.startswith("tensor(") else arg.type
    shape = arg.shape if isinstance(arg.shape, list) else None
    return {"name": arg.name, "dtype": _ORT_DTYPES.get(element, element), "shape": shape}


def _tf_signature(fn) -> dict:
    def record(name, spec):
        shape = None if spec.shape.rank is None else spec.shape.as_list()
        return {"name": name, "dtype": spec.dtype.name, "shape": shape}

    _, kwargs = fn.structured_input_signature
    outputs = fn.structured_outputs if isinstance(fn.structured_outputs, dict) else {}
    return {"inputs": [record(k, v) for k, v in sorted(kwargs.items())],
            "outputs": [record(k, v) for k, v in sorted(outputs.items())]}


def _tf_numpy(tensor):
    value = tensor.numpy()
    if value.dtype.kind == "O":  # tf.string comes back as bytes
        value = value.astype(str)
    return value

