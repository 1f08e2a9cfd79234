"""HTTP for mlpm: streaming sha256 verification, retries with backoff, resume, progress.

Everything network goes through here so that offline mode, retries and integrity are
decided in one place. ``requests`` is imported only when a request is really made.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlpm.errors import (
    IntegrityError,
    MlpmError,
    OfflineError,
    RegistryError,
    StoreError,
    TooLarge,
    UsageError,
)
from mlpm.store import CHUNK, Store, StreamHasher, human_size, is_offline, write_atomic

ATTEMPTS = 4
BACKOFF = 0.5  # seconds; doubles each retry
MAX_RETRY_AFTER = 10.0
TIMEOUT = (10.0, 60.0)  # connect, read
# Like cargo's http.low-speed-limit / http.timeout: a body slower than LOW_SPEED_LIMIT
# bytes/s over LOW_SPEED_TIME seconds counts as stalled (a trickle never hits the read timeout).
LOW_SPEED_LIMIT = 10
LOW_SPEED_TIME = 30.0
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
# Limits on what a server can make mlpm hold or write (docs/security.md#limits).
MAX_INDEX_BYTES = 64 << 20  # an index file, decompressed (MLPM_MAX_INDEX_BYTES)
MAX_DOWNLOAD_BYTES = 32 << 30  # an artifact whose size the registry does not record
# Seconds an HTTP registry's cached index file is used without revalidation when the
# server sends no Cache-Control max-age (MLPM_INDEX_TTL). 0, as cargo's sparse index: each
# run revalidates (a 304 is cheap), and a registry is read once per process.
INDEX_TTL = 0.0
MAX_INDEX_RATIO = 100  # decompressed bytes per compressed byte of an index file...
RATIO_FLOOR = 1 << 20  # ...checked once this much has been decompressed

_local = threading.local()
# Set by the CLI: --no-progress and -q turn the bars off, -v logs every request to stderr.
_show_progress = True
_log = None


def configure_output(*, progress: bool = True, log=None) -> None:
    """Progress bars on or off (they also need a terminal and no MLPM_NO_PROGRESS), and a
    function that receives one line per HTTP request (None: say nothing)."""
    global _show_progress, _log
    _show_progress, _log = progress, log


def _say(text: str) -> None:
    if _log is not None:
        _log(text)


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def local_path(url: str) -> Path:
    """A ``file://`` URL or a plain path as a Path."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    return Path(url)


def _session():
    session = getattr(_local, "session", None)
    if session is None:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "mlpm/0.1"
        # only what _Inflater decodes (urllib3 would offer br / zstd when installed)
        session.headers["Accept-Encoding"] = "gzip, deflate"
        session.hooks["response"].append(_refuse_downgrade)
        _local.session = session
    return session


_CREDENTIALS: dict[str, str] = {}  # URL prefix -> Authorization header value


def add_credentials(prefix: str, authorization: str) -> None:
    """Send ``Authorization: authorization`` with every download whose URL starts with
    ``prefix`` (a Hugging Face token for the Hub's files). requests drops the header when a
    redirect leaves the host, so a CDN never sees it."""
    _CREDENTIALS[prefix] = authorization


def _authorization(url: str) -> dict[str, str]:
    for prefix, value in _CREDENTIALS.items():
        if url.startswith(prefix):
            return {"Authorization": value}
    return {}


def _refuse_downgrade(resp, *args, **kwargs):
    """A response hook: a redirect from https to plain http is refused, not followed
    (anyone on the path could then change what is downloaded, or read the token)."""
    if resp.is_redirect and resp.url.startswith("https://"):
        from urllib.parse import urljoin

        target = urljoin(resp.url, resp.headers.get("Location", ""))
        if not target.startswith("https://"):
            resp.close()
            raise RegistryError(
                f"{resp.url} redirected to {target}, which leaves HTTPS for plain HTTP; mlpm "
                "refuses that downgrade: ask the server's owner to redirect to an https:// URL."
            )
    return resp


