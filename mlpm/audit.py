"""The scan behind ``mlpm audit``: find the pickles (and other payloads) in an artifact file
that can run code, without loading it. The project-level audit (every locked artifact, the
registry's advisories and yanks, the ``allow-pickle`` opt-in) is mlpm/ops/audit.py; this
module imports nothing of mlpm but errors, so the loaders in mlpm/frameworks call it too.

A pickle runs code through the callables it imports (``GLOBAL``, ``STACK_GLOBAL``,
``INST``) and then calls (``REDUCE``, ``OBJ``, ``NEWOBJ``, ``BUILD``). The scan walks the
opcodes with ``pickletools.genops`` -- it never unpickles -- and reports every import
outside an allowlist of what plain tensor files need (torch's tensor/storage rebuilders,
``collections.OrderedDict``, dtypes, TorchScript's ``__torch__`` classes, numpy arrays).

What is scanned is what the framework would load, decided the way its loader decides
(docs/security.md, "What `mlpm audit` scans"):

- ``torch.load``: a file whose first four bytes are a zip local header is a zip (every
  ``*pkl`` member, whatever its first opcode); else an uncompressed tar is the legacy tar
  format (its ``storages``, ``tensors`` and ``pickle`` members, parsed record by record);
  else the legacy pickle sequence (the magic-number pickle, then protocol, sys info, data
  and storage keys). A zip appended to a legacy file is what Python's ``zipfile`` sees, not
  what torch reads: both views are scanned.
- ``torch.export.load``: the members it unpickles -- pickled weights and constants named
  in ``data/weights|constants/*_config.json``, sample inputs, legacy ``.pt`` members and the
  old ``serialized_*.pt`` format -- by content, not by suffix; AOTInductor members
  (native code it would load) are findings of their own.
- archives of folders (SavedModel, hub code): members with a pickle suffix.

Anything the loader would unpickle and the scan cannot read (malformed, truncated, a
``STACK_GLOBAL`` it cannot name, a zip whose members are ambiguous) is an ``unscannable``
finding: "cannot tell" is never "0 findings".

Advisories live in the registry's index records (see docs/reliability.md):

    "advisories": [{"id": "MLPM-2025-0001", "severity": "high",
                    "summary": "...", "fixed-in": "1.2.4"}]
    "yanked": true, "yanked-reason": "weights poisoned; use 1.2.4"

Example::

    >>> scan = scan_file(Path("weights.pt"), "state-dict")  # doctest: +SKIP
    >>> scan.ok, scan.sentence("model@1.0")  # doctest: +SKIP
    (False, 'archive/data.pkl in model@1.0 holds a pickle that imports os.system')
"""

from __future__ import annotations

import io
import json
import pickle
import pickletools
import posixpath
import re
import tarfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from mlpm.errors import MlpmError

REPORT_VERSION = 1
KINDS = ("unsafe-pickle", "unsafe-expression", "native-code", "unscannable", "advisory",
         "yanked")
_PICKLE_KINDS = ("unsafe-pickle", "unscannable")  # what allow-pickle = [...] opts into

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
    "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
    "per_channel_affine_float_qparams", "qscheme",  # quantized tensors' schemes
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
_QUIET_OPS = {"PROTO", "FRAME", "STOP"}


class _Walk:
    """What a walk over one pickle's opcodes saw, kept when the bytes break off: the
    unpickler runs every opcode before the broken one."""

    def __init__(self) -> None:
        self.imports: list[str] = []
        self.problems: list[str] = []
        self.head: list[tuple[str, Any]] = []  # the first few opcodes and their arguments
        self.error: str | None = None  # why the bytes stop being a pickle
        self.memo_top = 0  # the largest memo index written (the unpickler sizes its memo so)


class _Capped:
    """A stream whose reads never ask for more than is left: a pickle that claims a 2**40
    byte string must not make the scan allocate it (``pickletools`` reads what it is told)."""

    _LINE = 16 << 20  # a text-protocol line (a GLOBAL's name, a STRING) is at most this

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        here = stream.tell()
        self.end = stream.seek(0, io.SEEK_END)
        stream.seek(here)

    def read(self, size: int = -1) -> bytes:
        left = max(0, self.end - self.stream.tell())
        return self.stream.read(left if size is None or size < 0 or size > left else size)

    def readline(self, size: int = -1) -> bytes:
        return self.stream.readline(self._LINE if size is None or size < 0 else size)

    def tell(self) -> int:
        return self.stream.tell()


