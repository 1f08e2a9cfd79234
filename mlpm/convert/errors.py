"""The two ways a conversion is refused: it cannot be done, or it computes something else."""

from __future__ import annotations

import re
from pathlib import Path

# Re-exported for the converters; both are defined in mlpm.errors with every other error.
from mlpm.errors import ConversionError as ConversionError
from mlpm.errors import ParityError as ParityError


def reason(exc: BaseException) -> str:
    """The converter's own explanation, in one line: its first line, plus the user code
    torch.export points at when it names one. A TorchScript interpreter failure opens with
    a generic line and ends with the real one (``builtins.ValueError: Supported sampling
    rates: [8000, 16000]``): that last line is the reason, with the line that raised it.

    >>> reason(RuntimeError("The following operation failed in the TorchScript interpreter."
    ...                     "\\nTraceback of TorchScript ...\\nbuiltins.ValueError: bad sr"))
    'ValueError: bad sr'
    """
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = re.sub(r"\x1b\[[0-9;]*m", "", lines[0])
    if _TORCHSCRIPT in first or any(ln.startswith("Traceback of TorchScript") for ln in lines):
        root = _root_cause(lines)
        if root is not None:
            return _fit(root, _raised_at(lines))
    where = ""
    for i, line in enumerate(lines):
        match = _FILE_LINE.match(line)
        if match and "torch" not in Path(match.group(1)).parts:
            code = lines[i + 1] if i + 1 < len(lines) else ""
            where = f" (at {Path(match.group(1)).name}:{match.group(2)}: {code})"
    return _fit(f"{type(exc).__name__}: {first}", where)


_TORCHSCRIPT = "operation failed in the TorchScript interpreter"
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
# the exception line that ends a traceback: `builtins.ValueError: ...`, `RuntimeError: ...`
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*(?:Error|Exception)):\s*(.+)$")


def _root_cause(lines: list[str]) -> str | None:
    """The last exception line of a TorchScript traceback, without its module."""
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match.group(1)}: {match.group(2)}"
    return None


def _raised_at(lines: list[str]) -> str:
    """`` (at FILE:LINE: CODE)`` for the statement the last traceback frame marks."""
    frames = [i for i, ln in enumerate(lines) if _FILE_LINE.match(ln)]
    if not frames:
        return ""
    start = frames[-1]
    marks = [i for i in range(start + 1, len(lines)) if lines[i].endswith("<--- HERE")]
    if not marks or marks[-1] - 1 <= start:
        return ""
    match = _FILE_LINE.match(lines[start])
    assert match is not None
    return f" (at {Path(match.group(1)).name}:{match.group(2)}: {lines[marks[-1] - 1]})"


def _fit(head: str, where: str) -> str:
    room = max(400 - len(where), 120)  # the user's own line is the useful part: keep it whole
    if len(head) > room:
        head = head[:room - 3] + "..."
    return head + where
