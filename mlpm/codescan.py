"""Models are programs: the trust rule and the static scans for code-bearing formats.

TorchScript files, exported programs, SavedModels and PyTorch Hub repos can all run a
publisher's code when a framework loads or runs them. Before mlpm hands one to its
framework (``mlpm.load``, a conversion, ``mlpm serve``), ``check`` makes sure that:

1. the package's source is trusted (mlpm.trust, the rule hub code follows);
2. a static scan, which imports no framework, finds nothing that reaches outside the
   model: TorchScript code calling file or network operators, SavedModel graphs with
   file, Python or network ops, exported programs with pickles that import more than
   tensors need, native libraries. A finding refuses the load even for a trusted
   source, unless the manifest names the package in ``allow-unsafe-code``.

Data formats (ONNX, safetensors, TFLite, state dicts loaded as tensors) need neither.
The lists of what the scans refuse, and why, are in docs/security.md.

>>> [str(f) for f in scan("torchscript", Path("evil.pt"))]  # doctest: +SKIP
['calls torch.save (evil/code/__torch__.py), which writes a file']
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
import zlib
from pathlib import Path

from mlpm.errors import ModelLoadError, UnsafeModel

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from mlpm.project import LockedPackage, Project

# Formats whose loading or running can execute the publisher's code, as users call them.
CODE_FORMATS = {"torch-hub": "a PyTorch Hub package", "torchscript": "a TorchScript model",
                "exported-program": "an exported program", "savedmodel": "a SavedModel"}
# Formats that load as data: what to suggest instead of trusting a source.
DATA_FORMATS = ("onnx", "safetensors", "tflite", "state-dict")

ALLOW_KEY = "allow-unsafe-code"
_LIMIT = 256 << 20  # a member read into memory to be scanned is at most this large
_MAX_MEMBERS = 100_000


class Finding:
    """One thing a scan refuses: what it does, where, and why that reaches outside."""

    __slots__ = ("what", "where", "why")

    def __init__(self, what: str, where: str, why: str):
        self.what, self.where, self.why = what, where, why

    def __str__(self) -> str:
        return f"{self.what} ({self.where}), which {self.why}"

    def __repr__(self) -> str:
        return f"Finding({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


# -- torch operators (TorchScript code, exported-program graphs) ----------------------------

# namespace::name -> why it reaches outside the model
TORCH_OPS = {
    "aten::from_file": "maps any file into a tensor, to read it or (shared) write it",
    "aten::save": "writes a file",
    "debugprims::load_tensor": "reads a file",
    "prim::rpc_async": "calls another process over the network",
    "prim::rpc_sync": "calls another process over the network",
    "prim::rpc_remote": "calls another process over the network",
}
# whole namespaces of communication operators
NETWORK_NAMESPACES = {"c10d", "_c10d_functional", "_c10d_functional_autograd", "symm_mem",
                      "dist_c10d", "dist_rpc", "dist_autograd"}
# namespaces of operators that ship with torch (and torchvision / torchaudio) and only
# compute; an operator from any other namespace comes from a native library mlpm cannot
# check, the way ONNX custom ops do
KNOWN_NAMESPACES = {"aten", "prim", "prims", "quantized", "_quantized", "quantization",
                    "quantized_decomposed", "sparse", "mkldnn", "mkldnn_prepacked", "onednn",
                    "mkl", "prepacked", "vulkan_prepack", "metal_prepack", "rngprims",
                    "profiler", "higher_order", "static_runtime", "torchvision", "image",
                    "torchaudio", "_native", "inductor_prims", "export"}


def _torch_op(namespace: str, name: str, text: str, where: str) -> Finding | None:
    qualified = f"{namespace}::{name}"
    if qualified in TORCH_OPS:
        return Finding(f"calls {text}", where, TORCH_OPS[qualified])
    if namespace in NETWORK_NAMESPACES:
        return Finding(f"calls {text}", where, "communicates with other processes")
    if namespace not in KNOWN_NAMESPACES:
        return Finding(f"calls the custom operator {qualified}", where,
                       "comes from a native library mlpm cannot check")
    return None


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for an attribute chain; ``getattr(a, "b")`` (TorchScript compiles it, with
    a literal name) counts as ``a.b``."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "getattr" and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            parts.append(node.args[1].value)
            node = node.args[0]
        else:
            break
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


# names of the operators in TORCH_OPS: under torch or ops, at any depth (torch.save,
# torch.serialization.save, ops.aten.save.default), they are refused
_DANGEROUS_NAMES = {qualified.split("::")[1]: qualified for qualified in TORCH_OPS}


def _torchscript_name(dotted: str, where: str) -> Finding | None:
    """A name TorchScript code uses: torch.X is aten::X, (torch.)ops.NS.X is NS::X."""
    parts = dotted.split(".")
    if parts[0] in ("torch", "ops"):
        for part in parts[1:]:
            if part in _DANGEROUS_NAMES:
                return Finding(f"calls {dotted}", where, TORCH_OPS[_DANGEROUS_NAMES[part]])
    if parts[0] == "torch" and len(parts) >= 2:
        if parts[1] == "ops" and len(parts) >= 4:
            return _torch_op(parts[2], parts[3], dotted, where)
        if parts[1] == "distributed":
            return Finding(f"uses {'.'.join(parts[:3])}", where,
                           "communicates with other processes")
        if parts[1] == "classes" and len(parts) >= 3 and parts[2] in NETWORK_NAMESPACES:
            return Finding(f"uses {'.'.join(parts[:4])}", where,
                           "communicates with other processes")
        if len(parts) == 2:
            return _torch_op("aten", parts[1], dotted, where) if \
                f"aten::{parts[1]}" in TORCH_OPS else None
    if parts[0] == "ops" and len(parts) >= 3:
        return _torch_op(parts[1], parts[2], dotted, where)
    return None


def _zip(path: Path, fmt: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"{path} is not a loadable {fmt} file ({exc}); ask its "
                             "publisher to republish it.") from None
    if len(archive.infolist()) > _MAX_MEMBERS:
        archive.close()
        raise ModelLoadError(f"{path} holds more than {_MAX_MEMBERS} files, which no {fmt} "
                             "file needs; ask its publisher to republish it.")
    return archive


# ELF and Mach-O headers; four bytes, so raw tensor bytes match one by chance in 2**32
_NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def _native(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Finding | None:
    """A shared library inside a model archive: code no framework should load from it."""
    name = info.filename
    if name.lower().endswith((".so", ".dll", ".dylib", ".pyd")) or ".so." in name:
        return Finding(f"holds the native library {name}", name, "is machine code")
    with archive.open(info) as fh:
        head = fh.read(4)
    if head in _NATIVE_MAGIC:
        return Finding(f"holds the native library {name}", name, "is machine code")
    return None


def scan_torchscript(path: Path) -> list[Finding]:
    """TorchScript's ``code/**.py`` (run by ``torch.jit.load``, e.g. ``__setstate__``),
    parsed as Python and checked for operators that reach outside the model."""
    return _each_member(path, "torchscript", _torchscript_member)


def _each_member(path: Path, fmt: str, scan_member) -> list[Finding]:
    findings: list[Finding] = []
    with _zip(path, fmt) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            try:
                findings += scan_member(archive, info)
            except (zipfile.BadZipFile, NotImplementedError, zlib.error, EOFError,
                    OSError, RuntimeError) as exc:  # a member Python cannot decompress
                findings.append(Finding(f"holds a member mlpm cannot read ({exc})",
                                        info.filename, "cannot be checked"))
    return _unique(findings)


def _torchscript_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[Finding]:
    name = info.filename
    native = _native(archive, info)
    if native is not None:
        return [native]
    if "/code/" not in f"/{name}" or not name.endswith(".py"):
        return []  # pickles here are read by TorchScript's C++ unpickler: no Python
    if info.file_size > _LIMIT:
        return [Finding("holds TorchScript code too large to scan", name, "cannot be checked")]
    try:
        tree = ast.parse(archive.read(info).decode("utf-8"), filename=name)
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return [Finding("holds TorchScript code mlpm cannot parse", name, "cannot be checked")]
    findings = []
    seen: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Call)):
            dotted = _dotted(node)
            if dotted and dotted not in seen:
                seen.add(dotted)
                found = _torchscript_name(dotted, name)
                if found is not None:
                    findings.append(found)
    return findings


# -- exported programs (.pt2) --------------------------------------------------------------

_GRAPH_OP = re.compile(r"torch\.ops\.(\w+)\.(\w+)")


# mlpm.audit's problem kinds, as the clause a refusal gives
_AUDIT_KINDS = {"unsafe-pickle": ("has a pickle that", "can run any code when unpickled"),
                "unsafe-expression": ("holds", "torch evaluates as Python"),
                "native-code": ("holds", "is machine code"),
                "unscannable": ("cannot be checked:", "may hide code")}


def scan_exported_program(path: Path) -> list[Finding]:
    """What ``torch.export.load`` would run: the members it unpickles (with
    ``weights_only=False``), its shape expressions and native libraries, as mlpm.audit
    reads them exactly as that loader does; then every other member that is a pickle
    (which may import only what tensors need), and the graph's operators."""
    from mlpm.audit import scan_file

    audit = scan_file(path, "exported-program")
    findings = [Finding(f"{_AUDIT_KINDS[p.kind][0]} {'; '.join(p.reasons[:3])}",
                        p.member or path.name, _AUDIT_KINDS[p.kind][1])
                for p in audit.problems if p.kind in _AUDIT_KINDS]
    named = {p.member for p in audit.problems}
    return _unique(findings + _each_member(
        path, "exported-program", lambda archive, info: _exported_member(archive, info, named)))


