"""``mlpm adopt --rewrite``: each exactly mapped call site becomes an ``mlpm`` call.

Only mappings whose ``how`` is EXACT are rewritten, and only into a call that gives the
application the same object the original call gave it (the table below); anything else is
left as written and listed with the reason. The edit is made with libcst on the concrete
syntax tree, so every other character of the file (comments, blank lines, quotes, layout)
stays as it was, and ``import mlpm`` is added once where it is missing.

    torch.hub.load(REPO, MODEL, **kw)          -> mlpm.load(NAME[, entrypoint=MODEL], **kw)
    torch.hub.load_state_dict_from_url(URL)    -> mlpm.load(NAME)   (a state-dict package)
    tensorflow_hub.load(HANDLE, **kw)          -> mlpm.load(NAME, **kw)
    tensorflow_hub.KerasLayer(HANDLE, **kw)    -> mlpm.keras_layer(NAME, **kw)
    tensorflow_hub.resolve(HANDLE)             -> str(mlpm.path(NAME))
    torchvision.models.X(weights=W, **kw)      -> mlpm.load(NAME, **kw)  (a hub package)
    hf_hub_download(REPO, FILE[, subfolder=S]) -> str(mlpm.path(NAME) / S / FILE)
    snapshot_download(REPO)                    -> str(mlpm.path(NAME))
    X.from_pretrained(REPO, ...), pipeline(model=REPO, ...), SentenceTransformer(REPO, ...)
                                               -> the same call on str(mlpm.path(NAME))

Which package each name means is read from the project's mlpm.lock (the rewritten code
loads what the lock pins), so ``mlpm adopt --write`` or ``mlpm install`` comes first.

    >>> plan = plan_rewrite(Path("."), mappings)       # doctest: +SKIP
    >>> print(plan.diff); plan.write()                 # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlpm.adopt.sites import EXACT, Mapping
from mlpm.errors import FrameworkMissing, ManifestError, ProjectNotFound, UsageError
from mlpm.project import Lock, LockedPackage, Project
from mlpm.store import write_atomic

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    import libcst as cst

# Keyword arguments of torch.hub.load that configure the hub, not the entrypoint.
_HUB_OPTIONS = ("source", "force_reload", "verbose", "skip_validation", "trust_repo")
# mlpm.load's own parameters: an entrypoint keyword of the same name cannot pass through.
_LOAD_PARAMS = ("format", "entrypoint", "signature", "trust", "project_dir", "context")
# Keywords of the download calls that only steer the download mlpm now does at install.
_DOWNLOAD_ONLY = ("revision", "repo_type", "cache_dir", "force_download", "token",
                  "local_files_only", "etag_timeout", "headers", "endpoint", "proxies",
                  "resume_download", "force_filename", "local_dir_use_symlinks",
                  "user_agent", "library_name", "library_version", "allow_patterns",
                  "ignore_patterns", "max_workers", "tqdm_class", "dry_run")
_MAGIC = "#mlpm-adopt-magic:"  # a notebook's %magic / !shell line, hidden from the parser


@dataclass(frozen=True)
class Skipped:
    """A mapped call site left as written, and why (one phrase for the report)."""

    mapping: Mapping
    reason: str


@dataclass
class FileEdit:
    """One file's rewrite: its text before and after, and the unified diff between them."""

    path: Path                 # absolute
    rel: Path                  # as the report shows it (relative to the adopted folder)
    before: str                # the file's text as read (a notebook: its JSON)
    after: str
    diff: str
    sites: list[Mapping] = field(default_factory=list)


