"""The module-level namespace of one Python file, read statically: its bindings in order,
statement by statement as the interpreter would run them (imports, assignments,
``globals()[...] = ...``, literal loops unrolled, ``if`` / ``try`` branches as conditions),
and what an expression evaluates to as far as the source text tells (a function, a class,
a module, data, or unknown with the reason). Following an import into another file of the
repository is ``Repository``'s job (modules.py); reading a signature is signatures.py's.
"""

from __future__ import annotations

import ast
import builtins
import copy

from mlpm.interface.hubconf.signatures import (
    class_target,
    function_target,
    parameters,
    partial_target,
)
from mlpm.interface.hubconf.syntax import (
    Substitute,
    breaks,
    const_str,
    const_strs,
    is_constant_name,
    is_main_check,
    is_namespace_call,
    is_this_module,
    is_this_module_dict,
    match_target,
    short,
    static_truth,
    target_names,
)
from mlpm.interface.hubconf.targets import Binding, Target, unknown

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Protocol

    class Repository(Protocol):
        """What a namespace asks of the repository it is read in (modules.py's
        ``Repository``), named here so that namespace.py does not import modules.py."""

        @property
        def resolve(self) -> object | None: ...  # a ModuleResolver, or None: no sources
        broken: dict[str, str]
        memo: dict[int, Target]
        active: set[int]

        def space(self, name: str) -> Namespace | None: ...

        def lookup(self, modules: list[str], attr: str, hops: int) -> Target: ...

MAX_HOPS = 5  # modules crossed for one name; real re-export chains are 1-3 deep
_MAX_UNROLL = 256  # a literal for-loop longer than this is not a registration table
# calls whose result is never callable, so `X = call(...)` is data, not an entrypoint
_DATA_CALLS = {
    *(f"builtins.{n}" for n in (
        "str", "int", "float", "bool", "bytes", "bytearray", "complex", "list", "dict",
        "tuple", "set", "frozenset", "len", "sorted", "range", "repr", "format", "sum", "min",
        "max", "abs", "round", "open", "enumerate", "zip", "reversed", "hash", "id", "ord",
        "chr", "hex", "oct", "bin", "print", "iter", "map", "filter", "input", "divmod",
    )),
    "os.getenv", "os.environ.get", "os.getcwd", "os.listdir", "os.cpu_count", "os.makedirs",
    "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "logging.getLogger",
    "json.load", "json.loads", "re.compile", "torch.device", "torch.tensor", "torch.zeros",
    "torch.ones", "torch.cuda.is_available", "collections.OrderedDict",
    "collections.defaultdict", "warnings.warn", "sys.path.append", "sys.path.insert",
}
_MODULE_CALLS = {"importlib.import_module", "builtins.__import__"}
_STR_METHODS = {
    "format", "join", "replace", "strip", "lstrip", "rstrip", "split", "rsplit", "lower",
    "upper", "encode", "decode", "startswith", "endswith", "read", "readlines", "read_text",
}
_DATA_ATTRIBUTES = {"parent", "parents", "name", "stem", "suffix", "shape", "dtype"}


