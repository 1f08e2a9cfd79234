"""The registry's search index: an append-only change log in the registry (written by
publish, yank and ``mlpm registry reindex``), and its local copy, a SQLite database in
the cache that ``mlpm search`` and did-you-mean answer from.

    search/head.json              {"mlpm-search": 1, "log": "log-ID", "segment": K,
                                   "lines": L, "segment-lines": N, "snapshot-v2": {"sha256",
                                   "size", "segment", "lines"}}
    search/log-ID/000000.jsonl    N lines each: full segments never change
    search/log-ID/00000K.jsonl    the current segment: its first L lines count
    search/log-ID/snapshot-v2.tsv.gzip  the log up to (segment, lines), one line a package,
                                   tab-separated (older registries: "snapshot", the
                                   same as JSON lines in snapshot.jsonl.gzip, still read)

Each line is one package's search entry (its newest release, ``entry``) as of that time;
a later line of the same name replaces an earlier one. ``reindex`` writes a new
``log-ID`` folder (with its snapshot) and then ``head.json``, so readers see the old log
or the new one. A client keeps ``(log, segment, lines)`` it has applied and reads only
what follows (the current segment from the byte where its applied lines end); a first
sync loads the snapshot in one request, then reads the log after it
(docs/reference/registry-index.md, "Search index").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO, NamedTuple

from mlpm.files import append_line
from mlpm.registry import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable

    from mlpm.registry import Registry
    from mlpm.registry.records import Record

FORMAT = 1
SEGMENT_LINES = 10_000
# not .gz: some servers would send it with Content-Encoding: gzip
SNAPSHOT = "snapshot-v2.tsv.gzip"  # head.json "snapshot-v2": tab-separated fields
SNAPSHOT_V1 = "snapshot.jsonl.gzip"  # head.json "snapshot": log lines (read, not written)
SNAPSHOT_KEYS = {"snapshot-v2": SNAPSHOT, "snapshot": SNAPSHOT_V1}  # the first found is read
NEIGHBOURS = 100  # names on each side of a misspelling, forwards and backwards, for hints
SEARCH_DIR = layout.SEARCH_DIR
HEAD_REL = layout.SEARCH_HEAD_REL
segment_rel = layout.segment_rel
_FIELDS = ("name", "version", "framework", "task", "family", "algorithm", "description",
           "keywords", "yanked")


def _valid_log(log: object) -> bool:
    return isinstance(log, str) and log.startswith("log-") and 4 < len(log) <= 64 and \
        all(c.isascii() and (c.isalnum() or c == "-") for c in log)


def entry(records: Iterable[Record]) -> dict:
    """A package's search entry: its newest release (the newest version a new resolve may
    pick, else its last record), as ``mlpm search`` shows it."""
    from mlpm.registry.versions import latest_version

    records = list(records)
    newest = latest_version(records)
    rec = next((r for r in records if r.version == newest), records[-1])
    keywords = rec.extra.get("keywords")
    return {"name": rec.name, "version": rec.version, "framework": rec.framework,
            "task": rec.task, "family": rec.family, "algorithm": rec.algorithm,
            "description": rec.description,
            "keywords": [str(k) for k in keywords] if isinstance(keywords, list) else [],
            "yanked": rec.yanked}


def _line(item: dict) -> str:
    return json.dumps({k: item.get(k) for k in _FIELDS}, ensure_ascii=False,
                      separators=(",", ":")) + "\n"


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def _snapshot_line(item: dict) -> str:
    """A search entry as a line of the snapshot (format 2): the fields of ``_FIELDS`` in
    that order, tab-separated; an empty field is null (a null framework or description is
    empty text), keywords are a JSON list (empty: none), yanked is 1 or 0; a backslash,
    tab, newline or carriage return in a field is written \\\\, \\t, \\n or \\r."""
    keywords = item.get("keywords")
    fields = ["" if (v := item.get(k)) is None else str(v) for k in _FIELDS[:7]]
    fields.append(json.dumps(keywords, ensure_ascii=False, separators=(",", ":"))
                  if keywords else "")
    fields.append("1" if item.get("yanked") else "0")
    return "\t".join(f.translate(_ESCAPES) for f in fields) + "\n"


def _unescaped(field: str) -> str:
    if "\\" not in field:
        return field
    import re

    return re.sub(r"\\(.)", lambda m: _UNESCAPES.get(m[1], m[1]), field, flags=re.DOTALL)


# -- writing (a registry folder, under .publish.lock) ---------------------------------------


def read_head(root: Path) -> dict | None:
    try:
        head = json.loads((root / HEAD_REL).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(head, dict) and head.get("mlpm-search") == FORMAT and \
        _valid_log(head.get("log")) and all(
            isinstance(head.get(k), int) and head[k] >= 0
            for k in ("segment", "lines", "segment-lines"))
    return head if ok else None


def add_name(root: Path, name: str) -> None:
    """Append a new package's name to ``names`` (append-only; reindex sorts it), unless its
    last lines hold it already (a publish retried after it died)."""
    path = layout.names_file(root)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - 65536))
            if f"\n{name}\n".encode() in b"\n" + fh.read():
                return
    except FileNotFoundError:
        pass
    append_line(path, name + "\n")


def record_changed(root: Path, records: list[Record]) -> None:
    """When publish or yank changes a package's records (publish: before it writes the index
    file): append its entry to the log, or build the whole index when the registry has none
    yet (an older registry)."""
    from mlpm.store import write_atomic

    head = read_head(root)
    if head is None:
        reindex(root)
        return
    seg, lines, per = head["segment"], head["lines"], head["segment-lines"] or SEGMENT_LINES
    if lines >= per:
        seg, lines = seg + 1, 0
    path = root / segment_rel(head["log"], seg)
    path.parent.mkdir(parents=True, exist_ok=True)
    if lines == 0:
        path.write_bytes(b"")
    else:  # lines beyond ``lines`` were never committed: a publish died before head.json
        with open(path, "rb") as fh:
            kept = b"".join(fh.readline() for _ in range(lines))
        if path.stat().st_size != len(kept):
            write_atomic(path, kept)
    append_line(path, _line(entry(records)))
    write_atomic(root / HEAD_REL, json.dumps({**head, "segment": seg, "lines": lines + 1}))


def write_log(root: Path, entries: Iterable[dict]) -> dict:
    """Write ``entries`` (one a package, sorted by name) as a new log folder: its segments
    and its snapshot, streamed; returns the ``head.json`` that commits it (not yet written)."""
    import gzip
    import hashlib
    import secrets
    import time

    log = f"log-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
    folder = root / SEARCH_DIR / log
    folder.mkdir(parents=True)
    seg, lines, out = 0, 0, open(folder / f"{0:06d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
    snap_path = folder / SNAPSHOT
    # level 5: a third faster to write than 9 for a few percent more bytes
    with open(snap_path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5,
                                                     mtime=0) as snap:
        try:
            for item in entries:
                if lines == SEGMENT_LINES:
                    out.close()
                    seg, lines = seg + 1, 0
                    out = open(folder / f"{seg:06d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
                out.write(_line(item))
                snap.write(_snapshot_line(item).encode())
                lines += 1
        finally:
            out.close()
    digest = hashlib.sha256()
    with open(snap_path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return {"mlpm-search": FORMAT, "log": log, "segment": seg, "lines": lines,
            "segment-lines": SEGMENT_LINES,
            "snapshot-v2": {"sha256": digest.hexdigest(), "size": snap_path.stat().st_size,
                            "segment": seg, "lines": lines}}


def commit_log(root: Path, head: dict) -> None:
    """Make ``head`` (from ``write_log``) the registry's search index: ``head.json`` replaced
    atomically, then every other log folder removed."""
    from mlpm.files import remove_tree
    from mlpm.store import write_atomic

    write_atomic(root / HEAD_REL, json.dumps(head))
    for old in (root / SEARCH_DIR).iterdir():
        if old.is_dir() and old.name != head["log"] and _valid_log(old.name):
            remove_tree(old)


def reindex(root: Path) -> dict:
    """Rebuild ``names`` and the search log from ``index/``: a new log folder (segments and
    snapshot), then ``names`` and ``head.json`` each replaced atomically, then old log
    folders removed. Returns ``{"packages": N, "segments": K, "skipped": [names of
    unreadable packages]}``."""
    from mlpm.registry.records import index_path, parse_index_file
    from mlpm.store import write_atomic

    index_dir = root / layout.INDEX_DIR
    entries, skipped = [], []
    for dirpath, _dirs, files in os.walk(index_dir):
        for fname in files:
            path = Path(dirpath) / fname
            try:
                if index_path(fname) != path.relative_to(index_dir).as_posix():
                    continue  # not an index file (a stray temp file)
                entries.append(entry(parse_index_file(fname, path.read_text("utf-8"),
                                                      str(root))))
            except (ValueError, OSError, UnicodeDecodeError):
                skipped.append(fname)
    entries.sort(key=lambda e: e["name"])
    head = write_log(root, entries)
    write_atomic(layout.names_file(root), "".join(e["name"] + "\n" for e in entries))
    commit_log(root, head)
    return {"packages": len(entries), "segments": head["segment"] + 1,
            "skipped": sorted(skipped)}


# -- reading: the local database ------------------------------------------------------------


def _reader(registry: Registry) -> tuple[Callable[[str], str | None], Callable[[str], None],
                                         Callable[[str, int], tuple[str, bool] | None]] | None:
    """How to read a file of the registry, forget a cached copy, and read a file from a byte
    offset on (text, and whether it starts there or is the whole file; None: read it whole
    instead); None for a kind of registry without a search index (OCI, a Hugging Face
    repository)."""
    from mlpm.registry import LocalRegistry

    if isinstance(registry, LocalRegistry):
        root = registry.path

        def read_local(rel: str) -> str | None:
            try:
                return (root / rel).read_text("utf-8")
            except FileNotFoundError:
                return None

        def tail_local(rel: str, offset: int) -> tuple[str, bool] | None:
            try:
                with open(root / rel, "rb") as fh:
                    fh.seek(offset)
                    return fh.read().decode("utf-8"), True
            except (OSError, UnicodeDecodeError):
                return None

        return read_local, lambda rel: None, tail_local
    get = getattr(registry, "_get", None)
    store = getattr(registry, "store", None)
    if get is None or store is None or not registry.location.startswith(("http://", "https://")):
        return None

    def forget(rel: str) -> None:  # a full segment lives on in the database only
        cached = store.index_cache(registry.location) / rel
        for path in (cached, cached.with_name(cached.name + ".etag")):
            try:
                path.unlink()
            except OSError:
                pass

    def tail_http(rel: str, offset: int) -> tuple[str, bool] | None:
        if getattr(registry, "offline", False):
            return None
        return _get_from(registry.location + rel, offset)

    return get, forget, tail_http


def _get_from(url: str, offset: int) -> tuple[str, bool] | None:
    """GET ``url`` from byte ``offset`` on (``Range``): the new lines of the current segment,
    not the whole segment again. A server that ignores ``Range`` sends the whole file
    (False); None when the answer is neither (the caller then reads it the usual way)."""
    from mlpm.fetch import read_from

    got = read_from(url, offset, what="a search segment")
    if got is None:
        return None
    try:
        return got[0].decode("utf-8"), got[1]
    except UnicodeDecodeError:
        return None


def _trigram_ok(conn: sqlite3.Connection) -> bool:
    import sqlite3

    try:
        conn.execute("create virtual table temp.probe using fts5(x, tokenize='trigram')")
        conn.execute("drop table temp.probe")
        return True
    except sqlite3.OperationalError:
        return False


_SCHEMA = """
create table if not exists meta(key text primary key, value text);
create table if not exists pkg(id integer primary key, name text unique not null, version text,
  framework text, task text, description text, hay text not null, eman text not null);
