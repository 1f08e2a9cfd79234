"""The click commands of ``mlpm``: parse, call an operation, render.

Operations are imported inside each command; ``mlpm.cli.main`` is the entry point and
maps errors to exit codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

# A fixed width keeps help identical everywhere (and lets `mlpm --help` skip click).
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100,
           "terminal_width": 100}


def _emit_json(data: Any, key: str | None = None) -> None:
    """Print one --json document (docs/reference/json.md): ``{"schema": 1, "command": ...}``
    around ``data``, a dict of snake_case keys (a list goes under ``key``)."""
    from mlpm.cli.render import envelope

    names: list[str] = []
    ctx = click.get_current_context(silent=True)
    while ctx is not None and ctx.parent is not None:  # the canonical name, not an alias
        names.insert(0, ctx.command.name or "")
        ctx = ctx.parent
    if not isinstance(data, dict):
        data = {key or "items": data}
    click.echo(json.dumps(envelope(" ".join(names), data), indent=2, default=str))


def _say(text: str, err: bool = False) -> None:
    """A status line (not data): -q silences it."""
    from mlpm.cli import OUTPUT

    if not OUTPUT.quiet:
        click.echo(text, err=err)


def _session(registry: str | None = None, offline: bool = False):
    from mlpm.ops import Session

    return Session.from_env(registry, offline)


def _project():
    from mlpm.project import Project

    return Project.find()


def _project_or_none():
    from mlpm.errors import ProjectNotFound

    try:
        return _project()
    except ProjectNotFound:
        return None


def _size(n: int | None) -> str:
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


def _one_of(param, value: str | None, kind: str) -> str | None:
    """Check a --context / --format / --to value, listing the valid ones (a usage error)."""
    if value is not None and value not in _valid(kind):
        raise click.BadParameter(f"'{value}' is not one of {', '.join(_valid(kind))}.",
                                 param=param)
    return value


def _choices(kind: str):
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


class _Port(click.ParamType):
    """A TCP port: 0-65535 (0: any free one)."""

    name = "PORT"

    def convert(self, value, param, ctx):
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and int(text) <= 65535):
            self.fail(f"'{value}' is not a port: use a number from 1 to 65535, or 0 for any "
                      "free port.", param, ctx)
        return int(text)


def _host(ctx, param, value: str) -> str:
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


def _cannot_listen(exc: OSError, host: str, port: int) -> Exception:
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


# -- project commands ------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@registry_option
def init(registry: str | None) -> None:
    """Start an mlpm project in the current folder.

    Writes mlpm.toml, or adds [tool.mlpm] to an existing pyproject.toml.

    \b
    Example:
      mlpm init --registry http://127.0.0.1:8700/
    """
    from mlpm.project import Project
    from mlpm.registry import canonical

    where = canonical(registry) if registry else None  # refused before anything is written
    project = Project.init(Path.cwd())
    if registry:
        project.registry = registry if registry.startswith("http") else where
        project.save()
    if project.in_pyproject:
        _say(f"Added [tool.mlpm] to {project.manifest_path}")
    else:
        _say(f"Created {project.manifest_path.name} in {project.root}")


def _print_changes(result, verb: str) -> None:
    from mlpm.cli.render import install_summary

    _say(install_summary(result, verb))


def _result_json(result) -> dict[str, Any]:
    from mlpm.cli.render import install_json

    return install_json(result)


@cli.command(context_settings=CONTEXT)
@click.argument("specs", nargs=-1, metavar="[NAME[@RANGE]]...")
@click.option("--frozen", is_flag=True,
              help="Fail if mlpm.lock does not match the manifest (CI mode).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the sources of the packages installed whose formats run code "
              "(PyTorch Hub, TorchScript, exported programs, SavedModels).")
@click.option("--context", default=None, metavar="CONTEXT", callback=lambda c, p, v:
              _one_of(p, v, "contexts"), shell_complete=_choices("contexts"),
              help="Usage context of the NAMEs (python, server, edge, cpp, onnx, browser): "
              "the format it needs is fetched or converted, and kept in the manifest.")
@click.option("--format", "fmt", default=None, metavar="FORMAT", callback=lambda c, p, v:
              _one_of(p, v, "formats"), shell_complete=_choices("formats"),
              help="Format the NAMEs are used in (onnx, torchscript, tflite...); converted "
              "when not published, and kept in the manifest.")
@offline_option
@registry_option
@dry_run_option
@json_option
def install(specs: tuple[str, ...], frozen: bool, trust_code: bool, context: str | None,
            fmt: str | None, offline: bool, registry: str | None, dry_run: bool,
            as_json: bool) -> None:
    """Install packages, or with no NAME exactly what mlpm.lock pins (like `npm ci`).

    NAME@1.2 installs the newest 1.2.x and keeps "1.2" in the manifest; NAME or
    NAME@1.2.3 saves "^INSTALLED" (npm's rule). mlpm.lock pins the exact version.

    \b
    Examples:
      mlpm install digits@1.2
      mlpm install --frozen          # in CI
      mlpm install digits@2 --dry-run
    """
    from mlpm.ops.install import install as run

    project = _project()
    if (context or fmt) and not specs:
        raise click.UsageError("--context and --format apply to the packages named: "
                               "mlpm install NAME --context edge")
    options = ({"context": context} if context else {}) | ({"format": fmt} if fmt else {})
    granted = _trust_hub_sources(specs, project, registry, offline) if trust_code else {}
    result = run(project, list(specs), session=_session(registry, offline), frozen=frozen,
                 options=options or None, dry_run=dry_run)
    from mlpm.trust import trust

    for source, name in ({} if dry_run else granted).items():  # now that the install worked
        if trust(source):
            _say(f"trusted {source} ({name})", err=True)
    if as_json:
        _emit_json(_result_json(result))
    else:
        _print_changes(result, "installed")


def _trust_hub_sources(specs, project, registry, offline) -> dict[str, str]:
    """--trust: the hub-code sources of the packages named, trusted for this process only
    (a conversion during install may run the code); returns source -> what it runs."""
    from mlpm.codescan import is_code_bearing
    from mlpm.ops import Session
    from mlpm.registry.records import parse_spec
    from mlpm.trust import grant_for_now, source_of

    session = Session.from_env(registry, offline)
    location = session.registry_location(project)
    granted: dict[str, str] = {}
    for spec in specs:
        for record in session.open(location).records(parse_spec(spec)[0]):
            if record.get("kind") == "torch-hub" or is_code_bearing(
                    a.format for a in record.artifacts):  # TorchScript, SavedModels...
                source = source_of(record.get("upstream"), record.artifacts, location,
                                   record.name)
                if grant_for_now(source):
                    what = "hub code" if record.get("kind") == "torch-hub" else "model code"
                    granted[source] = f"{what} of {record.name}"
                break
    return granted


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--latest", is_flag=True,
              help="Move past the manifest range to the newest version (records ^NEW).")
@offline_option
@registry_option
@dry_run_option
@json_option
def upgrade(names: tuple[str, ...], latest: bool, offline: bool, registry: str | None,
            dry_run: bool, as_json: bool) -> None:
    """Upgrade packages to the newest versions their ranges allow.

    With NAMEs only those move; every other package keeps its locked version.

    \b
    Examples:
      mlpm upgrade
      mlpm upgrade digits --latest   # cross a major; the manifest records ^NEW
      mlpm upgrade --dry-run
    """
    from mlpm.ops.install import upgrade as run

    result = run(_project(), list(names), session=_session(registry, offline), latest=latest,
                 dry_run=dry_run)
    if as_json:
        _emit_json(_result_json(result))
    else:
        _print_changes(result, "upgraded")


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@dry_run_option
@json_option
def remove(names: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Remove packages, their unused dependencies, and the cache space nothing else uses.

    Refused while another installed package depends on NAME. Also called as
    `mlpm rm` and `mlpm uninstall`.

    \b
    Examples:
      mlpm remove digits-calibrator
      mlpm remove digits --dry-run   # what would go, and the space it would free
    """
    from mlpm.cli.render import remove_json, remove_summary
    from mlpm.ops.remove import remove as run

    result = run(_project(), list(names), session=_session(), dry_run=dry_run)
    if as_json:
        _emit_json(remove_json(result))
    else:
        _say(remove_summary(result))


@cli.command(context_settings=CONTEXT)
@click.option("--all", "everything", is_flag=True, help="Show up-to-date packages too.")
@offline_option
@registry_option
@json_option
def outdated(everything: bool, offline: bool, registry: str | None, as_json: bool) -> None:
    """Show current, wanted (newest in range) and latest versions.

    \b
    Example:
      mlpm outdated
    """
    from mlpm.ops.install import outdated as run

    rows = run(_project(), session=_session(registry, offline), everything=everything)
    if as_json:
        from mlpm.cli.render import outdated_json

        _emit_json(outdated_json(rows))
        return
    if not rows:
        click.echo("all packages are up to date")
        return
    _table(["package", "current", "wanted", "latest", "range", "latest breaks"],
           [[r.name, r.current, r.wanted or "-", r.latest or "-", r.range,
             "; ".join(r.breaking) or ("no" if r.latest != r.current else "")] for r in rows])


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())


