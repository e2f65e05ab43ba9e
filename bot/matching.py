"""Which services apply: one pure function over the knowledge base, and the alternatives.

A service applies when it is active today (an end date in the past hides it), serves the
comune (by name, ambito or whole province), serves the age group and the need, and — in
Milan — the family's Municipio when the service is limited to some.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from bot.knowledge import Audience, Comune, KnowledgeBase, Service, active_needs, is_stale


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


def fit(s: Service, comune: Comune, today: date) -> tuple[bool, bool, bool, str]:
    """How well a service fits, best first: surely running, the comune's own, recent facts."""
    return (s.may_have_ended(), comune.istat not in s.comuni, is_stale(s.facts_as_of, today), s.name.casefold())


def choose_services(kb: KnowledgeBase, q: Query, today: date) -> list[Service]:
    """Services for this family, best fit first (see `fit`)."""
    found = [s for s in kb.services_by_need.get(q.need, ()) if _applies(s, q, today, kb)]
    return sorted(found, key=lambda s: fit(s, q.comune, today))


def asks_municipio(kb: KnowledgeBase, q: Query, today: date) -> bool:
    """Worth asking the Municipio: a service that fits is limited to some of Milan's Municipi."""
    return q.comune.istat == kb.municipi_of and any(s.municipi for s in choose_services(kb, q, today))


def in_area(kb: KnowledgeBase, comune: Comune) -> bool:
    """The cooperative works here: one of its services, or a place its own page names."""
    return kb.cooperative_works_in(comune)


def alternatives(kb: KnowledgeBase, q: Query, today: date) -> list[str]:
    """Other needs that do have a service for this comune, Municipio and age: never a dead end."""
    return [n for n in kb.needs if n != q.need and choose_services(kb, replace(q, need=n), today)]


def offered_needs(kb: KnowledgeBase, today: date) -> list[str]:
    """Needs shown as buttons: those some service active today answers, somewhere."""
    active = active_needs(kb, today)
    return [n for n in kb.needs if n in active]


def audience_services(kb: KnowledgeBase, audience: Audience, comune: Comune | None, today: date) -> list[Service]:
    """Active services for an audience's need (people from Ukraine) that serve this comune
    (all of them, if no comune is known), best fit first."""
    found = [s for s in kb.services_by_need.get(audience.need, ())
             if s.is_active(today) and (comune is None or s.serves(comune))]
    return sorted(found, key=lambda s: fit(s, comune, today)) if comune else found
