"""How two versions of a model package differ, and which SemVer level the difference needs.

docs/reference/semver.md: the registry, not the publisher, decides what a version step may
carry. :func:`diff` compares two interface records (plus weights digests and formats)
and returns one :class:`InterfaceChange` per difference, each with its level and one
human sentence; :func:`required_level` is the largest of them, :func:`bump_level` what
a version step allows, and :func:`smallest_allowed` the first version that would be
accepted. :func:`fingerprint` hashes only the contract, so doc edits do not change it.

    >>> old = {"signatures": [{"name": "main",
    ...     "inputs": [{"name": "x", "dtype": "float32", "shape": ["batch", 224, 224, 3]}],
    ...     "outputs": [{"name": "logits", "dtype": "float32", "shape": [None, 1000]}]}]}
    >>> new = {"signatures": [{"name": "main",
    ...     "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 224, 224, 3]}],
    ...     "outputs": [{"name": "probs", "dtype": "float32", "shape": [None, 1000]}]}]}
    >>> changes = diff(old, new, old_weights="sha256:aa", new_weights="sha256:bb")
    >>> [(c.level, c.text) for c in changes]  # doctest: +NORMALIZE_WHITESPACE
    [('major', "signature 'main': output 'logits' renamed to 'probs'"),
     ('minor', 'new weights (sha256:aa -> sha256:bb)')]
    >>> required_level(changes), bump_level("1.2.1", "1.3.0")
    ('major', 'minor')
    >>> smallest_allowed("1.2.1", "major", existing=["2.0.0"])
    '3.0.0'

Rules beyond the list in docs/reference/semver.md, all chosen so that a step consumers' ranges would
take never breaks them:

- Renames are a removed name and an added name that match in everything else (same
  parameters; same dtype and shape; same inputs and outputs) and match only each other.
- Signature inputs and outputs are compared by name, and the order of the names both
  versions share is also compared: ONNX and TorchScript pass them by position.
- Parameters: ``*args`` / ``**kwargs`` are matched by kind, not name; positional-only
  parameters at the same position may be renamed freely. A parameter losing its default
  or moving to another position is MAJOR; a keyword-only or positional-only parameter
  becoming positional-or-keyword is MINOR.
- Variance: inputs and outputs get opposite levels for the same shape edit. An input
  that accepts more (fixed dim -> variable, rank -> unknown) or an output that promises
  more (variable dim -> fixed, rank -> known) is MINOR; the opposite is MAJOR. A renamed
  symbolic dimension is no change. An optional input (``optional`` or ``default``)
  added is MINOR. See "Inputs and outputs: variance" in docs/reference/semver.md.
- A preprocessing contract, label space or default entrypoint declared for the first
  time is MINOR (nothing was promised before); one no longer declared is MAJOR.
- New code with the same weights and interface (an ONNX graph with another operator,
  edited hub Python, new TorchScript code) is MINOR, like new weights: the outputs change.
- An unknown side (interface record, weights or code digest None) is compared with
  nothing; only a known side becoming unknown is reported, as MINOR ("could not be
  checked"). Records published before code digests existed have none.
"""

from __future__ import annotations

from collections.abc import Iterable

from mlpm import semver
from mlpm.errors import InvalidVersionStep as InvalidVersionStep  # re-exported
from mlpm.registry.records import Interface

LEVELS = ("patch", "minor", "major")  # ascending: required_level takes the largest
_RANK = {level: i for i, level in enumerate(LEVELS)}

_PO, _POK, _VARARGS, _KO, _VARKW = (
    "positional_only", "positional_or_keyword", "var_positional", "keyword_only", "var_keyword")
_POSITIONAL = (_PO, _POK)
_BY_KEYWORD = (_POK, _KO)


