"""Languages: gettext catalogs read with Babel, and dates and hours in the user's own form.

Italian is the source language: every text a user reads (interface and knowledge base) is
written in plain Italian, and `locales/<lang>/LC_MESSAGES/orienta.po` translates it. A new
language is one catalog file plus one entry in `locales/languages.yaml`, with no code
change. Catalogs are read from the `.po` files at start-up, so there is no compile step to
forget; an untranslated or fuzzy entry falls back to the Italian text and
`python -m bot kb check` reports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, format_timedelta, get_day_names
from babel.lists import format_list
from babel.messages.pofile import read_po

from bot.knowledge import Hours, KnowledgeError, Problem
from bot.text import normalize

SOURCE_LANGUAGE = "it"
DOMAIN = "orienta"


def N_(message: str) -> str:
    """Mark a text for extraction by `pybabel extract -k N_`; it is translated when shown."""
    return message


FSI, LRI, PDI, RLM = "\u2068", "\u2066", "\u2069", "\u200f"

# Days as people say them: three or more days in a row are a range.
DAY_RANGE = N_("da %(first)s a %(last)s")
EVERY_DAY = N_("tutti i giorni")

_ITALIAN_A = re.compile(r"\b([Aa]) %\((\w+)\)s")


@dataclass(frozen=True)
class Language:
    """A shipped language: its name in itself (for the menu), its script, and what tells it
    from languages of the same script in free text (its own letters, frequent words)."""

    code: str
    name: str  # in the language itself
    script: str
    letters: str = ""
    words: frozenset[str] = frozenset()
    rtl: bool = False
    # The language typed in Latin letters (Roman Urdu "mujhe madad chahiye", Arabizi "bghit
    # nkhdem", "ya v Monce"): its frequent words as they are spelt then.
    latin_words: frozenset[str] = frozenset()
    babel: str | None = None  # Babel's code where it differs (Dari: fa_AF)
    spoken: bool = True  # False: recognised only, to say it is not spoken yet (locales/languages.yaml not_yet)


@dataclass(frozen=True)
class Translator:
    """The texts of one language. Missing translations fall back to the Italian source.

    In a right-to-left language every inserted value (an Italian name, a phone number, an
    address, a time) is wrapped in a Unicode isolate, so it keeps its own order inside the
    Arabic, Urdu or Pashto sentence instead of being scrambled by the bidi algorithm.
    """

    lang: str
    messages: Mapping[str, str] = field(default_factory=dict)
    rtl: bool = False

    def __call__(self, message: str, **params: object) -> str:
        text = self.messages.get(message) or message
        if params:
            if self.lang == SOURCE_LANGUAGE:
                text = _italian_articles(text, params)
            if self.rtl:
                params = {k: self.isolate(str(v)) for k, v in params.items()}
            try:
                return text % params
            except (KeyError, ValueError, TypeError):
                return message % params
        return text

    def isolate(self, value: str, *, ltr: bool = False) -> str:
        """`value` as an isolated run in right-to-left text (left-to-right if `ltr`)."""
        if not self.rtl or not value:
            return value
        return f"{LRI if ltr else FSI}{value}{PDI}"

    @property
    def locale(self) -> Locale:
        return _locale(self.lang)

    def day_names(self, days: Iterable[int]) -> str:
        """'lunedì e giovedì'; 'da lunedì a venerdì' for three or more days in a row."""
        days = sorted(set(days))
        # Stand-alone names: a schedule lists days, and in some locales (Pashto) the format
        # names are wrong ("week" for Saturday).
        names = get_day_names("wide", context="stand-alone", locale=self.locale)
        if len(days) == 7:
            return self(EVERY_DAY)
        if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
            return self(DAY_RANGE, first=names[days[0]], last=names[days[-1]])
        return format_list([names[d] for d in days], locale=self.locale)

    def month(self, value: date) -> str:
        """'agosto 2022', 'August 2022', 'серпень 2022': the month as a name stands alone."""
        key = (self.lang, value.year, value.month)
        if key not in _MONTHS:
            _MONTHS[key] = format_date(value, "LLLL y", locale=self.locale)
        return _MONTHS[key]

    def clock(self, value: time) -> str:
        return format_time(value, "short", locale=self.locale)

    def days(self, count: int) -> str:
        """'30 giorni', '1 day', '30 днів': a number of days with the language's plural (CLDR)."""
        return format_timedelta(timedelta(days=count), granularity="day", threshold=10**6, locale=self.locale)


