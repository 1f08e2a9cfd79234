"""The commands that change a project: init, install, upgrade, remove, outdated."""

from __future__ import annotations

from pathlib import Path

import click

from mlpm.cli.commands.common import (
    CONTEXT,
    choices,
    dry_run_option,
    emit_json,
    json_option,
    offline_option,
    one_of,
    project,
    registry_option,
    say,
    session,
    table,
)


@click.command(context_settings=CONTEXT)
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
    created = Project.init(Path.cwd())
    if registry:
        created.registry = registry if registry.startswith("http") else where
        created.save()
    if created.in_pyproject:
        say(f"Added [tool.mlpm] to {created.manifest_path}")
    else:
        say(f"Created {created.manifest_path.name} in {created.root}")


def _print_changes(result, verb: str) -> None:
    from mlpm.cli.render import install_summary

    say(install_summary(result, verb))


def _emit_install(result) -> None:
    from mlpm.cli.results import InstallResult

    emit_json(InstallResult.from_op(result))


@click.command(context_settings=CONTEXT)
@click.argument("specs", nargs=-1, metavar="[NAME[@RANGE]]...")
@click.option("--name", "name", default=None, metavar="NAME",
              help="The package name a Hugging Face repository (hf:ORG/REPO) gets in the "
              "project (default: the repository's name, lower-cased).")
@click.option("--frozen", is_flag=True,
              help="Fail if mlpm.lock does not match the manifest (CI mode).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the sources of the packages installed whose formats run code "
              "(PyTorch Hub, TorchScript, exported programs, SavedModels).")
@click.option("--context", default=None, metavar="CONTEXT", callback=lambda c, p, v:
              one_of(p, v, "contexts"), shell_complete=choices("contexts"),
              help="Usage context of the NAMEs (python, server, edge, cpp, onnx, browser, js): "
              "the format it needs is fetched or converted, and kept in the manifest.")
@click.option("--format", "fmt", default=None, metavar="FORMAT", callback=lambda c, p, v:
              one_of(p, v, "formats"), shell_complete=choices("formats"),
              help="Format the NAMEs are used in (onnx, torchscript, tflite...); converted "
              "when not published, and kept in the manifest.")
@click.option("--sample", "sample_file", default=None, metavar="FILE.npz",
              type=click.Path(exists=True, dir_okay=False),
              help="Real inputs for converting the NAMEs (with --context/--format): an .npz "
              "of arrays named after the inputs.")
@offline_option
@registry_option
@dry_run_option
@json_option
def install(specs: tuple[str, ...], name: str | None, frozen: bool, trust_code: bool,
            context: str | None, fmt: str | None, sample_file: str | None, offline: bool,
            registry: str | None, dry_run: bool, as_json: bool) -> None:
    """Install packages, or with no NAME exactly what mlpm.lock pins (like `npm ci`).

    NAME@1.2 installs the newest 1.2.x and keeps "1.2" in the manifest; NAME or
    NAME@1.2.3 saves "^INSTALLED" (npm's rule). mlpm.lock pins the exact version.
    hf:ORG/REPO installs a Hugging Face repository: @RANGE over its SemVer tags, @BRANCH
    or @COMMIT tracks a revision; none: the newest tag, else the default branch.
    --registry NAME takes the packages from the manifest's [registries] entry NAME.

    \b
    Examples:
      mlpm install digits@1.2
      mlpm install hf:sentence-transformers/all-MiniLM-L6-v2@main --name minilm
      mlpm install detector@^2 --registry team
      mlpm install --frozen          # in CI
      mlpm install digits@2 --dry-run
    """
    from mlpm.ops.install import install as run

    current = project()
    if (context or fmt) and not specs:
        raise click.UsageError("--context and --format apply to the packages named: "
                               "mlpm install NAME --context edge")
    options = ({"context": context} if context else {}) | ({"format": fmt} if fmt else {})
    named = registry if registry is not None and registry in current.registries else None
    if named is not None:
        registry = None  # a name from [registries]: a source per package, not an override
    granted = _trust_hub_sources(specs, current, registry, offline) if trust_code else {}
    if sample_file and not options:
        raise click.UsageError("--sample gives inputs for a conversion: use it with --context "
                               "or --format, e.g. mlpm install vad --context onnx --sample "
                               "speech.npz")
    from mlpm.ops.convert import user_samples

    names = [name or s.partition("@")[0] for s in specs]
    with user_samples(names, Path(sample_file) if sample_file else None):
        result = run(current, list(specs), session=session(registry, offline), frozen=frozen,
                     options=options or None, dry_run=dry_run, name=name,
                     registry_name=named)
    from mlpm.trust import trust

    for source, name in ({} if dry_run else granted).items():  # now that the install worked
        if trust(source):
            say(f"trusted {source} ({name})", err=True)
    if as_json:
        _emit_install(result)
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
        if spec.startswith("hf:"):
            continue  # the Hub's files are data (safetensors, ONNX, state dicts)
        for record in session.open(location).records(parse_spec(spec)[0]):
            if record.kind == "torch-hub" or is_code_bearing(
                    a.format for a in record.artifacts):  # TorchScript, SavedModels...
                source = source_of(record.upstream, record.artifacts, location,
                                   record.name)
                if grant_for_now(source):
                    what = "hub code" if record.kind == "torch-hub" else "model code"
                    granted[source] = f"{what} of {record.name}"
                break
    return granted


@click.command(context_settings=CONTEXT)
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

    result = run(project(), list(names), session=session(registry, offline), latest=latest,
                 dry_run=dry_run)
    if as_json:
        _emit_install(result)
    else:
        _print_changes(result, "upgraded")


@click.command(context_settings=CONTEXT)
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
    from mlpm.ops.remove import remove as run

    result = run(project(), list(names), session=session(), dry_run=dry_run)
    if as_json:
        from mlpm.cli.results import RemoveResult

        emit_json(RemoveResult.from_op(result))
    else:
        from mlpm.cli.render import remove_summary

        say(remove_summary(result))


@click.command(context_settings=CONTEXT)
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

    rows = run(project(), session=session(registry, offline), everything=everything)
    if as_json:
        from mlpm.cli.results import OutdatedResult

        emit_json(OutdatedResult.from_op(rows))
        return
    if not rows:
        click.echo("all packages are up to date")
        return
    table(["package", "current", "wanted", "latest", "range", "latest breaks"],
          [[r.name, r.current, r.wanted or "-", r.latest or "-", r.range,
            "; ".join(r.breaking) or ("no" if r.latest != r.current else "")] for r in rows])


COMMANDS = [init, install, upgrade, remove, outdated]