class InterfaceChange:
    """One difference between two versions: its SemVer ``level``, a ``kind`` tag, a sentence.

    ``subject`` is where the change is (``"signature 'main'"``, ``"entrypoint 'resnet50'"``)
    or None for package-wide changes, and ``detail`` the sentence without it; ``text``
    joins the two.

        >>> c = InterfaceChange("major", "output-removed", "output 'y' removed", "signature 'main'")
        >>> c.text, c.as_dict()["level"]
        ("signature 'main': output 'y' removed", 'major')
    """

    __slots__ = ("level", "kind", "detail", "subject")

    def __init__(self, level: str, kind: str, detail: str, subject: str | None = None) -> None:
        if level not in _RANK:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
        self.level = level
        self.kind = kind
        self.detail = detail
        self.subject = subject

    @property
    def text(self) -> str:
        return f"{self.subject}: {self.detail}" if self.subject else self.detail

    def as_dict(self) -> dict:
        """The change as JSON-ready data, for ``--json`` output."""
        return {"level": self.level, "kind": self.kind, "text": self.text}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InterfaceChange):
            return NotImplemented
        return (self.level, self.kind, self.text) == (other.level, other.kind, other.text)

    def __hash__(self) -> int:
        return hash((self.level, self.kind, self.text))

    def __repr__(self) -> str:
        return f"InterfaceChange({self.level!r}, {self.kind!r}, {self.text!r})"

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.text}"


# ---------------------------------------------------------------- diff


def diff(
    old_iface: Interface | dict | None,
    new_iface: Interface | dict | None,
    *,
    old_weights: str | None = None,
    new_weights: str | None = None,
    old_formats: Iterable[str] = (),
    new_formats: Iterable[str] = (),
    old_code: str | None = None,
    new_code: str | None = None,
    old_digests: dict[str, dict[str, str]] | None = None,
    new_digests: dict[str, dict[str, str]] | None = None,
) -> list[InterfaceChange]:
    """Every difference from the old version to the new one that a consumer could notice.

    Changes come in a stable order: entrypoints, default entrypoint, signatures,
    preprocessing, labels, formats, weights, code. An empty list means PATCH is enough.

    Each format is compared with the same format in the old version: its own signatures
    (``formats`` in the interface record) and, given ``old_digests`` / ``new_digests``
    (format -> {"weights": ..., "code": ...}), its own weights and code, so adding formats
    is not new weights. A change that only some formats have names them.

        >>> old = {"entrypoints": [{"name": "resnet50", "parameters": []}]}
        >>> new = {"entrypoints": [{"name": "resnet50", "parameters": [
        ...     {"name": "weights", "kind": "keyword_only", "default": None}]}]}
        >>> [c.text for c in diff(old, new, old_formats=["onnx"], new_formats=["onnx", "tflite"])]
        ["entrypoint 'resnet50': required parameter 'weights' added", 'format added: tflite']
        >>> diff({"notes": "v1"}, {"notes": "v2"}, old_weights="sha256:aa", new_weights="sha256:aa")
        []
    """
    changes: list[InterfaceChange] = []
    old_formats, new_formats = list(old_formats or ()), list(new_formats or ())
    if old_iface is not None and new_iface is not None:
        old, new = Interface.from_json(old_iface), Interface.from_json(new_iface)
        _diff_entrypoints(old, new, changes)
        _diff_format_signatures(old, new, old_formats, new_formats, changes)
        _diff_text(_contract_text(old.preprocessing), _contract_text(new.preprocessing),
                   "preprocessing", "preprocessing contract", changes)
        _diff_text(_contract_text(old.labels), _contract_text(new.labels), "labels",
                   "label space", changes)
    elif old_iface is not None:
        # A published contract that can no longer be seen cannot be vouched for.
        changes.append(InterfaceChange(
            "minor", "interface-unknown",
            "the new version has no interface record, so its interface could not be checked"))
    _diff_formats(old_formats, new_formats, changes)
    shared = [f for f in new_formats if f in old_formats]
    if old_digests is None or new_digests is None:
        old_digests = new_digests = None  # compared as whole packages
    _diff_weights(_per_format(old_digests, "weights", shared, old_weights),
                  _per_format(new_digests, "weights", shared, new_weights), changes)
    _diff_code(_per_format(old_digests, "code", shared, old_code),
               _per_format(new_digests, "code", shared, new_code), changes)
    return changes


def _per_format(digests: dict[str, dict[str, str]] | None, what: str, shared: list[str],
                whole: str | None) -> dict[str, str | None]:
    """Format -> digest for the formats both versions have, or {"": the package digest}
    when either side has no digests per format."""
    if digests is None or not shared:
        return {"": whole}
    return {f: (digests.get(f) or {}).get(what) for f in shared}


def required_level(changes: Iterable[InterfaceChange]) -> str:
    """The version level the changes need: the largest of theirs, "patch" when none.

        >>> required_level([]), required_level([InterfaceChange("minor", "format-added", "x")])
        ('patch', 'minor')
    """
    return LEVELS[max((_RANK[c.level] for c in changes), default=0)]


