"""The JavaScript context: ONNX checked in onnxruntime-node, the runtime a JS app uses.

A ``js`` conversion is an ONNX file (made by the same exporters as the ``onnx`` route), but
its parity check runs the file in node with onnxruntime-node (the runtime of
onnxruntime-web too), not in Python's onnxruntime: what a JavaScript application gets has
been run where it will run.

Where mlpm finds them:

- node: ``MLPM_NODE`` (the path of a node executable), else ``node`` on PATH;
- onnxruntime-node: the ``node_modules`` folder named by ``MLPM_NODE_MODULES``, else the
  nearest ``node_modules`` holding ``onnxruntime-node``, from the current folder upwards
  (where ``npm install onnxruntime-node`` in the application's folder puts it).

One node process runs a conversion's whole check (a ``Session``: one onnxruntime-node
session, one run per sample), so node starts and loads the model once. Tensors go to it
as raw little-endian files plus a JSON list of names, dtypes and shapes, in a temporary
folder, and a line on its stdin says a request is ready; its answer comes back the same
way, checked against its shapes and bounded in size. Each sample must be answered within
``MLPM_JS_TIMEOUT`` seconds (default 300; the first sample's time includes starting node
and loading the model), timed by mlpm, so a run that hangs inside onnxruntime is stopped
too.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import weakref
from pathlib import Path

from mlpm.convert.errors import ConversionError

SCRIPT = Path(__file__).with_name("js_run.js")
RUNTIME_PACKAGE = "onnxruntime-node"
TIMEOUT = 300.0
MAX_OUTPUT_BYTES = 1 << 31  # per sample, every output together: a model's outputs, not more
_REPLY_BYTES = 1 << 20
_GET = ("node 18+ and the npm package onnxruntime-node (`npm install onnxruntime-node` in "
        "the application's folder, or set MLPM_NODE_MODULES to a node_modules folder that "
        "has it)")

# numpy dtype name <-> onnxruntime-node tensor type (the names agree; bool travels as bytes)
_TYPES = ("float32", "float64", "float16", "int8", "uint8", "int16", "uint16", "int32",
          "uint32", "int64", "uint64", "bool")


class Runtime:
    """The node executable and the node_modules folder holding onnxruntime-node."""

    __slots__ = ("node", "node_modules", "versions")

    def __init__(self, node: str, node_modules: Path, versions: dict[str, str]):
        self.node, self.node_modules, self.versions = node, node_modules, versions

    def __repr__(self) -> str:
        return f"Runtime({self.node!r}, {str(self.node_modules)!r}, {self.versions})"


def find_node_modules(start: Path | None = None) -> Path | None:
    """The node_modules folder mlpm runs onnxruntime-node from, or None (module docstring)."""
    named = os.environ.get("MLPM_NODE_MODULES")
    if named:
        folder = Path(named).expanduser().resolve()
        return folder if (folder / RUNTIME_PACKAGE / "package.json").is_file() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "node_modules" / RUNTIME_PACKAGE / "package.json").is_file():
            return folder / "node_modules"
    return None


def runtime() -> Runtime:
    """node and onnxruntime-node, or a ConversionError saying how to get them."""
    node = os.environ.get("MLPM_NODE") or shutil.which("node")
    if not node or not Path(node).is_file():
        raise ConversionError(f"the js context checks conversions in JavaScript, and node is "
                              f"not installed here; install {_GET}.")
    modules = find_node_modules()
    if modules is None:
        named = os.environ.get("MLPM_NODE_MODULES")
        where = (f"MLPM_NODE_MODULES ({named}) has no {RUNTIME_PACKAGE}" if named else
                 f"no node_modules from {Path.cwd()} upwards has {RUNTIME_PACKAGE}")
        raise ConversionError(f"the js context checks conversions in onnxruntime-node, and "
                              f"{where}; install {_GET}.")
    try:
        meta = json.loads((modules / RUNTIME_PACKAGE / "package.json").read_text())
        package_version = str(meta["version"])
        proc = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
        node_version = proc.stdout.strip().lstrip("v")
    except (OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        raise ConversionError(f"cannot run node ({node}) with {modules / RUNTIME_PACKAGE}: "
                              f"{exc}; reinstall {_GET}.") from None
    major = node_version.split(".")[0]
    if not major.isdigit() or int(major) < 18:
        raise ConversionError(f"the js context needs node 18 or newer, and {node} is "
                              f"{node_version or 'unreadable'}; install {_GET}.")
    return Runtime(node, modules, {"node": node_version, RUNTIME_PACKAGE: package_version})


def versions() -> dict[str, str]:
    """The node and onnxruntime-node versions a js parity check ran with."""
    return runtime().versions


def runner(file: Path, label: str, named: bool = False):
    """A function running ``file`` in onnxruntime-node on one sample (``{name: array}``):
    its outputs as a list in the model's order, or ``{output name: array}`` if ``named``.
    Every call runs in the same node process (started at the first call), which ends when
    the function is dropped."""
    found = runtime()
    session: list[Session] = []

    def run(sample: dict):
        if not session:
            session.append(Session(found, file, label))
        outputs = session[0].run(sample)
        return outputs if named else list(outputs.values())

    return run


def run_samples(found: Runtime, file: Path, samples: list[dict], label: str) -> list[dict]:
    """``file`` run by node on each sample, in one node process; one ``{output name:
    array}`` per sample."""
    with Session(found, file, label) as session:
        return [session.run(sample) for sample in samples]


class Session:
    """One node process holding one onnxruntime-node session of ``file``: ``run`` a
    sample as many times as needed, then ``close`` (or use it in a ``with``; a session
    dropped without closing is closed when collected, or when Python exits)."""

    def __init__(self, found: Runtime, file: Path, label: str):
        self.label, self.timeout = label, _timeout()
        self._count = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="mlpm-js-")
        self.folder = Path(self._tmp.name)
        self._stderr = open(self.folder / "stderr.txt", "w+b")  # noqa: SIM115 (closed in close)
        env = dict(os.environ, NODE_PATH=str(found.node_modules))
        try:
            self._proc = subprocess.Popen(
                [found.node, str(SCRIPT), str(self.folder), str(Path(file).resolve())],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        except OSError as exc:
            self._stderr.close()
            self._tmp.cleanup()
            raise ConversionError(f"cannot start node ({found.node}) to run the js conversion "
                                  f"of {label}: {exc.strerror or exc}; reinstall {_GET}.") from None
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=_read_lines, args=(self._proc.stdout, self._lines),
                         daemon=True).start()
        self._closer = weakref.finalize(self, _close, self._proc, self._stderr, self._tmp)

    def run(self, sample: dict) -> dict:
        """``{output name: array}`` of one sample, in the model's output order."""
        k, self._count = self._count, self._count + 1
        self._write_request(k, sample)
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(f"{k}\n".encode())
            self._proc.stdin.flush()
        except OSError:  # node has exited: its reason is on stderr
            raise self._failed() from None
        while True:
            try:
                line = self._lines.get(timeout=self.timeout)
            except queue.Empty:
                self._proc.kill()  # the run hangs: nothing it does now is wanted
                self.close()
                raise ConversionError(
                    f"onnxruntime-node did not finish running the js conversion of "
                    f"{self.label} on a sample within {self.timeout:g} s; set "
                    "MLPM_JS_TIMEOUT to allow longer.") from None
            if line is None:
                raise self._failed()
            if line == f"mlpm-done {k}":
                break
        reply = _reply(self.folder / f"reply-{k}.json", self.label)
        (outputs,) = reply["samples"]
        result = _outputs(self.folder, outputs, self.label)
        for used in self.folder.glob(f"*-{k}-*.bin"):
            used.unlink()  # kept for one sample at a time: the folder stays small
        return result

    def _write_request(self, k: int, sample: dict) -> None:
        import numpy as np

        specs = []
        for j, (name, value) in enumerate(sample.items()):
            value = np.asarray(value, order="C")  # 0-d stays 0-d
            dtype = "bool" if value.dtype == np.bool_ else value.dtype.name
            if dtype not in _TYPES:
                raise ConversionError(f"the input '{name}' of {self.label} is {dtype}, which "
                                      "onnxruntime-node cannot be fed; publish the ONNX file "
                                      "instead.")
            part = f"in-{k}-{j}.bin"
            (self.folder / part).write_bytes(value.astype(value.dtype.newbyteorder("<"),
                                                          copy=False).tobytes())
            specs.append({"name": str(name), "dtype": dtype, "shape": list(value.shape),
                          "file": part})
        (self.folder / f"request-{k}.json").write_text(json.dumps({"samples": [specs]}))

    def _failed(self) -> ConversionError:
        """node exited before answering: the last line it wrote on stderr says why."""
        self.close(wait=True)
        return ConversionError(f"node could not run the js conversion of {self.label}: "
                               f"{self._why}; reinstall {_GET}.")

    def close(self, wait: bool = False) -> None:
        """End the node process and remove the folder."""
        if wait:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._why = _last_line(self._stderr, self._proc.poll())
        self._closer()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_lines(stream, lines: queue.Queue) -> None:
    """node's stdout, line by line, then None when it closes."""
    try:
        for raw in stream:
            lines.put(raw.decode("utf-8", "replace").strip())
    except (OSError, ValueError):  # closed by _close while reading
        pass
    lines.put(None)


