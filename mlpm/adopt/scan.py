"""Find the load-time model calls of a codebase by reading its source with ``ast``.

Nothing is imported or run. For each Python file (and each notebook's code cells) the
scanner:

1. reads the imports, so that ``th.load`` after ``import torch.hub as th``, ``KerasLayer``
   after ``from tensorflow_hub import KerasLayer`` or ``hub.load`` after ``from torch import
   hub`` are known by their full name (``torch.hub.load``, ``tensorflow_hub.KerasLayer``...);
2. finds each call whose full name is one of ``KINDS`` (and ``X.from_pretrained`` on a
   class imported from ``transformers``, ``diffusers``, ``peft`` or ``sentence_transformers``);
3. reads the arguments that matter by name, resolving each statically: literals, module
   constants (also those imported from another module of the project: ``from .config import
   MODEL_ID``), names assigned once in the enclosing function, f-strings, ``+``, ``%``,
   ``str.format`` and ``os.path.join`` of those, items and ``.get`` of constant dicts
   nothing changes in place, ``*SPEC`` / ``**KWARGS`` constants, ``self.name`` set by a
   statement just before the call, and torchvision ``Weights`` enum members
   (``ResNet50_Weights.IMAGENET1K_V2`` is read as the text
   ``"ResNet50_Weights.IMAGENET1K_V2"``). A name assigned several times is read in
   straight-line code (a script, a notebook) as the last plain assignment above the
   statement using it. An argument it cannot read is named in ``CallSite.unresolved``
   with the reason (a parameter, a command-line option and its default, an environment
   variable...), never guessed.

The arguments each kind of call site carries in ``CallSite.args``:

=================================== ========================================================
kind                                args
=================================== ========================================================
torch.hub.load                      repo_or_dir, model, source, kwargs (the model's), args
torch.hub.load_state_dict_from_url  url
torch.hub.download_url_to_file      url
tensorflow_hub.load / .KerasLayer   handle
tensorflow_hub.resolve / .Module    handle
hf_hub_download                     repo_id, filename, subfolder, revision, repo_type
snapshot_download                   repo_id, revision, repo_type
from_pretrained                     class (e.g. ``transformers.AutoModel``), repo_id,
                                    revision, subfolder
pipeline                            task, model, revision
SentenceTransformer                 model (as written), repo_id (as the Hub knows it), revision
timm.create_model                   model, pretrained, kwargs
open_clip.create_model (and         model, pretrained (listed, not mapped)
_and_transforms, _from_pretrained)
torchvision.models                  model (the builder: ``resnet50``), kwargs (``weights``)
=================================== ========================================================
"""

from __future__ import annotations

import ast
import json
import os
import posixpath
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpm.adopt.sites import CallSite

MAX_FILE_BYTES = 4 << 20       # a Python source file larger than this is generated, not code
MAX_NOTEBOOK_BYTES = 64 << 20  # notebooks carry their outputs (images) beside the code
MAX_FILES = 100_000
MAX_RESOLVE_DEPTH = 64         # constants defined from constants from other modules...
MAX_TEXT = 4096                # a resolved string longer than this is not a model id
SKIP_DIRS = {".git", ".hg", ".svn", ".venv", "venv", "site-packages", "node_modules",
             "__pycache__", ".tox", ".nox", ".mypy_cache", ".ipynb_checkpoints", "dist-packages"}

# Full names of the calls found, and the kind each is reported as.
KINDS = {
    "torch.hub.load": "torch.hub.load",
    "torch.hub.load_state_dict_from_url": "torch.hub.load_state_dict_from_url",
    "torch.utils.model_zoo.load_url": "torch.hub.load_state_dict_from_url",
    "torchvision.models.utils.load_state_dict_from_url": "torch.hub.load_state_dict_from_url",
    "torchvision._internally_replaced_utils.load_state_dict_from_url":
        "torch.hub.load_state_dict_from_url",
    "torch.hub.download_url_to_file": "torch.hub.download_url_to_file",
    "tensorflow_hub.load": "tensorflow_hub.load",
    "tensorflow_hub.KerasLayer": "tensorflow_hub.KerasLayer",
    "tensorflow_hub.keras_layer.KerasLayer": "tensorflow_hub.KerasLayer",
    "tensorflow_hub.resolve": "tensorflow_hub.resolve",
    "tensorflow_hub.Module": "tensorflow_hub.Module",
    "huggingface_hub.hf_hub_download": "hf_hub_download",
    "huggingface_hub.file_download.hf_hub_download": "hf_hub_download",
    "huggingface_hub.snapshot_download": "snapshot_download",
    "huggingface_hub._snapshot_download.snapshot_download": "snapshot_download",
    # huggingface_hub < 0.26: `cached_download(hf_hub_url(repo_id, filename))`
    "huggingface_hub.cached_download": "hf_hub_download",
    "huggingface_hub.file_download.cached_download": "hf_hub_download",
    "transformers.pipeline": "pipeline",
    "transformers.pipelines.pipeline": "pipeline",
    "sentence_transformers.SentenceTransformer": "SentenceTransformer",
    "sentence_transformers.CrossEncoder": "SentenceTransformer",
    "sentence_transformers.cross_encoder.CrossEncoder": "SentenceTransformer",
    "timm.create_model": "timm.create_model",
    "timm.models.create_model": "timm.create_model",
    "torchvision.models.get_model": "torchvision.models.get_model",
    # listed so the report shows the dependency; mlpm has no open_clip packages to map to
    "open_clip.create_model_and_transforms": "open_clip.create_model",
    "open_clip.create_model": "open_clip.create_model",
    "open_clip.create_model_from_pretrained": "open_clip.create_model",
    "open_clip.factory.create_model_and_transforms": "open_clip.create_model",
    "open_clip.factory.create_model": "open_clip.create_model",
    "open_clip.factory.create_model_from_pretrained": "open_clip.create_model",
}
# A file without any of these words has no call of KINDS (each needs its module's name, or
# the called name itself, written in the file): it is not parsed.
_MAY_CALL = re.compile(r"hub|from_pretrained|pipeline|SentenceTransformer|CrossEncoder|"
                       r"create_model|torchvision|model_zoo|open_clip")
# Libraries whose classes' ``from_pretrained`` reads a Hugging Face repository.
PRETRAINED_LIBS = ("transformers", "diffusers", "peft", "sentence_transformers", "optimum")

