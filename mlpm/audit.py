"""``mlpm audit``: scan a project's installed artifacts for pickles that can run code, and
check the advisories and yanks its registry publishes for the locked versions.

A pickle runs code through the callables it imports (``GLOBAL``, ``STACK_GLOBAL``,
``INST``) and then calls (``REDUCE``, ``OBJ``, ``NEWOBJ``, ``BUILD``). The scan walks the
opcodes with ``pickletools.genops`` -- it never unpickles -- and reports every import
outside an allowlist of what plain tensor files need (torch's tensor/storage rebuilders,
``collections.OrderedDict``, dtypes, TorchScript's ``__torch__`` classes, numpy arrays).
This is the check picklescan makes, done with the standard library so that auditing
needs no extra dependency and no framework.

What is scanned, per locked artifact blob:

- a zip (TorchScript, ``torch.save``, exported programs): every ``*.pkl`` member and
  every nested ``.pt``/``.pth``/``.bin``/``.ckpt``/``.pkl`` member (zip or raw pickle);
- a tar (SavedModel or hub-code archives): members with those suffixes;
- a raw pickle (legacy ``torch.save``, ``pickle.dump``): each pickle in the file.

Advisories live in the registry's index records (see docs/reliability.md):

    "advisories": [{"id": "MLPM-2025-0001", "severity": "high",
                    "summary": "...", "fixed-in": "1.2.4"}]
    "yanked": true, "yanked-reason": "weights poisoned; use 1.2.4"

Example::

    >>> from mlpm.audit import audit  # doctest: +SKIP
    >>> report = audit(Project.find(), Store())  # doctest: +SKIP
    >>> report.exit_code, [f.kind for f in report.findings]  # doctest: +SKIP
    (1, ['unsafe-pickle'])
"""

from __future__ import annotations

import io
import pickletools
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mlpm.errors import ManifestError, MlpmError
from mlpm.project import PYPROJECT, Lock, Project
from mlpm.registry.records import check_name

REPORT_VERSION = 1
KINDS = ("unsafe-pickle", "advisory", "yanked")

# -- what a weights pickle may import -------------------------------------------------------

_TORCH_REBUILD = {
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor",
    "_rebuild_sparse_csr_tensor", "_rebuild_nested_tensor", "_rebuild_device_tensor_from_numpy",
    "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
}
_TORCH_DTYPES = {
    "float", "float16", "float32", "float64", "bfloat16", "half", "double", "cfloat", "cdouble",
    "chalf", "complex32", "complex64", "complex128", "uint8", "uint16", "uint32", "uint64",
    "int8", "int16", "int32", "int64", "short", "int", "long", "bool", "qint8", "quint8",
    "qint32", "quint4x2", "quint2x4", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
    "float8_e5m2fnuz", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr",
    "sparse_bsc", "_mkldnn", "contiguous_format", "channels_last", "channels_last_3d",
    "preserve_format", "Size", "device", "dtype", "layout", "memory_format",
}
_SAFE_EXACT = {
    "collections.OrderedDict",
    "torch._tensor._rebuild_from_type_v2",
    "torch.serialization._get_layout",
    "torch.storage.UntypedStorage", "torch.storage.TypedStorage", "torch.storage._LegacyStorage",
    "torch.nn.parameter.Parameter",
    "numpy.ndarray", "numpy.dtype",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "_codecs.encode",
    "copyreg._reconstructor", "copy_reg._reconstructor",
}
_SAFE_BUILTINS = {"set", "frozenset", "bytearray", "bytes", "slice", "complex", "range", "int",
                  "float", "str", "tuple", "list", "dict", "bool"}
_SAFE_PATTERNS = (
    re.compile(r"__torch__(\.[\w]+)+"),  # TorchScript classes: resolved by TorchScript, not Python
    re.compile(r"torch\.\w*Storage"),
    re.compile(r"torch\.jit\._pickle\.\w+"),  # TorchScript's list/tag rebuilders
    re.compile(r"numpy\.dtypes\.\w+DType"),
)