@dataclass
class Rewrite:
    """What ``--rewrite`` will change: the edits, the diff to show first, the sites kept."""

    edits: list[FileEdit]
    skipped: list[Skipped]

    @property
    def diff(self) -> str:
        """Every file's unified diff, in file order; empty when nothing changes."""
        return "".join(e.diff for e in self.edits)

    @property
    def rewritten(self) -> list[Mapping]:
        return [m for e in self.edits for m in e.sites]

    def write(self) -> list[Path]:
        """Write each changed file atomically (readers see the old or the new file, never a
        mix). Refuses, before writing anything, when a file changed since it was read."""
        for edit in self.edits:
            try:
                now = edit.path.read_text(encoding="utf-8")
            except OSError:
                now = None
            if now != edit.before:
                raise UsageError(f"{edit.rel} changed since the rewrite was planned; run "
                                 "`mlpm adopt --rewrite` again.")
        for edit in self.edits:
            write_atomic(edit.path, edit.after.encode("utf-8"))
        return [e.path for e in self.edits]


def plan_rewrite(root: Path, mappings: Iterable[Mapping], lock: Lock | None = None) -> Rewrite:
    """The rewrite of every EXACT mapping under ``root`` (call sites' files are relative to
    it), nothing written yet. ``lock``: the project's lock (default: read from the project
    at or above ``root``), which says what kind of package each name is."""
    try:
        import libcst  # noqa: F401
    except ModuleNotFoundError:
        raise FrameworkMissing("`mlpm adopt --rewrite` edits code with libcst; install it "
                               "with `pip install 'mlpm[adopt]'`.") from None
    root = Path(root).absolute()
    if lock is None:
        lock = _project_lock(root)
    by_file: dict[Path, list[Mapping]] = {}
    skipped: list[Skipped] = []
    for m in mappings:
        if m.how != EXACT or not m.package:
            continue  # only exact matches are ever rewritten; the report lists the others
        by_file.setdefault(m.site.file, []).append(m)
    edits = []
    for rel in sorted(by_file, key=lambda p: p.as_posix()):
        edit, kept = _rewrite_file(root, rel, by_file[rel], lock)
        skipped += kept
        if edit is not None:
            edits.append(edit)
    return Rewrite(edits, skipped)


def _project_lock(root: Path) -> Lock | None:
    try:
        project = Project.find(root)
    except ProjectNotFound:
        return None
    try:
        return Lock.read(project.lock_path)
    except ManifestError:
        return None


# -- one file -------------------------------------------------------------------------------


def _rewrite_file(root: Path, rel: Path, maps: list[Mapping],
                  lock: Lock | None) -> tuple[FileEdit | None, list[Skipped]]:
    path = root / rel
    try:
        before = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Skipped(m, f"cannot read {rel.as_posix()} ({exc})") for m in maps]
    if path.suffix == ".ipynb":
        return _rewrite_notebook(path, rel, before, maps, lock)
    after, done, skipped = _rewrite_source(before, maps, lock, add_import=True,
                                           notebook=False)
    if not done:
        return None, skipped
    return FileEdit(path, rel, before, after, _diff(rel.as_posix(), before, after), done), \
        skipped


def _rewrite_notebook(path: Path, rel: Path, before: str, maps: list[Mapping],
                      lock: Lock | None) -> tuple[FileEdit | None, list[Skipped]]:
    """Rewrite the code cells' sources; every other byte of the notebook's JSON is kept
    (it is written back with the indentation and escaping it was read with)."""
    try:
        nb = json.loads(before)
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError):
        return None, [Skipped(m, f"{rel.as_posix()} is not a readable notebook") for m in maps]
    by_cell: dict[int, list[Mapping]] = {}
    skipped: list[Skipped] = []
    for m in maps:
        index = m.site.cell
        if index is None or not 0 <= index < len(cells) or \
                cells[index].get("cell_type") != "code":
            skipped.append(Skipped(m, "its notebook cell is not a code cell any more"))
            continue
        by_cell.setdefault(index, []).append(m)
    has_import = any(_imports_mlpm(_cell_text(c)) for c in cells
                     if c.get("cell_type") == "code")
    done: list[Mapping] = []
    diffs = []
    for index in sorted(by_cell):
        cell = cells[index]
        text = _cell_text(cell)
        new, ok, kept = _rewrite_source(text, by_cell[index], lock, add_import=not has_import,
                                        notebook=True)
        skipped += kept
        if not ok:
            continue
        has_import = True  # the first rewritten cell imports mlpm; later cells run after it
        done += ok
        diffs.append(_diff(f"{rel.as_posix()}[cell {index}]", text, new))
        lines = new.splitlines(keepends=True)
        cell["source"] = lines if isinstance(cell.get("source"), list) else new
    if not done:
        return None, skipped
    after = _dump_like(nb, before)
    return FileEdit(path, rel, before, after, "".join(diffs), done), skipped


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _dump_like(nb: dict, before: str) -> str:
    """The notebook as JSON, indented and escaped as ``before`` was (nbformat writes
    one-space indents, non-ASCII as is, and a final newline)."""
    indent = 1
    for line in before.splitlines()[1:2]:
        indent = len(line) - len(line.lstrip(" ")) or 1
    ascii_only = before.isascii() and "\\u" in before
    text = json.dumps(nb, indent=indent, ensure_ascii=ascii_only)
    return text + "\n" if before.endswith("\n") else text


