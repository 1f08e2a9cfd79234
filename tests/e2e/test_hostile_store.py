"""A hostile or unlucky cache and registry: archives deep enough to defeat a recursive
delete, what killed writers leave behind, malformed registry files, and `mlpm remove`
racing `mlpm.load` in another process. Every attack is built here, as an attacker (or a
crash, or a second terminal) would make it; each test checks the exact sentence the user
sees, that nothing outside the store changed, and that the store stayed consistent."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from mlpm.archive import MAX_DEPTH, UnsafeArchive, extract, pack_dir
from mlpm.cli import main
from mlpm.files import remove_tree
from mlpm.store import Store
from tests.conftest import publish, run_mlpm

DEEP = 1100  # past Python's recursion limit (1,000), where shutil.rmtree and rglob fail


@pytest.fixture(autouse=True)
def _no_deep_tree_left_behind(tmp_path):
    """pytest deletes old temp folders with shutil.rmtree, which a 1,100-level tree defeats:
    whatever a test leaves under tmp_path goes with mlpm's own iterative delete."""
    yield
    remove_tree(tmp_path)


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every path under ``root`` (but ``skip``) with its type and content, walked without
    recursion so that a 1,100-level tree can be compared too."""
    found: dict[str, tuple] = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        for entry in os.scandir(folder):
            path = Path(entry.path)
            if skip is not None and path == skip:
                continue
            rel = path.relative_to(root).as_posix()
            if entry.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif entry.is_dir():
                found[rel] = ("dir",)
                stack.append(path)
            else:
                found[rel] = ("file", path.read_bytes())
    return found


def make_deep(top: Path, levels: int, payload: bytes, link_to: Path | None = None) -> Path:
    """``levels`` nested folders under ``top`` with ``payload`` at the bottom, a read-only
    folder half-way down, and optionally a symlink at the bottom to a folder outside."""
    top.mkdir(parents=True, exist_ok=True)
    bottom = top
    for _ in range(levels):  # os.makedirs recurses once per level: it cannot make this
        bottom = bottom / "d"
        os.mkdir(bottom)
    (bottom / "weights.bin").write_bytes(payload)
    if link_to is not None:
        os.symlink(link_to, bottom / "outside")  # a delete that follows it wipes the victim
    os.chmod(top.joinpath(*["d"] * (levels // 2)), 0o555)
    return bottom


def deep_tar(path: Path, levels: int, marker: str = "saved_model.pb") -> Path:
    """A tar whose folders nest ``levels`` deep: one folder member per level, so an
    extraction builds the tree level by level before the limit stops it."""
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        top = tarfile.TarInfo(marker)
        top.size = 5
        tf.addfile(top, io.BytesIO(b"graph"))
        for depth in range(1, levels + 1):
            info = tarfile.TarInfo("/".join(["d"] * depth))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        leaf = tarfile.TarInfo("/".join(["d"] * levels + ["weights.bin"]))
        leaf.size = 4
        tf.addfile(leaf, io.BytesIO(b"wwww"))
    return path


def dead_pid() -> int:
    """The pid of a process that has exited (a writer killed mid-write)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def outside(tmp_path) -> Path:
    """Stands for the rest of the file system: a folder with a file no delete may touch."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_bytes(b"original\n")
    return folder


@pytest.fixture
def app(registry, project, model_files):
    """A project with the ONNX package `good` installed from a registry on loopback."""
    publish(registry.root, model_files[1], "good", "1.0.0")
    assert run_mlpm("init", "--registry", registry.url, cwd=project).code == 0
    assert run_mlpm("install", "good", cwd=project).code == 0
    return project


def cli(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def blob_of(project: Path) -> tuple[str, int]:
    lock = (project / "mlpm.lock").read_text()
    sha = next(line.split('"')[1] for line in lock.splitlines()
               if line.strip().startswith("sha256 ="))
    return sha, Store().blob_path(sha).stat().st_size


# -- deep archives -----------------------------------------------------------------------


def test_an_archive_1100_folders_deep_is_refused_on_every_attempt_and_leaves_nothing(
        tmp_path, outside):
    store = Store()
    sha = store.add_file(deep_tar(tmp_path / "deep.tgz", DEEP))
    before = tree(tmp_path, skip=tmp_path / "cache")

    for _attempt in range(2):  # an application retrying its load
        with pytest.raises(UnsafeArchive) as err:
            store.unpacked(sha, "saved_model.pb")
        assert str(err.value) == (
            f"refusing to extract {store.blob_path(sha)}: member '{'/'.join(['d'] * 65)}' "
            f"has a name that is 65 levels deep, past the limit of {MAX_DEPTH}; nothing was "
            "extracted (report the archive to its publisher).")
        # 64 levels were built before the limit stopped it: all of them are gone again.
        assert os.listdir(store.root / "entries" / "unpacked") == []

    assert tree(tmp_path, skip=tmp_path / "cache") == before
    assert store.has_blob(sha)  # the download itself stays, as for any refused archive


def test_64_levels_extract_and_65_are_refused(tmp_path):
    dest = tmp_path / "cache" / "entries" / "unpacked"
    dest.mkdir(parents=True)
    ok = tmp_path / "ok.tar"
    with tarfile.open(ok, "w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("/".join(["d"] * (MAX_DEPTH - 1) + ["saved_model.pb"]))
        tf.addfile(info, io.BytesIO(b""))
    extract(ok, dest / "ok")
    assert (dest / "ok").joinpath(*["d"] * (MAX_DEPTH - 1), "saved_model.pb").is_file()

    with pytest.raises(UnsafeArchive, match="is 65 levels deep, past the limit of 64"):
        extract(deep_tar(tmp_path / "deep.tgz", MAX_DEPTH + 1), dest / "deep")
    assert sorted(os.listdir(dest)) == ["ok"]


@pytest.mark.parametrize(("name", "reason"), [
    ("a" * 256 + "/saved_model.pb", "has a name that has a component longer than 255 bytes"),
    ("/".join(["b" * 200] * 6), "has a name that is longer than 1024 bytes"),
])
def test_a_name_too_long_for_the_file_system_is_refused_not_a_crash(tmp_path, name, reason):
    # Before: a 256-byte component reached os.mkdir and failed with a raw ENAMETOOLONG.
    archive = tmp_path / "long.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    dest = tmp_path / "entries" / "x"
    with pytest.raises(UnsafeArchive, match=reason):
        extract(archive, dest)
    assert os.listdir(dest.parent) == []


def test_packing_a_folder_1100_levels_deep_is_refused_clearly(tmp_path):
    src = tmp_path / "model"
    make_deep(src, DEEP, b"w")
    (src / "saved_model.pb").write_bytes(b"graph")
    with pytest.raises(UnsafeArchive) as err:
        pack_dir(src, tmp_path / "model.tar.gz")
    assert str(err.value) == (
        f"cannot pack {src}: '{'/'.join(['d'] * 64)}' holds files more than 64 levels deep, "
        "which mlpm refuses to extract; flatten the folder.")
    assert sorted(os.listdir(tmp_path)) == ["home", "model"]  # no archive, no temp file


# -- deleting deep trees: remove and prune -----------------------------------------------


def test_remove_frees_an_entry_1100_folders_deep_without_following_links(app, outside):
    # An entry unpacked by an older mlpm, with no depth limit, beside the package's blob.
    sha, blob_size = blob_of(app)
    entry = Store().root / "entries" / "unpacked" / sha
    make_deep(entry, DEEP, b"x" * 1000, link_to=outside)
    before = tree(outside)

    result = run_mlpm("remove", "good", "--json", cwd=app)

    assert result.code == 0, result.err
    data = result.json
    assert (data["freed_files"], data["freed_bytes"]) == (1, blob_size + 1000)
    assert not os.path.lexists(entry)
    assert os.listdir(entry.parent) == []  # no hidden trash left behind
    assert not Store().blob_path(sha).exists()
    assert tree(outside) == before  # the symlink was removed, not followed


def test_prune_clears_what_killed_writers_left_and_says_what_it_freed(tmp_path, outside):
    from filelock import FileLock

    store = Store()
    unpacked = store.root / "entries" / "unpacked"
    refs, partial = store.root / "refs", store.root / "partial"
    for folder in (unpacked, refs, partial, store.root / "locks"):
        folder.mkdir(parents=True)
    dead = dead_pid()
    # An extraction killed by an older mlpm (hidden, no pid), 1,100 levels deep.
    old = unpacked / f".{'a' * 64}.tmp-0123456789abcdef"
    make_deep(old, DEEP, b"x" * 1000, link_to=outside)
    # An extraction killed now: the writer's pid is in the name, and its lock is free.
    killed = unpacked / f".{'b' * 64}.{dead}.0011223344556677.tmp"
    (killed / "variables").mkdir(parents=True)
    (killed / "variables" / "data").write_bytes(b"y" * 300)
    # A ref file whose writer was killed between create and rename.
    torn = refs / f".0123abcd.json.{dead}.deadbeef.tmp"
    torn.write_bytes(b"z" * 20)
    # An interrupted download nobody resumes.
    part = partial / f"{'c' * 64}.part"
    part.write_bytes(b"p" * 50)
    # Two writers still at work: an extraction holding its lock, a write by a live pid.
    busy = unpacked / f".{'e' * 64}.{os.getpid()}.8899aabbccddeeff.tmp"
    busy.mkdir()
    (busy / "saved_model.pb").write_bytes(b"in progress")
    live = refs / f".4567cdef.json.{os.getpid()}.cafef00d.tmp"
    live.write_bytes(b"in progress")
    outside_before = tree(outside)

    with FileLock(str(store.root / "locks" / f"entry-{'e' * 64}.lock")):
        dry = run_mlpm("cache", "prune", "--dry-run", "--json", cwd=tmp_path)
        result = run_mlpm("cache", "prune", cwd=tmp_path)

    assert dry.code == 0 and (dry.json["files"], dry.json["bytes"]) == (4, 1370), dry.out
    assert result.code == 0, result.err
    assert result.out.strip() == "freed 1.3 KiB (4 files)"  # 1000 + 300 + 20 + 50 bytes
    assert not any(os.path.lexists(p) for p in (old, killed, torn, part))
    assert busy.is_dir() and live.is_file()  # a writer at work keeps its temp files
    assert sorted(os.listdir(unpacked)) == [busy.name]
    assert tree(outside) == outside_before


def test_unpacking_an_archive_removed_meanwhile_is_a_clear_error(tmp_path):
    # What a SavedModel or hub load meets when `mlpm remove` took the blob after the load
    # checked it, and before the entry was built.
    from mlpm.errors import NotInstalled, RemovedWhileLoading

    store = Store()
    sha = store.add_file(deep_tar(tmp_path / "model.tgz", 2))
    store.delete_blob(sha)
    with pytest.raises(RemovedWhileLoading) as err:
        store.unpacked(sha, "saved_model.pb")
    assert str(err.value) == (
        f"the cache entry {sha[:12]}… was removed from the cache while loading (`mlpm remove` "
        "or `mlpm cache prune` in another process); run `mlpm install` and retry.")
    assert isinstance(err.value, NotInstalled) and isinstance(err.value, FileNotFoundError)
    assert os.listdir(store.root / "entries" / "unpacked") == []


# -- malformed registries ----------------------------------------------------------------

GOOD = '{"name":"pkg","version":"1.0.0","framework":"onnx"}'
DAMAGED: dict[str, tuple[bytes, str]] = {
    "invalid UTF-8": (GOOD.encode() + b'\n{"name":"pkg","version":"1.1.0","description":"'
                      b'\xff\xfe"}\n', "is not UTF-8 text at line 2 (invalid start byte)"),
    "JSON nested 100,000 deep": (
        ('{"name":"pkg","version":"1.0.0","interface":' + "[" * 100_000 + "]" * 100_000
         + "}").encode(), "is corrupt at line 1 (it nests more than 32 levels deep)"),
    "JSON nested 500 deep": (
        ('{"name":"pkg","version":"1.0.0","metrics":{"a":' + "[" * 500 + "]" * 500
         + "}}").encode(), "is corrupt at line 1 (it nests more than 32 levels deep)"),
    "an empty index file": (b"", "is empty: it lists no version"),
    "a blank index file": (b"\n \n\n", "is empty: it lists no version"),
    "an interface that is a string": (
        b'{"name":"pkg","version":"1.0.0","interface":"run me"}',
        "is corrupt at line 1 (its 'interface' is a string, not an object)"),
    "an upstream that is a list": (
        b'{"name":"pkg","version":"1.0.0","upstream":["pytorch/vision"]}',
        "is corrupt at line 1 (its 'upstream' is a list, not an object)"),
    "a line that is not an object": (
        GOOD.encode() + b"\n[1, 2]\n", "is corrupt at line 2 (it is a list, not a JSON object)"),
    "a record without a version": (b'{"name":"pkg"}', "is corrupt at line 1 (missing field "
                                                      "'version')"),
    "the same version twice": (
        GOOD.encode() + b'\n{"name":"pkg","version":"1.1.0"}\n'
        + GOOD.replace('"1.0.0"', '"v1.0.0"').encode(),
        "is damaged: version 1.0.0 appears twice (lines 1 and 3), so which one counts is "
        "unclear"),
    "a 2 MB line": (('{"name":"pkg","version":"1.0.0","description":"' + "x" * (2 << 20)
                     + '"}').encode(), "is corrupt at line 1 (the line is longer than 1048576 "
                                       "characters)"),
}


@pytest.mark.parametrize("served", ["folder", "http"])
@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_index_file_is_one_sentence_naming_registry_and_package(
        case, served, registry, project, monkeypatch, capsys, isolated):
    body, reason = DAMAGED[case]
    index = registry.root / "index" / "3" / "p" / "pkg"
    index.parent.mkdir(parents=True)
    index.write_bytes(body)
    (registry.root / "names").write_text("pkg\n")
    where = str(registry.root) if served == "folder" else registry.url
    assert run_mlpm("init", "--registry", where, cwd=project).code == 0
    before = tree(isolated, skip=isolated / "cache")

    expected = (f"error: the index file for 'pkg' in the registry {where} {reason}; ask the "
                "registry's owner to repair it.\n")
    if served == "http" and case == "invalid UTF-8":  # caught as the body is decoded
        expected = (f"error: the index file {where}index/3/p/pkg is not UTF-8 text; ask the "
                    "registry's owner to republish it.\n")
    for args in (["info", "pkg"], ["install", "pkg"]):
        code, out, err = cli(args, project, monkeypatch, capsys)
        assert (code, err) == (1, expected), (args, out)
    assert tree(isolated, skip=isolated / "cache") == before  # mlpm.toml untouched, no lock


def test_a_huge_index_file_in_a_folder_registry_is_refused_before_it_is_read(
        registry, project, monkeypatch, capsys):
    index = registry.root / "index" / "3" / "p" / "pkg"
    index.parent.mkdir(parents=True)
    with open(index, "wb") as fh:  # 65 MiB, sparse: costs no disk, but reading it would
        fh.write(GOOD.encode() + b"\n")
        fh.truncate(65 << 20)
    code, _, err = cli(["info", "pkg", "--registry", str(registry.root)], project,
                       monkeypatch, capsys)
    assert (code, err) == (1, f"error: the index file for 'pkg' in the registry "
                              f"{registry.root} is larger than 64 MiB; ask the registry's "
                              "owner to repair it.\n")


def test_bad_lines_in_the_names_file_are_skipped_and_search_still_works(
        registry, project, monkeypatch, capsys, model_files):
    publish(registry.root, model_files[1], "good", "1.0.0")
    publish(registry.root, model_files[2], "fine", "1.0.0")
    broken = registry.root / "index" / "br" / "ok" / "broken"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"")  # listed, but its index file is damaged
    shutil.rmtree(registry.root / "search")  # an older registry: search reads names
    (registry.root / "names").write_bytes(
        b"good\n../x\nr\xd0\xb5snet\n\xff\xfe\nmissing\nbroken\nfine\n")

    code, out, err = cli(["search", "", "--registry", str(registry.root), "--json"], project,
                         monkeypatch, capsys)

    assert code == 0, err
    assert [hit["name"] for hit in json.loads(out)["packages"]] == ["good", "fine"]
    where = str(registry.root)
    assert err.splitlines() == [
        f"warning: the names file of the registry {where} lists '../x' and 2 more lines that "
        "are not valid package names; search skipped them (ask the registry's owner to "
        "repair the file).",
        f"warning: the registry {where} lists 'missing' but has no index file for it; search "
        "skipped it.",
        f"warning: the index file for 'broken' in the registry {where} is empty: it lists no "
        "version; ask the registry's owner to repair it; search skipped it.",
    ]
    # Over HTTP (where a names file must be UTF-8 as a whole) the same lines are skipped.
    (registry.root / "names").write_bytes(b"good\n../x\nmissing\nbroken\nfine\n")
    code, out_http, err_http = cli(["search", "", "--registry", registry.url, "--json"],
                                   project, monkeypatch, capsys)
    assert code == 0 and out_http == out, err_http
    assert len(err_http.splitlines()) == 3 and "'../x', which is not a valid" in err_http


# -- remove racing load ------------------------------------------------------------------

LOADER = """
import collections, json, sys, time
import mlpm
project, seconds = sys.argv[1], float(sys.argv[2])
ok, failures = 0, collections.Counter()
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        mlpm.load("good", project_dir=project)
        ok += 1
    except BaseException as exc:
        failures[f"{type(exc).__module__}.{type(exc).__name__}: {exc}"] += 1