def env_bytes(name: str, default: int) -> int:
    """A byte count from the environment variable ``name``: digits with an optional K, M,
    G or T suffix (powers of 1024; "64M", "64MiB" and "64MB" are all 64 MiB)."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    digits = text.upper().removesuffix("IB").removesuffix("B")
    unit = 1
    if digits[-1:] in ("K", "M", "G", "T"):
        unit = 1 << (10 * ("KMGT".index(digits[-1]) + 1))
        digits = digits[:-1]
    if not (digits.isascii() and digits.isdigit() and int(digits) > 0):
        raise UsageError(f"{name}={text!r} is not a size; set it to a number of bytes such as "
                         f"{default} or 64M, or unset it.")
    return int(digits) * unit


def _drop_body(resp) -> None:
    """Read and drop a short body nobody wants (a 304, a 404 page), so that urllib3 can
    reuse the connection; a long or unsized one is left for ``close`` to cut off."""
    length = resp.headers.get("Content-Length", "")
    if resp.status_code == 304 or (length.isdigit() and int(length) <= 65536):
        try:
            resp.raw.read(decode_content=False)
        except Exception:  # noqa: BLE001 (the connection is then closed, not reused)
            pass


def too_large(url: str, limit: int, what: str, setting: str) -> TooLarge:
    return TooLarge(f"{url} sent more than {human_size(limit)} for {what}, the limit; if "
                    f"that is expected, raise it with {setting}, else the server is broken or "
                    "hostile.")


class _Inflater:
    """Decodes a gzip / deflate body in bounded steps: each input chunk yields pieces of at
    most CHUNK bytes, so a small bomb never becomes one huge allocation."""

    def __init__(self, encoding: str, url: str):
        import zlib

        self.zlib, self.url, self.encoding = zlib, url, encoding
        if encoding in ("gzip", "x-gzip"):
            self.wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self.wbits = zlib.MAX_WBITS  # zlib-wrapped; a raw stream is tried on failure
        else:
            raise RegistryError(f"{url} came with Content-Encoding {encoding!r}, which mlpm "
                                "does not decode; serve it uncompressed, gzip or deflate.")
        self.obj = zlib.decompressobj(self.wbits)
        self.started = False

    def feed(self, data: bytes):
        try:
            while True:
                try:
                    out = self.obj.decompress(data, CHUNK)
                except self.zlib.error:
                    if self.started or self.wbits != self.zlib.MAX_WBITS:
                        raise
                    self.wbits = -self.zlib.MAX_WBITS  # deflate sent without its zlib header
                    self.obj = self.zlib.decompressobj(self.wbits)
                    continue
                self.started = True
                if out:
                    yield out
                data = self.obj.unconsumed_tail
                if self.obj.eof and self.obj.unused_data and self.wbits > self.zlib.MAX_WBITS:
                    data = self.obj.unused_data  # the next member of a multi-member gzip
                    self.obj = self.zlib.decompressobj(self.wbits)
                elif not data and len(out) < CHUNK:
                    return
        except self.zlib.error as exc:
            raise RegistryError(f"the body of {self.url} is not valid {self.encoding} data "
                                f"({exc}); check the server's compression settings.") from None


def _read_bounded(resp, url: str, limit: int, what: str, setting: str,
                  ratio: int | None = None, stall: _StallWatch | None = None):
    """The response body, decoded, as chunks; TooLarge past ``limit`` decoded bytes (or, with
    ``ratio``, past that many decoded bytes per received byte). Reads what has arrived, so
    that the stall rule sees a trickle."""
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    inflater = None if encoding in ("", "identity") else _Inflater(encoding, url)
    raw = resp.raw
    fp = None
    if hasattr(raw, "read1"):  # urllib3 2: it checks the length and reuses the connection
        def read(n: int) -> bytes:
            return raw.read1(n, decode_content=False)
    else:  # urllib3 1.26: http.client's response below it
        fp = raw._fp
        read = fp.read1
    stall = stall or _StallWatch()
    received = decoded = 0
    while chunk := read(CHUNK):
        received += len(chunk)
        stall.saw(len(chunk))
        for piece in (inflater.feed(chunk) if inflater else (chunk,)):
            decoded += len(piece)
            if decoded > limit:
                raise too_large(url, limit, what, setting)
            if ratio and decoded > RATIO_FLOOR and decoded > ratio * received:
                raise TooLarge(f"{url} decompresses to more than {ratio} times its size for "
                               f"{what}, which only a decompression bomb does; the server is "
                               "broken or hostile.")
            yield piece
    import http.client

    left = getattr(fp, "length", None)  # http.client's read1 ends a short body quietly
    if left or (inflater is not None and not inflater.obj.eof):
        raise http.client.IncompleteRead(b"", left or 0)



def _read_small_body(resp, url: str, limit: int, what: str, setting: str) -> bytearray:
    """The whole body of an index-sized answer, bounded like ``_read_bounded``; a network
    fault part way is transient (retried by ``_with_retries``)."""
    import http.client

    import urllib3

    body = bytearray()
    try:
        for piece in _read_bounded(resp, url, limit, what, setting, MAX_INDEX_RATIO):
            body += piece
    except MlpmError:
        raise
    except (ConnectionError, TimeoutError, http.client.HTTPException,
            urllib3.exceptions.HTTPError) as exc:
        raise _Transient(_describe_network_error(exc)) from None
    return body

def _offline_refusal(url: str) -> OfflineError:
    return OfflineError(
        f"offline mode is on and {url} is not in the cache; run the command once without "
        "--offline / MLPM_OFFLINE=1 to fetch it."
    )


class _Transient(Exception):
    """A failure worth retrying (5xx, 429, reset, timeout, short body)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _with_retries(url: str, attempt_fn):
    """Run ``attempt_fn`` until it succeeds, retrying transient failures with backoff."""
    import requests

    delay = BACKOFF
    last = ""
    for attempt in range(ATTEMPTS):
        try:
            return attempt_fn()
        except _Transient as exc:
            last = str(exc)
            wait = exc.retry_after if exc.retry_after is not None else delay
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            last = _describe_network_error(exc)
            wait = delay
        except requests.RequestException as exc:
            raise RegistryError(f"request to {url} failed ({exc}); check the registry URL.") \
                from None
        if attempt + 1 < ATTEMPTS:
            time.sleep(wait)
            delay *= 2
    raise RegistryError(
        f"cannot reach {url} ({last}) after {ATTEMPTS} attempts; check the registry URL and "
        "your network, or use --offline for what is already cached."
    )


