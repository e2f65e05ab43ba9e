"""What a free-text message says: the comune, the age, the need, Milan's Municipio, the language.

Families answer in their own words, in their own script, often with typos: "abito a Bresso,
mio figlio ha 9 anni", "Cinisselo", "Монца", "٣٥". This module turns such text into slot
values, and nothing else: it has no idea of the conversation. It is built once per
knowledge base (indexes over the 1,502 comuni of Lombardy) and then answers in well under a
millisecond, so the dialog can call it on every message.

Comune resolution, in order of trust:
1. an exact name or alias (accents, case, punctuation and script do not matter: every name
   and every message is transliterated to Latin letters), the longest found in the message;
2. the first word of several names ("Paderno", "Sesto"): ambiguous, the user chooses;
3. a fuzzy match (rapidfuzz) of the message or its words against names and first words,
   with a high cut-off, so "Cinisselo" finds Cinisello Balsamo but "Bergamo" — itself an
   exact name — is never pulled to a covered comune.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from rapidfuzz import fuzz, process

from bot.i18n import Language
from bot.knowledge import Comune, KnowledgeBase
from bot.text import latin, normalize
from bot.understanding.words import Words

_SAINT = re.compile(r"\b(san|santo|santa|sant|s)\b")
FUZZY_CUTOFF = 82.0  # the whole message, when the bot asked for the comune
FUZZY_CUTOFF_IN_SENTENCE = 88.0  # a few words inside a longer message
NEAR_KM = 8.0  # farther than this from every comune centre: not in Lombardy
MAX_CHOICES = 6  # more candidates than this: ask for the full name instead


def _sure_score(query: str) -> float:
    """How close a typo must be to be taken without asking: short words need more."""
    return 92.0 if len(query) < 8 else 88.0


@dataclass(frozen=True)
class ComuneMatch:
    """The outcome of looking for a comune: one, a short choice, too many, or none."""

    kind: Literal["found", "ambiguous", "suggested", "too-many", "none"]
    comuni: tuple[Comune, ...] = ()

    @property
    def comune(self) -> Comune:
        return self.comuni[0]


def _name_variants(name: str) -> set[str]:
    """A name and its usual short forms: 'Sesto San Giovanni' -> also 'sesto s giovanni'."""
    base = latin(name)
    out = {base, base.replace(" ", "")}
    if _SAINT.search(base):
        out.add(_SAINT.sub("s", base))
        out.add(_SAINT.sub("s", base).replace(" ", ""))
    return {v for v in out if v}


def _ngrams(tokens: list[str], longest: int) -> Iterable[tuple[int, int, str]]:
    for n in range(min(longest, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            yield i, i + n, " ".join(tokens[i : i + n])


class Understanding:
    """Indexes over one knowledge base, answering what a message says."""

    def __init__(self, kb: KnowledgeBase, vocabulary: Words, languages: Iterable[Language] = ()):
        self.kb = kb
        self.languages = tuple(languages)
        # Per script: its languages, and which of them a word or a letter points to.
        self._scripts: dict[str, tuple[list[str], dict[str, list[str]], dict[str, list[str]]]] = {}
        for lang in self.languages:
            codes, word_index, letter_index = self._scripts.setdefault(lang.script, ([], {}, {}))
            codes.append(lang.code)
            for word in lang.words:
                word_index.setdefault(word, []).append(lang.code)
            for letter in set(lang.letters):
                letter_index.setdefault(letter, []).append(lang.code)
        self._exact: dict[str, set[str]] = defaultdict(set)
        self._first_word: dict[str, set[str]] = defaultdict(set)
        for comune in kb.comuni.values():
            names = [comune.name, *comune.aliases, *kb.extra_aliases.get(comune.istat, ())]
            for name in names:
                for variant in _name_variants(name):
                    self._exact[variant].add(comune.istat)
            words = latin(comune.name).split()
            if len(words) > 1 and len(words[0]) > 3:
                self._first_word[words[0]].add(comune.istat)
        # Elsewhere in Italy: exact names only, looked up when nothing in Lombardy fits.
        self._elsewhere: dict[str, Comune] = {}
        for comune in kb.elsewhere.values():
            for name in (comune.name, *comune.aliases):
                for variant in _name_variants(name):
                    self._elsewhere.setdefault(variant, comune)
        self._common = frozenset(latin(w) for w in kb.common_words)
        self._longest = max(len(k.split()) for k in self._exact)
        # Fuzzy candidates: names and first words, at least 4 letters long, that are not
        # everyday words ("hello" must not become Ello).
        self._fuzzy_keys: list[str] = [k for k in self._exact if len(k) >= 4 and k not in self._common]
        self._fuzzy_keys += [w for w in self._first_word if w not in self._exact and w not in self._common]
        # Inside a sentence, only typos of the cooperative's own comuni are worth the risk:
        # "ho trovato lavoro" must not become Rovato.
        self._by_length: dict[tuple[int, float, bool], list[str]] = {}
        self._fuzzy_keys_covered = [
            k for k in self._fuzzy_keys
            if (self._exact.get(k) or self._first_word.get(k, set())) & kb.covered
        ]
        self._needs = _Vocabulary({n: vocabulary.needs.get(n, {}) for n in kb.needs})
        self._safety = _Vocabulary({t: vocabulary.safety.get(t, {}) for t in kb.safety or {}})
        self._year_words = sorted({w for ws in vocabulary.years.values() for w in ws}, key=len, reverse=True)
        self._month_words = sorted({w for ws in vocabulary.months.values() for w in ws}, key=len, reverse=True)
        units = "|".join(re.escape(w) for w in self._year_words + self._month_words)
        self._age_pattern = re.compile(rf"(?<!\d)(\d{{1,3}}) ?({units})\b")
        self._number_words: dict[str, int] = {}
        self._tens: dict[str, int] = {}
        self._joiners: set[str] = set()
        for number_words in vocabulary.numbers.values():
            self._number_words.update(number_words.units)
            self._tens.update(number_words.tens)
            self._joiners.update(number_words.joiners)
        self._tens_values = frozenset(self._tens.values())
        # Compounds written as one word: trentacinque, ventuno (vent + uno).
        self._all_number_words = {**self._number_words, **self._tens}
        for ten, tens_value in self._tens.items():
            for unit, unit_value in self._number_words.items():
                if 0 < unit_value < 10:
                    self._all_number_words.setdefault(ten + unit, tens_value + unit_value)

    # ------------------------------------------------------------------ comune

    def is_covered(self, comune: Comune) -> bool:
        return comune.istat in self.kb.covered

    def _comuni(self, codes: Iterable[str]) -> tuple[Comune, ...]:
        found = [self.kb.comuni[c] for c in codes]
        return tuple(sorted(found, key=lambda c: (not self.is_covered(c), c.name)))

    def _result(self, codes: set[str]) -> ComuneMatch:
        if len(codes) == 1:
            return ComuneMatch("found", self._comuni(codes))
        if len(codes) > MAX_CHOICES:
            return ComuneMatch("too-many", self._comuni(codes)[:MAX_CHOICES])
        return ComuneMatch("ambiguous", self._comuni(codes))

    def find_comune(self, text: str, *, expecting: bool = False) -> ComuneMatch:
        """The comune named in `text`; `expecting` when the bot has just asked for it.

        When the bot asked, the whole message is likely a name and is matched more freely
        (fuzzy, first words, everyday words); inside any other sentence only clear names count.
        """
        query = latin(text)
        if not query:
            return ComuneMatch("none")
        if query in self._exact:
            return self._result(self._exact[query])
        if query in self._first_word and (expecting or query not in self._common):
            return self._result(self._first_word[query])
        if expecting and query in self._elsewhere and query not in self._common:  # "Torino": far away
            return ComuneMatch("found", (self._elsewhere[query],))
        tokens = query.split()
        if len(tokens) > 60:  # a pasted text: look at its start only
            tokens = tokens[:60]
        taken: list[tuple[int, int, set[str]]] = []
        for start, end, gram in _ngrams(tokens, self._longest):
            if any(start < e and s < end for s, e, _ in taken):
                continue
            single = end - start == 1
            if len(gram) < 3 or (single and gram in self._common):
                continue
            if gram in self._exact:
                taken.append((start, end, self._exact[gram]))
            elif single and gram in self._first_word:
                taken.append((start, end, self._first_word[gram]))
        names = [t for t in taken if len(t[2]) == 1 or t[1] - t[0] > 1]
        if names:
            # The longest name wins ("Sesto San Giovanni" over "Sesto"); then the first.
            best = max(names, key=lambda t: (t[1] - t[0], -t[0]))
            return self._result(best[2])
        # Only a first word shared by several names ("Sesto"): a misspelt full name
        # ("Sesto San Dzhovanni") may still say which; if not, the user chooses.
        fuzzy = self._fuzzy(query, tokens, expecting)
        if fuzzy.kind in ("found", "suggested") or not taken:
            return fuzzy
        return self._result(taken[0][2])

    def _fuzzy(self, query: str, tokens: list[str], expecting: bool) -> ComuneMatch:
        """Typos: the whole answer first (when the bot asked), then groups of 1-3 words.

        A close but not certain answer ("Bressp", "Сесто Сан Джованні") is only suggested:
        the user confirms with one tap, so a greeting is never taken for a far-away place.
        """
        whole_answer = expecting and len(tokens) <= 4 and query not in self._common
        if whole_answer:
            whole, score = self._best([query], FUZZY_CUTOFF)
            if whole.kind != "none" and score >= _sure_score(query):
                return whole
        grams = [g for _, _, g in _ngrams(tokens, 3) if len(g) >= 5 and g not in self._common]
        found = ComuneMatch("none")
        if grams:
            found, _ = self._best(grams, FUZZY_CUTOFF_IN_SENTENCE, covered=True)
            if found.kind == "found":
                return found
        if whole_answer and whole.kind != "none":
            return ComuneMatch("suggested", whole.comuni)
        return found

    def _candidates(self, length: int, cutoff: float, covered: bool) -> list[str]:
        """Keys long enough and short enough to reach `cutoff` with a query of this length.

        fuzz.ratio is 2·matches/(len(a)+len(b)), so a key much shorter or longer than the
        query cannot reach the cut-off: skipping them makes typo matching several times faster.
        """
        cache_key = (length, cutoff, covered)
        if cache_key not in self._by_length:
            c = cutoff / 100
            low, high = c * length / (2 - c), length * (2 - c) / c
            keys = self._fuzzy_keys_covered if covered else self._fuzzy_keys
            self._by_length[cache_key] = [k for k in keys if low <= len(k) <= high]
        return self._by_length[cache_key]

    def _best(self, queries: list[str], cutoff: float, covered: bool = False) -> tuple[ComuneMatch, float]:
        best_score, best_keys = 0.0, set()
        for query in queries:
            keys = self._candidates(len(query), cutoff, covered)
            if not keys:
                continue
            hits = process.extract(query, keys, scorer=fuzz.ratio, score_cutoff=max(cutoff, best_score), limit=8)
            if not hits:
                continue
            score = float(hits[0][1])
            tied = {key for key, value, _ in hits if value == score}
            if score > best_score:
                best_score, best_keys = score, tied
            else:
                best_keys |= tied
        if not best_keys:
            return ComuneMatch("none"), 0.0
        codes: set[str] = set()
        for key in best_keys:
            codes |= self._exact.get(key) or self._first_word.get(key, set())
        return self._result(codes), best_score

    def nearest_comune(self, lat: float, lon: float) -> Comune | None:
        """The comune whose centre is nearest a shared location, if within NEAR_KM of it.

        Centres come from GeoNames (gazetteer/CREDITS.md); a point farther than that from
        every centre in Lombardy is outside the area.
        """
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        best, best_km = None, NEAR_KM
        cos_lat = math.cos(math.radians(lat))
        for comune in self.kb.comuni.values():
            if comune.lat is None or comune.lon is None:
                continue
            km = 111.2 * math.hypot(comune.lat - lat, (comune.lon - lon) * cos_lat)
            if km < best_km:
                best, best_km = comune, km
        return best

    # ------------------------------------------------------------------ age

    def _word_number(self, token: str) -> int | None:
        return self._all_number_words.get(token)

    def _numbers(self, norm: str) -> list[tuple[int, int]]:
        """(position, value) of every number in the text, digits or words ("thirty five")."""
        out: list[tuple[int, int]] = []
        tokens = norm.split()
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.isascii() and tok.isdigit() and len(tok) <= 3:
                out.append((i, int(tok)))
                i += 1
                continue
            # A number word may span two words ("thirty five" is two, "十九" is two characters).
            value, width = self._word_number(" ".join(tokens[i : i + 2])), 2
            if value is None:
                value, width = self._word_number(tok), 1
            if value is None:
                i += 1
                continue
            if (value in self._tens_values and i + width + 1 < len(tokens)
                    and tokens[i + width] in self._joiners):
                unit = self._word_number(tokens[i + width + 1])
                if unit is not None and unit < 10:  # "njëzet e pesë": twenty and five
                    value += unit
                    width += 2
            nxt = self._word_number(tokens[i + width]) if i + width < len(tokens) else None
            tens = self._tens_values
            if nxt is not None and ((value in tens and nxt < 10) or (value < 10 and nxt in tens)):
                value += nxt  # "thirty five"; Arabic says the unit first: "خمسة وثلاثين"
                width += 1
            out.append((i + width - 1, value))
            i += width
        return out

    def find_age(self, text: str, *, expecting: bool = False) -> int | None:
        """Age in years: '9 anni', 'nove anni', '٣٥', '6 months' (-> 0).

        Inside a sentence a number needs its unit (anni, years, років); when the bot has just
        asked for the age a bare number is enough. An age nobody has (over MAX_AGE: "150", a
        year "1990", a phone number) is not an age: the question is asked again.
        """
        years = self._find_age(text, expecting=expecting)
        return years if years is not None and years <= MAX_AGE else None

    def _find_age(self, text: str, *, expecting: bool) -> int | None:
        norm = normalize(text)
        if not norm:
            return None
        for match in self._age_pattern.finditer(norm):
            value, unit = int(match.group(1)), match.group(2)
            return 0 if unit in self._month_words else value
        numbers = self._numbers(norm)
        tokens = norm.split()
        for pos, value in numbers:
            if pos > 0 and tokens[pos - 1] in self._year_words:  # unit first: Sinhala "අවුරුදු 8"
                return value
            after = " ".join(tokens[pos + 1 : pos + 4])
            for unit in self._year_words:
                if after == unit or after.startswith(unit + " "):
                    return value
            for unit in self._month_words:
                if after == unit or after.startswith(unit + " "):
                    return 0
        if expecting and len(numbers) == 1:
            return numbers[0][1]
        return None

    def age_group(self, years: int) -> str | None:
        return self.kb.age_group(years)

    # ------------------------------------------------------------------ need

    def find_needs(self, text: str, *, expecting: bool = False) -> list[str]:
        """The needs a message names, strongest first: "mio figlio non va a scuola" -> school.

        Misspelt keywords ("scula") are looked for only when the bot has asked for the need.
        """
        return self._needs.find(normalize(text), fuzzy=expecting)

    def find_safety(self, text: str) -> list[str]:
        """Safety topics a message speaks of ("mio marito mi picchia" -> violence), strongest first."""
        return self._safety.find(normalize(text), fuzzy=False)

    # ------------------------------------------------------------------ municipio

    _MUNICIPIO = re.compile(r"\b(?:municipio|municipi|zona|mun|m)\s?(\d{1,2})\b")

    def find_municipio(self, text: str, *, expecting: bool = False) -> int | None:
        norm = normalize(text)
        match = self._MUNICIPIO.search(norm)
        if match:
            value = int(match.group(1))
        elif expecting and norm.isascii() and norm.isdigit() and len(norm) <= 2:
            value = int(norm)
        else:
            return None
        return value if value in self.kb.municipi else None

    # ------------------------------------------------------------------ language

    def detect_language(self, text: str) -> str | None:
        """The language a message is clearly written in, among the shipped ones, or None.

        Script first (Cyrillic, Arabic, ...); between languages sharing a script, their own
        letters (і ї є ґ for Ukrainian) and their frequent words. Unsure means None: the
        current language is kept.
        """
        norm = normalize(text)
        letters = [ch for ch in norm if ch.isalpha()]
        if len(letters) < 2:
            return None
        script = _script_of(letters)
        candidates = self._scripts.get(script)
        if not candidates:
            return None
        codes, word_index, letter_index = candidates
        if len(codes) == 1:
            return codes[0]
        raw = text.casefold()
        scores = dict.fromkeys(codes, 0)
        # A letter only this language uses weighs more than a frequent word.
        for ch in set(raw) & letter_index.keys():
            for code in letter_index[ch]:
                scores[code] += 3 * raw.count(ch)
        for token in norm.split():
            for code in word_index.get(token, ()):
                scores[code] += 1
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best, second = ranked[0][1], ranked[1][1]
        if best >= 1 and best > second and (second == 0 or best >= 1.5 * second):
            return ranked[0][0]
        return None


class _Vocabulary:
    """Words and phrases that name some ids (needs, safety topics), looked up in one pass.

    One-word keywords are looked up per token; a phrase is looked up by its first word and
    then searched in the text, and weighs as many points as it has words.
    """

    def __init__(self, keywords: Mapping[str, Mapping[str, tuple[str, ...]]]):
        self.order = list(keywords)
        self.words: dict[str, frozenset[str]] = {
            item: frozenset(w for words in by_lang.values() for w in words if w) for item, by_lang in keywords.items()
        }
        self.of_word: dict[str, set[str]] = defaultdict(set)
        phrases: dict[str, set[str]] = defaultdict(set)
        for item, words in self.words.items():
            for kw in words:
                (self.of_word[kw] if " " not in kw else phrases[f" {kw} "]).add(item)
        self.phrases: dict[str, list[tuple[str, frozenset[str], int]]] = defaultdict(list)
        for phrase, items in phrases.items():
            self.phrases[phrase.split()[0]].append((phrase, frozenset(items), len(phrase.split())))
        self.fuzzy_words = sorted({kw for kws in self.words.values() for kw in kws if " " not in kw and len(kw) >= 5})

    def find(self, norm: str, *, fuzzy: bool) -> list[str]:
        if not norm:
            return []
        padded = f" {norm} "
        scores: dict[str, int] = defaultdict(int)
        tokens = set(norm.split())
        for token in tokens:
            for item in self.of_word.get(token, ()):
                scores[item] += 1
            for phrase, items, weight in self.phrases.get(token, ()):
                if phrase in padded:
                    for item in items:
                        scores[item] += weight
        if not scores and fuzzy:
            for token in norm.split()[:60]:
                if len(token) < 5:
                    continue
                hit = process.extractOne(token, self.fuzzy_words, scorer=fuzz.ratio, score_cutoff=85)
                if hit:
                    for item, keywords in self.words.items():
                        if hit[0] in keywords:
                            scores[item] += 1
        return sorted(scores, key=lambda n: (-scores[n], self.order.index(n)))


MAX_AGE = 110

_SCRIPT_RANGES: Mapping[str, tuple[tuple[int, int], ...]] = {
    "cyrillic": ((0x0400, 0x052F),),
    "arabic": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "bengali": ((0x0980, 0x09FF),),
    "sinhala": ((0x0D80, 0x0DFF),),
    "ethiopic": ((0x1200, 0x139F),),
    "han": ((0x4E00, 0x9FFF), (0x3400, 0x4DBF)),
    "greek": ((0x0370, 0x03FF),),
}


@lru_cache(maxsize=4096)
def _script_of_char(ch: str) -> str:
    cp = ord(ch)
    for script, ranges in _SCRIPT_RANGES.items():
        if any(lo <= cp <= hi for lo, hi in ranges):
            return script
    return "latin" if ch.isascii() or 0x00C0 <= cp <= 0x024F else "other"


def _script_of(letters: list[str]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for ch in letters:
        counts[_script_of_char(ch)] += 1
    return max(counts, key=lambda s: counts[s])