class Namespace:
    """The module-level namespace of one file: its bindings in order, read statement by
    statement as the interpreter would run them, without running anything."""

    def __init__(self, ctx: Repository, tree: ast.Module, module: str | None,
                 is_package: bool | None, label: str):
        self.ctx, self.module, self.is_package, self.label = ctx, module, is_package, label
        self.bindings: dict[str, Binding] = {}  # final bindings, in order of last binding
        self.history: dict[str, list[Binding]] = {}
        self.all_names: list[str] | None = None
        self.all_dynamic: str | None = None
        self.deps_changes: list[tuple[int, ast.expr | None]] = []  # after `dependencies = ...`
        self.unknown_stars: list[str] = []
        self.dynamic: list[str] = []
        self.notes: list[str] = []
        self._seq = 0
        self._walk(tree.body, ())

    # -------------------------------------------------------------- reading statements

    def _bind(self, name: str, binding: Binding) -> None:
        self._seq += 1
        binding.name, binding.seq = name, self._seq
        self.history.setdefault(name, []).append(binding)
        self.bindings.pop(name, None)
        self.bindings[name] = binding

    def _unbind(self, name: str, line: int) -> None:
        if name in self.bindings:
            self._bind(name, Binding("deleted", line))
            del self.bindings[name]

    def lookup(self, name: str, seq: int | None = None) -> Binding | None:
        """The binding of ``name`` just before ``seq`` (or the final one)."""
        if seq is None:
            return self.bindings.get(name)
        for binding in reversed(self.history.get(name, ())):
            if binding.seq < seq:
                return None if binding.how == "deleted" else binding
        return None

    def _walk(self, body: list[ast.stmt], conds: tuple[str, ...]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Raise):
                if not conds:
                    self.notes.append(
                        f"line {stmt.lineno}: the module level always raises "
                        f"`{short(stmt.exc) if stmt.exc else 'raise'}`, so importing "
                        f"{self.label} fails; what follows is never defined"
                    )
                return  # the rest of this block never runs
            self._statement(stmt, conds)

    def _statement(self, s: ast.stmt, conds: tuple[str, ...]) -> None:
        line = s.lineno
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._bind(s.name, Binding("def", line, s, conditions=conds))
        elif isinstance(s, ast.ClassDef):
            self._bind(s.name, Binding("class", line, s, conditions=conds))
        elif isinstance(s, ast.Import):
            for alias in s.names:
                # `import a.b` binds `a`; `import a.b as c` binds c to a.b
                module = alias.name if alias.asname else alias.name.split(".")[0]
                name = alias.asname or module
                self._bind(name, Binding("module", line, modules=[module], conditions=conds))
        elif isinstance(s, ast.ImportFrom):
            modules = self._absolute(s.module, s.level, line)
            for alias in s.names:
                if alias.name == "*":
                    self._star(modules, s, conds)
                else:
                    self._bind(alias.asname or alias.name, Binding(
                        "import", line, modules=modules, attr=alias.name, conditions=conds))
        elif isinstance(s, ast.Assign):
            for target in s.targets:
                self._assign(target, s.value, line, conds)
        elif isinstance(s, ast.AnnAssign) and s.value is not None:
            self._assign(s.target, s.value, line, conds)
        elif isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name):
            self._augment(s, conds)
        elif isinstance(s, ast.Delete):
            for target in s.targets:
                for name in target_names(target):
                    self._unbind(name, line)
        elif isinstance(s, ast.If):
            self._if(s, conds)
        elif isinstance(s, (ast.Try, ast.TryStar)):
            # handlers first so that the try body, the usual outcome, is the last binding
            for handler in s.handlers:
                kind = ast.unparse(handler.type) if handler.type else "any exception"
                self._walk(handler.body, (*conds, f"an `except {kind}` handler"))
            self._walk(s.body, (*conds, "a `try` block"))
            self._walk(s.orelse, (*conds, "the `else` of a `try` block"))
            self._walk(s.finalbody, conds)
        elif isinstance(s, (ast.For, ast.AsyncFor)):
            self._for(s, conds)
        elif isinstance(s, ast.While):
            self._walk(s.body, (*conds, "a `while` loop"))
            self._walk(s.orelse, conds)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                if item.optional_vars is not None:
                    for name in target_names(item.optional_vars):
                        self._bind(name, Binding("hidden", line, attr="a `with` target",
                                                  conditions=conds))
            self._walk(s.body, conds)
        elif isinstance(s, ast.Match):
            for case in s.cases:
                self._walk(case.body, (*conds, f"`case {ast.unparse(case.pattern)}`"))
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call):
            self._call_statement(s.value, line, conds)

    def _absolute(self, module: str | None, level: int, line: int) -> list[str]:
        """Candidate absolute names of a (possibly relative) import's module."""
        if level == 0:
            return [module or ""]
        if self.module is None:
            dots = "." * level
            self.notes.append(
                f"line {line}: the relative import `from {dots}{module or ''} import ...` "
                "fails under torch.hub, "
                f"which loads {self.label} as a top-level module; read relative to the "
                "repository root"
            )
            return [module or ""] if level == 1 else []
        parts = self.module.split(".")
        packages = {True: [parts], False: [parts[:-1]], None: [parts, parts[:-1]]}
        out = []
        for package in packages[self.is_package]:
            if level - 1 > len(package):
                continue
            base = package[: len(package) - (level - 1)]
            out.append(".".join([*base, *([module] if module else [])]))
        return out

    def _star(self, modules: list[str], s: ast.ImportFrom, conds: tuple[str, ...]) -> None:
        shown = "." * s.level + (s.module or "")
        for module in modules:
            space = self.ctx.space(module)
            if space is None:
                continue
            for name in space.exported_names():
                self._bind(name, Binding("import", s.lineno, modules=[module], attr=name,
                                          conditions=conds, via="from ... import *"))
            if space.unknown_stars or space.dynamic or space.all_dynamic:
                self.unknown_stars.append(
                    f"`from {shown} import *` (line {s.lineno}) may also bring names that "
                    f"{module} sets in ways that cannot be read statically"
                )
            return
        why = modules[0] if modules else shown
        reason = self.ctx.broken.get(why, f"{why} is outside the repository" if why
                                     else "it points outside the repository")
        if self.ctx.resolve is None:
            reason = "no module source was given to follow it"
        self.unknown_stars.append(
            f"`from {shown} import *` (line {s.lineno}): the names it brings cannot be "
            f"known statically ({reason})"
        )

    def exported_names(self) -> list[str]:
        """What ``from this import *`` binds."""
        if self.all_names is not None and not self.all_dynamic:
            return list(self.all_names)
        return [n for n in self.bindings if not n.startswith("_")]

    def _assign(self, target: ast.expr, value: ast.expr, line: int,
                conds: tuple[str, ...], via: str | None = None) -> None:
        if isinstance(target, ast.Name):
            if target.id == "__all__":
                self._set_all(value, line)
            elif target.id == "dependencies":
                self.deps_changes.clear()
            self._bind(target.id, Binding("assign", line, value, conditions=conds, via=via))
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            if elts is not None and len(elts) == len(target.elts) and not any(
                    isinstance(e, ast.Starred) for e in [*elts, *target.elts]):
                for sub_target, sub_value in zip(target.elts, elts, strict=True):
                    self._assign(sub_target, sub_value, line, conds, via)
                return
            for name in target_names(target):
                unpacked = ast.Subscript(value=value, slice=ast.Constant(0))
                self._bind(name, Binding("assign", line, ast.copy_location(unpacked, value),
                                          conditions=conds, via=via))
        elif isinstance(target, ast.Subscript) and is_namespace_call(target.value):
            key = const_str(target.slice)
            shown = f"{ast.unparse(target)} = ..."
            if key is None:
                self.dynamic.append(
                    f"line {line}: names set with `{shown}` cannot be known statically")
            else:
                self._bind(key, Binding("assign", line, value, conditions=conds,
                                         via=f"set with `{shown}`"))
        elif isinstance(target, ast.Attribute) and is_this_module(target.value):
            self._note_this_module(line)
            self._bind(target.attr, Binding("assign", line, value, conditions=conds,
                                             via=f"set with `{ast.unparse(target)} = ...`"))

    def _augment(self, s: ast.AugAssign, conds: tuple[str, ...]) -> None:
        assert isinstance(s.target, ast.Name)  # the caller only passes `name += ...`
        name = s.target.id
        if name == "__all__":
            more = const_strs(s.value)
            if more is None or self.all_names is None or not isinstance(s.op, ast.Add):
                self.all_dynamic = f"__all__ is changed at run time (line {s.lineno})"
            else:
                self.all_names.extend(more)
            return
        if name == "dependencies":
            self.deps_changes.append((s.lineno, s.value if isinstance(s.op, ast.Add) else None))
            return
        value = ast.copy_location(ast.BinOp(ast.Name(name, ast.Load()), s.op, s.value), s)
        self._bind(name, Binding("assign", s.lineno, value, conditions=conds))

    def _set_all(self, value: ast.expr, line: int) -> None:
        names = const_strs(value)
        if names is None:
            self.all_names, self.all_dynamic = None, f"__all__ is built at run time (line {line})"
        else:
            self.all_names, self.all_dynamic = names, None

    def _if(self, s: ast.If, conds: tuple[str, ...]) -> None:
        if is_main_check(s.test):
            self._walk(s.orelse, conds)  # torch.hub imports hubconf as "hubconf"
            return
        truth = static_truth(s.test)
        if truth is not None:
            self._walk(s.body if truth else s.orelse, conds)
            return
        test = ast.unparse(s.test)
        # the else branch first so that the if branch, when both bind a name, is the last one
        self._walk(s.orelse, (*conds, f"the `else` of `if {test}`"))
        self._walk(s.body, (*conds, f"`if {test}`"))

    def _for(self, s: ast.For | ast.AsyncFor, conds: tuple[str, ...]) -> None:
        items = self._literal_items(s.iter)
        if items is not None and not breaks(s.body):
            found = [match_target(s.target, item) for item in items]
            mappings = [m for m in found if m is not None]
            if len(mappings) == len(found):
                # a loop over a literal table: unroll it, so `globals()[name] = ...` is known
                for item, mapping in zip(items, mappings, strict=True):
                    body = [Substitute(mapping).visit(copy.deepcopy(st)) for st in s.body]
                    self._assign(s.target, item, s.lineno, conds)
                    self._walk(body, conds)
                self._walk(s.orelse, conds)
                return
        for name in target_names(s.target):
            self._bind(name, Binding("hidden", s.lineno, attr="a loop variable",
                                      conditions=conds))
        self._walk(s.body, (*conds, "a `for` loop"))
        self._walk(s.orelse, conds)

    def _literal_items(self, node: ast.expr, depth: int = 0) -> list[ast.expr] | None:
        """The items a for-loop walks over, when they are written in the source."""
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = list(node.elts)
        elif isinstance(node, ast.Dict) and None not in node.keys:
            items = [k for k in node.keys if k is not None]
        elif isinstance(node, ast.Name) and depth < 3:
            binding = self.lookup(node.id)
            if binding is None or binding.how != "assign" or not isinstance(binding.node,
                                                                            ast.expr):
                return None
            return self._literal_items(binding.node, depth + 1)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and not node.args and not node.keywords
              and node.func.attr in ("items", "keys", "values")):
            base: ast.AST | None = node.func.value
            if isinstance(base, ast.Name) and depth < 3:
                binding = self.lookup(base.id)
                base = binding.node if binding is not None and binding.how == "assign" else None
            if not isinstance(base, ast.Dict) or None in base.keys:
                return None
            keys = [k for k in base.keys if k is not None]
            pairs: dict[str, list[ast.expr]] = {
                "keys": keys, "values": base.values,
                "items": [ast.Tuple([k, v], ast.Load()) for k, v in zip(keys, base.values,
                                                                        strict=True)],
            }
            items = list(pairs[node.func.attr])
        else:
            return None
        if len(items) > _MAX_UNROLL or any(isinstance(i, ast.Starred) for i in items):
            return None
        return items

    def _call_statement(self, call: ast.Call, line: int, conds: tuple[str, ...]) -> None:
        func = call.func
        shown = ast.unparse(call)
        if isinstance(func, ast.Name) and func.id in ("exec", "eval"):
            self.dynamic.append(f"line {line}: `{func.id}(...)` may set names that cannot be "
                                "known statically")
        elif isinstance(func, ast.Name) and func.id == "setattr" and len(call.args) == 3:
            obj, key, value = call.args
            if is_this_module(obj):
                self._note_this_module(line)
            if is_this_module(obj) or is_namespace_call(obj):
                name = const_str(key)
                if name is None:
                    self.dynamic.append(f"line {line}: names set with `{shown}` cannot be "
                                        "known statically")
                else:
                    self._bind(name, Binding("assign", line, value, conditions=conds,
                                              via=f"set with `setattr(..., {name!r}, ...)`"))
        elif isinstance(func, ast.Attribute) and func.attr == "update" and (
                is_namespace_call(func.value) or is_this_module_dict(func.value)):
            pairs = []
            if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
                d = call.args[0]
                pairs = [(const_str(k) if k is not None else None, v)
                         for k, v in zip(d.keys, d.values, strict=True)]
            elif call.args:
                pairs = [(None, call.args[0])]
            pairs += [(k.arg, k.value) for k in call.keywords]
            for name, value in pairs:
                if name is None:
                    self.dynamic.append(f"line {line}: names set with `{shown}` cannot be "
                                        "known statically")
                    break
                self._bind(name, Binding("assign", line, value, conditions=conds,
                                          via="set with `globals().update(...)`"))
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner, method = func.value.id, func.attr
            if owner == "__all__" and method in ("append", "extend", "remove", "insert"):
                more = const_strs(ast.List(call.args, ast.Load())) if method == "append" else (
                    const_strs(call.args[0]) if method == "extend" and call.args else None)
                if more is None or self.all_names is None:
                    self.all_dynamic = f"__all__ is changed at run time (line {line})"
                else:
                    self.all_names.extend(more)
            elif owner == "dependencies" and method in ("append", "extend", "insert", "remove"):
                extra: ast.expr | None = None
                if method == "append" and len(call.args) == 1:
                    extra = ast.List(call.args, ast.Load())
                elif method == "extend" and len(call.args) == 1:
                    extra = call.args[0]
                self.deps_changes.append((line, extra))

    def _note_this_module(self, line: int) -> None:
        if self.module is None:
            self.notes.append(
                f"line {line}: torch.hub does not put {self.label} in sys.modules, so "
                "`sys.modules[__name__]` raises KeyError when torch.hub imports it"
            )

    # -------------------------------------------------------------- interpreting bindings

    def target(self, binding: Binding, hops: int) -> Target:
        key = id(binding)
        if key in self.ctx.memo:
            return self.ctx.memo[key]
        if key in self.ctx.active:
            return unknown(f"{binding.name} refers back to itself")
        self.ctx.active.add(key)
        try:
            result = self._interpret(binding, hops)
        finally:
            self.ctx.active.discard(key)
        self.ctx.memo[key] = result
        return result

    def _interpret(self, b: Binding, hops: int) -> Target:
        # a def binding holds its def statement, a class binding its class statement, an
        # import binding the imported name, an assign binding the assigned expression
        if b.how == "def":
            assert isinstance(b.node, (ast.FunctionDef, ast.AsyncFunctionDef))
            return function_target(self, b.node, b.seq, hops)
        if b.how == "class":
            assert isinstance(b.node, ast.ClassDef)
            return class_target(self, b.node, b.seq, hops)
        if b.how == "module":
            return Target("module", module=b.modules[0])
        if b.how in ("import", "assign"):
            if b.how == "import":
                assert b.attr is not None
                result = self.ctx.lookup(b.modules, b.attr, hops + 1)
            else:
                assert isinstance(b.node, ast.expr)
                result = self.expr(b.node, b.seq, hops)
            if result.kind == "unknown" and is_constant_name(b.name):
                note = (f"{b.name} (line {b.line}) is taken as a constant by its UPPER_CASE "
                        f"name: {result.notes[0] if result.notes else 'its value is unknown'}")
                return Target("unknown", notes=[note], hidden=True)
            return result
        return Target("unknown", notes=[f"{b.name} is {b.attr}"], hidden=True)

    def where(self) -> str:
        """The module this file is, as notes name it (its label for hubconf.py itself)."""
        return self.module or self.label

    def origin(self, expr: ast.expr, seq: int | None, hops: int) -> str | None:
        """The dotted name an expression refers to (``functools.partial``), if it can tell."""
        if hops > MAX_HOPS:
            return None
        if isinstance(expr, ast.Attribute):
            base = self.origin(expr.value, seq, hops)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call) and expr.args:  # __import__("x"), import_module("x")
            made = self.origin(expr.func, seq, hops)
            return const_str(expr.args[0]) if made in _MODULE_CALLS else None
        if not isinstance(expr, ast.Name):
            return None
        binding = self.lookup(expr.id, seq)
        if binding is None:
            return f"builtins.{expr.id}" if hasattr(builtins, expr.id) else None
        if binding.how == "module":
            return binding.modules[0]
        if binding.how in ("def", "class"):
            return f"{self.where()}.{expr.id}"
        if binding.how == "assign" and isinstance(binding.node, (ast.Name, ast.Attribute)):
            return self.origin(binding.node, binding.seq, hops + 1)
        if binding.how != "import" or binding.attr is None:  # an import binds a name
            return None
        for module in binding.modules:
            space = self.ctx.space(module)
            if space is None:
                continue
            inner = space.lookup(binding.attr)
            if inner is None:
                return f"{module}.{binding.attr}"
            return space.origin(ast.Name(binding.attr, ast.Load()), None, hops + 1)
        return f"{binding.modules[0]}.{binding.attr}" if binding.modules else None

    def expr(self, e: ast.expr, seq: int | None, hops: int) -> Target:
        """What an expression evaluates to, as far as the source text tells."""
        if isinstance(e, (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Dict, ast.Set,
                          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                          ast.BinOp, ast.UnaryOp, ast.Compare)):
            return Target("data")
        if isinstance(e, ast.Lambda):
            return Target("function", parameters(e.args), None, [], e, self, seq,
                           where=self.where())
        if isinstance(e, ast.Name):
            binding = self.lookup(e.id, seq)
            if binding is not None:
                return self.target(binding, hops)
            if hasattr(builtins, e.id):
                thing = getattr(builtins, e.id)
                if not callable(thing):
                    return Target("data")
                return unknown(f"the builtin {e.id}")
            return unknown(f"{e.id} is not defined before it is used")
        if isinstance(e, ast.Attribute):
            return self._attribute(e, seq, hops)
        if isinstance(e, ast.Call):
            return self._call(e, seq, hops)
        if isinstance(e, (ast.IfExp, ast.BoolOp)):
            options = [e.body, e.orelse] if isinstance(e, ast.IfExp) else e.values
            if all(self.expr(o, seq, hops).kind == "data" for o in options):
                return Target("data")
            return unknown(f"`{ast.unparse(e)}` is chosen at run time")
        if isinstance(e, ast.NamedExpr):
            return self.expr(e.value, seq, hops)
        return unknown(f"`{short(e)}` cannot be evaluated statically")

    def _attribute(self, e: ast.Attribute, seq: int | None, hops: int) -> Target:
        base = self.expr(e.value, seq, hops)
        if base.kind == "module" and base.module:
            return self.ctx.lookup([base.module], e.attr, hops + 1)
        if base.kind == "data" and e.attr in _DATA_ATTRIBUTES:
            return Target("data")
        if base.kind == "class" and isinstance(base.node, ast.ClassDef):
            for s in base.node.body:
                if isinstance(s, ast.FunctionDef) and s.name == e.attr:
                    kinds = {ast.unparse(d) for d in s.decorator_list}
                    if kinds - {"classmethod", "staticmethod"}:
                        break
                    params = parameters(s.args, drop_first="classmethod" in kinds)
                    return Target("function", params, ast.get_docstring(s), [], s,
                                   base.space, base.seq, where=base.where)
        return unknown(f"`{short(e)}` cannot be evaluated statically")

    def _call(self, e: ast.Call, seq: int | None, hops: int) -> Target:
        origin = self.origin(e.func, seq, hops)
        if origin == "functools.partial":
            return partial_target(self, e, seq, hops)
        if origin in _DATA_CALLS or (origin or "").startswith("os.path."):
            return Target("data")
        if origin in _MODULE_CALLS:
            return Target("module", module=const_str(e.args[0]) if e.args else None)
        if isinstance(e.func, ast.Attribute) and e.func.attr in _STR_METHODS:
            return Target("data")
        made = self.expr(e.func, seq, hops)
        if made.kind == "class" and isinstance(made.node, ast.ClassDef):
            call = next((s for s in made.node.body
                         if isinstance(s, ast.FunctionDef) and s.name == "__call__"), None)
            if call is not None:
                return Target("function", parameters(call.args, drop_first=True),
                               ast.get_docstring(call),
                               [f"an instance of {made.node.name}; its parameters are those "
                                f"of {made.node.name}.__call__"], call, made.space, made.seq,
                               where=made.where)
            if not [b for b in made.node.bases if ast.unparse(b) != "object"]:
                return Target("data")  # an instance of a plain class without __call__
        return unknown(f"made at import time by `{short(e)}`: what that returns cannot be "
                        "read statically")