def _low_speed() -> tuple[float, float]:
    """(bytes/s, seconds) from MLPM_LOW_SPEED_LIMIT / MLPM_LOW_SPEED_TIME, else the defaults."""
    values = []
    for name, default in (("MLPM_LOW_SPEED_LIMIT", LOW_SPEED_LIMIT),
                          ("MLPM_LOW_SPEED_TIME", LOW_SPEED_TIME)):
        text = os.environ.get(name, "").strip()
        try:
            values.append(float(text) if text else float(default))
        except ValueError:
            raise RegistryError(f"{name}={text!r} is not a number; set it to a number such "
                                f"as {default} or unset it.") from None
    return values[0], values[1]


class _StallWatch:
    """Raises _Transient when fewer than ``limit`` bytes/s arrived over the last window."""

    def __init__(self) -> None:
        self.limit, self.window = _low_speed()
        self.start = time.monotonic()
        self.got = 0

    def saw(self, n: int) -> None:
        self.got += n
        now = time.monotonic()
        if now - self.start >= self.window:
            if self.limit > 0 and self.got < self.limit * (now - self.start):
                raise _Transient(f"the download stalled below {self.limit:g} bytes/s for "
                                 f"{self.window:g} s")
            self.start, self.got = now, 0


def _body_chunks(resp, hasher: StreamHasher, stall: _StallWatch, url: str, limit: int,
                 label: str):
    """The response body as (chunk, buffer) pairs; ``buffer`` goes back to ``hasher``.

    Below requests and urllib3 sits http.client's response. With a Content-Length and no
    content coding, the body is read from its socket straight into the hasher's recycled
    buffers: one copy per byte, where ``iter_content`` makes three (urllib3's buffer, a
    new bytes object, a join), which on a fast link costs more than the sha256. Chunked
    bodies use http.client's ``read1`` (it strips the framing); a compressed body goes
    through _Inflater, in bounded steps, and stops past ``limit`` decoded bytes. If the
    body breaks off, what arrived is still yielded so that the partial file keeps it for
    a resume.
    """
    raw = getattr(resp.raw, "_fp", None)
    if resp.headers.get("Content-Encoding", "identity") != "identity" or raw is None:
        for chunk in _read_bounded(resp, url, limit, label, "MLPM_MAX_DOWNLOAD_BYTES",
                                   stall=stall):
            yield chunk, None
        return
    fp, left = getattr(raw, "fp", None), getattr(raw, "length", None)
    if getattr(raw, "chunked", True) or left is None or fp is None or \
            not hasattr(fp, "readinto1"):
        while chunk := raw.read1(CHUNK):
            stall.saw(len(chunk))
            yield chunk, None
        return
    import http.client

    while left:
        buf = hasher.buffer()
        view = memoryview(buf)
        want, filled = min(left, CHUNK), 0
        try:
            while filled < want:
                n = fp.readinto1(view[filled:want])  # at most one socket read
                if not n:
                    raise http.client.IncompleteRead(b"", left - filled)
                filled += n
                stall.saw(n)
        except BaseException:
            if filled:
                yield view[:filled], buf
            raise
        left -= filled
        yield view[:filled], buf


