"""The signature of a TorchScript model (``.pt``), read without torch.

``torch.jit.save`` writes a zip whose ``<root>/data.pkl`` pickles the top module as an
instance of a ``__torch__...`` class, and whose ``<root>/code/__torch__/...py`` holds that
class's typed Python source: ``def forward(self: __torch__.M, x: Tensor, sr: int=3) ->
Tensor``. The class is found from the pickle's first GLOBAL opcode (read by
``pickletools``, never unpickled) and ``forward`` parsed with ``ast``. TorchScript does
not record shapes or tensor dtypes: those stay None, and the signature says so.
"""

from __future__ import annotations

import ast
from pathlib import Path

from mlpm.errors import InvalidModelFile

MAX_MEMBERS = 100_000  # as mlpm.codescan: no TorchScript file needs more
MAX_CODE_BYTES = 16 << 20  # a code file or data.pkl read into memory is at most this large
SHAPES_NOTE = "not recorded in TorchScript; declare them in [package.interface]"
# TorchScript scalar types -> the dtype of the value a caller passes
_SCALARS = {"int": "int64", "float": "float64", "bool": "bool"}
_TENSOR_TYPES = ("Tensor", "Optional[Tensor]")


def read_signatures(path: str | Path) -> list[dict]:
    """The one signature (``main``) of the TorchScript model at ``path``: ``forward``'s
    parameters as inputs (tensors, and scalars without a default), its return as outputs.

    >>> read_signatures("model.pt")  # doctest: +SKIP
    [{'name': 'main', 'inputs': [{'name': 'x', 'dtype': None, 'shape': None,
                                  'type': 'Tensor'}],
      'outputs': [{'name': 'output', 'dtype': None, 'shape': None, 'type': 'Tensor'}],
      'options': [{'name': 'sr', 'type': 'int', 'default': 3}],
      'shapes': 'not recorded in TorchScript; declare them in [package.interface]'}]
    """
    path = Path(path)
    source, where, cls = _top_class_source(path)
    try:
        tree = ast.parse(source, filename=where)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _invalid(path, f"{where} is not Python mlpm can parse") from None
    forward = _forward(tree, cls)
    if forward is None:
        raise _invalid(path, f"{where} has no class {cls} with a forward method")
    return [_signature(forward)]


def _invalid(path: Path, why: str) -> InvalidModelFile:
    return InvalidModelFile(f"{path} is not a readable TorchScript model: {why}; save it "
                            "again with torch.jit.save or download it again.")


def _top_class_source(path: Path) -> tuple[str, str, str | None]:
    """(code, member name, class name or None) of the top module's class."""
    import zipfile

    from mlpm.archive import read_member

    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise _invalid(path, f"it is not a zip archive ({exc})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise _invalid(path, f"it holds more than {MAX_MEMBERS} files")
        by_name = {i.filename: i for i in infos if not i.is_dir()}

        def read(name: str) -> bytes:
            try:
                return read_member(archive, by_name[name], MAX_CODE_BYTES)
            except ValueError as exc:
                raise _invalid(path, str(exc)) from None

        pickles = sorted(n for n in by_name if n.count("/") == 1 and n.endswith("/data.pkl"))
        if not pickles:
            raise _invalid(path, "it has no data.pkl")
        root = pickles[0].split("/", 1)[0]
        module, cls = _first_global(read(pickles[0]))
        if module is None or not (module == "__torch__" or module.startswith("__torch__.")):
            raise _invalid(path, "its data.pkl does not hold a TorchScript module")
        where = f"{root}/code/{module.replace('.', '/')}.py"
        if where not in by_name:
            raise _invalid(path, f"it has no {where}")
        try:
            return read(where).decode("utf-8"), where, cls
        except UnicodeDecodeError:
            raise _invalid(path, f"{where} is not UTF-8") from None


def _first_global(data: bytes) -> tuple[str | None, str | None]:
    """The class of the pickle's first GLOBAL, read opcode by opcode (nothing runs)."""
    import pickletools

    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str) and " " in arg:
                module, name = arg.split(" ", 1)
                return module, name
            if opcode.name in ("STOP", "REDUCE", "BUILD"):
                break
    except Exception:  # noqa: BLE001 - any malformed pickle: no class named
        pass
    return None, None


def _forward(tree: ast.Module, cls: str | None) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "forward":
                    return item
    return None


def _signature(forward: ast.FunctionDef) -> dict:
    args = forward.args.args[1:]  # self
    defaults: list[ast.expr | None] = [None] * (len(args) - len(forward.args.defaults))
    defaults += forward.args.defaults
    inputs, options = [], []
    for arg, default in zip(args, defaults, strict=True):
        kind = _type(arg.annotation)
        if kind in _TENSOR_TYPES or default is None:
            inputs.append(_tensor(arg.arg, kind))
        else:
            options.append({"name": arg.arg, "type": kind, "default": _literal(default)})
    returns = _type(forward.returns)
    items = _tuple_items(forward.returns)
    if items is None:
        outputs = [_tensor("output", returns)]
    else:
        outputs = [_tensor(f"output_{i}", _type(item)) for i, item in enumerate(items)]
    signature: dict = {"name": "main", "inputs": inputs, "outputs": outputs}
    if options:
        signature["options"] = options
    signature["shapes"] = SHAPES_NOTE
    return signature


def _tensor(name: str, kind: str) -> dict:
    dtype = _SCALARS.get(kind)
    return {"name": name, "dtype": dtype, "shape": [] if dtype else None, "type": kind}


def _type(node: ast.expr | None) -> str:
    if node is None:
        return "Any"
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):
        return "Any"
    return text[:200]


def _tuple_items(node: ast.expr | None) -> list[ast.expr] | None:
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
            node.value.id == "Tuple":
        inner = node.slice
        return list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
    return None


def _literal(node: ast.expr):
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
        return _type(node)
    return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)