def summarize(changes: Iterable[InterfaceChange], limit: int = 3) -> str:
    """One line for a table cell: the most severe changes first, then how many more.

    The place (signature or entrypoint) is named only when the shown changes are in
    more than one of them.

        >>> summarize([
        ...     InterfaceChange("minor", "output-added", "output 'z' added", "signature 'main'"),
        ...     InterfaceChange("major", "output-removed", "output 'logits' removed",
        ...                     "signature 'main'")])
        "output 'logits' removed; output 'z' added"
        >>> summarize([])
        'no change'
    """
    ordered = sorted(changes, key=lambda c: -_RANK[c.level])  # stable: keeps diff's order
    if not ordered:
        return "no change"
    shown = ordered[:max(limit, 1)]
    places = {c.subject for c in shown if c.subject}  # package-wide changes need no place
    line = "; ".join(c.detail if len(places) == 1 else c.text for c in shown)
    if len(ordered) > len(shown):
        line += f"; and {len(ordered) - len(shown)} more"
    return line


# ---------------------------------------------------------------- entrypoints


def _by_name(items: object) -> dict[str, dict]:
    # Records come from JSON a publisher wrote; anything that is not a named table is skipped.
    found: dict[str, dict] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found.setdefault(item["name"], item)
    return found


def _pairs(removed: list[str], added: list[str], same) -> list[tuple[str, str]]:
    """Renames: a removed and an added name that match each other and nothing else."""
    matches = {r: [a for a in added if same(r, a)] for r in removed}
    pairs = []
    for r, found in matches.items():
        if len(found) == 1 and sum(found[0] in other for other in matches.values()) == 1:
            pairs.append((r, found[0]))
    return pairs


def _known(entry: dict) -> bool:
    return entry.get("known", True) is not False


def _param_contract(entry: dict) -> list[tuple]:
    return [(p.get("name"), p.get("kind", _POK), p.get("default") is not None,
             _default_text(p.get("default")))
            for p in entry.get("parameters") or () if isinstance(p, dict)]


def _diff_entrypoints(old: Interface, new: Interface, out: list[InterfaceChange]) -> None:
    before, after = _by_name(old.entrypoints), _by_name(new.entrypoints)
    removed = [n for n in before if n not in after]
    added = [n for n in after if n not in before]

    def same(r: str, a: str) -> bool:
        b, n = before[r], after[a]
        # Two unknown parameter lists look alike without being alike.
        return _known(b) and _known(n) and _param_contract(b) == _param_contract(n)

    renamed = _report_names("entrypoint", removed, added, dict(_pairs(removed, added, same)),
                            out)
    for name, entry in before.items():
        if name in after:
            _diff_parameters(entry, after[name], f"entrypoint '{name}'", out)

    old_default, new_default = old.default_entrypoint, new.default_entrypoint
    if old_default == new_default or (old_default is not None
                                      and renamed.get(old_default) == new_default):
        return  # a renamed default still answers calls that name no entrypoint
    if old_default is None:
        out.append(InterfaceChange("minor", "default-entrypoint-added",
                                   f"default entrypoint set to '{new_default}'"))
    elif new_default is None:
        out.append(InterfaceChange(
            "major", "default-entrypoint-removed",
            f"default entrypoint '{old_default}' no longer declared (calls naming none break)"))
    else:
        out.append(InterfaceChange(
            "major", "default-entrypoint-changed",
            f"default entrypoint changed from '{old_default}' to '{new_default}'"))


def _param_key(p: dict) -> str:
    # *args and **kwargs are reached by position or spare keywords, never by their name.
    kind = p.get("kind", _POK)
    return {_VARARGS: "*", _VARKW: "**"}.get(kind, str(p.get("name")))


def _param_label(p: dict) -> str:
    name = p.get("name")
    kind = p.get("kind", _POK)
    if kind == _VARARGS:
        return f"*{name}"
    if kind == _VARKW:
        return f"**{name}"
    return f"parameter '{name}'"