print(json.dumps({"ok": ok, "failures": failures}))
"""

REMOVER = """
import sys, time
from pathlib import Path
from mlpm.ops import Session
from mlpm.ops.install import install
from mlpm.ops.remove import remove
from mlpm.project import Project
from mlpm.store import Store
project, seconds, how = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sha, model = sys.argv[4], Path(sys.argv[5])
end, rounds = time.monotonic() + seconds, 0
while time.monotonic() < end:
    if how == "remove":  # what `mlpm remove good` then `mlpm install good` do
        remove(Project.find(project), ["good"], session=Session.from_env())
        install(Project.find(project), ["good"], session=Session.from_env())
    else:  # the blob deleted as remove deletes it, and put back: a far tighter loop
        Store().delete_blob(sha)
        Store().add_file(model, sha)
    rounds += 1
print(rounds)
"""


@pytest.mark.parametrize("how", ["remove", "delete-blob"])
def test_a_load_racing_remove_gets_the_model_or_a_clear_error(how, app, model_files,
                                                              outside):
    sha, _ = blob_of(app)
    seconds = "8"
    loader = subprocess.Popen([sys.executable, "-c", LOADER, str(app), seconds],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    remover = subprocess.Popen([sys.executable, "-c", REMOVER, str(app), seconds, how, sha,
                                str(model_files[1])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r_out, r_err = remover.communicate(timeout=120)
    l_out, l_err = loader.communicate(timeout=120)
    assert remover.returncode == 0, r_err
    assert loader.returncode == 0 and "Traceback" not in l_err, l_err
    report = json.loads(l_out)
    rounds = int(r_out)
    print(f"{how}: {rounds} rounds, {report['ok']} loads, failures {report['failures']}")
    assert report["ok"] > 0 and rounds > 0
    allowed = (
        "mlpm.errors.NotInstalled: good is not installed in the project at "
        f"{app}; run `mlpm install good` there first.",
        "mlpm.errors.RemovedWhileLoading: good@1.0.0 was removed from the cache while "
        "loading (`mlpm remove` or `mlpm cache prune` in another process); run `mlpm "
        "install` and retry.",
    )
    assert set(report["failures"]) <= set(allowed), report["failures"]

    # The store is consistent afterwards: the package loads, its blob is whole, and no
    # half-written file or folder is left anywhere in the cache.
    store = Store()
    assert run_mlpm("install", cwd=app).code == 0
    assert store.has_blob(sha) and hashlib.sha256(
        store.blob_path(sha).read_bytes()).hexdigest() == sha
    assert run_mlpm("cache", "verify", cwd=app).code == 0
    leftovers = [p for p in store.root.rglob("*") if p.name.endswith((".tmp", ".trash",
                                                                     ".part"))]
    assert leftovers == []
    assert tree(outside) == {"victim": ("file", b"original\n")}
