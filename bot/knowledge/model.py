"""What the knowledge base holds, as immutable dataclasses: services, places, needs, sources.

Every fact a family may travel on (a phone number, an address, an opening hour) belongs to a
service that names its sources; each source carries the date the page itself states
(`as_of`) and a short quote of the page's words. `bot.knowledge.truth` checks each fact
against those quotes and dates it, so a card can say "Informazioni di agosto 2022" and
never states as current what a page of 2022 said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from functools import cached_property
from typing import Literal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_STATUSES = ("published", "to-confirm", "not-published")
SERVICE_STATUSES = ("active", "to-confirm")  # to-confirm: it may have ended, nobody has checked
CONTACT_KINDS = ("phone", "email", "web", "address")
STALE_MONTHS = 12  # facts older than this are said to be old, and hours are not stated as fact

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or worth an operator's look (warning) in the knowledge base."""

    severity: Severity
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: entry '{self.entry}'" if self.entry else self.file
        if self.field:
            where += f", field '{self.field}'"
        return f"{self.severity}: {where}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base cannot be used: each problem names file, entry and field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def is_stale(as_of: date | None, today: date) -> bool:
    """Older than STALE_MONTHS whole months, at month precision (None: no date, so stale)."""
    if as_of is None:
        return True
    return (as_of.year * 12 + as_of.month) < (today.year * 12 + today.month - STALE_MONTHS)


@dataclass(frozen=True)
class Comune:
    istat: str
    name: str
    province: str
    lat: float | None = None
    lon: float | None = None
    aliases: tuple[str, ...] = ()
    region: str = "Lombardia"


@dataclass(frozen=True)
class Ambito:
    id: str
    name: str
    comuni: frozenset[str]  # ISTAT codes


@dataclass(frozen=True)
class Need:
    id: str
    label: str
    safety: str | None = None  # the safety topic to answer with when no service is active for it
    # Another need read from the words that means this one for these age groups: "asilo" for
    # a child of 0-5 is early childhood, not school. need id -> age group ids.
    instead_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AgeGroup:
    id: str
    label: str
    low: int
    high: int | None  # None: no upper limit

    def contains(self, years: int) -> bool:
        return years >= self.low and (self.high is None or years <= self.high)


@dataclass(frozen=True)
class Slot:
    """One opening window repeated on some weekdays (0 = Monday), in Europe/Rome time."""

    days: tuple[int, ...]
    start: time
    end: time


@dataclass(frozen=True)
class HoursBlock:
    label: str | None
    slots: tuple[Slot, ...]
    by_appointment: bool = False


@dataclass(frozen=True)
class Hours:
    status: str  # one of HOURS_STATUSES
    blocks: tuple[HoursBlock, ...] = ()
    note: str | None = None
    always: bool = False  # a line that answers 24 hours a day, every day
    comune: str | None = None  # ISTAT code of the desk's comune: its patron saint's day counts


@dataclass(frozen=True)
class Contact:
    kind: str  # one of CONTACT_KINDS
    value: str
    note: str | None = None
    to_confirm: bool = False


@dataclass(frozen=True)
class Source:
    """A public page: what it is, where, the date it states, and its words for our facts."""

    title: str
    url: str | None = None
    as_of: date | None = None  # the date the page states (first of the month at month precision)
    quote: str = ""  # the page's own words carrying the contacts and hours it supports


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    summary: str
    needs: tuple[str, ...]
    ages: tuple[str, ...]
    comuni: frozenset[str]  # ISTAT codes named directly or through an ambito
    provinces: frozenset[str]  # plate codes: every comune of the province
    municipi: frozenset[int]  # for the comune with Municipi (Milano) only; empty = all
    run_by: str
    funded_by: str
    contacts: tuple[Contact, ...]
    hours: Hours
    sources: tuple[Source, ...]
    verified: date  # the day someone last checked these facts against their sources
    file: str
    valid_from: date | None = None
    valid_until: date | None = None
    notes: tuple[str, ...] = ()
    fallback: bool = False
    status: str = "active"  # one of SERVICE_STATUSES
    facts_as_of: date | None = None  # the date of the oldest fact the card shows (see truth.py)
    hours_as_of: date | None = None  # the date of the hours, from the sources that give them

    def is_active(self, today: date) -> bool:
        """Offered today: not ended (an end date in the past hides it) and already started."""
        if self.valid_until is not None and today > self.valid_until:
            return False
        return self.valid_from is None or today >= self.valid_from

    def serves(self, comune: Comune) -> bool:
        return comune.istat in self.comuni or comune.province in self.provinces

    def may_have_ended(self) -> bool:
        return self.status == "to-confirm"

    def hours_confirmed(self, today: date) -> bool:
        """Hours that may be stated as fact ("open now"): published, by a page under a year old."""
        return self.hours.status == "published" and not is_stale(self.hours_as_of, today)


