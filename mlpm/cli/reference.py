"""docs/reference/cli.md, generated from the click commands themselves.

Every command and subcommand in the order `--help` lists them: usage, description,
examples, options (with defaults) and subcommands. Regenerate after changing a command:

    python -m mlpm.cli.reference          # writes docs/reference/cli.md

tests/repo/test_docs_cli_reference.py fails when the checked-in file is not what this renders.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import click

from mlpm.cli.commands import CONTEXT, cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "cli.md"
COMMAND = "python -m mlpm.cli.reference"

_HEADER = f"""# CLI reference

Every `mlpm` command as its `--help` describes it, generated from the commands
themselves by `{COMMAND}` (do not edit this page by hand). Every
command also takes `-h` / `--help`. For a guided tour see
[getting-started.md](../getting-started.md); for `--json` output see
[json.md](json.md); for environment variables see
[getting-started.md](../getting-started.md#environment-variables).
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _description(help_text: str) -> list[str]:
    """Click's help text as Markdown: ``\\b`` blocks (examples) become code blocks."""
    out: list[str] = []
    for para in inspect.cleandoc(help_text).split("\n\n"):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            body = lines[1:]  # a title line ("Examples:"), then commands, indented
            if body and not body[0].startswith((" ", "\t")):
                title = body.pop(0).strip()
                out += [f"**{title}**" if title in ("Example:", "Examples:") else title, ""]
            out += ["```console", *("$ " + ln.strip() for ln in body if ln.strip()), "```"]
        else:
            out.append(" ".join(ln.strip() for ln in lines))
        out.append("")
    return out


def _options(cmd: click.Command, ctx: click.Context) -> list[str]:
    rows = []
    helps = cmd.get_help_option(ctx)
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option) and not param.hidden and param is not helps:
            record = param.get_help_record(ctx)
            if record:
                rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
    return ["| Option | Description |", "|---|---|", *rows, ""] if rows else []


def _section(cmd: click.Command, ctx: click.Context, depth: int) -> list[str]:
    path = ctx.command_path
    out = [f"{'#' * min(depth + 1, 4)} `{path}`", ""]
    usage = " ".join(cmd.collect_usage_pieces(ctx))
    out += ["```", f"{path} {usage}".rstrip(), "```", ""]
    out += _description(cmd.help or "")
    parent = ctx.parent
    aliases = getattr(parent.command, "aliases", {}) if parent is not None else {}
    also = sorted(a for a, name in aliases.items() if name == ctx.info_name)
    if also and parent is not None:
        out += ["Also called as " + ", ".join(f"`{parent.command_path} {a}`" for a in also)
                + ".", ""]
    out += _options(cmd, ctx)
    if isinstance(cmd, click.Group):
        subs = [(n, sub) for n in cmd.list_commands(ctx)
                if (sub := cmd.get_command(ctx, n)) is not None and not sub.hidden]
        if subs:
            out += ["| Command | What it does |", "|---|---|"]
            for name, sub in subs:
                anchor = f"{path} {name}".replace(" ", "-")
                out.append(f"| [`{name}`](#{anchor}) | "
                           f"{_cell(sub.get_short_help_str(limit=200))} |")
            out.append("")
        for name, sub in subs:
            with click.Context(sub, info_name=name, parent=ctx, **CONTEXT) as sub_ctx:
                out += _section(sub, sub_ctx, depth + 1)
    return out


def render() -> str:
    """The Markdown of docs/reference/cli.md."""
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        body = _section(cli, ctx, 0)
    body[0] = "## `mlpm`"  # the page title is the header's
    text = _HEADER + "\n" + "\n".join(body)
    return text.rstrip("\n") + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
