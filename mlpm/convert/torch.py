"""PyTorch routes: an nn.Module (a hub entrypoint), a TorchScript file or an exported
program, converted to ONNX, TorchScript or an exported program (``.pt2``).

Everything goes through ``torch.export`` first (except TorchScript's tracing), so a
model torch.export cannot capture, e.g. one with data-dependent Python control flow,
is refused with torch's reason instead of being traced down one branch. ONNX comes
from the dynamo exporter as one self-contained file; a variable batch stays variable.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from mlpm.convert.errors import ConversionError, reason
from mlpm.convert.samples import TensorSpec, fixed_inputs, sample_inputs, shapes_of
from mlpm.errors import MlpmError

EXAMPLE_BATCH = 2  # torch.export specialises a dimension sampled at 0 or 1 to a constant


@contextmanager
def quiet():
    """Silence torch's deprecation warnings and exporter chatter while converting
    (torch.export prints the graph it failed on to stderr; the reason is in the error)."""
    import io
    import logging
    import warnings

    names = [n for n in logging.root.manager.loggerDict
             if n.split(".")[0] in ("torch", "onnxscript")]
    loggers = [logging.getLogger(n) for n in ("torch", "onnxscript", *names)]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), redirect_stdout(io.StringIO()), \
                redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # TorchScript is deprecated upstream; still a route
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def outside(progress):
    """``progress`` called with the streams of now, so that it still shows inside quiet()."""
    out, err = sys.stdout, sys.stderr

    def say(message: str) -> None:
        with redirect_stdout(out), redirect_stderr(err):
            progress(message)

    return say


def _load_original(source, torch):
    """(runnable module, exported program or None) for the source."""
    label = source.label
    try:
        if source.kind == "torch":
            module = source.load_module()
            if isinstance(module, torch.nn.Module):
                module.eval()
            return module, None
        if source.kind == "torchscript":
            return torch.jit.load(str(source.path), map_location="cpu").eval(), None
        from mlpm.frameworks.torch import export_load

        program = export_load(source.path)  # scanned first: never runs a pickle's code
        return program.module(), program
    except (ConversionError, MlpmError):
        raise
    except Exception as exc:
        raise ConversionError(f"cannot load {label} to convert it: {reason(exc)}.") from None


def _tensor(value, spec: TensorSpec, torch):
    if spec.scalar:  # forward(sr: int) takes a Python number, not a tensor
        return {"int": int, "float": float, "bool": bool}[spec.scalar](value.item())
    tensor = torch.from_numpy(value)
    return tensor.to(torch.bfloat16) if spec.dtype == "bfloat16" else tensor


def flatten(out, label: str) -> list:
    """A model's output (tensor, tuple, list, dict) as a flat list of numpy arrays, in the
    order torch's pytree (and so the ONNX exporter) uses."""
    import torch

    if isinstance(out, torch.Tensor):
        out = out.detach().cpu()
        return [(out.float() if out.dtype == torch.bfloat16 else out).numpy()]
    if isinstance(out, (tuple, list)):
        return [a for item in out for a in flatten(item, label)]
    if isinstance(out, dict):
        return [a for item in out.values() for a in flatten(item, label)]
    raise ConversionError(f"{label} returns a {type(out).__name__}, not tensors; mlpm converts "
                          "only models whose outputs are tensors (or tuples/dicts of them).")


def _python_numbers(module, specs: list[TensorSpec], torch) -> None:
    """Mark the inputs forward() takes as Python numbers (``sr: int``), by position."""
    import inspect

    kinds: list[str | None] = []
    if isinstance(module, torch.jit.ScriptModule):
        try:
            kinds = [str(a.type) for a in module.forward.schema.arguments[1:]]
        except (AttributeError, RuntimeError):
            kinds = []
    else:
        try:
            params = list(inspect.signature(module.forward).parameters.values())
        except (TypeError, ValueError):
            params = []
        kinds = [getattr(p.annotation, "__name__", str(p.annotation)) for p in params]
    for spec, kind in zip(specs, kinds, strict=False):
        if kind in ("int", "float", "bool"):
            if spec.given is not None and spec.given.size != 1:
                raise ConversionError(f"forward() takes '{spec.name}' as a Python {kind}, but "
                                      f"its sample has shape {list(spec.given.shape)}; save "
                                      "one number for it.")
            spec.scalar = kind


def _run(module, specs, sample, torch, label: str) -> list:
    args = [_tensor(sample[s.name], s, torch) for s in specs]
    with torch.no_grad():
        return flatten(module(*args), label)


def _export(source, module, program, args, specs, torch, label: str):
    """The torch.export program of the source, with a variable batch where it has one."""
    if program is not None:
        return program
    if source.kind == "torchscript":
        try:  # torch's own TorchScript -> ExportedProgram converter (private, so checked)
            from torch._export.converter import TS2EPConverter
        except ImportError:
            raise ConversionError(f"this torch ({torch.__version__}) cannot turn TorchScript "
                                  "into an exported program; convert from the model's torch "
                                  "source instead.") from None
    try:
        if source.kind == "torchscript":
            # its dims are all symbolic; exported again below with just the batch variable
            module = TS2EPConverter(module, tuple(args)).convert().module()
        batch = torch.export.Dim("batch", min=1)
        dynamic = tuple({0: batch} if s.batch else None for s in specs)
        return torch.export.export(module, tuple(args), strict=False,
                                   dynamic_shapes=dynamic if any(s.batch for s in specs) else None)
    except Exception as exc:
        raise ConversionError(f"torch.export cannot capture {label}, so it cannot be converted: "
                              f"{reason(exc)}; make forward() exportable (no data-dependent "
                              "Python control flow) or publish the target format.") from None


