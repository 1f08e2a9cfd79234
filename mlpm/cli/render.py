"""Plain-text renderings shared by the click commands and the fast paths, and the
``--json`` envelope.

Nothing here imports click, so ``mlpm install`` with nothing to do never loads it.
Every ``--json`` output is ``envelope(command, data)``: one object with the schema
version, the command, and snake_case keys (docs/reference/json.md); ``data`` is a typed
result's ``to_json()`` (``mlpm.cli.results``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

SCHEMA = 1  # bumped only when a key is renamed or removed; new keys keep the number

# Keys whose value maps names the user or a publisher chose (packages, metrics, inputs) to
# values: those names are data and keep their spelling.
_NAMED_MAPS = {"dependencies", "metrics", "input_shapes", "converter", "runtime", "saved",
               "sizes", "formats", "format_digests"}


def envelope(command: str, data: dict[str, Any]) -> dict[str, Any]:
    """``{"schema": 1, "command": "install", ...data}``."""
    return {"schema": SCHEMA, "command": command, **data}


def snake_keys(value: Any, _named: bool = False) -> Any:
    """A copy of ``value`` whose dict keys use snake_case (``release-notes`` ->
    ``release_notes``), except inside maps keyed by names (metrics, dependencies...).

    >>> snake_keys({"release-notes": "x", "metrics": {"top-1": 0.7}})
    {'release_notes': 'x', 'metrics': {'top-1': 0.7}}
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new = key if _named or not isinstance(key, str) else key.replace("-", "_")
            out[new] = snake_keys(item, new in _NAMED_MAPS and not _named)
        return out
    if isinstance(value, (list, tuple)):
        return [snake_keys(item) for item in value]
    return value


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fetch_text(result) -> str:
    from mlpm.store import human_size

    unknown = getattr(result, "unknown_sizes", 0)
    size = human_size(result.fetched_bytes)
    if unknown:
        size += f" and {unknown} of unknown size"
    return f"{_plural(result.fetched_files, 'file')} ({size})"


def install_summary(result, verb: str) -> str:
    """What install / upgrade print: each change, each saved range, then one summary line."""
    dry = getattr(result, "dry_run", False)
    lines = [str(change) for change in result.changes]
    lines += [f'{"would save" if dry else "saved"} {name} = "{rng}" in the manifest'
              for name, rng in result.saved.items()]
    lines += [f"note: {note}" for note in getattr(result, "notes", [])]
    if dry:
        fetch = f", fetch {_fetch_text(result)}" if result.fetched_files else ", fetch nothing"
        state = "lock" if result.changes else "keep"
        lines.append(f"dry run: would {state} {_plural(result.packages, 'package')}{fetch}; "
                     "nothing was written")
        return "\n".join(lines)
    fetched = f", fetched {_fetch_text(result)}" if result.fetched_files else ""
    state = "locked" if result.changes else "up to date"
    lines.append(f"{verb}: {_plural(result.packages, 'package')} {state}{fetched}")
    return "\n".join(lines)


def remove_summary(result) -> str:
    from mlpm.store import human_size

    dry = getattr(result, "dry_run", False)
    lines = [str(change) for change in result.changes]
    files = _plural(result.freed_files, "file")
    if dry:
        lines.append(f"dry run: would free {human_size(result.freed_bytes)} ({files}); "
                     "nothing was written")
    else:
        lines.append(f"freed {human_size(result.freed_bytes)} ({files})")
    return "\n".join(lines)
