"""Column conversion between the client's position encoding and UTF-16.

The structure layer speaks LSP's default, UTF-16 code units. A client may negotiate UTF-8 or
UTF-32 (Emacs 29 prefers UTF-32, Neovim 0.11 UTF-8); the server converts at its edge with these
functions, given the text of the line the column is on.
"""

from __future__ import annotations

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def _units(ch: str, encoding: str) -> int:
    cp = ord(ch)
    if encoding == UTF8:
        return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4
    if encoding == UTF16:
        return 2 if cp >= 0x10000 else 1
    return 1


def convert_column(line_text: str, column: int, source: str, target: str) -> int:
    """Convert ``column`` on ``line_text`` from ``source`` code units to ``target`` units.

    A column past the end of the line converts to the end of the line (as LSP prescribes);
    a column inside a multi-unit character is rounded down to its start.
    """
    if source == target:
        return max(column, 0)
    seen = 0
    out = 0
    for ch in line_text:
        step = _units(ch, source)
        if seen + step > column:
            return out
        seen += step
        out += _units(ch, target)
    return out
