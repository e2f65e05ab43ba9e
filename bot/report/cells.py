"""The report's tables: counts grouped by what the operator asks, and made safe to publish.

No number in the report may single out a family, in one table or by subtracting one number
from another, in one report or across two. So every published count goes through
`published`:

- 0 stays 0; 1 to 4 is shown as "< 5";
- 5 and more is moved by a number from -2 to +2 (never below 5), read from the cell's key:
  the sum of a random key each request got when it was counted (bot.report.counts). The
  same requests give the same key, so the same cell always shows the same number (asking
  again tells nothing new); a total and its parts have independent keys, so a total minus
  the visible cells leaves the hidden ones give or take 2 for every number subtracted. This
  is the "cell key" method national statistics offices use for census tables (ONS, ABS).

Totals are computed from all the requests, then published the same way: they are not the
sum of the rows shown (that is what keeps a hidden cell hidden), and the README says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.deeplink import parse
from bot.i18n import Catalogs
from bot.knowledge import KnowledgeBase
from bot.report.counts import KEY_MODULUS, Counts, RequestCount, StartCount

THRESHOLD = 5  # the smallest count shown as a number
NOISE = 2  # published counts move by at most this much
HIDDEN = "< 5"


def published(value: int, key: int) -> int | None:
    """The number shown for a true count with cell key `key`: None means "< 5"."""
    if value == 0:
        return 0
    if value < THRESHOLD:
        return None
    return max(THRESHOLD, value + key % (2 * NOISE + 1) - NOISE)


@dataclass
class Cell:
    """A count and its key, summed over the rows that fall in it. The true value never
    leaves this module except through `published`."""

    _value: int = 0
    _key: int = 0

    def add(self, value: int, key: int) -> None:
        self._value += value
        self._key = (self._key + key) % KEY_MODULUS

    @property
    def shown(self) -> int | None:
        return published(self._value, self._key)

    @property
    def text(self) -> str:
        shown = self.shown
        return HIDDEN if shown is None else str(shown)

    @property
    def order(self) -> int:
        """For sorting rows: the published number (hidden cells count as 0, so the order of
        rows never tells which hidden cell is bigger)."""
        return self.shown or 0


# ------------------------------------------------------------------ what a table can be cut by


@dataclass(frozen=True)
class Labels:
    """Italian names for what the counts hold as codes (the report is for the cooperative)."""

    kb: KnowledgeBase
    catalogs: Catalogs

    def comune(self, istat: str) -> str:
        return self.kb.comuni[istat].name if istat in self.kb.comuni else (istat or "non detto")

    def ambito(self, istat: str) -> str:
        names = [a.name for a in self.kb.ambiti.values() if istat in a.comuni]
        return names[0] if names else ("non detto" if not istat else "fuori dagli ambiti")

    def lang(self, code: str) -> str:
        return self.catalogs.name_of(code, "it")

    def age(self, group: str) -> str:
        return self.kb.ages[group].label if group in self.kb.ages else (group or "non detta")

    def need(self, need: str) -> str:
        return self.kb.needs[need].label if need in self.kb.needs else (need or "non detto")

    def link(self, payload: str) -> str:
        """A link's payload and what it opens ("lar_c015077: arabo, Cinisello Balsamo")."""
        if not payload:
            return "nessun link"
        p = parse(payload, self.kb, self.catalogs.codes)
        audience = (self.kb.audiences or {}).get(p.audience or "")
        parts = [f"ingresso {audience.id}" if audience else "", self.lang(p.lang) if p.lang else "",
                 self.comune(p.comune) if p.comune else "", self.age(p.age) if p.age else "",
                 self.need(p.need) if p.need else "", p.service or ""]
        said = ", ".join(x for x in parts if x)
        return f"{payload}: {said}" if said else payload


Dimension = Callable[[Labels, RequestCount | StartCount], str]

DIMENSIONS: dict[str, tuple[str, Dimension]] = {
    "day": ("Giorno", lambda _, r: r.day),
    "month": ("Mese", lambda _, r: r.day[:7]),
    "channel": ("Canale", lambda _, r: {"telegram": "Telegram", "whatsapp": "WhatsApp"}.get(r.channel, r.channel)),
    "lang": ("Lingua", lambda lb, r: lb.lang(r.lang)),
    "comune": ("Comune", lambda lb, r: lb.comune(r.comune)),  # type: ignore[union-attr]
    "ambito": ("Ambito", lambda lb, r: lb.ambito(r.comune)),  # type: ignore[union-attr]
    "municipio": ("Municipio", lambda _, r: f"Municipio {r.municipio}" if r.municipio else "—"),  # type: ignore[union-attr]
    "age": ("Età", lambda lb, r: lb.age(r.age)),  # type: ignore[union-attr]
    "need": ("Bisogno", lambda lb, r: lb.need(r.need)),  # type: ignore[union-attr]
    "link": ("Link o QR", lambda lb, r: lb.link(r.link)),
}


