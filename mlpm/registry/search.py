"""The registry's search index: an append-only change log in the registry (written by
publish, yank and ``mlpm registry reindex``), and its local copy, a SQLite database in
the cache that ``mlpm search`` and did-you-mean answer from.

    search/head.json              {"mlpm-search": 1, "log": "log-ID", "segment": K,
                                   "lines": L, "segment-lines": N}
    search/log-ID/000000.jsonl    N lines each: full segments never change
    search/log-ID/00000K.jsonl    the current segment: its first L lines count

Each line is one package's search entry (its newest release, ``entry``) as of that time;
a later line of the same name replaces an earlier one. ``reindex`` writes a new
``log-ID`` folder and then ``head.json``, so readers see the old log or the new one. A
client keeps ``(log, segment, lines)`` it has applied and reads only what follows
(docs/reference/registry-index.md, "Search index").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlpm.registry import layout

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable

    from mlpm.registry import Registry
    from mlpm.registry.records import Record

FORMAT = 1
SEGMENT_LINES = 10_000
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


def _append_line(path: Path, text: str) -> None:
    """Append a line; a torn last line (a publish that crashed mid-write) is cut first."""
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


def add_name(root: Path, name: str) -> None:
    """Append a new package's name to ``names`` (append-only; reindex sorts it)."""
    _append_line(layout.names_file(root), name + "\n")


def record_changed(root: Path, records: list[Record]) -> None:
    """After publish or yank wrote a package's index file: append its entry to the log, or
    build the whole index when the registry has none yet (an older registry)."""
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
    _append_line(path, _line(entry(records)))
    write_atomic(root / HEAD_REL, json.dumps({**head, "segment": seg, "lines": lines + 1}))


def reindex(root: Path) -> dict:
    """Rebuild ``names`` and the search log from ``index/``: a new log folder, then
    ``names`` and ``head.json`` each replaced atomically, then old log folders removed.
    Returns ``{"packages": N, "segments": K, "skipped": [names of unreadable packages]}``."""
    import secrets
    import time

    from mlpm.files import remove_tree
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
    log = f"log-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
    folder = root / SEARCH_DIR / log
    folder.mkdir(parents=True)
    chunks = [entries[i:i + SEGMENT_LINES] for i in range(0, len(entries), SEGMENT_LINES)] \
        or [[]]
    for i, chunk in enumerate(chunks):
        write_atomic(folder / f"{i:06d}.jsonl", "".join(_line(e) for e in chunk),
                     durable=False)
    write_atomic(layout.names_file(root), "".join(e["name"] + "\n" for e in entries))
    write_atomic(root / HEAD_REL, json.dumps({
        "mlpm-search": FORMAT, "log": log, "segment": len(chunks) - 1,
        "lines": len(chunks[-1]), "segment-lines": SEGMENT_LINES}))
    for old in (root / SEARCH_DIR).iterdir():
        if old.is_dir() and old.name != log and _valid_log(old.name):
            remove_tree(old)
    return {"packages": len(entries), "segments": len(chunks), "skipped": sorted(skipped)}


# -- reading: the local database ------------------------------------------------------------


def _reader(registry: Registry) -> tuple[Callable[[str], str | None], Callable[[str], None]] \
        | None:
    """How to read a file of the registry, and forget a cached copy; None for a kind of
    registry without a search index (OCI, a Hugging Face repository)."""
    from mlpm.registry import LocalRegistry

    if isinstance(registry, LocalRegistry):
        root = registry.path

        def read_local(rel: str) -> str | None:
            try:
                return (root / rel).read_text("utf-8")
            except FileNotFoundError:
                return None

        return read_local, lambda rel: None
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

    return get, forget


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
create virtual table if not exists fts_hay using fts5(hay, content='', tokenize='trigram',
  detail='none');
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