def _diff_parameters(old: dict, new: dict, where: str, out: list[InterfaceChange]) -> None:
    if not (_known(old) and _known(new)):
        if _param_contract(old) != _param_contract(new) or _known(old) != _known(new):
            out.append(InterfaceChange(
                "minor", "entrypoint-unchecked",
                "parameters could not be read statically, so this change could not be checked",
                where))
        return
    old_params = [p for p in old.get("parameters") or () if isinstance(p, dict)]
    new_params = [p for p in new.get("parameters") or () if isinstance(p, dict)]
    new_by_key = {_param_key(p): p for p in new_params}
    old_keys = {_param_key(p) for p in old_params}
    partner: dict[int, dict] = {}
    for i, p in enumerate(old_params):
        key = _param_key(p)
        if key in new_by_key:
            partner[i] = new_by_key[key]
        elif p.get("kind") == _PO and i < len(new_params) and new_params[i].get("kind") == _PO \
                and _param_key(new_params[i]) not in old_keys:
            partner[i] = new_params[i]  # positional-only: callers never use the name

    for i, p in enumerate(old_params):
        q = partner.get(i)
        label = _param_label(p)
        if q is None:
            out.append(InterfaceChange("major", "parameter-removed", f"{label} removed", where))
            continue
        _diff_parameter(p, q, label, where, out)

    matched = {id(q) for q in partner.values()}
    for q in new_params:
        if id(q) in matched:
            continue
        kind, label = q.get("kind", _POK), _param_label(q)
        if kind in (_VARARGS, _VARKW):
            out.append(InterfaceChange("minor", "parameter-added", f"{label} added", where))
        elif q.get("default") is None:
            out.append(InterfaceChange("major", "parameter-required-added",
                                       f"required {label} added", where))
        else:
            out.append(InterfaceChange("minor", "parameter-added",
                                       f"optional {label} added (default {q['default']})", where))

    # A positional call binds by index: every old positional parameter must keep its place.
    before = [p for p in old_params if p.get("kind", _POK) in _POSITIONAL]
    after = [q for q in new_params if q.get("kind", _POK) in _POSITIONAL]
    new_place = {id(q): j for j, q in enumerate(after)}
    old_place = {id(p): i for i, p in enumerate(before)}
    moved = any(
        id(p) in old_place and id(q) in new_place and old_place[id(p)] != new_place[id(q)]
        for i, p in enumerate(old_params) if (q := partner.get(i)) is not None)
    if moved:
        out.append(InterfaceChange(
            "major", "parameters-reordered",
            f"positional parameters ({', '.join(str(p.get('name')) for p in before)}) -> "
            f"({', '.join(str(q.get('name')) for q in after)})", where))


def _diff_parameter(p: dict, q: dict, label: str, where: str, out: list[InterfaceChange]) -> None:
    was, now = p.get("kind", _POK), q.get("kind", _POK)
    if was != now:
        if was in _POSITIONAL and now not in _POSITIONAL:
            out.append(InterfaceChange("major", "parameter-kind-changed",
                                       f"{label} is now {now.replace('_', '-')}, "
                                       "so positional calls break", where))
        elif was in _BY_KEYWORD and now not in _BY_KEYWORD:
            out.append(InterfaceChange("major", "parameter-kind-changed",
                                       f"{label} is now {now.replace('_', '-')}, "
                                       "so keyword calls break", where))
        else:  # keyword-only or positional-only became positional-or-keyword
            out.append(InterfaceChange("minor", "parameter-kind-changed",
                                       f"{label} is now {now.replace('_', '-')}", where))
    old_default, new_default = p.get("default"), q.get("default")
    if was in (_VARARGS, _VARKW):
        return
    if old_default is not None and new_default is None:
        out.append(InterfaceChange("major", "parameter-now-required",
                                   f"{label} lost its default {old_default}, "
                                   "so calls that omit it break", where))
    elif old_default is None and new_default is not None:
        out.append(InterfaceChange("minor", "parameter-now-optional",
                                   f"{label} now has a default ({new_default})", where))
    elif old_default is not None and _default_text(old_default) != _default_text(new_default):
        out.append(InterfaceChange("minor", "default-changed",
                                   f"{label} default {old_default} -> {new_default}", where))


def _default_text(text: object) -> str | None:
    """A default's source text, spelled one way (``'a'`` and ``"a"`` are the same default)."""
    if text is None:
        return None
    text = str(text)
    import ast  # only when a record has defaults; keeps import mlpm fast

    try:
        return ast.unparse(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, ValueError, RecursionError):
        return " ".join(text.split())


# ---------------------------------------------------------------- signatures


def _shape_contract(shape: object) -> list | None:
    # Symbolic names ("batch", "N") only label a variable dimension.
    if not isinstance(shape, list):
        return None
    return [d if isinstance(d, int) and not isinstance(d, bool) else None for d in shape]


