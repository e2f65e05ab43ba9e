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
3. a name written in another script, by how it sounds (`sounds.py`: "سيستو سان جيوفاني",
   "ব্রেসোতে", "в Монце"), the cooperative's comuni first, then the names GeoNames gives large
   cities elsewhere ("Рим", "普拉托"), these only after a word for "in" or as the whole answer;
4. a fuzzy match (rapidfuzz) of the message or its words against names and first words,
   with a high cut-off, so "Cinisselo" finds Cinisello Balsamo but "Bergamo" — itself an
   exact name — is never pulled to a covered comune; a short form inside a longer message
   ("ne Cologno") is the covered comune of that name, alone ("Paderno") a choice;
5. a city elsewhere in Italy named after "in", "a", "to" ("sono a Roma", "moved to Turin").

Ages come from `numbers.py` (number words of every language, one grammar) and the words
around them; needs from the phrases of knowledge/words/; the language from scripts, letters
and frequent words, also of languages not spoken yet, so they can be named honestly.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from bot.i18n import Language
from bot.knowledge import Comune, KnowledgeBase
from bot.text import CACHED_WORD, latin, normalize
from bot.understanding.numbers import NumberReader
from bot.understanding.scripts import script_of
from bot.understanding.sounds import LATIN_PLACE_WORDS, PLACE_AFTER, PLACE_WORDS, Sounds, foreign_key
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
class AgeReading:
    """The numbers of one message: ages said as ages ("9 anni", "I'm 24"), bare numbers (ages
    only when the bot asked for the age), and whether the message is numbers and nothing else."""

    said: tuple[int, ...] = ()
    bare: tuple[int, ...] = ()
    only_numbers: bool = False

    def ages(self, expecting: bool) -> list[int]:
        return list(self.said) if self.said or not expecting else list(self.bare)


