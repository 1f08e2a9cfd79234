"""Signatures of hubconf.py entrypoints: parameters read from a ``def``, a lambda or a class
constructor (following base classes), what ``functools.partial`` leaves of them,
decorators that keep the wrapped signature (or only extend its docstring), and the
docstrings that go with them. Each parameter is ``{"name", "kind", "default",
"annotation"}`` with ``kind`` one of the constants below, as ``inspect.Parameter`` names
them.
"""

from __future__ import annotations

import ast

from mlpm.interface.hubconf.syntax import own_nodes, own_returns, short
from mlpm.interface.hubconf.targets import Target, unknown

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    # what reading a signature asks of the namespace it is read in, as a Protocol, so that
    # signatures.py does not import namespace.py
    from mlpm.interface.hubconf.targets import Namespace

_MAX_CLASS_DEPTH = 8  # base classes followed to find a constructor

POSITIONAL_ONLY = "positional_only"
POSITIONAL_OR_KEYWORD = "positional_or_keyword"
VAR_POSITIONAL = "var_positional"
KEYWORD_ONLY = "keyword_only"
VAR_KEYWORD = "var_keyword"

# decorators known to keep the wrapped signature (functools.wraps or return the function)
_KEEPS_SIGNATURE = {
    "functools.lru_cache", "functools.cache", "functools.wraps", "torch.no_grad",
    "torch.inference_mode", "torch.enable_grad", "torch.autograd.no_grad",
    "torch.jit.unused", "torch.jit.ignore", "typing.no_type_check", "typing.final",
}
# transformers' docstring decorators return the function with __doc__ extended
_DOC_DECORATORS = {
    "add_start_docstrings", "add_end_docstrings", "add_start_docstrings_to_model_forward",
    "replace_return_docstrings", "add_code_sample_docstrings",
}


def function_target(space: Namespace, node: ast.FunctionDef | ast.AsyncFunctionDef,
                    seq: int, hops: int) -> Target:
    """A ``def`` bound in ``space``: its parameters and docstring, unless a decorator may
    replace it."""
    params = parameters(node.args)
    doc = ast.get_docstring(node)
    notes = []
    if isinstance(node, ast.AsyncFunctionDef):
        notes.append("async def: calling it returns a coroutine")
    for dec in reversed(node.decorator_list):  # the innermost decorator applies first
        keeps, note = _decorator(space, dec, seq, hops)
        if not keeps:
            return unknown(
                f"decorated with @{ast.unparse(dec)}, which may replace it: what it "
                f"becomes cannot be read statically (the def takes ({_signature(params)}))",
                where=space.where())
        if note:
            notes.append(note)
    return Target("function", params, doc, notes, node, space, seq, where=space.where())


def _decorator(space: Namespace, dec: ast.expr, seq: int, hops: int) -> tuple[bool, str | None]:
    """Whether a decorator keeps the signature (and a note when it edits the doc)."""
    func = dec.func if isinstance(dec, ast.Call) else dec
    origin = space.origin(func, seq, hops)
    if origin in _KEEPS_SIGNATURE:
        return True, None
    shown = ast.unparse(func)
    if origin and origin.split(".")[0] == "transformers" and (
            origin.rsplit(".", 1)[-1] in _DOC_DECORATORS):
        return True, f"its docstring is extended at run time by @{shown}"
    found = space.expr(func, seq, hops + 1)
    fn = found.node
    if found.kind != "function" or not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False, None
    if isinstance(dec, ast.Call):
        fn = _returned_local_def(fn)  # a decorator factory: what it returns decorates
        if fn is None:
            return False, None
    keeps, edits_doc = _keeps_signature(fn)
    if not keeps:
        return False, None
    return True, (f"its docstring is changed at run time by @{shown}" if edits_doc else None)


