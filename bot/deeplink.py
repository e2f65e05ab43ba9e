"""Operators' links: a short payload that presets language, comune, age, need or service.

A school mediator hands out a link or QR code that opens the bot in Arabic for Cinisello
and the need `school`. Telegram allows at most 64 characters of `A-Z a-z 0-9 _ -` after
`?start=`, so the grammar is compact: parts joined by `_`, each a one-letter key and its
value.

    ua              an audience's entry point (knowledge/audiences.yaml): for the Ukrainian
                    one, language uk and need ukraine, and its own welcome
    l<code>         language, e.g. `len`, `luk`
    c<istat>        comune by ISTAT code, e.g. `c015077` (Cinisello Balsamo)
    n<need>         need id, e.g. `nschool`, `nfamily-reunification`
    a<years>        age in years, e.g. `a9` (the age group that holds it)
    s<service>      one service, e.g. `spaderno-sportello`

Example: `lar_c015077_nschool`. Unknown or malformed parts are ignored, so a tampered link
still starts a normal conversation, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from bot.knowledge import KnowledgeBase

MAX_LENGTH = 64
_ALLOWED = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Preset:
    lang: str | None = None
    comune: str | None = None  # ISTAT code
    age: str | None = None  # age group id
    need: str | None = None
    service: str | None = None
    audience: str | None = None  # an entry point of knowledge/audiences.yaml


def parse(payload: str, kb: KnowledgeBase, languages: Collection[str]) -> Preset:
    """The preset a payload carries; whatever is not understood is left out."""
    payload = (payload or "").strip()
    if not _ALLOWED.fullmatch(payload):
        return Preset()
    found: dict[str, str] = {}
    entry_points = {a.payload: a for a in (kb.audiences or {}).values()}
    for part in payload.split("_"):
        key, value = part[:1], part[1:]
        if part in entry_points:
            audience = entry_points[part]
            if audience.lang in languages:
                found.setdefault("lang", audience.lang)
            found.setdefault("need", audience.need)
            found.setdefault("audience", audience.id)
        elif key == "l" and value.lower() in languages:
            found["lang"] = value.lower()
        elif key == "c" and value in kb.comuni:
            found["comune"] = value
        elif key == "n" and value in kb.needs:
            found["need"] = value
        elif key == "a" and value.isascii() and value.isdigit() and len(value) <= 3:
            group = kb.age_group(int(value))
            if group:
                found["age"] = group
        elif key == "s" and value in kb.services:
            found["service"] = value
    return Preset(**found)


def build(preset: Preset, kb: KnowledgeBase) -> str:
    """The payload for a preset (the inverse of `parse`); raises ValueError if too long."""
    parts: list[str] = []
    audience = (kb.audiences or {}).get(preset.audience or "")
    if audience:
        parts.append(audience.payload)
    if preset.lang and not (audience and preset.lang == audience.lang):
        parts.append(f"l{preset.lang}")
    if preset.comune:
        parts.append(f"c{preset.comune}")
    if preset.age:
        parts.append(f"a{kb.ages[preset.age].low}")
    if preset.need and not (audience and preset.need == audience.need):
        parts.append(f"n{preset.need}")
    if preset.service:
        parts.append(f"s{preset.service}")
    payload = "_".join(parts)
    if len(payload) > MAX_LENGTH:
        raise ValueError(f"payload '{payload}' is longer than {MAX_LENGTH} characters")
    return payload
