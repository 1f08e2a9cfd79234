"""The read-only commands: list, tree, why, info, diff, search."""

from __future__ import annotations

import click

from mlpm.cli.commands.common import (
    CONTEXT,
    emit_json,
    json_option,
    offline_option,
    project,
    project_or_none,
    registry_option,
    session,
    size,
    table,
)


@click.command("list", context_settings=CONTEXT)
@json_option
def list_(as_json: bool) -> None:
    """List installed packages.

    \b
    Example:
      mlpm list --json
    """
    from mlpm.ops.query import list_packages

    rows = list_packages(project())
    if as_json:
        from mlpm.cli.results import ListResult

        emit_json(ListResult.from_rows(rows))
        return
    if not rows:
        click.echo("no packages installed; try `mlpm install NAME`")
        return
    table(["package", "version", "framework", "formats", "size", ""],
          [[r["name"], r["version"], r["framework"], ",".join(r["formats"]), size(r["size"]),
            "" if r["direct"] else f"(dependency of {', '.join(r['dependents'])})"]
           for r in rows])


@click.command(context_settings=CONTEXT)
@json_option
def tree(as_json: bool) -> None:
    """Show the dependency tree.

    \b
    Example:
      mlpm tree
    """
    from mlpm.ops.query import tree as run

    nodes = run(project())
    if as_json:
        from mlpm.cli.results import TreeResult

        emit_json(TreeResult.from_nodes(nodes))
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


@click.command(context_settings=CONTEXT)
@click.argument("name")
@json_option
def why(name: str, as_json: bool) -> None:
    """Show why a package is installed: the chains of dependents, shortest first.

    \b
    Example:
      mlpm why digits
    """
    from mlpm.ops.query import why as run

    current = project()
    chains, total = run(current, name)  # the shortest WHY_LIMIT chains, and how many in all
    if as_json:
        from mlpm.cli.results import WhyResult

        emit_json(WhyResult.from_chains(name, chains, current.dependencies, total))
        return
    for chain in chains:
        click.echo(" -> ".join(chain))
    if total > len(chains):
        click.echo(f"... and {total - len(chains)} more chains through the same packages; "
                   "`mlpm tree` shows each package's dependencies once.")


def _parity_inputs(parity: dict) -> str:
    """Which inputs the lock says parity ran on, as ", on the publisher's samples"."""
    inputs = parity.get("inputs")
    if not inputs:
        return ""
    words = {"publisher-samples": "the publisher's samples", "publisher-values":
             "the publisher's declared values", "random": "random inputs"}
    return ", on " + words.get(inputs, "your samples" if inputs.startswith("user:") else inputs)


@click.command(context_settings=CONTEXT)
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

    data = run(spec, session=session(registry, offline), project=project_or_none())
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record(data))
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
        click.echo(f"  {fmt['format']:<18}{fmt['file']:<24} {size(fmt['size'])}")
    for sample in data.get("samples", []):  # the publisher's parity inputs, not a format
        click.echo(f"samples:      {sample['file']} {size(sample['size'])} (parity inputs)")
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
                   f"{parity.get('max_abs', 0):.3g} (tolerance {parity.get('tolerance', 0):g}"
                   f"{_parity_inputs(parity)}), "
                   f"with {', '.join(f'{k} {v}' for k, v in conv.get('converter', {}).items())}")
    if isinstance(data.get("upstream"), dict):
        up = data["upstream"]
        where = up.get("repo") or up.get("handle") or up.get("url") or ""
        ref = up.get("commit") or up.get("ref") or up.get("revision") or up.get("version") or ""
        click.echo(f"upstream:     {up.get('type', '')} {where}" + (f" @ {ref}" if ref else ""))
    _show_hub(data)
    if data.get("release-notes"):
        click.echo(f"release notes: {data['release-notes']}")
    click.echo("versions:     " + ", ".join(
        v["version"] + (" (yanked)" if v["yanked"] else "") for v in data["versions"]))


