"""The two ways a conversion is refused: it cannot be done, or it computes something else."""

from __future__ import annotations

import re
from pathlib import Path

from mlpm.errors import MlpmError


class ConversionError(MlpmError, ValueError):
    """The conversion cannot be done: no such route, unknown input shapes, a converter
    that is missing or that failed (with its own last error line)."""


class ParityError(MlpmError, ValueError):
    """The converted model's outputs differ from the original's by more than the
    tolerance; the message gives the numbers, and nothing was kept."""


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
    out = f"{type(exc).__name__}: {first}{where}"
    return out if len(out) <= 400 else out[:397] + "..."
