"""File-system primitives below the store: deleting and measuring folder trees, and
appending to the registry's append-only files.

Kept apart from mlpm/store.py so that mlpm/archive.py (which the store calls to unpack)
can clean up after itself without importing the store.
"""

from __future__ import annotations

import os
from pathlib import Path


def remove_tree(path: Path | str) -> tuple[int, int]:
    """Delete ``path`` and everything under it; returns (files, bytes) freed.

    Every delete in mlpm goes through here. It keeps its own stack instead of recursing,
    so a tree thousands of folders deep goes as well as a flat one (shutil.rmtree and
    Path.rglob hit Python's recursion limit near 1,000 levels). A symlink is removed,
    never followed; a read-only folder is made writable first. Best effort, like
    ``rmtree(ignore_errors=True)``: what cannot be deleted stays, and is not counted.

        >>> remove_tree(Path("entries/unpacked/.abc123.4242.9f3e.tmp"))  # doctest: +SKIP
        (12, 20480)
    """
    import stat

    top = os.fspath(path)
    files = freed = 0
    try:
        st = os.lstat(top)
    except OSError:
        return 0, 0
    if not stat.S_ISDIR(st.st_mode):
        if _retry_writable(os.unlink, top):
            return 1, st.st_size if stat.S_ISREG(st.st_mode) else 0
        return 0, 0
    stack: list[tuple[str, bool]] = [(top, False)]  # (folder, its children are gone)
    while stack:
        folder, emptied = stack.pop()
        if emptied:
            _retry_writable(os.rmdir, folder)
            continue
        stack.append((folder, True))
        entries = _retry_writable(lambda f: list(os.scandir(f)), folder, own=True)
        for entry in entries or ():
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, False))
            elif _retry_writable(os.unlink, entry.path):
                files += 1
                freed += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return files, freed


def _retry_writable(action, target: str, own: bool = False):
    """``action(target)``; on a permission error, make the folder that governs it
    (``target`` itself when ``own``, else its parent) writable and try once more.
    None when it still fails; a target that is already gone is not a failure."""
    for attempt in range(2):
        try:
            return action(target) if own else (action(target) or True)
        except FileNotFoundError:
            return None if own else True
        except PermissionError:
            if attempt:
                return None
            try:  # lstat first: chmod follows links, and a link is never made writable
                folder = target if own else os.path.dirname(target)
                if os.path.isdir(folder) and not os.path.islink(folder):
                    os.chmod(folder, 0o700)
            except OSError:
                return None
        except OSError:
            return None
    return None


def tree_size(path: Path | str) -> int:
    """The bytes of the regular files under ``path``, without recursing or following links."""
    import stat

    total = 0
    stack = [os.fspath(path)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def append_line(path: Path, text: str) -> None:
    """Append ``text`` (one line, ending in a newline) to ``path`` and fsync it.

    A torn last line, left by a writer that crashed mid-append, is cut first, so an
    append-only file (a registry's ``names``, search log, upstream shards) only ever holds
    whole lines.
    """
    with open(path, "ab+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size:
            fh.seek(max(0, size - 65536))
            tail = fh.read()
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                fh.truncate(size - len(tail) + cut + 1 if cut >= 0 else 0)
        fh.write(text.encode())
        fh.flush()
        os.fsync(fh.fileno())
