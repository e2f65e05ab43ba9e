"""Text normalisation shared by the knowledge loader and the understanding of messages.

Families type on cheap phones, in many scripts, with or without accents and capitals. Both
the data (comune names, keywords) and the messages go through the same `normalize`, so a
match never depends on how a word was typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from anyascii import anyascii

_APOSTROPHES = "'’ʼ`´‘"
_CYRILLIC_APOSTROPHE = re.compile(rf"(?<=[\u0400-\u04ff])[{_APOSTROPHES}](?=[\u0400-\u04ff])")
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_HAN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")
# Control and format characters (but not the joiners some scripts need inside words).
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _digit(ch: str) -> str:
    value = unicodedata.decimal(ch, None)
    if value is None:
        value = unicodedata.digit(ch, None)  # Ethiopic ፭, superscript ², circled ①: a digit, not a decimal
    return ch if value is None else str(value)


def ascii_digits(text: str) -> str:
    """Digits of any script (٣٥, ৩৫, ３５, Ethiopic ፭) become ASCII digits; the rest is unchanged.

    Anything else stays as it was, so that no later `int()` ever meets a character it cannot
    read: code that turns text into a number checks `isascii() and isdigit()` first.
    """
    if text.isascii():
        return text
    return "".join(ch if ch.isascii() else _digit(ch) for ch in text)


# Scripts whose vowel signs and viramas are part of the letters (Bengali, Sinhala, Devanagari
# and the other Brahmic scripts): their marks are kept. Elsewhere marks are accents and
# Arabic vowel points, which people type or leave out at will: they are dropped.
_KEEP_MARKS = ((0x0900, 0x0DFF), (0x1000, 0x109F), (0x1780, 0x17FF))
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")


def _keeps_marks(base: str) -> bool:
    cp = ord(base)
    return any(lo <= cp <= hi for lo, hi in _KEEP_MARKS)


CACHED_WORD = 32  # longer "words" (a pasted link, a run of letters) are not remembered


def normalize(text: str) -> str:
    """Lower-case words separated by single spaces: no accents, punctuation or symbols.

    Computed word by word, and only words are remembered (they come back in every message:
    "anni", "Bresso"): memory stays bounded and never holds a user's whole message.
    """
    return _by_word(text, _normalize_cached, _normalize)


def _by_word(text: str, cached: Callable[[str], str], work: Callable[[str], str]) -> str:
    """`work` applied to each word, through its cache for words short enough to be reused."""
    return " ".join(w for w in (cached(x) if len(x) <= CACHED_WORD else work(x) for x in text.split()) if w)


def _normalize(text: str) -> str:
    """The work of `normalize`.

    Apostrophes inside Ukrainian words (дев'ять) are dropped; elsewhere (dall'Ucraina) they
    separate words. Digits glued to letters are separated ("9anni", "8යි").
    """
    text = unicodedata.normalize("NFKC", text)
    text = ascii_digits(text)
    text = _CYRILLIC_APOSTROPHE.sub("", text)
    text = unicodedata.normalize("NFKD", text.casefold())
    out: list[str] = []
    base = " "
    for ch in text:
        category = unicodedata.category(ch)
        if category in _INVISIBLE:
            continue
        if category[0] == "M":
            if _keeps_marks(base):
                out.append(ch)
            continue
        base = ch
        out.append(ch if ch.isalnum() else " ")
    text = unicodedata.normalize("NFC", "".join(out))
    text = _HAN.sub(r" \1 ", text)  # Chinese has no spaces: each character is a word here
    text = _DIGIT_LETTER.sub(" ", text)
    return " ".join(text.split())


_normalize_cached = lru_cache(maxsize=32768)(_normalize)


def latin(text: str) -> str:
    """`normalize`, then transliterated to Latin letters: Монца -> montsa, منزا -> mnza."""
    return _by_word(normalize(text), _latin_cached, _latin)


def _latin(word: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", anyascii(word).lower()).split())


_latin_cached = lru_cache(maxsize=32768)(_latin)


def clean_user_text(text: str, limit: int = 1000) -> str:
    """A user's message made safe to keep and to echo: no control characters, bounded length."""
    text = "".join(
        ch if unicodedata.category(ch) not in _INVISIBLE or ch in "\u200c\u200d" else " "
        for ch in text
    )
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
