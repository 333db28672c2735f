"""TFRecord framing, the container of TensorBoard event files.

Each record is::

    uint64  length            (little-endian)
    uint32  masked CRC32C of the 8 length bytes
    bytes   data[length]
    uint32  masked CRC32C of the data

CRC32C (Castagnoli, reflected polynomial 0x82F63B78) is computed here in pure
Python from a table, so no extra dependency is needed; the mask is
TensorFlow's: rotate right by 15 bits and add 0xA282EAD8.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of `data`, continuing from `crc` (0 to start)."""
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC as TFRecord stores it (masked, so a CRC of CRCs is not trivial)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def encode_record(data: bytes) -> bytes:
    """One framed record holding `data`."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


class CorruptRecordError(ValueError):
    """A record file is truncated or fails its checksum."""


def read_records(path: str, check_crc: bool = True) -> Iterator[bytes]:
    """The data of each record in the TFRecord file at `path`, in order.

    Raises CorruptRecordError naming the file, the byte offset and what is
    wrong when a record is truncated or a checksum does not match.
    """
    with open(path, "rb") as f:
        buf = f.read()
    pos = 0
    n = len(buf)
    while pos < n:
        if pos + 12 > n:
            raise CorruptRecordError(f"{path}: truncated record header at byte {pos}")
        header = buf[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", buf[pos + 8 : pos + 12])
        if check_crc and header_crc != masked_crc32c(header):
            raise CorruptRecordError(f"{path}: length checksum mismatch in the record at byte {pos}")
        start, end = pos + 12, pos + 12 + length
        if end + 4 > n:
            raise CorruptRecordError(
                f"{path}: record at byte {pos} declares {length} bytes but the file ends at byte {n}"
            )
        data = buf[start:end]
        (data_crc,) = struct.unpack("<I", buf[end : end + 4])
        if check_crc and data_crc != masked_crc32c(data):
            raise CorruptRecordError(f"{path}: data checksum mismatch in the record at byte {pos}")
        yield data
        pos = end + 4