def _exported_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                     named: set[str]) -> list[Finding]:
    from mlpm.audit import is_safe_global

    name = info.filename
    native = _native(archive, info)
    if native is not None:
        return [] if name in named else [native]
    if name.endswith(".json") and "/models/" in f"/{name}":
        return _graph_findings(archive, info)
    if info.file_size > _LIMIT or name in named:
        return []  # what the loader unpickles, mlpm.audit has read strictly above
    with archive.open(info) as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK") or _pickle_start(head)):
        return []  # raw tensor bytes, configs
    findings = []
    for label, imports, problems in _pickles(name, archive.read(info)):
        if label in named:
            continue  # told above, as the loader reads it
        unsafe = sorted({i for i in imports if not is_safe_global(i)})
        findings += [Finding(f"has a pickle that imports {i}", label,
                             "can run any code when unpickled") for i in unsafe]
        findings += [Finding(f"has a pickle with {p}", label, "cannot be checked")
                     for p in problems]
    return findings


def _pickle_start(head: bytes) -> bool:
    return len(head) > 1 and head[0] == 0x80 and head[1] <= 5


def _pickles(label: str, data: bytes, depth: int = 0):
    """(label, imports, problems) of each pickle in a member: a raw pickle, or the
    ``*.pkl`` members of a ``torch.save`` zip (nested at most 4 deep)."""
    from mlpm.audit import scan_pickles

    if data.startswith(b"PK"):
        if depth >= 4:
            yield label, [], ["zip files nested more than 4 deep"]
            return
        try:
            inner = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            return
        with inner:
            for info in inner.infolist()[:_MAX_MEMBERS]:
                if info.filename.endswith(".pkl") and info.file_size <= _LIMIT:
                    yield from _pickles(f"{label}!{info.filename}", inner.read(info),
                                        depth + 1)
        return
    try:
        imports, problems = scan_pickles(io.BytesIO(data))
    except ValueError:
        return  # raw tensor bytes that start like a pickle: what the loader unpickles,
        # it reads strictly in mlpm.audit's scan
    yield label, imports, problems