@cli.command("list", context_settings=CONTEXT)
@json_option
def list_(as_json: bool) -> None:
    """List installed packages.

    \b
    Example:
      mlpm list --json
    """
    from mlpm.ops.query import list_packages

    rows = list_packages(_project())
    if as_json:
        _emit_json({"packages": rows})
        return
    if not rows:
        click.echo("no packages installed; try `mlpm install NAME`")
        return
    _table(["package", "version", "framework", "formats", "size", ""],
           [[r["name"], r["version"], r["framework"], ",".join(r["formats"]), _size(r["size"]),
             "" if r["direct"] else f"(dependency of {', '.join(r['dependents'])})"]
            for r in rows])


@cli.command(context_settings=CONTEXT)
@json_option
def tree(as_json: bool) -> None:
    """Show the dependency tree.

    \b
    Example:
      mlpm tree
    """
    from mlpm.ops.query import tree as run

    nodes = run(_project())
    if as_json:
        _emit_json({"dependencies": nodes})
        return

    lines = []
    stack = [(node, 0) for node in reversed(nodes)]
    while stack:  # no recursion: a lock may be deeper than Python's stack
        node, depth = stack.pop()
        needs = f" (mlpm.toml: {node['range']})" if node["range"] else ""
        deduped = " (deduped)" if node.get("deduped") else ""
        lines.append(f"{'  ' * depth}{node['name']}@{node['version']}{needs}{deduped}")
        stack.extend((child, depth + 1) for child in reversed(node["dependencies"]))
    if lines:
        click.echo("\n".join(lines))


