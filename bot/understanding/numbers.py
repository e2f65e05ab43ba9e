"""Numbers written out in words, in each language's own way: "trentacinque", "quatre-vingt-dix",
"خمسة و ثلاثون", "二十五", "one hundred and five".

Ages come as words as often as digits. Each language's words are data (`numbers:` in
`knowledge/words/<lang>.yaml`); how they add up is one small grammar, the same for all:

- a run of number words is read left to right, each word adding to the value or multiplying
  the unit before it ("quatre vingts" = 4 × 20, "二十" = 2 × 10, "one hundred" = 1 × 100);
- a word adds only where its place is free: a unit after a ten ("thirty five"), anything
  below a hundred after a hundred ("cento venti"); so "six and eleven" stays two numbers;
- where a language says so: a teen after 60 or 80 (French "soixante-dix"), or the unit before
  the ten (Arabic "خمسة و ثلاثون": five and thirty);
- the word between the parts ("and", "e", "و", "零") is skipped when a number follows;
- numbers glued into one word ("trentacinque", "ventotto", "centoventi", "veinticinco") are
  known in advance: every two- and three-part compound up to 120 of a language's own words.

`tests/test_numbers.py` checks every number 0-120 of every shipped language that `num2words`
also writes (and the languages it does not cover through their own examples).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

HIGHEST = 120  # numbers above this are not ages: compounds are not generated past it


@dataclass(frozen=True)
class NumberWords:
    """Number words of one language, as `knowledge/words/<lang>.yaml` gives them."""

    units: Mapping[str, int]  # any word that is a whole number by itself (0-19; Bengali 0-99)
    tens: Mapping[str, int]  # 10, 20 ... 90, and their glued or elided forms ("vent", "وثلاثون")
    joiners: tuple[str, ...] = ()  # words between the parts: "and", "e", "și", "و", "零"
    times: Mapping[str, int] = field(default_factory=dict)  # words that multiply a unit before them
    unit_first: bool = False  # "five and thirty" (Arabic)
    teens_after: tuple[int, ...] = ()  # tens a teen may follow: French 60 (soixante-dix), 80


@dataclass
class _Place:
    """A number being read: its value, the last part added, and whether more may follow."""

    value: int
    last: int
    done: bool = False


class LanguageNumbers:
    """The grammar above, over one language's words."""

    def __init__(self, words: NumberWords):
        self.words = words
        self.values: dict[str, int] = {**words.units, **words.tens}
        self.times = dict(words.times)
        self.joiners = frozenset(words.joiners)
        self.glued: dict[str, tuple[int, ...]] = self._compounds()

    def parts(self, token: str) -> tuple[int, ...] | None:
        """The values a word stands for: one, or several when glued ("trentacinque": 30, 5)."""
        if token in self.values:
            return (self.values[token],)
        if token in self.times:
            return (-self.times[token],)  # negative: multiplies
        return self.glued.get(token)

    def _step(self, place: _Place | None, part: int) -> _Place | None:
        """`place` with one more part, or None when the part does not belong to this number."""
        if place is None:
            return _Place(-part, -part) if part < 0 else _Place(part, part)
        if place.done:
            return None
        value, last = place.value, place.last
        if part < 0:  # "vingt", "十", "hundred": multiplies the unit just before it
            factor = -part
            before = value - last
            if 1 <= last <= 9 and (before == 0 or before >= factor * 10):
                return _Place(before + last * factor, last * factor)
            part = factor  # it cannot multiply here: its own value ("cent vingt": 100 + 20)
        if last >= 100 and last % 100 == 0 and part < 100 and value % 100 == 0:
            return _Place(value + part, part)  # cento venti, hundred and five
        if last % 10 == 0 and 10 <= last <= 90 and value % 10 == 0:
            if 1 <= part <= 9:
                return _Place(value + part, part)  # thirty five, 十五
            if 10 <= part <= 19 and last in self.words.teens_after:  # soixante-dix, quatre-vingt-onze
                return _Place(value + part, part, done=part != 10)  # dix may take a unit: dix-sept
        if self.words.unit_first and 1 <= last <= 9 and part % 10 == 0 and 10 <= part <= 90:
            return _Place(value + part, part, done=True)  # خمسة و ثلاثون, أحد عشر
        return None

    def read(self, tokens: list[str], start: int) -> tuple[int, int] | None:
        """The number that starts at tokens[start]: (value, how many tokens it spans), or None."""
        place: _Place | None = None
        i, end = start, start
        while i < len(tokens):
            j = i
            if place is not None and tokens[j] in self.joiners and j + 1 < len(tokens):
                j += 1  # "thirty AND five": the joiner counts only if the number goes on
            parts = self.parts(tokens[j])
            if parts is None:
                break
            if j > i and place is not None and place.value < 100 and (place.last == 10 or 10 in parts):
                break  # "ten and five", "ستة وعشرة": two numbers, not 15 and 16 ("hundred and ten" is one)
            trial = place
            for part in parts:
                trial = self._step(trial, part)
                if trial is None:
                    break
            if trial is None:
                break
            place, i, end = trial, j + 1, j + 1
        if place is None:
            return None
        return place.value, end - start

    def _compounds(self) -> dict[str, tuple[int, ...]]:
        """Every number of two or three parts up to HIGHEST written as one word, and its parts."""
        # Only where words are written in Latin letters: elsewhere compounds are separate words.
        pieces = [(w, (v,)) for w, v in self.values.items() if w.isascii()]
        pieces += [(w, (-v,)) for w, v in self.times.items() if w.isascii()]
        singles = {w for w, _ in pieces}
        out: dict[str, tuple[int, ...]] = {}

        def fits(parts: Iterable[int]) -> int | None:
            place = None
            for part in parts:
                place = self._step(place, part)
                if place is None:
                    return None
            return place.value if place and place.value <= HIGHEST else None

        # A compound starts with a ten or a hundred (trenta-cinque, cento-venti), or is a unit
        # times a hundred (një-qind, due-cento): the other pairs are never one word.
        hundreds = [(w, p) for w, p in pieces if p[0] < 0]
        heads = [(w, p, pieces) for w, p in pieces if p[0] < 0 or (p[0] % 10 == 0 and 10 <= p[0] <= 90)]
        heads += [(w, p, hundreds) for w, p in pieces if 1 <= p[0] <= 9]
        for w1, p1, seconds in heads:
            for w2, p2 in seconds:
                if fits(p1 + p2) is not None and w1 + w2 not in singles:
                    out.setdefault(w1 + w2, p1 + p2)
                    if p1[0] < 0 or p2[0] < 0:  # cento + venti + cinque, një + qind + e...
                        for w3, p3 in pieces:
                            if fits(p1 + p2 + p3) is not None:
                                out.setdefault(w1 + w2 + w3, p1 + p2 + p3)
        return out