def _describe_network_error(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "timed out" in text.lower() or "Timeout" in type(exc).__name__:
        return "timed out"
    if "reset" in text.lower():
        return "connection reset"
    if "IncompleteRead" in text or "ChunkedEncodingError" in type(exc).__name__:
        return "the connection closed before the whole body arrived"
    return type(exc).__name__


# -- index files -----------------------------------------------------------------------


def index_ttl() -> float:
    """Seconds a cached index file is used without asking the server, when the server sent
    no ``Cache-Control: max-age``: MLPM_INDEX_TTL, else INDEX_TTL (0: always revalidate)."""
    text = os.environ.get("MLPM_INDEX_TTL", "").strip()
    if not text:
        return INDEX_TTL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):  # NaN, negative, infinite
        raise RegistryError(f"MLPM_INDEX_TTL={text!r} is not a number of seconds; set it to a "
                            "number such as 0 or 300, or unset it.")
    return value


def _cache_lifetime(headers) -> float | None:
    """How long a response may be used without revalidation, from its Cache-Control (and
    Age) header: ``max-age=N`` gives N, ``no-cache`` / ``no-store`` give 0; None when the
    header says neither (the client's MLPM_INDEX_TTL then decides)."""
    value = headers.get("Cache-Control")
    if not value:
        return None
    lifetime = None
    for directive in value.lower().split(","):
        key, _, arg = directive.strip().partition("=")
        if key in ("no-cache", "no-store"):
            return 0.0
        if key == "max-age":
            arg = arg.strip().strip('"')
            lifetime = float(arg) if arg.isdigit() else 0.0  # unparsable: stale (RFC 9111)
    if lifetime is not None:
        age = headers.get("Age", "").strip()
        if age.isdigit():
            lifetime = max(0.0, lifetime - int(age))
    return lifetime


def _write_fresh(fresh_file: Path, size: int, lifetime: float | None) -> None:
    """Record when an index file was fetched or revalidated, for how long the server said
    it stays fresh ("-": not said) and its size in bytes. It is written last and checked
    first: a cached copy is used (fresh, or revalidated with its ETag) only while the
    stamp's size is the copy's, so none of the three files needs an fsync (a crash at
    worst costs one full download)."""
    stamp = f"{time.time():.3f} {'-' if lifetime is None else f'{lifetime:g}'} {size}\n"
    try:
        write_atomic(fresh_file, stamp, durable=False)
    except OSError:
        pass