@cli.command(context_settings=CONTEXT)
@click.argument("name")
@json_option
def why(name: str, as_json: bool) -> None:
    """Show why a package is installed: the chains of dependents, shortest first.

    \b
    Example:
      mlpm why digits
    """
    from mlpm.ops.query import why as run

    project = _project()
    chains, total = run(project, name)  # the shortest WHY_LIMIT chains, and how many in all
    if as_json:
        from mlpm.cli.render import why_json

        _emit_json({**why_json(name, chains, project.dependencies), "total": total})
        return
    for chain in chains:
        click.echo(" -> ".join(chain))
    if total > len(chains):
        click.echo(f"... and {total - len(chains)} more chains through the same packages; "
                   "`mlpm tree` shows each package's dependencies once.")


@cli.command(context_settings=CONTEXT)
@click.argument("spec", metavar="NAME[@RANGE]")
@offline_option
@registry_option
@json_option
def info(spec: str, offline: bool, registry: str | None, as_json: bool) -> None:
    """Show everything known about a package.

    \b
    Examples:
      mlpm info digits
      mlpm info digits@1.1 --json
    """
    from mlpm.ops.query import info as run

    data = run(spec, session=_session(registry, offline), project=_project_or_none())
    if as_json:
        from mlpm.cli.render import snake_keys

        _emit_json(snake_keys(data))
        return
    yank = "  (YANKED)" if data.get("yanked") else ""
    newer = f"  (newer: {data['latest']})" if data["newer_available"] else ""
    click.echo(f"{data['name']}@{data['version']}{yank}{newer}")
    if data.get("description"):
        click.echo(f"  {data['description']}")
    for key in ("license", "framework", "task", "family", "algorithm", "dataset", "published"):
        if data.get(key):
            click.echo(f"{key + ':':<14}{data[key]}")
    if data.get("installed"):
        click.echo(f"{'installed:':<14}{data['installed']}")
    click.echo(f"{'registry:':<14}{data['registry']}")
    click.echo("formats:")
    for fmt in data["formats"]:
        click.echo(f"  {fmt['format']:<18}{fmt['file']:<24} {_size(fmt['size'])}")
    if data.get("metrics"):
        click.echo("metrics:")
        for key, value in data["metrics"].items():
            click.echo(f"  {key}: {value}")
    deps = data.get("dependencies") or {}
    click.echo("dependencies: " + (", ".join(f"{n}@{r}" for n, r in deps.items()) or "none"))
    if data.get("dependents"):
        click.echo("dependents:   " + ", ".join(data["dependents"]))
    if data.get("python-requires"):
        click.echo("python:       " + ", ".join(data["python-requires"]))
    _show_interface(data)
    for conv in data.get("conversions", []):
        parity = conv.get("parity", {})
        sig = f" ({conv['signature']})" if conv.get("signature") else ""
        click.echo(f"converted:    {conv['format']}{sig}, parity max abs error "
                   f"{parity.get('max_abs', 0):.3g} (tolerance {parity.get('tolerance', 0):g}), "
                   f"with {', '.join(f'{k} {v}' for k, v in conv.get('converter', {}).items())}")
    if isinstance(data.get("upstream"), dict):
        up = data["upstream"]
        where = up.get("repo") or up.get("handle") or up.get("url") or ""
        ref = up.get("commit") or up.get("ref") or up.get("revision") or up.get("version") or ""
        click.echo(f"upstream:     {up.get('type', '')} {where}" + (f" @ {ref}" if ref else ""))
    if data.get("release-notes"):
        click.echo(f"release notes: {data['release-notes']}")
    click.echo("versions:     " + ", ".join(
        v["version"] + (" (yanked)" if v["yanked"] else "") for v in data["versions"]))


