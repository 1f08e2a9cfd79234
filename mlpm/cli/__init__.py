"""The ``mlpm`` command's entry point: one table from errors to exit codes.

The commands themselves are click commands in ``mlpm.cli.commands``. Two hot paths
skip importing click, because click alone costs more than Python's own start-up:
``mlpm --help`` prints the help click renders (kept in help.txt, checked by a test
to be identical), and ``mlpm install`` with no package runs the same operation and
prints the same summary as the click command.
"""

from __future__ import annotations

import os
import sys

from mlpm.errors import MlpmError

_INSTALL_FLAGS = {"--frozen", "--offline"}


def _fast_path(args: list[str]) -> int | None:
    if args in (["--help"], ["-h"]):
        with open(os.path.join(os.path.dirname(__file__), "help.txt"), encoding="utf-8") as fh:
            sys.stdout.write(fh.read())
        return 0
    if args and args[0] == "install" and set(args[1:]) <= _INSTALL_FLAGS:
        from mlpm.cli.render import install_summary
        from mlpm.ops import Session
        from mlpm.ops.install import install
        from mlpm.project import Project

        session = Session.from_env(None, "--offline" in args)
        result = install(Project.find(), [], session=session, frozen="--frozen" in args)
        print(install_summary(result, "installed"))
        return 0
    return None


def _run_click(args: list[str]) -> int:
    import click

    from mlpm.cli.commands import cli

    try:
        return cli.main(args=args, prog_name="mlpm", standalone_mode=False) or 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        print("aborted", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every user error becomes one sentence on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        fast = _fast_path(args)
        return fast if fast is not None else _run_click(args)
    except MlpmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in mlpm, not a user error
        if os.environ.get("MLPM_DEBUG"):
            raise
        print(f"error: mlpm failed unexpectedly ({type(exc).__name__}: {exc}); rerun with "
              "MLPM_DEBUG=1 for details and report it.", file=sys.stderr)
        return 1