# Each kind's parameters in order (for positional arguments), and those that matter.
_PARAMS: dict[str, tuple[str, ...]] = {
    "torch.hub.load": ("repo_or_dir", "model"),
    "torch.hub.load_state_dict_from_url": ("url", "model_dir", "map_location", "progress",
                                           "check_hash", "file_name"),
    "torch.hub.download_url_to_file": ("url", "dst", "hash_prefix", "progress"),
    "tensorflow_hub.load": ("handle",),
    "tensorflow_hub.KerasLayer": ("handle",),
    "tensorflow_hub.resolve": ("handle",),
    "tensorflow_hub.Module": ("spec",),
    "hf_hub_download": ("repo_id", "filename"),
    "snapshot_download": ("repo_id",),
    "from_pretrained": ("pretrained_model_name_or_path",),
    "pipeline": ("task", "model"),
    "SentenceTransformer": ("model_name_or_path",),
    "timm.create_model": ("model_name", "pretrained"),
    "torchvision.models.get_model": ("name",),
    "torchvision.models": (),
    "open_clip.create_model": ("model_name", "pretrained"),
}
_RENAME = {"pretrained_model_name_or_path": "repo_id", "model_name_or_path": "model",
           "model_name": "model", "name": "model", "spec": "handle"}
_NEEDED: dict[str, tuple[str, ...]] = {
    "torch.hub.load": ("repo_or_dir", "model", "source"),
    "torch.hub.load_state_dict_from_url": ("url",),
    "torch.hub.download_url_to_file": ("url",),
    "tensorflow_hub.load": ("handle",),
    "tensorflow_hub.KerasLayer": ("handle",),
    "tensorflow_hub.resolve": ("handle",),
    "tensorflow_hub.Module": ("handle",),
    "hf_hub_download": ("repo_id", "filename", "subfolder", "revision", "repo_type"),
    "snapshot_download": ("repo_id", "revision", "repo_type"),
    "from_pretrained": ("repo_id", "revision", "subfolder"),
    "pipeline": ("task", "model", "revision"),
    "SentenceTransformer": ("model", "revision"),
    "timm.create_model": ("model", "pretrained"),
    "torchvision.models.get_model": ("model",),
    "torchvision.models": (),
    "open_clip.create_model": ("model", "pretrained"),
}
# torch.hub.load's own keyword arguments: everything else goes to the model's entrypoint.
_HUB_OWN = {"source", "trust_repo", "force_reload", "verbose", "skip_validation"}
# Keyword arguments that do not change which model or weights are loaded.
_HARMLESS = {"progress", "map_location", "device", "trust_repo", "force_reload", "verbose",
             "skip_validation", "model_dir", "cache_dir", "local_files_only", "token",
             "use_auth_token", "force_download", "resume_download", "proxies", "torch_dtype",
             "dtype", "device_map", "trainable", "hash_prefix", "check_hash", "low_cpu_mem_usage",
             "trust_remote_code", "local_dir", "max_workers", "tqdm_class", "etag_timeout",
             "cache_folder", "input_shape", "output_shape",
             "arguments", "signature", "signature_outputs_as_dict", "tags", "options",
             "load_options", "attn_implementation", "quantization_config", "use_fast",
             "allow_patterns", "ignore_patterns", "library_name", "library_version",
             "user_agent", "framework", "batch_size"}


@dataclass
class Scan:
    """What one scan found: the call sites in file order, and what could not be read."""

    root: Path
    sites: list[CallSite] = field(default_factory=list)
    files: int = 0                                    # Python files and notebooks read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)


class _Unresolved(Exception):
    """An argument that cannot be read statically; the message says why."""


def scan(path: Path | str) -> Scan:
    """Every supported call site under ``path`` (a folder, a .py file or a notebook).

        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> code = 'import torch\\nm = torch.hub.load("pytorch/vision", "resnet50")\\n'
        >>> _ = (folder / "app.py").write_text(code)
        >>> [(s.where, s.kind, s.args["model"]) for s in scan(folder).sites]
        [('app.py:2', 'torch.hub.load', 'resnet50')]
    """
    root = Path(path).expanduser().resolve()
    if not root.exists():
        from mlpm.errors import UsageError

        raise UsageError(f"{path} does not exist; give the folder (or the .py file or notebook) "
                         "to adopt, e.g. `mlpm adopt .`.")
    base = root if root.is_dir() else root.parent
    result = Scan(root=base)
    modules = _Modules(base)
    for file in _source_files(root, result):
        rel = Path(os.path.relpath(file, base))
        if file.suffix == ".ipynb":
            _scan_notebook(file, rel, modules, result)
        else:
            text = modules.read(file)
            if text is not None and not _MAY_CALL.search(text):
                result.files += 1  # read, and no call of ours can be in it: not parsed
                continue
            tree, why = modules.tree(file)
            if tree is None:
                result.skipped.append((rel.as_posix(), why))
                continue
            result.files += 1
            result.sites += _Finder(file, rel, modules.text(file), tree, modules).find()
    return result


def _source_files(root: Path, result: Scan) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix in (".py", ".ipynb") else []
    found: list[Path] = []
    for dirpath, dirs, files in os.walk(root):  # symlinked folders are not followed
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                         and not (Path(dirpath) / d / "pyvenv.cfg").exists())
        for name in sorted(files):
            if name.endswith((".py", ".ipynb")) and not (Path(dirpath) / name).is_symlink():
                if len(found) >= MAX_FILES:
                    result.skipped.append((os.path.relpath(dirpath, root),
                                           f"more than {MAX_FILES} source files; adopt a "
                                           "sub-folder"))
                    return found
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda f: f.relative_to(root).parts)


# -- notebooks ------------------------------------------------------------------------------


def notebook_cells(text: str) -> list[tuple[int, str]]:
    """A notebook's code cells as (cell index, source), IPython magics and shell lines
    (``%pip``, ``!ls``, ``%%time``) blanked so that the line numbers stay.

        >>> nb = {"cells": [{"cell_type": "markdown", "source": "# x"},
        ...                 {"cell_type": "code", "source": ["%pip install timm\\n", "x = 1"]}]}
        >>> notebook_cells(json.dumps(nb))
        [(1, '\\nx = 1')]
    """
    data = json.loads(text)
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ValueError("it has no cells list")
    out = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if not isinstance(source, str):
            continue
        lines = source.split("\n")
        if lines and lines[0].lstrip().startswith("%%") and \
                not lines[0].lstrip().startswith(("%%time", "%%capture", "%%timeit")):
            continue  # a cell magic (%%bash, %%writefile): not Python
        out.append((index, "\n".join("" if ln.lstrip().startswith(("%", "!")) or
                                     ln.rstrip().endswith("?") and not ln.lstrip()
                                     .startswith("#") else ln for ln in lines)))
    return out


