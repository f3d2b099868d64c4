"""Qt binary resource files (``.rcc``) read in pure Python, so that collecting photos never needs Qt.

GCompris keeps its pictures inside such files; :func:`read_rcc` walks one and yields each file in it.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

RCC_COMPRESSED = 0x01  # zlib, behind a 4-byte big-endian uncompressed length (qCompress format)
RCC_DIRECTORY = 0x02
RCC_COMPRESSED_ZSTD = 0x04


def read_rcc(path: str | os.PathLike, skipped: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(resource_path, data)`` for every file in a Qt binary resource file, depth first.

    Resource paths start with ``/`` (``/gcompris/src/...``).  zlib entries are decompressed; zstd
    entries are decompressed only when the ``zstandard`` module happens to be installed, otherwise they
    are skipped and their paths appended to ``skipped``.
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt binary resource file (no 'qres' magic)")
    version, tree_off, data_off, names_off = struct.unpack_from(">IIII", buf, 4)
    if version not in (1, 2, 3):
        raise ValueError(f"{path}: unsupported rcc format version {version}")
    node_size = 14 if version == 1 else 22  # version 2 added an 8-byte modification time

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", buf, names_off + offset)  # in UTF-16 units; then a 4-byte hash
        start = names_off + offset + 6
        return buf[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str, depth: int) -> Iterator[tuple[str, bytes]]:
        if depth > 64:
            raise ValueError(f"{path}: resource tree too deep (corrupt file?)")
        node = tree_off + index * node_size
        name_offset, flags = struct.unpack_from(">IH", buf, node)
        here = prefix + "/" + name_at(name_offset) if index else ""
        if flags & RCC_DIRECTORY:
            count, first = struct.unpack_from(">II", buf, node + 6)
            for child in range(first, first + count):
                yield from walk(child, here, depth + 1)
            return
        (offset,) = struct.unpack_from(">I", buf, node + 10)  # after 2-byte territory, 2-byte language
        (size,) = struct.unpack_from(">I", buf, data_off + offset)
        data = buf[data_off + offset + 4 : data_off + offset + 4 + size]
        if flags & RCC_COMPRESSED:
            data = zlib.decompress(data[4:])
        elif flags & RCC_COMPRESSED_ZSTD:
            try:
                import zstandard  # optional; not a dependency
            except ImportError:
                if skipped is not None:
                    skipped.append(here)
                return
            data = zstandard.ZstdDecompressor().decompress(data, max_output_size=1 << 30)
        yield here, data

    yield from walk(0, "", 0)