def class_target(space: Namespace, node: ast.ClassDef, seq: int, hops: int) -> Target:
    """A ``class`` bound in ``space``: its docstring and constructor parameters."""
    doc = ast.get_docstring(node)
    notes = []
    for dec in reversed(node.decorator_list):
        keeps, note = _decorator(space, dec, seq, hops)
        if not keeps:
            return Target("class", None, doc, [
                f"decorated with @{ast.unparse(dec)}: its constructor cannot be read "
                "statically"], node, space, seq, where=space.where())
        if note:
            notes.append(note)
    params, why = _constructor(space, node, seq, hops, 0)
    if why:
        notes.append(why)
    return Target("class", params, doc, notes, node, space, seq, where=space.where())


def _constructor(space: Namespace, node: ast.ClassDef, seq: int | None, hops: int,
                 depth: int) -> tuple[list[dict] | None, str | None]:
    """A class's constructor parameters (without self), following its bases."""
    methods = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)}
    for name in ("__init__", "__new__"):
        if name in methods:
            return parameters(methods[name].args, drop_first=True), None
    if any(k.arg == "metaclass" for k in node.keywords):
        return None, "its constructor depends on a metaclass and cannot be read statically"
    bases = [b for b in node.bases if ast.unparse(b) != "object"]
    for base in bases:
        found = space.expr(base, seq, hops)
        if (found.kind != "class" or not isinstance(found.node, ast.ClassDef)
                or found.space is None):
            return None, (f"its constructor comes from {ast.unparse(base)}, which cannot be "
                          "read statically")
        if depth >= _MAX_CLASS_DEPTH:
            return None, "its constructor is too many base classes away"
        params, why = _constructor(found.space, found.node, found.seq, hops, depth + 1)
        if params is None or params:
            return params, why
        if any(isinstance(s, ast.FunctionDef) and s.name in ("__init__", "__new__")
               for s in found.node.body):
            return params, why  # a base that really takes no arguments
    return [], None


def partial_target(space: Namespace, e: ast.Call, seq: int | None, hops: int) -> Target:
    """``functools.partial(f, ...)``: f's signature less what the call binds."""
    if not e.args or any(isinstance(a, ast.Starred) for a in e.args) or any(
            k.arg is None for k in e.keywords):
        return unknown(f"`{short(e)}` unpacks its arguments: cannot be read statically")
    func, args = e.args[0], e.args[1:]
    bound = [ast.unparse(a) for a in args] + [f"{k.arg}={ast.unparse(k.value)}"
                                              for k in e.keywords]
    what = f"functools.partial of {ast.unparse(func)}"
    what += f" with {', '.join(bound)} bound" if bound else ""
    inner = space.expr(func, seq, hops)
    if inner.kind not in ("function", "class") or inner.params is None:
        why = inner.notes[0] if inner.notes else "it is not a function"
        return unknown(f"{what}; its parameters cannot be read statically ({why})")
    keywords = {k.arg: ast.unparse(k.value) for k in e.keywords if k.arg is not None}
    params = _apply_partial(inner.params, len(args), keywords)
    if isinstance(params, str):
        return unknown(f"{what}, which does not fit its signature: {params}")
    notes = [what, "torch.hub.help shows functools.partial's own docstring, not this one"]
    if inner.kind == "class":
        notes.append(f"{ast.unparse(func)} is a class")
    return Target("function", params, inner.doc, notes, inner.node, inner.space,
                  inner.seq, where=inner.where)


def parameters(args: ast.arguments, *, drop_first: bool = False) -> list[dict]:
    """The parameters of a ``def`` or lambda, in order (``drop_first``: without self / cls)."""
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    out = [
        _param(a, POSITIONAL_ONLY if i < len(args.posonlyargs) else POSITIONAL_OR_KEYWORD, d)
        for i, (a, d) in enumerate(zip(positional, defaults, strict=True))
    ]
    if drop_first and out:
        out = out[1:]  # self / cls
    if args.vararg:
        out.append(_param(args.vararg, VAR_POSITIONAL, None))
    out += [_param(a, KEYWORD_ONLY, d) for a, d in zip(args.kwonlyargs, args.kw_defaults,
                                                       strict=True)]
    if args.kwarg:
        out.append(_param(args.kwarg, VAR_KEYWORD, None))
    return out


