"""A service as the user reads it: what it offers, why it fits, contacts, hours — nothing guessed.

Where a fact is unknown the card says so and points to what exists (the cooperative's
contacts), so a family never travels on a guess.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from bot.dialogs import texts as T
from bot.dialogs.model import Section
from bot.hours import opening
from bot.i18n import Translator, hours_lines
from bot.knowledge import Comune, Contact, HoursBlock, KnowledgeBase, Service

_CONTACT_TEXT = {"phone": T.PHONE, "email": T.EMAIL, "web": T.WEB, "address": T.ADDRESS}


def contact_line(c: Contact, tr: Translator) -> str:
    line = tr(_CONTACT_TEXT[c.kind], value=c.value)
    if c.to_confirm:
        line += " " + tr(T.TO_CONFIRM)
    if c.note:
        line += f" — {tr(c.note)}"
    return line


def why_line(s: Service, kb: KnowledgeBase, comune: Comune, age: str, need: str, tr: Translator) -> str:
    place = comune.name
    if s.municipi and comune.istat == kb.municipi_of:
        place = tr(T.PLACE_MUNICIPI, comune=comune.name, municipi=", ".join(str(m) for m in sorted(s.municipi)))
    return tr(T.WHY, place=place, age=tr(kb.ages[age].label), need=tr(kb.needs[need].label))


def opening_text(block: HoursBlock, now: datetime, closed_days: Collection[date], tr: Translator) -> str:
    """ "Open now, until 12:15" / "Opens Thursday at 09:00", with a holiday said first."""
    state = opening(block, now, closed_days)
    parts = [tr(T.HOLIDAY_TODAY)] if state.holiday_today else []
    if state.open_now and state.until:
        parts.append(tr(T.OPEN_NOW, time=tr.clock(state.until)))
    elif state.next_day and state.next_time:
        day = tr.day_names([state.next_day.weekday()])
        parts.append(tr(T.OPENS_AT, day=day, time=tr.clock(state.next_time)))
    return " ".join(parts)


def service_card(
    s: Service,
    kb: KnowledgeBase,
    tr: Translator,
    why: str | None = None,
    *,
    now: datetime | None = None,
    closed_days: Collection[date] = (),
) -> Section:
    lines = [tr(s.summary)]
    if why:
        lines.append(why)
    lines.extend(tr(n) for n in s.notes)
    lines.extend(contact_line(c, tr) for c in s.contacts)
    if s.hours.status == "not-published":
        lines.append(tr(T.HOURS_NOT_PUBLISHED) + (f" {tr(s.hours.note)}" if s.hours.note else ""))
    else:
        lines.append(tr(T.HOURS))
        for block, line in zip(s.hours.blocks, hours_lines(s.hours, tr), strict=True):
            lines.append(f"• {line}" + (f" — {tr(T.BY_APPOINTMENT)}" if block.by_appointment else ""))
            if now is not None:
                lines.append(f"  {opening_text(block, now, closed_days, tr)}")
        if s.hours.status == "to-confirm":
            lines.append(tr(T.HOURS_TO_CONFIRM))
        if s.hours.note:
            lines.append(tr(s.hours.note))
    if not s.contacts and not s.fallback:
        lines.append(tr(T.NO_CONTACTS) + " " + tr(T.RESULTS_ALWAYS))
        lines.extend(contact_line(c, tr) for c in kb.fallback.contacts)
    return Section(title=s.name, body="\n".join(lines))