def _show_hub(data: dict) -> None:
    """What a Hugging Face repository's files say: its config and its tensor table."""
    config = data.get("config")
    if config:
        arch = ", ".join(config.get("architectures") or []) or "?"
        kind = f" ({config['model_type']})" if config.get("model_type") else ""
        hidden = f", hidden size {config['hidden_size']}" if config.get("hidden_size") else ""
        labels = f", {len(config['labels'])} labels" if config.get("labels") else ""
        click.echo(f"config:       {arch}{kind}{hidden}{labels}")
    tensors = data.get("tensors")
    if tensors:
        dtypes = ", ".join(f"{k} {v}" for k, v in sorted(tensors["dtypes"].items()))
        click.echo(f"tensors:      {tensors['count']} tensors, {tensors['parameters']:,} "
                   f"parameters ({dtypes})")
    if data.get("branches"):
        click.echo("branches:     " + ", ".join(data["branches"]))


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


def _signature_lines(signatures: list[dict]) -> str:
    lines = []
    for sig in signatures:
        ins = ", ".join(f"{t['name']}: {t['dtype']}{_shape(t.get('shape'))}"
                        for t in sig.get("inputs", []))
        outs = ", ".join(f"{t['name']}: {t['dtype']}{_shape(t.get('shape'))}"
                         for t in sig.get("outputs", []))
        lines.append(f"  {sig['name']}({ins}) -> {outs}")
    return "\n".join(lines)


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
    # each format's own signatures; formats whose files say the same share one listing
    groups: dict[str, list[str]] = {}
    for row in data.get("formats") or [{"format": "", "signatures": data.get("signatures")}]:
        text = _signature_lines(row.get("signatures", data.get("signatures")) or [])
        if text:
            formats = groups.setdefault(text, [])
            if row["format"] not in formats:
                formats.append(row["format"])
    for text, formats in groups.items():
        click.echo(f"signatures ({', '.join(formats)}):" if len(groups) > 1 else "signatures:")
        click.echo(text)
    for key in ("preprocessing", "labels"):
        if iface.get(key):
            click.echo(f"{key + ':':<15}{iface[key]}")


@click.command(context_settings=CONTEXT)
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

    data = diff_versions(a, b, session=session(registry, offline), project=project_or_none())
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record(data))
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
    click.echo(f"size: {size(data['size'][0])} -> {size(data['size'][1])}")
    if data["formats"]["added"] or data["formats"]["removed"]:
        click.echo(f"formats: +{', '.join(data['formats']['added']) or '-'} "
                   f"-{', '.join(data['formats']['removed']) or '-'}")
    for note in data["release_notes"]:
        if note["notes"]:
            click.echo(f"{note['version']}: {note['notes']}")


SEARCH_LIMIT = 20  # packages `mlpm search` lists unless told --limit N or --all


@click.command(context_settings=CONTEXT)
@click.argument("text", default="")
@click.option("--task", default=None, help="Only packages of this task.")
@click.option("--framework", default=None, help="Only packages of this framework.")
@click.option("--limit", type=click.IntRange(min=1), default=SEARCH_LIMIT, show_default=True,
              metavar="N", help="List at most N packages, the best matches.")
@click.option("--all", "show_all", is_flag=True, help="List every matching package.")
@offline_option
@registry_option
@json_option
def search(text: str, task: str | None, framework: str | None, limit: int, show_all: bool,
           offline: bool, registry: str | None, as_json: bool) -> None:
    """Search the registry by name, description, task or family.

    Lists the best matches first: the package named TEXT, names that start with TEXT,
    then the rest, by name.

    \b
    Example:
      mlpm search digit --task image-classification
    """
    from mlpm.ops.query import search as run

    found = run(text, session=session(registry, offline), project=project_or_none(),
                task=task, framework=framework, limit=None if show_all else limit)
    if as_json:
        from mlpm.cli.results import SearchResult

        emit_json(SearchResult.from_rows(found.hits, found.more, found.exact))
        return
    if not found.hits:
        click.echo("no packages found")
        return
    table(["package", "version", "framework", "task", "description"],
          [[h["name"], h["version"], h["framework"], h["task"] or "", h["description"][:60]]
           for h in found.hits])
    if found.more:
        count = f"{found.more}" if found.exact else f"more than {found.more}"
        click.echo(f"... and {count} more; list them with --limit N or --all.")


COMMANDS = [list_, tree, why, info, diff, search]