def _shape(shape) -> str:
    if shape is None:
        return "[?...]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _params(parameters: list[dict]) -> str:
    """A Python-style parameter list: name=default, *args, a bare * before keyword-only."""
    out: list[str] = []
    star = False
    for p in parameters:
        kind = p.get("kind")
        if kind == "keyword_only" and not star:
            out.append("*")
        star = star or kind in ("keyword_only", "var_positional")
        prefix = {"var_positional": "*", "var_keyword": "**"}.get(kind or "", "")
        default = f"={p['default']}" if p.get("default") is not None else ""
        out.append(prefix + p["name"] + default)
    return ", ".join(out)


def _show_interface(data: dict) -> None:
    iface = data.get("interface") or {}
    if data.get("entrypoints"):
        default = iface.get("default-entrypoint")
        click.echo("entrypoints:")
        for ep in data["entrypoints"]:
            params = _params(ep.get("parameters", []))
            mark = "  (default)" if ep["name"] == default else ""
            known = "" if ep.get("known", True) else "  (parameters not statically known)"
            click.echo(f"  {ep['name']}({params}){mark}{known}")
            if ep.get("doc"):
                click.echo(f"      {ep['doc'].strip().splitlines()[0]}")
    if data.get("signatures"):
        click.echo("signatures:")
        for sig in data["signatures"]:
            ins = ", ".join(f"{t['name']}: {t['dtype']}{_shape(t.get('shape'))}"
                            for t in sig.get("inputs", []))
            outs = ", ".join(f"{t['name']}: {t['dtype']}{_shape(t.get('shape'))}"
                             for t in sig.get("outputs", []))
            click.echo(f"  {sig['name']}({ins}) -> {outs}")
    for key in ("preprocessing", "labels"):
        if iface.get(key):
            click.echo(f"{key + ':':<15}{iface[key]}")