def build(source, target: str, folder: Path, specs: list[TensorSpec], output_names: list[str],
          progress) -> dict:
    """Convert into ``folder``. Returns the file written and, for the caller's parity
    verdict, the original's and the conversion's outputs on the same samples."""
    import torch

    from mlpm.convert.routes import FILE_NAMES

    label = source.label
    file = folder / FILE_NAMES[target]
    progress = outside(progress)
    with quiet():
        progress(f"loading {label}")
        module, program = _load_original(source, torch)
        if program is None:
            _python_numbers(module, specs, torch)
        samples = sample_inputs(specs)
        expected = []
        for sample in samples:
            try:
                expected.append(_run(module, specs, sample, torch, label))
            except ConversionError:
                raise
            except Exception as exc:
                raise ConversionError(
                    f"{label} itself fails on a sample input {shapes_of([sample])[0]} "
                    f"({_given_text(specs)}): {reason(exc)}; give it inputs it accepts with "
                    f"--sample FILE.npz (one array per input: "
                    f"{', '.join(s.name for s in specs)}), or fix a shape with "
                    "--input-shape.") from None
        example = [_tensor(_example(specs, samples)[s.name], s, torch) for s in specs]
        progress(f"converting {label} to {target}")
        names = output_names if len(output_names) == len(expected[0]) else None
        try:
            if target == "torchscript":
                _trace(module, example, file, torch, label)
            else:
                exported = _export(source, module, program, example, specs, torch, label)
                if target == "exported-program":
                    torch.export.save(exported, str(file))
                else:
                    torch.onnx.export(exported, tuple(example), str(file), dynamo=True,
                                      external_data=False, verbose=False, optimize=True,
                                      input_names=[s.name for s in specs], output_names=names)
        except ConversionError:
            raise
        except Exception as exc:
            raise ConversionError(f"converting {label} to {target} failed: {reason(exc)}; "
                                  "publish the model in that format instead.") from None
        progress(f"checking parity of {label} as {target}")
        run = _converted_runner(target, file, specs, torch, label)
        actual = []
        for sample in samples:
            try:
                actual.append(run(sample))
            except ConversionError:
                raise
            except Exception as exc:
                raise ConversionError(
                    f"the {target} conversion of {label} fails on a sample input "
                    f"{shapes_of([sample])[0]} that the original takes: {reason(exc)}; "
                    "nothing was kept.") from None
    count = len(expected[0])
    return {"files": [file.name], "expected": expected, "actual": actual,
            "names": names or [f"output {i}" for i in range(count)],
            "inputs": [s.to_json() for s in specs], "sample_shapes": shapes_of(samples),
            "fixed": fixed_inputs(specs, samples[0])}


def _given_text(specs: list[TensorSpec]) -> str:
    kinds = {"file": "from the samples file", "values": "declared values", "random": "random"}
    return ", ".join(f"{s.name} {kinds[s.source]}" for s in specs)


def _trace(module, example, file: Path, torch, label: str) -> None:
    """torch.jit.trace, refused when torch warns that the trace may not generalise (a
    tensor turned into a Python bool or number: one branch or value baked in)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, tuple(example), strict=False, check_trace=False)
    own = Path(torch.__file__).parent  # torch's own shape guards (an exported program's) warn too
    doubts = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)
              and own not in Path(w.filename).parents]
    if doubts:
        where = f" (at {Path(doubts[0].filename).name}:{doubts[0].lineno})"
        first = str(doubts[0].message).split(". ")[0]
        raise ConversionError(f"torch.jit.trace cannot convert {label} faithfully: {first}"
                              f"{where}; the trace would keep one branch or value for every "
                              "input, so nothing was kept.")
    torch.jit.save(traced, str(file))


def _example(specs: list[TensorSpec], samples: list[dict]) -> dict:
    """The export example: a batch of at least EXAMPLE_BATCH where the batch is variable."""
    if not any(s.batch for s in specs):
        return samples[0]
    return next(s for s in samples
                if all(s[sp.name].shape[0] >= EXAMPLE_BATCH for sp in specs if sp.batch))


def _converted_runner(target: str, file: Path, specs, torch, label: str):
    if target == "js":  # the ONNX file, run where a JavaScript application runs it
        from mlpm.convert.js import runner

        run_js = runner(file, label)
        names = [s.name for s in specs if not s.scalar]  # Python numbers are fixed in the graph
        return lambda sample: run_js({n: sample[n] for n in names})
    if target == "onnx":
        import onnxruntime

        try:
            session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ConversionError(f"ONNX Runtime cannot load the ONNX conversion of {label}: "
                                  f"{reason(exc)}; nothing was kept.") from None
        feeds = [i.name for i in session.get_inputs()]
        tensors = [s for s in specs if not s.scalar]  # Python numbers are fixed in the graph

        def run_onnx(sample):
            if all(s.name in feeds for s in tensors):
                feed = {s.name: sample[s.name] for s in tensors}
            else:
                feed = dict(zip(feeds, (sample[s.name] for s in tensors), strict=False))
            return session.run(None, feed)

        return run_onnx
    if target == "torchscript":
        module = torch.jit.load(str(file), map_location="cpu").eval()
    else:
        from mlpm.frameworks.torch import export_load

        module = export_load(file).module()
    return lambda sample: _run(module, specs, sample, torch, label)