NO_AGES = AgeReading()


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
        # Languages with a catalog; the others are recognised to say they are not spoken yet.
        self._shipped = frozenset(lang.code for lang in self.languages if lang.spoken)
        # Per script: its languages, and which of them a word or a letter points to.
        self._scripts: dict[str, tuple[list[str], dict[str, list[str]], dict[str, list[str]]]] = {}
        for lang in self.languages:
            codes, word_index, letter_index = self._scripts.setdefault(lang.script, ([], {}, {}))
            codes.append(lang.code)
            for word in lang.words:
                word_index.setdefault(word, []).append(lang.code)
            for letter in set(lang.letters):
                letter_index.setdefault(letter, []).append(lang.code)
        for lang in self.languages:  # Roman Urdu, Arabizi...: Latin letters, another language
            if lang.latin_words:
                codes, word_index, _ = self._scripts.setdefault("latin", ([], {}, {}))
                if lang.code not in codes:
                    codes.append(lang.code)
                for word in lang.latin_words:
                    word_index.setdefault(word, []).append(lang.code)
        # Italian words families mix into their own language: no sign of Italian by themselves.
        self._italian_loans = frozenset(w for by_lang in vocabulary.needs.values()
                                        for w in by_lang.get("it", ()) if " " not in w)
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
        self._place_latin = frozenset(latin(w) for w in PLACE_WORDS) | LATIN_PLACE_WORDS
        self._place_parts = frozenset(w for k in self._exact for w in k.split()
                                      if len(w) >= 4 and w not in self._common)
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
        here, far = self._sound_names(kb)
        self._sounds, self._sounds_far = Sounds(here), Sounds(far, fuzzy=False)
        self._needs = _Vocabulary({n: vocabulary.needs.get(n, {}) for n in kb.needs})
        self._safety = _Vocabulary({t: vocabulary.safety.get(t, {}) for t in kb.safety or {}})
        self._person = _Vocabulary({"person": vocabulary.person})
        self._year_words = sorted({w for ws in vocabulary.years.values() for w in ws}, key=len, reverse=True)
        self._month_words = sorted({w for ws in vocabulary.months.values() for w in ws}, key=len, reverse=True)
        self._units = {**{w: "years" for w in self._year_words}, **{w: "months" for w in self._month_words}}
        self._unit_lengths = sorted({len(w.split()) for w in self._units}, reverse=True)
        context = {kind: {w for ws in by_lang.values() for w in ws} for kind, by_lang in vocabulary.age_context.items()}
        self._before = context.get("before", set())
        self._since = context.get("since", set())
        self._since_after = context.get("since_after", set())
        self._children = context.get("children", set())
        self._between = context.get("between", set()) | {j for n in vocabulary.numbers.values() for j in n.joiners}
        self._reader = NumberReader(vocabulary.numbers)

    # ------------------------------------------------------------------ comune

    @staticmethod
    def _sound_names(kb: KnowledgeBase) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """Names worth matching by sound: the covered comuni (and their own first word, "Cinisello");
        then, apart, the names in other scripts GeoNames gives large cities elsewhere ("Неаполь")."""
        names: dict[str, set[str]] = defaultdict(set)
        far: dict[str, set[str]] = defaultdict(set)
        firsts: dict[str, set[str]] = defaultdict(set)
        for code in kb.covered:
            comune = kb.comuni[code]
            for name in (comune.name, *comune.aliases, *kb.extra_aliases.get(code, ())):
                names[name].add(code)
            words = comune.name.replace("-", " ").split()
            if len(words) > 1 and len(words[0]) >= 5:
                firsts[words[0]].add(code)
        for first, codes in firsts.items():
            if len(codes) == 1:
                names[first] |= codes
        others = [c for c in kb.comuni.values() if c.istat not in kb.covered]
        for comune in (*kb.elsewhere.values(), *others):
            for name in comune.aliases:
                if not name.isascii():
                    far[name].add(comune.istat)
        return names, far

    def _latin_by_sound(self, words: list[str]) -> set[str]:
        """A comune's name as another language spells it in Latin letters ("v Monce", "ab
        Novate"): by sound, exactly, right after a word for "in", long enough to be sure."""
        for i, word in enumerate(words[1:], start=1):
            if words[i - 1] in self._place_latin and 4 <= len(word) <= CACHED_WORD and word not in self._common:
                key = foreign_key(word, "cyrillic")
                codes = self._sounds.keys["cyrillic"].get(key)
                if codes and len(key) >= 4 and self._sounds.width["cyrillic"].get(key, 0) >= 1:
                    return set(codes)
        return set()

    def _comune_or_elsewhere(self, codes: set[str]) -> ComuneMatch:
        here = {c for c in codes if c in self.kb.comuni}
        if here:
            return self._result(here)
        far = sorted(c for c in codes if c in self.kb.elsewhere)
        return ComuneMatch("found", (self.kb.elsewhere[far[0]],)) if len(far) == 1 else ComuneMatch("none")

    def _by_sound(self, text: str, expecting: bool) -> ComuneMatch:
        """A name written in another script ("سيستو سان جيوفاني", "ব্রেসোতে", "в Монце"), by sound."""
        tokens = normalize(text).split()[:60]
        if text.isascii():  # Latin letters only: just "v Monce", "ab Novate"
            hit = self._latin_by_sound(tokens)
            return self._comune_or_elsewhere(hit) if hit else ComuneMatch("none")
        runs: list[tuple[str, list[str]]] = []
        for token in tokens:
            # No name is longer than a cached word: a longer run of letters (pasted text) breaks
            # the groups, and is never remembered by the word caches of sounds.py.
            long_word = len(token) > CACHED_WORD
            script = "other" if long_word else script_of([ch for ch in token if ch.isalpha()] or ["?"])
            if runs and runs[-1][0] == script:
                runs[-1][1].append(token)
            else:
                runs.append((script, [token]))
        whole = expecting and len(runs) == 1
        for sounds in (self._sounds, self._sounds_far):  # the cooperative's comuni first
            best: tuple[int, float, set[str]] = (0, 0.0, set())
            for script, words in runs:
                if script == "latin" and sounds is self._sounds:
                    latin_hit = self._latin_by_sound(words)  # "ya v Monce": Russian in Latin letters
                    if latin_hit:
                        return self._comune_or_elsewhere(latin_hit)
                if script in ("latin", "other"):
                    continue
                if script == "han" and sounds is self._sounds_far:
                    continue  # Chinese names elsewhere are GeoNames' own ("那不勒斯"): matched exactly
                longest = 8 if script == "han" else 4 if sounds is self._sounds else 1
                # Words no name's key can start with ("ہم", "থাকি") start no group: most words.
                starts = {i for i, w in enumerate(words) if sounds.may_start(w, script)}
                for start, end, _gram in _ngrams(words, longest):
                    if start not in starts:
                        continue
                    # Chinese: one token per character; a name starts the message or follows
                    # 在/住/到 ("我住在蒙扎"), and has three characters or more.
                    if script == "han" and (end - start < 3 or (start > 0 and words[start - 1] not in PLACE_WORDS)):
                        continue
                    marked = ((start > 0 and words[start - 1] in PLACE_WORDS)
                              or (end < len(words) and words[end] in PLACE_AFTER))
                    loose = whole and end - start == len(words)  # the whole answer, nothing else
                    codes, score = sounds.find(words[start:end], script, loose=loose, marked=marked)
                    if codes and (end - start, score) > best[:2]:
                        best = (end - start, score, codes)
            if best[2]:
                return self._comune_or_elsewhere(best[2])
        return ComuneMatch("none")

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
            return self._result(self._first_word[query])  # "Paderno" alone: one tap to say which
        if query in self._elsewhere and query not in self._common and (expecting or len(query) >= 5):
            return ComuneMatch("found", (self._elsewhere[query],))  # "Torino": far away
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
        sounded = self._by_sound(text, expecting)
        if sounded.kind != "none":
            return sounded
        # Only a first word shared by several names ("Sesto"): a misspelt full name
        # ("Sesto San Giovani") may still say which; if not, the short form decides.
        fuzzy = self._fuzzy(query, tokens, expecting)
        if fuzzy.kind == "found" or (fuzzy.kind == "suggested" and not taken):
            return fuzzy
        if taken:  # "ne Cologno": the short form, rather than a guess at the whole answer
            return self._short_form(taken[0][2])
        far = self._elsewhere_in(tokens)
        return far or fuzzy

    def _short_form(self, codes: set[str]) -> ComuneMatch:
        """A first word shared by several comuni, inside a longer message ("ne Cologno", "abito
        a Paderno, 9 anni"): the one where the cooperative works, if it is the only one (a family
        writing here lives nearby, and the reply says "Ho capito: Cologno Monzese", so a wrong
        guess is seen at once); else the user chooses. Alone ("Paderno") it is always a choice."""
        covered = codes & self.kb.covered
        return self._result(covered if len(covered) == 1 else codes)

    def _elsewhere_in(self, tokens: list[str]) -> ComuneMatch | None:
        """A city elsewhere in Italy named after "in", "a", "to"... ("sono a Roma", "moved to
        Turin", "我住在Prato"): far away, so the family hears it is outside the area."""
        for start, _end, gram in _ngrams(tokens, 4):
            if (start > 0 and tokens[start - 1] in self._place_latin and gram in self._elsewhere
                    and len(gram) >= 4 and gram not in self._common):
                return ComuneMatch("found", (self._elsewhere[gram],))
        return None

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
        found = ComuneMatch("none")
        for n in (3, 2, 1):  # "sesto san giovani" before "sesto"
            grams = [g for s, e, g in _ngrams(tokens, n) if e - s == n and len(g) >= 5 and g not in self._common]
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

    def _unit_at(self, tokens: list[str], i: int) -> str | None:
        """'years' or 'months' when an age unit starts at tokens[i] ("anni", "years old", "de ani")."""
        for n in self._unit_lengths:
            unit = self._units.get(" ".join(tokens[i : i + n]))
            if unit:
                return unit
        return None

    def _ends_with(self, tokens: list[str], end: int, phrases: set[str]) -> bool:
        """Whether tokens[:end] ends with one of `phrases` ("i m" before "24")."""
        return any(" ".join(tokens[max(0, end - n) : end]) in phrases for n in (1, 2, 3) if end - n >= 0)

    def find_ages(self, text: str, *, expecting: bool = False) -> list[int]:
        """Every age a message gives, in its order: "tre figli di 4, 9 e 15 anni" -> [4, 9, 15]
        (`read_ages`; `expecting`: the bot has just asked for the age, so bare numbers count)."""
        return self.read_ages(text).ages(expecting)

    def read_ages(self, text: str, *, norm: str | None = None) -> AgeReading:
        """The numbers of a message, read once: which are ages, which only bare numbers.

        A number is an age when its unit follows it ("9 anni", "6 months" -> 0) or comes first
        (Sinhala "අවුරුදු 8"); when it stands in a list with such an age ("4, 9 e 15 anni"); when
        an age phrase comes before it ("I'm 24", "my son is 9"); or after a word for children
        ("two kids, 6 and 11": the two is how many). When the bot has just asked for the age, a
        bare number is one too. Never an age: a duration ("da 12 anni", "for 10 years"), a number
        nobody's age can be (over MAX_AGE: "150", a year, a phone number).
        """
        tokens = (normalize(text) if norm is None else norm).split()
        if len(tokens) > 200:  # a pasted text: its start
            tokens = tokens[:200]
        found = self._reader.numbers(tokens)
        kinds: list[str | None] = []  # per number: "years", "months", "count", "not", or None (bare)
        for start, end, value, weak in found:
            one = value == 1 and not tokens[start].isdigit()  # "uno di 6 anni": one of them
            if (start > 0 and self._ends_with(tokens, start, self._since)) or self._duration_after(tokens, end):
                kinds.append("not")  # da 12 anni, 10 ans de résidence: how long, not how old
            elif (unit := self._unit_at(tokens, end)) or (start > 0 and (unit := self._unit_at_end(tokens, start))):
                kinds.append(unit)
            elif end < len(tokens) and self._ends_with(tokens, end + 1, self._children):
                kinds.append("count")  # due figli
            elif weak or one:
                kinds.append("weak")  # "o", "un", "uno": a number only as the whole answer
            elif start > 0 and (self._ends_with(tokens, start, self._before)
                                or self._ends_with(tokens, start, self._children)):
                kinds.append("years")
            else:
                kinds.append(None)
        # A bare number in a list with an age is an age too: "4, 9 e 15 anni", "6 anni e 11".
        for _ in range(2):
            for k in range(len(found)):
                if kinds[k] is not None:
                    continue
                for other in (k - 1, k + 1):
                    if 0 <= other < len(found) and kinds[other] in ("years", "months"):
                        left, right = sorted((k, other))
                        gap = tokens[found[left][1] : found[right][0]]
                        if all(t in self._between for t in gap):
                            kinds[k] = "years"
                            break
        if not found:
            return NO_AGES
        said = [0 if kind == "months" else value for (_s, _e, value, _w), kind in zip(found, kinds, strict=True)
                if kind in ("years", "months")]
        plain = (None, "weak") if len(tokens) == 1 else (None,)
        bare = [value for (_s, _e, value, _w), kind in zip(found, kinds, strict=True) if kind in plain]
        covered = sum(end - start for start, end, _v, weak in found if not weak)
        between = sum(1 for t in tokens if t in self._between)
        only = len(tokens) <= 12 and covered + between >= len(tokens)
        return AgeReading(tuple(a for a in said if a <= MAX_AGE), tuple(a for a in bare if a <= MAX_AGE), only)

    def _duration_after(self, tokens: list[str], end: int) -> bool:
        """After the number (and its unit), words that make it a duration ("10 ans DE RESIDENCE")."""
        if not self._since_after:
            return False
        skip = next((n for n in self._unit_lengths if " ".join(tokens[end : end + n]) in self._units), 0)
        after = tokens[end + skip : end + skip + 3]
        return any(" ".join(after[:n]) in self._since_after for n in (1, 2, 3))

    def _unit_at_end(self, tokens: list[str], start: int) -> str | None:
        """A unit just before the number (Sinhala "අවුරුදු 8"), unless it is the unit of the
        number before it ("五岁一个八岁": the 岁 is five's)."""
        for n in self._unit_lengths:
            if start - n >= 0 and (unit := self._units.get(" ".join(tokens[start - n : start]))):
                before = tokens[start - n - 1] if start - n > 0 else ""
                if before and (before.isdigit() or self._reader.first.get(before)):
                    return None
                return unit
        return None

    def age_group(self, years: int) -> str | None:
        return self.kb.age_group(years)

    # ------------------------------------------------------------------ need

    def find_needs(self, text: str, *, expecting: bool = False, norm: str | None = None) -> list[str]:
        """The needs a message names, strongest first: "mio figlio non va a scuola" -> school.

        Misspelt keywords ("scula") are looked for only when the bot has asked for the need.
        """
        return self._needs.find(normalize(text) if norm is None else norm, fuzzy=expecting)

    def wants_person(self, text: str, *, norm: str | None = None) -> bool:
        """The message asks for a person of the cooperative ("voglio parlare con qualcuno")."""
        return bool(self._person.find(normalize(text) if norm is None else norm, fuzzy=False))

    def find_safety(self, text: str, *, norm: str | None = None) -> list[str]:
        """Safety topics a message speaks of ("mio marito mi picchia" -> violence), strongest first."""
        return self._safety.find(normalize(text) if norm is None else norm, fuzzy=False)

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

    def detect_language(self, text: str, current: str | None = None) -> str | None:
        """The language a message is written in, or None when unsure.

        Script first (Cyrillic, Arabic, Ethiopic...); between languages sharing a script, their
        own letters (і ї є ґ for Ukrainian) and their frequent words, also as typed in Latin
        letters (Roman Urdu "mujhe madad chahiye", Arabizi "bghit nkhdem"). Place names and the
        Italian words families mix in ("permesso", "scuola") are nobody's evidence.
        With `current` (the conversation already has a language), another one is taken only
        when the whole message clearly is in it: several words of it, and twice the evidence of
        the current one.
        """
        if current is not None and len(text.split()) < 2 and (text.isascii() or len(text) < 4):
            return None  # one word ("Milano", "documenti") never makes a whole message another language
        norm = normalize(text)
        letters = [ch for ch in norm if ch.isalpha()]
        if len(letters) < 2:
            return None
        script = script_of(letters)
        candidates = self._scripts.get(script)
        if not candidates:
            return None
        codes, word_index, letter_index = candidates
        tokens = [t for t in norm.split() if not self._is_place_word(t)]
        if len(codes) == 1 and (script != "latin" or current is None):
            return codes[0] if tokens or current is None else None
        raw = text.casefold()
        scores = dict.fromkeys(codes, 0)
        # A letter only this language uses weighs more than a frequent word.
        for ch in set(raw) & letter_index.keys():
            for code in letter_index[ch]:
                scores[code] += 3 * raw.count(ch)
        for token in tokens:
            for code in word_index.get(token, ()):
                if code == "it" and token in self._italian_loans and current not in (None, "it"):
                    continue
                scores[code] += 1
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best_code, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else 0
        shipped = [c for c in codes if c in self._shipped]
        if best == 0 and len(shipped) == 1 and script != "latin":
            return shipped[0] if current is None or current == shipped[0] else None  # Ge'ez: Tigrinya
        if current is not None and current != best_code:
            mine = scores.get(current, 0)
            if best >= 2 and best >= 2 * max(mine, second if second else 0) and best > mine:
                return best_code
            return None
        if best >= 1 and best > second and (second == 0 or best >= 1.5 * second):
            return best_code
        return None

    def _is_place_word(self, token: str) -> bool:
        """A word of a comune's name ("monza", "sesto"): no language's evidence."""
        key = token if token.isascii() else latin(token)  # normalised ASCII is already its Latin form
        return key in self._exact or key in self._first_word or key in self._place_parts


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