def _tensor_contract(t: dict) -> tuple:
    return (t.get("dtype"), _shape_contract(t.get("shape")))


def _show_shape(shape: object) -> str:
    contract = _shape_contract(shape)
    if contract is None:
        return "unknown rank"
    # Every variable dim reads None, so that "batch" vs "N" never looks like a change.
    return "[" + ", ".join("None" if d is None else str(d) for d in contract) + "]"


def _signatures_by_format(iface: Interface, formats: list[str],
                          shared: list[str]) -> dict[str, list] | None:
    """Each shared format's signatures: its own, else the package's; None for a record of
    several formats published before formats had their own (only the package's are known)."""
    if isinstance(iface.formats, dict) or len(set(formats)) <= 1:
        return {f: iface.signatures_for(f) for f in shared}
    return None


def _diff_format_signatures(old: Interface, new: Interface, old_formats: list[str],
                            new_formats: list[str], out: list[InterfaceChange]) -> None:
    shared = [f for f in new_formats if f in old_formats]
    before = _signatures_by_format(old, old_formats, shared)
    after = _signatures_by_format(new, new_formats, shared)
    if not shared or before is None or after is None:
        _diff_signatures(old.signatures, new.signatures, out)
        return
    found: dict[InterfaceChange, list[str]] = {}  # each change, with the formats that have it
    for fmt in shared:
        changes: list[InterfaceChange] = []
        _diff_signatures(before[fmt], after[fmt], changes)
        for change in changes:
            found.setdefault(change, []).append(fmt)
    for change, formats in found.items():
        if len(formats) < len(shared):  # only these formats changed: say which
            label = ", ".join(formats)
            change = InterfaceChange(change.level, change.kind, change.detail,
                                     f"{label} {change.subject}" if change.subject else label)
        out.append(change)


def _diff_signatures(old: list | None, new: list | None, out: list[InterfaceChange]) -> None:
    before, after = _by_name(old), _by_name(new)
    removed = [n for n in before if n not in after]
    added = [n for n in after if n not in before]

    def io(sig: dict, side: str) -> list[tuple]:
        return [(name, *_tensor_contract(t)) for name, t in _by_name(sig.get(side)).items()]

    def same(r: str, a: str) -> bool:
        return all(io(before[r], side) == io(after[a], side) for side in ("inputs", "outputs"))

    _report_names("signature", removed, added, dict(_pairs(removed, added, same)), out)
    for name, sig in before.items():
        if name in after:
            _diff_signature(sig, after[name], f"signature '{name}'", out)


def _report_names(what: str, removed: list[str], added: list[str], renamed: dict[str, str],
                  out: list[InterfaceChange]) -> dict[str, str]:
    """Renamed and removed names are MAJOR, added ones MINOR; returns ``renamed``."""
    for name in removed:
        if name in renamed:
            out.append(InterfaceChange("major", f"{what}-renamed",
                                       f"{what} '{name}' renamed to '{renamed[name]}'"))
        else:
            out.append(InterfaceChange("major", f"{what}-removed", f"{what} '{name}' removed"))
    for name in added:
        if name not in renamed.values():
            out.append(InterfaceChange("minor", f"{what}-added", f"{what} '{name}' added"))
    return renamed


def _diff_signature(old: dict, new: dict, where: str, out: list[InterfaceChange]) -> None:
    tensor_changes: list[InterfaceChange] = []
    for side, word in (("inputs", "input"), ("outputs", "output")):
        before, after = _by_name(old.get(side)), _by_name(new.get(side))
        removed = [n for n in before if n not in after]
        added = [n for n in after if n not in before]
        renamed = dict(_pairs(removed, added, lambda r, a, b=before, n=after:
                              _tensor_contract(b[r]) == _tensor_contract(n[a])))
        for name in removed:
            if name in renamed:
                out.append(InterfaceChange("major", f"{word}-renamed",
                                           f"{word} '{name}' renamed to '{renamed[name]}'", where))
            else:
                out.append(InterfaceChange("major", f"{word}-removed",
                                           f"{word} '{name}' removed", where))
        for name in added:
            if name in renamed.values():
                continue
            if word == "input" and _optional(after[name]):
                # Existing callers do not pass it, and it has a default.
                out.append(InterfaceChange("minor", "optional-input-added",
                                           f"optional input '{name}' added", where))
            elif word == "input":
                # A caller of the old version does not pass it.
                out.append(InterfaceChange("major", "input-added",
                                           f"input '{name}' added (existing callers do not "
                                           "pass it)", where))
            else:
                out.append(InterfaceChange("minor", "output-added",
                                           f"output '{name}' added", where))
        shared = [n for n in before if n in after]
        if shared != [n for n in after if n in before]:
            # ONNX and TorchScript take inputs and return outputs by position.
            out.append(InterfaceChange(
                "major", f"{side}-reordered",
                f"{side} reordered ({', '.join(shared)}) -> "
                f"({', '.join(n for n in after if n in before)})", where))
        for name in shared:
            tensor_changes += _diff_tensor(before[name], after[name], f"{word} '{name}'", where,
                                           output=word == "output")
    out += tensor_changes  # renames and removals first: they say more than a shape does