def _walk(stream: BinaryIO) -> _Walk:
    """Walk the pickle at ``stream``'s position to its STOP (or to where it breaks)."""
    walk = _Walk()
    recent: list[str | None] = []  # the values the last opcodes pushed, when strings
    memo: dict[int, str | None] = {}
    try:
        # genops only calls read, readline and tell, all of which _Capped has
        for op, arg, _pos in pickletools.genops(_Capped(stream)):  # type: ignore[arg-type]
            _step(walk, op.name, arg, recent, memo)
    except (ValueError, EOFError, OverflowError, MemoryError) as exc:
        walk.error = str(exc) or type(exc).__name__
    return walk


def _step(walk: _Walk, name: str, arg: Any, recent: list[str | None],
          memo: dict[int, str | None]) -> None:
    if name not in _QUIET_OPS and len(walk.head) < 4:
        walk.head.append((name, arg))
    if name in ("GLOBAL", "INST"):
        module, _, attr = str(arg).partition(" ")
        walk.imports.append(f"{module}.{attr}")
        recent.append(None)
    elif name == "STACK_GLOBAL":
        # Sound only when the two opcodes just before pushed strings: then they are the top
        # of the stack. Anything else is a name the scan cannot know.
        if len(recent) >= 2 and isinstance(recent[-2], str) and isinstance(recent[-1], str):
            walk.imports.append(f"{recent[-2]}.{recent[-1]}")
        else:
            walk.problems.append("a STACK_GLOBAL whose module and name are computed")
        recent.append(None)
    elif name in ("EXT1", "EXT2", "EXT4"):
        walk.problems.append(f"a copyreg extension import (code {arg}) that cannot be named")
        recent.append(None)
    elif name in _STRING_OPS:
        recent.append(arg if isinstance(arg, str) else
                      arg.decode("latin-1") if isinstance(arg, bytes) else None)
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[int(arg)] = recent[-1] if recent else None
        walk.memo_top = max(walk.memo_top, int(arg))
    elif name == "MEMOIZE":
        memo[len(memo)] = recent[-1] if recent else None
        walk.memo_top = max(walk.memo_top, len(memo))
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        recent.append(memo.get(int(arg)))
    elif name not in _QUIET_OPS:
        recent.append(None)
    if len(recent) > 64:
        del recent[:-8]


def pickle_imports(stream: BinaryIO) -> tuple[list[str], list[str]]:
    """Scan one pickle from ``stream`` without running it.

    Returns (imports, problems): every ``module.name`` it imports, and anything the scan
    cannot resolve (a computed ``STACK_GLOBAL``, a copyreg extension code). Raises
    ``ValueError`` when the bytes are not a pickle.

    >>> import io, pickle
    >>> pickle_imports(io.BytesIO(b"N0cos\\nsystem\\n(S'true'\\ntR."))
    (['os.system'], [])
    """
    walk = _walk(stream)
    if walk.error is not None:
        raise ValueError(walk.error)
    return walk.imports, walk.problems


def scan_pickles(stream: BinaryIO, max_pickles: int = 8) -> tuple[list[str], list[str]]:
    """Scan the consecutive pickles at ``stream``'s position (a legacy torch file holds
    several), whatever their first opcode. Raises ``ValueError`` when the first one is not a
    pickle; stops at the first later bytes that are not one. For one whole file as its
    loader reads it, use ``scan_file``."""
    imports, problems = pickle_imports(stream)
    for _ in range(max_pickles - 1):
        pos = stream.tell()
        try:
            more, trouble = pickle_imports(stream)
        except (ValueError, EOFError):
            stream.seek(pos)
            break
        imports += more
        problems += trouble
    return imports, problems


