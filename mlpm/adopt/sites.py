"""What `mlpm adopt` finds in a codebase and what each finding maps to.

A `CallSite` is one load-time call (``torch.hub.load(...)``, ``hf_hub_download(...)``...) read
from source with ``ast``; nothing is imported or run. A `Mapping` says which mlpm package and
version that call becomes, and how sure the match is. The scanner (scan.py) makes call sites,
the mapper (mapping.py) makes mappings, the report, ``--write``, ``--rewrite`` and ``--caches``
consume them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# How sure a mapping is, in the report's words.
EXACT = "exact"            # a registry record names this very upstream (repo/ref/entrypoint/
                           # kwargs, artifact URL, TF Hub handle) or a Hugging Face repo id
NAME = "name"              # only the model's name matched a package; never rewritten
UNRESOLVED = "unresolved"  # an argument could not be read statically; listed, never guessed
UNMAPPED = "unmapped"      # read fully, but no package names this upstream


@dataclass(frozen=True, slots=True)
class CallSite:
    """One call found in a source file (or a notebook's code cell)."""

    file: Path                 # relative to the adopted folder
    line: int                  # 1-based, in the file (for a notebook: in the cell)
    col: int                   # 0-based column of the call's first character
    end_line: int
    end_col: int
    kind: str                  # the API called, canonical: "torch.hub.load", "hf_hub_download"...
    call: str                  # the call's source text, as written
    args: dict[str, object] = field(default_factory=dict)  # arguments read statically, by name
    unresolved: tuple[str, ...] = ()  # names of arguments that could not be read
    cell: int | None = None    # a notebook's code-cell index (0-based), else None
    reasons: dict[str, str] = field(default_factory=dict)  # unresolved argument -> why

    @property
    def where(self) -> str:
        """``file:line`` (``file[cell 3]:line`` in a notebook), as the report prints it."""
        cell = f"[cell {self.cell}]" if self.cell is not None else ""
        return f"{self.file.as_posix()}{cell}:{self.line}"


@dataclass(frozen=True, slots=True)
class Mapping:
    """What one call site becomes."""

    site: CallSite
    how: str                   # EXACT, NAME, UNRESOLVED or UNMAPPED
    package: str | None = None  # the mlpm package name (for hf: the dependency's name)
    version: str | None = None  # the version whose upstream matches (None for a tracked hf: rev)
    source: str | None = None   # "hf:ORG/REPO" or a registry location; None for the default
    revision: str | None = None  # hf: the revision the code asks for (None: default branch)
    replacement: str | None = None  # "load" or "path": which mlpm call the rewrite puts there
    reason: str = ""            # one phrase for the report when not EXACT