def dimensions(names: str) -> tuple[str, ...]:
    """`--by need,comune` checked: raises ValueError naming what is not a dimension."""
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = [n for n in chosen if n not in DIMENSIONS]
    if unknown or not chosen:
        raise ValueError(f"cannot cut by {', '.join(unknown) or 'nothing'}: choose from {', '.join(DIMENSIONS)}")
    return tuple(dict.fromkeys(chosen))


# ------------------------------------------------------------------ tables


@dataclass
class Table:
    """Rows of labels and cells, and a total row; only published numbers come out."""

    title: str
    columns: tuple[str, ...]  # the dimensions' names
    measures: tuple[str, ...]
    rows: dict[tuple[str, ...], list[Cell]] = field(default_factory=dict)
    total: list[Cell] = field(default_factory=list)
    grouped: int = 0  # rows are sorted by this many first columns (the month), then by number

    def add(self, labels: tuple[str, ...], values: Sequence[tuple[int, int]]) -> None:
        cells = self.rows.setdefault(labels, [Cell() for _ in self.measures])
        if not self.total:
            self.total = [Cell() for _ in self.measures]
        for cell, whole, (value, key) in zip(cells, self.total, values, strict=True):
            cell.add(value, key)
            whole.add(value, key)

    def sorted_rows(self) -> list[tuple[tuple[str, ...], list[Cell]]]:
        """Largest published first (within each group), then by name."""
        g = self.grouped
        return sorted(self.rows.items(), key=lambda item: (item[0][:g], -item[1][0].order, item[0]))

    def text_rows(self) -> list[list[str]]:
        """The table as text: header, rows, total (what CSV and HTML print)."""
        out = [[*self.columns, *self.measures]]
        out += [[*labels, *(c.text for c in cells)] for labels, cells in self.sorted_rows()]
        if self.total:
            out.append(["Totale", *([""] * (len(self.columns) - 1)), *(c.text for c in self.total)])
        return out


REQUESTS, UNMET, PERSONS = "Richieste", "Senza servizio", "Persona chiesta"


def requests_table(counts: Iterable[RequestCount], by: tuple[str, ...], labels: Labels) -> Table:
    """Requests (one per age group asked about), those no service answered, and those where
    a person of the cooperative was asked for, by the dimensions chosen."""
    table = Table("Richieste e richieste senza servizio", tuple(DIMENSIONS[d][0] for d in by),
                  (REQUESTS, UNMET, PERSONS))
    for r in counts:
        unmet = (r.shown, r.shown_key) if not r.services else (0, 0)
        table.add(tuple(DIMENSIONS[d][1](labels, r) for d in by), ((r.shown, r.shown_key), unmet,
                                                                     (r.persons, r.persons_key)))
    return table


def unmet_by_comune(counts: Iterable[RequestCount], labels: Labels) -> Table:
    table = Table("Richieste senza servizio, per comune", ("Comune",), (UNMET,))
    for r in counts:
        if r.shown and not r.services:
            table.add((labels.comune(r.comune),), ((r.shown, r.shown_key),))
    return table


def languages_by_month(counts: Iterable[RequestCount], labels: Labels) -> Table:
    table = Table("Lingue, mese per mese", ("Mese", "Lingua"), (REQUESTS,), grouped=1)
    for r in counts:
        if r.shown:
            table.add((r.day[:7], labels.lang(r.lang)), ((r.shown, r.shown_key),))
    return table


def starts_by_link(counts: Iterable[StartCount], labels: Labels) -> Table:
    table = Table("Conversazioni iniziate, per link o QR", ("Link o QR",), ("Inizi",))
    for s in counts:
        table.add((labels.link(s.link),), ((s.starts, s.starts_key),))
    return table


@dataclass(frozen=True)
class Report:
    since: str
    until: str
    main: Table
    unmet: Table
    languages: Table
    links: Table


def make_report(counts: Counts, by: tuple[str, ...], labels: Labels, since: str, until: str) -> Report:
    return Report(since, until, requests_table(counts.requests, by, labels), unmet_by_comune(counts.requests, labels),
                  languages_by_month(counts.requests, labels), starts_by_link(counts.starts, labels))