@cli.command(context_settings=CONTEXT)
@click.argument("a", metavar="NAME@A")
@click.argument("b", metavar="NAME@B")
@offline_option
@registry_option
@json_option
def diff(a: str, b: str, offline: bool, registry: str | None, as_json: bool) -> None:
    """Compare two versions: interface (and the semver level it needs), metrics, size,
    formats and release notes.

    \b
    Example:
      mlpm diff digits@1.2 digits@2
    """
    from mlpm.ops.query import diff_versions

    data = diff_versions(a, b, session=_session(registry, offline), project=_project_or_none())
    if as_json:
        from mlpm.cli.render import snake_keys

        _emit_json(snake_keys(data))
        return
    click.echo(f"{data['a']} -> {data['b']}: a {data['level'].upper()} change")
    click.echo("interface:" + ("" if data["interface"] else " unchanged"))
    for change in data["interface"]:
        click.echo(f"  {change['level'].upper():<6} {change['text']}")
    if data["metrics"]:
        click.echo("metrics:")
        for key, (old, new) in data["metrics"].items():  # None: not reported by that version
            click.echo(f"  {key}: {'(none)' if old is None else old} -> "
                       f"{'(none)' if new is None else new}")
    click.echo(f"size: {_size(data['size'][0])} -> {_size(data['size'][1])}")
    if data["formats"]["added"] or data["formats"]["removed"]:
        click.echo(f"formats: +{', '.join(data['formats']['added']) or '-'} "
                   f"-{', '.join(data['formats']['removed']) or '-'}")
    for note in data["release_notes"]:
        if note["notes"]:
            click.echo(f"{note['version']}: {note['notes']}")


@cli.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--to", "target", required=True, metavar="FORMAT", callback=lambda c, p, v:
              _one_of(p, v, "targets"), shell_complete=_choices("targets"),
              help="onnx, torchscript, exported-program, tflite (tfjs: not on this stack).")
@click.option("--tolerance", type=float, default=None,
              help="Largest absolute difference allowed between original and conversion.")
@click.option("--input-shape", "shapes", multiple=True, metavar="NAME=1,3,224,224",
              help="Shape of an input the interface does not fix (repeatable).")
@click.option("--signature", default=None, help="Only this signature (SavedModels).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the package's source (its hub code, TorchScript or SavedModel).")
@json_option
def convert(name: str, target: str, tolerance: float | None, shapes: tuple[str, ...],
            signature: str | None, trust_code: bool, as_json: bool) -> None:
    """Convert an installed package to another format, checked for parity and cached.

    The original and the converted model run on the same sample inputs and must agree
    within the tolerance; the numbers are recorded in mlpm.lock.

    \b
    Examples:
      mlpm convert digits-hub --to onnx --trust
      mlpm convert digits-tf --to tflite
    """
    from mlpm.ops.convert import convert_locked

    input_shapes = {}
    for text in shapes:
        key, sep, dims = text.partition("=")
        try:
            input_shapes[key] = [int(d) for d in dims.split(",")] if sep else None
        except ValueError:
            input_shapes[key] = None
        if not sep or input_shapes[key] is None:
            raise click.UsageError(f"--input-shape takes NAME=DIMS, e.g. pixels=1,64, not "
                                   f"'{text}'.")
    say = None if as_json else (lambda msg: click.echo(msg, err=True))
    result = convert_locked(_project(), name, target, session=_session(),
                            tolerance=tolerance, input_shapes=input_shapes or None,
                            signature=signature, trust=trust_code, progress=say)
    if as_json:
        from mlpm.cli.render import snake_keys

        _emit_json(snake_keys(result))
        return
    if result["published"]:
        click.echo(f"{name}@{result['version']} publishes {target}: nothing to convert")
        return
    parity = result["parity"]
    how = "reused the cached conversion" if result["reused"] else "converted"
    click.echo(f"{how}: {name}@{result['version']} -> {target} at {result['path']}")
    click.echo(f"parity: max abs error {parity['max_abs']:.3g}, max rel error "
               f"{parity['max_rel']:.3g} (tolerance {parity['tolerance']:g}, "
               f"{parity['samples']} samples)")


@cli.command("serve", context_settings=CONTEXT)
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, callback=_host,
              help="Address to listen on.")
