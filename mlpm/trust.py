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

from mlpm.errors import UntrustedCode as UntrustedCode  # re-exported; defined in mlpm.errors


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


def trust(source: str) -> bool:
    """Add ``source`` to the trusted list (idempotent, atomic); True if it was not there."""
    import tomli_w

    from mlpm.store import write_atomic

    sources = trusted_sources()
    if source in sources:
        return False
    sources.append(source)
    _file().parent.mkdir(parents=True, exist_ok=True)
    write_atomic(_file(), "# Sources whose hub code mlpm may run.\n"
                 + tomli_w.dumps({"trusted": sorted(sources)}))
    return True


def untrust(source: str) -> bool:
    """Remove ``source`` from the trusted list; False when it was not there (atomic)."""
    import tomli_w

    from mlpm.store import write_atomic

    sources = trusted_sources()
    if source not in sources:
        return False
    sources.remove(source)
    write_atomic(_file(), "# Sources whose hub code mlpm may run.\n"
                 + tomli_w.dumps({"trusted": sorted(sources)}))
    return True


_FORMS = ("write it as the UntrustedCode message names it: OWNER/REPO (pytorch/vision), "
          "REGISTRY#NAME (bundled#mlpm-starters/digits-hub) or a code URL")


def check_source(source: str) -> str:
    """``source`` if it has a form ``source_of`` produces, else a ``UsageError`` naming them.

    OWNER/REPO (a GitHub repository, no ref); REGISTRY#NAME where REGISTRY is ``bundled``,
    an http(s) URL or an absolute folder and NAME a package or OWNER/REPO; or the http(s)
    URL of a code archive. URLs are checked as mlpm/urls.py checks them (no dot segments).
    """
    import re

    from mlpm.errors import UsageError
    from mlpm.urls import check_http_url

    def bad(why: str) -> UsageError:
        return UsageError(f"'{source}' is not a hub-code source ({why}); {_FORMS}.")

    if not source.strip():
        raise UsageError(f"the source is empty; {_FORMS}.")
    if source != source.strip() or not source.isprintable():
        raise bad("it has white space around it or a control character")
    segment = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
    repo = re.compile(rf"{segment}/{segment}")

    def is_repo(text: str) -> bool:
        return bool(repo.fullmatch(text)) and not any(p in (".", "..") for p in text.split("/"))

    def url_ok(url: str) -> None:
        try:
            check_http_url(url)
        except ValueError as exc:
            raise bad(str(exc)) from None

    registry, sep, name = source.rpartition("#")
    if source.lower().startswith(("http://", "https://")) and not sep:
        url_ok(source)
        host, _, path = source.split("://", 1)[1].partition("/")
        if host.lower() in ("github.com", "www.github.com") and is_repo(path.strip("/")):
            raise bad(f"a GitHub repository is trusted as {path.strip('/')}")
        return source
    if not sep:
        if is_repo(source):
            return source
        if "@" in source or ":" in source:
            raise bad("trust covers a whole repository; leave out the @REF or :REF")
        raise bad("it is not OWNER/REPO")
    if not (re.fullmatch(segment, name) or is_repo(name)) or name in (".", ".."):
        raise bad(f"'{name}' after # is not a package name or OWNER/REPO")
    if registry.lower().startswith(("http://", "https://")):
        url_ok(registry)
        return source
    if registry == "bundled" or (registry.startswith("/") and not any(
            p in (".", "..") for p in registry.split("/"))):
        return source
    raise bad("before # comes `bundled`, an http(s) registry URL or an absolute registry "
              "folder")


# Sources `install --trust` trusts for this process only; recorded once the install worked.
_granted: set[str] = set()


def grant_for_now(source: str) -> bool:
    """Trust ``source`` in this process only; True if it was not trusted before."""
    new = not is_trusted(source)
    _granted.add(source)
    return new


def is_trusted(source: str) -> bool:
    env = [s.strip() for s in os.environ.get("MLPM_TRUST", "").split(",") if s.strip()]
    return "*" in env or source in env or source in _granted or source in trusted_sources()


# Formats whose file runs its publisher's code when loaded (docs/security.md).
_CODE_CARRIERS = ("torch-hub", "torchscript", "exported-program", "savedmodel")


def source_of(upstream: dict | None, artifacts, registry: str, name: str) -> str:
    """Whose code a package runs: the GitHub repo when its hub code archive comes from
    that repo, else the registry that serves the code (a registry cannot borrow a repo's
    trust by naming it), else, for code downloaded from anywhere else, the folder of that
    URL as the registry (``https://host/folder/#REPO``): a lock that names a trusted
    registry cannot lend its trust to code from another server. A code URL that could
    point elsewhere than it seems raises ``UntrustedCode``.

    URLs are compared by host and path segments, never as string prefixes, and one with
    dot segments or encoded slashes matches nothing (see mlpm/urls.py).
    """
    from mlpm.urls import check_http_url, in_github_repo, is_under

    repo = (upstream or {}).get("repo")
    code = [a for a in artifacts if a.role == "code"][:1] or \
        [a for a in artifacts if a.format in _CODE_CARRIERS]
    if repo and code and code[0].role == "code" and in_github_repo(str(code[0].url), str(repo)):
        return str(repo)
    elsewhere = []
    for art in code:
        url = str(art.url)
        if not url.lower().startswith(("http:", "https:")) or is_under(url, registry):
            continue  # served by the registry itself (a path inside it)
        try:
            check_http_url(url)
        except ValueError as exc:
            raise UntrustedCode(f"{name}'s code cannot be trusted: {exc}; mlpm will not run "
                                "it: ask the registry's owner to fix the package's record.") \
                from None
        folder = url.split("#", 1)[0].split("?", 1)[0].rsplit("/", 1)[0] + "/"
        if folder not in elsewhere:
            elsewhere.append(folder)
    if len(elsewhere) > 1:
        raise UntrustedCode(f"{name}'s code comes from several places ({', '.join(elsewhere)}) "
                            "and mlpm trusts one source per package; ask the registry's owner "
                            "to fix the package's record.")
    return f"{elsewhere[0] if elsewhere else registry}#{repo or name}"


def ensure_trusted(source: str, package: str, *, trust_now: bool = False,
                   what: str | None = None, instead: str = "") -> None:
    """Return if ``source`` may run code; ask on a terminal; else raise ``UntrustedCode``.

    ``what`` names a code-bearing model format ("a TorchScript model") when the code is
    a model's rather than hub code; ``instead`` ends the refusal with an alternative.
    """
    if trust_now:
        trust(source)
        return
    if is_trusted(source):
        return
    if sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty():
        runs = f"is {what}, which runs code" if what else "runs Python code"
        sys.stderr.write(f"{package} {runs} from {source}. Trust this source? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() in ("y", "yes"):
            trust(source)
            return
    how = (f"trust it with `mlpm trust {source}` (or pass trust=True to mlpm.load, or set "
           f"MLPM_TRUST={source})")
    if what:
        raise UntrustedCode(
            f"{package} is {what}, which runs its publisher's code when loaded, from "
            f"'{source}', which you have not trusted; {how}{instead}.")
    raise UntrustedCode(
        f"{package} runs hub code from '{source}', which you have not trusted; {how}."
    )