# torch's legacy formats (torch/serialization.py): the first pickle of a legacy file is
# this number, and the legacy tar format stores each storage's elements after its record.
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL = 1001
_LEGACY_ROLES = ("protocol version", "sys info", "data", "storage keys")
_STORAGE_SIZES = {"Double": 8, "Float": 4, "Half": 2, "Long": 8, "Int": 4, "Short": 2,
                  "Char": 1, "Byte": 1, "Bool": 1, "BFloat16": 2, "ComplexDouble": 16,
                  "ComplexFloat": 8, "QUInt8": 1, "QInt8": 1, "QInt32": 4, "QUInt4x2": 1,
                  "QUInt2x4": 1, "Untyped": 1}
_ZIP_MAGIC = b"PK\x03\x04"
_NESTED_LIMIT = 256 << 20  # members are read into memory up to this size
_VALUE_LIMIT = 1 << 20  # a record pickle the scan evaluates (counts, storage types)
_MAX_DEPTH = 4  # a .pt2 holding a torch.save zip is 2 deep
_MAX_NESTED = 10_000
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".pt2", "pkl")
_STRICT_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".pt2", "pkl")


class _Global:
    """What a record pickle's (allowlisted) import stands for while the scan reads it."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> _Global:
        return _Global(self.name + "()")

    def __setstate__(self, state: Any) -> None:
        pass


class _RecordUnpickler(pickle.Unpickler):
    """Evaluates a small pickle whose imports the scan already allowed: imports become
    inert ``_Global`` names, so nothing is imported and nothing runs."""

    def find_class(self, module: str, name: str) -> Any:
        qualified = f"{module}.{name}"
        if not is_safe_global(qualified):
            raise pickle.UnpicklingError(f"{qualified} is not allowed")
        return _Global(qualified)

    def persistent_load(self, pid: Any) -> Any:
        return _Global("persistent")


# -- scanning one file as its loader reads it ------------------------------------------------


class Problem(NamedTuple):
    """One thing wrong in one artifact file: ``member`` is "" for the file itself, else the
    member's path ("archive/data.pkl", "model.pt2!data/weights/weight_0")."""

    member: str
    reasons: list[str]
    kind: str = "unsafe-pickle"  # or "unsafe-expression", "native-code", "unscannable"


class FileScan(NamedTuple):
    """What ``scan_file`` found in one file: pickles scanned, and the problems."""

    pickles: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def sentence(self, label: str = "") -> str:
        """The first problem as a clause: "MEMBER [in LABEL] holds a pickle that imports X"."""
        first = self.problems[0]
        where = " in ".join(w for w in (first.member, label) if w) or "the file"
        verb = {"unsafe-pickle": "holds a pickle that", "unscannable": "cannot be checked:",
                "native-code": "holds", "unsafe-expression": "holds"}[first.kind]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"{where} {verb} {'; '.join(first.reasons[:3])}{more}"

    def findings(self, package: str, artifact: str | None, allowed: bool = False
                 ) -> list[Finding]:
        """These problems as audit findings of ``package`` ("name@version")."""
        out = []
        for problem in self.problems:
            where = f"{problem.member}: " if problem.member else ""
            reasons = problem.reasons
            detail = (f"{where}{'; '.join(reasons[:6])}"
                      + (f" (+{len(reasons) - 6} more)" if len(reasons) > 6 else ""))
            out.append(Finding(package, artifact, problem.kind, detail, severity="high",
                               allowed=allowed and problem.kind in _PICKLE_KINDS))
        return out