create index if not exists pkg_eman on pkg(eman);
"""
_FTS = """
create virtual table if not exists fts_hay using fts5(hay, content='', detail='none', columnsize=0,
  tokenize='trigram case_sensitive 1');
"""


def database_file(location: str) -> Path:
    import hashlib

    from mlpm.store import default_root

    return default_root() / "search" / (hashlib.sha256(location.encode()).hexdigest()[:24]
                                        + f".v{FORMAT}.sqlite")


def _connect(location: str) -> tuple[sqlite3.Connection, bool]:
    import sqlite3

    path = database_file(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=60, isolation_level=None)
    try:
        row = conn.execute("select value from meta where key = 'fts2'").fetchone()
    except sqlite3.OperationalError:  # a new database
        row = None
    if row is not None:
        return conn, row[0] == "1"
    conn.executescript(_SCHEMA)
    fts = _trigram_ok(conn)
    if fts:
        conn.executescript(_FTS)
    conn.execute("insert or replace into meta(key, value) values('fts2', ?)", ("01"[fts],))
    return conn, fts


def _rows(lines: list[str]) -> dict[str, tuple]:
    """Log lines as database rows by name (a later line of a name replaces the earlier one):
    (version, framework, task, description, hay, eman, name)."""
    try:  # one parse of the whole chunk: a third of the time of a parse a line
        items = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        items = []
        for text in lines:
            try:
                items.append(json.loads(text))
            except ValueError:
                continue  # one bad line hides no other package
    rows: dict[str, tuple] = {}
    for item in items:  # 2M of these in a first sync: written for speed
        if type(item) is not dict:
            continue
        get = item.get
        name = get("name")
        if type(name) is not str or not name:
            continue
        version = x if type(x := get("version")) is str and x else None
        framework = x if type(x := get("framework")) is str else ""
        task = x if type(x := get("task")) is str and x else None
        description = x if type(x := get("description")) is str else ""
        hay = name.lower()
        if description:
            hay += " " + description.lower()
        for part in (task, get("family"), get("algorithm")):
            if part and type(part) is str and (part := part.lower()) not in hay:
                hay += " " + part  # e.g. the family spelled in the name: fewer trigrams
        if name in rows:
            del rows[name]
        rows[name] = (version, framework, task, description, hay, name[::-1], name)
    return rows


def _table_rows(lines: list[str], first: int) -> list[tuple]:
    """Snapshot lines (format 2) as database rows numbered from ``first``, the same rows
    as ``_rows`` makes of the same entries: (id, version, framework, task, description,
    hay, eman, name). A line of another number of fields is skipped."""
    rows: list[tuple] = []
    add = rows.append
    for line in lines:  # 2M of these in a first sync: written for speed
        fields = line.split("\t")
        if len(fields) != 9:
            continue
        if "\\" in line:
            fields = [_unescaped(f) for f in fields]
        name, version, framework, task, family, algorithm, description, _, _ = fields
        if not name:
            continue
        hay = name.lower()
        if description:
            hay += " " + description.lower()
        # the order of _rows: task, family, algorithm (each added when not in the text)
        if task and (part := task.lower()) not in hay:
            hay += " " + part
        if family and (part := family.lower()) not in hay:
            hay += " " + part
        if algorithm and (part := algorithm.lower()) not in hay:
            hay += " " + part
        add((first, version or None, framework, task or None, description, hay, name[::-1],
             name))
        first += 1
    return rows


def _apply(conn: sqlite3.Connection, fts: bool, lines: list[str]) -> None:
    """Apply log lines: a later line of a name replaces the earlier one."""
    rows = _rows(lines)
    names = list(rows)
    old: dict[str, tuple[int, str]] = {}
    for i in range(0, len(names), 500):
        chunk = names[i:i + 500]
        old.update((n, (rowid, hay)) for rowid, n, hay in conn.execute(
            "select id, name, hay from pkg where name in (%s)" % ",".join("?" * len(chunk)),
            chunk))
    if old:
        if fts:
            conn.executemany("insert into fts_hay(fts_hay, rowid, hay) values('delete', ?, ?)",
                             old.values())
        conn.executemany("update pkg set version=?, framework=?, task=?, description=?, hay=?, "
                         "eman=? where name=?", [rows[n] for n in old])
        if fts:
            conn.executemany("insert into fts_hay(rowid, hay) values(?, ?)",
                             [(rowid, rows[n][4]) for n, (rowid, _) in old.items()])
    new = [rows[n] for n in names if n not in old]
    if new:
        top = conn.execute("select coalesce(max(id), 0) from pkg").fetchone()[0]
        conn.executemany("insert into pkg(version, framework, task, description, hay, eman, "
                         "name) values(?,?,?,?,?,?,?)", new)
        if fts:
            conn.execute("insert into fts_hay(rowid, hay) select id, hay from pkg where id > ?",
                         (top,))


def _snapshot_of(head: dict) -> tuple[str, dict] | None:
    """The snapshot ``head`` lists, as (its file name, its entry): format 2 when listed,
    else the older JSON-lines one."""
    for key, file in SNAPSHOT_KEYS.items():
        snap = head.get(key)
        if (isinstance(snap, dict) and isinstance(snap.get("sha256"), str)
                and len(snap["sha256"]) == 64
                and all(c in "0123456789abcdef" for c in snap["sha256"])
                and all(isinstance(snap.get(k), int) and snap[k] >= 0
                        for k in ("size", "segment", "lines"))
                and (snap["segment"], snap["lines"]) <= (head["segment"], head["lines"])):
            return file, snap
    return None


def _snapshot_file(registry: Registry, log: str, file: str, snap: dict) -> BinaryIO:
    """The snapshot, open: the registry's file, or a downloaded copy (checked against its
    sha256 and size), deleted once open, so that it takes no room in the cache after."""
    from mlpm.registry import LocalRegistry

    rel = f"{SEARCH_DIR}/{log}/{file}"
    if isinstance(registry, LocalRegistry):
        return open(registry.path / rel, "rb")  # noqa: SIM115 (the caller closes it)
    from mlpm.fetch import fetch_blob

    for _ in range(2):  # another first sync may delete the copy between fetch and open
        path = fetch_blob(registry.store, registry.location + rel,  # type: ignore[attr-defined]
                          snap["sha256"], snap["size"],
                          label=f"the search index of {registry.display}",
                          offline=getattr(registry, "offline", False))
        try:
            fh = open(path, "rb")  # noqa: SIM115 (the caller closes it)
        except FileNotFoundError:
            continue
        try:
            path.unlink()
        except OSError:
            pass
        return fh
    raise FileNotFoundError(path)


# a database file being built: no journal (a crash leaves only that file), one writer
_FRESH = ("pragma page_size=8192; pragma journal_mode=off; pragma synchronous=off; "
          "pragma locking_mode=exclusive; pragma cache_size=-16000;")
_FTS_TABLES = ("fts_hay_data", "fts_hay_idx", "fts_hay_config")  # what FTS5 stores


def _json_each(conn: sqlite3.Connection) -> bool:
    import sqlite3

    try:
        conn.execute("select count(*) from json_each('[1]')").fetchone()
        return True
    except sqlite3.OperationalError:
        return False


def _load(conn: sqlite3.Connection, side: sqlite3.Connection | None, source: BinaryIO,
          table: bool) -> None:
    """Insert the snapshot's rows (format 2 when ``table``, else JSON lines), a chunk at a
    time. ``side``, a database of its own (SQLite
    has one writer per file), gets the trigram index in a thread: each chunk's texts as
    one long statement, run without the GIL, while this thread reads and inserts the next;
    on two cores the index then costs no wall time of its own."""
    import gzip
    import queue
    import threading

    chunks: queue.Queue = queue.Queue(maxsize=2)  # at most two chunks waiting: bounded memory
    failed: list[BaseException] = []
    by_json = side is not None and _json_each(side)

    def index() -> None:
        assert side is not None
        while (chunk := chunks.get()) is not None:
            if failed:
                continue
            try:
                if by_json:
                    side.execute("insert into fts_hay(rowid, hay) select ? + key, value "
                                 "from json_each(?)", chunk)
                else:
                    side.executemany("insert into fts_hay(rowid, hay) values(?, ?)",
                                     [(chunk[0] + i, hay) for i, hay in
                                      enumerate(json.loads(chunk[1]))])
            except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
                failed.append(exc)
        if not failed:
            try:
                side.execute("insert into fts_hay(fts_hay, rank) values('automerge', 4)")
                side.execute("commit")
            except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
                failed.append(exc)

    worker = threading.Thread(target=index, name="mlpm-search-index", daemon=True)
    if side is not None:
        worker.start()
    try:
        first, rest = 1, b""
        with gzip.GzipFile(fileobj=source, mode="rb") as fh:  # closes only its own
            while True:
                block = fh.read(1 << 22)
                text = rest + block
                if block:
                    cut = text.rfind(b"\n") + 1
                    text, rest = text[:cut], text[cut:]
                if not text:
                    if not block:
                        break
                    continue
                lines = text.decode("utf-8").split("\n")
                if lines[-1] == "":
                    lines.pop()
                if table:
                    rows = _table_rows(lines, first)
                else:
                    rows = [(first + i, *row) for i, row in enumerate(_rows(lines).values())]
                conn.executemany("insert or replace into pkg(id, version, framework, task, "
                                 "description, hay, eman, name) values(?,?,?,?,?,?,?,?)", rows)
                if side is not None:
                    chunks.put((first, json.dumps([row[5] for row in rows],
                                                  ensure_ascii=False)))
                first += len(rows)
                if failed:
                    raise failed[0]
                if not block:
                    break
    finally:
        if side is not None:
            if failed:  # the worker may be waiting for room in the queue
                while not chunks.empty():
                    chunks.get_nowait()
            chunks.put(None)
            worker.join()
    if failed:
        raise failed[0]


def _build_from_snapshot(registry: Registry, log: str, file: str, snap: dict) -> None:
    """A first sync: the database built anew from the log's snapshot, in a file of its own
    with no journal (a crash leaves only that file), then put in place of the old one. The
    trigram index is built in a second file at the same time, then its tables are copied
    in as they are."""
    import gzip
    import sqlite3

    from mlpm.errors import RegistryError

    final = database_file(registry.location)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    side_file = tmp.with_name(tmp.name + "-fts")
    try:
        source = _snapshot_file(registry, log, file, snap)
    except FileNotFoundError:
        raise RegistryError(f"the registry {registry.display} lists a search snapshot but does "
                            "not have it; ask the registry's owner to run `mlpm registry "
                            "reindex`.") from None
    conn = sqlite3.connect(str(tmp), isolation_level=None)
    side = None
    try:
        conn.executescript(_FRESH + _SCHEMA.replace(
            "create index if not exists pkg_eman on pkg(eman);", ""))
        fts = _trigram_ok(conn)
        if fts:
            conn.executescript(_FTS)
            side = sqlite3.connect(str(side_file), isolation_level=None,
                                   check_same_thread=False)
            side.executescript(_FRESH + _FTS)
            # no merging of the index's segments while loading (half the time): later
            # syncs merge them a little at a time (automerge), never all at once
            side.executemany("insert into fts_hay(fts_hay, rank) values(?, ?)",
                             [("automerge", 0), ("crisismerge", 1000)])
            side.execute("begin")
        conn.execute("begin")
        try:
            _load(conn, side, source, file == SNAPSHOT)
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
            raise RegistryError(f"the search snapshot of the registry {registry.display} is "
                                "damaged; ask the registry's owner to run `mlpm registry "
                                "reindex`.") from None
        conn.executemany("insert or replace into meta(key, value) values(?, ?)", [
            ("fts2", "01"[fts]), ("log", log), ("segment", str(snap["segment"])),
            ("lines", str(snap["lines"]))])
        conn.execute("commit")
        if side is not None:
            side.close()
            side = None
            # the same FTS5 table in both files: its tables copied are the index itself
            conn.execute("attach database ? as side", (str(side_file),))
            conn.execute("begin")
            for name in _FTS_TABLES:
                conn.execute(f"delete from main.{name}")
                conn.execute(f"insert into main.{name} select * from side.{name}")
            conn.execute("commit")
            conn.execute("detach database side")
        conn.close()
        os.replace(tmp, final)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if side is not None:
            side.close()
        side_file.unlink(missing_ok=True)
        source.close()


def sync(registry: Registry) -> tuple[sqlite3.Connection, bool] | None:
    """The registry's search database, brought up to date with its log; None when the
    registry has no search index (then callers read ``names`` and the index files).
    A first sync (or one after ``reindex``) loads the log's snapshot when it has one, then
    reads the log from where the snapshot ends."""
    reader = _reader(registry)
    if reader is None:
        return None
    read, forget, tail = reader
    text = read(HEAD_REL)
    if text is None:
        return None
    try:
        head = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(head, dict) and head.get("mlpm-search") == FORMAT
            and _valid_log(head.get("log"))
            and all(isinstance(head.get(k), int) and head[k] >= 0
                    for k in ("segment", "lines"))):
        return None
    conn, fts = _connect(registry.location)
    state = dict(conn.execute("select key, value from meta").fetchall())
    log, seg, done, per = head["log"], head["segment"], head["lines"], head.get("segment-lines")
    if state.get("log") == log and (int(state["segment"]), int(state["lines"])) == (seg, done):
        return conn, fts
    snap = _snapshot_of(head)
    if state.get("log") != log and snap is not None:
        conn.close()
        _build_from_snapshot(registry, log, *snap)
        conn, fts = _connect(registry.location)
    conn.execute("begin immediate")
    try:
        state = dict(conn.execute("select key, value from meta").fetchall())
        if state.get("log") != log:  # a new log (reindex): start over
            conn.execute("delete from pkg")
            if fts:
                conn.execute("insert into fts_hay(fts_hay) values('delete-all')")
            at, skip, offset = 0, 0, 0
        else:
            at, skip = int(state["segment"]), int(state["lines"])
            offset = int(state.get("bytes") or -1)  # where line ``skip`` starts, if known
        while at <= seg:
            rel = segment_rel(log, at)
            # the lines already applied of a segment are never rewritten: read after them
            got = tail(rel, offset) if skip and offset > 0 else None
            body, base = (got[0], skip if got[1] else 0) if got else (read(rel), 0)
            if body is None:
                from mlpm.errors import RegistryError

                raise RegistryError(f"the registry {registry.display} lists the search segment "
                                    f"{rel} but does not have it; ask the registry's owner to "
                                    "run `mlpm registry reindex`.")
            lines = body.splitlines(keepends=True)
            if lines and not lines[-1].endswith("\n"):
                lines.pop()  # being written
            total = base + len(lines)
            end = min(done, total) if at == seg else total
            if end > skip:
                _apply(conn, fts, lines[skip - base:end - base])
            if at < seg and (not isinstance(per, int) or end >= per):
                forget(rel)
                at, skip, offset = at + 1, 0, 0
            else:  # the current segment, or a stale cached copy of a full one: resume here
                if end >= skip:
                    start = offset if base else 0
                    offset = start + sum(len(line.encode()) for line in lines[:end - base])
                    skip = end
                break
        conn.executemany("insert or replace into meta(key, value) values(?, ?)",
                         [("log", log), ("segment", str(at)), ("lines", str(skip)),
                          ("bytes", str(offset))])
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        conn.close()
        raise
    return conn, fts


def _grams(text: str) -> list[str]:
    return list(dict.fromkeys(text[i:i + 3] for i in range(len(text) - 2)))


def _quoted(grams: list[str]) -> list[str]:
    return ['"' + g.replace('"', '""') + '"' for g in grams]


FTS_CAP = 5000  # more trigram candidates than this: the text is common, walk names in order
MATCH_GRAMS = 8  # trigrams of the text looked up, spread over it (instr() checks the rest)
MORE_CAP = 1000  # matches past the limit counted, at most (then "more than")
_COLUMNS = "name, version, framework, task, description"


class Found(NamedTuple):
    """A page of search hits: ``hits`` in rank order, then ``more`` further matches
    (exactly, or at least that many when ``exact`` is false)."""

    hits: list[dict]
    more: int
    exact: bool


def _ranked(conn: sqlite3.Connection, where: list[str], args: list, needle: str,
            limit: int | None) -> list[tuple]:
    """Rows matching ``where``: the name itself, then names that start with the text, then
    the rest, each in name order; at most ``limit``. With a limit, two walks of the names in
    order (those starting with the text, then the others) that stop when it is reached."""
    if limit is None:
        return conn.execute(
            f"select {_COLUMNS} from pkg p where " + " and ".join(where)
            + " order by p.name <> ?, substr(p.name, 1, ?) <> ?, p.name",
            [*args, needle, len(needle), needle]).fetchall()
    prefix = "p.name >= ? and p.name < ?"  # names are ASCII: chr(127) sorts after them all
    bounds = [needle, needle + chr(127)]
    rows = conn.execute(f"select {_COLUMNS} from pkg p where " + " and ".join(where)
                        + f" and {prefix} order by p.name limit {int(limit)}",
                        [*args, *bounds]).fetchall()
    if len(rows) < limit:
        rows += conn.execute(f"select {_COLUMNS} from pkg p where " + " and ".join(where)
                             + f" and not ({prefix}) order by p.name "
                             f"limit {int(limit) - len(rows)}", [*args, *bounds]).fetchall()
    return rows


def search(registry: Registry, text: str, task: str | None = None,
           framework: str | None = None, limit: int | None = None) -> Found | None:
    """``mlpm search`` from the search database (None: the registry has none): packages
    whose name, description, task, family or algorithm contains ``text``, any case, in
    rank order (the name itself, names starting with it, the rest; by name within each);
    the first ``limit`` (None: all), and how many more match."""
    synced = sync(registry)
    if synced is None:
        return None
    conn, fts = synced
    needle = text.lower()
    where, args = ["instr(p.hay, ?) > 0"], [needle]
    if task:
        where.append("p.task = ?")
        args.append(task)
    if framework:
        where.append("p.framework = ?")
        args.append(framework)
    grams = _grams(needle)
    try:
        candidates = None
        if fts and grams:  # the trigram index finds the rows, unless nearly all would do
            if len(grams) > MATCH_GRAMS:  # each costs a lookup in every index segment
                grams = [grams[round(i * (len(grams) - 1) / (MATCH_GRAMS - 1))]
                         for i in range(MATCH_GRAMS)]
            match = " AND ".join(_quoted(grams))
            candidates = [r for (r,) in conn.execute(
                f"select rowid from fts_hay where fts_hay match ? limit {FTS_CAP + 1}",
                (match,))]
        if candidates is not None and (len(candidates) <= FTS_CAP or limit is None):
            if len(candidates) <= FTS_CAP:
                where.append(f"p.id in ({','.join(map(str, candidates)) or 'null'})")
            else:
                where.append("p.id in (select rowid from fts_hay where fts_hay match ?)")
                args.append(match)
            rows = _ranked(conn, where, args, needle, None)  # a few thousand at most
            shown = rows if limit is None else rows[:limit]
            more, exact = len(rows) - len(shown), True
        else:  # a common text: walk names in rank order and stop after the page
            rows = _ranked(conn, where, args, needle,
                           None if limit is None else limit + MORE_CAP + 1)
            shown = rows if limit is None else rows[:limit]
            more = len(rows) - len(shown)
            exact = more <= MORE_CAP
            more = min(more, MORE_CAP)
    finally:
        conn.close()
    return Found([{"name": n, "version": v, "framework": f, "task": t, "description": d}
                  for n, v, f, t, d in shown], more, exact)


def _index_backwards(conn: sqlite3.Connection) -> None:
    """The index of the names spelled backwards, made by the first did-you-mean after a
    first sync (a few seconds at 2M names, once) rather than by the sync; without it (a
    database another process holds) the same query reads every name."""
    import sqlite3

    try:
        conn.execute("create index if not exists pkg_eman on pkg(eman)")
    except sqlite3.OperationalError:
        pass


def suggestions(registry: Registry, name: str) -> list[str] | None:
    """Up to three names close to ``name`` (difflib's measure), from the search database
    and a bounded set of candidates: the names just before and after ``name`` in sorted
    order (they share the longest prefix with it), and the same for the names spelled
    backwards (the longest suffix). A typo leaves the part before it or the part after
    it intact, so four index seeks find the names it came from. None: the registry has no
    search index."""
    import difflib

    synced = sync(registry)
    if synced is None:
        return None
    conn, _ = synced
    rows = []
    try:
        _index_backwards(conn)
        for column, key in (("name", name), ("eman", name[::-1])):
            rows += conn.execute(f"select name from pkg where {column} >= ? order by {column} "
                                 f"limit {NEIGHBOURS}", (key,)).fetchall()
            rows += conn.execute(f"select name from pkg where {column} < ? order by {column} "
                                 f"desc limit {NEIGHBOURS}", (key,)).fetchall()
    finally:
        conn.close()
    return difflib.get_close_matches(name, list(dict.fromkeys(r[0] for r in rows)), n=3,
                                     cutoff=0.6)
