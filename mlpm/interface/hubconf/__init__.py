"""PyTorch Hub entrypoints, read from hubconf.py with ``ast``: nothing is imported or run.

``torch.hub.list`` imports hubconf.py, which runs its module level and its imports, then
lists ``[f for f in dir(m) if callable(getattr(m, f)) and not f.startswith("_")]``.
:func:`discover` answers the same question from the source text alone, so that an
untrusted repository can be described before anyone trusts it. Re-exports
(``from torchvision.models.resnet import resnet18``) are followed into the repository's
own files to find the real ``def``; what cannot be known statically (a factory call,
``globals()[name] = ...``, a star import from outside the repository) is still listed
when it may be an entrypoint, marked ``"known": False`` with a note, and never guessed.

Who does what: this module parses hubconf.py and reports its entrypoints and
``dependencies``; ``namespace`` reads one file's module level into bindings and evaluates
expressions; ``modules`` finds and follows the repository's own modules; ``signatures``
reads parameters, decorators, ``functools.partial`` and docstrings; ``targets`` holds the
two records they pass around; ``syntax`` the small helpers over ``ast`` nodes.

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
from pathlib import Path

from mlpm.errors import HubconfNotFound as HubconfNotFound
from mlpm.errors import InvalidHubconf as InvalidHubconf
from mlpm.interface.hubconf.modules import (
    ModuleResolver,
    RepoModules,
    Repository,
    sys_path_additions,
)
from mlpm.interface.hubconf.namespace import MAX_HOPS, Namespace
from mlpm.interface.hubconf.signatures import (
    KEYWORD_ONLY,
    POSITIONAL_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
)
from mlpm.interface.hubconf.syntax import const_strs
from mlpm.interface.hubconf.targets import Binding, Target

__all__ = [
    "KEYWORD_ONLY", "MAX_HOPS", "POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD", "VAR_KEYWORD",
    "VAR_POSITIONAL", "HubconfNotFound", "InvalidHubconf", "ModuleResolver", "RepoModules",
    "discover",
]


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
        extra = sys_path_additions(tree, path, path.parent)
        resolve_module = RepoModules(path.parent, extra)
    ctx = Repository(resolve_module)
    space = Namespace(ctx, tree, module=None, is_package=False, label=filename)
    return _report(space, filename)


# ---------------------------------------------------------------- the report


def _report(space: Namespace, filename: str) -> dict:
    notes = list(space.notes)
    restrict = space.all_names if space.all_names is not None and not space.all_dynamic else None
    if space.all_dynamic:
        notes.append(f"{space.all_dynamic}: every public callable is listed instead")
    entries: list[dict] = []
    left_out: list[str] = []
    hidden: list[str] = []
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


def _entry(space: Namespace, name: str, binding: Binding, target: Target) -> dict:
    source = {"def": "def", "class": "def", "import": "import"}.get(binding.how, "assign")
    alias = binding.node if isinstance(binding.node, ast.Name) else None
    if binding.how == "assign" and alias is not None and binding.via is None:
        source = "alias"
    known = target.kind in ("function", "class") and target.params is not None
    notes = ["class"] if target.kind == "class" else []
    notes += target.notes
    if binding.how == "import":
        if binding.via:
            notes.append(f"imported by `from {binding.modules[0]} import *`")
        if target.where and target.kind in ("function", "class"):
            notes.append(f"defined in {target.where}")
    elif source == "alias" and alias is not None and target.kind in ("function", "class"):
        notes.append(f"another name for {ast.unparse(alias)}")
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


def _dependencies(space: Namespace) -> tuple[list[str] | None, str | None]:
    binding = space.bindings.get("dependencies")
    if binding is None:
        return None, None
    value = const_strs(binding.node) if binding.how == "assign" else None
    if value is None:
        return None, (f"dependencies (line {binding.line}) is not a literal list of strings: "
                      "it cannot be read statically")
    for line, change in space.deps_changes:
        more = const_strs(change) if change is not None else None
        if more is None:
            return None, f"dependencies is changed at run time (line {line})"
        value += more
    if binding.conditions:
        return value, "dependencies is set conditionally, inside " + binding.conditions[-1]
    return value, None


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
