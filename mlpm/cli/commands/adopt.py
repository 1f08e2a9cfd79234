"""The command that turns an existing codebase's hub calls into mlpm dependencies: adopt."""

from __future__ import annotations

from pathlib import Path

import click

from mlpm.cli.commands.common import (
    CONTEXT,
    emit_json,
    json_option,
    offline_option,
    registry_option,
    say,
    session,
    table,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mlpm.adopt.write import Written


@click.command(context_settings=CONTEXT)
@click.argument("path", required=False, default=".",
                type=click.Path(path_type=Path, exists=True))
@click.option("--write", "write", is_flag=True,
              help="Add the exactly mapped packages to the manifest (created as `mlpm init` "
              "would) and lock them.")
@click.option("--rewrite", is_flag=True,
              help="Change each exactly mapped call site to mlpm.load / mlpm.path (shows the "
              "diff and asks first).")
@click.option("--yes", "-y", is_flag=True, help="With --rewrite: rewrite without asking.")
@click.option("--caches", is_flag=True,
              help="Report the PyTorch Hub, TensorFlow Hub and Hugging Face caches and import "
              "the files mlpm.lock pins into mlpm's store (no download).")
@click.option("--prune", is_flag=True,
              help="With --caches: delete the cache copies verified identical to mlpm's store.")
@offline_option
@registry_option
@json_option
def adopt(path: Path, write: bool, rewrite: bool, yes: bool, caches: bool, prune: bool,
          offline: bool, registry: str | None, as_json: bool) -> None:
    """Find the pre-trained models a codebase loads and map each to an mlpm package.

    Reads PATH's Python files and notebooks (nothing is imported or run) for
    torch.hub.load, load_state_dict_from_url, tensorflow_hub.load / KerasLayer,
    hf_hub_download, snapshot_download, from_pretrained, pipeline, SentenceTransformer,
    timm.create_model and torchvision.models calls. Each call site is listed with the
    package it maps to and how sure: exact (a package names this very upstream, or a
    Hugging Face repository), name (only the name matches), unresolved (an argument is
    not a constant), unmapped.

    \b
    Examples:
      mlpm adopt                     # the current folder
      mlpm adopt src/ --json
      mlpm adopt --write             # add the exact matches to mlpm.toml and lock them
      mlpm adopt --write --rewrite   # ...and change those calls to mlpm.load / mlpm.path
      mlpm adopt --caches --prune    # import the hub caches' copies, then free them
    """
    from mlpm.adopt.report import HEADER, rows, summary
    from mlpm.adopt.report import adopt as run

    if prune and not caches:
        raise click.UsageError("--prune frees cache copies: use it with --caches.")
    if yes and not rewrite:
        raise click.UsageError("--yes confirms a rewrite: use it with --rewrite.")
    if as_json and (rewrite or (caches and write)):
        raise click.UsageError("--json prints the report alone (or `--caches --json` alone); "
                               "run --rewrite and --write --caches without --json.")
    if caches and not (write or rewrite):  # the caches alone: no scan, no registry
        _adopt_caches(path, prune, as_json)
        return
    current = session(registry, offline)
    adoption = run(path, current)
    written = None
    if caches and write:  # first the cached copies, so that locking downloads none of them
        from mlpm.adopt.caches import adopt_project_caches, wanted_from_records

        adopt_project_caches(adoption.root, mapped=wanted_from_records(
            adoption.mappings, current, adoption.registry))
    if write:
        from mlpm.adopt.write import write as add

        written = add(adoption.root, adoption.mappings, current)
    if as_json:
        from mlpm.cli.results import AdoptResult

        emit_json(AdoptResult.from_op(adoption, written))
        return
    for file, why in adoption.skipped:
        click.echo(f"warning: {file} was not read: {why}.", err=True)
    if adoption.mappings:
        table(HEADER, rows(adoption))
    say(summary(adoption))
    if not adoption.upstream_index:
        say(f"note: the registry {adoption.registry} has no upstreams index, so only names "
            "were matched; its owner runs `mlpm registry reindex DIR`.")
    if written is not None:
        _print_written(written)
    if rewrite:
        _rewrite(adoption.root, adoption.mappings, yes)
    if caches:
        _adopt_caches(path, prune, False)


def _rewrite(root: Path, mappings: list, yes: bool) -> None:
    """Show the diff of ``--rewrite``, ask (unless --yes), then write each file atomically."""
    import sys

    from mlpm.adopt.rewrite import plan_rewrite

    plan = plan_rewrite(root, mappings)
    for kept in plan.skipped:
        say(f"not rewritten: {kept.mapping.site.where}: {kept.reason}.")
    if not plan.edits:
        say("Nothing to rewrite: no exactly mapped call site can become an mlpm call.")
        return
    click.echo(plan.diff, nl=False)
    count = len(plan.rewritten)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("--rewrite asks before changing files; pass --yes to "
                                   "rewrite without asking.")
        if not click.confirm(f"Rewrite {count} call sites in {len(plan.edits)} files?"):
            say("Nothing rewritten.")
            return
    plan.write()
    say(f"Rewrote {count} call sites in {len(plan.edits)} files.")


def _adopt_caches(path: Path, prune: bool, as_json: bool) -> None:
    from mlpm.adopt.caches import adopt_project_caches

    result = adopt_project_caches(path, prune=prune)
    if as_json:
        from mlpm.cli.results import AdoptCachesResult

        emit_json(AdoptCachesResult.from_op(result))
        return
    for line in result.lines():
        click.echo(line)


def _print_written(written: Written) -> None:
    from mlpm.cli.render import install_summary

    for note in written.notes:
        say(f"note: {note}")
    if written.install is None:
        say("Nothing to write: no call site maps exactly to a package.")
        return
    if written.created and written.manifest is not None:
        say(f"Created {written.manifest.name} in {written.manifest.parent}")
    say(install_summary(written.install, "installed"))


COMMANDS = [adopt]
