"""The commands that write, serve or copy a registry: publish, yank, registry serve,
registry mirror, registry reindex."""

from __future__ import annotations

from pathlib import Path

import click

from mlpm.cli.commands.common import (
    CONTEXT,
    Port,
    cannot_listen,
    emit_json,
    host,
    json_option,
    size,
)


@click.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--registry", required=True, metavar="DIR|oci://HOST/NS",
              help="The registry to add to: a folder, or an OCI registry.")
@click.option("--name", default=None, help="Package name (single-file packages).")
@click.option("--version", "version", default=None, help="Exact version X.Y.Z (single files).")
@click.option("--depends", multiple=True, metavar="NAME@RANGE",
              help="A model dependency (repeatable).")
@json_option
def publish(path: Path, registry: str, name: str | None, version: str | None,
            depends: tuple[str, ...], as_json: bool) -> None:
    """Publish a model file or a package directory as a new version.

    A file (.onnx, .pt TorchScript, .pt2 exported program) needs --name and
    --version; a directory carries them in its mlpm.toml [package] table.

    \b
    Examples:
      mlpm publish model.onnx --registry ./registry --name digits --version 1.0.0
      mlpm publish ./digits-1.1.0 --registry ./registry
    """
    from mlpm.ops.publish import publish as run

    record = run(path, registry, name=name, version=version, depends=list(depends))
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record(record.to_json()))
        return
    click.echo(f"published {record.name}@{record.version} ({', '.join(record.formats)}, "
               f"{size(record.size)}) to {registry}")


@click.command(context_settings=CONTEXT)
@click.argument("spec", metavar="NAME@VERSION")
@click.option("--registry", required=True, metavar="DIR|oci://HOST/NS",
              help="The registry: a folder, or an OCI registry.")
@click.option("--undo", is_flag=True, help="Un-yank the version.")
@click.option("--reason", default=None, metavar="TEXT",
              help="Why (shown to anyone who asks for this version, and by `mlpm audit`).")
def yank(spec: str, registry: str, undo: bool, reason: str | None) -> None:
    """Yank a version: new resolves skip it; existing locks keep working.

    \b
    Example:
      mlpm yank digits@1.0.0 --registry ./registry --reason "wrong labels; use 1.0.1"
    """
    from mlpm.ops.publish import yank as run

    if reason is not None and (undo or not reason.strip()):
        raise click.UsageError("--reason takes a non-empty TEXT and goes with a yank, not "
                               "--undo.")
    record = run(spec, registry, undo=undo, reason=reason)
    click.echo(f"{'un-yanked' if undo else 'yanked'} {record.name}@{record.version}")


@click.group(context_settings=CONTEXT)
def registry() -> None:
    """Serve a registry folder over HTTP for a team.

    A registry is a folder of static files (config.json, names, index/, artifacts/) that
    `mlpm publish` writes; any HTTP server or CDN can serve it, this is the zero-setup one.

    \b
    Examples:
      mlpm publish model.onnx --registry ./registry --name digits --version 1.0.0
      mlpm registry serve ./registry --port 8700
      mlpm install digits --registry http://127.0.0.1:8700/
    """


@registry.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, callback=host,
              help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=Port(), help="Port (0: any free).")
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def serve(directory: Path, host: str, port: int, quiet: bool) -> None:
    """Serve a registry folder over HTTP (GET/HEAD, ETag, Range) until Ctrl-C.

    Clients use the printed URL as --registry (or MLPM_REGISTRY, or `mlpm init
    --registry URL`).

    \b
    Examples:
      mlpm registry serve ./registry --port 8700
      mlpm registry serve ./registry --host 0.0.0.0 --port 8700 --quiet   # for a team
    """
    from mlpm.errors import RegistryError
    from mlpm.registry.layout import config_file
    from mlpm.registry.server import serve as run

    if not config_file(directory).is_file():
        raise RegistryError(f"{directory} is not an mlpm registry (no config.json); publish into "
                            "it first with `mlpm publish FILE --registry DIR`.")
    try:
        run(directory, host, port, verbose=not quiet)
    except OSError as exc:
        raise cannot_listen(exc, host, port) from None


@registry.command(context_settings=CONTEXT)
@click.argument("source", metavar="SRC")
@click.argument("destination", metavar="DST")
@click.argument("specs", nargs=-1, metavar="[NAME[@RANGE]]...")
@click.option("--lock", "lock", type=click.Path(path_type=Path, dir_okay=False), default=None,
              metavar="FILE", help="Copy exactly what this mlpm.lock pins (for an air-gapped "
              "machine).")
@json_option
def mirror(source: str, destination: str, specs: tuple[str, ...], lock: Path | None,
           as_json: bool) -> None:
    """Copy packages between registries: a folder, an HTTP registry or an oci:// registry
    into a folder or an oci:// registry.

    Every version (or those the NAME@RANGE specs match, or what --lock pins) is copied
    with its record, byte for byte, its artifacts by sha256 and its yank flag. Running it
    again copies only what is missing, so an interrupted mirror resumes.

    \b
    Examples:
      mlpm registry mirror ./registry oci://registry.example.com/ml/models
      mlpm registry mirror https://models.example.com/reg/ ./offline --lock mlpm.lock
      mlpm registry mirror ./registry oci://127.0.0.1:5000/team digits@^1
    """
    from mlpm.cli.commands.common import session
    from mlpm.ops.mirror import mirror as run

    result = run(source, destination, list(specs), lock=lock, session=session(None, False))
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record({"copied": result.copied, "updated": result.updated,
                          "present": result.present, "files": result.files,
                          "bytes": result.bytes}))
        return
    for spec in result.copied:
        click.echo(f"+ {spec}")
    for spec in result.updated:
        click.echo(f"~ {spec} (yank flag)")
    click.echo(f"mirrored: {len(result.copied)} versions copied ({result.files} files, "
               f"{size(result.bytes)}), {result.present} already there")


@registry.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@json_option
def reindex(directory: Path, as_json: bool) -> None:
    """Rebuild a registry folder's names, search and upstreams indexes from its index files.

    Publish and yank keep them up to date; run this after copying or editing index files
    by hand, or to compact the search log. Readers see the old files or the new ones.

    \b
    Example:
      mlpm registry reindex ./registry
    """
    from mlpm.ops.reindex import reindex as run

    result = run(directory)
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record(result))
        return
    for name in result["skipped"]:
        click.echo(f"warning: the index file of '{name}' is unreadable; it is left out.",
                   err=True)
    click.echo(f"reindexed {result['packages']} packages ({result['segments']} search "
               "segments)")


COMMANDS = [publish, yank, registry]
