"""``mlpm adopt --caches``: the models the hubs already downloaded, taken into mlpm's store.

Three caches are read, laid out as their libraries write them (nothing is imported from
those libraries):

    $TORCH_HOME/hub/                        (default ~/.cache/torch/hub; XDG_CACHE_HOME moves it)
        OWNER_REPO_REF/                     a hub repo checkout (torch.hub.load)
        checkpoints/FILE                    a weights file (load_state_dict_from_url)
    $TFHUB_CACHE_DIR/                       (default: the temp dir's tfhub_modules)
        SHA1(HANDLE)/                       an unpacked SavedModel (tensorflow_hub.load)
        SHA1(HANDLE).descriptor.txt         "Module: HANDLE", written beside it
    $HF_HUB_CACHE/ or $HF_HOME/hub/         (default ~/.cache/huggingface/hub)
        models--ORG--REPO/blobs/ETAG        each file once (an LFS file's ETAG is its sha256)
        models--ORG--REPO/snapshots/REV/    the repository's files: links into blobs/
        models--ORG--REPO/refs/BRANCH       the commit a branch pointed at

A file whose sha256 is that of an artifact mlpm.lock pins (only files of a pinned size are
hashed at all) is copied into the store through the store's own verified, atomic write:
``mlpm install`` then finds it and downloads nothing. A folder (a hub checkout, a TF Hub
module) holds unpacked files, not the archive the lock pins, so it cannot be imported; it is
a duplicate once the store holds that archive and its unpacked files are identical.

``--prune`` deletes only cache copies whose bytes were verified equal to a store blob (or to
a store entry, for folders), and says how much it freed. A deletion interrupted midway
leaves the cache readable: a folder is renamed aside before it is deleted (a later prune
finishes it), a Hugging Face blob loses its snapshot links before the blob itself.

    >>> result = adopt_caches(Store(), wanted_from_lock(lock), prune=False)  # doctest: +SKIP
    >>> result.imported_bytes, result.duplicate_bytes                       # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from mlpm.errors import IntegrityError, MlpmError, StoreError
from mlpm.files import remove_tree, tree_size
from mlpm.project import Lock
from mlpm.store import Store, file_sha256, human_size

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from mlpm.adopt.sites import Mapping as CallMapping
    from mlpm.session import Session

TORCH = "torch-hub"
TFHUB = "tfhub"
HUGGINGFACE = "huggingface"
TITLES = {TORCH: "PyTorch Hub", TFHUB: "TensorFlow Hub", HUGGINGFACE: "Hugging Face"}

MAX_ENTRIES = 100_000  # files looked at in one cache: a bound, not a limit anyone reaches
_TRASH = ".mlpm-prune-"  # a folder renamed aside while --prune deletes it
_SHA1 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class CachedFile:
    """One file a cache holds; ``rel`` is its name inside the entry."""

    path: Path
    rel: str
    size: int


@dataclass
class CacheEntry:
    """One thing a cache holds: a repo checkout, a weights file, a TF Hub module, a Hugging
    Face repository. ``files`` are the single files that can match a locked artifact."""

    cache: str                 # TORCH, TFHUB or HUGGINGFACE
    model: str                 # in the user's words: "owner/repo@ref", a handle, "org/repo"
    path: Path
    size: int
    count: int                 # files it holds
    files: list[CachedFile] = field(default_factory=list)
    folder: bool = False       # an unpacked folder (matched as a whole, never imported)
    repo: str = ""             # a Hugging Face model repository's id


@dataclass
class Cache:
    """One framework cache on this machine."""

    kind: str
    root: Path
    entries: list[CacheEntry]

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class Wanted:
    """An artifact mlpm wants in its store: from a project's lock or a mapped package."""

    sha256: str
    size: int | None
    package: str               # NAME@VERSION
    path: str                  # the artifact's file name in the package
    format: str = ""
    unpacked: tuple[str, ...] = ()  # for an archive: the cache folder names it unpacks to


@dataclass(frozen=True)
class Match:
    """A cache file whose sha256 is a wanted artifact's."""

    file: CachedFile
    entry: CacheEntry
    wanted: Wanted