def _graph_findings(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[Finding]:
    name = info.filename
    if info.file_size > _LIMIT:
        return [Finding("holds a graph too large to scan", name, "cannot be checked")]
    try:
        graph = json.loads(archive.read(info))
    except (ValueError, UnicodeDecodeError):
        return [Finding("holds a graph mlpm cannot parse", name, "cannot be checked")]
    findings = []
    stack = [graph]
    while stack:  # every string in the document, wherever torch puts operator names
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "torch.ops." in item:
            for match in _GRAPH_OP.finditer(item):
                found = _torch_op(match.group(1), match.group(2), match.group(0), name)
                if found is not None:
                    findings.append(found)
    return findings


# -- SavedModels ---------------------------------------------------------------------------

_FILE_READ = "reads files"
_FILE_WRITE = "writes files"
_PYTHON = "runs Python code"
_NETWORK = "communicates over the network"
# TensorFlow op -> why it reaches outside the model (tensorflow/core/ops/*.cc)
TF_OPS = {
    **dict.fromkeys((
        "ReadFile", "MatchingFiles", "ImmutableConst", "WholeFileReader", "WholeFileReaderV2",
        "TextLineReader", "TextLineReaderV2", "FixedLengthRecordReader",
        "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2", "LMDBReader",
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
        "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset",
        "LoadDataset", "LoadAndRemapMatrix", "GenerateVocabRemapping"), _FILE_READ),
    **dict.fromkeys((
        "WriteFile", "SaveDataset", "SaveDatasetV2", "DatasetToTFRecord",
        "ExperimentalDatasetToTFRecord", "SnapshotDataset", "SnapshotDatasetV2",
        "CacheDataset", "CacheDatasetV2", "CreateSummaryFileWriter", "CreateSummaryDbWriter",
        "FileSystemSetConfiguration", "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
        "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2"), _FILE_WRITE),
    **dict.fromkeys(("PyFunc", "PyFuncStateless", "EagerPyFunc"), _PYTHON),
    **dict.fromkeys((
        "Rpc", "TryRpc", "RpcClient", "RpcServer", "RpcServerStart", "RpcServerRegister",
        "RpcCall", "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3",
        "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2",
        "DistributedSave"), _NETWORK),
}
# Checkpoint ops: allowed only in the saver the SavedModel's saver_def names (the loader
# feeds them the model's own variables path), refused anywhere else.
SAVER_OPS = {"Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "Restore", "RestoreV2",
             "RestoreSlice"}


class _Node:
    __slots__ = ("name", "op", "calls", "strings")

    def __init__(self, name: str, op: str, calls: list[str], strings: dict[str, str]):
        self.name, self.op, self.calls, self.strings = name, op, calls, strings


def _node(data: memoryview) -> _Node:
    from mlpm.interface import protobuf as pb

    name = op = ""
    calls: list[str] = []
    strings: dict[str, str] = {}
    for number, wire, value in pb.fields(data):
        if number == 1:  # NodeDef.name
            name = pb.text(number, wire, value)
        elif number == 2:  # NodeDef.op
            op = pb.text(number, wire, value)
        elif number == 5:  # NodeDef.attr: map<string, AttrValue>
            key, attr = "", memoryview(b"")
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:
                    key = pb.text(n, w, v)
                elif n == 2:
                    attr = pb.message(n, w, v)
            for n, w, v in pb.fields(attr):
                if n == 2:  # AttrValue.s
                    strings[key] = bytes(pb.message(n, w, v)).decode("utf-8", "replace")
                elif n == 10:  # AttrValue.func: NameAttrList
                    calls += _func_names(pb.message(n, w, v))
                elif n == 1:  # AttrValue.list: ListValue.func (9)
                    for ln, lw, lv in pb.fields(pb.message(n, w, v)):
                        if ln == 9:
                            calls += _func_names(pb.message(ln, lw, lv))
    return _Node(name, op, calls, strings)


def _func_names(data: memoryview) -> list[str]:
    from mlpm.interface import protobuf as pb

    return [pb.text(n, w, v) for n, w, v in pb.fields(data) if n == 1]


def _graph(meta: memoryview) -> tuple[list[_Node], dict[str, list[_Node]], list[str]]:
    """(top-level nodes, function name -> nodes, saver node names) of a MetaGraphDef."""
    from mlpm.interface import protobuf as pb

    nodes: list[_Node] = []
    functions: dict[str, list[_Node]] = {}
    saver: list[str] = []
    for number, wire, value in pb.fields(meta):
        if number == 2:  # MetaGraphDef.graph_def
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:  # GraphDef.node
                    nodes.append(_node(pb.message(n, w, v)))
                elif n == 2:  # GraphDef.library: FunctionDefLibrary.function
                    for fn, fw, fv in pb.fields(pb.message(n, w, v)):
                        if fn == 1:
                            name, body = _function(pb.message(fn, fw, fv))
                            functions[name] = body
        elif number == 3:  # MetaGraphDef.saver_def: filename, save, restore tensor names
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n in (1, 2, 3):
                    saver.append(pb.text(n, w, v).lstrip("^").split(":")[0])
    return nodes, functions, saver


def _function(data: memoryview) -> tuple[str, list[_Node]]:
    from mlpm.interface import protobuf as pb

    name, body = "", []
    for number, wire, value in pb.fields(data):
        if number == 1:  # FunctionDef.signature: OpDef.name (the last one, as protobuf)
            for n, w, v in pb.fields(pb.message(number, wire, value)):
                if n == 1:
                    name = pb.text(n, w, v)
        elif number == 3:  # FunctionDef.node_def
            body.append(_node(pb.message(number, wire, value)))
    return name, body


def _callees(nodes: list[_Node], functions: dict[str, list[_Node]]) -> set[str]:
    return {c for node in nodes for c in [node.op, *node.calls] if c in functions}


def _closure(start: set[str], functions: dict[str, list[_Node]]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        fn = todo.pop()
        if fn not in seen:
            seen.add(fn)
            todo += _callees(functions[fn], functions)
    return seen


def _tf_node(node: _Node, where: str) -> Finding | None:
    if node.op in TF_OPS:
        return Finding(f"uses the op {node.op}", where, TF_OPS[node.op])
    if node.op == "PrintV2" and node.strings.get("output_stream", "").startswith("file://"):
        return Finding(f"prints to {node.strings['output_stream']}", where, _FILE_WRITE)
    if node.op in ("DecodeProtoV2", "EncodeProto") and \
            node.strings.get("descriptor_source", "") not in ("", "local://"):
        return Finding(f"reads a proto descriptor from {node.strings['descriptor_source']}",
                       where, _FILE_READ)
    return None


def scan_savedmodel(folder: Path) -> list[Finding]:
    """Every graph and function of every MetaGraph in ``saved_model.pb``, for ops that
    read or write files, run Python or use the network; checkpoint ops only in the saver."""
    from mlpm.interface import protobuf as pb
    from mlpm.interface.savedmodel import _pb_file

    file = _pb_file(folder)
    member = file.name
    findings: list[Finding] = [
        Finding(f"holds {other} besides {member}", other, "another TensorFlow loader may read "
                "instead, and mlpm cannot check it")
        for other in ("saved_model.pbtxt", "saved_model.cpb") if (file.parent / other).exists()]
    try:
        data = pb.read_file(file)
        metas = [pb.message(n, w, v) for n, w, v in pb.fields(data) if n == 2]
        graphs = [_graph(meta) for meta in metas]
    except pb.DecodeError as exc:
        raise ModelLoadError(f"{file} {exc}; ask its publisher to republish it.") from None
    for nodes, functions, saver_names in graphs:
        scopes = tuple(n.rsplit("/", 1)[0] + "/" for n in saver_names if "/" in n)
        in_saver = [n for n in nodes if n.name in saver_names or n.name.startswith(scopes)]
        others = [n for n in nodes if n not in in_saver]
        saver_fns = _closure(_callees(in_saver, functions), functions)
        # a saver function that anything else can reach is no longer only the saver's
        reach = _closure(_callees(others, functions) | {
            c for fn, body in functions.items() if fn not in saver_fns
            for c in _callees(body, functions)}, functions)
        for node in nodes:
            where = f"{member}, node {node.name}"
            found = _tf_node(node, where)
            if found is None and node.op in SAVER_OPS and node not in in_saver:
                found = Finding(f"uses the op {node.op} outside the model's saver", where,
                                "reads or writes checkpoint files")
            if found is not None:
                findings.append(found)
        for fn, body in functions.items():
            for node in body:
                where = f"{member}, function {fn}"
                found = _tf_node(node, where)
                if found is None and node.op in SAVER_OPS and (fn not in saver_fns
                                                               or fn in reach):
                    found = Finding(f"uses the op {node.op} outside the model's saver",
                                    where, "reads or writes checkpoint files")
                if found is not None:
                    findings.append(found)
    return _unique(findings)


# -- the gate ------------------------------------------------------------------------------

_SCANNERS = {"torchscript": scan_torchscript, "exported-program": scan_exported_program,
             "savedmodel": scan_savedmodel}
_MEMO: dict[tuple[str, str], tuple[object, list[Finding]]] = {}


def scan(fmt: str, path: Path) -> list[Finding]:
    """What the static scan of ``path`` (an artifact of format ``fmt``) refuses; [] for
    formats it does not scan. Results are remembered while the file is unchanged."""
    from mlpm.store import file_status

    if fmt not in _SCANNERS:
        return []
    path = Path(path)
    key = (fmt, str(path))
    status = file_status(path / "saved_model.pb" if fmt == "savedmodel" else path)
    hit = _MEMO.get(key)
    if hit is not None and status is not None and hit[0] == status:
        return list(hit[1])
    findings = _SCANNERS[fmt](path)
    _MEMO[key] = (status, findings)
    return list(findings)


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))


