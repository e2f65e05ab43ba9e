"""Shared by the channels: packing a turn's text into as few messages as a limit allows."""

from __future__ import annotations


def pack(parts: list[str], limit: int) -> list[str]:
    """Join parts (service cards, questions) into messages of at most `limit` characters.

    Parts are never cut unless one alone is longer than a message; then it is cut at a line
    break, so a card's lines stay whole.
    """
    chunks: list[str] = []
    for part in parts:
        while len(part) > limit:
            cut = part.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            chunks.append(part[:cut])
            part = part[cut:].lstrip("\n")
        if chunks and len(chunks[-1]) + 2 + len(part) <= limit:
            chunks[-1] += "\n\n" + part
        else:
            chunks.append(part)
    return [c for c in chunks if c.strip()] or ["…"]
