"""Plain-text and JSON renderings shared by the click commands and the fast paths.

Nothing here imports click, so ``mlpm install`` with nothing to do never loads it.
"""

from __future__ import annotations


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def install_summary(result, verb: str) -> str:
    """What install / upgrade print: each change, each saved range, then one summary line."""
    from mlpm.store import human_size

    lines = [str(change) for change in result.changes]
    lines += [f'saved {name} = "{rng}" in the manifest' for name, rng in result.saved.items()]
    lines += [f"note: {note}" for note in getattr(result, "notes", [])]
    fetched = (f", fetched {_plural(result.fetched_files, 'file')} "
               f"({human_size(result.fetched_bytes)})" if result.fetched_files else "")
    state = "locked" if result.changes else "up to date"
    lines.append(f"{verb}: {_plural(result.packages, 'package')} {state}{fetched}")
    return "\n".join(lines)


def install_json(result) -> dict:
    return {"changes": [{"name": c.name, "old": c.old, "new": c.new} for c in result.changes],
            "saved": result.saved, "packages": result.packages,
            "notes": getattr(result, "notes", []),
            "fetched_files": result.fetched_files, "fetched_bytes": result.fetched_bytes}
