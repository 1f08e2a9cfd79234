"""The two records every part of hubconf reading passes around: a ``Binding`` (how a
module-level name is bound, as written) and a ``Target`` (what that name refers to, as
far as the source text tells: a function or class with its parameters, a module, data, or
unknown with a note saying why).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Protocol

    class Namespace(Protocol):
        """What reading a signature asks of the namespace a target was bound in
        (namespace.py's ``Namespace``), named here so that this module, which namespace.py
        and signatures.py import, imports neither."""

        def where(self) -> str: ...

        def origin(self, expr: ast.expr, seq: int | None, hops: int) -> str | None: ...

        def expr(self, e: ast.expr, seq: int | None, hops: int) -> Target: ...


@dataclass(eq=False)
class Binding:
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
class Target:
    """What a binding refers to, as far as the source text tells."""

    kind: str  # function | class | module | data | unknown
    params: list[dict] | None = None
    doc: str | None = None
    notes: list[str] = field(default_factory=list)
    node: ast.AST | None = None  # FunctionDef / ClassDef / Lambda behind it
    space: Namespace | None = None
    seq: int | None = None  # when the node was bound in its space
    module: str | None = None  # kind == module: its dotted name, when known
    where: str | None = None  # the module the def or class is written in
    hidden: bool = False  # unknown, but judged not to be a callable


def unknown(note: str, **kw) -> Target:
    return Target("unknown", notes=[note], **kw)