class NumberReader:
    """Numbers in a message, in any shipped language: [(last token's position, value)]."""

    def __init__(self, languages: Mapping[str, NumberWords]):
        self.languages = [LanguageNumbers(words) for words in languages.values()]
        self.first: dict[str, list[LanguageNumbers]] = {}
        for lang in self.languages:
            for token in (*lang.values, *lang.times, *lang.glued):
                self.first.setdefault(token, []).append(lang)
        # Short Latin words that are numbers in one language and everyday words in others
        # ("o" is one in Romanian, "or" in Italian; "un"): numbers only next to a unit or another number.
        # Also 一 (one), inside everyday words: 一下, 一起, 一个.
        self.weak = frozenset(t for t in self.first if (len(t) <= 2 and t.isascii()) or t == "一")

    def numbers(self, tokens: list[str]) -> list[tuple[int, int, int, bool]]:
        """(first token, token after the last, value, weak) of every number, digits or words.

        `weak`: one short word that may be something else ("o", "un"): a number only beside a unit.
        """
        out: list[tuple[int, int, int, bool]] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.isascii() and tok.isdigit():
                if len(tok) <= 3:
                    out.append((i, i + 1, int(tok), False))
                i += 1
                continue
            best: tuple[int, int] | None = None
            for lang in self.first.get(tok, ()):
                found = lang.read(tokens, i)
                if found and (best is None or found[1] > best[1]):
                    best = found
            if best is None:
                i += 1
                continue
            out.append((i, i + best[1], best[0], best[1] == 1 and tok in self.weak))
            i += best[1]
        return out
