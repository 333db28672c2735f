"""TFRecord files: write and read them as TensorFlow does, compressed or not.

The framing (length, masked CRC32C of the length, data, masked CRC32C of the
data) is that of util/records.py. A file may be ZLIB- or GZIP-compressed
as a whole (TFRecordOptions); offsets, as TFRecordReader keys show them, count
bytes of the uncompressed stream. A truncated record or a checksum that does
not match is a DataLossError naming the file and the record's offset.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Iterator

from staticflow.framework import errors
from staticflow.util.records import encode_record, masked_crc32c


class TFRecordCompressionType:
    """The compression of a TFRecord file."""

    NONE = 0
    ZLIB = 1
    GZIP = 2


_NAMES = {
    TFRecordCompressionType.NONE: "",
    TFRecordCompressionType.ZLIB: "ZLIB",
    TFRecordCompressionType.GZIP: "GZIP",
}


class TFRecordOptions:
    """How a TFRecord file is compressed (TF1's tf.python_io.TFRecordOptions)."""

    compression_type_map = _NAMES

    def __init__(
        self,
        compression_type=None,
        flush_mode=None,
        input_buffer_size=None,
        output_buffer_size=None,
        window_bits=None,
        compression_level=None,
        compression_method=None,
        mem_level=None,
        compression_strategy=None,
    ):
        self.compression_type = compression_string(compression_type)
        self.compression_level = compression_level
        self.flush_mode = flush_mode
        self.input_buffer_size = input_buffer_size
        self.output_buffer_size = output_buffer_size
        self.window_bits = window_bits
        self.compression_method = compression_method
        self.mem_level = mem_level
        self.compression_strategy = compression_strategy

    @classmethod
    def get_compression_type_string(cls, options) -> str:
        """'', 'ZLIB' or 'GZIP' for options (a TFRecordOptions, a type, a string or None)."""
        if isinstance(options, TFRecordOptions):
            return options.compression_type
        return compression_string(options)


def compression_string(value) -> str:
    """The compression named by value: None, a TFRecordCompressionType, '', 'ZLIB' or 'GZIP'."""
    if value is None:
        return ""
    if isinstance(value, TFRecordOptions):
        return value.compression_type
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        if value.upper() in ("", "ZLIB", "GZIP"):
            return value.upper()
        if value.upper() == "NONE":
            return ""
        raise ValueError(f"Unsupported compression type {value!r} (use '', 'ZLIB' or 'GZIP')")
    if value in _NAMES:
        return _NAMES[value]
    raise ValueError(f"Unsupported compression type {value!r}")


class TFRecordWriter:
    """Writes records to a TFRecord file (TF1's tf.python_io.TFRecordWriter)."""

    def __init__(self, path, options=None):
        self._path = os.fspath(path)
        self._compression = compression_string(options)
        level = options.compression_level if isinstance(options, TFRecordOptions) else None
        level = 6 if level is None or level < 0 else level
        self._raw = open(self._path, "wb")
        if self._compression == "GZIP":
            self._f = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=level)
            self._z = None
        else:
            self._f = self._raw
            self._z = zlib.compressobj(level) if self._compression == "ZLIB" else None

    def write(self, record) -> None:
        """Append one record (bytes, or a str encoded as UTF-8)."""
        if isinstance(record, str):
            record = record.encode()
        data = encode_record(bytes(record))
        self._f.write(self._z.compress(data) if self._z is not None else data)

    def flush(self) -> None:
        if self._z is not None:
            self._f.write(self._z.flush(zlib.Z_SYNC_FLUSH))
        self._f.flush()

    def close(self) -> None:
        if self._f is None:
            return
        if self._z is not None:
            self._f.write(self._z.flush())
        if self._f is not self._raw:
            self._f.close()
        self._raw.close()
        self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _open(path: str, compression: str):
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
    except IsADirectoryError:
        raise errors.FailedPreconditionError(None, None, f"{path}; Is a directory") from None
    if compression == "GZIP":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "ZLIB":
        with raw:
            try:
                return io.BytesIO(zlib.decompress(raw.read()))
            except zlib.error as e:
                raise errors.DataLossError(None, None, f"{path}: not a ZLIB stream ({e})") from None
    return raw


def read_records(path, compression="") -> Iterator[tuple[int, bytes]]:
    """(offset, data) of each record of the TFRecord file at path, read as it goes."""
    path = os.fsdecode(path)
    compression = compression_string(compression)
    f = _open(path, compression)
    with f:
        pos = 0
        while True:
            try:
                header = f.read(12)
            except (OSError, EOFError) as e:
                raise errors.DataLossError(
                    None, None, f"{path}: corrupted {compression} stream ({e})"
                ) from None
            if not header:
                return
            if len(header) < 12:
                raise errors.DataLossError(None, None, f"{path}: truncated record at {pos}")
            (length,) = struct.unpack("<Q", header[:8])
            (crc,) = struct.unpack("<I", header[8:])
            if crc != masked_crc32c(header[:8]):
                raise errors.DataLossError(None, None, f"{path}: corrupted record at {pos} (length checksum)")
            body = f.read(length + 4)
            if len(body) < length + 4:
                raise errors.DataLossError(None, None, f"{path}: truncated record at {pos}")
            data = body[:length]
            (crc,) = struct.unpack("<I", body[length:])
            if crc != masked_crc32c(data):
                raise errors.DataLossError(None, None, f"{path}: corrupted record at {pos} (data checksum)")
            yield pos, data
            pos += 16 + length


def tf_record_iterator(path, options=None) -> Iterator[bytes]:
    """The records of a TFRecord file, in order (TF1's tf.python_io.tf_record_iterator)."""
    for _, data in read_records(path, compression_string(options)):
        yield data
