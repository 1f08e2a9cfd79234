"""The commands that use an installed model or vouch for it: convert, serve, audit, trust."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlpm.cli.commands.common import (
    CONTEXT,
    Port,
    cannot_listen,
    choices,
    emit_json,
    host,
    json_option,
    offline_option,
    one_of,
    project,
    session,
)


@click.command(context_settings=CONTEXT)
@click.argument("name")
@click.option("--to", "target", required=True, metavar="FORMAT", callback=lambda c, p, v:
              one_of(p, v, "targets"), shell_complete=choices("targets"),
              help="onnx, torchscript, exported-program, tflite, js (ONNX checked in "
              "onnxruntime-node; tfjs: not on this stack).")
@click.option("--tolerance", type=float, default=None,
              help="Largest absolute difference allowed between original and conversion.")
@click.option("--input-shape", "shapes", multiple=True, metavar="NAME=1,3,224,224",
              help="Shape of an input the interface does not fix (repeatable).")
@click.option("--sample", "sample_file", default=None, metavar="FILE.npz",
              type=click.Path(exists=True, dir_okay=False),
              help="Real inputs for the export and the parity check: an .npz of arrays "
              "named after the inputs (numpy.savez).")
@click.option("--signature", default=None, help="Only this signature (SavedModels).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the package's source (its hub code, TorchScript or SavedModel).")
@json_option
def convert(name: str, target: str, tolerance: float | None, shapes: tuple[str, ...],
            sample_file: str | None, signature: str | None, trust_code: bool,
            as_json: bool) -> None:
    """Convert an installed package to another format, checked for parity and cached.

    The original and the converted model run on the same sample inputs and must agree
    within the tolerance; the numbers, and which inputs they were measured on, are
    recorded in mlpm.lock. The inputs are --sample FILE.npz, else the package's own
    samples.npz and declared values, else random values.

    \b
    Examples:
      mlpm convert digits-hub --to onnx --trust
      mlpm convert digits-tf --to tflite
      mlpm convert vad --to onnx --sample speech.npz   # arrays x, sr
      mlpm convert digits --to js    # ONNX checked in node (npm install onnxruntime-node)
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
    result = convert_locked(project(), name, target, session=session(),
                            tolerance=tolerance, input_shapes=input_shapes or None,
                            signature=signature, trust=trust_code, progress=say,
                            sample_file=Path(sample_file) if sample_file else None)
    if as_json:
        from mlpm.cli.results import Record

        emit_json(Record(result))
        return
    if result["published"]:
        click.echo(f"{name}@{result['version']} publishes {target}: nothing to convert")
        return
    parity = result["parity"]
    how = "reused the cached conversion" if result["reused"] else "converted"
    click.echo(f"{how}: {name}@{result['version']} -> {target} at {result['path']}")
    on = parity.get("sample_text") or "random values"
    click.echo(f"parity on {on}: max abs diff {parity['max_abs']:.3g} <= "
               f"{parity['tolerance']:g} (max rel {parity['max_rel']:.3g}, "
               f"{parity['samples']} sample{'s' if parity['samples'] != 1 else ''})")
    for input_name, value in (parity.get("fixed") or {}).items():
        click.echo(f"note: {input_name} is fixed at {value} in the {target} model (forward() "
                   "takes it as a Python number)", err=True)
    if (parity.get("sample_inputs") or "random") == "random":
        click.echo("note: random inputs can understate a conversion's error on real data; "
                   "pass --sample FILE.npz with real inputs", err=True)


def _origins(values: tuple[str, ...], param) -> tuple[str, ...]:
    """--allow-origin values as browsers send Origin; bad usage names the fix."""
    from mlpm.serve.http import parse_origin

    try:
        return tuple(dict.fromkeys(parse_origin(v) for v in values))
    except ValueError as exc:
        raise click.BadParameter(f"{exc}.", param=param) from None


@click.command("serve", context_settings=CONTEXT)
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, callback=host,
              help="Address to listen on.")
@click.option("--port", default=8501, show_default=True, type=Port(), help="Port (0: any free).")
@click.option("--trust", "trust_code", is_flag=True,
              help="Trust the package's source (its hub code, TorchScript or SavedModel).")
@click.option("--verbose", is_flag=True, help="Log every request.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              callback=lambda ctx, param, values: _origins(values, param),
              help="Let pages on ORIGIN (scheme://host[:port], or * for any) call the model "
              "from a browser (CORS). Repeatable.")
def serve_model(name: str, host: str, port: int, trust_code: bool, verbose: bool,
                allow_origins: tuple[str, ...]) -> None:
    """Serve the locked model over HTTP (TensorFlow Serving / KServe v1 REST).

    Runs on ONNX Runtime when an ONNX form exists (published or converted), else on
    the model's own framework.

    \b
    Example:
      mlpm serve digits --port 8501
      curl -d '{"instances": [[0.0, ...]]}' http://127.0.0.1:8501/v1/models/digits:predict
      mlpm serve digits --allow-origin http://localhost:3000   # a page's fetch() may call it
    """
    from mlpm.loading import runner_for
    from mlpm.serve import serve

    runner = runner_for(project(), name, trust=trust_code)
    try:
        serve(runner, host, port, verbose=verbose, allow_origins=allow_origins)
    except OSError as exc:
        raise cannot_listen(exc, host, port) from None


@click.command(context_settings=CONTEXT)
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

    report = run(project(), session(None, offline).store, session=session(None, offline))
    if as_json:
        from mlpm.cli.results import AuditResult

        emit_json(AuditResult.from_report(report))
    else:
        click.echo(str(report))
    if report.exit_code:
        sys.exit(report.exit_code)


@click.command("trust", context_settings=CONTEXT)
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
            from mlpm.cli.results import TrustList

            emit_json(TrustList(sources, env))  # env: MLPM_TRUST
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


COMMANDS = [convert, serve_model, audit, trust_]