def _last_line(stderr, status: int | None) -> str:
    try:
        stderr.flush()
        stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, stderr.tell() - 4096))
        text = stderr.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        text = ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines:
        return lines[-1][:300]
    return f"node exited with status {status}" if status is not None else "node stopped"


def _close(proc: subprocess.Popen, stderr, tmp: tempfile.TemporaryDirectory) -> None:
    """Close node's stdin (it exits), stop it if it does not, remove the folder."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
    stderr.close()
    tmp.cleanup()


def _timeout() -> float:
    text = os.environ.get("MLPM_JS_TIMEOUT", "")
    try:
        value = float(text) if text else TIMEOUT
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConversionError(f"MLPM_JS_TIMEOUT={text} is not a number of seconds; set it to "
                              "e.g. 300.")
    return value


def _reply(path: Path, label: str) -> dict:
    try:
        if path.stat().st_size > _REPLY_BYTES:
            raise ValueError("too long")
        reply = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ConversionError(f"node answered the js check of {label} with something other "
                              "than mlpm's reply; reinstall mlpm.") from None
    if not isinstance(reply, dict):
        raise ConversionError(f"node answered the js check of {label} with something other "
                              "than mlpm's reply; reinstall mlpm.")
    if "error" in reply:
        raise ConversionError(f"onnxruntime-node cannot run the js conversion of {label}: "
                              f"{str(reply['error'])[:400]}; nothing was kept.")
    if not isinstance(reply.get("samples"), list) or len(reply["samples"]) != 1:
        raise ConversionError(f"node answered the js check of {label} with something other "
                              "than mlpm's reply; reinstall mlpm.")
    return reply


def _outputs(folder: Path, outputs: list, label: str) -> dict:
    """One sample's outputs, each file checked to hold exactly its dtype x shape."""
    import numpy as np

    result, total = {}, 0
    for out in outputs:
        try:
            dtype, shape = str(out["dtype"]), [int(d) for d in out["shape"]]
            file = folder / Path(str(out["file"])).name
            if dtype not in _TYPES or any(d < 0 for d in shape):
                raise ValueError(dtype)
            np_dtype = np.dtype(np.bool_ if dtype == "bool" else dtype).newbyteorder("<")
            size = int(np.prod(shape, dtype=np.int64)) * np_dtype.itemsize
            total += size
            if total > MAX_OUTPUT_BYTES or file.stat().st_size != size:
                raise ValueError(file.name)
            result[str(out["name"])] = np.fromfile(file, dtype=np_dtype).reshape(shape)
        except (KeyError, TypeError, ValueError, OSError):
            raise ConversionError(f"onnxruntime-node returned an output of the js conversion of "
                                  f"{label} that mlpm cannot read ({str(out)[:200]}); nothing "
                                  "was kept.") from None
    return result