def _diff(name: str, before: str, after: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"a/{name}", f"b/{name}"))


# -- one module's source --------------------------------------------------------------------


def _rewrite_source(text: str, maps: list[Mapping], lock: Lock | None, add_import: bool,
                    notebook: bool) -> tuple[str, list[Mapping], list[Skipped]]:
    """``text`` with the mapped calls replaced; (new text, rewritten, skipped). In a
    notebook cell, IPython's lines (magics, shell, ``obj?``) are hidden from the parser."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    hidden = _hide_magics(text) if notebook else text
    try:
        module = cst.parse_module(hidden)
    except cst.ParserSyntaxError as exc:
        return text, [], [Skipped(m, f"libcst cannot parse this code ({exc.message})")
                          for m in maps]
    wrapper = MetadataWrapper(module)
    lines = hidden.splitlines()
    todo = {(m.site.line, m.site.col, m.site.end_line, m.site.end_col): m for m in maps}
    found: dict[tuple, Mapping] = {}
    skipped: list[Skipped] = []

    class Replace(cst.CSTTransformer):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
            pos = self.get_metadata(PositionProvider, original)
            key = (pos.start.line, _byte_col(lines, pos.start.line, pos.start.column),
                   pos.end.line, _byte_col(lines, pos.end.line, pos.end.column))
            mapping = todo.get(key)
            if mapping is None:
                return updated
            found[key] = mapping
            new = _replacement(mapping, updated, lock)
            if isinstance(new, str):
                skipped.append(Skipped(mapping, new))
                return updated
            return new

    changed = wrapper.visit(Replace())
    for key, mapping in todo.items():
        if key not in found:
            skipped.append(Skipped(mapping, "the call is no longer at that place in the file; "
                                   "run `mlpm adopt` again"))
    done = [m for k, m in found.items() if all(s.mapping is not m for s in skipped)]
    if not done:
        return text, [], skipped
    if add_import and not _imports_mlpm(changed.code):
        changed = _add_import(changed)
    return (_show_magics(changed.code) if notebook else changed.code), done, skipped


def _byte_col(lines: list[str], line: int, column: int) -> int:
    """libcst counts columns in characters, ``ast`` (and so CallSite) in UTF-8 bytes."""
    if 0 < line <= len(lines):
        return len(lines[line - 1][:column].encode("utf-8"))
    return column


def _hide_magics(text: str) -> str:
    """A notebook's ``%magic``, ``!shell`` and ``obj?`` lines turned into comments, so the
    cell parses (the lines the scanner does not read either); ``_show_magics`` turns them
    back."""
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.rstrip().endswith("?") and
                                               not stripped.startswith("#")):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}{_MAGIC}{stripped}")
        else:
            out.append(line)
    return "".join(out)


def _show_magics(text: str) -> str:
    return text.replace(_MAGIC, "")


def _imports_mlpm(text: str) -> bool:
    """Whether the module already has a plain ``import mlpm`` at its top level."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        try:
            tree = ast.parse(_hide_magics(text))  # a notebook cell may hold IPython lines
        except SyntaxError:
            return False
    return any(isinstance(node, ast.Import) and
               any(a.name == "mlpm" and a.asname is None for a in node.names)
               for node in tree.body)


