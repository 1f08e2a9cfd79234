"""The click commands of ``mlpm``: parse, call an operation, render.

One module per command group, each command a click command that parses its options,
calls one operation (imported inside the command) and renders the result: text, or
under ``--json`` a typed result from ``mlpm.cli.results``.

- ``project.py``: init, install, upgrade, remove, outdated
- ``query.py``: list, tree, why, info, diff, search
- ``models.py``: convert, serve, audit, trust
- ``registry.py``: publish, yank, registry serve
- ``cache.py``: cache dir, cache list, cache verify, cache prune
- ``adopt.py``: adopt
- ``common.py``: the context settings, shared options, printing

This module is the ``mlpm`` group itself (its options, aliases and help) and adds the
commands of each module to it. ``mlpm.cli.main`` is the entry point and maps errors to
exit codes. ``python -m mlpm.cli.commands`` refreshes mlpm/cli/help.txt.
"""

from __future__ import annotations

from pathlib import Path

import click

from mlpm.cli.commands import adopt, cache, models, project, query, registry
from mlpm.cli.commands.common import CONTEXT

__all__ = ["CONTEXT", "HELP_TXT", "cli", "render_help"]

HELP_TXT = Path(__file__).resolve().parents[1] / "help.txt"  # what the fast path prints


class _Group(click.Group):
    """A group whose commands may also be called by an alias (npm's and pip's habits)."""

    aliases = {"rm": "remove", "uninstall": "remove"}

    def get_command(self, ctx: click.Context, cmd_name: str):
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))

    def format_commands(self, ctx: click.Context, formatter) -> None:
        super().format_commands(ctx, formatter)
        with formatter.section("Aliases"):
            formatter.write_dl([(alias, f"Same as `mlpm {name}`.")
                                for alias, name in sorted(self.aliases.items())])


_OUTPUT_FLAGS = [
    (("-q", "--quiet"), "Print only errors and the data asked for (no progress, no summaries)."),
    (("-v", "--verbose"), "Say more: every URL requested."),
    (("--no-progress",), "No progress bars (also MLPM_NO_PROGRESS=1); they show only on a "
     "terminal."),
]


def _output_flag(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """-q / -v / --no-progress, given before the command or after it (`mlpm install -q`)."""
    if value:
        flags = ctx.meta.setdefault("mlpm.output", set())  # one dict for the whole command
        flags.add(param.name)
        if {"quiet", "verbose"} <= flags:
            raise click.UsageError("-q and -v contradict each other; use one of them.")
        from mlpm.cli import set_output

        set_output(quiet="quiet" in flags, verbose="verbose" in flags,
                   progress="no_progress" not in flags)
    return value


def _output_option(decls: tuple[str, ...], text: str, hidden: bool = False) -> click.Option:
    return click.Option(list(decls), is_flag=True, expose_value=False, callback=_output_flag,
                        hidden=hidden, help=text)


def _accept_output_flags_after_commands(group: click.Group) -> None:
    """Every command also takes -q / -v / --no-progress (hidden in its help), unless it has an
    option of that name itself (`mlpm serve --verbose` logs requests)."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_output_flags_after_commands(command)
            continue
        taken = {o for p in command.params for o in getattr(p, "opts", [])}
        command.params += [_output_option(decls, text, hidden=True)
                           for decls, text in _OUTPUT_FLAGS if not set(decls) & taken]


@click.group(cls=_Group, context_settings=CONTEXT,
             params=[_output_option(decls, text) for decls, text in _OUTPUT_FLAGS])
@click.version_option(package_name="mlpm", prog_name="mlpm")
def cli() -> None:
    """mlpm: a package manager for pre-trained ML models.

    \b
    Start a project, install a model by semver range, use it from Python:
      mlpm init
      mlpm install digits@1.2        # newest 1.2.x; mlpm.toml keeps "1.2", mlpm.lock pins it
      python -c 'import mlpm; print(mlpm.load("digits", format="onnx"))'

    Exit codes: 0 success, 1 failure, 2 bad usage, 130 interrupted (Ctrl-C).
    """


for _module in (project, query, models, registry, cache, adopt):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
_accept_output_flags_after_commands(cli)


def render_help() -> str:
    """What `mlpm --help` prints; mlpm/cli/help.txt keeps a copy for the fast path."""
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        return cli.get_help(ctx) + "\n"