def _stamp_age(fresh_file: Path, size: int, ttl: float) -> bool | None:
    """None when the cached index file of ``size`` bytes has no stamp of its size (it is
    not to be trusted); else whether it is inside its freshness window."""
    try:
        fetched, lifetime, recorded = fresh_file.read_text().split()
        if int(recorded) != size:
            return None
        age = time.time() - float(fetched)
        return 0 <= age < (ttl if lifetime == "-" else float(lifetime))
    except (OSError, ValueError):
        return None


def fresh_index_file(cache_file: Path) -> str | None:
    """The cached copy of an index file while it is inside its freshness window (what
    ``get_index_file`` would return without a request), else None."""
    try:
        size = cache_file.stat().st_size
    except OSError:
        return None
    if not _stamp_age(cache_file.with_name(cache_file.name + ".fresh"), size, index_ttl()):
        return None
    try:
        return cache_file.read_text()
    except OSError:
        return None


def get_index_file(url: str, cache_file: Path, *, offline: bool) -> str | None:
    """GET a text index file, revalidating a cached copy with ETag / If-None-Match.

    A cached copy younger than its freshness window (the server's ``Cache-Control:
    max-age``, else MLPM_INDEX_TTL seconds) is used without a request.
    Returns None when the server says 404 (the package does not exist).
    """
    etag_file = cache_file.with_name(cache_file.name + ".etag")
    fresh_file = cache_file.with_name(cache_file.name + ".fresh")
    cached = cache_file.read_text() if cache_file.is_file() else None
    if offline:
        if cached is None:
            raise _offline_refusal(url)
        return cached
    ttl = index_ttl()
    cached_size = -1
    if cached is not None:
        try:
            cached_size = cache_file.stat().st_size
        except OSError:
            pass
        fresh = _stamp_age(fresh_file, cached_size, ttl)
        if fresh:
            return cached
        if fresh is None:  # no stamp of this copy (a crash, an older mlpm): download again
            cached = None

    limit = env_bytes("MLPM_MAX_INDEX_BYTES", MAX_INDEX_BYTES)

    def attempt():
        headers = {}
        if cached is not None and etag_file.is_file():
            headers["If-None-Match"] = etag_file.read_text().strip()
        _say(f"GET {url}")
        with _session().get(url, headers=headers, timeout=TIMEOUT, stream=True) as resp:
            if resp.status_code != 200:
                _drop_body(resp)
            if resp.status_code == 304 and cached is not None:
                _write_fresh(fresh_file, cached_size,
                             _cache_lifetime(resp.headers))
                return cached
            if resp.status_code == 404:
                return None
            if resp.status_code in _RETRY_STATUS:
                raise _Transient(f"HTTP {resp.status_code}",
                                 _retry_after(resp.headers.get("Retry-After")))
            if resp.status_code != 200:
                raise RegistryError(
                    f"the registry answered HTTP {resp.status_code} for {url}; check the "
                    "registry URL (it should be the folder that holds config.json and index/)."
                )
            body = _read_small_body(resp, url, limit, "an index file", "MLPM_MAX_INDEX_BYTES")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise RegistryError(f"the index file {url} is not UTF-8 text; ask the registry's "
                                "owner to republish it.") from None
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fresh_file.unlink(missing_ok=True)
            write_atomic(cache_file, text, durable=False)
            if resp.headers.get("ETag"):
                write_atomic(etag_file, resp.headers["ETag"], durable=False)
            else:
                etag_file.unlink(missing_ok=True)
            _write_fresh(fresh_file, len(body), _cache_lifetime(resp.headers))
        except OSError:
            pass  # an unwritable cache only costs revalidation next time
        return text

    return _with_retries(url, attempt)


# -- artifacts -------------------------------------------------------------------------