def _add_import(module: cst.Module) -> cst.Module:
    """``import mlpm`` after the docstring, ``from __future__`` lines and the leading block
    of imports (or first of all, when the module starts with code)."""
    import libcst as cst

    body = list(module.body)
    at = 0
    for i, stmt in enumerate(body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            break
        first = stmt.body[0]
        if isinstance(first, cst.Import | cst.ImportFrom) or (
                i == 0 and isinstance(first, cst.Expr) and
                isinstance(first.value, cst.SimpleString | cst.ConcatenatedString)):
            at = i + 1
        else:
            break
    line = cst.parse_statement("import mlpm\n")
    if at == 0 and body:  # keep the module's leading comments above the new import
        line = line.with_changes(leading_lines=body[0].leading_lines)
        body[0] = body[0].with_changes(leading_lines=())
    body.insert(at, line)
    return module.with_changes(body=body)


# -- one call -------------------------------------------------------------------------------


def _replacement(mapping: Mapping, call: cst.Call,
                 lock: Lock | None) -> cst.BaseExpression | str:
    """The expression that replaces ``call``, or the reason it stays as written."""
    name = mapping.package or ""
    pkg = lock.packages.get(name) if lock is not None else None
    if pkg is None:
        return (f"{name} is not in mlpm.lock; run `mlpm adopt --write` (or `mlpm install "
                f"{name}`) first, so the rewritten code has a locked model to load")
    kind = mapping.site.kind
    last = kind.rsplit(".", 1)[-1]
    if any(a.star for a in call.args):
        return "the call passes *args or **kwargs, which cannot be read to rewrite it safely"
    if last in ("load_state_dict_from_url", "load_url"):
        return _state_dict(name, pkg, call)
    if last == "load" and "torch" in kind:
        return _hub_load(name, pkg, call)
    if last == "load":
        return _tfhub_load(name, pkg, call, "load", ["handle"])
    if last == "KerasLayer":
        return _tfhub_load(name, pkg, call, "keras_layer", ["handle"])
    if last == "resolve" and "tensorflow_hub" in kind:
        return _tfhub_folder(name, pkg, call)
    if last == "hf_hub_download":
        return _hf_file(name, pkg, call)
    if last == "snapshot_download":
        return _hf_folder(name, pkg, call)
    if last == "from_pretrained" and str(mapping.site.args.get("class")).startswith(
            "peft.PeftModel"):  # PeftModel.from_pretrained(base_model, adapter_repo)
        return _on_path(name, pkg, call, ["model", "model_id"], 1)
    if last in ("from_pretrained", "SentenceTransformer"):
        return _on_path(name, pkg, call, ["pretrained_model_name_or_path"
                                          if last == "from_pretrained" else
                                          "model_name_or_path"], 0)
    if last == "pipeline":
        return _on_path(name, pkg, call, ["task", "model"], 1)
    if kind.startswith("torchvision.models"):
        return _torchvision(name, pkg, call, ["name"] if last == "get_model" else [])
    if kind.startswith("timm"):
        return ("timm builds the model with its own code; mlpm has no call that returns "
                "the same object")
    return f"mlpm does not know how to rewrite {kind} calls"


def _bind(call: cst.Call, params: list[str]) -> tuple[dict[str, cst.Arg], list[cst.Arg]]:
    """The call's arguments by parameter name (positional ones named by ``params``), and
    the positional arguments beyond ``params``."""
    named: dict[str, cst.Arg] = {}
    extra: list[cst.Arg] = []
    positional = [a for a in call.args if a.keyword is None]
    for i, arg in enumerate(positional):
        if i < len(params):
            named[params[i]] = arg
        else:
            extra.append(arg)
    for arg in call.args:
        if arg.keyword is not None:
            named[arg.keyword.value] = arg
    return named, extra


def _name_arg(name: str, like: cst.Arg | None) -> cst.Arg:
    """The package name as the first argument, in the slot (comma, layout, quotes) of the
    argument it replaces."""
    import libcst as cst

    quote = "'" if like is not None and isinstance(like.value, cst.SimpleString) and \
        like.value.value.lstrip("rRbBuUfF").startswith("'") else '"'
    value = cst.SimpleString(f"{quote}{name}{quote}")
    if like is None:
        return cst.Arg(value)
    return cst.Arg(value, comma=like.comma)


def _mlpm(attr: str, args: list[cst.Arg], like: cst.Call | None = None) -> cst.Call:
    import libcst as cst

    func = cst.Attribute(value=cst.Name("mlpm"), attr=cst.Name(attr))
    args = _tidy_commas(args, like)
    if like is None:
        return cst.Call(func=func, args=args)
    return like.with_changes(func=func, args=args)


def _tidy_commas(args: list[cst.Arg], like: cst.Call | None) -> list[cst.Arg]:
    """No trailing comma where the original call had none (a dropped last argument would
    otherwise leave one behind)."""
    import libcst as cst

    if not args or like is None or not like.args:
        return args
    had_trailing = not isinstance(like.args[-1].comma, cst.MaybeSentinel)
    comma = args[-1].comma
    after = comma.whitespace_after if isinstance(comma, cst.Comma) else None
    commented = isinstance(after, cst.ParenthesizedWhitespace) and (
        after.first_line.comment is not None or any(e.comment for e in after.empty_lines))
    if not had_trailing and isinstance(comma, cst.Comma) and not commented:  # a comment stays
        args = [*args[:-1], args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
    return args


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    import libcst as cst

    return cst.Arg(value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")))


def _is_literal(arg: cst.Arg | None, *values: object) -> bool:
    """Whether the argument is written as one of ``values`` (True/False/None or a string)."""
    import libcst as cst

    if arg is None:
        return False
    node = arg.value
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value] in values
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value in values
    return False


def _formats(pkg: LockedPackage) -> set[str]:
    return {a.format for a in pkg.artifacts}


def _hub_load(name: str, pkg: LockedPackage, call: cst.Call) -> cst.BaseExpression | str:
    import libcst as cst

    if "torch-hub" not in _formats(pkg):
        return (f"{name} is not a PyTorch Hub package, so mlpm.load would not run the same "
                "entrypoint")
    named, extra = _bind(call, ["repo_or_dir", "model"])
    if extra:
        return ("the call passes positional arguments to the entrypoint; mlpm.load passes "
                "keyword arguments only")
    clash = [k for k in named if k in _LOAD_PARAMS]
    if clash:
        return f"the entrypoint keyword {clash[0]}= would clash with mlpm.load's own"
    if "model" not in named or "repo_or_dir" not in named:
        return "the call names no hub repo or entrypoint"
    from mlpm.registry.records import Interface

    default = Interface.from_json(pkg.interface).default_entrypoint or \
        pkg.upstream.get("entrypoint")
    args = [_name_arg(name, named.get("repo_or_dir"))]
    model = named["model"].value
    if not (isinstance(model, cst.SimpleString) and model.evaluated_value == default):
        args.append(_kw("entrypoint", model))
    first = {id(named["repo_or_dir"]), id(named["model"])}
    # what the package's upstream passes already (mlpm.load passes it): not repeated
    fixed = (pkg.upstream.get("kwargs") or {}) if isinstance(model, cst.SimpleString) and \
        model.evaluated_value == pkg.upstream.get("entrypoint") else {}
    for arg in call.args:
        if id(arg) in first or arg.keyword is None:
            continue
        key = arg.keyword.value
        if key == "trust_repo":
            if _is_literal(arg, True):
                args.append(arg.with_changes(keyword=cst.Name("trust")))
            continue
        if key not in _HUB_OPTIONS and not (key in fixed and _same_value(arg.value,
                                                                         fixed[key])):
            args.append(arg)
    return _mlpm("load", args, call)


def _same_value(node: cst.BaseExpression, value: object) -> bool:
    """Whether the argument as written is the upstream's recorded value: a literal equal
    to it, or a weights enum member written either way (``"IMAGENET1K_V2"``,
    ``ResNet50_Weights.IMAGENET1K_V2``, ``models.ResNet50_Weights.IMAGENET1K_V2``)."""
    import libcst as cst

    if isinstance(value, bool):
        return isinstance(node, cst.Name) and node.value == str(value)
    if isinstance(value, int | float):
        return isinstance(node, cst.Integer | cst.Float) and node.evaluated_value == value
    if not isinstance(value, str):
        return False
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
    elif isinstance(node, cst.Attribute | cst.Name):
        text = cst.Module([]).code_for_node(node)
    else:
        return False
    if not isinstance(text, str) or not text:
        return False
    return text == value or value.endswith("." + text) or text.endswith("." + value)


def _state_dict(name: str, pkg: LockedPackage, call: cst.Call) -> cst.BaseExpression | str:
    formats = _formats(pkg)
    if "state-dict" not in formats:
        what = "a PyTorch Hub package, whose mlpm.load gives the model" if \
            "torch-hub" in formats else f"not a state-dict package ({', '.join(sorted(formats))})"
        return f"{name} is {what}, not the state dict this call returns"
    named, extra = _bind(call, ["url", "model_dir", "map_location", "progress", "check_hash",
                                "file_name", "weights_only"])
    if extra:
        return "the call has more positional arguments than load_state_dict_from_url takes"
    where = named.get("map_location")
    if where is not None and not _is_literal(where, None, "cpu"):
        return ("map_location= moves the tensors; mlpm.load gives a state dict on the CPU "
                "(move it after loading)")
    from mlpm.artifacts import NATIVE

    native = next((f for f in NATIVE.get(pkg.framework, ()) if f in formats), None)
    args = [_name_arg(name, named["url"])]
    if native != "state-dict":
        import libcst as cst

        args.append(_kw("format", cst.SimpleString('"state-dict"')))
    return _mlpm("load", args, call)


def _tfhub_load(name: str, pkg: LockedPackage, call: cst.Call, attr: str,
                params: list[str]) -> cst.BaseExpression | str:
    if "savedmodel" not in _formats(pkg):
        return f"{name} is not a SavedModel package"
    named, extra = _bind(call, params)
    if extra:
        return "the call passes positional arguments after the handle; write them as keywords"
    clash = [k for k in named if k in _LOAD_PARAMS]
    if clash:
        return f"the keyword {clash[0]}= would clash with mlpm.{attr}'s own"
    if "handle" not in named:
        return "the call names no handle"
    args = [_name_arg(name, named["handle"])]
    args += [a for a in call.args if a.keyword is not None]
    return _mlpm(attr, args, call)


def _tfhub_folder(name: str, pkg: LockedPackage, call: cst.Call) -> cst.BaseExpression | str:
    """``tensorflow_hub.resolve`` gives the SavedModel's folder: so does ``mlpm.path``."""
    import libcst as cst

    if "savedmodel" not in _formats(pkg):
        return f"{name} is not a SavedModel package"
    named, extra = _bind(call, ["handle"])
    if extra or set(named) != {"handle"}:
        return "the call passes arguments mlpm.path has no counterpart for"
    return cst.Call(func=cst.Name("str"), args=[cst.Arg(_mlpm("path", [_name_arg(name, None)]))])


def _torchvision(name: str, pkg: LockedPackage, call: cst.Call,
                 params: list[str]) -> cst.BaseExpression | str:
    if "torch-hub" not in _formats(pkg):
        return f"{name} is not a PyTorch Hub package"
    named, extra = _bind(call, params)
    if extra:
        return "the call passes positional arguments; mlpm.load passes keyword arguments only"
    clash = [k for k in named if k in _LOAD_PARAMS]
    if clash:
        return f"the keyword {clash[0]}= would clash with mlpm.load's own"
    # the weights are what the package pins (its upstream kwargs); the rest passes through
    args = [_name_arg(name, None)] + [a for a in call.args if a.keyword is not None and
                                      a.keyword.value not in ("weights", "pretrained", *params)]
    return _mlpm("load", args, call)


def _is_snapshot(pkg: LockedPackage) -> bool:
    return pkg.registry.startswith("hf:")


def _hf_checks(name: str, pkg: LockedPackage, named: dict[str, cst.Arg]) -> str | None:
    if not _is_snapshot(pkg):
        return f"{name} is not a Hugging Face package, so it has no repository folder"
    if "local_dir" in named:
        return "local_dir= copies the files to a folder of the application's own"
    kind = named.get("repo_type")
    if kind is not None and not _is_literal(kind, None, "model"):
        return "only model repositories become mlpm packages"
    return None


def _hf_file(name: str, pkg: LockedPackage, call: cst.Call) -> cst.BaseExpression | str:
    import libcst as cst

    named, extra = _bind(call, ["repo_id", "filename"])
    if extra:
        return "the call has more positional arguments than hf_hub_download takes"
    problem = _hf_checks(name, pkg, named)
    if problem:
        return problem
    if "filename" not in named:
        return "the call names no file"
    parts = [a.value for a in (named.get("subfolder"), named["filename"]) if a is not None]
    literal = [p.evaluated_value for p in parts if isinstance(p, cst.SimpleString)]
    if len(literal) == len(parts):
        rel = "/".join(str(p) for p in literal if p)
        if rel not in {a.path for a in pkg.artifacts}:
            return (f"{rel} is not among the files mlpm.lock pins for {name} (its include / "
                    "exclude patterns leave it out)")
    unknown = [k for k in named if k not in ("repo_id", "filename", "subfolder",
                                             *_DOWNLOAD_ONLY)]
    if unknown:
        return f"the keyword {unknown[0]}= has no counterpart in mlpm.path"
    expr: cst.BaseExpression = _mlpm("path", [_name_arg(name, None)])
    for part in parts:
        expr = cst.BinaryOperation(left=expr, operator=cst.Divide(), right=part)
    return cst.Call(func=cst.Name("str"), args=[cst.Arg(expr)])


def _hf_folder(name: str, pkg: LockedPackage, call: cst.Call) -> cst.BaseExpression | str:
    import libcst as cst

    named, extra = _bind(call, ["repo_id"])
    if extra:
        return "the call has more positional arguments than snapshot_download takes"
    problem = _hf_checks(name, pkg, named)
    if problem:
        return problem
    unknown = [k for k in named if k not in ("repo_id", *_DOWNLOAD_ONLY)]
    if unknown:
        return f"the keyword {unknown[0]}= has no counterpart in mlpm.path"
    return cst.Call(func=cst.Name("str"), args=[cst.Arg(_mlpm("path", [_name_arg(name, None)]))])


def _on_path(name: str, pkg: LockedPackage, call: cst.Call, params: list[str],
             which: int) -> cst.BaseExpression | str:
    """The same call, with the repository id (parameter ``params[which]``) replaced by the
    locked snapshot's folder and ``revision=`` dropped (the lock pins the revision)."""
    import libcst as cst

    if not _is_snapshot(pkg):
        return f"{name} is not a Hugging Face package, so it has no repository folder"
    named, _ = _bind(call, params)
    target = named.get(params[which])
    if target is None:
        return "the call names no model repository"
    folder = cst.Call(func=cst.Name("str"), args=[cst.Arg(_mlpm("path", [_name_arg(name,
                                                                                   None)]))])
    args = []
    for arg in call.args:
        if arg is target:
            args.append(arg.with_changes(value=folder))
        elif arg.keyword is None or arg.keyword.value != "revision":
            args.append(arg)
    return call.with_changes(args=_tidy_commas(args, call))
