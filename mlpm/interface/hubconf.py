"""PyTorch Hub entrypoints, read from hubconf.py with ``ast``: nothing is imported or run.

``torch.hub.list`` imports hubconf.py, which runs its module level and its imports, then
lists ``[f for f in dir(m) if callable(getattr(m, f)) and not f.startswith("_")]``.
:func:`discover` answers the same question from the source text alone, so that an
untrusted repository can be described before anyone trusts it. Re-exports
(``from torchvision.models.resnet import resnet18``) are followed into the repository's
own files to find the real ``def``; what cannot be known statically (a factory call,
``globals()[name] = ...``, a star import from outside the repository) is still listed
when it may be an entrypoint, marked ``"known": False`` with a note, and never guessed.

    >>> info = discover('''
    ... dependencies = ["torch"]
    ... def resnet18(pretrained: bool = False, **kwargs):
    ...     "ResNet-18 from 'Deep Residual Learning'."
    ... ''')
    >>> [e["name"] for e in info["entrypoints"]], info["dependencies"]
    (['resnet18'], ['torch'])
    >>> [(p["name"], p["kind"], p["default"]) for p in info["entrypoints"][0]["parameters"]]
    [('pretrained', 'positional_or_keyword', 'False'), ('kwargs', 'var_keyword', None)]
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlpm.errors import MlpmError

ModuleResolver = Callable[[str], "str | None"]

MAX_HOPS = 5  # modules crossed for one name; real re-export chains are 1-3 deep
_MAX_UNROLL = 256  # a literal for-loop longer than this is not a registration table
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
# well-known submodules of packages outside a repository: `from torch import nn` is a module
_EXTERNAL_MODULES = {
    "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.hub", "torch.utils",
    "torch.utils.data", "torch.utils.model_zoo", "torch.optim", "torch.jit", "torch.cuda",
    "torch.distributed", "torch.fx", "torch.onnx", "torch.backends", "torch.autograd",
    "torchvision.models", "torchvision.transforms", "torchvision.ops", "torchvision.datasets",
    "torchvision.io", "torchvision.utils", "torchaudio.transforms", "torchaudio.functional",
    "os.path", "numpy.random", "numpy.linalg", "urllib.request", "urllib.parse",
    "concurrent.futures", "importlib.util", "xml.etree", "collections.abc",
}


class InvalidHubconf(MlpmError, ValueError):
    """hubconf.py is not valid Python; the message names the line."""


class HubconfNotFound(MlpmError, FileNotFoundError):
    """The path given has no hubconf.py."""


class RepoModules:
    """Finds a module's source text in a repository folder by path, as ``sys.path`` would.

    ``a.b`` is ``a/b/__init__.py``, else ``a/b.py``, else a folder ``a/b/`` (a namespace
    package, whose text is empty), under the repository root then each extra root.

        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (root / "models.py").write_text("def vit_b(): pass\\n")
        >>> RepoModules(root)("models"), RepoModules(root)("timm")
        ('def vit_b(): pass\\n', None)
    """

    def __init__(self, root: str | Path, extra_roots: Iterable[str | Path] = ()):
        self.roots = [Path(root), *(Path(r) for r in extra_roots)]

    def _locate(self, name: str) -> tuple[Path | None, bool] | None:
        parts = name.split(".")
        if not all(part.isidentifier() for part in parts):
            return None  # never a path outside the roots ("..", "/", "")
        for root in self.roots:
            base = root.joinpath(*parts)
            if (base / "__init__.py").is_file():
                return base / "__init__.py", True
            if base.with_name(parts[-1] + ".py").is_file():
                return base.with_name(parts[-1] + ".py"), False
        for root in self.roots:
            if root.joinpath(*parts).is_dir():
                return None, True  # namespace package: found only when nothing else is
        return None

    def __call__(self, name: str) -> str | None:
        found = self._locate(name)
        if found is None:
            return None
        path, _ = found
        if path is None:
            return ""
        try:
            # decode_source honours a PEP 263 coding line, as the import system does
            return importlib.util.decode_source(path.read_bytes())
        except (OSError, UnicodeDecodeError, SyntaxError):
            return None

    def is_package(self, name: str) -> bool:
        found = self._locate(name)
        return bool(found and found[1])


def discover(
    source: str | Path,
    *,
    filename: str = "hubconf.py",
    resolve_module: ModuleResolver | None = None,
) -> dict:
    """The entrypoints torch.hub.list would show for a hubconf.py, read without running it.

    ``source`` is the text of hubconf.py, a path to it, or the repository folder holding
    it. ``resolve_module(dotted_name)`` returns the source text of a module of the same
    repository, or None; by default modules are looked up as files under the repository
    folder (and under folders hubconf.py adds to ``sys.path`` with a path built from
    ``__file__``). Given only text and no resolver, imported names are listed unresolved.

    Returns ``{"entrypoints": [...], "dependencies": [...] | None, "notes": [...]}``;
    each entrypoint is ``{"name", "parameters", "doc", "source", "known", "note"}`` and
    each parameter ``{"name", "kind", "default", "annotation"}`` (source text or None).

        >>> info = discover('''
        ... import functools
        ... from torchvision.models.resnet import resnet18
        ... def _make(arch, pretrained=True, *, progress=True):
        ...     "Build an EfficientNet."
        ... efficientnet_b0 = functools.partial(_make, "b0")
        ... ''')
        >>> [(e["name"], e["source"], e["known"]) for e in info["entrypoints"]]
        [('resnet18', 'import', False), ('efficientnet_b0', 'assign', True)]
        >>> [p["name"] for p in info["entrypoints"][1]["parameters"]]
        ['pretrained', 'progress']
    """
    text, path = _read_source(source, filename)
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as err:
        detail = f"line {err.lineno}: {err.msg}"
        raise InvalidHubconf(f"{filename} cannot be parsed: {detail}") from None
    except ValueError as err:  # null bytes (a SyntaxError only from Python 3.12)
        raw = text.encode() if isinstance(text, str) else text
        line = raw[: raw.find(b"\0")].count(b"\n") + 1 if b"\0" in raw else 1
        raise InvalidHubconf(f"{filename} cannot be parsed: line {line}: {err}") from None
    if resolve_module is None and path is not None:
        extra = _sys_path_additions(tree, path, path.parent)
        resolve_module = RepoModules(path.parent, extra)
    ctx = _Context(resolve_module)
    space = _Space(ctx, tree, module=None, is_package=False, label=filename)
    return _report(space, filename)


# ---------------------------------------------------------------- what names are bound to


@dataclass(eq=False)
class _Binding:
    """One binding of a name at module level, as written (not yet interpreted)."""

    how: str  # def | class | module | import | assign | hidden | deleted
    line: int
    node: ast.AST | None = None  # def/class statement, or the assigned expression
    modules: list[str] = field(default_factory=list)  # import: candidate absolute modules
    attr: str | None = None  # import: the imported name; hidden: why it is hidden
    conditions: tuple[str, ...] = ()
    via: str | None = None  # how it was set when not by plain assignment
    name: str = ""
    seq: int = 0


@dataclass
class _Target:
    """What a binding refers to, as far as the source text tells."""

    kind: str  # function | class | module | data | unknown
    params: list[dict] | None = None
    doc: str | None = None
    notes: list[str] = field(default_factory=list)
    node: ast.AST | None = None  # FunctionDef / ClassDef / Lambda behind it
    space: _Space | None = None
    seq: int | None = None  # when the node was bound in its space
    module: str | None = None  # kind == module: its dotted name, when known
    where: str | None = None  # the module the def or class is written in
    hidden: bool = False  # unknown, but judged not to be a callable


def _unknown(note: str, **kw) -> _Target:
    return _Target("unknown", notes=[note], **kw)


class _Context:
    """Modules read so far, shared by every namespace of one discovery."""

    def __init__(self, resolve: ModuleResolver | None):
        self.resolve = resolve
        self.texts: dict[str, str | None] = {}
        self.spaces: dict[str, _Space | None] = {}
        self.broken: dict[str, str] = {}
        self.building: set[str] = set()
        self.memo: dict[int, _Target] = {}
        self.active: set[int] = set()

    def text(self, name: str) -> str | None:
        if self.resolve is None or not name:
            return None
        if name not in self.texts:
            self.texts[name] = self.resolve(name)
        return self.texts[name]

    def is_package(self, name: str) -> bool | None:
        check = getattr(self.resolve, "is_package", None)
        return check(name) if check is not None else None

    def space(self, name: str) -> _Space | None:
        if name in self.spaces:
            return self.spaces[name]
        if name in self.building:
            return None  # a module star-importing itself, directly or in a cycle
        text = self.text(name)
        if text is None:
            return None
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError) as err:
            self.broken[name] = f"{name} cannot be parsed ({err})"
            self.spaces[name] = None
            return None
        self.building.add(name)
        try:
            self.spaces[name] = _Space(self, tree, name, self.is_package(name), name)
        finally:
            self.building.discard(name)
        return self.spaces[name]

    def lookup(self, modules: list[str], attr: str, hops: int) -> _Target:
        """``from MODULE import attr``, followed into the repository's files."""
        if hops > MAX_HOPS:
            return _unknown(f"gave up following re-exports after {MAX_HOPS} modules")
        for module in modules:
            space = self.space(module)
            if module in self.broken:
                return _unknown(self.broken[module])
            if space is None:
                continue
            binding = space.bindings.get(attr)
            # `from . import sub` in a package's __init__ finds the submodule, not itself
            if binding is not None and id(binding) not in self.active:
                return space.target(binding, hops)
            if self.text(f"{module}.{attr}") is not None:
                return _Target("module", module=f"{module}.{attr}")
            if space.unknown_stars or space.dynamic:
                return _unknown(f"{module} may set {attr} in a way that cannot be read statically")
            return _unknown(f"{module} does not define {attr} (importing it would fail)")
        for module in modules:
            sub = f"{module}.{attr}" if module else attr
            if self.text(sub) is not None:
                return _Target("module", module=sub)
        module = modules[0] if modules else ""
        if not module:
            return _unknown(f"{attr} is not a module of the repository root")
        if f"{module}.{attr}" in _EXTERNAL_MODULES:
            return _Target("module", module=f"{module}.{attr}")
        if module == "__future__":
            return _Target("data")
        if self.resolve is None:
            return _unknown(f"imported from {module}; no module source was given to follow it")
        return _unknown(f"imported from {module}, which is outside the repository")