_LOCALES: dict[str, Locale] = {}
_MONTHS: dict[tuple[str, int, int], str] = {}  # few distinct months: the sources' dates


def _locale(lang: str) -> Locale:
    if lang not in _LOCALES:
        _LOCALES[lang] = Locale.parse(lang)
    return _LOCALES[lang]


@dataclass(frozen=True)
class Catalogs:
    """Every shipped language: its translator and how it is named and written."""

    translators: Mapping[str, Translator]
    languages: tuple[Language, ...]
    default: str = SOURCE_LANGUAGE
    fallbacks: Mapping[str, str] = field(default_factory=dict)  # unshipped code -> closest shipped
    # Languages families write that the bot does not speak yet (Persian, Amharic, Somali...):
    # recognised in free text, answered in `answer_for` and told so.
    not_yet: tuple[Language, ...] = ()

    def answer_for(self, code: str) -> str:
        """The shipped language to answer someone writing `code`: its fallback, else English."""
        picked = self.fallbacks.get(code, "en")
        return picked if picked in self.translators else self.default

    def name_of(self, code: str, in_lang: str) -> str:
        """A language's name, in another language ("Persian", "persan"), from Babel's CLDR data."""
        babel_code = next((x.babel or x.code for x in self.not_yet if x.code == code), code)
        try:
            names = Locale.parse(in_lang).languages
        except (ValueError, UnknownLocaleError):
            names = Locale.parse("en").languages
        return str(names.get(babel_code) or names.get(babel_code.split("_")[0]) or code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self.languages)

    def get(self, lang: str | None) -> Translator:
        return self.translators.get(lang or self.default) or self.translators[self.default]

    def pick(self, client_lang: str | None) -> str | None:
        """The shipped language for a client's code: 'uk-UA' -> 'uk', 'zh-hans' -> 'zh', 'pt' -> 'es'."""
        if not client_lang:
            return None
        code = client_lang.replace("_", "-").split("-")[0].lower()
        code = code if code in self.translators else self.fallbacks.get(code, "")
        return code if code in self.translators else None

    def is_rtl(self, lang: str | None) -> bool:
        return any(x.rtl for x in self.languages if x.code == lang)


