"""A service as the user reads it: what it offers, why it fits, contacts, hours — nothing guessed.

A family may travel across town on a card, so a card leads with its doubts: a service that
may have ended says so first; facts older than a year say their month ("Informazioni di
agosto 2022") and, where there is a desk to go to, "Telefona prima di andare: …". Hours are
stated as fact ("Aperto adesso", "Apre giovedì alle 09:00") only when they are published by
a page under a year old; otherwise they are "Orari del 2022, forse cambiati". Where a fact is
unknown the card says so and points to what exists (the cooperative's contacts).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from bot.dialogs import texts as T
from bot.dialogs.model import Section
from bot.hours import opening
from bot.i18n import Translator, hours_lines
from bot.knowledge import Comune, Contact, HoursBlock, KnowledgeBase, Service, is_stale

_CONTACT_TEXT = {"phone": T.PHONE, "email": T.EMAIL, "web": T.WEB, "address": T.ADDRESS}
CARD_WORD_LIMIT = 90  # one card fits a phone screen (the tests hold every card to it)


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


def _has_desk(s: Service) -> bool:
    """A place to go to: an address, or a desk that receives by appointment."""
    return any(c.kind == "address" for c in s.contacts) or any(b.by_appointment for b in s.hours.blocks)


def lead_line(s: Service, tr: Translator, today: date) -> str:
    """The doubts, first: may have ended; the month of old facts; call before going."""
    parts: list[str] = []
    if s.fallback:  # the cooperative itself: its one contact is its own site, the source itself
        return ""
    if s.may_have_ended():
        parts.append(tr(T.MAY_HAVE_ENDED))
    old = is_stale(s.facts_as_of, today)
    if old:
        parts.append(tr(T.FACTS_OF, month=tr.month(s.facts_as_of)) if s.facts_as_of else tr(T.FACTS_UNDATED))
    unconfirmed_hours = bool(s.hours.blocks) and not s.hours_confirmed(today)
    if (old or unconfirmed_hours or s.may_have_ended()) and _has_desk(s):
        phone = next((c.value for c in s.contacts if c.kind == "phone"), None)
        email = next((c.value for c in s.contacts if c.kind == "email"), None)
        if phone:
            parts.append(tr(T.CALL_FIRST, phone=phone))
        elif email:
            parts.append(tr(T.WRITE_FIRST))  # the address itself is in the contacts below
    return " ".join(parts)


def _hours(s: Service, tr: Translator, today: date, now: datetime | None,
           closed_days: Collection[date], patron_known: bool) -> list[str]:
    lines: list[str] = []
    if s.hours.always:
        lines.append(tr(T.ALWAYS_OPEN))
    if s.hours.status == "not-published":
        lines.append(tr(T.HOURS_NOT_PUBLISHED) + (f" {tr(s.hours.note)}" if s.hours.note else ""))
        return lines
    if s.hours.blocks:
        confirmed = s.hours_confirmed(today)
        if confirmed:
            lines.append(tr(T.HOURS))
        else:
            year = s.hours_as_of.year if s.hours_as_of else None
            lines.append(tr(T.HOURS_OLD, year=year) if year else tr(T.HOURS))
        for block, line in zip(s.hours.blocks, hours_lines(s.hours, tr), strict=True):
            lines.append(f"• {line}" + (f" — {tr(T.BY_APPOINTMENT)}" if block.by_appointment else ""))
            if confirmed and now is not None:
                lines.append(f"  {opening_text(block, now, closed_days, tr)}")
        if confirmed and not patron_known:
            lines.append(tr(T.PATRON_DAY))
    if s.hours.note:
        lines.append(tr(s.hours.note))
    return lines


def service_card(
    s: Service,
    kb: KnowledgeBase,
    tr: Translator,
    why: str | None = None,
    *,
    today: date,
    now: datetime | None = None,
    closed_days: Collection[date] = (),
) -> Section:
    patron_known = s.hours.comune is not None and s.hours.comune in (kb.patron_days or {})
    lines = [line for line in (lead_line(s, tr, today), tr(s.summary), why or "") if line]
    lines.extend(tr(n) for n in s.notes)
    lines.extend(contact_line(c, tr) for c in s.contacts)
    lines += _hours(s, tr, today, now, closed_days, patron_known)
    if not s.contacts and not s.fallback:
        lines.append(tr(T.NO_CONTACTS) + " " + tr(T.RESULTS_ALWAYS))
        lines.extend(contact_line(c, tr) for c in kb.fallback.contacts)
    return Section(title=s.name, body="\n".join(lines))


def desk_lines(s: Service, kb: KnowledgeBase, tr: Translator, today: date) -> list[str]:
    """A service on the desk card: its name, its doubts first, how to reach it, its hours, as
    its card in the results says them (without "open now": the card is shown on another day)."""
    patron_known = s.hours.comune is not None and s.hours.comune in (kb.patron_days or {})
    lines = [s.name, *(line for line in (lead_line(s, tr, today),) if line)]
    lines.extend(tr(n) for n in s.notes)
    lines.extend(contact_line(c, tr) for c in s.contacts)
    lines += [line.removeprefix("• ").strip() for line in _hours(s, tr, today, None, (), patron_known)]
    if not s.contacts and not s.fallback:
        lines.append(tr(T.NO_CONTACTS))
        lines.extend(contact_line(c, tr) for c in kb.fallback.contacts)
    return lines


def line_card(s: Service, tr: Translator, today: date) -> Section:
    """A national line in the safety net: what it is for, its number, when it answers."""
    lines = [tr(s.summary), *(contact_line(c, tr) for c in s.contacts)]
    lines += _hours(s, tr, today, None, (), patron_known=True)
    lines.extend(tr(n) for n in s.notes)
    return Section(title=s.name, body="\n".join(lines))