def read_prefix(url: str, wanted, *, offline: bool = False, label: str = "") -> bytes:
    """The first bytes of the file at ``url`` without downloading the rest: ``wanted`` is
    called with the first 8 bytes and says how many bytes to read in all (a safetensors
    header: 8 + its length). Sent as an HTTP Range request; a server that ignores Range
    (a 200) is read only that far, then the connection is dropped."""
    if offline:
        raise _offline_refusal(url)

    def with_range() -> bytes:
        headers = {"Accept-Encoding": "identity", **_authorization(url)}
        data = bytearray()
        need = 8
        with _session().get(url, headers={**headers, "Range": "bytes=0-7"}, stream=True,
                            timeout=TIMEOUT) as resp:
            if resp.status_code in _RETRY_STATUS:
                raise _Transient(f"HTTP {resp.status_code}",
                                 _retry_after(resp.headers.get("Retry-After")))
            if resp.status_code not in (200, 206):
                raise RegistryError(f"the server answered HTTP {resp.status_code} for {url}"
                                    f"{' (' + label + ')' if label else ''}; check that the "
                                    "file exists at that revision.")
            for chunk in resp.raw.stream(CHUNK, decode_content=False):
                data += chunk
                if len(data) >= 8:
                    break
            if len(data) < 8:
                raise RegistryError(f"{url} is shorter than 8 bytes.")
            need = wanted(bytes(data[:8]))
            if len(data) >= need:
                return bytes(data[:need])
            if resp.status_code == 200:  # Range ignored: keep reading this body
                for chunk in resp.raw.stream(CHUNK, decode_content=False):
                    data += chunk
                    if len(data) >= need:
                        return bytes(data[:need])
                raise RegistryError(f"{url} ended after {len(data)} bytes, before the {need} "
                                    "bytes its header needs.")
        if need <= 8:
            return bytes(data[:need])
        with _session().get(url, headers={**headers, "Range": f"bytes=8-{need - 1}"},
                            stream=True, timeout=TIMEOUT) as resp:
            if resp.status_code == 200:  # a full body after all: skip what we have
                data = bytearray()
            elif resp.status_code != 206:
                raise RegistryError(f"the server answered HTTP {resp.status_code} for {url}.")
            else:
                data = bytearray(data[:8])
            for chunk in resp.raw.stream(CHUNK, decode_content=False):
                data += chunk
                if len(data) >= need:
                    return bytes(data[:need])
        raise RegistryError(f"{url} ended after {len(data)} bytes, before the {need} bytes "
                            "its header needs.")

    return _with_retries(url, with_range)


def read_from(url: str, offset: int, *, what: str, limit: int | None = None,
              setting: str = "MLPM_MAX_INDEX_BYTES") -> tuple[bytes, bool] | None:
    """The file at ``url`` from byte ``offset`` on, in one ``Range`` GET (retried like every
    request): ``(bytes, True)`` when the server sent that part (``b""`` when the file ends
    at ``offset``), ``(the whole file, False)`` when it ignores ``Range``, None for any other
    answer. At most ``limit`` bytes (default MLPM_MAX_INDEX_BYTES), else TooLarge naming
    ``what`` and ``setting``."""
    if limit is None:
        limit = env_bytes(setting, MAX_INDEX_BYTES)
    # identity: byte offsets count the file itself, not a compressed form of it
    headers = {"Range": f"bytes={offset}-", "Accept-Encoding": "identity",
               **_authorization(url)}

    def attempt() -> tuple[bytes, bool] | None:
        with _session().get(url, headers=headers, timeout=TIMEOUT, stream=True) as resp:
            content_range = resp.headers.get("Content-Range", "")
            if resp.status_code == 416 and content_range == f"bytes */{offset}":
                _drop_body(resp)
                return b"", True
            ranged = resp.status_code == 206 and content_range.startswith(f"bytes {offset}-")
            if resp.status_code in _RETRY_STATUS:
                _drop_body(resp)
                raise _Transient(f"HTTP {resp.status_code}",
                                 _retry_after(resp.headers.get("Retry-After")))
            if not ranged and resp.status_code != 200:
                _drop_body(resp)
                return None
            body = _read_small_body(resp, url, limit, what, setting)
        return bytes(body), ranged

    return _with_retries(url, attempt)


