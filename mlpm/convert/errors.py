"""The two ways a conversion is refused: it cannot be done, or it computes something else."""

from __future__ import annotations

import re
from pathlib import Path

# Re-exported for the converters; both are defined in mlpm.errors with every other error.
from mlpm.errors import ConversionError as ConversionError
from mlpm.errors import ParityError as ParityError


def reason(exc: BaseException) -> str:
    """The converter's own explanation, in one line: its first line, plus the user code
    torch.export points at when it names one."""
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = re.sub(r"\x1b\[[0-9;]*m", "", lines[0])
    where = ""
    for i, line in enumerate(lines):
        match = re.match(r'File "([^"]+)", line (\d+), in (\S+)', line)
        if match and "torch" not in Path(match.group(1)).parts:
            code = lines[i + 1] if i + 1 < len(lines) else ""
            where = f" (at {Path(match.group(1)).name}:{match.group(2)}: {code})"
    head = f"{type(exc).__name__}: {first}"
    room = max(400 - len(where), 120)  # the user's own line is the useful part: keep it whole
    if len(head) > room:
        head = head[:room - 3] + "..."
    return head + where