def _optional(t: dict) -> bool:
    """An input that callers may leave out: declared ``optional`` or with a ``default``."""
    return t.get("optional") is True or t.get("default") is not None


# Variance: a caller passes inputs and receives outputs. An input that accepts more, or
# an output that promises more, breaks nobody; the opposite can. Levels per direction,
# as (input, output); docs/reference/semver.md "Inputs and outputs: variance".
_VARIANCE = {
    "dimension-changed": ("major", "major"),  # a fixed size became another fixed size
    "dimension-fixed": ("major", "minor"),  # variable -> fixed
    "dimension-relaxed": ("minor", "major"),  # fixed -> variable
    "rank-changed": ("major", "major"),  # known rank -> another known rank
    "rank-unknown": ("minor", "major"),  # known rank -> unknown rank
    "rank-known": ("major", "minor"),  # unknown rank -> known rank
    "input-now-optional": ("minor", "minor"),
    "input-now-required": ("major", "major"),
}


def _variance(kind: str, output: bool) -> str:
    return _VARIANCE[kind][1 if output else 0]


def _diff_tensor(old: dict, new: dict, label: str, where: str,
                 output: bool = False) -> list[InterfaceChange]:
    changes = []
    if old.get("dtype") != new.get("dtype"):
        changes.append(InterfaceChange(
            "major", "dtype-changed", f"{label} dtype {old.get('dtype')} -> {new.get('dtype')}",
            where))
    if not output and _optional(old) != _optional(new):
        kind = "input-now-optional" if _optional(new) else "input-now-required"
        detail = ("now optional" if _optional(new)
                  else "is now required, so calls that omit it break")
        changes.append(InterfaceChange(_variance(kind, output), kind, f"{label} {detail}",
                                       where))
    a, b = _shape_contract(old.get("shape")), _shape_contract(new.get("shape"))
    if a == b:
        return changes  # symbolic names ("batch" -> "N") only label a variable dimension
    if a is not None and b is None:
        kind = "rank-unknown"
    elif a is None:
        kind = "rank-known"
    elif b is None or len(a) != len(b):
        kind = "rank-changed"
    else:
        kinds = set()
        for x, y in zip(a, b, strict=True):
            if x is not None and y is not None and x != y:
                kinds.add("dimension-changed")
            elif x is None and y is not None:
                kinds.add("dimension-fixed")
            elif x is not None and y is None:
                kinds.add("dimension-relaxed")
        # The kind that needs the highest level names the change (ties: this order).
        order = [k for k in ("dimension-changed", "dimension-fixed", "dimension-relaxed")
                 if k in kinds]
        kind = max(order, key=lambda k: _RANK[_variance(k, output)])
    changes.append(InterfaceChange(
        _variance(kind, output), kind,
        f"{label} shape {_show_shape(old.get('shape'))} -> {_show_shape(new.get('shape'))}",
        where))
    return changes


# ---------------------------------------------------------------- contracts, formats, weights


def _contract_text(value: object) -> str | None:
    """Declared text compared after whitespace normalisation; structured values as JSON."""
    if value is None:
        return None
    if not isinstance(value, str):
        import json

        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return " ".join(value.split()) or None


def _excerpt(a: str, b: str, context: int = 24) -> tuple[str, str]:
    """The differing middle of two texts with a little context, for one readable sentence."""
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end = 0
    while end < min(len(a), len(b)) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    lo = max(0, start - context)

    def cut(s: str) -> str:
        hi = min(len(s), len(s) - end + context)
        return ("..." if lo else "") + s[lo:hi] + ("..." if hi < len(s) else "")

    return cut(a), cut(b)