def is_safe_global(qualified: str) -> bool:
    """Whether a pickle may import ``module.name`` without being able to run code.

    >>> is_safe_global("torch._utils._rebuild_tensor_v2"), is_safe_global("posix.system")
    (True, False)
    """
    if qualified in _SAFE_EXACT:
        return True
    module, _, name = qualified.rpartition(".")
    if module in ("builtins", "__builtin__"):
        return name in _SAFE_BUILTINS
    if module == "torch._utils":
        return name in _TORCH_REBUILD
    if module == "torch" and name in _TORCH_DTYPES:
        return True
    return any(p.fullmatch(qualified) for p in _SAFE_PATTERNS)


_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
               "SHORT_BINUNICODE", "BINUNICODE8"}


def pickle_imports(stream: BinaryIO) -> tuple[list[str], list[str]]:
    """Scan one pickle from ``stream`` without running it.

    Returns (imports, problems): every ``module.name`` it imports, and anything the scan
    cannot resolve (a computed ``STACK_GLOBAL``, a copyreg extension code). Raises
    ``ValueError`` when the bytes are not a pickle.
    """
    imports: list[str] = []
    problems: list[str] = []
    recent: list[str | None] = []  # the values the last opcodes pushed, when strings
    memo: dict[int, str | None] = {}
    for op, arg, _pos in pickletools.genops(stream):
        name = op.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            imports.append(f"{module}.{attr}")
            recent.append(None)
        elif name == "STACK_GLOBAL":
            if len(recent) >= 2 and isinstance(recent[-2], str) and isinstance(recent[-1], str):
                imports.append(f"{recent[-2]}.{recent[-1]}")
            else:
                problems.append("a STACK_GLOBAL whose module and name are computed")
            recent.append(None)
        elif name in ("EXT1", "EXT2", "EXT4"):
            problems.append(f"a copyreg extension import (code {arg}) that cannot be named")
            recent.append(None)
        elif name in _STRING_OPS:
            recent.append(arg if isinstance(arg, str) else
                          arg.decode("latin-1") if isinstance(arg, bytes) else None)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = recent[-1] if recent else None
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            recent.append(memo.get(int(arg)))
        elif name not in ("PROTO", "FRAME"):
            recent.append(None)
        if len(recent) > 64:
            del recent[:-8]
    return imports, problems


def _is_pickle_start(head: bytes) -> bool:
    """A pickle of protocol 2+ starts with PROTO; protocol 0/1 ones with a few opcodes."""
    return bool(head) and (head[0] == 0x80 and len(head) > 1 and head[1] <= 5
                           or head[:1] in (b"c", b"(", b"]", b"}", b"i"))


def scan_pickles(stream: BinaryIO, max_pickles: int = 8) -> tuple[list[str], list[str]]:
    """Scan the pickles at the start of ``stream`` (a legacy torch file holds several)."""
    imports: list[str] = []
    problems: list[str] = []
    for index in range(max_pickles):
        pos = stream.tell()
        head = stream.read(2)
        stream.seek(pos)
        if not _is_pickle_start(head):
            break
        try:
            found, trouble = pickle_imports(stream)
        except ValueError as exc:
            if index == 0:
                raise
            problems.append(f"pickle #{index + 1} is malformed ({exc})")
            break
        imports += found
        problems += trouble
    return imports, problems


# -- findings and the report ---------------------------------------------------------------


class Finding:
    """One thing ``mlpm audit`` found: an unsafe pickle, an advisory, or a yanked version."""

    __slots__ = ("package", "artifact", "kind", "detail", "severity", "allowed")

    def __init__(self, package: str, artifact: str | None, kind: str, detail: str,
                 severity: str | None = None, allowed: bool = False):
        assert kind in KINDS, kind
        self.package = package  # "name@version"
        self.artifact = artifact  # the artifact's path in the package, None for the version
        self.kind = kind
        self.detail = detail
        self.severity = severity
        self.allowed = allowed  # an unsafe pickle the project opted into (allow-pickle)

    def __repr__(self) -> str:
        return f"Finding({self.kind}, {self.package}, {self.artifact!r}: {self.detail})"

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "artifact": self.artifact, "kind": self.kind,
                "detail": self.detail, "severity": self.severity, "allowed": self.allowed}