class _Scan:
    def __init__(self) -> None:
        self.pickles = 0
        self.problems: list[Problem] = []
        self.seen: set[tuple[str, str]] = set()  # (member, view) already scanned
        self.depth = 0  # files nested in files (a zip may even hold itself)
        self.nested = 0  # nested files scanned so far
        self.last = _Walk()  # the walk of the pickle scanned last

    def add(self, member: str, kind: str, reasons: list[str]) -> None:
        problem = Problem(member, reasons, kind)
        if reasons and problem not in self.problems:  # two views may see the same thing
            self.problems.append(problem)

    def once(self, member: str, view: str) -> bool:
        key = (member, view)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def pickle(self, label: str, stream: BinaryIO, what: str, *, strict: bool = True
               ) -> list[tuple[str, Any]] | None:
        """Scan one pickle the loader unpickles; its first opcodes, or None when unreadable
        (an ``unscannable`` finding when ``strict``: the loader would unpickle it)."""
        walk = self.last = _walk(stream)
        unsafe = sorted({i for i in walk.imports if not is_safe_global(i)})
        if walk.error is not None and not strict and not unsafe and not walk.problems:
            return None  # not a pickle, and the loader does not insist that it is one
        self.pickles += 1
        # Imports before a break count: the unpickler ran them before it failed.
        self.add(label, "unsafe-pickle", [f"imports {name}" for name in unsafe])
        self.add(label, "unscannable", [f"its {what} has {p}" for p in walk.problems])
        if walk.error is not None:
            if strict:
                self.add(label, "unscannable", [f"the loader unpickles its {what}, which is "
                                                f"not a readable pickle ({walk.error})"])
            return None
        return walk.head

    def record(self, label: str, stream: BinaryIO, what: str) -> Any:
        """Scan, then safely evaluate, a small record pickle (a count, a storage record)."""
        start = stream.tell()
        before = len(self.problems)
        if self.pickle(label, stream, what) is None or len(self.problems) > before:
            raise _Stop
        end = stream.tell()
        if end - start > _VALUE_LIMIT or self.last.memo_top > 100_000:
            self.add(label, "unscannable", [f"its {what} is larger than a record can be"])
            raise _Stop
        stream.seek(start)
        try:
            value = _RecordUnpickler(io.BytesIO(stream.read(end - start))).load()
        except Exception as exc:  # noqa: BLE001 -- any failure means the scan cannot follow
            self.add(label, "unscannable", [f"its {what} cannot be read ({exc})"])
            raise _Stop from None
        return value


class _Stop(Exception):
    """The scan of a legacy tar member cannot follow its layout any further."""


def scan_file(path: Path, fmt: str | None = None) -> FileScan:
    """Scan the artifact file at ``path`` as its framework would load it (``fmt`` is the
    artifact's format; ``None`` guesses from the content). Never unpickles.

    ``scanned, problems = scan_file(path)``; ``problems`` is empty when nothing the loader
    would unpickle can run code. The loader-side gate: ``if not scan.ok: refuse
    (scan.sentence(label))``.

    >>> scan = scan_file(Path("model.pt"), "state-dict")  # doctest: +SKIP
    >>> scan.ok, scan.pickles  # doctest: +SKIP
    (True, 1)
    """
    scan = _Scan()
    if fmt in ("onnx", "tflite", "safetensors"):
        return FileScan(0, [])  # data formats: nothing in them is unpickled
    strict = fmt in ("state-dict", "torchscript", "exported-program")
    with open(path, "rb") as fh:
        try:
            head = fh.read(4)
            fh.seek(0)
            _scan_torch_load(scan, "", fh, strict=strict)
            # What Python's zipfile / tarfile see, when torch would not read it as that: hub
            # code and SavedModels are extracted with them, and torch.export.load falls
            # back to zipfile for its old format.
            fh.seek(0)
            if head != _ZIP_MAGIC and zipfile.is_zipfile(fh):
                fh.seek(0)
                _scan_zip_file(scan, "", fh)
            elif head != _ZIP_MAGIC:
                fh.seek(0)
                _scan_tar_archive(scan, fh)
        except Exception as exc:  # noqa: BLE001 -- bytes that break the scan are a finding
            scan.add("", "unscannable", [f"the scan cannot read it ({type(exc).__name__}: "
                                         f"{exc})"])
    return FileScan(scan.pickles, scan.problems)


def _scan_torch_load(scan: _Scan, label: str, stream: BinaryIO, *, strict: bool) -> None:
    """What ``torch.load`` reads: zip by its first four bytes, else the legacy tar format,
    else the legacy pickle sequence."""
    start = stream.tell()
    head = stream.read(4)
    stream.seek(start)
    if head == _ZIP_MAGIC:
        _scan_zip_file(scan, label, stream)
        return
    tar = _plain_tar(stream)
    if tar is not None:
        with tar:
            _scan_legacy_tar(scan, label, tar)
        # torch falls back to the pickle sequence when reading the tar raises TarError
        stream.seek(start)
        _scan_legacy_pickles(scan, label, stream, strict=False)
        return
    stream.seek(start)
    _scan_legacy_pickles(scan, label, stream, strict=strict)


