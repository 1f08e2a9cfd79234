"""Archives for package kinds that are folders (a TF SavedModel, a PyTorch Hub code repo).

``pack_dir`` writes a deterministic ``.tar.gz`` of a folder: packing the same files
twice gives the same bytes, so the same folder always publishes under the same sha256.

``extract`` unpacks a tar (plain, gzip, bzip2, xz) or zip archive, recognised by its
content, into a managed entry. It trusts nothing in the archive: every member name,
link target, type and size is checked by mlpm itself (and by tarfile's ``data_filter``
as a second opinion), sizes are counted as bytes are actually decompressed, and the
entry is built in a hidden sibling folder that is renamed into place only when complete,
so a reader sees a whole entry or none and a refused archive leaves nothing on disk.

    >>> pack_dir(Path("my_saved_model"), Path("model.tar.gz"))       # doctest: +SKIP
    >>> root = find_root(extract(Path("model.tar.gz"), Path("entry")), "saved_model.pb")
    ... # doctest: +SKIP

Setuid, setgid and sticky bits are dropped, not refused: extracted files are 0o644, or
0o755 when executable in the archive, folders 0o755, all owned by the current user.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mlpm.errors import BadArchive as BadArchive  # both re-exported; defined in mlpm.errors
from mlpm.errors import UnsafeArchive as UnsafeArchive

if TYPE_CHECKING:
    from io import BufferedIOBase

CHUNK = 1 << 20
# A member or archive is judged a decompression bomb only past this many bytes: tiny
# archives of repetitive text legitimately compress far better than any sane ratio.
RATIO_FLOOR = 1 << 20
# Bytes of tar headers and padding allowed per member on top of ``max_total_bytes``.
HEADER_ALLOWANCE = 4096
MAX_SYMLINK_HOPS = 40
MAX_SYMLINK_TARGET = 4096
# Deeper or longer names are refused: real SavedModels and hub repos stay far below, and
# past them the cache's paths near the OS limit (4,096 bytes) and tree walks near
# Python's recursion limit. 255 bytes is the longest file name common file systems allow.
MAX_DEPTH = 64
MAX_NAME_BYTES = 1024
MAX_PART_BYTES = 255

_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty zip: only the end-of-central-directory record
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)


# -- packing -----------------------------------------------------------------------------


def pack_dir(src: Path, dest: Path) -> None:
    """Write a deterministic ``.tar.gz`` of the folder ``src`` to ``dest``.

    Members are relative to ``src``, in sorted order, with mtime 0, owner 0/0 and no
    owner names, modes 0o644 (0o755 if executable) for files and 0o755 for folders, and
    a gzip header with mtime 0 and no file name: the same files give the same bytes.
    Symlinks, devices, fifos and sockets are refused with ``UnsafeArchive``.

        >>> pack_dir(Path("my_saved_model"), Path("model.tar.gz"))   # doctest: +SKIP
    """
    import gzip

    src, dest = Path(src), Path(dest)
    if not src.is_dir():
        raise NotADirectoryError(f"cannot pack {src}: it is not a folder.")
    if dest.absolute().resolve().is_relative_to(src.resolve()):
        raise ValueError(f"cannot pack {src} into {dest}: the archive would be inside the "
                         "folder it packs; write it somewhere else.")
    members = list(_walk(src, src))  # walk fully first: refuse before writing anything
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        with open(tmp, "wb") as raw:
            # filename="" and mtime=0 keep the gzip header free of anything that varies.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                               compresslevel=6) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
                    for rel, path, st in members:
                        _add_member(tf, rel, path, st)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _walk(top: Path, folder: Path,
          prefix: str = "") -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every entry under ``folder``, parents before children, siblings sorted by name."""
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)
    if entries and prefix.count("/") >= MAX_DEPTH:  # also keeps this recursion shallow
        raise UnsafeArchive(f"cannot pack {top}: {prefix.rstrip('/')!r} holds files more than "
                            f"{MAX_DEPTH} levels deep, which mlpm refuses to extract; "
                            "flatten the folder.")
    for entry in entries:
        rel = prefix + entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            yield rel, Path(entry.path), st
            yield from _walk(top, Path(entry.path), rel + "/")
        elif stat.S_ISREG(st.st_mode):
            yield rel, Path(entry.path), st
        else:
            kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file or folder"
            raise UnsafeArchive(
                f"cannot pack {top}: {rel!r} is {kind}; replace it with a copy of the file it "
                "stands for, since mlpm archives hold only plain files and folders.")


