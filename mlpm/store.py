"""The content-addressed cache: blobs by sha256, atomic writes, references, prune.

Layout under the cache root (``MLPM_CACHE_DIR``, else platformdirs' user cache):

    blobs/sha256/ab/abcdef...     verified artifacts, complete or absent
    partial/<sha256>.part         an interrupted download, resumed with a Range request
    locks/<sha256>.lock           one filelock per blob: concurrent processes fetch it once
    locks/project-<key>.lock      one filelock per project: one install/upgrade/remove at a time
    index/<registry-key>/...      HTTP index files with their ETag, for revalidation
    refs/<project-key>.json       which blobs each project's lock uses, for removal and prune
    parsed/<path-key>.marshal     a parsed mlpm.toml / mlpm.lock, valid while the file is unchanged

A blob is written to a unique temp file while its sha256 is computed and only
renamed into place when the digest and size match, so readers never see partial
state (the pattern of huggingface_hub's file_download).
"""

from __future__ import annotations

import os
import re
import sys
from collections import namedtuple
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlpm.errors import IntegrityError, RemovedWhileLoading, StoreError, UnsafePath
from mlpm.files import remove_tree, tree_size

CHUNK = 1 << 20


def is_offline() -> bool:
    """``MLPM_OFFLINE`` is on (1/true/yes/on): only what the store holds may be used."""
    return os.environ.get("MLPM_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def default_root() -> Path:
    env = os.environ.get("MLPM_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    if sys.platform.startswith("linux"):  # what platformdirs answers, without its import cost
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        return Path(xdg if os.path.isabs(xdg) else os.path.expanduser("~/.cache")) / "mlpm"
    import platformdirs

    return Path(platformdirs.user_cache_dir("mlpm", appauthor=False))


def _key(text: str) -> str:
    return text_sha256(text)[:24]


def text_sha256(text: str) -> str:
    """The sha256 (hex) of a short text, such as a path or a manifest's canonical form.

    Through CPython's own sha256 module (the same digest): a no-op install needs a few of
    these, and importing hashlib loads OpenSSL's bindings, about 3 ms of start-up.
    Files are hashed with hashlib (OpenSSL's sha256 is several times faster on them)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # CPython <= 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # CPython >= 3.12
        except ImportError:
            from hashlib import sha256
    return sha256(text.encode()).hexdigest()


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


BlobInfo = namedtuple("BlobInfo", "sha256 size path")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but is not ours
    return True


def _size_or_zero(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _sweep_stale_temps(path: Path) -> None:
    """Delete ``path``'s temp files whose writer is gone (killed between create and rename),
    so that a crash leaves no ``.mlpm.lock.<pid>.<rand>.tmp`` in the user's project."""
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(path.parent / name)
            except OSError:
                pass


def write_atomic(path: Path, data: bytes | str, durable: bool = True) -> None:
    """Write a file so that readers see the old or the new content, never a mix.

    ``durable=False`` skips the fsync, for files whose loss costs only work (on ext4 an
    fsync also forces out every other dirty file of the transaction, e.g. a fresh blob).
    """
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    _sweep_stale_temps(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
            if path.exists():
                os.chmod(tmp, path.stat().st_mode & 0o777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # disk full, read-only: one sentence, and the old file is intact
        raise StoreError(
            f"cannot write {path} ({exc.strerror or exc}; {human_size(len(raw))} needed); "
            f"it is unchanged: free disk space or make {path.parent} writable, then retry."
        ) from None


# A file changed this recently gets no memo: a second edit could land in the same
# timestamp tick and leave the same status behind (git's "racily clean" rule).
SETTLED_NS = 2_000_000_000


def _status(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


def file_status(path: Path | str) -> tuple | None:
    """What every write of a file changes (size, mtime, ctime, inode, device); None if absent.

    The project's files are replaced by rename, so the same status means the same bytes.
    """
    try:
        return _status(os.stat(path))
    except OSError:
        return None


def _memo_path(source: Path, root: Path | None = None) -> Path:
    return (root or default_root()) / "parsed" / f"{_key(str(Path(source).absolute()))}.marshal"


def load_memo(source: Path) -> object | None:
    """What ``save_memo`` kept for ``source``, if the file's status is still the one it had.

    A missing, torn or foreign memo is None: the caller parses the file again.
    """
    import marshal

    status = file_status(source)
    try:
        with open(_memo_path(source), "rb") as fh:
            _, seen, data = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return data if status is not None and seen == status else None


def save_memo(source: Path, before: os.stat_result, after: os.stat_result,
              data: object) -> None:
    """Keep ``data``, parsed from ``source`` between the two ``fstat``s, for ``load_memo``.

    Only a shortcut: a file that changed while it was read or in the last seconds, values
    marshal cannot hold (a TOML date) or a read-only cache just mean parsing next time.
    """
    import marshal
    import time

    status = _status(after)
    if status != _status(before) or \
            time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns) < SETTLED_NS:
        return
    try:
        # data marshal cannot hold raises ValueError, caught below: parsed again next time
        body = marshal.dumps((str(Path(source).absolute()), status, data))  # type: ignore[arg-type]
        memo = _memo_path(source)
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo, body, durable=False)
    except (ValueError, OSError, StoreError):
        pass


_RESTORE_LOCK = "restore mlpm.lock from version control, or delete it and run `mlpm install`"
_DELETE_LINK = "delete that link from the cache (or run `mlpm cache prune`), then retry"


class Store:
    """One cache root shared by any number of mlpm processes."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_root()

    # -- paths -------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / _digest(sha256)[:2] / sha256

    def inside(self, path: Path | str, what: str, fix: str = _RESTORE_LOCK) -> Path:
        """``path`` if it lies inside the store as written and once links are resolved;
        else ``UnsafePath``. Every path built from a project file's value is checked here
        before anything is read from it or deleted (a lock names keys, not paths)."""
        root = os.path.normpath(os.path.abspath(self.root))
        written = os.path.normpath(os.path.abspath(path))
        real_root = os.path.realpath(root)
        if os.path.commonpath([root, written]) != root or written == root or \
                os.path.commonpath([real_root, os.path.realpath(written)]) != real_root:
            raise UnsafePath(
                f"{what} leads to {os.path.realpath(written)}, outside mlpm's cache at {root}, "
                f"so mlpm refused to use it; {fix}."
            )
        return Path(path)

    def converted_entry(self, key: str) -> Path:
        """The folder of the conversion ``key`` (64 hex digits, as mlpm.lock records it)."""
        if not isinstance(key, str) or not _SHA256.fullmatch(key):
            raise UnsafePath(
                f"the conversion key {key!r} in mlpm.lock is not 64 lower-case hex digits, so "
                "mlpm refused to use it as a folder name; restore mlpm.lock from version "
                "control, or delete it and run `mlpm install`."
            )
        return self.inside(self.root / "entries" / "converted" / key,
                           f"the conversion key '{key}'")

    def has_blob(self, sha256: str, size: int | None = None) -> bool:
        """Whether the blob is in place and intact (and, given ``size``, that long).

        A blob is verified when it is renamed into place, and a stamp of its file status
        (size, inode, mtime, ctime) is kept beside it. While the status still matches the
        stamp, nothing can have rewritten the file and it is not read again; otherwise it
        is re-hashed now, and a blob whose bytes no longer match its name is deleted (the
        caller then fetches it again) instead of being used.
        """
        if not sha256:
            return False
        path = self.blob_path(sha256)
        try:
            st = os.stat(path)
        except OSError:
            return False
        if size is not None and st.st_size != size:
            return False
        stamp = _stamp(st)
        try:
            with open(self._stamp_path(sha256), encoding="ascii") as fh:
                if fh.read() == stamp:
                    return True
        except OSError:
            pass
        try:
            actual = file_sha256(path)
        except FileNotFoundError:  # removed since the stat (`mlpm remove`, `cache prune`)
            return False
        if actual != sha256:
            path.unlink(missing_ok=True)  # no lock: a rename-in-place is the only writer
            self._stamp_path(sha256).unlink(missing_ok=True)
            return False
        self._write_stamp(sha256)
        return True

    def _stamp_path(self, sha256: str) -> Path:
        return self.root / "blobs" / "sha256" / sha256[:2] / f".{sha256}.ok"

    def _write_stamp(self, sha256: str) -> None:
        try:
            write_atomic(self._stamp_path(sha256), _stamp(os.stat(self.blob_path(sha256))),
                         durable=False)
        except OSError:
            pass  # without a stamp the blob is only re-hashed next time

    def _dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the cache directory {path} ({exc.strerror}); "
                "set MLPM_CACHE_DIR to a writable directory."
            ) from None
        return path

    @contextmanager
    def blob_lock(self, sha256: str) -> Iterator[None]:
        """Hold the per-blob lock: only one process fetches a given blob at a time."""
        from filelock import FileLock

        path = self._dir("locks") / f"{sha256}.lock"
        lock = FileLock(str(path))
        try:
            lock.acquire()
        except OSError as exc:  # a read-only or full cache: say so, not "failed unexpectedly"
            raise StoreError(
                f"cannot create the lock file {path} in the cache ({exc.strerror or exc}); "
                "set MLPM_CACHE_DIR to a writable directory."
            ) from None
        try:
            yield
        finally:
            lock.release()

    def partial_path(self, sha256: str) -> Path:
        return self._dir("partial") / f"{sha256}.part"

    # -- writing blobs -----------------------------------------------------------------

    def commit_partial(self, key: str, sha256: str, size: int | None, actual_sha: str,
                       actual_size: int, source: str, prefix: str | None = None) -> Path:
        """Move a finished ``.part`` file into place if its digest is right, else delete it.

        ``sha256`` empty means the digest is not known in advance (a public artifact
        pinned at first download): then only ``prefix`` (torch.hub's filename hash) and
        ``size`` are checked, and the blob is filed under the digest measured.
        """
        part = self.partial_path(key)
        expected = sha256 or (prefix or "")
        if (not actual_sha.startswith(expected) if not sha256 else actual_sha != sha256) or (
                size is not None and actual_size != size):
            part.unlink(missing_ok=True)
            what = "sha256" if sha256 else "sha256 prefix"
            raise IntegrityError(
                f"{source} does not match its recorded {what} (expected {expected[:12]}… "
                f"{size if size is not None else '?'} bytes, got {actual_sha[:12]}… "
                f"{actual_size} bytes); the download was deleted: the registry copy is corrupt "
                "or was tampered with, ask its owner to republish it."
            )
        final = self.blob_path(actual_sha)
        self._dir("blobs", "sha256", actual_sha[:2])
        os.chmod(part, 0o444)
        os.replace(part, final)
        self._write_stamp(actual_sha)
        return final

    def add_stream(self, chunks: Iterable[bytes], sha256: str, size: int | None,
                   source: str) -> Path:
        """Store bytes from ``chunks``, hashing them as they stream; verify, then rename."""
        with self.blob_lock(sha256):
            if self.has_blob(sha256, size):
                return self.blob_path(sha256)
            part = self.partial_path(sha256)
            hasher = StreamHasher()
            n = 0
            try:
                with open(part, "wb") as fh:
                    for chunk in chunks:
                        hasher.update(chunk)
                        fh.write(chunk)
                        n += len(chunk)
            except OSError as exc:
                hasher.hexdigest()
                part.unlink(missing_ok=True)
                raise StoreError(self._write_failure(exc, size)) from None
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            return self.commit_partial(sha256, sha256, size, hasher.hexdigest(), n, source)

    def add_file(self, path: Path, sha256: str | None = None) -> str:
        """Copy a local file into the store; returns its sha256."""
        path = Path(path)
        if sha256 is None:
            sha256 = file_sha256(path)
        with open(path, "rb") as fh:
            self.add_stream(iter(lambda: fh.read(CHUNK), b""), sha256, path.stat().st_size,
                            str(path))
        return sha256

    def _write_failure(self, exc: OSError, size: int | None) -> str:
        need = f" ({human_size(size)} needed)" if size else ""
        return (f"cannot write to the cache at {self.root}: {exc.strerror or exc}{need}; free "
                "disk space or set MLPM_CACHE_DIR to a writable directory with room.")

    # -- managed entries -----------------------------------------------------------------

    def unpacked(self, sha256: str, marker: str) -> Path:
        """The blob ``sha256`` (an archive) extracted safely into a managed entry.

        Built once, atomically (extracted beside it, then renamed into place), so readers
        see a whole entry or none; returns the folder inside it that holds ``marker``.
        """
        from mlpm.archive import BadArchive, extract, find_root

        dest = self.inside(self._dir("entries", "unpacked") / _digest(sha256),
                           f"the cache entry {sha256[:12]}…", _DELETE_LINK)
        for _attempt in range(2):  # a second time if `remove` took the entry meanwhile
            if not dest.is_dir():
                with self.blob_lock("entry-" + sha256):
                    if not dest.is_dir():
                        try:
                            extract(self.blob_path(sha256), dest)
                        except FileNotFoundError:
                            if self.blob_path(sha256).exists():
                                raise
                            raise RemovedWhileLoading(self._removed(sha256)) from None
            try:
                return find_root(dest, marker)
            except (BadArchive, OSError):
                if dest.is_dir():
                    raise
        raise RemovedWhileLoading(self._removed(sha256))

    @staticmethod
    def _removed(sha256: str) -> str:
        return (f"the cache entry {sha256[:12]}… was removed from the cache while loading "
                "(`mlpm remove` or `mlpm cache prune` in another process); run `mlpm install` "
                "and retry.")

    def snapshot(self, files: list[tuple[str, str]]) -> Path:
        """A folder holding each blob ``sha256`` at its relative ``path``, for (path, sha256)
        in ``files``: a Hugging Face snapshot laid out as ``from_pretrained`` expects.

        Files are hard links to the blobs (copies where the file system has none), so a
        snapshot costs no second copy of the weights. Built once, atomically, under the
        name ``snapshot_key(files)``; the blobs must be in the store already.
        """
        import shutil

        key = snapshot_key(files)
        dest = self._dir("entries", "snapshots") / key
        if dest.is_dir():
            return dest
        with self.blob_lock("snapshot-" + key):
            if dest.is_dir():
                return dest
            tmp = dest.with_name(f".{key}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
            try:
                for rel, sha256 in files:
                    target = self.inside(tmp / rel, f"the snapshot file {rel}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    blob = self.blob_path(sha256)
                    try:
                        os.link(blob, target)
                    except FileNotFoundError:
                        raise RemovedWhileLoading(self._removed(sha256)) from None
                    except OSError:
                        shutil.copyfile(blob, target)
                os.rename(tmp, dest)
            finally:
                if tmp.exists():
                    remove_tree(tmp)
        return dest

    def hub_home(self) -> Path:
        """Where hub code that insists on caching something may write: inside the store."""
        return self._dir("entries", "torch-hub-home")

    # -- reading -----------------------------------------------------------------------

    def blobs(self) -> list[BlobInfo]:
        base = self.root / "blobs" / "sha256"
        if not base.is_dir():
            return []
        out = []
        for sub in sorted(base.iterdir()):
            for blob in sorted(sub.iterdir()):
                if _SHA256.fullmatch(blob.name):  # not stamps, temp files or strays
                    out.append(BlobInfo(blob.name, blob.stat().st_size, blob))
        return out

    def verify(self) -> list[BlobInfo]:
        """Re-hash every blob; return the ones whose content no longer matches their name."""
        return [b for b in self.blobs() if file_sha256(b.path) != b.sha256]

    def delete_blob(self, sha256: str) -> int:
        path = self.blob_path(sha256)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return 0
        with self.blob_lock(sha256):
            path.unlink(missing_ok=True)
            self._stamp_path(sha256).unlink(missing_ok=True)
        return size

    # -- project references ------------------------------------------------------------

    def _ref_file(self, project_root: Path) -> Path:
        return self._dir("refs") / f"{_key(str(Path(project_root).resolve()))}.json"

    def set_refs(self, project_root: Path, lock_path: Path, sha256s: Iterable[str]) -> None:
        """Record which blobs a project's lock uses (replacing what it used before)."""
        import json

        data = {"project": str(Path(project_root).resolve()), "lock": str(lock_path),
                "blobs": sorted(set(sha256s))}
        ref = self._ref_file(project_root)
        try:
            write_atomic(ref, json.dumps(data, indent=1))
        except OSError as exc:
            raise StoreError(f"cannot record which blobs {project_root} uses in {ref} "
                             f"({exc.strerror or exc}); set MLPM_CACHE_DIR to a writable "
                             "directory with room.") from None

    def refs_fresh(self, project_root: Path, lock_path: Path) -> bool:
        """Whether the recorded references were written after the lock last changed."""
        try:
            ref = self._ref_file(project_root).stat().st_mtime_ns
            return ref >= Path(lock_path).stat().st_mtime_ns
        except OSError:
            return False

    def referenced(self, exclude_project: Path | None = None) -> dict[str, list[str]]:
        """Blob sha256 -> projects still using it; a project whose lock is gone uses nothing."""
        import json

        refs_dir = self.root / "refs"
        out: dict[str, list[str]] = {}
        if not refs_dir.is_dir():
            return out
        skip = str(Path(exclude_project).resolve()) if exclude_project else None
        for ref in refs_dir.glob("*.json"):
            try:
                data = json.loads(ref.read_text())
            except (OSError, ValueError):
                continue
            if data.get("project") == skip or not Path(data.get("lock", "")).is_file():
                continue
            for sha in data.get("blobs", []):
                out.setdefault(sha, []).append(data["project"])
        return out

    def projects(self) -> list[tuple[str, Path]]:
        """(project folder, lock file) of every project whose lock still exists."""
        import json

        refs_dir = self.root / "refs"
        out = []
        for ref in sorted(refs_dir.glob("*.json")) if refs_dir.is_dir() else []:
            try:
                data = json.loads(ref.read_text())
                project, lock = str(data["project"]), Path(data["lock"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if lock.is_file():
                out.append((project, lock))
        return out

    def conversions(self) -> list[tuple[str, int, Path]]:
        """(key, bytes, folder) of every converted entry."""
        folder = self.root / "entries" / "converted"
        return [(e.name, self._entry_size(e), e)
                for e in sorted(folder.iterdir() if folder.is_dir() else [])
                if e.is_dir() and not e.name.startswith(".")]

    def free_unreferenced(self, candidates: Iterable[str]) -> tuple[int, int]:
        """Delete candidate blobs (and entries unpacked from them) that no project
        references; returns (files, bytes) freed."""
        used = self.referenced()
        files = freed = 0
        for sha in set(candidates):
            if sha in used:
                continue
            if sha.startswith("convert-"):
                freed += self._drop_entry(self.converted_entry(sha[8:]))
                continue
            if sha.startswith("snapshot-"):
                freed += self._drop_entry(self.root / "entries" / "snapshots" /
                                          _digest(sha[9:]))
                continue
            if not self.has_blob(sha):
                continue
            freed += self.delete_blob(sha)
            files += 1
            freed += self._drop_entry(self.root / "entries" / "unpacked" / sha)
        return files, freed

    def prune(self, dry_run: bool = False) -> tuple[int, int]:
        """Delete every blob no project references, and what killed writers left behind
        (half-built entries, temp files, interrupted downloads); returns (files, bytes)."""
        used = self.referenced()
        files = freed = 0
        for blob in self.blobs():
            if blob.sha256 in used:
                continue
            files += 1
            freed += blob.size if dry_run else self.delete_blob(blob.sha256)
        for kind, prefix in (("unpacked", ""), ("converted", "convert-"),
                             ("snapshots", "snapshot-")):
            entries = self.root / "entries" / kind
            for entry in entries.iterdir() if entries.is_dir() else []:
                if prefix + entry.name not in used and not entry.name.startswith("."):
                    files += 1
                    freed += self._entry_size(entry) if dry_run else self._drop_entry(entry)
        for path, lock in self._leftovers():  # each counts as one, like an entry
            size = self._drop_leftover(path, lock, dry_run)
            if size is not None:
                files, freed = files + 1, freed + size
        if not dry_run:
            self._drop_stale_memos()
        return files, freed

    def _leftovers(self) -> Iterator[tuple[Path, str | None]]:
        """Hidden folders and files a writer made and never renamed into place, each with
        the lock its writer held (None: judged by the writer's pid in the name)."""
        import re

        dead_tmp = re.compile(r"\..+\.(\d+)\.[0-9a-f]+\.(tmp|trash)")
        for kind, lock_prefix in (("unpacked", "entry-"), ("converted", "convert-"),
                                  ("snapshots", "snapshot-")):
            folder = self.root / "entries" / kind
            for item in folder.iterdir() if folder.is_dir() else []:
                if item.name.startswith("."):  # .KEY.<pid>.<rand>.tmp, .KEY.<rand>.trash...
                    yield item, lock_prefix + item.name[1:].split(".", 1)[0]
        partial = self.root / "partial"
        for part in partial.glob("*.part") if partial.is_dir() else []:
            yield part, part.name[: -len(".part")]
        # write_atomic's temp files: .NAME.<pid>.<rand>.tmp, wherever the cache writes them
        folders = [self.root / d for d in ("refs", "parsed")]
        blobs = self.root / "blobs" / "sha256"
        folders += [d for d in blobs.iterdir()] if blobs.is_dir() else []
        todo = [self.root / "index"]  # index/<registry>/index/ab/cd/NAME: a few levels
        while todo:
            folder = todo.pop()
            if folder.is_dir() and not folder.is_symlink():
                folders.append(folder)
                todo.extend(folder.iterdir())
        for folder in folders:
            for item in folder.iterdir() if folder.is_dir() else []:
                match = dead_tmp.fullmatch(item.name)
                if match and int(match[1]) != os.getpid() and not _alive(int(match[1])):
                    yield item, None

    def _drop_leftover(self, path: Path, lock: str | None, dry_run: bool) -> int | None:
        """Delete one leftover (only measure it, when ``dry_run``) while holding its
        writer's lock, so no live writer loses it; the bytes freed, None if it stays."""
        from contextlib import nullcontext

        from filelock import FileLock, Timeout

        held = nullcontext() if lock is None else FileLock(
            str(self._dir("locks") / f"{lock}.lock"), timeout=0)
        try:
            with held:
                if dry_run:
                    return tree_size(path) if path.is_dir() else _size_or_zero(path)
                freed = remove_tree(path)[1]
                return None if os.path.lexists(path) else freed
        except Timeout:
            return None  # another process is writing it right now

    def _drop_stale_memos(self) -> None:
        """Delete parsed copies of files that are gone or have changed since."""
        import marshal

        folder = self.root / "parsed"
        for memo in folder.glob("*.marshal") if folder.is_dir() else []:
            try:
                with open(memo, "rb") as fh:
                    source, seen, _ = marshal.load(fh)
                stale = file_status(source) != seen
            except (OSError, EOFError, ValueError, TypeError):
                stale = True
            if stale:
                memo.unlink(missing_ok=True)

    @staticmethod
    def _entry_size(entry: Path) -> int:
        return tree_size(entry)

    def _drop_entry(self, entry: Path) -> int:
        """Delete a managed entry folder; returns the bytes it held.

        It is first renamed to a hidden name, so a reader finds the whole entry or none,
        never a half-deleted one; a deletion killed midway is finished by ``prune``.
        """
        if not entry.is_dir():
            return 0
        trash = entry.with_name(f".{entry.name}.{os.getpid()}.{os.urandom(4).hex()}.trash")
        try:
            os.rename(entry, trash)
        except OSError:
            return 0  # gone already (another remove), or not ours to delete
        return remove_tree(trash)[1]

    # -- HTTP index cache --------------------------------------------------------------

    def index_cache(self, registry_url: str) -> Path:
        return self._dir("index", _key(registry_url))


class StreamHasher:
    """sha256 computed on a second thread while the caller reads and writes.

    hashlib releases the GIL on large updates, so on two cores hashing overlaps the
    network and the disk instead of adding to them. A chunk is either immutable bytes,
    or a view of one of the hasher's own buffers (``buffer()``) passed back with
    ``recycle=``: the buffer returns to the free list once hashed, so a download reuses
    a few warm buffers instead of allocating one per read.
    """

    def __init__(self, prefix: bytes | None = None, buffers: int = 8):
        import hashlib
        import queue
        import threading

        self._hash = hashlib.sha256(prefix or b"")
        self._queue: queue.Queue = queue.Queue(maxsize=32)
        self._free: queue.Queue = queue.Queue()
        self._buffers = buffers
        self._made = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._digest: str | None = None

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            chunk, recycle = item
            self._hash.update(chunk)
            if recycle is not None:
                self._free.put(recycle)

    def buffer(self) -> bytearray:
        """A CHUNK-sized buffer to read into; waits while all of them are being hashed."""
        if self._free.empty() and self._made < self._buffers:
            self._made += 1
            return bytearray(CHUNK)
        return self._free.get()

    def update(self, chunk: bytes | memoryview, recycle: bytearray | None = None) -> None:
        self._queue.put((chunk, recycle))

    def hexdigest(self) -> str:
        if self._digest is None:
            self._queue.put(None)
            self._thread.join()
            self._digest = self._hash.hexdigest()
        return self._digest


_SHA256 = re.compile(r"[0-9a-f]{64}")


def snapshot_key(files: list[tuple[str, str]]) -> str:
    """The name of the snapshot entry of (path, sha256) pairs: a digest of the sorted list."""
    import hashlib

    text = "".join(f"{path}\0{sha}\n" for path, sha in sorted(files))
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(sha256: str) -> str:
    """``sha256`` if it is a blob's name (64 lower-case hex), else ``UnsafePath``: a digest
    from mlpm.lock becomes a path, and ``../../x`` must never be one."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        shown = sha256 if isinstance(sha256, str) and sha256.isprintable() else repr(sha256)
        raise UnsafePath(
            f"the sha256 '{shown}' is not 64 lower-case hex digits, so mlpm refused to use it "
            "as a file name in its cache; restore mlpm.lock from version control, or delete "
            "it and run `mlpm install`."
        )
    return sha256


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_size} {st.st_ino} {st.st_mtime_ns} {st.st_ctime_ns}"


def file_sha256(path: Path) -> str:
    import hashlib

    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()