def _diff_text(old: str | None, new: str | None, tag: str, what: str,
               out: list[InterfaceChange]) -> None:
    if old == new:
        return
    if old is None:
        out.append(InterfaceChange("minor", f"{tag}-declared", f"{what} declared"))
    elif new is None:
        out.append(InterfaceChange("major", f"{tag}-removed", f"{what} no longer declared"))
    else:
        a, b = _excerpt(old, new)
        out.append(InterfaceChange("major", f"{tag}-changed", f"{what} changed: {a!r} -> {b!r}"))


def _diff_formats(old: Iterable[str], new: Iterable[str], out: list[InterfaceChange]) -> None:
    before, after = list(dict.fromkeys(old or ())), list(dict.fromkeys(new or ()))
    removed = [f for f in before if f not in after]
    added = [f for f in after if f not in before]
    if removed:
        out.append(InterfaceChange("major", "format-removed",
                                   f"format{'s' * (len(removed) > 1)} removed: "
                                   f"{', '.join(removed)}"))
    if added:
        out.append(InterfaceChange("minor", "format-added",
                                   f"format{'s' * (len(added) > 1)} added: {', '.join(added)}"))


def _diff_weights(old: dict[str, str | None], new: dict[str, str | None],
                  out: list[InterfaceChange]) -> None:
    _diff_digest(old, new, "weights", out, "the new weights have no digest, so identical "
                 "weights cannot be confirmed", "new weights")


def _diff_code(old: dict[str, str | None], new: dict[str, str | None],
               out: list[InterfaceChange]) -> None:
    _diff_digest(old, new, "code", out, "the new version's code has no digest, so identical "
                 "code cannot be confirmed", "new code: the model computes differently")


def _diff_digest(old: dict[str, str | None], new: dict[str, str | None], what: str,
                 out: list[InterfaceChange], unknown: str, changed: str) -> None:
    """New weights or new code need a MINOR; a digest that went missing cannot be vouched for.

    ``old`` and ``new`` map each shared format to its digest (the key "" is the whole
    package); the sentence names the formats when the package has several."""
    steps, missing = [], []
    for fmt, before in old.items():
        after = new.get(fmt)
        if before is None:
            continue  # nothing known to compare with
        if after is None:
            missing.append(fmt)
        elif before.strip().lower() != after.strip().lower():
            steps.append(f"{fmt + ' ' if len(old) > 1 else ''}{_short(before)} -> {_short(after)}")
    if missing:
        out.append(InterfaceChange("minor", f"{what}-unknown", unknown))
    if steps:
        out.append(InterfaceChange("minor", f"{what}-changed", f"{changed} ({'; '.join(steps)})"))


def _short(digest: str) -> str:
    algo, _, hexa = digest.partition(":")
    return f"{algo}:{hexa[:12]}" if hexa else digest[:19]


# ---------------------------------------------------------------- fingerprint


