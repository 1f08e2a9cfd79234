"""The signature of a torch exported program (``.pt2``), read without torch.

``torch.export.save`` writes a zip whose ``<root>/models/model.json`` is the serialized
program (torch/_export/serde/schema.py): ``graph_module.signature.input_specs`` names the
user inputs among the graph's placeholders (parameters, buffers and constants are the
rest), ``output_specs`` the user outputs (named by position: ``output``, or ``output_0``,
``output_1``... for several, as their graph names are node names), and
``graph_module.graph.tensor_values`` gives each tensor's dtype (a ``ScalarType``) and
sizes: ``{"as_int": 4}`` or, for a dynamic dimension,
``{"as_expr": {"expr_str": "Symbol('s77', positive=True, integer=True)"}}``
(``"s0"`` in older torch), recorded as its symbol's name.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlpm.errors import InvalidModelFile

# torch/_export/serde/schema.py ScalarType -> torch dtype names without "torch."
DTYPES = {
    1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 6: "float16", 7: "float32",
    8: "float64", 9: "complex32", 10: "complex64", 11: "complex128", 12: "bool",
    13: "bfloat16", 28: "uint16", 29: "float8_e4m3fn", 30: "float8_e5m2",
    31: "float8_e4m3fnuz", 32: "float8_e5m2fnuz", 33: "float8_e8m0fnu", 34: "uint32",
    35: "uint64",
}
MAX_MEMBERS = 100_000  # as mlpm.codescan: no exported program needs more
MAX_JSON_BYTES = 256 << 20  # the serialized program read into memory is at most this large
MAX_EXPR = 1000  # a symbolic size's expression kept in the record
_SYMBOL = re.compile(r"^Symbol\(\s*'([^']{1,200})'")


def read_signatures(path: str | Path) -> list[dict]:
    """The one signature (``main``) of the exported program at ``path``.

    >>> read_signatures("linear.pt2")  # doctest: +SKIP
    [{'name': 'main', 'inputs': [{'name': 'x', 'dtype': 'float32', 'shape': ['s77', 4]}],
      'outputs': [{'name': 'output', 'dtype': 'float32', 'shape': ['s77', 3]}]}]
    """
    path = Path(path)
    program = _program(path)
    try:
        return [_signature(program)]
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _invalid(path, f"its serialized program is malformed ({type(exc).__name__})") \
            from None


def _invalid(path: Path, why: str) -> InvalidModelFile:
    return InvalidModelFile(f"{path} is not a readable exported program: {why}; save it "
                            "again with torch.export.save or download it again.")


def _program(path: Path) -> dict:
    import json
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
        found = [i for i in infos if not i.is_dir() and _is_model(i.filename)]
        if not found:
            raise _invalid(path, "it has no models/model.json")
        info = found[0]
        try:
            data = read_member(archive, info, MAX_JSON_BYTES)
        except ValueError as exc:
            raise _invalid(path, str(exc)) from None
    try:
        program = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise _invalid(path, f"{info.filename} is not JSON ({type(exc).__name__})") from None
    if not isinstance(program, dict):
        raise _invalid(path, f"{info.filename} is not a JSON object")
    return program


def _is_model(name: str) -> bool:
    """``models/model.json`` under the archive's root folder (the main program)."""
    parts = name.split("/")
    return parts[-2:] == ["models", "model.json"] and len(parts) <= 3


def _signature(program: dict) -> dict:
    module = program["graph_module"]
    graph, spec = module["graph"], module["signature"]
    values = graph.get("tensor_values")
    if not isinstance(values, dict):
        raise TypeError("tensor_values is not an object")
    inputs = []
    for item in spec.get("input_specs") or []:
        user = item.get("user_input")
        if user is not None:
            inputs.append(_argument(user["arg"], values))
    outputs = []
    for item in spec.get("output_specs") or []:
        user = item.get("user_output")
        if user is not None:
            outputs.append(_argument(user["arg"], values))
    # an output's graph name is its node's ("relu"), which a new activation changes:
    # outputs are positional, as forward() returns them
    for i, output in enumerate(outputs):
        output["name"] = "output" if len(outputs) == 1 else f"output_{i}"
    return {"name": "main", "inputs": inputs, "outputs": outputs}


def _argument(arg: dict, values: dict) -> dict:
    if "as_tensor" in arg:
        name = str(arg["as_tensor"]["name"])
        meta = values[name]  # a user tensor the graph does not describe: malformed
        if not isinstance(meta, dict):
            raise TypeError(f"tensor {name!r} is not described")
        sizes = meta.get("sizes")
        shape = [_dim(d) for d in sizes] if isinstance(sizes, list) else None
        code = meta.get("dtype")
        dtype = DTYPES.get(code, "undefined") if isinstance(code, int) else "undefined"
        return {"name": name, "dtype": dtype,
                "shape": shape}
    if "as_sym_int" in arg:  # a SymInt input: a scalar
        sym = arg["as_sym_int"]
        symbol = sym.get("as_name") if isinstance(sym, dict) else None
        return {"name": str(symbol or "symint"), "dtype": "int64", "shape": []}
    kind = next(iter(arg), "unknown")
    return {"name": str(kind), "dtype": "undefined", "shape": None}


def _dim(size) -> int | str | None:
    if not isinstance(size, dict):
        return None
    if isinstance(size.get("as_int"), int):
        return int(size["as_int"])
    expr = size.get("as_expr")
    if isinstance(expr, dict):
        text = expr.get("expr_str")
        if isinstance(text, str) and text:
            match = _SYMBOL.match(text)
            return match.group(1) if match else text[:MAX_EXPR]
    if isinstance(size.get("as_name"), str):  # older schema: a SymInt named in the graph
        return size["as_name"]
    return None