def _scan_notebook(file: Path, rel: Path, modules: _Modules, result: Scan) -> None:
    try:
        if file.stat().st_size > MAX_NOTEBOOK_BYTES:
            result.skipped.append((rel.as_posix(), f"larger than {MAX_NOTEBOOK_BYTES >> 20} MiB"))
            return
        cells = notebook_cells(file.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        result.skipped.append((rel.as_posix(), f"not a readable notebook ({exc})"))
        return
    result.files += 1
    # A notebook is one namespace: constants of earlier cells are seen by later ones.
    parsed: list[tuple[int, str, ast.Module]] = []
    for index, source in cells:
        tree = _parse(source)
        if tree is None:
            result.skipped.append((f"{rel.as_posix()}[cell {index}]", "not Python 3 syntax"))
            continue
        parsed.append((index, source, tree))
    joined = ast.Module(body=[stmt for _, _, tree in parsed for stmt in tree.body],
                        type_ignores=[])
    for index, source, tree in parsed:
        finder = _Finder(file, rel, source, tree, modules, namespace=joined, cell=index)
        result.sites += finder.find()


def _parse(text: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning on odd escapes in old code
            return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


# -- the project's modules: parsed once, for imported constants -----------------------------


class _Modules:
    """The project's source files, parsed on demand and kept: a constant imported from
    ``.config`` is read from that file's module-level assignments."""

    def __init__(self, root: Path):
        self.root = root
        self._trees: dict[Path, tuple[ast.Module | None, str]] = {}
        self._texts: dict[Path, str] = {}
        self._constants: dict[Path, dict[str, list[ast.expr]]] = {}
        self._imports: dict[Path, dict[str, str]] = {}

    def text(self, file: Path) -> str:
        return self._texts.get(file, "")

    def read(self, file: Path) -> str | None:
        """The file's text, or None when it is too large or unreadable (``tree`` says why)."""
        if file not in self._texts and file not in self._trees:
            try:
                if file.stat().st_size > MAX_FILE_BYTES:
                    self._trees[file] = (None, f"larger than {MAX_FILE_BYTES >> 20} MiB")
                else:
                    self._texts[file] = file.read_bytes().decode("utf-8", "replace")
            except OSError as exc:
                self._trees[file] = (None, f"unreadable ({exc.strerror or exc})")
        return self._texts.get(file)

    def tree(self, file: Path) -> tuple[ast.Module | None, str]:
        if file not in self._trees:
            text = self.read(file)
            if text is not None:
                tree = _parse(text)
                self._trees[file] = (tree, "" if tree else "not Python 3 syntax")
        return self._trees[file]

    def constants(self, file: Path) -> dict[str, list[ast.expr]]:
        if file not in self._constants:
            tree, _ = self.tree(file)
            self._constants[file] = _assignments(tree.body) if tree else {}
        return self._constants[file]

    def imports(self, file: Path) -> dict[str, str]:
        if file not in self._imports:
            tree, _ = self.tree(file)
            self._imports[file] = _imports(tree, _package_of(file, self.root)) if tree else {}
        return self._imports[file]

    def find(self, module: str, importer: Path) -> Path | None:
        """The project file of ``module`` (dotted, absolute), looked for from the project's
        root, a ``src/`` folder and the importing file's own folder (a script's imports)."""
        parts = module.split(".")
        for base in (self.root, self.root / "src", importer.parent):
            for candidate in (base.joinpath(*parts).with_suffix(".py"),
                              base.joinpath(*parts, "__init__.py")):
                try:
                    if candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                        return candidate
                except OSError:
                    continue
        return None


def _package_of(file: Path, root: Path) -> str:
    """The dotted package a file is in, relative to the project root (for ``from .x``)."""
    try:
        rel = file.parent.relative_to(root)
    except ValueError:
        return ""
    parts = [p for p in rel.parts if p]
    if parts and parts[0] == "src":
        parts = parts[1:]
    return ".".join(parts)


def _assignments(body: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    """Every value assigned to each plain name in ``body`` (not inside functions or
    classes; inside if/try/with blocks too, where alternatives show up as two values)."""
    found: dict[str, list[ast.expr]] = {}
    stack = list(body)
    while stack:
        stmt = stack.pop(0)
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                _bind(target, stmt.value, found)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            _bind(stmt.target, stmt.value, found)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            found.setdefault(stmt.target.id, []).append(stmt)  # type: ignore[arg-type]
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            for target in _loop_targets(stmt):
                _bind(target, None, found)
            stack[:0] = list(stmt.body) + list(getattr(stmt, "orelse", []))
        elif isinstance(stmt, (ast.If, ast.While)):
            stack[:0] = list(stmt.body) + list(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            stack[:0] = list(stmt.body) + [s for h in stmt.handlers for s in h.body] + \
                list(stmt.orelse) + list(stmt.finalbody)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.setdefault(stmt.name, []).append(stmt)  # type: ignore[arg-type]
    return found


def _loop_targets(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    return []


def _bind(target: ast.expr, value: ast.expr | None, found: dict[str, list[Any]]) -> None:
    if isinstance(target, ast.Name):
        found.setdefault(target.id, []).append(value if value is not None else target)
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and \
            len(value.elts) == len(target.elts) else [None] * len(target.elts)
        for sub, val in zip(target.elts, values, strict=True):
            _bind(sub, val, found)


def _imports(tree: ast.Module, package: str) -> dict[str, str]:
    """Local name -> full dotted name, from every import in the module (at any depth:
    ``try: import tensorflow_hub as hub`` counts)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:  # `import torch.hub` binds `torch`
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{base}.{alias.name}" if base \
                        else alias.name
    return names


def _absolute(module: str, level: int, package: str) -> str:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return module
    base = parts[:len(parts) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


# -- finding and reading the calls ----------------------------------------------------------


class _Finder:
    def __init__(self, file: Path, rel: Path, text: str, tree: ast.Module, modules: _Modules,
                 namespace: ast.Module | None = None, cell: int | None = None):
        self.file = file
        self.rel = rel
        self.text = text
        self.tree = tree
        self.modules = modules
        self.cell = cell
        space = namespace or tree
        self.space = space
        self.imports = _imports(space, _package_of(file, modules.root))
        self.constants = _assignments(space.body)
        self._sets: dict[tuple[str, str], int] | None = None
        self._statements: dict[int, dict[int, int]] = {}
        self._globals: set[str] | None = None
        self._lines = text.split("\n")

    def statement_of(self, body: list[ast.stmt], node: ast.AST) -> int | None:
        """The index in ``body`` of the statement that holds ``node``."""
        index = self._statements.get(id(body))
        if index is None:
            index = {id(n): i for i, stmt in enumerate(body) for n in ast.walk(stmt)}
            self._statements[id(body)] = index
        return index.get(id(node))

    def global_names(self) -> set[str]:
        """Names a function of the module declares ``global`` (and so may set)."""
        if self._globals is None:
            self._globals = {name for node in ast.walk(self.space)
                             if isinstance(node, ast.Global) for name in node.names}
        return self._globals

    def attribute_sets(self, owner: str, attr: str) -> int:
        """How many statements of the module set ``owner.attr`` (``self.name = ...``)."""
        if self._sets is None:
            self._sets = {}
            for node in ast.walk(self.space):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)) \
                        and isinstance(node.value, ast.Name):
                    key = (node.value.id, node.attr)
                    self._sets[key] = self._sets.get(key, 0) + 1
        return self._sets.get((owner, attr), 0)

    def find(self) -> list[CallSite]:
        sites: list[CallSite] = []
        scopes: list[tuple[ast.AST, dict[str, list[ast.expr]], set[str]]] = []
        self._walk(self.tree, scopes, sites)
        sites.sort(key=lambda s: (s.line, s.col))
        return sites

    def _walk(self, node: ast.AST, scopes: list, sites: list[CallSite]) -> None:
        """Depth-first without recursion on the call graph's depth (a deep expression is
        bounded by ast.parse itself); function bodies carry their own assignments."""
        # `own`: inside a class that defines its own from_pretrained (a project's wrapper,
        # which `self.from_pretrained(...)` / `cls.from_pretrained(...)` then call)
        stack: list[tuple[ast.AST, list, bool]] = [(node, scopes, False)]
        while stack:
            item, chain, own = stack.pop()
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = item.args
                params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
                params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
                body = item.body if isinstance(item.body, list) else []
                chain = [*chain, (item, _assignments(body), params)]
            elif isinstance(item, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                loops: dict[str, list] = {}  # each loop variable takes many values
                for generator in item.generators:
                    _bind(generator.target, None, loops)
                chain = [*chain, (item, loops, set())]
            elif isinstance(item, ast.ClassDef):
                own = any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and
                          s.name == "from_pretrained" for s in item.body)
            elif isinstance(item, ast.Call) and not (own and _own_method(item)):
                site = self._site(item, chain)
                if site is not None:
                    sites.append(site)
            stack.extend((child, chain, own) for child in ast.iter_child_nodes(item))

    # the called function's full name

    def full_name(self, node: ast.expr) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.imports.get(node.id)
        if head is None:
            return None  # not imported here: a local function of the same name
        return ".".join([head, *parts])

    def kind_of(self, call: ast.Call) -> str | None:
        """The kind of call ``call`` is (``"from_pretrained"``...), None for other calls."""
        found = self._kind(call)
        return found[0] if found else None

    def _kind(self, call: ast.Call) -> tuple[str, str | ast.expr | None] | None:
        """The call's kind, and what its name says besides: the class of a from_pretrained,
        a torchvision builder's name (or the expression naming it, for
        ``models.__dict__[arch](...)`` and ``getattr(models, arch)(...)``)."""
        name = self.full_name(call.func)
        if name is None:
            builder = self._builder_by_name(call.func)
            if builder is not None:
                return "torchvision.models", builder
            # `model_class.from_pretrained(...)` with the class chosen at run time, in a
            # module that imports a library whose classes have from_pretrained
            if isinstance(call.func, ast.Attribute) and call.func.attr == "from_pretrained" \
                    and any(v.split(".")[0] in PRETRAINED_LIBS for v in self.imports.values()):
                return "from_pretrained", None
            return None
        if name in KINDS:
            return KINDS[name], None
        if name.endswith(".from_pretrained") and name.split(".")[0] in PRETRAINED_LIBS:
            return "from_pretrained", name.rsplit(".", 1)[0]
        parts = name.split(".")
        if parts[0] == "torchvision" and parts[-1] == "load_state_dict_from_url":
            return "torch.hub.load_state_dict_from_url", None  # re-exported by old torchvision
        if parts[:2] == ["torchvision", "models"] and _tv_builder(parts[2:]):
            return "torchvision.models", parts[-1]
        return None

    def _builder_by_name(self, func: ast.expr) -> ast.expr | None:
        """``models.__dict__[arch]``, ``vars(models)[arch]`` or ``getattr(models, arch)``
        on torchvision's models module: the expression naming the builder."""
        if isinstance(func, ast.Subscript):
            owner = func.value
            if isinstance(owner, ast.Attribute) and owner.attr == "__dict__":
                module = self.full_name(owner.value)
            elif isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and \
                    owner.func.id == "vars" and len(owner.args) == 1 and not owner.keywords:
                module = self.full_name(owner.args[0])
            else:
                return None
            return func.slice if module in _TV_MODULES else None
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and \
                func.func.id == "getattr" and len(func.args) == 2 and not func.keywords and \
                self.full_name(func.args[0]) in _TV_MODULES:
            return func.args[1]
        return None

    def _site(self, call: ast.Call, chain: list) -> CallSite | None:
        found = self._kind(call)
        if found is None:
            return None
        kind, extra = found
        args: dict[str, object] = {}
        unresolved: dict[str, str] = {}
        params = _PARAMS[kind]
        if kind == "from_pretrained" and isinstance(extra, str) and \
                extra.startswith("peft.PeftModel"):
            params = ("model", "model_id")  # the base model, then the adapter's repository
        resolver = _Resolver(self, chain)

        at: dict[str, tuple[int, int]] = {}  # where each unresolved argument is written

        def read(key: str, node: ast.expr) -> None:
            key = "repo_id" if key == "model_id" and kind == "from_pretrained" else \
                _RENAME.get(key, key)
            try:
                args[key] = self.resolve(node, chain)
            except _Unresolved as exc:
                unresolved[key] = str(exc)
                at[key] = (node.lineno, node.col_offset)

        positional: list[ast.expr] = []
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                try:  # `*SPEC` with SPEC a tuple constant
                    positional += resolver.elements(arg.value, 0)
                except _Unresolved:
                    unresolved["*args"] = "arguments passed as *args"
                    at["*args"] = (arg.lineno, arg.col_offset)
                    break
            else:
                positional.append(arg)
        keywords: list[tuple[str, ast.expr]] = []
        for kw in call.keywords:
            if kw.arg is not None:
                keywords.append((kw.arg, kw.value))
                continue
            try:  # `**HF_KWARGS` with HF_KWARGS a dict constant
                keywords += resolver.items(kw.value, 0)
            except _Unresolved:
                unresolved["**kwargs"] = "arguments passed as **kwargs"
                at["**kwargs"] = (kw.value.lineno, kw.value.col_offset)
        if isinstance(extra, ast.expr):  # a torchvision builder chosen by name
            read("model", extra)
            extra = None
        if kind == "torchvision.models" and positional:
            # torchvision's builders take the legacy `pretrained` (or the weights) first
            keywords.insert(0, ("pretrained", positional[0]))
            positional = positional[1:]
        if call_url := self._hf_hub_url(kind, positional, keywords):
            positional, keywords = call_url
        given: dict[str, ast.expr] = {}
        extra_pos: list[ast.expr] = []
        for i, arg in enumerate(positional):
            if i < len(params):
                given[params[i]] = arg
            else:
                extra_pos.append(arg)
        model_kwargs: dict[str, object] = {}
        for key, value in keywords:
            if key in params or _RENAME.get(key, key) in _NEEDED[kind] or \
                    kind == "torch.hub.load" and key in _HUB_OWN:
                given[key] = value
            elif kind in _MODEL_KWARGS:
                try:
                    model_kwargs[key] = self.resolve(value, chain)
                except _Unresolved as exc:
                    if key not in _HARMLESS:
                        unresolved[key] = str(exc)
                        at[key] = (value.lineno, value.col_offset)
        if kind == "torchvision.models" and "pretrained" in given:
            node = given.pop("pretrained")
            try:
                first = self.resolve(node, chain)
                model_kwargs["weights" if isinstance(first, str) else "pretrained"] = first
            except _Unresolved as exc:
                unresolved["pretrained"] = str(exc)
                at["pretrained"] = (node.lineno, node.col_offset)
        for key, node in given.items():
            if _RENAME.get(key, key) in _NEEDED[kind] or key == "model_id":
                read(key, node)
        if kind in _MODEL_KWARGS:
            args["kwargs"] = model_kwargs
        if kind == "torch.hub.load":
            extra_args = []
            for node in extra_pos:
                try:
                    extra_args.append(self.resolve(node, chain))
                except _Unresolved as exc:
                    unresolved["args"] = str(exc)
            if extra_args:
                args["args"] = extra_args
        if kind == "from_pretrained":
            args["class"] = extra
        if kind == "torchvision.models":
            if extra is not None:
                args["model"] = extra
            if extra_pos:
                unresolved.setdefault("args", "positional arguments to a torchvision builder")
        if kind.startswith("torchvision.models") and not _pretrained(model_kwargs, unresolved):
            return None  # an architecture without weights: nothing is downloaded
        if kind == "timm.create_model" and "pretrained" not in args and \
                "pretrained" not in unresolved:
            args["pretrained"] = False
        if kind == "timm.create_model" and args.get("pretrained") is False:
            return None  # no weights are downloaded: not a model dependency
        if kind == "open_clip.create_model" and args.get("pretrained") is None and \
                "pretrained" not in unresolved and \
                not str(args.get("model", "hf-hub:")).startswith("hf-hub:"):
            return None  # an architecture without weights
        if kind == "SentenceTransformer" and isinstance(args.get("model"), str):
            model = str(args["model"])
            args["repo_id"] = model if "/" in model or _local_path(model) \
                else f"sentence-transformers/{model}"
        end = (call.end_lineno or call.lineno, call.end_col_offset or 0)
        unresolved = dict(sorted(unresolved.items(), key=lambda kv: at.get(kv[0], end)))
        return self._make(call, kind, args, unresolved)

    def _hf_hub_url(self, kind: str, positional: list[ast.expr],
                    keywords: list[tuple[str, ast.expr]]
                    ) -> tuple[list[ast.expr], list[tuple[str, ast.expr]]] | None:
        """``cached_download(hf_hub_url(repo_id, filename, ...))`` is read as the
        ``hf_hub_download`` of hf_hub_url's arguments."""
        if kind != "hf_hub_download":
            return None
        url = positional[0] if positional else dict(keywords).get("url")
        if url is None or not self._is_call_of(url, _HF_HUB_URL):
            return None
        assert isinstance(url, ast.Call)
        return list(url.args), [(k.arg, k.value) for k in url.keywords if k.arg is not None]

    def _is_call_of(self, node: ast.expr, names: set[str]) -> bool:
        return isinstance(node, ast.Call) and self.full_name(node.func) in names

    def _make(self, call: ast.Call, kind: str, args: dict[str, object],
              unresolved: dict[str, str]) -> CallSite:
        segment = ast.get_source_segment(self.text, call) or ""
        if len(segment) > 400:
            segment = segment[:397] + "..."
        end_line = call.end_lineno or call.lineno
        end_col = call.end_col_offset if call.end_col_offset is not None else call.col_offset
        return CallSite(file=self.rel, line=call.lineno, col=call.col_offset, end_line=end_line,
                        end_col=end_col, kind=kind, call=segment, args=args,
                        unresolved=tuple(unresolved), cell=self.cell,
                        reasons=dict(unresolved))

    # resolving an argument's value

    def resolve(self, node: ast.expr, chain: list, depth: int = 0) -> object:
        return _Resolver(self, chain).value(node, depth)


def _pretrained(kwargs: dict[str, object], unresolved: dict[str, str]) -> bool:
    """Whether a torchvision builder call loads weights (or may: an unresolved argument).
    An explicit ``pretrained=False`` or ``weights=None`` loads none whatever ``**kwargs``
    holds (torchvision refuses the other of the two beside it)."""
    if kwargs.get("pretrained") is False or "weights" in kwargs and kwargs["weights"] is None:
        return False
    if unresolved.keys() & {"weights", "pretrained", "**kwargs", "*args", "args"}:
        return True
    return kwargs.get("weights") is not None or kwargs.get("pretrained") is True


_TV_SUBMODULES = {"detection", "segmentation", "video", "quantization", "optical_flow"}
_TV_MODULES = {"torchvision.models", *(f"torchvision.models.{m}" for m in _TV_SUBMODULES)}
# Functions of torchvision.models (and its modules) that are not model builders.
_TV_NOT_BUILDERS = {"get_weight", "get_model_weights", "get_model_builder", "list_models",
                    "get_model", "load_state_dict_from_url", "create_feature_extractor",
                    "get_graph_node_names", "register_model", "overwrite_eps"}
_HF_HUB_URL = {"huggingface_hub.hf_hub_url", "huggingface_hub.file_download.hf_hub_url"}
_MODEL_KWARGS = {"torch.hub.load", "torchvision.models", "timm.create_model",
                 "torchvision.models.get_model"}


def _tv_builder(rest: list[str]) -> bool:
    """Whether ``torchvision.models.<rest>`` names a model builder: ``resnet50``,
    ``resnet.resnet50``, ``detection.fasterrcnn_resnet50_fpn``,
    ``detection.faster_rcnn.fasterrcnn_resnet50_fpn`` (functions are lower case)."""
    if not rest or any(p.startswith("_") for p in rest) or not rest[-1][:1].islower() or \
            rest[-1] in _TV_NOT_BUILDERS or rest[0] in ("utils", "feature_extraction"):
        return False
    return len(rest) <= 2 or len(rest) == 3 and rest[0] in _TV_SUBMODULES


def _local_path(text: str) -> bool:
    return text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1


class _Resolver:
    """Reads one expression's value statically, or raises _Unresolved saying why."""

    def __init__(self, finder: _Finder, chain: list):
        self.finder = finder
        self.chain = chain

    def value(self, node: ast.expr, depth: int = 0) -> object:
        if depth > MAX_RESOLVE_DEPTH:
            raise _Unresolved("nested or defined through constants too deeply")
        out = self._value(node, depth + 1)
        if isinstance(out, str) and len(out) > MAX_TEXT:
            raise _Unresolved("a text longer than any model id")
        return out

    def _value(self, node: ast.expr, depth: int) -> object:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (str, int, float, bool)) or node.value is None:
                return node.value
            raise _Unresolved("not a text or number")
        if isinstance(node, ast.JoinedStr):
            return "".join(self._fstring_part(p, depth) for p in node.values)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, (ast.Tuple, ast.List)):
            return [self.value(e, depth) for e in node.elts]
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                raise _Unresolved("a dict built with **")
            return {str(self.value(k, depth)): self.value(v, depth)  # type: ignore[arg-type]
                    for k, v in zip(node.keys, node.values, strict=True)}
        if isinstance(node, ast.Name):
            return self._name(node.id, depth, node)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, depth)
        if isinstance(node, ast.Subscript):
            if self.finder.full_name(node.value) == "os.environ":
                raise _Unresolved(_from_environment(node.slice, None))
            container = self.value(node.value, depth)
            key = self.value(node.slice, depth)
            if isinstance(container, str) and container.endswith("_Weights") and \
                    isinstance(key, str) and key.isupper():
                return f"{container}.{key}"  # `ResNet50_Weights["IMAGENET1K_V2"]`
            try:
                return container[key]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                raise _Unresolved("an index that is not in the constant") from None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "format" and not node.keywords and \
                isinstance(node.func.value, (ast.Constant, ast.Name, ast.Attribute)):
            template = self.value(node.func.value, depth)
            if isinstance(template, str):
                try:
                    return template.format(*[self.value(a, depth) for a in node.args])
                except (IndexError, KeyError, ValueError):
                    raise _Unresolved("a str.format that does not fit its arguments") from None
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise _Unresolved("an expression mlpm does not evaluate")

    def _call(self, node: ast.Call, depth: int) -> object:
        """The calls whose result is known from constants: ``os.path.join``, a constant
        dict's ``.get``, torchvision's ``get_weight``; any other call is not evaluated."""
        name = self.finder.full_name(node.func)
        if name in ("os.getenv", "os.environ.get") and node.args:
            raise _Unresolved(_from_environment(node.args[0], node.args[1]
                                                if len(node.args) > 1 else None))
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            name = None
        if name in ("os.path.join", "posixpath.join") and node.args:
            parts = [self.value(a, depth) for a in node.args]
            texts = [p for p in parts if isinstance(p, str)]
            if len(texts) == len(parts):
                return posixpath.join(*texts)
        if name == "torchvision.models.get_weight" and len(node.args) == 1:
            text = self.value(node.args[0], depth)
            if isinstance(text, str) and "_Weights." in text:
                return text
        func = node.func
        if name is None and isinstance(func, ast.Attribute) and func.attr == "get" and \
                not node.keywords and 1 <= len(node.args) <= 2:
            try:
                container = self.value(func.value, depth)
            except _Unresolved:
                container = None
            if isinstance(container, dict):
                key = self.value(node.args[0], depth)
                if key in container:
                    return container[key]
                return self.value(node.args[1], depth) if len(node.args) == 2 else None
        if self._loads_a_model(node):
            raise _Unresolved("a model object, loaded by another call (listed on its own)")
        raise _Unresolved("the result of a call")

    def _loads_a_model(self, node: ast.expr) -> bool:
        """``AutoModel.from_pretrained(name).to(device)``, ``hub.load(handle)``: a model
        object made by a call the scan lists on its own, not a name."""
        while isinstance(node, ast.Call):
            if self.finder.kind_of(node) is not None:
                return True
            if not isinstance(node.func, ast.Attribute):
                return False
            node = node.func.value
        return False

    def elements(self, node: ast.expr, depth: int) -> list[ast.expr]:
        """The items of a tuple or list written as a constant (for ``f(*SPEC)``)."""
        found = self._node(node, depth)
        if isinstance(found, (ast.Tuple, ast.List)) and \
                not any(isinstance(e, ast.Starred) for e in found.elts):
            return list(found.elts)
        raise _Unresolved("not a tuple written in the code")

    def items(self, node: ast.expr, depth: int) -> list[tuple[str, ast.expr]]:
        """The entries of a dict written as a constant (for ``f(**KWARGS)``): a dict
        display or ``dict(key=value)``, with text keys, not changed after it is made."""
        found = self._node(node, depth)
        if isinstance(found, ast.Dict) and all(k is not None for k in found.keys):
            keys = [self.value(k, depth) for k in found.keys]  # type: ignore[arg-type]
            if all(isinstance(k, str) for k in keys):
                return list(zip(keys, found.values, strict=True))  # type: ignore[arg-type]
        if isinstance(found, ast.Call) and isinstance(found.func, ast.Name) and \
                found.func.id == "dict" and not found.args and \
                all(k.arg is not None for k in found.keywords):
            return [(str(k.arg), k.value) for k in found.keywords]
        raise _Unresolved("not a dict written in the code")

    def _node(self, node: ast.expr, depth: int) -> ast.expr:
        """The expression a name stands for, when it is assigned once in its function or
        module and never changed in place (``SPEC[0] = ...``, ``KWARGS.update(...)``)."""
        for _ in range(MAX_RESOLVE_DEPTH - depth):
            if not isinstance(node, ast.Name):
                return node
            values, scope = self._binding(node.id)
            if len(values) != 1 or not isinstance(values[0], ast.expr) or \
                    _changed_in_place(node.id, scope):
                raise _Unresolved(f"'{node.id}' is not a constant")
            node = values[0]
        raise _Unresolved("defined through names too deeply")

    def _binding(self, name: str) -> tuple[list, ast.AST]:
        for scope, assigned, params in reversed(self.chain):
            if name in assigned:
                return assigned[name], scope
            if name in params:
                raise _Unresolved(f"'{name}' is a parameter of the function it is used in")
        if name in self.finder.constants:
            return self.finder.constants[name], self.finder.space
        raise _Unresolved(f"'{name}' is not defined in the module")

    def _fstring_part(self, part: ast.expr, depth: int) -> str:
        if isinstance(part, ast.Constant):
            return str(part.value)
        if isinstance(part, ast.FormattedValue):
            if part.format_spec is not None:
                raise _Unresolved("an f-string with a format spec")
            value = self.value(part.value, depth)
            if isinstance(value, (list, dict)):
                raise _Unresolved("an f-string of a list or dict")
            return repr(value) if part.conversion == ord("r") else str(value)
        raise _Unresolved("an f-string mlpm does not evaluate")

    def _binop(self, node: ast.BinOp, depth: int) -> object:
        left, right = self.value(node.left, depth), self.value(node.right, depth)
        if isinstance(node.op, ast.Add) and type(left) is type(right) and \
                isinstance(left, (str, int, float, list)):
            return left + right  # type: ignore[operator]
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            try:
                return left % (tuple(right) if isinstance(right, list) else right)
            except (TypeError, ValueError, KeyError):
                raise _Unresolved("a % format that does not fit its arguments") from None
        raise _Unresolved("an operation other than + or % on constants")

    def _name(self, name: str, depth: int, node: ast.Name | None = None) -> object:
        for i, (scope, assigned, params) in enumerate(reversed(self.chain)):
            if name in assigned:
                values = assigned[name]
                if (len(values) > 1 or name in params) and i == 0 and node is not None:
                    values = self._reaching(name, getattr(scope, "body", None), node) or values
                if name in params and values is assigned[name]:  # the caller's value too
                    raise _Unresolved(f"'{name}' is a parameter of the function it is used "
                                      "in (and assigned in it)")
                return self._single(values, name, depth, "in its function", scope)
            if name in params:
                raise _Unresolved(f"'{name}' is a parameter of the function it is used in")
        if name in self.finder.constants and name in self.finder.global_names():
            raise _Unresolved(f"'{name}' is set by a function of the module (global {name})")
        if name in self.finder.constants:
            values = self.finder.constants[name]
            if len(values) > 1 and not self.chain and node is not None:
                values = self._reaching(name, self.finder.space.body, node) or values
            return self._single(values, name, depth, "in its module", self.finder.space)
        full = self.finder.imports.get(name)
        if full is not None:
            return self._imported(full, depth)
        raise _Unresolved(f"'{name}' is not defined in the module")

    def _reaching(self, name: str, body: list[ast.stmt] | None,
                  node: ast.Name) -> list[ast.expr] | None:
        """A name assigned more than once, used in straight-line code: the value of the
        last plain assignment before the statement using it (a script or notebook that
        sets ``model_name`` again for each model), if no statement in between (nor the
        one using it) may bind it otherwise."""
        if not isinstance(body, list):
            return None
        index = self.finder.statement_of(body, node)
        if index is None:
            return None
        using = body[index]
        in_value = isinstance(using, (ast.Assign, ast.AnnAssign)) and using.value is not None \
            and any(n is node for n in ast.walk(using.value))
        if not in_value and _binds(using, name):
            return None
        for stmt in reversed(body[:index]):
            value = _plain_assignment(stmt, name)
            if value is not None:
                return [value]
            if _binds(stmt, name):
                return None
        return None

    def _single(self, values: list, name: str, depth: int, where: str,
                scope: ast.AST | None = None) -> object:
        if len(values) != 1 or not isinstance(values[0], ast.expr) or \
                isinstance(values[0], ast.Name) and values[0].id == name and \
                isinstance(values[0].ctx, ast.Store):
            raise _Unresolved(f"'{name}' is assigned more than once {where}" if len(values) > 1
                              else f"'{name}' is not a constant")
        if scope is not None and isinstance(values[0], (ast.Dict, ast.List, ast.Call)) and \
                _changed_in_place(name, scope):
            raise _Unresolved(f"'{name}' is changed in place {where}")
        return self.value(values[0], depth)

    def _imported(self, full: str, depth: int) -> object:
        """A name imported from another module: a project module's constant, or a
        torchvision ``Weights`` enum member's text."""
        weights = _weights_text(full)
        if weights is not None:
            return weights
        module, _, attr = full.rpartition(".")
        file = self.finder.modules.find(module, self.finder.file) if module else None
        if file is None:
            raise _Unresolved(f"'{full}' comes from outside the project")
        constants = self.finder.modules.constants(file)
        if attr in constants:
            other = _Finder(file, file, self.finder.modules.text(file),
                            self.finder.modules.tree(file)[0] or ast.Module([], []),
                            self.finder.modules)
            return _Resolver(other, []).value(
                _only(constants[attr], attr, module), depth)
        imported = self.finder.modules.imports(file).get(attr)
        if imported is not None and imported != full:  # re-exported: `from .settings import X`
            return self._imported(imported, depth + 1)
        raise _Unresolved(f"'{attr}' is not a constant of {module}")

    def _attribute(self, node: ast.Attribute, depth: int) -> object:
        name = self.finder.full_name(node)
        if name is not None:
            weights = _weights_text(name)
            if weights is not None:
                return weights
            module, _, attr = name.rpartition(".")
            file = self.finder.modules.find(module, self.finder.file) if module else None
            if file is not None:  # `config.MODEL_ID` after `import config`
                return self._imported(name, depth)
            raise _Unresolved(f"'{name}' comes from outside the project")
        base = node.value
        if isinstance(base, ast.Name) and base.id not in self.finder.imports:
            klass = self.finder.constants.get(base.id)
            if klass and len(klass) == 1 and isinstance(klass[0], ast.ClassDef):
                # a class used as a namespace of settings: `Config.MODEL_ID`
                assigned = _assignments(klass[0].body).get(node.attr)
                if assigned:
                    return self._single(assigned, node.attr, depth, f"in class {base.id}")
            try:  # a local weights alias: `W = ResNet50_Weights; W.IMAGENET1K_V2`
                owner = self._name(base.id, depth)
            except _Unresolved:
                owner = None
            if isinstance(owner, str) and owner.endswith("_Weights") and node.attr.isupper():
                return f"{owner}.{node.attr}"
            set_before = self._set_before(base.id, node)
            if set_before is not None:  # `self.name = "org/model"` just before the call
                return self.value(set_before, depth)
            option = self._option(base.id, node.attr)
            if option is not None:
                raise _Unresolved(option)
        raise _Unresolved(f"'{_shown(node)}' is known only when the code runs")

    def _option(self, owner: str, attr: str) -> str | None:
        """Why ``args.model`` is unknown when ``args = parser.parse_args()``: a command-line
        option, whose default the report shows (it is not used: the command line wins)."""
        try:
            values, _ = self._binding(owner)
        except _Unresolved:
            return None
        made = values[0] if len(values) == 1 else None
        if not (isinstance(made, ast.Call) and isinstance(made.func, ast.Attribute) and
                made.func.attr == "parse_args"):
            return None
        why = f"'{owner}.{attr}' is a command-line option"
        flags = {f"--{attr}", f"--{attr.replace('_', '-')}"}
        for node in ast.walk(self.finder.space):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "add_argument" and (
                        any(isinstance(a, ast.Constant) and a.value in flags for a in node.args)
                        or any(k.arg == "dest" and isinstance(k.value, ast.Constant) and
                               k.value.value == attr for k in node.keywords)):
                default = next((k.value for k in node.keywords if k.arg == "default"), None)
                if isinstance(default, ast.Constant) and isinstance(default.value, str):
                    return f"{why} (default '{default.value[:80]}')"
        return why

    def _set_before(self, owner: str, node: ast.Attribute) -> ast.expr | None:
        """The value of ``owner.attr`` when a statement of the function (or module) the
        call is in sets it, before the call, and nothing else in the module sets it."""
        scope = self.chain[-1][0] if self.chain else self.finder.tree
        body = getattr(scope, "body", None)
        if not isinstance(body, list) or self.finder.attribute_sets(owner, node.attr) != 1:
            return None
        for stmt in body:
            if stmt.lineno >= node.lineno:
                break
            targets = stmt.targets if isinstance(stmt, ast.Assign) else \
                [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value else []
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == node.attr and \
                        isinstance(target.value, ast.Name) and target.value.id == owner:
                    return stmt.value
        return None


def _shown(node: ast.expr) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


_MUTATORS = {"update", "pop", "popitem", "setdefault", "clear", "append", "extend", "insert",
             "remove", "sort", "reverse", "__setitem__"}


def _changed_in_place(name: str, scope: ast.AST) -> bool:
    """Whether ``name``'s dict or list is changed after it is made: an item set or deleted,
    or a changing method called on it."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)) and \
                isinstance(node.value, ast.Name) and node.value.id == name:
            return True
        if isinstance(node, ast.Attribute) and node.attr in _MUTATORS and \
                isinstance(node.value, ast.Name) and node.value.id == name:
            return True
    return False


def _from_environment(name: ast.expr, default: ast.expr | None) -> str:
    var = name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) \
        else "named at run time"
    why = f"read from the environment variable {var}"
    if isinstance(default, ast.Constant) and isinstance(default.value, str):
        why += f" (default '{default.value[:80]}')"
    return why


def _plain_assignment(stmt: ast.stmt, name: str) -> ast.expr | None:
    """The value of ``name = value`` (or ``name: T = value``), when ``stmt`` is that."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    return value if isinstance(target, ast.Name) and target.id == name else None


def _own_method(call: ast.Call) -> bool:
    """``self.from_pretrained(...)`` or ``cls.from_pretrained(...)``."""
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "from_pretrained" and \
        isinstance(func.value, ast.Name) and func.value.id in ("self", "cls")


def _binds(stmt: ast.stmt, name: str) -> bool:
    """Whether running ``stmt`` may (re)bind ``name``."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and node.id == name and \
                isinstance(node.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                node.name == name or isinstance(node, (ast.Global, ast.Nonlocal)) and \
                name in node.names or isinstance(node, ast.ExceptHandler) and \
                node.name == name:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name.split(".")[0]) == name or a.name == "*" for a in node.names):
            return True
    return False


def _only(values: list, name: str, module: str) -> ast.expr:
    if len(values) != 1 or not isinstance(values[0], ast.expr):
        raise _Unresolved(f"'{name}' is assigned more than once in {module}" if len(values) > 1
                          else f"'{name}' of {module} is not a constant")
    return values[0]


def _weights_text(full: str) -> str | None:
    """``torchvision.models.ResNet50_Weights.IMAGENET1K_V2`` -> ``ResNet50_Weights.IMAGENET1K_V2``
    (the text torchvision accepts for the enum member, and records' kwargs carry);
    ``torchvision.models.ResNet50_Weights`` alone -> ``ResNet50_Weights``."""
    parts = full.split(".")
    if parts[:2] != ["torchvision", "models"]:
        return None
    for i, part in enumerate(parts):
        if part.endswith("_Weights"):
            rest = parts[i + 1:]
            if not rest:
                return part
            if len(rest) == 1:
                return f"{part}.{rest[0]}"
    return None