class _Space:
    """The module-level namespace of one file: its bindings in order, read statement by
    statement as the interpreter would run them, without running anything."""

    def __init__(self, ctx: _Context, tree: ast.Module, module: str | None,
                 is_package: bool | None, label: str):
        self.ctx, self.module, self.is_package, self.label = ctx, module, is_package, label
        self.bindings: dict[str, _Binding] = {}  # final bindings, in order of last binding
        self.history: dict[str, list[_Binding]] = {}
        self.all_names: list[str] | None = None
        self.all_dynamic: str | None = None
        self.deps_changes: list[tuple[int, ast.expr | None]] = []  # after `dependencies = ...`
        self.unknown_stars: list[str] = []
        self.dynamic: list[str] = []
        self.notes: list[str] = []
        self._seq = 0
        self._walk(tree.body, ())

    # -------------------------------------------------------------- reading statements

    def _bind(self, name: str, binding: _Binding) -> None:
        self._seq += 1
        binding.name, binding.seq = name, self._seq
        self.history.setdefault(name, []).append(binding)
        self.bindings.pop(name, None)
        self.bindings[name] = binding

    def _unbind(self, name: str, line: int) -> None:
        if name in self.bindings:
            self._bind(name, _Binding("deleted", line))
            del self.bindings[name]

    def lookup(self, name: str, seq: int | None = None) -> _Binding | None:
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
                        f"`{_short(stmt.exc) if stmt.exc else 'raise'}`, so importing "
                        f"{self.label} fails; what follows is never defined"
                    )
                return  # the rest of this block never runs
            self._statement(stmt, conds)

    def _statement(self, s: ast.stmt, conds: tuple[str, ...]) -> None:
        line = s.lineno
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._bind(s.name, _Binding("def", line, s, conditions=conds))
        elif isinstance(s, ast.ClassDef):
            self._bind(s.name, _Binding("class", line, s, conditions=conds))
        elif isinstance(s, ast.Import):
            for alias in s.names:
                # `import a.b` binds `a`; `import a.b as c` binds c to a.b
                module = alias.name if alias.asname else alias.name.split(".")[0]
                name = alias.asname or module
                self._bind(name, _Binding("module", line, modules=[module], conditions=conds))
        elif isinstance(s, ast.ImportFrom):
            modules = self._absolute(s.module, s.level, line)
            for alias in s.names:
                if alias.name == "*":
                    self._star(modules, s, conds)
                else:
                    self._bind(alias.asname or alias.name, _Binding(
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
                for name in _target_names(target):
                    self._unbind(name, line)
        elif isinstance(s, ast.If):
            self._if(s, conds)
        elif isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
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
                    for name in _target_names(item.optional_vars):
                        self._bind(name, _Binding("hidden", line, attr="a `with` target",
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
                self._bind(name, _Binding("import", s.lineno, modules=[module], attr=name,
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
            self._bind(target.id, _Binding("assign", line, value, conditions=conds, via=via))
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            if elts is not None and len(elts) == len(target.elts) and not any(
                    isinstance(e, ast.Starred) for e in [*elts, *target.elts]):
                for sub_target, sub_value in zip(target.elts, elts, strict=True):
                    self._assign(sub_target, sub_value, line, conds, via)
                return
            for name in _target_names(target):
                unpacked = ast.Subscript(value=value, slice=ast.Constant(0))
                self._bind(name, _Binding("assign", line, ast.copy_location(unpacked, value),
                                          conditions=conds, via=via))
        elif isinstance(target, ast.Subscript) and _is_namespace_call(target.value):
            key = _const_str(target.slice)
            shown = f"{ast.unparse(target)} = ..."
            if key is None:
                self.dynamic.append(
                    f"line {line}: names set with `{shown}` cannot be known statically")
            else:
                self._bind(key, _Binding("assign", line, value, conditions=conds,
                                         via=f"set with `{shown}`"))
        elif isinstance(target, ast.Attribute) and _is_this_module(target.value):
            self._note_this_module(line)
            self._bind(target.attr, _Binding("assign", line, value, conditions=conds,
                                             via=f"set with `{ast.unparse(target)} = ...`"))

    def _augment(self, s: ast.AugAssign, conds: tuple[str, ...]) -> None:
        name = s.target.id
        if name == "__all__":
            more = _const_strs(s.value)
            if more is None or self.all_names is None or not isinstance(s.op, ast.Add):
                self.all_dynamic = f"__all__ is changed at run time (line {s.lineno})"
            else:
                self.all_names.extend(more)
            return
        if name == "dependencies":
            self.deps_changes.append((s.lineno, s.value if isinstance(s.op, ast.Add) else None))
            return
        value = ast.copy_location(ast.BinOp(ast.Name(name, ast.Load()), s.op, s.value), s)
        self._bind(name, _Binding("assign", s.lineno, value, conditions=conds))

    def _set_all(self, value: ast.expr, line: int) -> None:
        names = _const_strs(value)
        if names is None:
            self.all_names, self.all_dynamic = None, f"__all__ is built at run time (line {line})"
        else:
            self.all_names, self.all_dynamic = names, None

    def _if(self, s: ast.If, conds: tuple[str, ...]) -> None:
        if _is_main_check(s.test):
            self._walk(s.orelse, conds)  # torch.hub imports hubconf as "hubconf"
            return
        truth = _static_truth(s.test)
        if truth is not None:
            self._walk(s.body if truth else s.orelse, conds)
            return
        test = ast.unparse(s.test)
        # the else branch first so that the if branch, when both bind a name, is the last one
        self._walk(s.orelse, (*conds, f"the `else` of `if {test}`"))
        self._walk(s.body, (*conds, f"`if {test}`"))

    def _for(self, s: ast.For | ast.AsyncFor, conds: tuple[str, ...]) -> None:
        items = self._literal_items(s.iter)
        if items is not None and not _breaks(s.body):
            mappings = [_match_target(s.target, item) for item in items]
            if all(m is not None for m in mappings):
                # a loop over a literal table: unroll it, so `globals()[name] = ...` is known
                for item, mapping in zip(items, mappings, strict=True):
                    body = [_Substitute(mapping).visit(copy.deepcopy(st)) for st in s.body]
                    self._assign(s.target, item, s.lineno, conds)
                    self._walk(body, conds)
                self._walk(s.orelse, conds)
                return
        for name in _target_names(s.target):
            self._bind(name, _Binding("hidden", s.lineno, attr="a loop variable",
                                      conditions=conds))
        self._walk(s.body, (*conds, "a `for` loop"))
        self._walk(s.orelse, conds)

    def _literal_items(self, node: ast.expr, depth: int = 0) -> list[ast.expr] | None:
        """The items a for-loop walks over, when they are written in the source."""
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = list(node.elts)
        elif isinstance(node, ast.Dict) and None not in node.keys:
            items = list(node.keys)
        elif isinstance(node, ast.Name) and depth < 3:
            binding = self.lookup(node.id)
            if binding is None or binding.how != "assign":
                return None
            return self._literal_items(binding.node, depth + 1)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and not node.args and not node.keywords
              and node.func.attr in ("items", "keys", "values")):
            base = node.func.value
            if isinstance(base, ast.Name) and depth < 3:
                binding = self.lookup(base.id)
                base = binding.node if binding is not None and binding.how == "assign" else None
            if not isinstance(base, ast.Dict) or None in base.keys:
                return None
            pairs = {
                "keys": base.keys, "values": base.values,
                "items": [ast.Tuple([k, v], ast.Load()) for k, v in zip(base.keys, base.values,
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
            if _is_this_module(obj):
                self._note_this_module(line)
            if _is_this_module(obj) or _is_namespace_call(obj):
                name = _const_str(key)
                if name is None:
                    self.dynamic.append(f"line {line}: names set with `{shown}` cannot be "
                                        "known statically")
                else:
                    self._bind(name, _Binding("assign", line, value, conditions=conds,
                                              via=f"set with `setattr(..., {name!r}, ...)`"))
        elif isinstance(func, ast.Attribute) and func.attr == "update" and (
                _is_namespace_call(func.value) or _is_this_module_dict(func.value)):
            pairs = []
            if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
                d = call.args[0]
                pairs = [(_const_str(k) if k is not None else None, v)
                         for k, v in zip(d.keys, d.values, strict=True)]
            elif call.args:
                pairs = [(None, call.args[0])]
            pairs += [(k.arg, k.value) for k in call.keywords]
            for name, value in pairs:
                if name is None:
                    self.dynamic.append(f"line {line}: names set with `{shown}` cannot be "
                                        "known statically")
                    break
                self._bind(name, _Binding("assign", line, value, conditions=conds,
                                          via="set with `globals().update(...)`"))
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner, method = func.value.id, func.attr
            if owner == "__all__" and method in ("append", "extend", "remove", "insert"):
                more = _const_strs(ast.List(call.args, ast.Load())) if method == "append" else (
                    _const_strs(call.args[0]) if method == "extend" and call.args else None)
                if more is None or self.all_names is None:
                    self.all_dynamic = f"__all__ is changed at run time (line {line})"
                else:
                    self.all_names.extend(more)
            elif owner == "dependencies" and method in ("append", "extend", "insert", "remove"):
                extra = None
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

    def target(self, binding: _Binding, hops: int) -> _Target:
        key = id(binding)
        if key in self.ctx.memo:
            return self.ctx.memo[key]
        if key in self.ctx.active:
            return _unknown(f"{binding.name} refers back to itself")
        self.ctx.active.add(key)
        try:
            result = self._interpret(binding, hops)
        finally:
            self.ctx.active.discard(key)
        self.ctx.memo[key] = result
        return result

    def _interpret(self, b: _Binding, hops: int) -> _Target:
        if b.how == "def":
            return self._function(b.node, b.seq, hops)
        if b.how == "class":
            return self._class(b.node, b.seq, hops)
        if b.how == "module":
            return _Target("module", module=b.modules[0])
        if b.how in ("import", "assign"):
            if b.how == "import":
                result = self.ctx.lookup(b.modules, b.attr, hops + 1)
            else:
                result = self.expr(b.node, b.seq, hops)
            if result.kind == "unknown" and _is_constant_name(b.name):
                note = (f"{b.name} (line {b.line}) is taken as a constant by its UPPER_CASE "
                        f"name: {result.notes[0] if result.notes else 'its value is unknown'}")
                return _Target("unknown", notes=[note], hidden=True)
            return result
        return _Target("unknown", notes=[f"{b.name} is {b.attr}"], hidden=True)

    def _where(self) -> str:
        return self.module or self.label

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, seq: int,
                  hops: int) -> _Target:
        params = _parameters(node.args)
        doc = ast.get_docstring(node)
        notes = []
        if isinstance(node, ast.AsyncFunctionDef):
            notes.append("async def: calling it returns a coroutine")
        for dec in reversed(node.decorator_list):  # the innermost decorator applies first
            keeps, note = self._decorator(dec, seq, hops)
            if not keeps:
                return _unknown(
                    f"decorated with @{ast.unparse(dec)}, which may replace it: what it "
                    f"becomes cannot be read statically (the def takes ({_signature(params)}))",
                    where=self._where())
            if note:
                notes.append(note)
        return _Target("function", params, doc, notes, node, self, seq, where=self._where())

    def _decorator(self, dec: ast.expr, seq: int, hops: int) -> tuple[bool, str | None]:
        """Whether a decorator keeps the signature (and a note when it edits the doc)."""
        func = dec.func if isinstance(dec, ast.Call) else dec
        origin = self.origin(func, seq, hops)
        if origin in _KEEPS_SIGNATURE:
            return True, None
        shown = ast.unparse(func)
        if origin and origin.split(".")[0] == "transformers" and (
                origin.rsplit(".", 1)[-1] in _DOC_DECORATORS):
            return True, f"its docstring is extended at run time by @{shown}"
        found = self.expr(func, seq, hops + 1)
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

    def _class(self, node: ast.ClassDef, seq: int, hops: int) -> _Target:
        doc = ast.get_docstring(node)
        notes = []
        for dec in reversed(node.decorator_list):
            keeps, note = self._decorator(dec, seq, hops)
            if not keeps:
                return _Target("class", None, doc, [
                    f"decorated with @{ast.unparse(dec)}: its constructor cannot be read "
                    "statically"], node, self, seq, where=self._where())
            if note:
                notes.append(note)
        params, why = self._constructor(node, seq, hops, 0)
        if why:
            notes.append(why)
        return _Target("class", params, doc, notes, node, self, seq, where=self._where())

    def _constructor(self, node: ast.ClassDef, seq: int, hops: int,
                     depth: int) -> tuple[list[dict] | None, str | None]:
        """A class's constructor parameters (without self), following its bases."""
        methods = {s.name: s for s in node.body if isinstance(s, ast.FunctionDef)}
        for name in ("__init__", "__new__"):
            if name in methods:
                return _parameters(methods[name].args, drop_first=True), None
        if any(k.arg == "metaclass" for k in node.keywords):
            return None, "its constructor depends on a metaclass and cannot be read statically"
        bases = [b for b in node.bases if ast.unparse(b) != "object"]
        for base in bases:
            found = self.expr(base, seq, hops)
            if found.kind != "class" or not isinstance(found.node, ast.ClassDef):
                return None, (f"its constructor comes from {ast.unparse(base)}, which cannot be "
                              "read statically")
            if depth >= _MAX_CLASS_DEPTH:
                return None, "its constructor is too many base classes away"
            params, why = found.space._constructor(found.node, found.seq, hops, depth + 1)
            if params is None or params:
                return params, why
            if any(isinstance(s, ast.FunctionDef) and s.name in ("__init__", "__new__")
                   for s in found.node.body):
                return params, why  # a base that really takes no arguments
        return [], None

    def origin(self, expr: ast.expr, seq: int | None, hops: int) -> str | None:
        """The dotted name an expression refers to (``functools.partial``), if it can tell."""
        if hops > MAX_HOPS:
            return None
        if isinstance(expr, ast.Attribute):
            base = self.origin(expr.value, seq, hops)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call) and expr.args:  # __import__("x"), import_module("x")
            made = self.origin(expr.func, seq, hops)
            return _const_str(expr.args[0]) if made in _MODULE_CALLS else None
        if not isinstance(expr, ast.Name):
            return None
        binding = self.lookup(expr.id, seq)
        if binding is None:
            return f"builtins.{expr.id}" if hasattr(builtins, expr.id) else None
        if binding.how == "module":
            return binding.modules[0]
        if binding.how in ("def", "class"):
            return f"{self._where()}.{expr.id}"
        if binding.how == "assign" and isinstance(binding.node, (ast.Name, ast.Attribute)):
            return self.origin(binding.node, binding.seq, hops + 1)
        if binding.how != "import":
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

    def expr(self, e: ast.expr, seq: int | None, hops: int) -> _Target:
        """What an expression evaluates to, as far as the source text tells."""
        if isinstance(e, (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Dict, ast.Set,
                          ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                          ast.BinOp, ast.UnaryOp, ast.Compare)):
            return _Target("data")
        if isinstance(e, ast.Lambda):
            return _Target("function", _parameters(e.args), None, [], e, self, seq,
                           where=self._where())
        if isinstance(e, ast.Name):
            binding = self.lookup(e.id, seq)
            if binding is not None:
                return self.target(binding, hops)
            if hasattr(builtins, e.id):
                thing = getattr(builtins, e.id)
                if not callable(thing):
                    return _Target("data")
                return _unknown(f"the builtin {e.id}")
            return _unknown(f"{e.id} is not defined before it is used")
        if isinstance(e, ast.Attribute):
            return self._attribute(e, seq, hops)
        if isinstance(e, ast.Call):
            return self._call(e, seq, hops)
        if isinstance(e, (ast.IfExp, ast.BoolOp)):
            options = [e.body, e.orelse] if isinstance(e, ast.IfExp) else e.values
            if all(self.expr(o, seq, hops).kind == "data" for o in options):
                return _Target("data")
            return _unknown(f"`{ast.unparse(e)}` is chosen at run time")
        if isinstance(e, ast.NamedExpr):
            return self.expr(e.value, seq, hops)
        return _unknown(f"`{_short(e)}` cannot be evaluated statically")

    def _attribute(self, e: ast.Attribute, seq: int | None, hops: int) -> _Target:
        base = self.expr(e.value, seq, hops)
        if base.kind == "module" and base.module:
            return self.ctx.lookup([base.module], e.attr, hops + 1)
        if base.kind == "data" and e.attr in _DATA_ATTRIBUTES:
            return _Target("data")
        if base.kind == "class" and isinstance(base.node, ast.ClassDef):
            for s in base.node.body:
                if isinstance(s, ast.FunctionDef) and s.name == e.attr:
                    kinds = {ast.unparse(d) for d in s.decorator_list}
                    if kinds - {"classmethod", "staticmethod"}:
                        break
                    params = _parameters(s.args, drop_first="classmethod" in kinds)
                    return _Target("function", params, ast.get_docstring(s), [], s,
                                   base.space, base.seq, where=base.where)
        return _unknown(f"`{_short(e)}` cannot be evaluated statically")

    def _call(self, e: ast.Call, seq: int | None, hops: int) -> _Target:
        origin = self.origin(e.func, seq, hops)
        if origin == "functools.partial":
            return self._partial(e, seq, hops)
        if origin in _DATA_CALLS or (origin or "").startswith("os.path."):
            return _Target("data")
        if origin in _MODULE_CALLS:
            return _Target("module", module=_const_str(e.args[0]) if e.args else None)
        if isinstance(e.func, ast.Attribute) and e.func.attr in _STR_METHODS:
            return _Target("data")
        made = self.expr(e.func, seq, hops)
        if made.kind == "class" and isinstance(made.node, ast.ClassDef):
            call = next((s for s in made.node.body
                         if isinstance(s, ast.FunctionDef) and s.name == "__call__"), None)
            if call is not None:
                return _Target("function", _parameters(call.args, drop_first=True),
                               ast.get_docstring(call),
                               [f"an instance of {made.node.name}; its parameters are those "
                                f"of {made.node.name}.__call__"], call, made.space, made.seq,
                               where=made.where)
            if not [b for b in made.node.bases if ast.unparse(b) != "object"]:
                return _Target("data")  # an instance of a plain class without __call__
        return _unknown(f"made at import time by `{_short(e)}`: what that returns cannot be "
                        "read statically")

    def _partial(self, e: ast.Call, seq: int | None, hops: int) -> _Target:
        if not e.args or any(isinstance(a, ast.Starred) for a in e.args) or any(
                k.arg is None for k in e.keywords):
            return _unknown(f"`{_short(e)}` unpacks its arguments: cannot be read statically")
        func, args = e.args[0], e.args[1:]
        bound = [ast.unparse(a) for a in args] + [f"{k.arg}={ast.unparse(k.value)}"
                                                  for k in e.keywords]
        what = f"functools.partial of {ast.unparse(func)}"
        what += f" with {', '.join(bound)} bound" if bound else ""
        inner = self.expr(func, seq, hops)
        if inner.kind not in ("function", "class") or inner.params is None:
            why = inner.notes[0] if inner.notes else "it is not a function"
            return _unknown(f"{what}; its parameters cannot be read statically ({why})")
        keywords = {k.arg: ast.unparse(k.value) for k in e.keywords}
        params = _apply_partial(inner.params, len(args), keywords)
        if isinstance(params, str):
            return _unknown(f"{what}, which does not fit its signature: {params}")
        notes = [what, "torch.hub.help shows functools.partial's own docstring, not this one"]
        if inner.kind == "class":
            notes.append(f"{ast.unparse(func)} is a class")
        return _Target("function", params, inner.doc, notes, inner.node, inner.space,
                       inner.seq, where=inner.where)


# ---------------------------------------------------------------- the report


def _report(space: _Space, filename: str) -> dict:
    notes = list(space.notes)
    restrict = space.all_names if space.all_names is not None and not space.all_dynamic else None
    if space.all_dynamic:
        notes.append(f"{space.all_dynamic}: every public callable is listed instead")
    entries, left_out, hidden = [], [], []
    for name, binding in space.bindings.items():
        if name.startswith("_") or name == "dependencies":
            continue
        target = space.target(binding, 0)
        if target.kind in ("module", "data"):
            continue
        if target.hidden:
            hidden.extend(n for n in target.notes if "UPPER_CASE" in n)
            continue
        if restrict is not None and name not in restrict:
            left_out.append(name)
            continue
        entries.append(_entry(space, name, binding, target))
    if restrict is not None:
        missing = [n for n in restrict if n not in space.bindings]
        if missing:
            notes.append(f"__all__ names {', '.join(missing)}, which {filename} does not define")
        if left_out:
            notes.append("only the names in __all__ are listed; torch.hub.list ignores __all__ "
                         f"and would also show: {', '.join(left_out)}")
    notes += space.unknown_stars + space.dynamic + hidden
    dependencies, note = _dependencies(space)
    if note:
        notes.append(note)
    return {"entrypoints": entries, "dependencies": dependencies, "notes": notes}


def _entry(space: _Space, name: str, binding: _Binding, target: _Target) -> dict:
    source = {"def": "def", "class": "def", "import": "import"}.get(binding.how, "assign")
    if binding.how == "assign" and isinstance(binding.node, ast.Name) and binding.via is None:
        source = "alias"
    known = target.kind in ("function", "class") and target.params is not None
    notes = ["class"] if target.kind == "class" else []
    notes += target.notes
    if binding.how == "import":
        if binding.via:
            notes.append(f"imported by `from {binding.modules[0]} import *`")
        if target.where and target.kind in ("function", "class"):
            notes.append(f"defined in {target.where}")
    elif source == "alias" and target.kind in ("function", "class"):
        notes.append(f"another name for {ast.unparse(binding.node)}")
    if binding.via and binding.how != "import":
        notes.append(binding.via)
    if binding.conditions:
        notes.append("conditional: bound inside " + ", within ".join(reversed(binding.conditions)))
    earlier = [b for b in space.history[name] if b is not binding and b.how != "deleted"]
    if earlier:
        notes.append(f"bound {len(earlier) + 1} times; the binding at line {binding.line} wins")
    return {
        "name": name,
        "parameters": target.params if known else [],
        "doc": target.doc if target.kind in ("function", "class") else None,
        "source": source,
        "known": known,
        "note": "; ".join(dict.fromkeys(notes)) or None,
    }


def _dependencies(space: _Space) -> tuple[list[str] | None, str | None]:
    binding = space.bindings.get("dependencies")
    if binding is None:
        return None, None
    value = _const_strs(binding.node) if binding.how == "assign" else None
    if value is None:
        return None, (f"dependencies (line {binding.line}) is not a literal list of strings: "
                      "it cannot be read statically")
    for line, change in space.deps_changes:
        more = _const_strs(change) if change is not None else None
        if more is None:
            return None, f"dependencies is changed at run time (line {line})"
        value += more
    if binding.conditions:
        return value, "dependencies is set conditionally, inside " + binding.conditions[-1]
    return value, None


# ---------------------------------------------------------------- small pure helpers


def _read_source(source: str | Path, filename: str) -> tuple[str | bytes, Path | None]:
    """hubconf.py's text, and its path when the source is a path."""
    if isinstance(source, str):
        if "\n" in source or not source.strip():
            return source, None
        as_path = Path(source)
        if not as_path.exists() and not source.strip().endswith(".py"):
            return source, None  # a one-line hubconf.py, not a path
        source = as_path
    path = source / filename if source.is_dir() else source
    try:
        # bytes, so that ast.parse honours a PEP 263 coding line as the import system does
        return path.read_bytes(), path
    except FileNotFoundError:
        raise HubconfNotFound(
            f"{path} does not exist; pass the repository folder that holds {filename}, "
            "the file itself, or its text"
        ) from None


def _sys_path_additions(tree: ast.Module, hubconf: Path, root: Path) -> list[Path]:
    """Folders of the repository that hubconf.py puts on ``sys.path`` with a path built
    from ``__file__`` (``sys.path.append(os.path.join(os.path.dirname(__file__), "src"))``)."""
    names = {  # `SRC_DIR = os.path.join(...)` then `sys.path.append(SRC_DIR)`
        node.targets[0].id: node.value for node in tree.body
        if isinstance(node, ast.Assign) and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and ast.unparse(node.func.value) == "sys.path"
                and node.func.attr in ("append", "insert") and node.args):
            continue
        folder = _static_path(node.args[-1], hubconf, root, names)
        if folder is not None and folder.is_relative_to(root) and folder != root:
            found.append(folder)
    return found


def _static_path(e: ast.expr, hubconf: Path, root: Path,
                 names: dict[str, ast.expr], depth: int = 0) -> Path | None:
    """A path expression's value, when it is built from ``__file__`` and constants."""
    if depth > 8:
        return None
    if isinstance(e, ast.Name) and e.id == "__file__":
        return hubconf
    if isinstance(e, ast.Name) and e.id in names:
        return _static_path(names[e.id], hubconf, root, names, depth + 1)
    if isinstance(e, ast.Subscript) and ast.unparse(e) == "sys.path[0]":
        return root  # torch.hub puts the repository first on sys.path while importing
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Div):
        base, part = _static_path(e.left, hubconf, root, names, depth + 1), _const_str(e.right)
        return base / part if base is not None and part is not None else None
    if isinstance(e, ast.Attribute) and e.attr == "parent":
        base = _static_path(e.value, hubconf, root, names, depth + 1)
        return base.parent if base is not None else None
    if not isinstance(e, ast.Call):
        return None
    name = ast.unparse(e.func)
    if isinstance(e.func, ast.Attribute) and e.func.attr in ("resolve", "absolute"):
        return _static_path(e.func.value, hubconf, root, names, depth + 1)
    if not e.args:
        return None
    first = _static_path(e.args[0], hubconf, root, names, depth + 1)
    if first is None:
        return None
    if name in ("os.path.dirname", "dirname"):
        return first.parent
    if name in ("os.path.abspath", "os.path.realpath", "os.path.normpath", "str", "Path",
                "pathlib.Path", "abspath", "realpath"):
        return first
    if name in ("os.path.join", "join"):
        parts = [_const_str(a) for a in e.args[1:]]
        return first.joinpath(*parts) if None not in parts else None
    return None


def _parameters(args: ast.arguments, *, drop_first: bool = False) -> list[dict]:
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
    returns = list(_own_returns(fn))
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
        for node in _own_nodes(fn)
    )
    return True, edits_doc


def _returned_local_def(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.FunctionDef | None:
    local_defs = {s.name: s for s in fn.body if isinstance(s, ast.FunctionDef)}
    names = {r.value.id if isinstance(r.value, ast.Name) else None for r in _own_returns(fn)}
    if len(names) != 1:
        return None
    return local_defs.get(names.pop())


def _own_nodes(fn: ast.AST) -> Iterable[ast.AST]:
    """Nodes of a function body, not descending into nested functions or classes."""
    stack = list(getattr(fn, "body", []))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                                 ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _own_returns(fn: ast.AST) -> Iterable[ast.Return]:
    return (n for n in _own_nodes(fn) if isinstance(n, ast.Return))


def _breaks(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, (ast.Break, ast.Continue))
               for s in body for n in _own_nodes(ast.Module(body=[s], type_ignores=[])))


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for e in target.elts for n in _target_names(e)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _match_target(target: ast.expr, item: ast.expr) -> dict[str, ast.expr] | None:
    if isinstance(target, ast.Name):
        return {target.id: item}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(item, (ast.Tuple, ast.List)):
        if len(target.elts) != len(item.elts):
            return None
        out: dict[str, ast.expr] = {}
        for t, i in zip(target.elts, item.elts, strict=True):
            sub = _match_target(t, i)
            if sub is None:
                return None
            out.update(sub)
        return out
    return None


class _Substitute(ast.NodeTransformer):
    """Replaces a loop variable by the item it stands for in one unrolled iteration."""

    def __init__(self, mapping: dict[str, ast.expr]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.mapping:
            return ast.copy_location(copy.deepcopy(self.mapping[node.id]), node)
        return node


def _const_str(e: ast.expr | None) -> str | None:
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
        left, right = _const_str(e.left), _const_str(e.right)
        return left + right if left is not None and right is not None else None
    return None


def _const_strs(e: ast.expr | None) -> list[str] | None:
    if isinstance(e, ast.BinOp) and isinstance(e.op, ast.Add):
        left, right = _const_strs(e.left), _const_strs(e.right)
        return left + right if left is not None and right is not None else None
    if not isinstance(e, (ast.List, ast.Tuple)):
        return None
    values = [_const_str(x) for x in e.elts]
    return None if None in values else values


def _is_namespace_call(e: ast.expr) -> bool:
    """``globals()`` / ``vars()`` / ``locals()``: at module level, the module's namespace."""
    return (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.args
            and e.func.id in ("globals", "vars", "locals"))


def _is_this_module(e: ast.expr) -> bool:
    return ast.unparse(e) in ("sys.modules[__name__]", "sys.modules.get(__name__)")


def _is_this_module_dict(e: ast.expr) -> bool:
    return isinstance(e, ast.Attribute) and e.attr == "__dict__" and _is_this_module(e.value)


def _is_main_check(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    return "__name__" in sides and ({"'__main__'", '"__main__"'} & sides) != set()


def _static_truth(test: ast.expr) -> bool | None:
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
        return False
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _static_truth(test.operand)
        return None if inner is None else not inner
    return None


def _is_constant_name(name: str) -> bool:
    return len(name) > 1 and name.isupper()


def _short(e: ast.expr) -> str:
    text = ast.unparse(e)
    return text if len(text) <= 80 else text[:77] + "..."