def fingerprint(iface: Interface | dict | None) -> str:
    """``sha256:`` over the contract only: equal contracts hash alike.

    Counted: entrypoint names and whether their parameters are known, each parameter's
    name, kind, whether it has a default and the default; the default entrypoint;
    signature names, input/output names in order, dtypes, shapes (symbolic dims as
    None), and each format's own signatures where they differ from the package's;
    preprocessing and labels (whitespace-normalised). Not counted: docs,
    annotations, key order, and any other key (``notes``, ``eval-transform``).

        >>> a = {"signatures": [{"name": "s", "inputs": [
        ...     {"name": "x", "dtype": "float32", "shape": ["batch", 3]}], "outputs": []}]}
        >>> b = {"notes": "retrained", "signatures": [{"outputs": [], "name": "s", "inputs": [
        ...     {"shape": ["N", 3], "name": "x", "dtype": "float32"}]}]}
        >>> fingerprint(a) == fingerprint(b), fingerprint(a).startswith("sha256:")
        (True, True)
    """
    import hashlib
    import json

    contract: dict[str, object] | None = None  # None: unknown, unlike known-and-empty
    if iface is not None:
        entrypoints = []
        iface = Interface.from_json(iface)
        for name, entry in sorted(_by_name(iface.entrypoints).items()):
            item: dict = {"name": name, "parameters": _param_contract(entry)}
            if not _known(entry):
                item["known"] = False  # known and unknown entrypoints compare differently
            entrypoints.append(item)
        signatures = _signatures_contract(iface.signatures)
        # a format's own signatures count where they differ from the package's; so one
        # format, or several that agree, hash as a record without ``formats`` does
        formats = {}
        for fmt in sorted(iface.formats) if isinstance(iface.formats, dict) else ():
            own = iface.own_signatures(str(fmt))
            if own is not None and _signatures_contract(own) != signatures:
                formats[str(fmt)] = _signatures_contract(own)
        contract = {
            "entrypoints": entrypoints,
            "default-entrypoint": iface.default_entrypoint,
            "signatures": signatures,
            "preprocessing": _contract_text(iface.preprocessing),
            "labels": _contract_text(iface.labels),
        }
        if formats:
            contract["formats"] = formats
    text = json.dumps(contract, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _signatures_contract(sigs: object) -> list[dict]:
    return [{"name": name, **{side: [(t["name"], *_tensor_contract(t))
                                     for t in _by_name(sig.get(side)).values()]
                              for side in ("inputs", "outputs")}}
            for name, sig in sorted(_by_name(sigs).items())]


# ---------------------------------------------------------------- versions


def bump_level(old_version: str, new_version: str) -> str:
    """The largest level of change the step from ``old_version`` to ``new_version`` may carry.

    From 1.0.0 on: a new major is "major", a new minor "minor", a new patch "patch". In
    0.y.z, as with Cargo's and npm's caret (``^0.3.1`` is ``<0.4.0``), everything moves
    down one place: a new minor (or major) is "major" and a new patch is "minor"; a
    patch-level change also only needs a patch bump. mlpm applies this to 0.0.z too,
    although the caret already excludes 0.0.4 from ``^0.0.3``, because ``0.0.x`` and
    ``~0.0.3`` ranges do take it. A step between a prerelease and its release (same
    x.y.z) is "patch".

        >>> [bump_level("1.2.1", v) for v in ("2.0.0", "1.3.0", "1.2.2")]
        ['major', 'minor', 'patch']
        >>> [bump_level("0.3.1", v) for v in ("0.4.0", "0.3.2", "0.3.2-rc.1")]
        ['major', 'minor', 'minor']
        >>> bump_level("2.0.0-rc.1", "2.0.0")
        'patch'
    """
    old, new = semver.Version.parse(old_version), semver.Version.parse(new_version)
    if not old < new:
        raise InvalidVersionStep(
            f"{new} is not newer than {old}; a new version must be greater than the previous "
            "one.")
    if old.major != new.major:
        return "major"
    if old.minor != new.minor:
        return "major" if old.major == 0 else "minor"
    if old.patch != new.patch:
        return "minor" if old.major == 0 else "patch"
    return "patch"  # same x.y.z: a prerelease step or the release of a prerelease


def smallest_allowed(previous: str, level: str, existing: Iterable[str] = ()) -> str:
    """The smallest version after ``previous`` whose step allows ``level``, and not taken.

    A taken version is skipped by bumping again the same way (1.3.0 taken: 1.4.0).
    Unreadable versions in ``existing`` are ignored.

        >>> smallest_allowed("1.2.1", "minor", []), smallest_allowed("0.3.1", "major", [])
        ('1.3.0', '0.4.0')
        >>> smallest_allowed("0.3.1", "minor", ["0.3.2", "0.3.3"])
        '0.3.4'
        >>> smallest_allowed("1.3.0-rc.1", "patch", [])
        '1.3.0'
    """
    if level not in _RANK:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    prev = semver.Version.parse(previous)
    taken = set()
    for text in existing:
        try:
            taken.add(semver.Version.parse(text))
        except ValueError:
            continue  # a malformed record cannot block a version

    def bumped(v: semver.Version, part: str) -> semver.Version:
        # Plain release bumps: node's inc("minor") turns 1.3.0-rc.1 into 1.3.0, a patch step.
        if part == "major":
            return semver.Version(v.major + 1, 0, 0)
        if part == "minor":
            return semver.Version(v.major, v.minor + 1, 0)
        if v.prerelease:
            return semver.Version(v.major, v.minor, v.patch)
        return semver.Version(v.major, v.minor, v.patch + 1)

    part = next(p for p in ("patch", "minor", "major")
                if _RANK[bump_level(str(prev), str(bumped(prev, p)))] >= _RANK[level])
    candidate = bumped(prev, part)
    while candidate in taken:
        candidate = bumped(candidate, part)
    return str(candidate)
