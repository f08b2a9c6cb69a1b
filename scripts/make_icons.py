"""Write the site's touch icon (static/apple-touch-icon.png, 180×180) from the same shape as
static/favicon.svg: a white bookmark (栞) on the site's blue. Pure Python (zlib and struct),
so the image is made here, reproducibly, and tests check the committed file is this output.

    .venv/bin/python scripts/make_icons.py
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOUCH_ICON = ROOT / "static" / "apple-touch-icon.png"
SIZE = 180
BLUE = (0x0B, 0x5C, 0xAD)
WHITE = (0xFF, 0xFF, 0xFF)
# The bookmark in favicon.svg's 32×32 units: a ribbon from x 10 to 22, y 5 to 27, its foot
# cut in a V up to y 22; a hole at (16, 9.5) of radius 1.6 shows the blue through.
LEFT, RIGHT, TOP, FOOT, NOTCH = 10.0, 22.0, 5.0, 27.0, 22.0
HOLE_X, HOLE_Y, HOLE_R = 16.0, 9.5, 1.6


def _inside(x: float, y: float) -> bool:
    """Whether the point (in the SVG's 32×32 units) is on the white ribbon."""
    if not (LEFT <= x <= RIGHT and TOP <= y <= FOOT):
        return False
    if (x - HOLE_X) ** 2 + (y - HOLE_Y) ** 2 <= HOLE_R**2:
        return False
    half = (RIGHT - LEFT) / 2
    # Below the notch's tip the foot is cut: the V rises from the corners to the middle.
    limit = NOTCH + (FOOT - NOTCH) * abs(x - (LEFT + half)) / half
    return y <= limit


def _pixel(px: int, py: int, samples: int = 4) -> bytes:
    """One pixel, the ribbon's edges smoothed by sampling it samples × samples times."""
    scale = 32 / SIZE
    hits = sum(
        _inside((px + (i + 0.5) / samples) * scale, (py + (j + 0.5) / samples) * scale)
        for i in range(samples)
        for j in range(samples)
    )
    share = hits / samples**2
    return bytes(round(b + (w - b) * share) for b, w in zip(BLUE, WHITE, strict=True))


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def touch_icon() -> bytes:
    """The PNG: 8-bit RGB, no filter, no metadata (the same bytes on every run)."""
    rows = b"".join(b"\x00" + b"".join(_pixel(x, y) for x in range(SIZE)) for y in range(SIZE))
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    TOUCH_ICON.write_bytes(touch_icon())
    print(TOUCH_ICON)