class AuditReport:
    """What ``mlpm audit`` found; ``exit_code`` is 1 when anything not opted into was."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.packages = 0
        self.artifacts = 0  # artifact blobs scanned
        self.pickles = 0  # pickles scanned inside them
        self.unchecked: list[str] = []  # what could not be checked, and why

    @property
    def ok(self) -> bool:
        return not any(not f.allowed for f in self.findings)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, Any]:
        return {"version": REPORT_VERSION, "ok": self.ok,
                "checked": {"packages": self.packages, "artifacts": self.artifacts,
                            "pickles": self.pickles},
                "findings": [f.to_json() for f in self.findings],
                "unchecked": list(self.unchecked)}

    def __str__(self) -> str:
        lines = []
        for f in self.findings:
            where = f"{f.package}" + (f" {f.artifact}" if f.artifact else "")
            sev = f" [{f.severity}]" if f.severity else ""
            note = " (allowed by allow-pickle)" if f.allowed else ""
            lines.append(f"{f.kind}{sev}: {where}: {f.detail}{note}")
        lines += [f"not checked: {u}" for u in self.unchecked]
        lines.append(f"audited {self.packages} packages, {self.artifacts} artifacts, "
                     f"{self.pickles} pickles: {len(self.findings)} finding"
                     f"{'' if len(self.findings) == 1 else 's'}")
        return "\n".join(lines)


# -- scanning artifacts ---------------------------------------------------------------------

_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".pt2", "debug_pkl")
_NESTED_LIMIT = 256 << 20  # nested members are read into memory up to this size


def _members(path: Path) -> Iterator[tuple[str, BinaryIO]]:
    """(label, seekable stream) for each pickle-bearing part of the file at ``path``."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            yield from _zip_members(archive, "")
        return
    if _tar_like(path):
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.lower().endswith(_PICKLE_SUFFIXES):
                    continue
                if member.size > _NESTED_LIMIT:
                    continue
                fh = archive.extractfile(member)
                if fh is None:
                    continue
                data = io.BytesIO(fh.read())
                yield from _nested(member.name, data)
        return
    with open(path, "rb") as fh:
        yield "", fh


def _tar_like(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, tarfile.TarError, EOFError):
        return False


def _zip_members(archive: zipfile.ZipFile, outer: str) -> Iterator[tuple[str, BinaryIO]]:
    for info in archive.infolist():
        name = info.filename
        if info.is_dir() or not name.lower().endswith(_PICKLE_SUFFIXES):
            continue
        label = f"{outer}{name}"
        if name.endswith("pkl"):
            with archive.open(info) as fh:
                yield label, io.BytesIO(fh.read()) if info.file_size <= _NESTED_LIMIT else fh
        elif info.file_size <= _NESTED_LIMIT:
            yield from _nested(label, io.BytesIO(archive.read(info)))


def _nested(label: str, data: io.BytesIO) -> Iterator[tuple[str, BinaryIO]]:
    if zipfile.is_zipfile(data):
        data.seek(0)
        with zipfile.ZipFile(data) as inner:
            for name, fh in _zip_members(inner, label + "!"):
                yield name, fh
        return
    data.seek(0)
    yield label, data


def scan_file(path: Path) -> tuple[int, list[tuple[str, list[str]]]]:
    """(pickles scanned, [(member, reasons)]) for the artifact file at ``path``."""
    scanned = 0
    bad: list[tuple[str, list[str]]] = []
    for label, stream in _members(path):
        try:
            imports, problems = scan_pickles(stream)
        except ValueError as exc:
            if label.endswith("pkl"):  # a member that must be a pickle and is not
                bad.append((label, [f"not a readable pickle ({exc})"]))
            continue
        if not imports and not problems and stream.tell() == 0:
            continue  # not a pickle at all (an ONNX file, a tensor blob...)
        scanned += 1
        unsafe = sorted({i for i in imports if not is_safe_global(i)})
        reasons = [f"imports {name}" for name in unsafe] + problems
        if reasons:
            bad.append((label, reasons))
    return scanned, bad


# -- the per-package opt-in ----------------------------------------------------------------


