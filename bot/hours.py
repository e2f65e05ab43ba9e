"""Is a desk open now, and if not, when does it open? In Milan time, closed on public holidays.

Pure functions over the knowledge base's opening slots: the dialog asks them with the
current time, so "open now" and "opens Tuesday at 9:00" are the same on every channel.
Public holidays come from the `holidays` package (Italy, national holidays); a comune's
patron saint's day comes from `knowledge/areas.yaml` (`patron_days`) and closes its desks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.knowledge import HoursBlock, KnowledgeBase

LOOK_AHEAD_DAYS = 14


@dataclass(frozen=True)
class Opening:
    open_now: bool
    until: time | None = None  # when open now: closing time
    next_day: date | None = None  # when closed: the day it opens next
    next_time: time | None = None
    holiday_today: bool = False


def italian_holidays(years: Collection[int]) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("IT", years=sorted(years)).keys())


def patron_holidays(kb: KnowledgeBase, years: Collection[int]) -> dict[str, frozenset[date]]:
    """ISTAT code -> the patron saint's days of that comune in these years."""
    return {code: frozenset(date(y, month, day) for y in years)
            for code, (month, day) in (kb.patron_days or {}).items()}


def opening(block: HoursBlock, now: datetime, closed_days: Collection[date]) -> Opening:
    """Where this block of hours stands at `now` (a naive or Europe/Rome datetime)."""
    today, clock = now.date(), now.time()
    holiday = today in closed_days
    if not holiday:
        for slot in block.slots:
            if today.weekday() in slot.days and slot.start <= clock < slot.end:
                return Opening(True, until=slot.end)
    for offset in range(LOOK_AHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        if day in closed_days:
            continue
        starts = sorted(
            slot.start for slot in block.slots
            if day.weekday() in slot.days and (offset > 0 or slot.start > clock)
        )
        if starts:
            return Opening(False, next_day=day, next_time=starts[0], holiday_today=holiday)
    return Opening(False, holiday_today=holiday)


def earliest(blocks: Collection[HoursBlock], now: datetime, closed_days: Collection[date]) -> Opening:
    """Where several blocks of hours stand together: open if any is, else the soonest opening."""
    states = [opening(block, now, closed_days) for block in blocks]
    open_now = [s for s in states if s.open_now]
    if open_now:
        return max(open_now, key=lambda s: s.until or time.min)
    later = [s for s in states if s.next_day and s.next_time]
    if later:
        return min(later, key=lambda s: (s.next_day, s.next_time))
    return Opening(False, holiday_today=any(s.holiday_today for s in states))


def opens_at(state: Opening) -> datetime | None:
    """The (naive, Milan) time a closed desk opens next; None when open or not within two weeks."""
    if state.open_now or state.next_day is None or state.next_time is None:
        return None
    return datetime.combine(state.next_day, state.next_time)