def _param(arg: ast.arg, kind: str, default: ast.expr | None) -> dict:
    return {
        "name": arg.arg,
        "kind": kind,
        "default": ast.unparse(default) if default is not None else None,
        "annotation": ast.unparse(arg.annotation) if arg.annotation is not None else None,
    }


def _apply_partial(params: list[dict], n_args: int, keywords: dict[str, str]) -> list[dict] | str:
    """The signature of ``functools.partial(f, *n_args, **keywords)`` given f's, with the
    rules of ``inspect.signature``: positionally bound parameters disappear; a keyword-bound
    one becomes keyword-only with the bound value as default, and so do all after it."""
    positional = [p for p in params if p["kind"] in (POSITIONAL_ONLY, POSITIONAL_OR_KEYWORD)]
    by_name = {p["name"]: p for p in params}
    has_var_positional = any(p["kind"] == VAR_POSITIONAL for p in params)
    has_var_keyword = any(p["kind"] == VAR_KEYWORD for p in params)
    if n_args > len(positional) and not has_var_positional:
        return f"{n_args} positional arguments for {len(positional)} parameters"
    bound_by_position = {p["name"] for p in positional[:n_args]}
    for name in keywords:
        p = by_name.get(name)
        if p is not None and p["kind"] in (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY):
            if name in bound_by_position:
                return f"{name} is bound both by position and by keyword"
        elif not has_var_keyword:
            return f"no parameter named {name}"
    out, to_keyword_only = [], False
    for p in params:
        name, kind = p["name"], p["kind"]
        if name in bound_by_position:
            continue
        if name in keywords and kind in (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY):
            to_keyword_only |= kind == POSITIONAL_OR_KEYWORD
            out.append({**p, "kind": KEYWORD_ONLY, "default": keywords[name]})
            continue
        if to_keyword_only and kind == VAR_POSITIONAL:
            continue
        if to_keyword_only and kind == POSITIONAL_OR_KEYWORD:
            p = {**p, "kind": KEYWORD_ONLY}
        out.append(p)
    return out


def _signature(params: list[dict]) -> str:
    shown, star_done = [], False
    for p in params:
        if p["kind"] == KEYWORD_ONLY and not star_done:
            shown.append("*")
        star_done |= p["kind"] in (VAR_POSITIONAL, KEYWORD_ONLY)
        prefix = {VAR_POSITIONAL: "*", VAR_KEYWORD: "**"}.get(p["kind"], "")
        text = prefix + p["name"] + (f"={p['default']}" if p["default"] is not None else "")
        shown.append(text)
    return ", ".join(shown)


def _keeps_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[bool, bool]:
    """Whether a decorator function gives back its argument or a functools.wraps wrapper
    of it (so inspect.signature sees the original), and whether it edits ``__doc__``."""
    args = [*fn.args.posonlyargs, *fn.args.args]
    if not args:
        return False, False
    wrapped = args[0].arg
    local_defs = {s.name: s for s in fn.body if isinstance(s, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))}
    returns = list(own_returns(fn))
    if not returns:
        return False, False
    for ret in returns:
        value = ret.value
        if isinstance(value, ast.Name) and value.id == wrapped:
            continue
        inner = local_defs.get(value.id) if isinstance(value, ast.Name) else None
        if inner is not None and any(
                isinstance(d, ast.Call) and ast.unparse(d.func).split(".")[-1] == "wraps"
                and d.args and ast.unparse(d.args[0]) == wrapped for d in inner.decorator_list):
            continue
        return False, False
    edits_doc = any(
        isinstance(node, (ast.Assign, ast.AugAssign))
        and any(ast.unparse(t) == f"{wrapped}.__doc__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
        for node in own_nodes(fn)
    )
    return True, edits_doc


def _returned_local_def(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.FunctionDef | None:
    local_defs = {s.name: s for s in fn.body if isinstance(s, ast.FunctionDef)}
    names = {r.value.id if isinstance(r.value, ast.Name) else None for r in own_returns(fn)}
    if len(names) != 1:
        return None
    name = names.pop()
    return local_defs.get(name) if name is not None else None