def _add_member(tf: tarfile.TarFile, rel: str, path: Path, st: os.stat_result) -> None:
    info = tarfile.TarInfo(rel)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tf.addfile(info)
        return
    info.mode = 0o755 if st.st_mode & 0o111 else 0o644
    with open(path, "rb") as fh:
        info.size = os.fstat(fh.fileno()).st_size  # the size of what is read, not of the walk
        tf.addfile(info, fh)


# -- extracting --------------------------------------------------------------------------


def extract(archive: Path, dest: Path, *, max_total_bytes: int = 64 << 30,
            max_members: int = 200_000, max_ratio: int = 200) -> Path:
    """Safely extract a tar / tar.gz / tar.bz2 / tar.xz / zip ``archive`` into ``dest``.

    The format is recognised from the content, not the name. ``dest`` must not exist;
    the archive is extracted into a hidden sibling temp folder that is renamed to
    ``dest`` only once complete, and removed on any failure, so nothing half-built or
    refused stays on disk. Returns ``dest``.

    Refused with ``UnsafeArchive``: absolute names, ``..`` components, drive letters,
    backslashes or NULs in names; symlinks whose target (followed through other links)
    leaves the entry; hardlinks to anything but an earlier regular file member; devices,
    fifos and sockets; a name that appears twice (unless both are folders) or that lies
    under a file or symlink member; a name more than ``MAX_DEPTH`` (64) levels deep, longer
    than ``MAX_NAME_BYTES`` (1,024) or with a component longer than 255 bytes; more than
    ``max_members`` members; more than ``max_total_bytes`` bytes, counted as they are
    decompressed; and, past 1 MiB, a member or archive that decompresses to more than
    ``max_ratio`` times its size.
    Unreadable archives raise ``BadArchive``.

        >>> extract(Path("model.tar.gz"), Path("entries/abc123"))   # doctest: +SKIP
        PosixPath('entries/abc123')
    """
    archive, dest = Path(archive), Path(dest)
    if os.path.lexists(dest):
        raise FileExistsError(f"cannot extract {archive} into {dest}: it already exists.")
    kind = _sniff(archive)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, and named for its writer: `mlpm cache prune` clears one whose writer died.
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{os.urandom(8).hex()}.tmp"
    os.mkdir(tmp, 0o700)  # private until complete
    try:
        ex = _Extraction(archive, tmp, max_total_bytes=max_total_bytes,
                         max_members=max_members, max_ratio=max_ratio)
        if kind == "zip":
            _extract_zip(ex)
        else:
            _extract_tar(ex, kind)
        ex.finish()
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, dest)
        except OSError as exc:
            if os.path.lexists(dest):  # another process built it meanwhile
                raise FileExistsError(
                    f"cannot extract {archive} into {dest}: it appeared while extracting."
                ) from exc
            raise
    except BaseException:
        from mlpm.files import remove_tree

        remove_tree(tmp)  # iterative: no tree is too deep to clean up
        raise
    return dest


def _sniff(archive: Path) -> str:
    """``zip``, ``gz``, ``bz2``, ``xz`` or ``tar``, from the first bytes of the file."""
    with open(archive, "rb") as fh:
        head = fh.read(8)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    try:
        if tarfile.is_tarfile(archive):
            return "tar"
    except OSError:
        pass
    raise BadArchive(f"{archive} is not a tar or zip archive (its first bytes are "
                     f"{head!r}); nothing was extracted; check the artifact's format.")


