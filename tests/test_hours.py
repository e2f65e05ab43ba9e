"""Opening times in the user's own form, in Milan time, closed on Italian public holidays."""

from __future__ import annotations

import re
from datetime import date, datetime, time

import pytest

from bot.dialogs.model import Command, Text
from bot.dialogs.orientation import step
from bot.hours import italian_holidays, opening
from tests.conftest import Chat, edit, resources_from


@pytest.fixture(scope="module")
def confirmed(tmp_path_factory) -> object:
    """The real knowledge base, with Paderno's and the Milano Welcome Center's hours confirmed
    by a page of November 2026 (as an operator would after calling them)."""
    import shutil

    from bot.config import ROOT

    root = tmp_path_factory.mktemp("kb") / "knowledge"
    shutil.copytree(ROOT / "knowledge", root)
    for name in ("paderno-sportello", "milano-welcome-center"):
        path = root / "services" / f"{name}.yaml"
        edit(path, "status: to-confirm", "status: published")
        path.write_text(re.sub(r"as_of: [0-9-]+", "as_of: 2026-11", path.read_text(encoding="utf-8")), encoding="utf-8")
    return resources_from(root)


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
    session, _, _ = step(None, Command("start", "", lang), res, when)
    session, replies, _ = step(session, Text(text, lang), res, when)
    return replies[-1].text


def test_card_says_open_now_or_when_it_opens_in_the_users_language(confirmed):
    assert "Aperto adesso, fino alle 12:15." in _card_text(confirmed, "it", datetime(2026, 11, 26, 10, 0))
    english = _card_text(confirmed, "en", datetime(2026, 11, 26, 13, 0), "Paderno Dugnano, 40 years old, documents")
    assert "Opens Monday at 9:00\u202fAM." in english
    text = _card_text(confirmed, "it", datetime(2027, 3, 29, 10, 0))
    assert "Oggi è festa: è chiuso. Apre giovedì alle 09:00." in text
    # Paderno's patron saint's day is not known to the bot: the card says so.
    assert "Nel giorno del santo patrono del comune può essere chiuso." in text


def test_hours_not_confirmed_are_never_stated_as_fact(res):
    """Paderno's page says its hours changed on 5 June 2023: no "open now", the card leads
    with "call first" and gives the old hours as old."""
    text = _card_text(res, "it", datetime(2026, 11, 26, 10, 0))
    assert "Aperto adesso" not in text and "Apre " not in text
    assert "Telefona prima di andare: 02 91004 319." in text
    assert "Orari del 2023, forse cambiati:" in text


def _milan_family_reunification_on_sant_ambrogio(res) -> Chat:
    chat = Chat(res, today=datetime(2026, 12, 7, 10, 0))
    chat.start()
    for answer in ("Milano", "40"):
        chat.say(answer)
    chat.press("Ricongiungimento familiare")
    return chat


def test_sant_ambrogio_closes_milan_desks(confirmed):
    """7 December is Milan's patron saint's day: a desk with confirmed hours is closed."""
    chat = _milan_family_reunification_on_sant_ambrogio(confirmed)
    card = chat.card("Milano Welcome Center")
    assert "Oggi è festa: è chiuso." in card and "Aperto adesso" not in card
    assert "Apre mercoledì alle 09:00." in card  # 8 December is a national holiday too
    assert "santo patrono" not in card  # Milan's patron day is known


def test_milan_family_reunification_on_sant_ambrogio_does_not_say_open(res):
    chat = _milan_family_reunification_on_sant_ambrogio(res)
    assert chat.services[0] == "milano-welcome-center"
    assert "perto" not in chat.text  # neither "Aperto" nor "aperto"


def test_without_the_time_of_day_no_open_now_line(res):
    session, _, _ = step(None, Command("start"), res, date(2026, 11, 26))
    _, replies, _ = step(session, Text("Paderno Dugnano, 40 anni, documenti"), res, date(2026, 11, 26))
    assert "lunedì e giovedì 09:00–12:15" in replies[-1].text  # the card is there
    assert "Aperto adesso" not in replies[-1].text and "Apre " not in replies[-1].text
