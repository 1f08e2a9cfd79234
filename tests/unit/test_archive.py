"""Archives for folder packages: deterministic packing, and extraction that refuses every
hostile archive without leaving a byte on disk. All archives are built here, the hostile
ones from raw TarInfo / ZipInfo records, exactly as an attacker would write them."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpm.archive import BadArchive, UnsafeArchive, extract, find_root, pack_dir
from mlpm.errors import MlpmError

# -- building archives -----------------------------------------------------------------


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced on demand so a bomb never sits in memory."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self.left)
        buf[:n] = bytes(n)
        self.left -= n
        return n


def reg(name: str, data: bytes = b"data\n", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def zeros(name: str, size: int):
    info = tarfile.TarInfo(name)
    info.size = size
    return info, lambda: Zeros(size)


def folder(name: str, mode: int = 0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def sym(name: str, target: str):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def hard(name: str, target: str):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


def special(name: str, kind: bytes):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info, None


def write_tar(path: Path, members, mode: str = "w:gz", **kwargs) -> Path:
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT, **kwargs) as tf:
        for info, data in members:  # data: bytes, a stream factory, or None
            tf.addfile(info, io.BytesIO(data) if isinstance(data, bytes) else data and data())
    return path


def write_zip(path: Path, members) -> Path:
    """``members``: (name, data, unix mode or None, compression)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode, compression in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            with zf.open(info, "w") as out:
                if isinstance(data, int):  # that many zeros, written in chunks
                    for _ in range(data // (1 << 20)):
                        out.write(bytes(1 << 20))
                else:
                    out.write(data)
    return path


def zentry(name: str, data: bytes | int = b"data\n", mode: int | None = 0o100644,
           compression: int = zipfile.ZIP_DEFLATED):
    return name, data, mode, compression


def tree(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, mode and content (or link target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                found[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- a sandbox where anything written in the wrong place is seen ------------------------


@dataclass
class Sandbox:
    root: Path
    outside: Path  # stands for the rest of the filesystem: /etc, the user's home...
    victim: Path  # stands for /etc/passwd
    archives: Path
    dest: Path

    def snapshot(self) -> dict[str, tuple]:
        return tree(self.root)


@pytest.fixture
def box(tmp_path, monkeypatch) -> Sandbox:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"original\n")
    archives = tmp_path / "archives"
    archives.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a relative write that escapes lands where the snapshot sees it
    dest = tmp_path / "cache" / "entries" / "unpacked" / "abc123"
    dest.parent.mkdir(parents=True)  # as the store does before extracting
    return Sandbox(tmp_path, outside, victim, archives, dest)


# -- pack_dir ----------------------------------------------------------------------------


def make_model_folder(root: Path, reverse: bool = False, file_mode: int = 0o644) -> Path:
    """A SavedModel-like folder; ``reverse`` creates it in the opposite order."""
    files = {
        "saved_model.pb": b"graph" * 100,
        "variables/variables.index": b"index",
        "variables/variables.data-00000-of-00001": os.urandom(0) + b"\x00\x01" * 5000,
        "fingerprint.pb": b"fp",
        "tools/run.sh": b"#!/bin/sh\necho hi\n",
    }
    root.mkdir()
    for rel in sorted(files, reverse=reverse):
        path = root / rel
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(files[rel])
        path.chmod(file_mode)
    (root / "tools" / "run.sh").chmod(file_mode | 0o111)
    (root / "assets").mkdir()  # empty folders survive the round trip
    return root


def test_packing_the_same_folder_twice_gives_identical_bytes(tmp_path):
    first = make_model_folder(tmp_path / "a")
    old = os.umask(0o077)
    try:  # a different umask, creation order, path and mtimes: none of it may show
        second = make_model_folder(tmp_path / "b", reverse=True, file_mode=0o600)
    finally:
        os.umask(old)
    for path in second.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))

    pack_dir(first, tmp_path / "one.tar.gz")
    pack_dir(second, tmp_path / "two.tar.gz")

    assert sha256(tmp_path / "one.tar.gz") == sha256(tmp_path / "two.tar.gz")
    with tarfile.open(tmp_path / "one.tar.gz") as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == [
        "assets", "fingerprint.pb", "saved_model.pb", "tools", "tools/run.sh", "variables",
        "variables/variables.data-00000-of-00001", "variables/variables.index"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: m.mode for m in members}["tools/run.sh"] == 0o755
    assert {m.name: m.mode for m in members}["saved_model.pb"] == 0o644
    raw = (tmp_path / "one.tar.gz").read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip header mtime 0
    assert not raw[3] & 0x08  # and no file name stored


def test_a_packed_folder_extracts_to_the_same_files_and_exec_bits(box):
    src = make_model_folder(box.root / "model")
    pack_dir(src, box.archives / "model.tar.gz")

    extract(box.archives / "model.tar.gz", box.dest)

    assert tree(box.dest) == tree(src) | {"assets": ("dir", 0o755), "tools": ("dir", 0o755),
                                          "variables": ("dir", 0o755)}
    assert os.access(box.dest / "tools" / "run.sh", os.X_OK)
    assert find_root(box.dest, "saved_model.pb") == box.dest


@pytest.mark.parametrize("make", [
    lambda d: (d / "link").symlink_to("saved_model.pb"),
    lambda d: (d / "variables" / "escape").symlink_to("/etc/passwd"),
    lambda d: os.mkfifo(d / "pipe"),
], ids=["symlink-inside", "symlink-outside", "fifo"])
def test_packing_refuses_anything_but_files_and_folders(tmp_path, make):
    src = make_model_folder(tmp_path / "model")
    make(src)

    with pytest.raises(UnsafeArchive, match="cannot pack"):
        pack_dir(src, tmp_path / "model.tar.gz")
    assert not os.path.lexists(tmp_path / "model.tar.gz")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_packing_refuses_to_write_the_archive_inside_the_folder(tmp_path):
    src = make_model_folder(tmp_path / "model")
    with pytest.raises(ValueError, match="inside the folder"):
        pack_dir(src, src / "model.tar.gz")


# -- extract: ordinary archives ----------------------------------------------------------

def hub_repo() -> list:
    """The members of a GitHub tarball of a PyTorch Hub repo."""
    return [folder("pytorch-vision-1a2b3c4"),
            reg("pytorch-vision-1a2b3c4/hubconf.py", b"dependencies = ['torch']\n"),
            folder("pytorch-vision-1a2b3c4/models"),
            reg("pytorch-vision-1a2b3c4/models/resnet.py", b"def resnet(): pass\n"),
            reg("pytorch-vision-1a2b3c4/setup.sh", b"#!/bin/sh\n", 0o755)]


@pytest.mark.parametrize("mode", ["w:gz", "w:", "w:bz2", "w:xz"])
def test_a_github_tarball_extracts_and_its_hubconf_is_found(box, mode):
    # A misleading suffix: the format is read from the content. GitHub also writes a
    # global pax header with the commit id, which is metadata, not a member.
    archive = write_tar(box.archives / "download.bin", hub_repo(), mode,
                        pax_headers={"comment": "1a2b3c4d5e6f"})

    assert extract(archive, box.dest) == box.dest

    root = find_root(box.dest, "hubconf.py")
    assert root == box.dest / "pytorch-vision-1a2b3c4"
    assert (root / "models" / "resnet.py").read_text() == "def resnet(): pass\n"
    assert stat.S_IMODE((root / "setup.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((root / "hubconf.py").stat().st_mode) == 0o644
    assert [p.name for p in box.dest.parent.iterdir()] == ["abc123"]  # no temp folder left


def test_a_github_zipball_extracts_and_its_hubconf_is_found(box):
    archive = write_zip(box.archives / "main.zip", [
        zentry("owner-repo-9f8e7d6/", b"", 0o40755),
        zentry("owner-repo-9f8e7d6/hubconf.py", b"dependencies = []\n"),
        zentry("owner-repo-9f8e7d6/tools/run.sh", b"#!/bin/sh\n", 0o100755),
        zentry("owner-repo-9f8e7d6/README.md", b"# hi\n", None, zipfile.ZIP_STORED),
    ])

    extract(archive, box.dest)

    root = find_root(box.dest, "hubconf.py")
    assert root == box.dest / "owner-repo-9f8e7d6"
    assert (root / "README.md").read_text() == "# hi\n"
    assert os.access(root / "tools" / "run.sh", os.X_OK)


def test_find_root_finds_a_saved_model_at_the_top_or_wrapped(box):
    flat = write_tar(box.archives / "flat.tgz", [
        reg("./saved_model.pb"), folder("./variables"), reg("./variables/variables.index")])
    wrapped = write_zip(box.archives / "wrapped.zip", [
        zentry("model/1/saved_model.pb"), zentry("model/1/variables/variables.index")])

    assert find_root(extract(flat, box.dest), "saved_model.pb") == box.dest
    other = box.dest.with_name("def456")
    assert find_root(extract(wrapped, other), "saved_model.pb") == other / "model" / "1"


def test_find_root_explains_a_missing_marker(box):
    extract(write_tar(box.archives / "a.tgz", [reg("repo/README.md")]), box.dest)

    with pytest.raises(ValueError, match="no hubconf.py at its top or up to 2 folders down"):
        find_root(box.dest, "hubconf.py")


def test_symlinks_that_stay_inside_the_entry_are_kept(box):
    archive = write_tar(box.archives / "a.tgz", [
        reg("v1/weights.bin", b"w"), sym("latest", "v1"), sym("v1/alias.bin", "weights.bin"),
        sym("v1/up", "../v1/weights.bin")])

    extract(archive, box.dest)

    assert os.readlink(box.dest / "latest") == "v1"
    assert (box.dest / "latest" / "alias.bin").read_bytes() == b"w"
    assert (box.dest / "v1" / "up").read_bytes() == b"w"


def test_a_hardlink_to_an_earlier_member_becomes_a_copy(box):
    archive = write_tar(box.archives / "a.tgz", [reg("a.bin", b"same"), hard("b.bin", "a.bin")])

    extract(archive, box.dest)

    assert (box.dest / "b.bin").read_bytes() == b"same"


def test_setuid_setgid_and_sticky_bits_are_dropped_not_refused(box):
    archive = write_tar(box.archives / "a.tgz", [
        folder("shared", 0o1777), reg("shared/su", b"#!/bin/sh\n", 0o4755),
        reg("shared/sg", b"x", 0o2644), reg("shared/world", b"x", 0o666)])

    extract(archive, box.dest)

    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (box.dest / "shared").iterdir()}
    assert modes == {"su": 0o755, "sg": 0o644, "world": 0o644}
    assert stat.S_IMODE((box.dest / "shared").stat().st_mode) == 0o755
    assert {p.stat().st_uid for p in box.dest.rglob("*")} == {os.getuid()}


def test_a_small_archive_of_repetitive_text_is_not_taken_for_a_bomb(box):
    # 512 KiB of zeros compress 1000-fold, but stay under the 1 MiB floor of the check.
    archive = write_tar(box.archives / "a.tgz", [zeros("table.txt", 512 << 10)])

    extract(archive, box.dest)

    assert (box.dest / "table.txt").stat().st_size == 512 << 10


def test_an_existing_destination_is_not_touched(box):
    box.dest.mkdir(parents=True)
    (box.dest / "keep").write_text("mine")
    archive = write_tar(box.archives / "a.tgz", hub_repo())

    with pytest.raises(FileExistsError):
        extract(archive, box.dest)
    assert tree(box.dest) == {"keep": ("file", 0o644, b"mine")}


def test_a_file_that_is_no_archive_is_refused_clearly(box):
    junk = box.archives / "model.tar.gz"
    junk.write_bytes(b"<html>404 not found</html>")

    with pytest.raises(BadArchive, match="is not a tar or zip archive"):
        extract(junk, box.dest)
    assert not any(box.dest.parent.iterdir())


def test_a_failure_mid_extraction_leaves_no_temp_folder(box):
    good = write_tar(box.archives / "good.tgz", [
        reg(f"part{i}.bin", os.urandom(200_000)) for i in range(4)])
    broken = box.archives / "broken.tgz"
    broken.write_bytes(good.read_bytes()[: good.stat().st_size * 3 // 4])
    before = box.snapshot()

    with pytest.raises(BadArchive, match="not a readable archive"):
        extract(broken, box.dest)

    assert box.snapshot() == before
    assert not os.path.lexists(box.dest)


# -- extract: hostile archives -------------------------------------------------------------

Build = Callable[[Sandbox], Path]
# Every hostile tar starts with harmless members so the refusal comes mid-extraction.
def tar(*members, mode: str = "w:gz") -> Build:
    good = [folder("pkg"), reg("pkg/hubconf.py", b"dependencies = []\n")]
    return lambda box: write_tar(box.archives / "hostile.tgz", [*good, *members], mode)


def zipped(*members) -> Build:
    return lambda box: write_zip(box.archives / "hostile.zip",
                                 [zentry("pkg/hubconf.py"), *members])


HOSTILE: dict[str, tuple[Build, dict, str]] = {
    "tar ../evil": (tar(reg("../evil")), {}, r"'\.\.' component"),
    "tar /abs/evil": (tar(reg("/abs/evil")), {}, "absolute path"),
    "tar absolute path onto a victim file": (
        lambda b: tar(reg(str(b.victim), b"pwned"))(b), {}, "absolute path"),
    "tar a/../../evil": (tar(reg("a/../../evil")), {}, r"'\.\.' component"),
    "tar backslash ..\\evil": (tar(reg("..\\evil")), {}, "backslash"),
    "tar drive letter C:/evil": (tar(reg("C:/evil")), {}, "drive letter"),
    "tar symlink to /etc/passwd": (tar(sym("passwd", "/etc/passwd")), {}, "absolute path"),
    "tar symlink to a victim, then a file written through it": (
        lambda b: tar(sym("passwd", str(b.victim)), reg("passwd", b"pwned"))(b), {},
        "absolute path"),
    "tar symlink to an outside folder, then a file inside it": (
        lambda b: tar(sym("d", str(b.outside)), reg("d/evil", b"pwned"))(b), {},
        "absolute path"),
    "tar symlink to ..": (tar(sym("up", "..")), {}, "outside the entry"),
    "tar symlink to .., then a file through it": (
        tar(sym("pkg/up", "../.."), reg("pkg/up/evil")), {}, "outside the entry"),
    "tar relative symlink to the victim": (
        tar(sym("pkg/v", "../../../../../outside/victim")), {}, "outside the entry"),
    "tar chain of links that escapes only together": (
        tar(sym("sub/b", ".."), sym("a", "sub/b/../..")), {}, "through other links"),
    "tar symlink inside, then a file of the same name": (
        tar(reg("real.bin"), sym("model.bin", "real.bin"), reg("model.bin", b"evil")), {},
        "would overwrite the symlink"),
    "tar a file, then a file under it": (
        tar(reg("a"), reg("a/b")), {}, "which is a file, not a folder"),
    "tar symlink inside, then a file under it": (
        tar(folder("real"), sym("d", "real"), reg("d/evil")), {}, "which is a symlink"),
    "tar hardlink to /etc/passwd": (tar(hard("passwd", "/etc/passwd")), {}, "absolute path"),
    "tar hardlink to an outside file": (
        tar(hard("x", "../../../../../outside/victim")), {}, r"'\.\.' component"),
    "tar hardlink to a non-member": (tar(hard("x", "nothere")), {}, "not an earlier regular"),
    "tar char device": (tar(special("null", tarfile.CHRTYPE)), {}, "device file"),
    "tar block device": (tar(special("sda", tarfile.BLKTYPE)), {}, "device file"),
    "tar fifo": (tar(special("pipe", tarfile.FIFOTYPE)), {}, "fifo"),
    "tar.gz bomb": (tar(zeros("bomb.bin", 40 << 20)), {}, "decompression bomb"),
    "tar.gz header bomb (an 8 MB member name)": (
        tar(reg("n" * (8 << 20))), {}, "decompression bomb"),
    "plain tar over max_total_bytes": (
        tar(*[reg(f"f{i}", b"x" * 400) for i in range(3)], mode="w:"),
        {"max_total_bytes": 1000}, "limit of 1000 bytes"),
    "tar over max_members": (
        tar(*[reg(f"f{i}") for i in range(10)]), {"max_members": 5}, "limit of 5 members"),
    "zip ../evil": (zipped(zentry("../evil")), {}, r"'\.\.' component"),
    "zip /abs/evil": (zipped(zentry("/abs/evil")), {}, "absolute path"),
    "zip backslash": (zipped(zentry("..\\..\\evil")), {}, "backslash"),
    "zip symlink outside": (
        zipped(zentry("pkg/link", b"../../../../../outside/victim", 0o120777)), {},
        "outside the entry"),
    "zip symlink to a victim, then a file written through it": (
        lambda b: zipped(zentry("link", str(b.victim).encode(), 0o120777),
                         zentry("link", b"pwned"))(b), {}, "absolute path"),
    "zip symlink to an outside folder, then a file inside it": (
        zipped(zentry("d", b"../../../../../outside", 0o120777), zentry("d/evil")), {},
        "outside the entry"),
    "zip char device": (zipped(zentry("null", b"", 0o20666)), {}, "device file"),
    "zip bomb": (zipped(zentry("bomb.bin", 40 << 20)), {}, "decompression bomb"),
    "zip over max_total_bytes": (
        zipped(*[zentry(f"f{i}", b"x" * 400) for i in range(3)]),
        {"max_total_bytes": 1000}, "limit of 1000 bytes"),
    "zip over max_members": (
        zipped(*[zentry(f"f{i}") for i in range(10)]), {"max_members": 5},
        "limit of 5 members"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile warns when building one
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_archive_is_refused_and_nothing_is_written(box, case):
    build, limits, reason = HOSTILE[case]
    archive = build(box)
    before = box.snapshot()

    with pytest.raises(UnsafeArchive, match=reason) as err:
        extract(archive, box.dest, **limits)

    message = str(err.value)
    assert str(archive) in message and "nothing was extracted" in message
    assert isinstance(err.value, MlpmError) and isinstance(err.value, ValueError)
    assert not os.path.lexists(box.dest)
    assert box.victim.read_bytes() == b"original\n"
    assert not os.path.lexists("/abs/evil") and not os.path.lexists("/evil")
    assert box.snapshot() == before  # nothing anywhere in the sandbox changed
