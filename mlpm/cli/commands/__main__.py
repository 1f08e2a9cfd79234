"""python -m mlpm.cli.commands: refresh mlpm/cli/help.txt, what `mlpm --help` prints
without importing click."""

from mlpm.cli.commands import HELP_TXT, render_help

HELP_TXT.write_text(render_help())