class Progress:
    """A tqdm bar on a terminal, silence otherwise; with no total, a bytes and speed counter."""

    def __init__(self, label: str, total: int | None, initial: int = 0):
        self.bar = None
        if (_show_progress and sys.stderr.isatty() and not os.environ.get("MLPM_NO_PROGRESS")
                and (total is None or total > CHUNK)):
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="B", unit_scale=True,
                            unit_divisor=1024, desc=label, leave=False, file=sys.stderr)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fetch_blob(store: Store, url: str, sha256: str, size: int | None, *, label: str,
               offline: bool = False, prefix: str | None = None,
               stop: threading.Event | None = None) -> Path:
    """Make the blob ``sha256`` present in the store, downloading it from ``url`` if needed.

    The bytes are hashed while they stream; a mismatch deletes them and raises
    ``IntegrityError``. An interrupted HTTP download resumes with a Range request.
    With ``sha256`` empty (a public artifact not pinned yet) only ``prefix`` and ``size``
    are checked; the returned path's name is the digest to pin in the lock.
    Setting ``stop`` (from another thread) ends the download at its next chunk with
    KeyboardInterrupt; the partial file stays for a resume.
    """
    if store.has_blob(sha256, size):
        return store.blob_path(sha256)
    if not sha256 and not is_http(url):
        raise RegistryError(f"{label} has no sha256 in the registry; only http(s) artifacts "
                            "may be pinned at first download.")
    if not is_http(url):
        path = local_path(url)
        if not path.is_file():
            raise RegistryError(
                f"the registry file {path} for {label} is missing; check the registry path "
                "or ask its owner to republish it."
            )
        with open(path, "rb") as fh:
            return store.add_stream(iter(lambda: fh.read(CHUNK), b""), sha256, size,
                                    f"{label} ({path})")
    if offline:
        raise _offline_refusal(url)
    key = sha256 or "url-" + hashlib.sha256(url.encode()).hexdigest()[:40]
    with store.blob_lock(key):
        if store.has_blob(sha256, size):  # another process fetched it while we waited
            return store.blob_path(sha256)
        return _with_retries(
            url, lambda: _download_once(store, url, key, sha256, size, label, prefix, stop))