def _extract_tar(ex: _Extraction, kind: str) -> None:
    import bz2
    import gzip
    import lzma

    data_filter = getattr(tarfile, "data_filter", None)  # Python 3.11.4+
    with open(ex.archive, "rb") as raw:
        stream: IO[bytes] | BufferedIOBase = raw
        if kind == "gz":
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif kind == "bz2":
            stream = bz2.BZ2File(raw, mode="rb")
        elif kind == "xz":
            stream = lzma.LZMAFile(raw, mode="rb")
        packed = ex.archive_size if stream is not raw else None
        meter = _Meter(stream, ex, packed)
        try:
            # Stream mode: tarfile only ever calls meter.read(), so every byte it
            # decompresses (headers too) is counted before it can pile up in memory.
            # (the stubs ask a fileobj for seek/write/close, which stream mode never calls)
            with tarfile.open(fileobj=meter, mode="r|") as tf:  # type: ignore[call-overload]
                for member in tf:
                    ex.current = member.name
                    ex.count_member(member.name)
                    name = ex.clean(member.name)
                    _check_tar_type(ex, member)
                    if member.issym() or member.islnk():
                        ex.check_link_target(name, member.linkname, hard=member.islnk())
                    if data_filter is not None:
                        try:
                            data_filter(member, str(ex.root))
                        except tarfile.FilterError as exc:
                            ex.refuse(member.name, f"is refused by tarfile's data filter ({exc})")
                    if member.isdir():
                        ex.add_dir(name, member.name)
                    elif member.issym():
                        ex.add_symlink(name, member.name, member.linkname)
                    elif member.islnk():
                        ex.add_hardlink(name, member.name, member.linkname)
                    else:
                        src = tf.extractfile(member)
                        assert src is not None  # a regular member always has a stream
                        ex.add_file(name, member.name, src, bool(member.mode & 0o111),
                                    packed_size=None, archive_packed=packed)
        except tarfile.TarError as exc:
            raise ex.unreadable(exc) from None
        finally:
            if stream is not raw:
                stream.close()


def _check_tar_type(ex: _Extraction, member: tarfile.TarInfo) -> None:
    if member.ischr() or member.isblk():
        ex.refuse(member.name, "is a device file")
    if member.isfifo():
        ex.refuse(member.name, "is a fifo")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        ex.refuse(member.name, f"has an unsupported tar type {member.type!r}")


def _extract_zip(ex: _Extraction) -> None:
    import zipfile
    import zlib

    try:
        zf = zipfile.ZipFile(ex.archive)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ex.unreadable(exc) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > ex.max_members:  # the central directory is read up front
            ex.count_member(infos[ex.max_members].filename, count=len(infos))
        for info in infos:
            ex.current = info.filename
            ex.count_member(info.filename)
            name = ex.clean(info.filename)
            mode = info.external_attr >> 16  # unix mode, when the zip was made on unix
            ftype = stat.S_IFMT(mode)
            if info.flag_bits & 0x1:
                raise ex.unreadable(f"member {info.filename!r} is encrypted")
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                ex.refuse(info.filename, "is a device file")
            if stat.S_ISFIFO(mode):
                ex.refuse(info.filename, "is a fifo")
            if ftype not in (0, stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK):
                ex.refuse(info.filename, f"has an unsupported file type {oct(ftype)}")
            packed = info.compress_size if info.compress_type != zipfile.ZIP_STORED else None
            try:
                if ftype == stat.S_IFLNK:
                    with zf.open(info) as fh:
                        raw = fh.read(MAX_SYMLINK_TARGET + 1)
                    if len(raw) > MAX_SYMLINK_TARGET:
                        ex.refuse(info.filename, "is a symlink with an oversized target")
                    target = raw.decode("utf-8", "surrogateescape")
                    ex.check_link_target(name, target, hard=False)
                    ex.add_symlink(name, info.filename, target)
                elif ftype == stat.S_IFDIR or (ftype == 0 and info.is_dir()):
                    ex.add_dir(name, info.filename)
                else:
                    with zf.open(info) as fh:
                        ex.add_file(name, info.filename, fh, bool(mode & 0o111),
                                    packed_size=packed, archive_packed=ex.archive_size)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                    RuntimeError) as exc:
                raise ex.unreadable(exc) from None


