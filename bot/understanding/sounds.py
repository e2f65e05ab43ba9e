"""How an Italian place name sounds, written so that its spelling in another script meets it.

A family writes "سيستو سان جيوفاني", "মনজায়", "Чинизелло", "塞斯托圣乔瓦尼", "ቺኒዘሎ": nobody
wrote these forms into the gazetteer, and GeoNames has only a few. Both sides are turned into
a coarse key of how they sound: the Italian name through Italian spelling rules ("gi" before
a vowel and "ce" are one sibilant, "ch" is k, "gn" is n), the message through its Latin
transliteration (anyascii) and the habits of its script. Sounds that scripts write
differently fall into one class: every sibilant and affricate (s z ts dz ch sh j zh x) is
"s"; k g q c kh gh are "k"; b p f v are "b"; t d are "t". Vowels depend on the script:
Arabic letters write o/u as و and e/i as ي and leave a unseen, so the key keeps w and y;
Bengali and Chinese vowels are too unreliable and are dropped; Cyrillic, Ethiopic and
Sinhala write vowels as they sound, so the key keeps them, coarsely.

`Sounds` holds the keys of the places worth this effort (the comuni where the cooperative
works, and the large cities that have a name in other scripts) and finds the closest key.
Endings that scripts glue to a name ("ব্রেসোতে": in Bresso; "මොන්සාවල"; Arabic "ف"/"ب" in
front) are tried off as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.text import latin, normalize
from bot.understanding.scripts import script_of

# Script families by how they write vowels (see the module docstring).
KEEPS_WY = "arabic"
DROPS_VOWELS = ("han",)
KEEPS_VOWELS = ("cyrillic", "ethiopic", "sinhala", "greek", "bengali")
PROFILES = (KEEPS_WY, *DROPS_VOWELS, *KEEPS_VOWELS)

# Pieces glued to a name, per script, tried off when the name alone does not match.
PREFIXES = {"arabic": ("ف", "ب", "و", "ل", "وف", "بال", "فال", "ال")}
SUFFIXES = {
    "bengali": ("তে", "য়", "ে", "র", "এ", "য়ে"),
    "sinhala": ("වල", "ේ", "යේ", "ට", "දී", "ෙ", "වලට"),
    "cyrillic": (),  # case endings are vowels: the coarse key absorbs them
    "arabic": ("کې", "ته", "ی", "ي", "ے", "ې"),
    "ethiopic": (),
    "han": (),
}

_ITALIAN = [
    (re.compile(r"gli"), "l"), (re.compile(r"gn"), "n"),
    (re.compile(r"sci(?=[aou])"), "s"), (re.compile(r"sc(?=[ei])"), "s"),
    (re.compile(r"ci(?=[aou])"), "s"), (re.compile(r"c(?=[ei])"), "s"),
    (re.compile(r"gi(?=[aou])"), "s"), (re.compile(r"g(?=[ei])"), "s"),
    (re.compile(r"ch"), "k"), (re.compile(r"gh"), "k"), (re.compile(r"qu"), "kw"),
    (re.compile(r"h"), ""), (re.compile(r"[cq]"), "k"),  # what is left of c is hard: Cologno
]
_FOREIGN = [
    (re.compile(r"dzh|tsh|tch|zh|sh|ch|ts|tz|dz|[jzxc]"), "s"),
    (re.compile(r"kh|gh|[gq]"), "k"), (re.compile(r"ph|bh|[fvp]"), "b"),
    (re.compile(r"th|dh|d"), "t"), (re.compile(r"h"), ""),
]
_COMMON = [(re.compile(r"[zjxc]"), "s"), (re.compile(r"[gq]"), "k"), (re.compile(r"[fvp]"), "b"),
           (re.compile(r"d"), "t")]
_VOWELS = {
    KEEPS_WY: [(re.compile(r"[ou]"), "w"), (re.compile(r"[ei]"), "y"), (re.compile(r"a"), "")],
    "drop": [(re.compile(r"[aeiouwy]"), "")],
    "keep": [(re.compile(r"[ou]"), "o"), (re.compile(r"[eiy]"), "i"), (re.compile(r"w"), "o")],
    # Bengali letters carry an unwritten "o" (মনজা: Monza): o is left out on both sides.
    "bengali": [(re.compile(r"[ouw]"), ""), (re.compile(r"[eiy]"), "i")],
}
_DOUBLE = re.compile(r"(.)\1+")
_FINAL_VOWEL = re.compile(r"[aoi]$")

# Words that say "in" or "at" right before a place, in the scripts matched by sound: after
# one of them, or with a locative ending taken off ("ব্রেসোতে"), a short name is trusted.
PLACE_WORDS = frozenset({"в", "во", "у", "із", "из", "біля", "около",  # Cyrillic
                         "في", "ف", "فى", "ب", "په", "میں", "مي", "در",  # Arabic script
                         "在", "住", "到", "ኣብ", "ናብ", "ካብ"})
# The same in Latin letters, before a city elsewhere named inside a sentence ("sono a Roma").
LATIN_PLACE_WORDS = frozenset({"a", "ad", "in", "to", "at", "en", "ne", "la", "sa", "nasa", "da", "de", "di",
                               "from", "near", "vicino", "i", "v", "u", "zai", "ab", "mein", "pa", "te", "ke"})
# After a place ("روم میں": in Rome; "په روم کې").
PLACE_AFTER = frozenset({"میں", "مے", "کې", "ته", "ውስጢ", "තියෙන", "ඉන්නේ"})
LOCATIVE = frozenset({"তে", "ে", "য়", "য়ে", "වල", "ේ", "යේ", "කې", "کې"})
_NOT_LETTER = re.compile(r"[^a-z]")


def _apply(rules: Iterable[tuple[re.Pattern[str], str]], text: str) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def _finish(text: str, profile: str) -> str:
    """Vowels per profile, doubles collapsed; a final vowel off where case endings change it
    (Монца, Монце, Монці are all Monza)."""
    text = _DOUBLE.sub(r"\1", _apply(_vowels(profile), text))
    return _FINAL_VOWEL.sub("", text) if profile in KEEPS_VOWELS and len(text) > 3 else text


def _vowels(profile: str) -> list[tuple[re.Pattern[str], str]]:
    if profile in (KEEPS_WY, "bengali"):
        return _VOWELS[profile]
    return _VOWELS["drop"] if profile in DROPS_VOWELS else _VOWELS["keep"]


def italian_key(name: str, profile: str) -> str:
    """The key of an Italian name as a script of `profile` would write it."""
    text = _DOUBLE.sub(r"\1", _NOT_LETTER.sub("", latin(name)))  # Muggiò: one g, then "gio"
    text = _apply(_COMMON, _apply(_ITALIAN, text))
    if profile == "han":
        text = text.replace("r", "l")  # 普拉托: Prato
    return _finish(text, profile)


@lru_cache(maxsize=8192)
def foreign_key(word: str, profile: str) -> str:
    """The key of a word written in a script of `profile` (one word, or a few glued)."""
    text = latin(word).replace(" ", "")
    if profile == "han":
        text = text.replace("sheng", "san").replace("r", "l")  # 圣: "San", "Saint"
    text = _apply(_COMMON, _apply(_FOREIGN, _NOT_LETTER.sub("", text)))
    return _finish(text, profile)


@lru_cache(maxsize=8192)
def variants(word: str, script: str, *, first: bool = True, last: bool = True) -> tuple[tuple[str, bool], ...]:
    """The word, and the word without the pieces its script glues to names (in front of the
    first word of a name, after its last); True where a locative ("in") was taken off."""
    out = [(word, False)]
    for prefix in PREFIXES.get(script, ()) if first else ():
        if word.startswith(prefix) and len(word) > len(prefix) + 2:
            out.append((word[len(prefix):], prefix in PLACE_WORDS))
    for suffix in SUFFIXES.get(script, ()) if last else ():
        for w, marked in list(out):
            if w.endswith(suffix) and len(w) > len(suffix) + 1:
                stem = w[: -len(suffix)]
                # Bengali -তে after ত is a verb ("করতে": to do), not "in"; a bare -ে is "in" only
                # after a consonant (রোমে), and then it is also any noun's (দেশে: in the country).
                locative = suffix in LOCATIVE and not (script == "bengali" and (stem.endswith("ত") or suffix == "ে"))
                out.append((stem, marked or locative))
    return tuple(out)


class Sounds:
    """Keys of some places, per script profile, and the closest one to a written name."""

    MIN_KEY = 2  # shorter keys match too much

    def __init__(self, names: dict[str, set[str]], *, fuzzy: bool = True):
        """`names`: a name (Italian, or a name in another script) -> the ISTAT codes it names.
        `fuzzy`: near keys count too (for a few names: with thousands, near keys are chance)."""
        self.fuzzy = fuzzy
        self.keys: dict[str, dict[str, set[str]]] = {p: {} for p in PROFILES}
        self.raw: dict[str, set[str]] = {}  # names as written ("روم", "রোম"): exact, before any key
        # How many words the longest name behind a key has: a few words of a message never
        # match a name of fewer words ("বাড়িওয়ালা বের", two words, is not Brugherio).
        self.width: dict[str, dict[str, int]] = {p: {} for p in PROFILES}
        for name, codes in names.items():
            italian = _script(name) == "latin"
            if not italian:
                self.raw.setdefault(normalize(name), set()).update(codes)
            width = len(name.replace("-", " ").split())
            # An Italian name is keyed as every script would write it; a name in a script only
            # as that script's own ("Анникко" says nothing of how Bengali writes Annicco).
            own = PROFILES if italian else [p for p in PROFILES if p == _script(name)]
            for profile in own:
                key = italian_key(name, profile) if italian else foreign_key(name, profile)
                if len(key) >= self.MIN_KEY:
                    self.keys[profile].setdefault(key, set()).update(codes)
                    self.width[profile][key] = max(width, self.width[profile].get(key, 0))
        self.choices = {p: list(keys) for p, keys in self.keys.items()}
        # Every key's first two sounds: a group of words starting otherwise is not a near miss
        # of any name (a typo in the first two sounds is rare), and is not compared at all.
        self.heads = {p: frozenset(k[:2] for k in keys) for p, keys in self.keys.items()}
        self.raw_heads = frozenset(name.split()[0] for name in self.raw)

    def may_start(self, word: str, script: str) -> bool:
        """Whether a name's key may begin with this word's (as written, or a glued piece off)."""
        heads = self.heads.get(script)
        if heads is None:
            return False
        if normalize(word) in self.raw_heads:
            return True
        for variant, _ in variants(word, script):
            key = foreign_key(variant, script)
            if len(key) < 2 or key[:2] in heads:
                return True
        return False

    def find(self, words: list[str], script: str, *, loose: bool, marked: bool) -> tuple[set[str], float]:
        """The places whose key is closest to these words (one name, maybe of several words).

        Exact keys first: short ones only when the bot asked for the comune (`loose`) or a word
        for "in" comes before (`marked`, or a locative ending); then the closest long key at a
        high similarity.
        """
        if script not in self.keys:
            return set(), 0.0
        keys, width = self.keys[script], self.width[script]
        heads = [variants(w, script, first=i == 0, last=i == len(words) - 1) for i, w in enumerate(words)]
        candidates: dict[str, bool] = {}
        for combo in _combos(heads):
            written = " ".join(w for w, _ in combo)
            cut = any(w != h[0][0] for w, h in zip((w for w, _ in combo), heads, strict=False))
            if written in self.raw and (loose or marked or cut or (self.fuzzy and len(written) >= 4)):
                return set(self.raw[written]), 100.0
            key = "".join(foreign_key(w, script) for w, _ in combo)
            candidates[key] = candidates.get(key, False) or any(m for _, m in combo)
        for key, ending in candidates.items():
            short_ok = marked or ((loose or ending) and (script != "han" or len(key) >= 3))
            if not self.fuzzy and not (loose or marked or ending):
                continue  # far away: only after "in" or as the whole answer ("лицей" is no Lecce)
            wide_enough = script == "han" or width.get(key, 0) >= len(words)
            # Far away, only a key that names one city alone.
            if (key in keys and wide_enough and len(key) >= (self.MIN_KEY if short_ok else 4)
                    and (self.fuzzy or len(keys[key]) == 1)):
                return set(keys[key]), 100.0
        best: tuple[set[str], float] = (set(), 0.0)
        if not self.fuzzy or (script in DROPS_VOWELS and not loose):
            return set(), 0.0  # consonants alone are too short to be near by chance only
        if not (loose or marked or len(words) > 1 or any(candidates.values())):
            return set(), 0.0  # a near miss inside a sentence only after "in" ("البرميسو" is no Bresso)
        heads = self.heads[script]
        for key in candidates:
            if len(key) < (4 if loose else 6) or key[:2] not in heads:
                continue
            hits = process.extract(key, self.choices[script], scorer=fuzz.ratio,
                                   score_cutoff=84.0 if loose or len(words) > 1 else 88.0, limit=3)
            hits = [h for h in hits if script == "han" or width.get(h[0], 0) >= len(words)]
            if hits and hits[0][1] > best[1]:
                top = [h for h in hits if h[1] == hits[0][1]]
                best = (set().union(*(keys[h[0]] for h in top)), float(hits[0][1]))
        return best


def _script(name: str) -> str:
    """The profile of a name's script: the script's own name (arabic, han, cyrillic...)."""
    return script_of([ch for ch in name if ch.isalpha()] or ["a"])


def _combos(heads: list[list[tuple[str, bool]]]) -> Iterable[tuple[tuple[str, bool], ...]]:
    """Each word as written, or with a glued piece off; only the first and last words vary."""
    if len(heads) == 1:
        return [(h,) for h in heads[0]]
    middle = tuple(h[0] for h in heads[1:-1])
    return [(first, *middle, last) for first in heads[0][:3] for last in heads[-1][:4]]
