"""URLs from registries and project files, checked before anything trusts or compares them.

A URL is compared by its parsed parts (scheme, host, port, path segments), never as a
string prefix: ``https://github.com/pytorch/vision/../../attacker/evil/zipball/main``
starts with ``https://github.com/pytorch/vision/``, but an HTTP client (or the server)
normalises it to the attacker's repository. So a URL is refused outright when it holds:

- a dot segment (``.`` or ``..``), raw or percent-encoded in any case (``%2e%2e``,
  ``%2E.``, ``.%2e``), even encoded twice (``%252e``);
- an encoded slash or backslash (``%2f``, ``%5c``), a raw backslash, a NUL or any other
  control character, or white space;
- user info (``https://github.com@evil.example/...``: the host is evil.example);
- a scheme other than http(s) where a download URL is expected.

See docs/security.md ("URLs are compared by their parts").
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_URL = 8192  # longer than any real artifact URL; bounds what the checks below read

_REPO_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _shown(url: str) -> str:
    text = url if len(url) <= 200 else url[:200] + "..."
    return text if text.isprintable() else repr(text)


def _decoded(segment: str) -> str:
    """A path segment percent-decoded until it stops changing (a few rounds at most)."""
    for _ in range(4):
        if "%" not in segment:
            break
        plain = unquote(segment)
        if plain == segment:
            break
        segment = plain
    return segment


def _check_path(url: str, path: str) -> list[str]:
    """The path's segments (as written), or ValueError naming what would move it."""
    segments = path.split("/")
    for segment in segments:
        plain = _decoded(segment)
        if plain in (".", ".."):
            raise ValueError(f"the URL '{_shown(url)}' has a '{segment}' path segment, which "
                             "moves it to another folder")
        if "/" in plain or "\\" in plain:
            raise ValueError(f"the URL '{_shown(url)}' has an encoded slash or backslash "
                             f"('{segment}'), which moves it to another folder")
        if any(ord(c) < 0x20 or c == "\x7f" for c in plain):
            raise ValueError(f"the URL '{_shown(url)}' has an encoded control character")
    return segments


def _check_text(url: object) -> str:
    if not isinstance(url, str) or not url:
        raise ValueError(f"the URL {url!r} is not a non-empty string")
    if len(url) > MAX_URL:
        raise ValueError(f"the URL '{_shown(url)}' is longer than {MAX_URL} characters")
    if "\\" in url:
        raise ValueError(f"the URL '{_shown(url)}' has a backslash, which clients read as '/'")
    if any(ord(c) <= 0x20 or c == "\x7f" for c in url):
        raise ValueError(f"the URL {url!r} has white space or a control character")
    return url


def check_http_url(url: str) -> str:
    """Return ``url`` if it is a plain absolute http(s) URL, else raise ``ValueError``.

    >>> check_http_url("https://github.com/pytorch/vision/zipball/v0.20.1")
    'https://github.com/pytorch/vision/zipball/v0.20.1'
    >>> check_http_url("https://github.com/pytorch/vision/%2E%2e/x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: the URL '...' has a '%2E%2e' path segment, which moves it to another folder
    """
    _check_text(url)
    parts = urlsplit(url)
    if not url.startswith(("http://", "https://")):  # what every other check expects
        raise ValueError(f"the URL '{_shown(url)}' does not start with http:// or https://")
    if "@" in parts.netloc:
        raise ValueError(f"the URL '{_shown(url)}' has user info before its host (the host "
                         f"is really '{parts.netloc.rpartition('@')[2]}')")
    try:
        host, _ = parts.hostname, parts.port  # port raises on a non-number or out of range
    except ValueError:
        raise ValueError(f"the URL '{_shown(url)}' has an invalid port") from None
    if not host or "%" in parts.netloc:
        raise ValueError(f"the URL '{_shown(url)}' has no valid host")
    _check_path(url, parts.path)
    return url


def check_relative_url(url: str) -> str:
    """Return ``url`` if it is a path below its base (a registry-relative artifact URL):
    no scheme, no host, not absolute, no dot segments (encoded or not); else ValueError.

    >>> check_relative_url("artifacts/ab/abcdef")
    'artifacts/ab/abcdef'
    """
    _check_text(url)
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("/") or ":" in url.split("/")[0]:
        raise ValueError(f"the URL '{_shown(url)}' is neither http(s) nor a path inside the "
                         "registry")
    _check_path(url, parts.path)
    return url


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https"
                                                              else 80)


def _segments(url: str) -> list[str]:
    return urlsplit(url).path.split("/")[1:]


def is_under(url: str, base: str) -> bool:
    """Whether the http(s) ``url`` lies inside ``base`` (same scheme, host and port, and
    base's path segments a prefix of url's); both are checked first, so False for any
    URL ``check_http_url`` refuses.

    >>> is_under("https://reg.example/team/artifacts/x", "https://reg.example/team/")
    True
    >>> is_under("https://reg.example/team/../other/x", "https://reg.example/team/")
    False
    """
    try:
        check_http_url(url)
        check_http_url(base)
    except ValueError:
        return False
    if _origin(url) != _origin(base):
        return False
    prefix = [s for s in _segments(base) if s]
    return _segments(url)[:len(prefix)] == prefix and len(_segments(url)) > len(prefix)


def github_repo(repo: object) -> str | None:
    """``repo`` if it names a GitHub repository as ``OWNER/NAME``, else None.

    >>> github_repo("pytorch/vision"), github_repo("pytorch/vision/../x")
    ('pytorch/vision', None)
    """
    if not isinstance(repo, str):
        return None
    parts = repo.split("/")
    if len(parts) != 2 or any(not p or p in (".", "..") or not set(p) <= _REPO_CHARS
                              for p in parts):
        return None
    return repo


def in_github_repo(url: str, repo: str) -> bool:
    """Whether the https ``url`` is a file of the GitHub repository ``OWNER/NAME``.

    >>> in_github_repo("https://github.com/pytorch/vision/zipball/main", "pytorch/vision")
    True
    >>> in_github_repo("https://github.com/pytorch/vision/../../evil/x/zipball/main",
    ...                "pytorch/vision")
    False
    """
    if github_repo(repo) is None:
        return False
    try:
        check_http_url(url)
    except ValueError:
        return False
    if _origin(url) != ("https", "github.com", 443):
        return False
    segments = _segments(url)
    return segments[:2] == repo.split("/") and len(segments) > 2 and bool(segments[2])
