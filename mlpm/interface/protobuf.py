"""A minimal protobuf wire-format reader, so interfaces are read without a framework.

It knows nothing of schemas: callers pick the field numbers they need from
``fields(data)`` and skip the rest, which costs nothing for skipped sub-messages
because length-delimited values are zero-copy ``memoryview`` slices.

    >>> list(fields(b"\\x08\\x96\\x01\\x12\\x02hi"))[0]
    (1, 0, 150)
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path

from mlpm.errors import InvalidModelFile as InvalidModelFile  # re-exported

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_MASK64 = (1 << 64) - 1


class DecodeError(ValueError):
    """Bytes that are not a valid protobuf message (truncated, malformed, hostile)."""


def varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` and the position after it."""
    result = shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise DecodeError("is not a valid protobuf message: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:  # a varint is at most 10 bytes; stop hostile endless ones
            raise DecodeError("is not a valid protobuf message: varint longer than 10 bytes")


def fields(data: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Each ``(field_number, wire_type, value)`` of one message, in file order.

    Varints and fixed32/64 come as unsigned ints, length-delimited values as
    memoryview slices of ``data``.

    >>> [(n, bytes(v)) for n, _, v in fields(b"\\x0a\\x03abc")]
    [(1, b'abc')]
    """
    buf = data if isinstance(data, memoryview) else memoryview(data)
    pos, end = 0, len(buf)
    value: int | memoryview
    while pos < end:
        key = buf[pos]
        if key < 0x80:  # one-byte tags and lengths are the common case: skip the call
            pos += 1
        else:
            key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError("is not a valid protobuf message: field number 0")
        if wire == VARINT:
            value, pos = varint(buf, pos)
        elif wire == LENGTH:
            if pos < end and buf[pos] < 0x80:
                size, pos = buf[pos], pos + 1
            else:
                size, pos = varint(buf, pos)
            if size > end - pos:
                raise DecodeError(f"is not a valid protobuf message: field {number} "
                                  f"claims {size} bytes, {end - pos} left")
            value, pos = buf[pos:pos + size], pos + size
        elif wire in (FIXED32, FIXED64):
            width = 4 if wire == FIXED32 else 8
            if width > end - pos:
                raise DecodeError("is not a valid protobuf message: truncated fixed field")
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        else:  # groups (3, 4) are deprecated and unused by TF / ONNX; 6, 7 do not exist
            raise DecodeError(f"is not a valid protobuf message: wire type {wire}")
        yield number, wire, value


def signed(value: int) -> int:
    """An int64 from its varint (negative numbers are 64-bit two's complement)."""
    return value - (1 << 64) if value >> 63 else value


def packed_varints(data: memoryview) -> list[int]:
    """The unsigned varints of a packed repeated field."""
    out, pos = [], 0
    while pos < len(data):
        value, pos = varint(data, pos)
        out.append(value)
    return out


def message(number: int, wire: int, value: int | memoryview) -> memoryview:
    """``value`` as a sub-message or bytes field, refusing a scalar in its place."""
    if wire != LENGTH:
        raise DecodeError(f"is not a valid protobuf message: field {number} "
                          f"has wire type {wire}, expected a length-delimited value")
    return value  # type: ignore[return-value]


def text(number: int, wire: int, value: int | memoryview) -> str:
    """``value`` as a UTF-8 string field."""
    try:
        return str(message(number, wire, value), "utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"is not a valid protobuf message: field {number} "
                          "is not UTF-8") from None


def scalar(number: int, wire: int, value: int | memoryview) -> int:
    """``value`` as a varint / fixed field, refusing bytes in its place."""
    if wire == LENGTH:
        raise DecodeError(f"is not a valid protobuf message: field {number} "
                          "is length-delimited, expected a number")
    return value  # type: ignore[return-value]


def read_file(path: Path) -> memoryview:
    """The bytes of ``path``: read when small, memory-mapped when large (zero-copy)."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size < 1 << 20:
            return memoryview(file.read())
        return memoryview(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ))
