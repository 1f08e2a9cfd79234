"""docs/reference/cli.md is generated from the click commands: it must be current, and
it must cover every command a user can type."""

from __future__ import annotations

import click

from mlpm.cli.commands import CONTEXT, cli
from mlpm.cli.reference import COMMAND, DOC, render


def test_the_checked_in_cli_reference_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/reference/cli.md is out of date with the click commands; run `{COMMAND}` "
        "and commit the result.")


def test_the_cli_reference_documents_every_command_and_option():
    text = render()
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        stack = [(cli, ctx)]
        while stack:
            cmd, cmd_ctx = stack.pop()
            assert f"`{cmd_ctx.command_path}`" in text, cmd_ctx.command_path
            for param in cmd.get_params(cmd_ctx):
                if isinstance(param, click.Option) and param is not cmd.get_help_option(cmd_ctx):
                    assert param.opts[-1] in text, (cmd_ctx.command_path, param.opts)
            if isinstance(cmd, click.Group):
                for name in cmd.list_commands(cmd_ctx):
                    sub = cmd.get_command(cmd_ctx, name)
                    stack.append((sub, click.Context(sub, info_name=name, parent=cmd_ctx)))
    assert "\n### `mlpm cache list`\n" in text  # a subcommand sits under its group
    assert "$ mlpm registry serve ./registry --port 8700" in text


def test_every_command_help_shows_an_example():
    missing = []
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        stack = [(name, cli.get_command(ctx, name)) for name in cli.list_commands(ctx)]
        while stack:
            path, cmd = stack.pop()
            if "Example" not in (cmd.help or ""):
                missing.append(f"mlpm {path}")
            if isinstance(cmd, click.Group):
                sub_ctx = click.Context(cmd, info_name=path, parent=ctx)
                stack += [(f"{path} {n}", cmd.get_command(sub_ctx, n))
                          for n in cmd.list_commands(sub_ctx)]
    assert missing == [], f"--help without an `Example:` block: {missing}"
