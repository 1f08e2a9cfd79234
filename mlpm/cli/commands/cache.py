"""The cache commands: cache dir, cache list, cache verify, cache prune."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from mlpm.cli.commands.common import CONTEXT, emit_json, json_option, size, table

if TYPE_CHECKING:
    from mlpm.cli.results import CacheEntry
    from mlpm.store import Store


@click.group(context_settings=CONTEXT)
def cache() -> None:
    """Inspect and clean the model cache (MLPM_CACHE_DIR).

    One cache is shared by all projects: verified files by sha256, and conversions.

    \b
    Examples:
      mlpm cache list                # what is cached, for which package@version, used by whom
      mlpm cache prune --dry-run     # what no project's mlpm.lock uses any more
    """


@cache.command("dir", context_settings=CONTEXT)
def cache_dir() -> None:
    """Print the cache folder (MLPM_CACHE_DIR, else the platform's user cache folder).

    \b
    Example:
      du -sh "$(mlpm cache dir)"
    """
    from mlpm.store import Store

    click.echo(str(Store().root))


def _cache_entries(store: Store) -> list[CacheEntry]:
    """Every blob and conversion in the cache, with the package@version and projects whose
    locks use it (read from the locks the cache's references point to)."""
    from mlpm.cli.results import CacheEntry
    from mlpm.errors import ManifestError
    from mlpm.project import Lock

    used = store.referenced()
    packages: dict[str, set[str]] = {}
    formats: dict[str, set[str]] = {}
    files: dict[str, set[str]] = {}
    for _, lock_path in store.projects():
        try:
            lock = Lock.read(lock_path)
        except (ManifestError, OSError):
            continue
        for pkg in (lock.packages.values() if lock else []):
            who = f"{pkg.name}@{pkg.version}"
            for art in pkg.artifacts:
                packages.setdefault(art.sha256, set()).add(who)
                formats.setdefault(art.sha256, set()).add(art.format)
                files.setdefault(art.sha256, set()).add(art.path)
            for conv in pkg.conversions:
                key = f"convert-{conv.key}"
                packages.setdefault(key, set()).add(who)
                formats.setdefault(key, set()).add(str(conv.format))
    rows = [CacheEntry(kind="blob", id=b.sha256, sha256=b.sha256, size=b.size,
                       packages=sorted(packages.get(b.sha256, ())),
                       formats=sorted(formats.get(b.sha256, ())),
                       files=sorted(files.get(b.sha256, ())),
                       projects=sorted(used.get(b.sha256, [])), path=str(b.path))
            for b in store.blobs()]
    for key, bytes_, folder in store.conversions():
        ref = f"convert-{key}"
        rows.append(CacheEntry(kind="conversion", id=key, sha256=None, size=bytes_,
                               packages=sorted(packages.get(ref, ())),
                               formats=sorted(formats.get(ref, ())),
                               files=sorted(f.name for f in folder.iterdir()
                                            if f.is_file() and f.name != "conversion.json"),
                               projects=sorted(used.get(ref, [])), path=str(folder)))
    return rows


@cache.command("list", context_settings=CONTEXT)
@json_option
def cache_list(as_json: bool) -> None:
    """List cached files and conversions: package@version, format, size, users.

    "used by" names the projects whose mlpm.lock uses an entry; an "unreferenced" one is
    what `mlpm cache prune` deletes.

    \b
    Examples:
      mlpm cache list
      mlpm cache list --json
    """
    from mlpm.cli.results import CacheList
    from mlpm.store import Store

    rows = _cache_entries(Store())
    if as_json:
        emit_json(CacheList(rows))
        return
    if not rows:
        click.echo("the cache is empty")
        return
    lines = []
    for row in sorted(rows, key=lambda r: (not r.projects, r.packages, r.kind)):
        fmt = ",".join(row.formats) or "-"
        lines.append([", ".join(row.packages) or ("(in use)" if row.projects
                                                  else "unreferenced"),
                      fmt + (" (converted)" if row.kind == "conversion" else ""),
                      ",".join(row.files) or "-", size(row.size), row.id[:12],
                      ", ".join(row.projects) or "-"])
    table(["package", "format", "file", "size", "id", "used by"], lines)
    blobs = sum(r.kind == "blob" for r in rows)
    convs = len(rows) - blobs
    loose = sum(r.size for r in rows if not r.projects)
    click.echo(f"{blobs} file{'s' if blobs != 1 else ''}, {convs} conversion"
               f"{'s' if convs != 1 else ''}: {size(sum(r.size for r in rows))}"
               + (f" ({size(loose)} unreferenced; `mlpm cache prune` frees it)"
                  if loose else ""))


@cache.command("verify", context_settings=CONTEXT)
@json_option
def cache_verify(as_json: bool) -> None:
    """Re-hash every cached file; exit 1 if any is corrupt.

    Delete a corrupt path it prints: the next `mlpm install` or `mlpm.load` fetches it again.

    \b
    Example:
      mlpm cache verify
    """
    from mlpm.store import Store

    store = Store()
    blobs = store.blobs()
    bad = store.verify()
    if as_json:
        from mlpm.cli.results import CacheVerify

        emit_json(CacheVerify(len(blobs), [b.sha256 for b in bad]))
    else:
        for blob in bad:
            click.echo(f"corrupt: {blob.path}")
        click.echo(f"checked {len(blobs)} blobs: {len(bad)} corrupt")
    if bad:
        sys.exit(1)


@cache.command("prune", context_settings=CONTEXT)
@click.option("--dry-run", is_flag=True, help="Only say what would be freed.")
@json_option
def cache_prune(dry_run: bool, as_json: bool) -> None:
    """Delete cached files and conversions that no project's mlpm.lock uses.

    A project whose mlpm.lock is gone uses nothing.

    \b
    Examples:
      mlpm cache prune --dry-run
      mlpm cache prune
    """
    from mlpm.store import Store

    files, freed = Store().prune(dry_run=dry_run)
    if as_json:
        from mlpm.cli.results import CachePrune

        emit_json(CachePrune(files, freed, dry_run))
        return
    click.echo(f"{'would free' if dry_run else 'freed'} {size(freed)} ({files} "
               f"file{'s' if files != 1 else ''})")


COMMANDS = [cache]