def _is_magic(head: list[tuple[str, Any]] | None) -> bool:
    return head is not None and len(head) == 1 and head[0][1] == _TORCH_MAGIC


def _scan_legacy_pickles(scan: _Scan, label: str, stream: BinaryIO, *, strict: bool) -> None:
    """The legacy ``torch.save`` layout: torch unpickles the first pickle whatever it is
    (with ``weights_only=False`` that alone runs it), and goes on only past the magic number
    and protocol version."""
    head = scan.pickle(label, stream, "first pickle", strict=strict)
    if not _is_magic(head):
        return
    for role in _LEGACY_ROLES:
        head = scan.pickle(label, stream, f"{role} pickle")
        if head is None:
            return
        if role == "protocol version" and not (len(head) == 1 and head[0][1] == _TORCH_PROTOCOL):
            return  # torch stops: "Invalid protocol version"


def _plain_tar(stream: BinaryIO) -> tarfile.TarFile | None:
    start = stream.tell()
    try:
        return tarfile.open(fileobj=stream, mode="r:")
    except (tarfile.TarError, OSError, EOFError, ValueError):
        stream.seek(start)
        return None


def _tar_member(tar: tarfile.TarFile, name: str) -> io.BytesIO | None:
    try:
        member = tar.getmember(name)  # the last member of that name, as torch's extract
    except KeyError:
        return None
    if not member.isfile():
        raise _Stop(f"a {name} member that is not a regular file (torch extracts it to disk "
                    "and opens whatever it points to)")
    if member.size > _NESTED_LIMIT:
        raise _Stop(f"{member.size} bytes, too large to scan")
    fh = tar.extractfile(member)
    return io.BytesIO(fh.read()) if fh is not None else None


def _scan_legacy_tar(scan: _Scan, label: str, tar: tarfile.TarFile) -> None:
    """The legacy tar format's ``storages``, ``tensors`` and ``pickle`` members. Raw bytes
    follow each storage and tensor record, so the scan follows the layout torch reads."""
    prefix = f"{label}!" if label else ""
    try:
        tar_names = tar.getnames()
    except (tarfile.TarError, OSError, EOFError) as exc:
        scan.add(label, "unscannable", [f"a tar archive that cannot be listed ({exc})"])
        return
    for name in ("storages", "tensors", "pickle"):
        if name not in tar_names:
            continue
        try:
            data = _tar_member(tar, name)
        except (tarfile.TarError, OSError, EOFError, _Stop) as exc:
            scan.add(prefix + name, "unscannable", [f"a tar member that cannot be read ({exc})"
                                                    if not isinstance(exc, _Stop) else str(exc)])
            continue
        if data is None:
            continue
        try:
            if name == "storages":
                _follow_storages(scan, prefix + name, data)
            elif name == "tensors":
                _follow_tensors(scan, prefix + name, data)
            else:
                scan.pickle(prefix + name, data, "object pickle")
        except _Stop:
            pass


def _count(scan: _Scan, label: str, data: io.BytesIO, what: str) -> int:
    value = scan.record(label, data, what)
    if not isinstance(value, int) or not 0 <= value <= 10_000_000:
        scan.add(label, "unscannable", [f"its {what} is not a count"])
        raise _Stop
    return value


def _skip(scan: _Scan, label: str, data: io.BytesIO, size: int) -> None:
    if size < 0 or data.tell() + size > len(data.getbuffer()):
        scan.add(label, "unscannable", ["its raw data runs past the end of the member"])
        raise _Stop
    data.seek(size, io.SEEK_CUR)


def _follow_storages(scan: _Scan, label: str, data: io.BytesIO) -> None:
    for _ in range(_count(scan, label, data, "storage count")):
        record = scan.record(label, data, "storage record")
        kind = record[2] if isinstance(record, tuple) and len(record) == 3 else None
        name = kind.name.rpartition(".")[2] if isinstance(kind, _Global) else ""
        size = _STORAGE_SIZES.get(name.removesuffix("Storage"))
        if size is None:
            scan.add(label, "unscannable", ["a storage record whose type is not a storage"])
            raise _Stop
        raw = data.read(8)
        _skip(scan, label, data, int.from_bytes(raw, "little", signed=True) * size
              if len(raw) == 8 else -1)
    scan.pickle(label, data, "storage views pickle")