def build_from_onnx(source, target: str, folder: Path, specs: list, output_names: list[str],
                    progress) -> dict:
    """A published ONNX file for the js context: copied into ``folder`` as it is, then run
    by Python's ONNX Runtime (the reference: what ``mlpm.load`` gives) and by
    onnxruntime-node on the same samples. Returns what ``mlpm.convert.torch.build`` does."""
    import onnxruntime

    from mlpm.convert.errors import reason
    from mlpm.convert.samples import sample_inputs, shapes_of

    label = source.label
    file = folder / "model.onnx"  # routes.FILE_NAMES["js"] (routes imports this module)
    shutil.copyfile(source.path, file)
    found = runtime()
    samples = sample_inputs(specs)
    progress(f"running {label} in ONNX Runtime and in onnxruntime-node")
    try:
        session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
        feeds = [i.name for i in session.get_inputs()]
        expected = []
        for sample in samples:
            names = [s.name if s.name in feeds else feeds[i] for i, s in enumerate(specs)]
            expected.append(session.run(None, {n: sample[s.name]
                                               for n, s in zip(names, specs, strict=True)}))
    except Exception as exc:
        raise ConversionError(f"{label} itself fails in ONNX Runtime on a sample input "
                              f"{shapes_of(samples[:1])[0]}: {reason(exc)}; pass --input-shape "
                              "with the shape it takes.") from None
    actual = [list(outputs.values()) for outputs in run_samples(found, file, samples, label)]
    outputs = [o.name for o in session.get_outputs()]
    return {"files": [file.name], "expected": expected, "actual": actual,
            "names": output_names if len(output_names) == len(outputs) else outputs,
            "inputs": [s.to_json() for s in specs], "sample_shapes": shapes_of(samples)}
