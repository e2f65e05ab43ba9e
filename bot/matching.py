"""Which services apply: one pure function over the knowledge base, and the alternatives.

A service applies when it is active today (an end date in the past hides it), serves the
comune (by name, ambito or whole province), serves the age group and the need, and — in
Milan — the family's Municipio when the service is limited to some.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.knowledge import Comune, KnowledgeBase, Service

UKRAINE = "ukraine"


@dataclass(frozen=True)
class Query:
    comune: Comune
    age: str
    need: str
    municipio: int | None = None  # None or 0: not known


def _applies(s: Service, q: Query, today: date, kb: KnowledgeBase) -> bool:
    if s.fallback or not s.is_active(today) or not s.serves(q.comune):
        return False
    if q.age not in s.ages or q.need not in s.needs:
        return False
    return not (q.municipio and s.municipi and q.comune.istat == kb.municipi_of
                and q.municipio not in s.municipi)


def choose_services(kb: KnowledgeBase, q: Query, today: date) -> list[Service]:
    """Services for this family, most local first (a comune's own before province-wide ones)."""
    found = [s for s in kb.services.values() if _applies(s, q, today, kb)]
    return sorted(found, key=lambda s: (q.comune.istat not in s.comuni, s.name.casefold()))


def asks_municipio(kb: KnowledgeBase, q: Query, today: date) -> bool:
    """Worth asking the Municipio: a service that fits is limited to some of Milan's Municipi."""
    return q.comune.istat == kb.municipi_of and any(s.municipi for s in choose_services(kb, q, today))


def in_area(kb: KnowledgeBase, comune: Comune) -> bool:
    """The cooperative works here: in one of its ambiti, or named by one of its services."""
    return comune.istat in kb.covered


def needs_served(kb: KnowledgeBase, comune: Comune, age: str | None, today: date) -> list[str]:
    """Needs that some active service answers here (for this age group, if known)."""
    served = {
        need
        for s in kb.services.values()
        if not s.fallback and s.is_active(today) and s.serves(comune) and (age is None or age in s.ages)
        for need in s.needs
    }
    return [n for n in kb.needs if n in served]


def ukrainian_help(kb: KnowledgeBase, comune: Comune | None, today: date) -> list[Service]:
    """Active services for people from Ukraine that serve this comune (all, if none is known)."""
    return [
        s for s in kb.services.values()
        if not s.fallback and s.is_active(today) and UKRAINE in s.needs
        and (comune is None or s.serves(comune))
    ]
