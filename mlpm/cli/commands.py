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
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100,
           "terminal_width": 100}


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


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


registry_option = click.option(
    "--registry", metavar="URL|DIR", default=None,
    help="Registry to use (also MLPM_REGISTRY); remembered in the manifest by install.")
offline_option = click.option(
    "--offline", is_flag=True, help="Use only what is cached; never touch the network "
    "(also MLPM_OFFLINE=1).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="mlpm", prog_name="mlpm")
def cli() -> None:
    """mlpm: a package manager for pre-trained ML models.

    \b
    Start a project, install a model by semver range, use it from Python:
      mlpm init
      mlpm install digits@1.2        # newest 1.2.x; mlpm.toml keeps "1.2", mlpm.lock pins it
      python -c 'import mlpm; print(mlpm.load("digits"))'
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

    project = Project.init(Path.cwd())
    if registry:
        project.registry = registry if registry.startswith("http") else canonical(registry)
        project.save()
    if project.in_pyproject:
        click.echo(f"Added [tool.mlpm] to {project.manifest_path}")
    else:
        click.echo(f"Created {project.manifest_path.name} in {project.root}")


def _print_changes(result, verb: str) -> None:
    from mlpm.cli.render import install_summary

    click.echo(install_summary(result, verb))


def _result_json(result) -> dict[str, Any]:
    from mlpm.cli.render import install_json

    return install_json(result)


@cli.command(context_settings=CONTEXT)
@click.argument("specs", nargs=-1, metavar="[NAME[@RANGE]]...")
@click.option("--frozen", is_flag=True,
              help="Fail if mlpm.lock does not match the manifest (CI mode).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the hub-code sources of the PyTorch Hub packages installed.")
@click.option("--context", default=None, metavar="CONTEXT",
              help="Usage context of the NAMEs (python, server, edge, cpp, onnx, browser): "
              "the format it needs is fetched or converted, and kept in the manifest.")
@click.option("--format", "fmt", default=None, metavar="FORMAT",
              help="Format the NAMEs are used in (onnx, torchscript, tflite...); converted "
              "when not published, and kept in the manifest.")
@offline_option
@registry_option
@json_option
def install(specs: tuple[str, ...], frozen: bool, trust_code: bool, context: str | None,
            fmt: str | None, offline: bool, registry: str | None, as_json: bool) -> None:
    """Install packages, or with no NAME exactly what mlpm.lock pins (like `npm ci`).

    NAME@1.2 installs the newest 1.2.x and keeps "1.2" in the manifest; NAME or
    NAME@1.2.3 saves "^INSTALLED" (npm's rule). mlpm.lock pins the exact version.

    \b
    Examples:
      mlpm install digits@1.2
      mlpm install --frozen          # in CI
    """
    from mlpm.ops.install import install as run

    project = _project()
    if (context or fmt) and not specs:
        raise click.UsageError("--context and --format apply to the packages named: "
                               "mlpm install NAME --context edge")
    options = ({"context": context} if context else {}) | ({"format": fmt} if fmt else {})
    if trust_code:
        _trust_hub_sources(specs, project, registry, offline)
    result = run(project, list(specs), session=_session(registry, offline), frozen=frozen,
                 options=options or None)
    if as_json:
        _emit_json(_result_json(result))
    else:
        _print_changes(result, "installed")


def _trust_hub_sources(specs, project, registry, offline) -> None:
    """--trust before installing, so a conversion during install may run the hub code."""
    from mlpm.ops import Session
    from mlpm.registry.records import parse_spec
    from mlpm.trust import source_of, trust

    session = Session.from_env(registry, offline)
    location = session.registry_location(project)
    for spec in specs:
        for record in session.open(location).records(parse_spec(spec)[0]):
            if record.get("kind") == "torch-hub":
                source = source_of(record.get("upstream"), record.artifacts, location,
                                   record.name)
                trust(source)
                click.echo(f"trusted {source} (hub code of {record.name})", err=True)
                break


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--latest", is_flag=True,
              help="Move past the manifest range to the newest version (records ^NEW).")
@offline_option
@registry_option
@json_option
def upgrade(names: tuple[str, ...], latest: bool, offline: bool, registry: str | None,
            as_json: bool) -> None:
    """Upgrade packages to the newest versions their ranges allow.

    With NAMEs only those move; every other package keeps its locked version.

    \b
    Examples:
      mlpm upgrade
      mlpm upgrade digits --latest   # cross a major; the manifest records ^NEW
    """
    from mlpm.ops.install import upgrade as run

    result = run(_project(), list(names), session=_session(registry, offline), latest=latest)
    if as_json:
        _emit_json(_result_json(result))
    else:
        _print_changes(result, "upgraded")


@cli.command(context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@json_option
def remove(names: tuple[str, ...], as_json: bool) -> None:
    """Remove packages, their unused dependencies, and the cache space nothing else uses.

    Refused while another installed package depends on NAME.

    \b
    Example:
      mlpm remove digits-calibrator
    """
    from mlpm.ops.remove import remove as run

    result = run(_project(), list(names), session=_session())
    if as_json:
        _emit_json({"removed": [c.__dict__ for c in result.changes],
                    "freed_files": result.freed_files, "freed_bytes": result.freed_bytes})
        return
    for change in result.changes:
        click.echo(str(change))
    click.echo(f"freed {_size(result.freed_bytes)} ({result.freed_files} "
               f"file{'s' if result.freed_files != 1 else ''})")


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
        _emit_json([r.__dict__ for r in rows])
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
        _emit_json(rows)
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
        _emit_json(nodes)
        return

    def show(node: dict, depth: int) -> None:
        needs = f" (mlpm.toml: {node['range']})" if node["range"] else ""
        click.echo(f"{'  ' * depth}{node['name']}@{node['version']}{needs}")
        for child in node["dependencies"]:
            show(child, depth + 1)

    for node in nodes:
        show(node, 0)


@cli.command(context_settings=CONTEXT)
@click.argument("name")
@json_option
def why(name: str, as_json: bool) -> None:
    """Show why a package is installed: every chain of dependents.

    \b
    Example:
      mlpm why digits
    """
    from mlpm.ops.query import why as run

    chains = run(_project(), name)
    if as_json:
        _emit_json(chains)
        return
    for chain in chains:
        click.echo(" -> ".join(chain))


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
        _emit_json(data)
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
        prefix = {"var_positional": "*", "var_keyword": "**"}.get(kind, "")
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
        _emit_json(data)
        return
    click.echo(f"{data['a']} -> {data['b']}: a {data['level'].upper()} change")
    click.echo("interface:" + ("" if data["interface"] else " unchanged"))
    for change in data["interface"]:
        click.echo(f"  {change['level'].upper():<6} {change['text']}")
    if data["metrics"]:
        click.echo("metrics:")
        for key, (old, new) in data["metrics"].items():
            click.echo(f"  {key}: {old} -> {new}")
    click.echo(f"size: {_size(data['size'][0])} -> {_size(data['size'][1])}")
    if data["formats"]["added"] or data["formats"]["removed"]:
        click.echo(f"formats: +{', '.join(data['formats']['added']) or '-'} "
                   f"-{', '.join(data['formats']['removed']) or '-'}")
    for note in data["release_notes"]:
        if note["notes"]:
            click.echo(f"{note['version']}: {note['notes']}")


@cli.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--to", "target", required=True, metavar="FORMAT",
              help="onnx, torchscript, exported-program, tflite (tfjs: not on this stack).")
@click.option("--tolerance", type=float, default=None,
              help="Largest absolute difference allowed between original and conversion.")
@click.option("--input-shape", "shapes", multiple=True, metavar="NAME=1,3,224,224",
              help="Shape of an input the interface does not fix (repeatable).")
@click.option("--signature", default=None, help="Only this signature (SavedModels).")
@click.option("--trust", "trust_code", is_flag=True, help="Trust the package's hub code.")
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
        _emit_json(result)
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
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8501, show_default=True, type=int, help="Port (0: any free).")
@click.option("--trust", "trust_code", is_flag=True, help="Trust the package's hub code.")
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
    from mlpm.errors import RegistryError
    from mlpm.ops.serve import runner_for
    from mlpm.serve import serve

    runner = runner_for(_project(), name, trust=trust_code)
    try:
        serve(runner, host, port, verbose=verbose)
    except OSError as exc:
        raise RegistryError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another "
                            "--port.") from None


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
    from mlpm.audit import audit as run

    report = run(_project(), _session(None, offline).store, session=_session(None, offline))
    if as_json:
        _emit_json(report.to_json())
    else:
        click.echo(str(report))
    if report.exit_code:
        sys.exit(report.exit_code)


@cli.command("trust", context_settings=CONTEXT)
@click.argument("source")
def trust_(source: str) -> None:
    """Trust a source of hub code (e.g. pytorch/vision) so its packages may run it.

    \b
    Example:
      mlpm trust mlpm-starters/digits-hub
    """
    from mlpm.trust import trust

    trust(source)
    click.echo(f"trusted {source}")


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
        _emit_json(hits)
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
        _emit_json(record.to_json())
        return
    click.echo(f"published {record.name}@{record.version} ({', '.join(record.formats)}, "
               f"{_size(record.size)}) to {registry}")


@cli.command(context_settings=CONTEXT)
@click.argument("spec", metavar="NAME@VERSION")
@click.option("--registry", required=True, metavar="DIR", help="The registry folder.")
@click.option("--undo", is_flag=True, help="Un-yank the version.")
def yank(spec: str, registry: str, undo: bool) -> None:
    """Yank a version: new resolves skip it; existing locks keep working.

    \b
    Example:
      mlpm yank digits@1.0.0 --registry ./registry
    """
    from mlpm.ops.publish import yank as run

    record = run(spec, registry, undo=undo)
    click.echo(f"{'un-yanked' if undo else 'yanked'} {record.name}@{record.version}")


@cli.group(context_settings=CONTEXT)
def registry() -> None:
    """Serve a registry over HTTP."""


@registry.command(context_settings=CONTEXT)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8700, show_default=True, type=int, help="Port (0: any free).")
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def serve(directory: Path, host: str, port: int, quiet: bool) -> None:
    """Serve a registry folder over HTTP (GET/HEAD, ETag, Range).

    \b
    Example:
      mlpm registry serve ./registry --port 8700
    """
    from mlpm.errors import RegistryError
    from mlpm.registry.server import serve as run

    if not (directory / "config.json").is_file():
        raise RegistryError(f"{directory} is not an mlpm registry (no config.json); publish into "
                            "it first with `mlpm publish FILE --registry DIR`.")
    try:
        run(directory, host, port, verbose=not quiet)
    except OSError as exc:
        raise RegistryError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another "
                            "--port.") from None


# -- cache -----------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
def cache() -> None:
    """Inspect and clean the model cache (MLPM_CACHE_DIR)."""


@cache.command("dir", context_settings=CONTEXT)
def cache_dir() -> None:
    """Print the cache folder."""
    from mlpm.store import Store

    click.echo(str(Store().root))


@cache.command("list", context_settings=CONTEXT)
@json_option
def cache_list(as_json: bool) -> None:
    """List cached blobs and which projects use them."""
    from mlpm.store import Store

    store = Store()
    used = store.referenced()
    rows = [{"sha256": b.sha256, "size": b.size, "projects": used.get(b.sha256, [])}
            for b in store.blobs()]
    if as_json:
        _emit_json(rows)
        return
    for row in rows:
        users = ", ".join(row["projects"]) or "(unused)"
        click.echo(f"{row['sha256'][:16]}  {_size(row['size']):>10}  {users}")
    click.echo(f"{len(rows)} blobs, {_size(sum(r['size'] for r in rows))}")


@cache.command("verify", context_settings=CONTEXT)
@json_option
def cache_verify(as_json: bool) -> None:
    """Re-hash every cached blob; exit 1 if any is corrupt."""
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
    """Delete cached blobs that no project's lock uses."""
    from mlpm.store import Store

    files, freed = Store().prune(dry_run=dry_run)
    if as_json:
        _emit_json({"files": files, "bytes": freed, "dry_run": dry_run})
        return
    click.echo(f"{'would free' if dry_run else 'freed'} {_size(freed)} ({files} "
               f"file{'s' if files != 1 else ''})")


def render_help() -> str:
    """What `mlpm --help` prints; mlpm/cli/help.txt keeps a copy for the fast path."""
    with click.Context(cli, info_name="mlpm", **CONTEXT) as ctx:
        return cli.get_help(ctx) + "\n"


if __name__ == "__main__":  # python -m mlpm.cli.commands: refresh help.txt
    from pathlib import Path

    Path(__file__).with_name("help.txt").write_text(render_help())
