"""Small pure helpers over ``ast`` nodes for reading hubconf.py: constant strings and
lists, assignment targets, loop unrolling, and recognisers of ``globals()``,
``sys.modules[__name__]``, ``if __name__ == "__main__"`` and other module-level idioms.
Nothing here knows about namespaces or modules.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable


def own_nodes(fn: ast.AST) -> Iterable[ast.AST]:
    """Nodes of a function body, not descending into nested functions or classes."""
    stack = list(getattr(fn, "body", []))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def own_returns(fn: ast.AST) -> Iterable[ast.Return]:
    return (n for n in own_nodes(fn) if isinstance(n, ast.Return))


def breaks(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, (ast.Break, ast.Continue))
               for s in body for n in own_nodes(ast.Module(body=[s], type_ignores=[])))


def target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in target_names(e)]
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    return []


def match_target(target: ast.expr, item: ast.expr) -> dict[str, ast.expr] | None:
    if isinstance(target, ast.Name):
        return {target.id: item}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(item, (ast.Tuple, ast.List)):
        if len(target.elts) != len(item.elts):
            return None
        out: dict[str, ast.expr] = {}
        for t, i in zip(target.elts, item.elts, strict=True):
            sub = match_target(t, i)
            if sub is None:
                return None
            out.update(sub)
        return out
    return None


class Substitute(ast.NodeTransformer):
    """Replaces a loop variable by the item it stands for in one unrolled iteration."""

    def __init__(self, mapping: dict[str, ast.expr]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.mapping:
            return ast.copy_location(copy.deepcopy(self.mapping[node.id]), node)
        return node


def const_str(e: ast.expr | None) -> str | None:
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        return e.value
    if isinstance(e, ast.JoinedStr):
        parts = []
        for v in e.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            elif (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Constant)
                  and v.conversion == -1 and v.format_spec is None):
                parts.append(str(v.value.value))
            else:
                return None
        return "".join(parts)
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        left, right = const_str(e.left), const_str(e.right)
        return left + right if left is not None and right is not None else None
    return None


def const_strs(e: ast.AST | None) -> list[str] | None:
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        left, right = const_strs(e.left), const_strs(e.right)
        return left + right if left is not None and right is not None else None
    if not isinstance(e, (ast.List, ast.Tuple)):
        return None
    values = [const_str(x) for x in e.elts]
    strs = [v for v in values if v is not None]
    return strs if len(strs) == len(values) else None


def is_namespace_call(e: ast.expr) -> bool:
    """``globals()`` / ``vars()`` / ``locals()``: at module level, the module's namespace."""
    return (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.args
            and e.func.id in ("globals", "vars", "locals"))


def is_this_module(e: ast.expr) -> bool:
    return ast.unparse(e) in ("sys.modules[__name__]", "sys.modules.get(__name__)")


def is_this_module_dict(e: ast.expr) -> bool:
    return isinstance(e, ast.Attribute) and e.attr == "__dict__" and is_this_module(e.value)


def is_main_check(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    return "__name__" in sides and ({"'__main__'", '"__main__"'} & sides) != set()


def static_truth(test: ast.expr) -> bool | None:
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        return False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = static_truth(test.operand)
        return None if inner is None else not inner
    return None


def is_constant_name(name: str) -> bool:
    return len(name) > 1 and name.isupper()


def short(e: ast.expr) -> str:
    text = ast.unparse(e)
    return text if len(text) <= 80 else text[:77] + "..."
