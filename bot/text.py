"""Text normalisation shared by the knowledge loader and the understanding of messages.

Families type on cheap phones, in many scripts, with or without accents and capitals. Both
the data (comune names, keywords) and the messages go through the same `normalize`, so a
match never depends on how a word was typed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

_APOSTROPHES = "'’ʼ`´‘"
_CYRILLIC_APOSTROPHE = re.compile(rf"(?<=[\u0400-\u04ff])[{_APOSTROPHES}](?=[\u0400-\u04ff])")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
# Control and format characters (but not the joiners some scripts need inside words).
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def ascii_digits(text: str) -> str:
    """Digits of any script (٣٥, ৩৫, ３５) become ASCII digits; the rest is unchanged."""
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and unicodedata.decimal(ch, None) is not None else ch
        for ch in text
    )


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower-case words separated by single spaces: no accents, punctuation or symbols.

    Apostrophes inside Ukrainian words (дев'ять) are dropped; elsewhere (dall'Ucraina) they
    separate words.
    """
    text = unicodedata.normalize("NFKC", text)
    text = ascii_digits(text)
    text = _CYRILLIC_APOSTROPHE.sub("", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(
        ch for ch in text
        if not unicodedata.combining(ch) and unicodedata.category(ch) not in _INVISIBLE
    )
    text = unicodedata.normalize("NFC", text)
    text = _HAN.sub(r" \1 ", text)  # Chinese has no spaces: each character is a word here
    return " ".join(_NOT_WORD.sub(" ", text).replace("_", " ").split())


@lru_cache(maxsize=65536)
def latin(text: str) -> str:
    """`normalize`, then transliterated to Latin letters: Монца -> montsa, منزا -> mnza."""
    return " ".join(_NOT_WORD.sub(" ", anyascii(normalize(text)).lower()).split())


def clean_user_text(text: str, limit: int = 1000) -> str:
    """A user's message made safe to keep and to echo: no control characters, bounded length."""
    text = "".join(
        ch if unicodedata.category(ch) not in _INVISIBLE or ch in "\u200c\u200d" else " "
        for ch in text
    )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
