"""Trust for packages that run code (PyTorch Hub's hubconf.py), like torch.hub's trust_repo.

A source is trusted when it is in the trusted list of the user's config
(``$MLPM_CONFIG_DIR`` or the platform config dir, file ``trusted.toml``), when
``MLPM_TRUST`` names it (comma-separated, or ``*``), or when the user says yes at a
prompt on a terminal. In a non-interactive run an untrusted source is refused with a
sentence that says how to trust it. Discovery of entrypoints never runs code.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from mlpm.errors import MlpmError


class UntrustedCode(MlpmError, PermissionError):
    """Hub code of a source the user has not trusted."""


def config_dir() -> Path:
    env = os.environ.get("MLPM_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("mlpm", appauthor=False))


def _file() -> Path:
    return config_dir() / "trusted.toml"


def trusted_sources() -> list[str]:
    try:
        with open(_file(), "rb") as fh:
            return list(tomllib.load(fh).get("trusted", []))
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError:
        raise UntrustedCode(f"{_file()} is not valid TOML; fix or delete it.") from None


def trust(source: str) -> None:
    """Add ``source`` to the trusted list (idempotent, atomic)."""
    import tomli_w

    from mlpm.store import write_atomic

    sources = trusted_sources()
    if source not in sources:
        sources.append(source)
        _file().parent.mkdir(parents=True, exist_ok=True)
        write_atomic(_file(), "# Sources whose hub code mlpm may run.\n"
                     + tomli_w.dumps({"trusted": sorted(sources)}))


def is_trusted(source: str) -> bool:
    env = [s.strip() for s in os.environ.get("MLPM_TRUST", "").split(",") if s.strip()]
    return "*" in env or source in env or source in trusted_sources()


def source_of(upstream: dict | None, artifacts, registry: str, name: str) -> str:
    """Whose code a hub package runs: the GitHub repo when its code archive comes from
    that repo, else the registry that serves the code (a registry cannot borrow a repo's
    trust by naming it)."""
    repo = (upstream or {}).get("repo")
    code = next((a for a in artifacts if a.role == "code"), None)
    if repo and code is not None and code.url.startswith(f"https://github.com/{repo}/"):
        return repo
    return f"{registry}#{repo or name}"


def ensure_trusted(source: str, package: str, *, trust_now: bool = False) -> None:
    """Return if ``source`` may run code; ask on a terminal; else raise ``UntrustedCode``."""
    if trust_now:
        trust(source)
        return
    if is_trusted(source):
        return
    if sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty():
        sys.stderr.write(f"{package} runs Python code from {source}. Trust this source? "
                         "[y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() in ("y", "yes"):
            trust(source)
            return
    raise UntrustedCode(
        f"{package} runs hub code from '{source}', which you have not trusted; trust it with "
        f"`mlpm trust {source}` (or pass trust=True to mlpm.load, or set MLPM_TRUST={source})."
    )
