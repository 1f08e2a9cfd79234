"""The ``mlpm`` command's entry point: one table from errors to exit codes.

The commands themselves are click commands in ``mlpm.cli.commands``. Two hot paths
skip importing click, because click alone costs more than Python's own start-up:
``mlpm --help`` prints the help click renders (kept in help.txt, checked by a test
to be identical), and ``mlpm install`` with no package runs the same operation and
prints the same summary as the click command.

Exit codes (docs/getting-started.md#exit-codes): 0 success, 1 failure, 2 bad usage,
130 interrupted (Ctrl-C). Under ``--json`` an error is a JSON object on stderr
(docs/reference/json.md).
"""

from __future__ import annotations

import os
import sys

from mlpm.errors import MlpmError

TYPE_CHECKING = False  # typing costs start-up time; the names are for annotations only
if TYPE_CHECKING:
    from typing import Any

_INSTALL_FLAGS = {"--frozen", "--offline"}
# Options of the `mlpm` group, accepted before or after the command (`mlpm -q install`).
_GLOBAL_FLAGS = {"-q", "--quiet", "-v", "--verbose", "--no-progress"}


class Output:
    """What -q / -v / --no-progress asked for; the commands read it through ``OUTPUT``."""

    def __init__(self) -> None:
        self.quiet = False
        self.verbose = False


OUTPUT = Output()


def set_output(*, quiet: bool = False, verbose: bool = False, progress: bool = True) -> None:
    """-q: only errors (and data a command was asked for); -v: every request; progress bars."""
    from mlpm import fetch

    OUTPUT.quiet, OUTPUT.verbose = quiet, verbose
    fetch.configure_output(progress=progress and not quiet,
                           log=(lambda text: print(text, file=sys.stderr)) if verbose else None)


def _fast_path(args: list[str]) -> int | None:
    if args in (["--help"], ["-h"]):
        with open(os.path.join(os.path.dirname(__file__), "help.txt"), encoding="utf-8") as fh:
            sys.stdout.write(fh.read())
        return 0
    flags = {a for a in args if a in _GLOBAL_FLAGS}  # before or after the command
    words = [a for a in args if a not in _GLOBAL_FLAGS]
    quiet, verbose = bool(flags & {"-q", "--quiet"}), bool(flags & {"-v", "--verbose"})
    if words[:1] == ["install"] and set(words[1:]) <= _INSTALL_FLAGS and not (quiet and verbose):
        from mlpm.cli.render import install_summary
        from mlpm.ops import Session
        from mlpm.ops.install import install
        from mlpm.project import Project

        if flags:
            set_output(quiet=quiet, verbose=verbose, progress="--no-progress" not in flags)
        session = Session.from_env(None, "--offline" in words)
        result = install(Project.find(), [], session=session, frozen="--frozen" in words)
        if not quiet:
            print(install_summary(result, "installed"))
        return 0
    return None


def _run_click(args: list[str], as_json: bool) -> int:
    import click

    from mlpm.cli.commands import cli

    try:
        return cli.main(args=args, prog_name="mlpm", standalone_mode=False) or 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if as_json:
            kind = "UsageError" if isinstance(exc, click.UsageError) else type(exc).__name__
            return _report(kind, exc.format_message(), exc.exit_code, True)
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            raise KeyboardInterrupt from None
        return _report("Aborted", "aborted", 1, as_json, plain="aborted")


def _wants_json(args: list[str]) -> bool:
    return "--json" in (args[:args.index("--")] if "--" in args else args)


def _report(kind: str, message: str, code: int, as_json: bool, plain: str | None = None) -> int:
    """Print an error as one line on stderr, or under --json as a JSON object there."""
    if as_json:
        print(_json_line(kind, message, code), file=sys.stderr)
    else:
        print(plain if plain is not None else f"error: {message}", file=sys.stderr)
    return code


def _set_sigint(handler: Any) -> Any:
    """Install ``handler`` for SIGINT (None: ignore it); return the previous handler.

    Through _signal, the C module that ``signal`` wraps: importing ``signal`` builds its
    enums, about 2 ms on every command."""
    import _signal  # type: ignore[import-not-found]

    return _signal.signal(_signal.SIGINT, _signal.SIG_IGN if handler is None else handler)


class _Interrupts:
    """Ctrl-C: the first press raises KeyboardInterrupt as usual, so downloads stop and
    ``main`` says "interrupted"; any later press (while that is being cleaned up) exits
    with 130 at once, so no traceback is ever printed."""

    def __init__(self, as_json: bool) -> None:
        self.pressed = False
        self.said = False
        self.previous: Any = None  # the SIGINT handler to put back
        self.line = (_json_line("Interrupted", "interrupted", 130) if as_json
                     else "interrupted") + "\n"

    def install(self) -> None:
        try:
            self.previous = _set_sigint(self.handle)
        except ValueError:  # main() called from a thread other than the main one
            self.previous = None

    def restore(self) -> None:
        if self.previous is not None:
            _set_sigint(self.previous)

    def handle(self, signum, frame) -> None:
        if not self.pressed:
            self.pressed = True
            raise KeyboardInterrupt
        if not self.said:
            os.write(2, self.line.encode())
        os._exit(130)

    def finish(self, exiting: bool) -> int:
        """Say "interrupted" once, then give stopping downloads a moment to close their
        partial files; a download stuck in a silent socket is not waited for. ``exiting``:
        the process ends next (the `mlpm` command, not a caller of main())."""
        import threading
        import time

        try:
            sys.stderr.write(self.line)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        self.said = True
        deadline = time.monotonic() + 2.0
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() and not t.daemon for t in threading.enumerate()
               if t is not threading.current_thread()):
            try:
                sys.stdout.flush()
            finally:
                os._exit(130)
        if not exiting:
            self.restore()
            return 130
        # Python restores the default handler while it shuts down: a late Ctrl-C there
        # would kill the process by signal instead of exiting 130.
        _set_sigint(None)
        return 130


def _json_line(kind: str, message: str, code: int) -> str:
    import json

    from mlpm.cli.render import SCHEMA

    return json.dumps({"schema": SCHEMA, "error": {"type": kind, "message": message,
                                                   "exit_code": code}})


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every user error becomes one sentence on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    as_json = _wants_json(args)
    OUTPUT.quiet = OUTPUT.verbose = False  # main() may run more than once in a process
    if "mlpm.fetch" in sys.modules:
        sys.modules["mlpm.fetch"].configure_output()
    interrupts = _Interrupts(as_json) if args not in (["--help"], ["-h"]) else None
    if interrupts is not None:
        interrupts.install()
    try:
        fast = _fast_path(args)
        code = fast if fast is not None else _run_click(args, as_json)
    except MlpmError as exc:
        code = _report(type(exc).__name__, str(exc), exc.exit_code, as_json)
    except KeyboardInterrupt:
        if interrupts is None:
            return 130
        interrupts.pressed = True
        return interrupts.finish(exiting=argv is None)
    except Exception as exc:  # a bug in mlpm, not a user error
        if os.environ.get("MLPM_DEBUG"):
            raise
        code = _report("InternalError", f"mlpm failed unexpectedly ({type(exc).__name__}: "
                       f"{exc}); rerun with MLPM_DEBUG=1 for details and report it.", 1, as_json)
    if interrupts is not None:
        interrupts.restore()
    return code