@dataclass(frozen=True)
class SafetyTopic:
    """Something the cooperative does not cover but a family may face today (violence, a night
    without a roof): recognised in free text (its words: `bot.understanding.words`) and
    answered first with the lines that exist."""

    id: str
    text: str
    lines: tuple[str, ...]  # ids of KnowledgeBase.lines, in the order shown


@dataclass(frozen=True)
class Audience:
    """An entry point of its own (the Ukrainian one): a link payload and a command that open
    the bot in `lang` with `need` chosen; the need's services are shown to all who speak
    `lang` or ask for `need`, after the others, under the heading `also`."""

    id: str
    payload: str
    command: str
    lang: str
    need: str
    welcome: str
    menu: str  # its line in the command menu
    also: str


@dataclass(frozen=True)
class Mediator:
    """A person of the cooperative in the operators' group, mentioned on the cards of families
    who speak one of their languages."""

    telegram: str  # "@username"
    languages: tuple[str, ...]
    hours: Hours = Hours("not-published")


@dataclass(frozen=True)
class Operators:
    """Who reads the operators' group, and when (knowledge/operators.yaml). Hours unknown:
    families are told no time; the reminder counts from the request."""

    hours: Hours = Hours("not-published")
    answer_within: timedelta = timedelta(hours=4)  # then the family is told again, with the contacts
    mediators: tuple[Mediator, ...] = ()

    def speaking(self, lang: str) -> tuple[Mediator, ...]:
        return tuple(m for m in self.mediators if lang in m.languages)


@dataclass(frozen=True)
class KnowledgeBase:
    services: Mapping[str, Service]
    needs: Mapping[str, Need]
    ages: Mapping[str, AgeGroup]
    comuni: Mapping[str, Comune]  # ISTAT code -> comune, all of Lombardy
    elsewhere: Mapping[str, Comune]  # the rest of Italy: known by exact name, always outside
    ambiti: Mapping[str, Ambito]
    menu_comuni: tuple[str, ...]  # ISTAT codes shown as buttons
    municipi_of: str | None  # ISTAT code of the comune split into Municipi (Milano)
    municipi: tuple[int, ...]
    extra_aliases: Mapping[str, tuple[str, ...]]  # ISTAT code -> names people type
    common_words: frozenset[str]  # names that are everyday words: not places inside a sentence
    covered: frozenset[str]  # ISTAT codes where some service of the cooperative is (see `load`)
    works_in: frozenset[str] = frozenset()  # ISTAT codes the cooperative says it works in
    works_in_provinces: frozenset[str] = frozenset()  # "Milano e provincia"
    patron_days: Mapping[str, tuple[int, int]] | None = None  # ISTAT code -> (month, day)
    lines: Mapping[str, Service] | None = None  # national lines for danger and outside the area
    safety: Mapping[str, SafetyTopic] | None = None
    outside_lines: tuple[str, ...] = ()  # lines shown to a family outside the area
    audiences: Mapping[str, Audience] | None = None  # id -> audience, in file order
    operators: Operators = Operators()

    @cached_property
    def services_by_need(self) -> Mapping[str, tuple[Service, ...]]:
        """need -> the services that name it (the fallback names none): matching reads only these."""
        return {n: tuple(s for s in self.services.values() if n in s.needs) for n in self.needs}

    @property
    def fallback(self) -> Service:
        return next(s for s in self.services.values() if s.fallback)

    def age_group(self, years: int) -> str | None:
        """The id of the age group that holds this age, if any (groups have no gaps)."""
        return next((a.id for a in self.ages.values() if a.contains(years)), None)

    def audience_of(self, lang: str | None, need: str | None) -> list[Audience]:
        """The audiences a user belongs to: by the language they speak or the need they ask."""
        return [a for a in (self.audiences or {}).values() if a.lang == lang or a.need == need]

    def cooperative_works_in(self, comune: Comune) -> bool:
        """The cooperative works here: a service of it, or a place its own page names."""
        return (comune.istat in self.covered or comune.istat in self.works_in
                or comune.province in self.works_in_provinces)