@dataclass
class CacheAdoption:
    """What ``adopt_caches`` found and did."""

    caches: list[Cache]
    imported: list[Match] = field(default_factory=list)   # copied into the store now
    present: list[Match] = field(default_factory=list)    # the store had them already
    folders: list[tuple[CacheEntry, Wanted]] = field(default_factory=list)  # verified copies
    problems: list[str] = field(default_factory=list)     # files that changed while read
    pruned: list[Path] = field(default_factory=list)
    freed: int = 0

    @property
    def total(self) -> int:
        return sum(c.size for c in self.caches)

    @property
    def imported_bytes(self) -> int:
        return sum(m.file.size for m in self.imported)

    @property
    def duplicates(self) -> list[Path]:
        """Every cache copy verified equal to what the store holds: what --prune deletes."""
        return [m.file.path for m in (*self.imported, *self.present)] + \
            [e.path for e, _ in self.folders]

    @property
    def duplicate_bytes(self) -> int:
        return sum(m.file.size for m in (*self.imported, *self.present)) + \
            sum(e.size for e, _ in self.folders)

    def to_json(self) -> dict:
        def match(m: Match) -> dict:
            return {"cache": m.entry.cache, "file": str(m.file.path), "size": m.file.size,
                    "sha256": m.wanted.sha256, "package": m.wanted.package}

        return {
            "caches": [{"cache": c.kind, "root": str(c.root), "size": c.size,
                        "entries": [{"model": e.model, "path": str(e.path), "files": e.count,
                                     "size": e.size} for e in c.entries]}
                       for c in self.caches],
            "total": self.total,
            "imported": [match(m) for m in self.imported],
            "present": [match(m) for m in self.present],
            "folders": [{"cache": e.cache, "path": str(e.path), "size": e.size,
                         "package": w.package} for e, w in self.folders],
            "duplicate_bytes": self.duplicate_bytes,
            "pruned": [str(p) for p in self.pruned],
            "freed": self.freed,
            "problems": self.problems,
        }

    def lines(self) -> list[str]:
        """The report, as the CLI prints it."""
        out = []
        for cache in self.caches:
            out.append(f"{cache.title} cache {cache.root}: {len(cache.entries)} entries, "
                       f"{human_size(cache.size)}")
            for e in cache.entries:
                out.append(f"  {e.model:<48} {e.count:>5} files  {human_size(e.size):>10}")
        if not self.caches:
            out.append("no PyTorch Hub, TensorFlow Hub or Hugging Face cache found")
        else:
            out.append(f"total: {human_size(self.total)}")
        for m in self.imported:
            out.append(f"imported {m.file.path} ({human_size(m.file.size)}) as "
                       f"{m.wanted.package} {m.wanted.path}")
        for m in self.present:
            out.append(f"already in mlpm's store: {m.file.path} ({m.wanted.package})")
        for e, w in self.folders:
            out.append(f"same files as mlpm's store: {e.path} ({w.package})")
        out += [f"skipped: {p}" for p in self.problems]
        if self.pruned or self.freed:
            out.append(f"pruned {len(self.pruned)} cache copies, freed {human_size(self.freed)}")
        elif self.duplicates:
            out.append(f"{len(self.duplicates)} cache copies ({human_size(self.duplicate_bytes)}) "
                       "duplicate mlpm's store; `mlpm adopt --caches --prune` frees them")
        return out


# -- where the caches are ------------------------------------------------------------------


