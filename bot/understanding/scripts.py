"""Which script a text is written in: the first thing that tells languages and spellings apart.

Shared by the language guess (bot.understanding) and the matching of names by sound
(sounds.py), so both call a text by the same script name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import lru_cache

SCRIPT_RANGES: Mapping[str, tuple[tuple[int, int], ...]] = {
    "cyrillic": ((0x0400, 0x052F),),
    "arabic": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "bengali": ((0x0980, 0x09FF),),
    "sinhala": ((0x0D80, 0x0DFF),),
    "ethiopic": ((0x1200, 0x139F),),
    "devanagari": ((0x0900, 0x097F),),
    "gurmukhi": ((0x0A00, 0x0A7F),),
    "han": ((0x4E00, 0x9FFF), (0x3400, 0x4DBF)),
    "greek": ((0x0370, 0x03FF),),
}


@lru_cache(maxsize=4096)
def script_of_char(ch: str) -> str:
    cp = ord(ch)
    for script, ranges in SCRIPT_RANGES.items():
        if any(lo <= cp <= hi for lo, hi in ranges):
            return script
    return "latin" if ch.isascii() or 0x00C0 <= cp <= 0x024F else "other"


def script_of(letters: list[str]) -> str:
    """The script most of these letters are written in."""
    counts: dict[str, int] = defaultdict(int)
    for ch in letters:
        counts[script_of_char(ch)] += 1
    return max(counts, key=lambda s: counts[s])