def _download_once(store: Store, url: str, key: str, sha256: str, size: int | None, label: str,
                   prefix: str | None, stop: threading.Event | None = None) -> Path:
    import http.client

    import requests
    import urllib3

    # What a raw socket read can raise mid-body (requests wraps these only in iter_content).
    network_errors = (ConnectionError, TimeoutError, http.client.HTTPException,
                      urllib3.exceptions.HTTPError)

    part = store.partial_path(key)
    # a recorded size bounds the body (one chunk over it shows it is wrong); else the limit
    limit = env_bytes("MLPM_MAX_DOWNLOAD_BYTES", MAX_DOWNLOAD_BYTES)
    offset = part.stat().st_size if part.exists() else 0
    if size is None and offset > limit:
        part.unlink()
        offset = 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    hasher = StreamHasher()
    if offset:
        with open(part, "rb") as fh:  # resuming: the kept prefix must be hashed too
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                hasher.update(chunk)
    # identity: a Range offset counts the same bytes that were stored
    headers = {"Accept-Encoding": "identity", **_authorization(url)}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    _say(f"GET {url}" + (f" (resuming at byte {offset})" if offset else ""))
    with _session().get(url, headers=headers, stream=True, timeout=TIMEOUT) as resp:
        if resp.status_code in _RETRY_STATUS:
            raise _Transient(f"HTTP {resp.status_code}",
                             _retry_after(resp.headers.get("Retry-After")))
        if resp.status_code == 404:
            raise RegistryError(
                f"the registry has no file at {url} for {label} (HTTP 404); the registry is "
                "incomplete: ask its owner to republish that version."
            )
        if resp.status_code in (401, 403):
            raise RegistryError(
                f"the server refused {url} for {label} (HTTP {resp.status_code}); it needs "
                "credentials this machine lacks (for the Hugging Face Hub, set HF_TOKEN to a "
                "token that may read the repository).")
        if resp.status_code == 416 and size is not None and offset == size:
            pass  # everything is already here
        elif resp.status_code == 200 and offset:
            offset = 0  # the server ignored Range: start over
            hasher.hexdigest()
            hasher = StreamHasher()
        elif resp.status_code not in (200, 206):
            raise RegistryError(f"the registry answered HTTP {resp.status_code} for {url}; "
                                "check the registry URL.")
        announced = resp.headers.get("Content-Length", "")
        if (size is None and resp.status_code in (200, 206) and announced.isdigit()
                and offset + int(announced) > limit
                and resp.headers.get("Content-Encoding", "identity") == "identity"):
            hasher.hexdigest()
            part.unlink(missing_ok=True)
            raise too_large(url, limit, label, "MLPM_MAX_DOWNLOAD_BYTES")
        encoded = resp.headers.get("Content-Encoding", "identity") != "identity"
        mode = "ab" if offset else "wb"
        total = size  # else the response's Content-Length, else a bytes and speed counter
        if total is None and resp.status_code in (200, 206) and announced.isdigit():
            total = offset + int(announced)
        bar = Progress(label, total, offset)
        written = offset
        stall = _StallWatch()
        try:
            with open(part, mode) as fh:
                if resp.status_code in (200, 206):
                    for chunk, buf in _body_chunks(resp, hasher, stall, url,
                                                   limit if size is None else size + CHUNK,
                                                   label):
                        # Hashing starts while the chunk is written; ``buf`` is not read
                        # into again before this thread asks for a free buffer.
                        hasher.update(chunk, recycle=buf)
                        fh.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
                        if stop is not None and stop.is_set():
                            raise KeyboardInterrupt  # Ctrl-C in the main thread
                        if size is not None and written > size:
                            break  # more bytes than recorded: wrong content, stop reading
                        if size is None and written > limit:
                            raise too_large(url, limit, label, "MLPM_MAX_DOWNLOAD_BYTES")
        except MlpmError:  # over a limit, undecodable: a retry or a resume cannot help
            hasher.hexdigest()
            part.unlink(missing_ok=True)
            raise
        except (requests.RequestException, *network_errors, _Transient) as exc:
            # A network failure mid-body (read timeout, reset, short read, stall). These are
            # OSErrors too, so this must come first: keep the partial file and let
            # _with_retries resume it, instead of calling it a disk failure.
            hasher.hexdigest()
            if encoded:  # decoded bytes: a Range offset would not line up with them
                part.unlink(missing_ok=True)
            if isinstance(exc, (requests.RequestException, _Transient)):
                raise
            raise _Transient(_describe_network_error(exc)) from None
        except OSError as exc:
            hasher.hexdigest()
            part.unlink(missing_ok=True)
            raise StoreError(store._write_failure(exc, size)) from None
        except BaseException:
            hasher.hexdigest()  # stop the hashing thread; the partial file stays for resume
            raise
        finally:
            bar.close()
    if size is not None and written < size:
        hasher.hexdigest()
        raise _Transient(f"the body ended after {written} of {size} bytes")
    return store.commit_partial(key, sha256, size, hasher.hexdigest(), written,
                                f"{label} ({url})", prefix)


def fetch_many(store: Store, jobs: list[tuple[str, str, int | None, str, str | None]], *,
               offline: bool = False, workers: int = 4) -> list[Path]:
    """Fetch several blobs in parallel; ``jobs`` are (url, sha256, size, label, prefix).

    Returns the blob path of every job, in order.
    """
    stop = threading.Event()

    def one(job):
        url, sha, size, label, prefix = job
        return fetch_blob(store, url, sha, size, label=label, offline=offline, prefix=prefix,
                          stop=stop)

    if len(jobs) <= 1 or workers == 1:
        return [one(job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(workers, len(jobs)))
    try:
        paths = [future.result() for future in [pool.submit(one, job) for job in jobs]]
    except KeyboardInterrupt:
        # Ctrl-C: drop the queued downloads and stop the running ones at their next chunk,
        # without waiting for them; their partial files stay for a resume.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if not stop.is_set():
            pool.shutdown()  # a failed download: the others finish first, as before
    return paths


__all__ = ["fetch_blob", "fetch_many", "get_index_file", "is_offline", "IntegrityError",
           "human_size"]
