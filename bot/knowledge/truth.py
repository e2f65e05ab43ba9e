"""Is every fact backed by its source's own words, and how old is it?

A phone number, e-mail, web address, street address or opening hour may be shown to a family
only if one of the service's sources quotes it (`sources[].quote`, the page's words kept in
the repository, so this check runs on every clone). A fact is as old as the newest source
that quotes it; a card is as old as its oldest fact. The checks are deliberately literal:
the digits of a phone number appear in the quote, every word of an address appears, each
weekday and time of a slot is named (ranges as people write them: "dal lunedì al venerdì",
"Monday to Friday", "lunedì–venerdì").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

from bot.knowledge.model import Contact, Hours, Problem, Slot, Source

_DAY_WORDS = {
    0: ("lunedi", "lun", "monday", "mon"),
    1: ("martedi", "mar", "tuesday", "tue", "tues"),
    2: ("mercoledi", "mer", "wednesday", "wed"),
    3: ("giovedi", "gio", "thursday", "thu", "thur", "thurs"),
    4: ("venerdi", "ven", "friday", "fri"),
    5: ("sabato", "sab", "saturday", "sat"),
    6: ("domenica", "dom", "sunday", "sun"),
}
_DAY_OF = {word: day for day, words in _DAY_WORDS.items() for word in words}
_DAY_RE = re.compile(r"\b(" + "|".join(sorted(_DAY_OF, key=len, reverse=True)) + r")\b")
_RANGE_BETWEEN = re.compile(r"^\s*(?:al|a|alla|to|until|till|through|thru|[-–—])\s*$")
_TIME_RE = re.compile(r"(?<![\d])(\d{1,2})(?:[.:](\d{2}))?(?![\d])")
_PHONE_RUN = re.compile(r"\+?\d[\d ./-]*\d")
_ALWAYS = ("24 ore su 24", "24 ore al giorno", "24 hours a day", "24 hours", "24/7", "24 ore")
_APPOINTMENT = ("appuntamento", "appointment")


def _plain(text: str) -> str:
    """Lower case without accents, punctuation kept: 'Lunedì–Venerdì' -> 'lunedi–venerdi'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", _plain(text))


def days_named(quote: str) -> set[int]:
    """Weekdays a text names, with ranges expanded ("dal lunedì al venerdì" -> 0-4)."""
    text = _plain(quote)
    found: set[int] = set()
    matches = list(_DAY_RE.finditer(text))
    for i, match in enumerate(matches):
        day = _DAY_OF[match.group(1)]
        found.add(day)
        if i + 1 < len(matches):
            between = text[match.end():matches[i + 1].start()]
            if _RANGE_BETWEEN.match(between):
                last = _DAY_OF[matches[i + 1].group(1)]
                found.update(range(day, last + 1) if last >= day else ())
    return found


def times_named(quote: str) -> set[time]:
    """Times of day a text names: '9', '9.00', '09:00', '12.15' (a loose net: extra is harmless)."""
    out: set[time] = set()
    for hh, mm in _TIME_RE.findall(quote):
        h, m = int(hh), int(mm or 0)
        if h <= 24 and m <= 59:
            out.add(time(0, m) if h == 24 else time(h, m))
    return out


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _url_key(url: str) -> str:
    url = re.sub(r"^https?://", "", url.strip().lower())
    url = re.sub(r"^www\.", "", url)
    return url.rstrip("/")


def supports_contact(source: Source, contact: Contact) -> bool:
    quote = source.quote
    if contact.kind == "phone":
        wanted = {_digits(contact.value)}
        if contact.value.strip().startswith("+39"):
            wanted.add(_digits(contact.value)[2:])  # the quote may leave out Italy's prefix
        runs = [_digits(r) for r in _PHONE_RUN.findall(quote)]
        return any(w and w in run for w in wanted for run in runs)
    if contact.kind == "email":
        return contact.value.casefold() in quote.casefold()
    if contact.kind == "web":
        key = _url_key(contact.value)
        in_quote = key in _url_key(quote) or key in quote.lower()
        return in_quote or bool(source.url and _url_key(source.url).startswith(key))
    words = set(_words(quote))
    return all(w in words for w in _words(contact.value))


def supports_slot(source: Source, slot: Slot) -> bool:
    return set(slot.days) <= days_named(source.quote) and {slot.start, slot.end} <= times_named(source.quote)


def supports_always(source: Source) -> bool:
    text = _plain(source.quote)
    return any(phrase in text for phrase in _ALWAYS)


def _newest(sources: Iterable[Source]) -> tuple[bool, date | None]:
    """(any source at all, the newest date among them; None when none states one)."""
    dates = [s.as_of for s in sources]
    if not dates:
        return False, None
    known = [d for d in dates if d is not None]
    return True, max(known) if known else None


def _oldest(dates: list[date | None]) -> date | None:
    return None if any(d is None for d in dates) else min(dates)  # type: ignore[type-var]


@dataclass(frozen=True)
class Dating:
    """What the truth check found for one service: problems, and how old its facts are."""

    problems: tuple[Problem, ...]
    facts_as_of: date | None
    hours_as_of: date | None


def check(file: str, entry: str, sources: tuple[Source, ...], contacts: tuple[Contact, ...],
          hours: Hours) -> Dating:
    """Every contact and hour against the quotes of `sources`; errors name the field."""
    problems: list[Problem] = []
    fact_dates: list[date | None] = []

    def missing(field_name: str, what: str) -> None:
        problems.append(Problem(
            "error", file, entry, field_name,
            f"{what} is not in the quote of any source: copy the page's own words that give it "
            "into sources[].quote, or remove it"))

    for j, contact in enumerate(contacts):
        found, as_of = _newest(s for s in sources if supports_contact(s, contact))
        if not found:
            missing(f"contacts[{j + 1}].value", f"'{contact.value}'")
        fact_dates.append(as_of)
    hours_dates: list[date | None] = []
    if hours.always:
        found, as_of = _newest(s for s in sources if supports_always(s))
        if not found:
            missing("hours.always", "'24 hours a day'")
        hours_dates.append(as_of)
    for b, block in enumerate(hours.blocks):
        for k, slot in enumerate(block.slots):
            found, as_of = _newest(s for s in sources if supports_slot(s, slot))
            if not found:
                missing(f"hours.blocks[{b + 1}].slots[{k + 1}]", "this day and time")
            hours_dates.append(as_of)
        if block.by_appointment and not any(w in _plain(s.quote) for s in sources for w in _APPOINTMENT):
            missing(f"hours.blocks[{b + 1}].by_appointment", "'by appointment'")
    hours_as_of = _oldest(hours_dates) if hours_dates else None
    fact_dates += hours_dates
    # With nothing to call or visit, the card is as old as the newest word on the service.
    facts_as_of = _oldest(fact_dates) if fact_dates else _newest(sources)[1]
    return Dating(tuple(problems), facts_as_of, hours_as_of)