class _Meter:
    """A read-only stream over decompressed tar data that counts every byte it yields
    and refuses the archive as soon as the count passes the size or ratio limit."""

    def __init__(self, stream: IO[bytes] | BufferedIOBase, ex: _Extraction,
                 packed: int | None):
        self.stream, self.ex, self.count = stream, ex, 0
        self.total_cap = ex.max_total_bytes + HEADER_ALLOWANCE * (ex.max_members + 1)
        self.ratio_cap = max(RATIO_FLOOR, ex.max_ratio * packed) if packed else None
        self.cap = min(self.total_cap, self.ratio_cap or self.total_cap)

    def read(self, n: int = -1) -> bytes:
        import lzma
        import zlib

        n = CHUNK if n is None or n < 0 else n  # never an unbounded read
        try:
            data = self.stream.read(min(n, self.cap - self.count + 1))
        except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
            raise self.ex.unreadable(exc) from None
        self.count += len(data)
        if self.count > self.cap:
            if self.ratio_cap is not None and self.count > self.ratio_cap:
                self.ex.refuse_bomb(self.ex.current, "the archive")
            self.ex.refuse(self.ex.current, f"takes the archive past the limit of "
                                            f"{self.ex.max_total_bytes} bytes")
        return data


class _Extraction:
    """The state of one extraction: what was written where, and the limits so far."""

    def __init__(self, archive: Path, root: Path, *, max_total_bytes: int, max_members: int,
                 max_ratio: int):
        self.archive, self.root = archive, root
        self.archive_size = os.path.getsize(archive)
        self.max_total_bytes, self.max_members, self.max_ratio = (
            max_total_bytes, max_members, max_ratio)
        self.members = 0
        self.total = 0
        self.current = "<header>"
        self.kinds: dict[str, str] = {}  # cleaned name -> "dir" | "file" | "symlink"
        self.symlinks: list[tuple[str, str, str]] = []  # (name, raw name, target)

    # -- refusing ------------------------------------------------------------------------

    def refuse(self, member: str, reason: str) -> None:
        raise UnsafeArchive(f"refusing to extract {self.archive}: member {member!r} {reason}; "
                            "nothing was extracted (report the archive to its publisher).")

    def refuse_bomb(self, member: str, what: str) -> None:
        self.refuse(member, f"makes {what} decompress to more than {self.max_ratio} times its "
                            "compressed size (a decompression bomb)")

    def unreadable(self, detail: object) -> BadArchive:
        return BadArchive(f"{self.archive} is not a readable archive ({detail}); nothing was "
                          "extracted; download it again or report it to its publisher.")

    # -- checking ------------------------------------------------------------------------

    def count_member(self, member: str, count: int | None = None) -> None:
        self.members = count if count is not None else self.members + 1
        if self.members > self.max_members:
            self.refuse(member, f"is past the limit of {self.max_members} members")

    def clean(self, raw: str, what: str = "has a name that") -> str:
        """The member name as a relative POSIX path inside the entry ("" for its root)."""
        if "\x00" in raw:
            self.refuse(self.current, f"{what} contains a NUL byte")
        if "\\" in raw:  # a separator on Windows, a trick everywhere else
            self.refuse(self.current, f"{what} contains a backslash")
        if raw.startswith("/"):
            self.refuse(self.current, f"{what} is an absolute path")
        if len(raw) >= 2 and raw[1] == ":" and raw[0].isascii() and raw[0].isalpha():
            self.refuse(self.current, f"{what} starts with a drive letter")
        parts = [p for p in raw.split("/") if p not in ("", ".")]
        if ".." in parts:
            self.refuse(self.current, f"{what} contains a '..' component")
        if len(parts) > MAX_DEPTH:
            self.refuse(self.current, f"{what} is {len(parts)} levels deep, past the limit "
                                      f"of {MAX_DEPTH}")
        name = "/".join(parts)
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            self.refuse(self.current, f"{what} is longer than {MAX_NAME_BYTES} bytes")
        if any(len(p.encode("utf-8", "surrogateescape")) > MAX_PART_BYTES for p in parts):
            self.refuse(self.current, f"{what} has a component longer than {MAX_PART_BYTES} "
                                      "bytes")
        return name

    def check_link_target(self, name: str, target: str, *, hard: bool) -> None:
        """Refuse a link whose target, read as written, points outside the entry."""
        if not target:
            self.refuse(self.current, "is a link with an empty target")
        if hard:
            # tar hardlink targets are member names, relative to the archive root.
            rel = self.clean(target, "is a hardlink to a name that")
            if self.kinds.get(rel) != "file":
                self.refuse(self.current, f"is a hardlink to {target!r}, which is not an "
                                          "earlier regular file in the archive")
            return
        if "\x00" in target or "\\" in target:
            self.refuse(self.current, "is a symlink whose target has a NUL or backslash")
        if target.startswith("/"):
            self.refuse(self.current, f"is a symlink to the absolute path {target!r}")
        depth = 0
        for part in (name.split("/")[:-1] + target.split("/")):
            depth += {"": 0, ".": 0, "..": -1}.get(part, 1)
            if depth < 0:
                self.refuse(self.current, f"is a symlink to {target!r}, outside the entry")

    # -- writing -------------------------------------------------------------------------

    def _claim(self, name: str, member: str, kind: str) -> Path:
        """Reserve ``name`` for a member of ``kind``, creating its parent folders."""
        if not name:
            if kind == "dir":
                return self.root
            self.refuse(member, "names the entry folder itself")
        old = self.kinds.get(name)
        if old is not None and not (old == kind == "dir"):
            what = "the symlink" if old == "symlink" else f"the {old}"
            self.refuse(member, f"appears again and would overwrite {what} of the same name")
        parts = name.split("/")
        path = self.root
        for i, part in enumerate(parts[:-1]):
            path = path / part
            prefix = "/".join(parts[: i + 1])
            seen = self.kinds.get(prefix)
            if seen not in (None, "dir"):
                self.refuse(member, f"lies under {prefix!r}, which is a {seen}, not a folder")
            if seen is None:
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)  # mkdir's mode is filtered by the umask
                self.kinds[prefix] = "dir"
            if not stat.S_ISDIR(os.lstat(path).st_mode):  # never write through a link
                self.refuse(member, f"lies under {prefix!r}, which is not a real folder")
        self.kinds[name] = kind
        return self.root / name

    def add_dir(self, name: str, member: str) -> None:
        existed = self.kinds.get(name) == "dir"
        path = self._claim(name, member, "dir")
        if path != self.root and not existed:
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)

    def add_file(self, name: str, member: str, src: IO[bytes], executable: bool, *,
                 packed_size: int | None, archive_packed: int | None) -> None:
        """Copy ``src`` into the entry, counting real bytes against every limit."""
        path = self._claim(name, member, "file")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                self.total += len(chunk)
                if self.total > self.max_total_bytes:
                    self.refuse(member, f"takes the archive past the limit of "
                                        f"{self.max_total_bytes} bytes")
                if packed_size is not None and written > max(
                        RATIO_FLOOR, self.max_ratio * max(packed_size, 1)):
                    self.refuse_bomb(member, "itself")
                if archive_packed is not None and self.total > max(
                        RATIO_FLOOR, self.max_ratio * archive_packed):
                    self.refuse_bomb(member, "the archive")
                out.write(chunk)
            os.fchmod(out.fileno(), 0o755 if executable else 0o644)  # no setuid, ever

    def add_hardlink(self, name: str, member: str, target: str) -> None:
        """Store a hardlink as a copy of the earlier regular file it names."""
        rel = self.clean(target, "is a hardlink to a name that")
        source = self.root / rel
        with open(source, "rb") as src:
            executable = bool(os.fstat(src.fileno()).st_mode & 0o111)
            self.add_file(name, member, src, executable, packed_size=None, archive_packed=None)

    def add_symlink(self, name: str, member: str, target: str) -> None:
        """Reserve the name now; the link itself is made in ``finish``, after every file,
        so no member can ever be written through it."""
        self._claim(name, member, "symlink")
        self.symlinks.append((name, member, target))

    def finish(self) -> None:
        """Create the symlinks, then check that each, followed through the others,
        stays inside the entry (chains of individually harmless links can escape)."""
        for name, _member, target in self.symlinks:
            os.symlink(target, self.root / name)
        for name, member, target in self.symlinks:
            if not self._stays_inside(name.split("/")):
                self.refuse(member, f"is a symlink to {target!r}, which leads outside the "
                                    "entry through other links")

    def _stays_inside(self, parts: list[str]) -> bool:
        """Follow ``parts`` from the root like the OS would; False if it ever leaves."""
        todo = list(parts)
        resolved: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    return False
                resolved.pop()
                continue
            resolved.append(part)
            path = self.root.joinpath(*resolved)
            if path.is_symlink():
                hops += 1
                target = os.readlink(path)
                if hops > MAX_SYMLINK_HOPS or target.startswith("/"):
                    return False
                resolved.pop()
                todo[:0] = target.split("/")
        return True


