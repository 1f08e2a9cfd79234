"""What the command modules share: the context settings, the common options, the checks
of option values, printing (status lines, tables, --json documents) and the project and
session every command opens.

Imports click; nothing here imports an operation at module level (``mlpm --help`` only
renders help text, so the operations are imported inside the commands).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from mlpm.cli.results import Result
    from mlpm.ops import Session
    from mlpm.project import Project

# A fixed width keeps help identical everywhere (and lets `mlpm --help` skip click).
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100,
           "terminal_width": 100}


def emit_json(result: Result) -> None:
    """Print one --json document (docs/reference/json.md): ``{"schema": 1, "command": ...}``
    around ``result.to_json()``, the typed result's fields in snake_case."""
    from mlpm.cli.render import envelope

    names: list[str] = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:  # the canonical name, not an alias
        names.insert(0, ctx.command.name or "")
        ctx = ctx.parent
    click.echo(json.dumps(envelope(" ".join(names), result.to_json()), indent=2, default=str))


def say(text: str, err: bool = False) -> None:
    """A status line (not data): -q silences it."""
    from mlpm.cli import OUTPUT

    if not OUTPUT.quiet:
        click.echo(text, err=err)


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


def session(registry: str | None = None, offline: bool = False) -> Session:
    from mlpm.ops import Session

    return Session.from_env(registry, offline)


def project() -> Project:
    from mlpm.project import Project

    return Project.find()


def project_or_none() -> Project | None:
    from mlpm.errors import ProjectNotFound

    try:
        return project()
    except ProjectNotFound:
        return None


def size(n: int | None) -> str:
    from mlpm.store import human_size

    return "size unknown" if n is None else human_size(n)


def _valid(kind: str) -> list[str]:
    """The values --context / --format / --to take (imported late: `mlpm --help` is fast)."""
    from mlpm.convert.routes import CONTEXTS, ROUTES
    from mlpm.registry.records import FORMAT_FRAMEWORK

    if kind == "contexts":
        return list(CONTEXTS)
    if kind == "formats":
        return list(dict.fromkeys([*FORMAT_FRAMEWORK, *CONTEXTS["browser"]]))
    return list(dict.fromkeys([f for r in ROUTES.values() for f in r] + list(CONTEXTS["browser"])))


def one_of(param, value: str | None, kind: str) -> str | None:
    """Check a --context / --format / --to value, listing the valid ones (a usage error)."""
    if value is not None and value not in _valid(kind):
        raise click.BadParameter(f"'{value}' is not one of {', '.join(_valid(kind))}.",
                                 param=param)
    return value


def choices(kind: str):
    """Shell completion of the values of --context / --format / --to."""
    return lambda ctx, param, incomplete: [v for v in _valid(kind) if v.startswith(incomplete)]


registry_option = click.option(
    "--registry", metavar="URL|DIR", default=None,
    help="Registry to use (also MLPM_REGISTRY); remembered in the manifest by install.")
offline_option = click.option(
    "--offline", is_flag=True, help="Use only what is cached; never touch the network "
    "(also MLPM_OFFLINE=1).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON instead of text (docs/reference/json.md).")
dry_run_option = click.option("--dry-run", is_flag=True,
                              help="Show what would change; write and download nothing.")


class Port(click.ParamType):
    """A TCP port: 0-65535 (0: any free one)."""

    name = "PORT"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and int(text) <= 65535):
            self.fail(f"'{value}' is not a port: use a number from 1 to 65535, or 0 for any "
                      "free port.", param, ctx)
        return int(text)


def host(ctx, param, value: str) -> str:
    """--host must name this machine; checked before anything slow starts."""
    import socket

    try:
        socket.getaddrinfo(value, None)
    except (socket.gaierror, UnicodeError):
        raise click.BadParameter(
            f"'{value}' does not resolve to an address; use an address of this machine, "
            "e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface).",
            param=param) from None
    return value


def cannot_listen(exc: OSError, host: str, port: int) -> Exception:
    """What failed when binding host:port, and the fix."""
    import errno

    from mlpm.errors import RegistryError, UsageError

    if exc.errno == errno.EADDRINUSE:
        return RegistryError(f"port {port} on {host} is already in use; choose another --port "
                             "(--port 0 picks a free one).")
    if exc.errno == errno.EACCES:
        return RegistryError(f"listening on port {port} needs administrator rights; choose "
                             "--port 1024 or above.")
    if exc.errno == errno.EADDRNOTAVAIL:
        return UsageError(f"{host} is not an address of this machine; use --host 127.0.0.1 "
                          "(this machine only) or 0.0.0.0 (every network interface).")
    return RegistryError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose "
                         "another --host or --port.")