def _follow_tensors(scan: _Scan, label: str, data: io.BytesIO) -> None:
    for _ in range(_count(scan, label, data, "tensor count")):
        scan.record(label, data, "tensor record")
        raw = data.read(8)  # ndim, then 4 bytes torch skips
        ndim = int.from_bytes(raw[:4], "little", signed=True) if len(raw) == 8 else -1
        _skip(scan, label, data, 16 * ndim + 8 if 0 <= ndim <= 64 else -1)


# -- zips: torch.save, TorchScript, exported programs ---------------------------------------


def _scan_zip_file(scan: _Scan, label: str, stream: BinaryIO) -> None:
    try:
        archive = zipfile.ZipFile(stream)
    except Exception as exc:  # noqa: BLE001 -- whatever zipfile trips on
        scan.add(label, "unscannable", [f"it starts like a zip but is not one that can be read "
                                        f"({exc}), so what the loader reads cannot be told"])
        return
    with archive:
        _scan_zip(scan, label, archive, stream)


def _scan_zip(scan: _Scan, label: str, archive: zipfile.ZipFile, stream: BinaryIO) -> None:
    """Every ``*pkl`` member (torch.load's data.pkl, TorchScript's constants.pkl...), the
    members torch.export.load unpickles, and nested pickle files."""
    prefix = f"{label}!" if label else ""
    infos = archive.infolist()
    stream.seek(0)
    if stream.read(4) == _ZIP_MAGIC and infos and not any(i.header_offset == 0 for i in infos):
        scan.add(label, "unscannable", ["the zip that zipfile reads does not start at the "
                                        "file's first byte, where torch reads one"])
    names: dict[str, list[zipfile.ZipInfo]] = {}
    for info in infos:
        names.setdefault(info.filename.casefold(), []).append(info)
    twice = sorted(i[0].filename for i in names.values() if len(i) > 1
                   and _read_by_loaders(i[0].filename))
    if twice:
        scan.add(label, "unscannable", [f"member {name} appears more than once: which copy a "
                                        "loader reads cannot be told" for name in twice[:3]])
    for info in infos:
        lower = info.filename.lower()
        if info.is_dir() or not lower.endswith(_PICKLE_SUFFIXES):
            continue
        if lower.endswith("pkl"):
            _pickle_member(scan, prefix, archive, info, "pickle")
        else:
            _torch_member(scan, prefix, archive, info, strict=lower.endswith(_STRICT_SUFFIXES))
    _scan_exported(scan, prefix, archive, names)


def _read_by_loaders(name: str) -> bool:
    """Whether torch's loaders may read this member (a twin of it is then ambiguous):
    pickles, configs and graphs, anything under data/. Hub repos may have case twins."""
    lower = name.lower()
    return lower.endswith((*_PICKLE_SUFFIXES, ".json", "archive_format")) or "data/" in lower


def _read_member(scan: _Scan, member: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo
                 ) -> io.BytesIO | None:
    if info.file_size > _NESTED_LIMIT:
        scan.add(member, "unscannable", [f"{info.file_size} bytes, too large to scan"])
        return None
    try:
        return io.BytesIO(archive.read(info))
    except Exception as exc:  # noqa: BLE001 -- corrupt, encrypted, unknown compression...
        scan.add(member, "unscannable", [f"the member cannot be read ({exc})"])
        return None


def _pickle_member(scan: _Scan, prefix: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                   what: str) -> None:
    member = prefix + info.filename
    if not scan.once(member, "pickle"):
        return
    data = _read_member(scan, member, archive, info)
    if data is not None:
        scan.pickle(member, data, what)


def _torch_member(scan: _Scan, prefix: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo,
                  *, strict: bool = True) -> None:
    member = prefix + info.filename
    if not scan.once(member, "torch"):
        return
    if scan.depth >= _MAX_DEPTH or scan.nested >= _MAX_NESTED:
        scan.add(member, "unscannable", ["files nested deeper or more often than a model's "
                                         "files are"])
        return
    data = _read_member(scan, member, archive, info)
    if data is None:
        return
    scan.depth += 1
    scan.nested += 1
    try:
        _scan_torch_load(scan, member, data, strict=strict)
    finally:
        scan.depth -= 1


