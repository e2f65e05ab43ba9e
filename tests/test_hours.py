"""Opening times in the user's own form, in Milan time, closed on Italian public holidays."""

from __future__ import annotations

from datetime import date, datetime, time

from bot.dialogs.model import Command, Text
from bot.dialogs.orientation import step
from bot.hours import italian_holidays, opening


def _block(res, service_id: str, index: int = 0):
    return res.kb.services[service_id].hours.blocks[index]


def test_open_now_until_closing_time(res):
    state = opening(_block(res, "omnibus-segrate"), datetime(2026, 11, 25, 10, 0), res.holidays)  # a Wednesday
    assert state.open_now and state.until == time(14, 0)


def test_after_closing_it_opens_next_week(res):
    state = opening(_block(res, "omnibus-segrate"), datetime(2026, 11, 25, 14, 30), res.holidays)
    assert not state.open_now
    assert (state.next_day, state.next_time) == (date(2026, 12, 2), time(9, 0))


def test_public_holiday_is_closed(res):
    easter_monday = datetime(2027, 3, 29, 10, 0)  # Paderno's desk opens on Mondays and Thursdays
    assert easter_monday.date() in italian_holidays([2027])
    state = opening(_block(res, "paderno-sportello"), easter_monday, res.holidays)
    assert not state.open_now and state.holiday_today
    assert (state.next_day, state.next_time) == (date(2027, 4, 1), time(9, 0))


def _card_text(res, lang: str, when: datetime, text: str = "Paderno Dugnano, 40 anni, documenti") -> str:
    session, _ = step(None, Command("start", "", lang), res, when)
    session, replies = step(session, Text(text, lang), res, when)
    return replies[-1].text


def test_card_says_open_now_or_when_it_opens_in_the_users_language(res):
    assert "Aperto adesso, fino alle 12:15." in _card_text(res, "it", datetime(2026, 11, 26, 10, 0))
    english = _card_text(res, "en", datetime(2026, 11, 26, 13, 0), "Paderno Dugnano, 40 years old, documents")
    assert "Opens Monday at 9:00\u202fAM." in english
    text = _card_text(res, "it", datetime(2027, 3, 29, 10, 0))
    assert "Oggi è festa: è chiuso. Apre giovedì alle 09:00." in text


def test_without_the_time_of_day_no_open_now_line(res):
    session, _ = step(None, Command("start"), res, date(2026, 11, 26))
    _, replies = step(session, Text("Paderno Dugnano, 40 anni, documenti"), res, date(2026, 11, 26))
    assert "lunedì e giovedì 09:00–12:15" in replies[-1].text  # the card is there
    assert "Aperto adesso" not in replies[-1].text and "Apre " not in replies[-1].text