# -- finding the package inside an entry -------------------------------------------------


def read_member(archive, info, limit: int) -> bytes:
    """The bytes of one member of an open ``zipfile.ZipFile``, read at most ``limit`` of them
    (its header's size may lie). Raises ValueError naming the member when it is larger or
    cannot be read (corrupt, encrypted, an unknown compression): the readers of model
    archives (mlpm/interface) turn that into their own one-sentence error."""
    import zipfile
    import zlib

    if info.file_size > limit:
        raise ValueError(f"{info.filename} is larger than {limit >> 20} MiB")
    try:
        with archive.open(info) as fh:
            data = fh.read(limit + 1)
    except (zipfile.BadZipFile, NotImplementedError, zlib.error, EOFError, OSError,
            RuntimeError) as exc:
        raise ValueError(f"{info.filename} cannot be read ({exc})") from None
    if len(data) > limit:
        raise ValueError(f"{info.filename} is larger than {limit >> 20} MiB")
    return data


def find_root(entry: Path, marker: str) -> Path:
    """The folder in ``entry`` that holds ``marker`` (``hubconf.py``, ``saved_model.pb``).

    That is ``entry`` itself or a folder at most 2 levels down, such as the single
    ``owner-repo-<sha>/`` folder GitHub wraps its archives in. Raises ``BadArchive``
    (a ``ValueError``) when no such folder, or more than one at the same depth, exists.

        >>> find_root(Path("entries/abc123"), "hubconf.py")   # doctest: +SKIP
        PosixPath('entries/abc123/pytorch-vision-1a2b3c4')
    """
    entry = Path(entry)
    level = [entry]
    for _depth in range(3):
        found = [d for d in level if (d / marker).is_file() and not (d / marker).is_symlink()]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(str(d.relative_to(entry)) for d in found)
            raise BadArchive(f"{entry} holds {marker} in several folders ({names}); an "
                             "archive must contain exactly one package.")
        level = sorted(c for d in level for c in d.iterdir()
                       if c.is_dir() and not c.is_symlink())
    raise BadArchive(f"{entry} has no {marker} at its top or up to 2 folders down; check that "
                     "the artifact is the kind of package it is published as.")