def _scan_exported(scan: _Scan, prefix: str, archive: zipfile.ZipFile,
                   names: dict[str, list[zipfile.ZipInfo]]) -> None:
    """What ``torch.export.load`` (torch/export/pt2_archive/_package.py) unpickles. Its
    reader looks members up under the first member's folder; its fallback, the old format,
    reads ``serialized_*.pt`` at the zip's root with zipfile."""
    infos = archive.infolist()
    for old in ("serialized_state_dict.pt", "serialized_constants.pt",
                "serialized_example_inputs.pt"):
        for info in names.get(old, []):
            _torch_member(scan, prefix, archive, info)
    if not infos or "/" not in infos[0].filename:
        return
    root = infos[0].filename.split("/", 1)[0] + "/"

    def find(rel: str) -> list[zipfile.ZipInfo]:
        return names.get(posixpath.join(root, rel).casefold(), [])

    if not find("archive_format"):
        return
    native = [i.filename for i in infos
              if i.filename.casefold().startswith((root + "data/aotinductor/").casefold())]
    if native:
        scan.add(prefix + native[0], "native-code",
                 [f"an AOTInductor compiled library ({len(native)} file"
                  f"{'' if len(native) == 1 else 's'}), which torch.export.load loads as native "
                  "code"])
    models = [i.filename[len(root) + len("models/"):-len(".json")] for i in infos
              if i.filename.startswith(root + "models/") and i.filename.endswith(".json")]
    for model in models:
        for info in find(f"models/{model}.json"):
            _scan_expressions(scan, prefix, archive, info)
        for info in find(f"data/sample_inputs/{model}.pt"):
            _torch_member(scan, prefix, archive, info)
        for folder, kind in (("weights", "weights"), ("constants", "constants")):
            legacy = find(f"data/{folder}/{model}.pt")
            for info in legacy:
                _torch_member(scan, prefix, archive, info)
            if legacy:
                continue
            for config in find(f"data/{folder}/{model}_{kind}_config.json"):
                _scan_payload_config(scan, prefix, archive, config, folder, find)


def _scan_payload_config(scan: _Scan, prefix: str, archive: zipfile.ZipFile,
                         config: zipfile.ZipInfo, folder: str, find) -> None:
    member = prefix + config.filename
    data = _read_member(scan, member, archive, config)
    if data is None:
        return
    try:
        entries = json.loads(data.getvalue())["config"]
        payloads = [(str(p["path_name"]), bool(p.get("use_pickle"))) for p in entries.values()]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        scan.add(member, "unscannable", [f"a payload config that cannot be read ({exc!r}), so "
                                         "which members are unpickled cannot be told"])
        return
    for path_name, use_pickle in payloads:
        rel = posixpath.join(f"data/{folder}/", path_name)
        if folder == "constants" and path_name.startswith(("custom_obj_", "opaque_obj_")):
            for info in find(rel):  # TorchScript's unpickler / plain pickle.loads
                _pickle_member(scan, prefix, archive, info, "object pickle")
        elif use_pickle:
            for info in find(rel):
                _torch_member(scan, prefix, archive, info)