@click.option("--port", default=8501, show_default=True, type=_Port(), help="Port (0: any free).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the package's source (its hub code, TorchScript or SavedModel).")
@click.option("--verbose", is_flag=True, help="Log every request.")
def serve_model(name: str, host: str, port: int, trust_code: bool, verbose: bool) -> None:
    """Serve the locked model over HTTP (TensorFlow Serving / KServe v1 REST).

    Runs on ONNX Runtime when an ONNX form exists (published or converted), else on
    the model's own framework.

    \b
    Example:
      mlpm serve digits --port 8501
      curl -d '{"instances": [[0.0, ...]]}' http://127.0.0.1:8501/v1/models/digits:predict
    """
    from mlpm.loading import runner_for
    from mlpm.serve import serve

    runner = runner_for(_project(), name, trust=trust_code)
    try:
        serve(runner, host, port, verbose=verbose)
    except OSError as exc:
        raise _cannot_listen(exc, host, port) from None


@cli.command(context_settings=CONTEXT)
@offline_option
@json_option
def audit(offline: bool, as_json: bool) -> None:
    """Scan installed artifacts for pickles that can run code, and check advisories.

    Exit code 1 when something is found that the manifest's allow-pickle does not cover.

    \b
    Example:
      mlpm audit --json
    """
    from mlpm.ops.audit import audit as run

    report = run(_project(), _session(None, offline).store, session=_session(None, offline))
    if as_json:
        # the envelope's "schema" versions the output; the report's own "version" is for
        # library callers of AuditReport.to_json
        _emit_json({k: v for k, v in report.to_json().items() if k != "version"})
    else:
        click.echo(str(report))
    if report.exit_code:
        sys.exit(report.exit_code)


@cli.command("trust", context_settings=CONTEXT)
@click.argument("source", required=False)
@click.option("--list", "show", is_flag=True, help="List the trusted sources.")
@click.option("--remove", is_flag=True, help="Stop trusting SOURCE.")
@json_option
def trust_(source: str | None, show: bool, remove: bool, as_json: bool) -> None:
    """Trust a source of code (hub code, TorchScript, SavedModels); list or remove them.

    SOURCE is what an UntrustedCode error names: a GitHub repository OWNER/REPO, or
    REGISTRY#NAME for code or models a registry serves itself. Kept in trusted.toml in the config
    folder (MLPM_CONFIG_DIR).

    \b
    Examples:
      mlpm trust bundled#mlpm-starters/digits-hub   # lets `mlpm.load("digits-hub")` run
      mlpm trust --list
      mlpm trust --remove bundled#mlpm-starters/digits-hub
    """
    import os

    from mlpm.trust import check_source, trust, trusted_sources, untrust

    if show:
        if source or remove:
            raise click.UsageError("--list takes no SOURCE and no --remove: mlpm trust --list")
        sources = trusted_sources()
        env = [s.strip() for s in os.environ.get("MLPM_TRUST", "").split(",") if s.strip()]
        if as_json:
            _emit_json({"trusted": sources, "from_env": env})  # env: MLPM_TRUST
            return
        for item in sources:
            click.echo(item)
        if env:
            click.echo(f"(also trusted for this shell by MLPM_TRUST: {', '.join(env)})")
        if not sources and not env:
            click.echo("no trusted sources; `mlpm trust SOURCE` adds one")
        return
    if source is None:
        raise click.UsageError("name a SOURCE (e.g. mlpm trust pytorch/vision), or use --list.")
    if remove:
        if not untrust(source):
            from mlpm.errors import NotInstalled

            env = [s.strip() for s in os.environ.get("MLPM_TRUST", "").split(",")]
            if source in env or "*" in env:
                raise NotInstalled(f"{source} is trusted only by MLPM_TRUST in this shell; "
                                   "unset MLPM_TRUST or leave it out of the list.")
            raise NotInstalled(f"{source} is not a trusted source; `mlpm trust --list` shows "
                               "the ones that are.")
        click.echo(f"no longer trusted: {source}")
        return
    check_source(source)
    click.echo(f"trusted {source}" if trust(source) else f"{source} was already trusted")


@cli.command(context_settings=CONTEXT)
@click.argument("text", default="")
@click.option("--task", default=None, help="Only packages of this task.")
@click.option("--framework", default=None, help="Only packages of this framework.")
@offline_option
@registry_option
@json_option
def search(text: str, task: str | None, framework: str | None, offline: bool,
           registry: str | None, as_json: bool) -> None:
    """Search the registry by name, description, task or family.

    \b
    Example:
      mlpm search digit --task image-classification
    """
    from mlpm.ops.query import search as run

    hits = run(text, session=_session(registry, offline), project=_project_or_none(),
               task=task, framework=framework)
    if as_json:
        _emit_json({"packages": hits})
        return
    if not hits:
        click.echo("no packages found")
        return
    _table(["package", "version", "framework", "task", "description"],
           [[h["name"], h["version"], h["framework"], h["task"] or "", h["description"][:60]]
            for h in hits])