def _apply(conn: sqlite3.Connection, fts: bool, lines: list[str]) -> None:
    """Apply log lines: a later line of a name replaces the earlier one."""
    rows: dict[str, tuple] = {}
    for text in lines:
        try:
            item = json.loads(text)
            name = item["name"]
            if not isinstance(name, str):
                continue
        except (ValueError, KeyError, TypeError):
            continue  # one bad line hides no other package
        version, framework, task, family, algorithm, description = (
            item.get(k) if isinstance(item.get(k), str) else None
            for k in ("version", "framework", "task", "family", "algorithm", "description"))
        hay = " ".join((name, description or "", task or "", family or "",
                        algorithm or "")).lower()
        rows.pop(name, None)
        rows[name] = (version, framework or "", task, description or "", hay, name[::-1], name)
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


def sync(registry: Registry) -> tuple[sqlite3.Connection, bool] | None:
    """The registry's search database, brought up to date with its log; None when the
    registry has no search index (then callers read ``names`` and the index files)."""
    reader = _reader(registry)
    if reader is None:
        return None
    read, forget = reader
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
    conn.execute("begin immediate")
    try:
        state = dict(conn.execute("select key, value from meta").fetchall())
        if state.get("log") != log:  # a new log (reindex): start over
            conn.execute("delete from pkg")
            if fts:
                conn.execute("insert into fts_hay(fts_hay) values('delete-all')")
            at, skip = 0, 0
        else:
            at, skip = int(state["segment"]), int(state["lines"])
        while at <= seg:
            rel = segment_rel(log, at)
            body = read(rel)
            if body is None:
                from mlpm.errors import RegistryError

                raise RegistryError(f"the registry {registry.display} lists the search segment "
                                    f"{rel} but does not have it; ask the registry's owner to "
                                    "run `mlpm registry reindex`.")
            lines = body.splitlines(keepends=True)
            if lines and not lines[-1].endswith("\n"):
                lines.pop()  # being written
            end = min(done, len(lines)) if at == seg else len(lines)
            _apply(conn, fts, lines[skip:end])
            if at < seg and (not isinstance(per, int) or end >= per):
                forget(rel)
                at, skip = at + 1, 0
            else:  # the current segment, or a stale cached copy of a full one: resume here
                skip = max(skip, end)
                break
        conn.executemany("insert or replace into meta(key, value) values(?, ?)",
                         [("log", log), ("segment", str(at)), ("lines", str(skip))])
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


def search(registry: Registry, text: str, task: str | None = None,
           framework: str | None = None) -> list[dict] | None:
    """``mlpm search`` from the search database (None: the registry has none): packages
    whose name, description, task, family or algorithm contains ``text``, any case."""
    synced = sync(registry)
    if synced is None:
        return None
    conn, fts = synced
    needle = text.lower()
    where, args = ["instr(p.hay, ?) > 0"], [needle]
    grams = _grams(needle)
    if fts and grams:
        where.append("p.id in (select rowid from fts_hay where fts_hay match ?)")
        args.append(" AND ".join(_quoted(grams[:32])))
    if task:
        where.append("p.task = ?")
        args.append(task)
    if framework:
        where.append("p.framework = ?")
        args.append(framework)
    try:
        rows = conn.execute(
            "select name, version, framework, task, description from pkg p where "
            + " and ".join(where) + " order by name", args).fetchall()
    finally:
        conn.close()
    return [{"name": n, "version": v, "framework": f, "task": t, "description": d}
            for n, v, f, t, d in rows]


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
        for column, key in (("name", name), ("eman", name[::-1])):
            rows += conn.execute(f"select name from pkg where {column} >= ? order by {column} "
                                 f"limit {NEIGHBOURS}", (key,)).fetchall()
            rows += conn.execute(f"select name from pkg where {column} < ? order by {column} "
                                 f"desc limit {NEIGHBOURS}", (key,)).fetchall()
    finally:
        conn.close()
    return difflib.get_close_matches(name, list(dict.fromkeys(r[0] for r in rows)), n=3,
                                     cutoff=0.6)