# Shape expressions in an exported graph ("expr_str") are parsed by sympy.sympify, which
# evaluates Python: only plain arithmetic over symbols may pass (torch serializes them with
# sympy's srepr, e.g. "Mul(Integer(2), Symbol('s0', positive=True, integer=True))").
_SYMPY_NAMES = frozenset("""
    Symbol Dummy Integer Float Rational Add Mul Pow Mod Max Min Abs floor ceiling sqrt Eq Ne
    Lt Le Gt Ge StrictLessThan StrictGreaterThan LessThan GreaterThan Equality Unequality
    And Or Not Xor Piecewise ExprCondPair ITE Infinity NegativeInfinity oo zoo nan NaN
    ComplexInfinity Zero One NegativeOne Half BooleanTrue BooleanFalse true false True False
    None Tuple FloorDiv ModularIndexing Where PythonMod CleanDiv CeilToInt FloorToInt CeilDiv
    LShift RShift PowByNatural FloatPow FloatTrueDiv IntTrueDiv
    IsNonOverlappingAndDenseIndicator TruncToFloat TruncToInt RoundToInt RoundDecimal ToFloat
    Identity OpaqueUnaryFn_sqrt BitwiseFn_bitwise_and BitwiseFn_bitwise_or Trunc
    positive negative integer nonnegative nonpositive real finite infinite zero nonzero
    commutative precision rational even odd prime composite complex imaginary hermitian
    algebraic transcendental irrational extended_real extended_positive extended_negative
    extended_nonnegative extended_nonpositive extended_nonzero
""".split())
_SYMBOL = re.compile(r"[a-z]+\d+")
_SAFE_STRING = re.compile(r"[A-Za-z][A-Za-z0-9_]*|[-+0-9.eE]+|")
_SYMPY_OPS = frozenset("( ) , = + - * / ** // % < > <= >= == != & | ~ ^".split())


def unsafe_expression(text: str) -> str | None:
    """Why ``sympy.sympify(text)`` could run more than arithmetic, or None when it cannot.

    >>> unsafe_expression("Mul(Integer(2), Symbol('s0', positive=True, integer=True))")
    >>> unsafe_expression("__import__('os').system('id')")
    "it names '__import__'"
    """
    import tokenize

    if len(text) > 100_000:
        return "it is longer than any shape expression"
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        return f"it is not an expression ({exc})"
    for tok in tokens:
        kind, value = tok.type, tok.string
        if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.NUMBER):
            continue
        if kind == tokenize.NAME:
            if value not in _SYMPY_NAMES and not _SYMBOL.fullmatch(value):
                return f"it names {value!r}"
        elif kind == tokenize.STRING:
            inner = value[1:-1] if value[:1] in "'\"" and value[-1:] == value[:1] else None
            if inner is None or "__" in inner or not _SAFE_STRING.fullmatch(inner):
                return f"it holds the string {value[:40]!r}"
        elif kind == tokenize.OP:
            if value not in _SYMPY_OPS:
                return f"it uses {value!r}"
        else:
            return f"it holds {value[:40]!r}"
    return None


def _scan_expressions(scan: _Scan, prefix: str, archive: zipfile.ZipFile,
                      info: zipfile.ZipInfo) -> None:
    member = prefix + info.filename
    data = _read_member(scan, member, archive, info)
    if data is None:
        return
    try:
        stack = [json.loads(data.getvalue())]
    except ValueError as exc:
        scan.add(member, "unscannable", [f"a graph that is not JSON ({exc})"])
        return
    bad: list[str] = []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "expr_str" and isinstance(value, str):
                    why = unsafe_expression(value)
                    if why:
                        bad.append(f"a shape expression torch.export.load evaluates with "
                                   f"sympy.sympify, and {why}: {value[:60]!r}")
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    scan.add(member, "unsafe-expression", bad)


# -- archives of folders (SavedModel, hub code) ---------------------------------------------


def _scan_tar_archive(scan: _Scan, stream: BinaryIO) -> None:
    try:
        archive = tarfile.open(fileobj=stream, mode="r:*")
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return
    with archive:
        try:
            members = archive.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            scan.add("", "unscannable", [f"a tar archive that cannot be listed ({exc})"])
            return
        for member in members:
            lower = member.name.lower()
            if not member.isfile() or not lower.endswith(_PICKLE_SUFFIXES):
                continue
            if not scan.once(member.name, "torch"):
                continue
            if member.size > _NESTED_LIMIT:
                scan.add(member.name, "unscannable", [f"{member.size} bytes, too large to scan"])
                continue
            fh = archive.extractfile(member)
            if fh is None:
                continue
            data = io.BytesIO(fh.read())
            if lower.endswith("pkl") or lower.endswith(".pickle"):
                scan.pickle(member.name, data, "pickle")
            else:
                _scan_torch_load(scan, member.name, data, strict=lower.endswith(_STRICT_SUFFIXES))


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


__all__ = ["AuditReport", "Finding", "FileScan", "Problem", "scan_file", "scan_pickles",
           "is_safe_global", "MlpmError"]