# -- publishing ------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--registry", required=True, metavar="DIR", help="The registry folder to add to.")
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
        from mlpm.cli.render import snake_keys

        _emit_json(snake_keys(record.to_json()))
        return
    click.echo(f"published {record.name}@{record.version} ({', '.join(record.formats)}, "
               f"{_size(record.size)}) to {registry}")


@cli.command(context_settings=CONTEXT)
@click.argument("spec", metavar="NAME@VERSION")
@click.option("--registry", required=True, metavar="DIR", help="The registry folder.")
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


@cli.group(context_settings=CONTEXT)
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
@click.option("--host", default="127.0.0.1", show_default=True, callback=_host,
              help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=_Port(), help="Port (0: any free).")
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
        raise _cannot_listen(exc, host, port) from None


# -- cache -----------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
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


def _cache_entries(store) -> list[dict[str, Any]]:
    """Every blob and conversion in the cache, with the package@version and projects whose
    locks use it (read from the locks the cache's references point to)."""
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
    rows = [{"kind": "blob", "id": b.sha256, "sha256": b.sha256, "size": b.size,
             "packages": sorted(packages.get(b.sha256, ())),
             "formats": sorted(formats.get(b.sha256, ())),
             "files": sorted(files.get(b.sha256, ())),
             "projects": sorted(used.get(b.sha256, [])), "path": str(b.path)}
            for b in store.blobs()]
    for key, size, folder in store.conversions():
        ref = f"convert-{key}"
        rows.append({"kind": "conversion", "id": key, "size": size,
                     "packages": sorted(packages.get(ref, ())),
                     "formats": sorted(formats.get(ref, ())),
                     "files": sorted(f.name for f in folder.iterdir()
                                     if f.is_file() and f.name != "conversion.json"),
                     "projects": sorted(used.get(ref, [])), "path": str(folder)})
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
    from mlpm.store import Store

    rows = _cache_entries(Store())
    if as_json:
        _emit_json(rows, "entries")
        return
    if not rows:
        click.echo("the cache is empty")
        return
    table = []
    for row in sorted(rows, key=lambda r: (not r["projects"], r["packages"], r["kind"])):
        fmt = ",".join(row["formats"]) or "-"
        table.append([", ".join(row["packages"]) or ("(in use)" if row["projects"]
                                                      else "unreferenced"),
                      fmt + (" (converted)" if row["kind"] == "conversion" else ""),
                      ",".join(row["files"]) or "-", _size(row["size"]), row["id"][:12],
                      ", ".join(row["projects"]) or "-"])
    _table(["package", "format", "file", "size", "id", "used by"], table)
    blobs = sum(r["kind"] == "blob" for r in rows)
    convs = len(rows) - blobs
    loose = sum(r["size"] for r in rows if not r["projects"])
    click.echo(f"{blobs} file{'s' if blobs != 1 else ''}, {convs} conversion"
               f"{'s' if convs != 1 else ''}: {_size(sum(r['size'] for r in rows))}"
               + (f" ({_size(loose)} unreferenced; `mlpm cache prune` frees it)"
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
        _emit_json({"checked": len(blobs), "corrupt": [b.sha256 for b in bad]})
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
        _emit_json({"files": files, "bytes": freed, "dry_run": dry_run})
        return
    click.echo(f"{'would free' if dry_run else 'freed'} {_size(freed)} ({files} "
               f"file{'s' if files != 1 else ''})")


_accept_output_flags_after_commands(cli)


def render_help() -> str:
    """What `mlpm --help` prints; mlpm/cli/help.txt keeps a copy for the fast path."""
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        return cli.get_help(ctx) + "\n"


if __name__ == "__main__":  # python -m mlpm.cli.commands: refresh help.txt
    from pathlib import Path

    Path(__file__).with_name("help.txt").write_text(render_help())
