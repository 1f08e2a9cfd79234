"""Repository-module resolution for hubconf.py: where an imported module's source text is
(``RepoModules``: files under the repository root, and folders hubconf.py adds to
``sys.path`` from ``__file__``), and ``Repository``, which reads and parses each module
once per discovery and follows ``from MODULE import name`` across the repository's files.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable, Iterable
from pathlib import Path

from mlpm.interface.hubconf.namespace import MAX_HOPS, Namespace
from mlpm.interface.hubconf.syntax import const_str
from mlpm.interface.hubconf.targets import Target, unknown

ModuleResolver = Callable[[str], "str | None"]

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


class Repository:
    """The repository's modules as one discovery reads them: each module's text and
    namespace, read once and shared by every namespace, and the targets already
    interpreted (``memo``) or being interpreted (``active``, to stop at a cycle)."""

    def __init__(self, resolve: ModuleResolver | None):
        self.resolve = resolve
        self.texts: dict[str, str | None] = {}
        self.spaces: dict[str, Namespace | None] = {}
        self.broken: dict[str, str] = {}
        self.building: set[str] = set()
        self.memo: dict[int, Target] = {}
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

    def space(self, name: str) -> Namespace | None:
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
            self.spaces[name] = Namespace(self, tree, name, self.is_package(name), name)
        finally:
            self.building.discard(name)
        return self.spaces[name]

    def lookup(self, modules: list[str], attr: str, hops: int) -> Target:
        """``from MODULE import attr``, followed into the repository's files."""
        if hops > MAX_HOPS:
            return unknown(f"gave up following re-exports after {MAX_HOPS} modules")
        for module in modules:
            space = self.space(module)
            if module in self.broken:
                return unknown(self.broken[module])
            if space is None:
                continue
            binding = space.bindings.get(attr)
            # `from . import sub` in a package's __init__ finds the submodule, not itself
            if binding is not None and id(binding) not in self.active:
                return space.target(binding, hops)
            if self.text(f"{module}.{attr}") is not None:
                return Target("module", module=f"{module}.{attr}")
            if space.unknown_stars or space.dynamic:
                return unknown(f"{module} may set {attr} in a way that cannot be read statically")
            return unknown(f"{module} does not define {attr} (importing it would fail)")
        for module in modules:
            sub = f"{module}.{attr}" if module else attr
            if self.text(sub) is not None:
                return Target("module", module=sub)
        module = modules[0] if modules else ""
        if not module:
            return unknown(f"{attr} is not a module of the repository root")
        if f"{module}.{attr}" in _EXTERNAL_MODULES:
            return Target("module", module=f"{module}.{attr}")
        if module == "__future__":
            return Target("data")
        if self.resolve is None:
            return unknown(f"imported from {module}; no module source was given to follow it")
        return unknown(f"imported from {module}, which is outside the repository")


def sys_path_additions(tree: ast.Module, hubconf: Path, root: Path) -> list[Path]:
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
        base, part = _static_path(e.left, hubconf, root, names, depth + 1), const_str(e.right)
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
        parts = [const_str(a) for a in e.args[1:]]
        strs = [p for p in parts if p is not None]
        return first.joinpath(*strs) if len(strs) == len(parts) else None
    return None