def allow_pickle_list(project: Project) -> list[str]:
    """The manifest's ``allow-pickle = ["name", ...]`` ([tool.mlpm] in pyproject.toml)."""
    try:
        with open(project.manifest_path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{project.manifest_path} is not valid TOML ({exc}); fix that line "
                            "and retry.") from None
    table = data.get("tool", {}).get("mlpm", {}) if project.manifest_path.name == PYPROJECT \
        else data
    value = table.get("allow-pickle", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{project.manifest_path}: allow-pickle must be a list of package "
                            'names, e.g. allow-pickle = ["legacy-model"].')
    for name in value:
        try:
            check_name(name)
        except ValueError as exc:
            raise ManifestError(f"{project.manifest_path}: allow-pickle: {exc}") from None
    return list(value)


def pickle_allowed(project: Project, name: str) -> bool:
    """Whether the project opted into full (code-running) pickle loading for ``name``.

    >>> pickle_allowed(Project.find(), "legacy-model")  # doctest: +SKIP
    False
    """
    return name in allow_pickle_list(project)


# -- the audit -----------------------------------------------------------------------------


def audit(project: Project, store, *, session=None) -> AuditReport:
    """Scan every locked artifact of ``project`` in ``store`` and check its advisories.

    ``session`` (an ``mlpm.ops.Session``) is used to read the registry; by default one is
    made over ``store`` honouring MLPM_OFFLINE. Offline, versions whose index is not
    cached are listed in ``report.unchecked`` instead of failing.
    """
    from mlpm.errors import OfflineError, StaleLock
    from mlpm.ops import Session

    lock = Lock.read(project.lock_path)
    if lock is None:
        raise StaleLock("there is no mlpm.lock yet; run `mlpm install` first, then audit.")
    if session is None:
        from mlpm.fetch import is_offline

        session = Session(store, offline=is_offline())
    allowed = set(allow_pickle_list(project))
    report = AuditReport()
    for name in sorted(lock.packages):
        pkg = lock.packages[name]
        label = f"{pkg.name}@{pkg.version}"
        report.packages += 1
        for art in pkg.artifacts:
            if not store.has_blob(art.sha256, art.size):
                report.unchecked.append(f"{label} {art.path}: not in the cache; run "
                                        "`mlpm install` first")
                continue
            try:
                scanned, bad = scan_file(store.blob_path(art.sha256))
            except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
                report.unchecked.append(f"{label} {art.path}: unreadable ({exc})")
                continue
            report.artifacts += 1
            report.pickles += scanned
            for member, reasons in bad:
                where = f"{member}: " if member else ""
                report.findings.append(Finding(
                    label, art.path, "unsafe-pickle",
                    f"{where}{'; '.join(reasons[:6])}"
                    + (f" (+{len(reasons) - 6} more)" if len(reasons) > 6 else ""),
                    severity="high", allowed=name in allowed))
        try:
            record = session.open(pkg.registry).record(pkg.name, pkg.version)
        except OfflineError:
            report.unchecked.append(f"{label}: advisories not checked (offline, index not "
                                    "cached)")
            continue
        except LookupError:
            report.unchecked.append(f"{label}: the registry no longer lists this version")
            continue
        report.findings += _record_findings(label, record)
    return report


def _record_findings(label: str, record) -> list[Finding]:
    out = []
    advisories = record.get("advisories") or []
    if not isinstance(advisories, list):
        advisories = []
    for adv in advisories:
        if not isinstance(adv, dict):
            continue
        fixed = adv.get("fixed-in")
        detail = f"{adv.get('id', 'advisory')}: {adv.get('summary', '(no summary)')}"
        if fixed:
            detail += f"; fixed in {fixed}: run `mlpm install {record.name}@^{fixed}`"
        out.append(Finding(label, None, "advisory", detail,
                           severity=str(adv.get("severity") or "unknown")))
    if record.yanked:
        reason = record.get("yanked-reason")
        out.append(Finding(label, None, "yanked",
                           f"yanked by its publisher: {reason or 'no reason given'}; run "
                           f"`mlpm upgrade {record.name}` to move to a version that is not",
                           severity="high" if reason else None))
    return out


__all__ = ["audit", "AuditReport", "Finding", "pickle_allowed", "allow_pickle_list",
           "scan_file", "is_safe_global", "MlpmError"]
