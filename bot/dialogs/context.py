"""What every part of the dialog shares: its states, the context of one turn, a reply maker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.dialogs.model import Button, Event, Reply, Resources, Section, Session
from bot.i18n import Translator
from bot.knowledge import KnowledgeBase, Service
from bot.matching import offered_needs


class State(StrEnum):
    START = "start"  # nothing asked yet
    ASK_COMUNE = "ask_comune"
    CHOOSE_COMUNE = "choose_comune"  # the name typed fits several comuni
    ASK_AGE = "ask_age"
    ASK_NEED = "ask_need"
    ASK_MUNICIPIO = "ask_municipio"  # Milan only, when a service serves some Municipi
    RESULTS = "results"
    SHOW_SERVICE = "show_service"  # a deep link named one service
    CHOOSE_LANGUAGE = "choose_language"
    WITH_PERSON = "with_person"  # a person of the cooperative answers: the bot is silent


@dataclass(frozen=True)
class Ctx:
    """One turn's view of the world: what the dialog reads, and what day and time it is."""

    res: Resources
    today: date
    now: datetime | None = None  # the time in Milan, when known: "open now", "opens Tuesday"
    # What this turn has already worked out (the services that apply), so it runs once.
    memo: dict[object, Any] = field(default_factory=dict, compare=False)

    @property
    def kb(self) -> KnowledgeBase:
        return self.res.kb

    def tr(self, session: Session) -> Translator:
        return self.res.catalogs.get(session.lang)

    def offered_needs(self) -> list[str]:
        """Needs that some service active today answers: the only ones offered as buttons."""
        if self.today not in self.res.offered:
            self.res.offered.clear()  # one day at a time
            self.res.offered[self.today] = offered_needs(self.kb, self.today)
        return self.res.offered[self.today]

    def closed_days(self, service: Service) -> frozenset[date]:
        """National holidays, and the patron saint's day of the desk's comune."""
        local = self.res.local_holidays.get(service.hours.comune or "", frozenset())
        return self.res.holidays | local if local else self.res.holidays


Outcome = tuple[Session | None, list[Reply]]
Handler = Callable[[Session, Event, Ctx], Outcome]


def msg(*bodies: str, buttons: tuple[Button, ...] = (), services: tuple[str, ...] = ()) -> Reply:
    return Reply(tuple(Section(b) for b in bodies if b), buttons, services)
