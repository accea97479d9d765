"""Deterministic PNG images from a seed: stdlib only (zlib), no PIL, no network.

Used for try-on previews and by the offline ``local`` render provider: the same inputs
always give the same bytes, so tests and the LOCAL pipeline can compare objects.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def seeded_png(seed: str, size: int = 64) -> bytes:
    """A ``size`` x ``size`` RGB gradient whose colours derive from ``sha256(seed)``."""
    digest = hashlib.sha256(seed.encode()).digest()
    r0, g0, b0, r1, g1, b1 = digest[:6]
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            t = (x + y) / max(1, 2 * (size - 1))
            rows += bytes((int(r0 + (r1 - r0) * t) & 0xFF,
                           int(g0 + (g1 - g0) * t) & 0xFF,
                           int(b0 + (b1 - b0) * t) & 0xFF))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(rows), 6)) + _chunk(b"IEND", b""))


def png_size(data: bytes) -> tuple[int, int]:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