def catalog_path(locales: Path, lang: str) -> Path:
    return locales / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> dict[str, str]:
    """Translated, non-fuzzy messages of one .po file."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and m.string and not m.fuzzy and isinstance(m.id, str)
    }


def _yaml_mapping(path: Path, locales: Path) -> dict[str, Any]:
    """A YAML mapping of locales/, or a KnowledgeError that names the file (never a traceback)."""
    rel = f"locales/{path.relative_to(locales).as_posix()}"
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise KnowledgeError([Problem("error", rel, "", "", "file is missing")]) from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise KnowledgeError([Problem("error", rel, "", "", f"is not valid YAML{where}")]) from None
    if not isinstance(data, dict):
        raise KnowledgeError([Problem("error", rel, "", "", "must be a mapping (key: value)")])
    return data


def load_catalogs(locales: Path) -> Catalogs:
    """Languages in the order of locales/languages.yaml; each from its own folder."""
    spec = _yaml_mapping(locales / "languages.yaml", locales)
    languages: list[Language] = []
    translators: dict[str, Translator] = {}
    order = spec.get("order") or [SOURCE_LANGUAGE]
    if not isinstance(order, list):
        raise KnowledgeError([Problem("error", "locales/languages.yaml", "", "order", "must be a list of codes")])
    for code in order:
        code = str(code)
        path = catalog_path(locales, code)
        if code != SOURCE_LANGUAGE and not path.exists():
            continue  # described, but not translated yet: not offered
        item = _yaml_mapping(locales / code / "language.yaml", locales)
        try:
            messages = read_catalog(path) if path.exists() else {}
        except Exception:  # Babel's own parse errors: the file is named, the rest is its line
            raise KnowledgeError([Problem("error", f"locales/{code}/LC_MESSAGES/orienta.po", "", "",
                                          "cannot be read as a gettext catalog")]) from None
        translators[code] = Translator(code, messages, bool(item.get("rtl")))
        languages.append(Language(
            code=code, name=str(item.get("name", code)), script=str(item.get("script", "latin")),
            letters=str(item.get("letters") or ""), rtl=bool(item.get("rtl")),
            words=frozenset(normalize(str(w)) for w in item.get("words") or []),
            latin_words=frozenset(normalize(str(w)) for w in item.get("latin_words") or []),
        ))
    if SOURCE_LANGUAGE not in translators:
        translators[SOURCE_LANGUAGE] = Translator(SOURCE_LANGUAGE)
    fallbacks = {str(k): str(v) for k, v in (spec.get("fallbacks") or {}).items()}
    not_yet = []
    for code, item in (spec.get("not_yet") or {}).items():
        if not isinstance(item, dict):
            raise KnowledgeError([Problem("error", "locales/languages.yaml", str(code), "not_yet",
                                          "must map a code to {script, words}")])
        not_yet.append(Language(
            code=str(code), name=str(code), script=str(item.get("script", "latin")),
            letters=str(item.get("letters") or ""),
            words=frozenset(normalize(str(w)) for w in item.get("words") or []),
            babel=str(item["babel"]) if item.get("babel") else None, spoken=False,
        ))
    return Catalogs(translators, tuple(languages), fallbacks=fallbacks, not_yet=tuple(not_yet))


def missing_translations(catalogs: Catalogs, texts: Iterable[tuple[str, str, str, str]]) -> list[Problem]:
    """Texts a user may read that a shipped language has not translated (or marked fuzzy)."""
    out: list[Problem] = []
    texts = list(texts)
    for lang, tr in catalogs.translators.items():
        if lang == SOURCE_LANGUAGE:
            continue
        po = catalog_path(Path("locales"), lang).as_posix()
        for text, file, entry, field_name in texts:
            if text not in tr.messages:
                out.append(Problem("warning", po, entry, field_name, f"not translated: '{text[:60]}' (from {file})"))
    return out


def _italian_articles(text: str, params: Mapping[str, object]) -> str:
    """'a %(comune)s' becomes 'ad Arcore' before a name that starts with a (Italian 'd eufonica')."""
    def fix(match: re.Match[str]) -> str:
        value = str(params.get(match[2], ""))
        return f"{match[1]}d %({match[2]})s" if value[:1] in ("a", "A") else match[0]

    return _ITALIAN_A.sub(fix, text)


def hours_lines(hours: Hours, tr: Translator) -> list[str]:
    """Opening hours as short lines in the user's language: days, times, appointment."""
    lines: list[str] = []
    for block in hours.blocks:
        parts = [
            f"{tr.day_names(slot.days)} {tr.isolate(f'{tr.clock(slot.start)}–{tr.clock(slot.end)}', ltr=True)}"
            for slot in block.slots
        ]
        line = "; ".join(parts)
        if block.label:
            line = f"{tr(block.label)}: {line}"
        lines.append(line)
    return lines


def rtl_lines(text: str) -> str:
    """Each line starts right to left, even when it begins with an Italian name."""
    return "\n".join(f"{RLM}{line}" if line else line for line in text.split("\n"))