def allowed_unsafe(project: Project | None) -> list[str]:
    """The manifest's ``allow-unsafe-code = ["name", ...]`` ([tool.mlpm] in pyproject)."""
    return [] if project is None else project.opted_in(ALLOW_KEY)


def _find_project() -> Project | None:
    from mlpm.errors import ProjectNotFound
    from mlpm.project import Project

    try:
        return Project.find(None)
    except ProjectNotFound:
        return None


def check(pkg: LockedPackage, fmt: str, path: Path | None, *, trust: bool = False,
          project: Project | None = None) -> None:
    """Before a framework touches ``pkg``'s artifact of format ``fmt`` at ``path``: its
    source must be trusted, and the static scan must find nothing (or the project must
    name the package in allow-unsafe-code). Data formats pass untouched.

    Raises ``UntrustedCode`` (mlpm.trust) or ``UnsafeModel``.
    """
    if fmt not in CODE_FORMATS:
        return
    from mlpm.trust import ensure_trusted, source_of

    label = f"{pkg.name}@{pkg.version}"
    source = source_of(pkg.upstream, pkg.artifacts, pkg.registry, pkg.name)
    if fmt != "torch-hub":
        data = [f for f in dict.fromkeys(a.format for a in pkg.artifacts) if f in DATA_FORMATS]
        instead = (f', or load its {data[0]} form instead (format="{data[0]}")' if data else
                   ", or ask its publisher for an ONNX, safetensors or TFLite form")
        ensure_trusted(source, label, trust_now=trust, what=CODE_FORMATS[fmt],
                       instead=instead)
    else:
        ensure_trusted(source, label, trust_now=trust)
    if path is None:
        return
    findings = scan(fmt, path)
    if not findings:
        return
    if pkg.name in allowed_unsafe(project if project is not None else _find_project()):
        return
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    raise UnsafeModel(
        f"{label} is {CODE_FORMATS[fmt]} that {findings[0]}{more}, so mlpm refused to hand "
        f"it to {'TensorFlow' if fmt == 'savedmodel' else 'torch'} even though you trust its "
        f'source; only if you accept that, add it to {ALLOW_KEY} = ["{pkg.name}"] in the '
        "manifest.")


def is_code_bearing(formats) -> bool:
    """Whether any of ``formats`` needs a trusted source to load."""
    return any(f in CODE_FORMATS for f in formats)