def cache_roots(env: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Each framework's cache folder, from the same variables and defaults its library uses."""
    import tempfile

    env = os.environ if env is None else env
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    torch_home = env.get("TORCH_HOME") or os.path.join(xdg, "torch")
    tfhub = env.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    hf_home = env.get("HF_HOME") or os.path.join(xdg, "huggingface")
    hf = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or \
        os.path.join(hf_home, "hub")
    return {TORCH: Path(torch_home).expanduser() / "hub",
            TFHUB: Path(tfhub).expanduser(),
            HUGGINGFACE: Path(hf).expanduser()}


def find_caches(env: Mapping[str, str] | None = None) -> list[Cache]:
    """The caches that exist on this machine and what each holds."""
    readers = {TORCH: _torch_entries, TFHUB: _tfhub_entries, HUGGINGFACE: _hf_entries}
    out = []
    for kind, root in cache_roots(env).items():
        if root.is_dir() and not root.is_symlink():
            out.append(Cache(kind, root, readers[kind](root)))
    return out


def _scan(folder: Path) -> list[CachedFile]:
    """The regular files under ``folder`` (links are not followed), bounded."""
    out: list[CachedFile] = []
    stack = [folder]
    while stack and len(out) < MAX_ENTRIES:
        current = stack.pop()
        try:
            items = list(os.scandir(current))
        except OSError:
            continue
        for item in items:
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                stack.append(Path(item.path))
            elif stat.S_ISREG(st.st_mode):
                path = Path(item.path)
                out.append(CachedFile(path, path.relative_to(folder).as_posix(), st.st_size))
    return sorted(out, key=lambda f: f.rel)


def _children(root: Path) -> list[os.DirEntry]:
    try:
        return sorted((e for e in os.scandir(root) if not e.name.startswith(".")),
                      key=lambda e: e.name)
    except OSError:
        return []


def _torch_entries(root: Path) -> list[CacheEntry]:
    entries = []
    for item in _children(root):
        if not item.is_dir(follow_symlinks=False):
            continue
        path = Path(item.path)
        if item.name == "checkpoints":
            for f in _scan(path):
                entries.append(CacheEntry(TORCH, f"checkpoints/{f.rel}", f.path, f.size, 1,
                                          [f]))
            continue
        files = _scan(path)
        entries.append(CacheEntry(TORCH, _torch_repo_name(item.name), path,
                                  sum(f.size for f in files), len(files), folder=True))
    return entries


def _torch_repo_name(folder: str) -> str:
    """torch.hub names a checkout ``OWNER_REPO_REF``; underscores inside names make the
    split a guess, so the folder name is shown when it does not split in three."""
    parts = folder.split("_", 2)
    return f"{parts[0]}/{parts[1]}@{parts[2]}" if len(parts) == 3 else folder


def torch_repo_folder(repo: str, ref: str) -> str:
    """The folder torch.hub checks ``OWNER/REPO`` at ``ref`` out to."""
    owner, _, name = repo.partition("/")
    return "_".join([owner, name, ref.replace("/", "_")])


def _tfhub_entries(root: Path) -> list[CacheEntry]:
    entries = []
    for item in _children(root):
        if not (item.is_dir(follow_symlinks=False) and _SHA1.fullmatch(item.name)):
            continue  # downloads under way are NAME.UUID.tmp folders
        path = Path(item.path)
        handle = item.name
        try:
            for line in (root / f"{item.name}.descriptor.txt").read_text(
                    errors="replace").splitlines()[:1]:
                if line.startswith("Module: "):
                    handle = line[len("Module: "):].strip()
        except OSError:
            pass
        files = _scan(path)
        entries.append(CacheEntry(TFHUB, handle, path, sum(f.size for f in files), len(files),
                                  folder=True))
    return entries


def _hf_entries(root: Path) -> list[CacheEntry]:
    entries = []
    for item in _children(root):
        kind, sep, rest = item.name.partition("--")
        if not sep or kind not in ("models", "datasets", "spaces") or \
                not item.is_dir(follow_symlinks=False):
            continue
        repo = rest.replace("--", "/")
        path = Path(item.path)
        blobs = _scan(path / "blobs")
        refs = sorted(f.rel for f in _scan(path / "refs"))
        name = repo if kind == "models" else f"{kind[:-1]}:{repo}"
        if refs:
            name += f" ({', '.join(refs)})"
        entries.append(CacheEntry(HUGGINGFACE, name, path, sum(f.size for f in blobs),
                                  len(blobs), blobs if kind == "models" else [],
                                  repo=repo if kind == "models" else ""))
    return entries


# -- what the store wants ------------------------------------------------------------------


def wanted_from_lock(lock: Lock) -> list[Wanted]:
    """Every artifact ``lock`` pins (with the cache folders an archive of it unpacks to)."""
    out = []
    for pkg in lock.packages.values():
        label = f"{pkg.name}@{pkg.version}"
        handle = pkg.upstream.get("handle") if isinstance(pkg.upstream, dict) else None
        repo, ref = pkg.upstream.get("repo"), pkg.upstream.get("ref")
        for a in pkg.artifacts:
            names: list[str] = []
            if a.format == "savedmodel":
                url = urljoin(pkg.registry, a.url) if a.url and \
                    pkg.registry.startswith(("http://", "https://")) else a.url
                for h in {handle, url, (url or "").split("?", 1)[0]} - {None, ""}:
                    names.append(hashlib.sha1(str(h).encode()).hexdigest())  # noqa: S324
            if a.format == "torch-hub" and a.role == "code" and isinstance(repo, str):
                names.append(torch_repo_folder(repo, str(ref or "main")))
            if a.sha256:
                out.append(Wanted(a.sha256, a.size, label, a.path or "", a.format,
                                  tuple(names)))
    return out


# -- importing and pruning -----------------------------------------------------------------


def adopt_caches(store: Store, wanted: Iterable[Wanted], *, prune: bool = False,
                 hf_repos: Iterable[tuple[str, str | None]] = (),
                 caches: list[Cache] | None = None,
                 env: Mapping[str, str] | None = None) -> CacheAdoption:
    """Import every cache file that is a wanted artifact into ``store`` (no download), find
    the cache folders the store already holds unpacked, and with ``prune`` delete those
    verified cache copies. Only files of a wanted size are hashed.

    ``hf_repos``: (ORG/REPO, revision) of Hugging Face dependencies about to be locked
    (``--write``): the files of that revision's cached snapshot are wanted too, by the
    sha256 they hash to, so that locking them downloads nothing."""
    wanted = list(wanted)
    result = CacheAdoption(caches if caches is not None else find_caches(env))
    wanted += _snapshot_files(result.caches, list(hf_repos))
    by_sha = {w.sha256: w for w in wanted}
    sizes = {w.size for w in wanted if w.size is not None}
    any_size = any(w.size is None for w in wanted)
    for cache in result.caches:
        for entry in cache.entries:
            for f in entry.files:
                if not (any_size or f.size in sizes):
                    continue
                try:
                    sha = file_sha256(f.path)
                except OSError as exc:
                    result.problems.append(f"{f.path}: cannot read it ({exc.strerror or exc})")
                    continue
                w = by_sha.get(sha)
                if w is None or (w.size is not None and w.size != f.size):
                    continue
                match = Match(f, entry, w)
                if store.has_blob(sha, f.size):
                    result.present.append(match)
                    continue
                try:
                    store.add_file(f.path, sha)  # streamed, hashed again, renamed into place
                except IntegrityError:
                    result.problems.append(f"{f.path} changed while it was imported; run "
                                           "`mlpm adopt --caches` again")
                    continue
                result.imported.append(match)
            if entry.folder:
                same = _same_as_store(store, entry, wanted)
                if same is not None:
                    result.folders.append((entry, same))
    if prune:
        _prune(store, result)
    return result


def _snapshot_files(caches: list[Cache], repos: list[tuple[str, str | None]]) -> list[Wanted]:
    """The files of each (repository, revision)'s cached snapshot, hashed."""
    out = []
    asked = {repo: rev for repo, rev in repos}
    for cache in caches:
        for entry in cache.entries if cache.kind == HUGGINGFACE else []:
            if entry.repo not in asked:
                continue
            rev = asked[entry.repo] or "main"
            commit = rev
            if not _SHA1.fullmatch(rev):
                try:
                    commit = (entry.path / "refs" / rev).read_text().strip()
                except OSError:
                    continue
            snapshot = entry.path / "snapshots" / commit
            if not _SHA1.fullmatch(commit) or not snapshot.is_dir():
                continue
            blobs = {os.path.realpath(f.path): f for f in entry.files}
            for link in sorted(snapshot.rglob("*")):
                blob = blobs.get(os.path.realpath(link))
                if blob is None:
                    continue  # a folder, or a file that is not one of the repo's blobs
                try:
                    sha = file_sha256(blob.path)
                except OSError:
                    continue
                out.append(Wanted(sha, blob.size, f"hf:{entry.repo}@{rev}",
                                  link.relative_to(snapshot).as_posix()))
    return out


def wanted_from_records(mappings: Iterable[CallMapping], session: Session,
                        location: str) -> tuple[list[Wanted], list[tuple[str, str | None]]]:
    """What the exactly mapped packages of ``mlpm adopt`` would lock: the artifacts their
    registry records pin (with a sha256), and the Hugging Face (repository, revision)s."""
    from mlpm.adopt.sites import EXACT

    wanted: list[Wanted] = []
    repos: list[tuple[str, str | None]] = []
    for m in mappings:
        if m.how != EXACT or not m.package:
            continue
        if m.source and m.source.startswith("hf:"):
            repos.append((m.source[3:], m.revision))
            continue
        if not m.version:
            continue
        try:
            records = session.open(m.source or location).records(m.package)
        except (MlpmError, OSError):  # a registry that cannot answer: nothing is wanted
            continue
        for rec in records:
            if rec.version == m.version:
                wanted += [Wanted(a.sha256, a.size, f"{m.package}@{m.version}", a.path or "",
                                  a.format) for a in rec.artifacts if a.sha256]
    return wanted, repos


def _same_as_store(store: Store, entry: CacheEntry, wanted: list[Wanted]) -> Wanted | None:
    """The wanted archive whose unpacked files are exactly ``entry``'s, if the store holds
    it (it is unpacked into its store entry, as ``mlpm.load`` would, to compare)."""
    for w in wanted:
        if entry.path.name not in w.unpacked or not store.has_blob(w.sha256, w.size):
            continue
        marker = "saved_model.pb" if w.format == "savedmodel" else "hubconf.py"
        try:
            folder = store.unpacked(w.sha256, marker)
        except (OSError, ValueError):
            continue
        if _same_tree(entry.path, folder):
            return w
    return None


def _same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same bytes (by sha256)."""
    left, right = _scan(a), _scan(b)
    if [(f.rel, f.size) for f in left] != [(f.rel, f.size) for f in right]:
        return False
    return all(file_sha256(x.path) == file_sha256(y.path)
               for x, y in zip(left, right, strict=True))


def _prune(store: Store, result: CacheAdoption) -> None:
    for cache in result.caches:
        for leftover in cache.root.rglob(f"{_TRASH}*") if cache.root.is_dir() else []:
            remove_tree(leftover)  # a prune that was interrupted: finish it
    for m in (*result.imported, *result.present):
        # verified just now: the store blob is intact and this file hashed to its name
        if not store.has_blob(m.wanted.sha256, m.file.size):
            continue
        try:
            st = os.lstat(m.file.path)
        except OSError:
            continue
        if st.st_size != m.file.size:
            continue  # rewritten since it was hashed: not a verified copy any more
        if m.entry.cache == HUGGINGFACE:
            _unlink_hf_pointers(m.entry.path, m.file.path)
        try:
            os.unlink(m.file.path)
        except OSError as exc:
            raise StoreError(f"cannot delete {m.file.path} ({exc.strerror or exc}); make its "
                             "folder writable, or leave it: the store has its own copy.") \
                from None
        result.pruned.append(m.file.path)
        result.freed += st.st_size
    for entry, _ in result.folders:
        freed = _drop_folder(entry.path)
        if freed is not None:
            result.pruned.append(entry.path)
            result.freed += freed
            if entry.cache == TFHUB:
                descriptor = entry.path.with_name(f"{entry.path.name}.descriptor.txt")
                result.freed += remove_tree(descriptor)[1]
    for cache in result.caches:
        if cache.kind == HUGGINGFACE:
            for entry in cache.entries:
                if entry.files and not _scan(entry.path / "blobs"):
                    # nothing left: its refs, empty snapshots and download locks go too
                    _drop_folder(entry.path)
                    if (cache.root / ".locks" / entry.path.name).is_dir():
                        _drop_folder(cache.root / ".locks" / entry.path.name)


def _unlink_hf_pointers(repo: Path, blob: Path) -> None:
    """Remove the snapshot links that point at ``blob`` (before the blob: a link never
    dangles while its blob is still there to be seen)."""
    target = os.path.realpath(blob)
    stack = [repo / "snapshots"]
    while stack:
        folder = stack.pop()
        try:
            items = list(os.scandir(folder))
        except OSError:
            continue
        for item in items:
            if item.is_symlink():
                if os.path.realpath(item.path) == target:
                    os.unlink(item.path)
            elif item.is_dir(follow_symlinks=False):
                stack.append(Path(item.path))


def _drop_folder(path: Path) -> int | None:
    """Rename ``path`` aside, then delete it; the bytes freed (None if it could not move)."""
    size = tree_size(path)
    trash = path.with_name(f"{_TRASH}{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        os.rename(path, trash)
    except OSError:
        return None
    remove_tree(trash)
    return size


def adopt_project_caches(root: Path, *, prune: bool = False, store: Store | None = None,
                         mapped: tuple[list[Wanted], list[tuple[str, str | None]]] = ([], []),
                         env: Mapping[str, str] | None = None) -> CacheAdoption:
    """``mlpm adopt --caches [--prune]`` for the project at or above ``root``: the caches are
    reported, the files its mlpm.lock pins are imported, and the store records that the
    project uses them (so ``mlpm cache prune`` keeps them until ``mlpm install`` runs).
    ``mapped``: what ``wanted_from_records`` says the mapped packages will lock, imported
    too. Without a project or a lock (and nothing mapped), the caches are only reported."""
    from mlpm.errors import ProjectNotFound
    from mlpm.project import Project

    store = store or Store()
    try:
        project: Project | None = Project.find(root)
    except ProjectNotFound:
        project = None
    lock = Lock.read(project.lock_path) if project is not None else None
    wanted = wanted_from_lock(lock) if lock is not None else []
    result = adopt_caches(store, wanted + mapped[0], hf_repos=mapped[1], prune=prune, env=env)
    if project is not None and lock is not None and result.imported:
        store.set_refs(project.root, project.lock_path, lock.references())
    return result
