"""Odd and hostile input in every state: always a short useful reply, never a crash."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dialogs.model import Command, Event, Location, Other, Press, Text
from bot.dialogs.orientation import State
from bot.dialogs.slots import QUESTIONS
from tests.conftest import Chat

# How to bring a fresh chat into each state. The states of the questions (bot/dialogs/slots.py)
# are reached by answering the questions before them, so a new question is covered by itself.
ROUTES: dict[str, list[Event]] = {
    State.START: [],
    State.ASK_COMUNE: [Command("start")],
    State.CHOOSE_COMUNE: [Command("start"), Text("Paderno")],
    State.ASK_MUNICIPIO: [Command("start"), Text("Milano, 7 anni, scuola")],
    State.RESULTS: [Command("start"), Text("Bresso, 9 anni, scuola")],
    State.SHOW_SERVICE: [Command("start", "spaderno-sportello")],
    State.CHOOSE_LANGUAGE: [Command("start"), Command("language")],
    State.WITH_PERSON: [Command("start"), Text("Bresso, 9 anni, scuola"), Command("persona")],
}


def _route_to_question(target: str) -> list[Event]:
    """Answer each question before `target` with a button that leads on, from a fresh start."""
    from bot.config import Config
    from bot.dialogs.orientation import step
    from bot.resources import load_resources
    from tests.conftest import TODAY

    res = load_resources(Config.from_env({}))
    events: list[Event] = [Command("start", "c015146")]  # Milan: every question is asked there
    session, replies, _ = step(None, events[0], res, TODAY)
    while replies[-1].state != target:
        button = next(b for b in replies[-1].buttons if not b.id.startswith("l:"))
        events.append(Press(button.id))
        session, replies, _ = step(session, events[-1], res, TODAY)
        assert replies[-1].state != State.RESULTS, target
    return events


for _question in QUESTIONS:
    if _question.state not in ROUTES:
        ROUTES[_question.state] = _route_to_question(_question.state)


def test_every_state_of_the_dialog_is_reached_by_these_tests():
    assert set(ROUTES) == {s.value for s in State}

HOSTILE: list[Event] = [
    Text(""), Text("   "), Text("🙂"), Text("🙂🙂🙂🙂"), Text("x" * 5000), Text("ciao " * 1000),
    Text("x" * 100_000), Text("\x00\x01\x02\x1b[31mred\x7f"), Text("<b>bold</b><script>alert(1)</script>"),
    Text("*bold* _it_ `code` [link](http://x)"), Text("&amp; &lt;"), Text("‮reversed"),
    Text("0"), Text("-5"), Text("999"), Text("1e9"), Text("٣٥٣٥٣٥"), Text("/"), Text("??"),
    Text("Paderno Sesto Cologno"), Text("https://example.com"), Text("null"), Text("\n\n\n"),
    Press(""), Press("c:"), Press("c:000000"), Press("n:../../x"), Press("a:999"), Press("m:99"),
    Press("l:xx"), Press("x:zzz"), Press("💥" * 40), Press("c:015146" * 20),
    Command(""), Command("START", "lit_cxx_n"), Command("start", "x" * 500), Command("back"),
    Command("back"), Command("help"), Command("language"), Command("forget"), Command("restart"),
    Command("ukraina"), Command("nonsense", "arg"),
    Other("sticker"), Other("voice"), Other("photo"), Other("video"), Other("contact"), Other(""),
    Location(float("nan"), 9.0), Location(math.inf, -math.inf), Location(91.0, 200.0), Location(0.0, 0.0),
]


def _chat_in(res, state: str) -> Chat:
    chat = Chat(replace(res, people=True))  # the cooperative's people answer: WITH_PERSON is reachable
    for event in ROUTES[state]:
        chat.send(event)
    if state != State.START:
        assert chat.state == state, (state, chat.state)
    return chat


def _assert_kind_reply(chat: Chat) -> None:
    if chat.session is not None and chat.session.state == State.WITH_PERSON:
        assert not chat.replies or len(chat.replies) == 1  # the bot is silent, or says once how to come back
    else:
        assert chat.replies, "every event gets an answer"
    for reply in chat.replies:
        assert reply.text.strip()
        assert len(reply.text) <= 4096
        for button in reply.buttons:
            assert button.id.isascii() and len(button.id.encode()) <= 64
            assert button.label.strip()
    if not chat.forgotten:
        assert chat.session is not None and chat.session.state in {s.value for s in State}


@pytest.mark.parametrize("state", list(ROUTES))
def test_hostile_input_in_every_state(res, state):
    for event in HOSTILE:
        chat = _chat_in(res, state)
        chat.send(event)
        _assert_kind_reply(chat)


@pytest.mark.parametrize("state", list(ROUTES))
def test_user_text_echoed_back_is_short(res, state):
    chat = _chat_in(res, state)
    chat.send(Text("Q" * 3000))
    assert "Q" * 41 not in chat.text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.sampled_from(list(ROUTES)), text=st.text(max_size=300))
def test_any_text_in_any_state_gets_a_reply(res, state, text):
    chat = _chat_in(res, state)
    chat.send(Text(text))
    _assert_kind_reply(chat)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.sampled_from(HOSTILE), max_size=8))
def test_any_sequence_of_odd_events_keeps_the_dialog_going(res, events):
    chat = _chat_in(res, State.ASK_COMUNE)
    for event in events:
        chat.send(event)
        _assert_kind_reply(chat)
    chat.send(Command("start"))
    chat.send(Text("Bresso, 9 anni, scuola"))
    assert "cinisello-scuola" in chat.services


def _number_code_points() -> list[str]:
    """Every code point Unicode calls a number: decimal digits (Nd), other digits and numerals
    (No: ², ①, Ethiopic ፭), letter numbers (Nl: Ⅻ, 〇)."""
    import sys
    import unicodedata

    return [chr(cp) for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in ("Nd", "No", "Nl")]


NUMBERS = _number_code_points()


@pytest.mark.parametrize("state", list(ROUTES))
def test_every_unicode_digit_in_every_state_gets_an_answer_never_a_crash(res, state):
    from bot.dialogs.orientation import step
    from tests.conftest import TODAY

    chat = _chat_in(res, state)
    start = chat.session
    for ch in NUMBERS:
        for event in (Text(ch), Text(f"{ch}{ch} anni"), Press(f"a:{ch}"), Press(f"m:{ch}")):
            _, replies, effects = step(start, event, res, TODAY)
            if state == State.WITH_PERSON and isinstance(event, Text):  # passed on to the person, silently
                assert not replies and [e.kind for e in effects] == ["handoff-say"], (hex(ord(ch)), event)
                continue
            assert replies and all(r.text.strip() for r in replies), (state, hex(ord(ch)), event)


def test_every_unicode_digit_through_each_channels_reading(res):
    """What the channels do with a typed or pressed digit before the dialog sees it."""
    from bot.channels.base import page_of, text_event
    from bot.channels.console import to_event as console_event
    from bot.channels.whatsapp import to_event as whatsapp_event
    from bot.dialogs.model import Button

    buttons = (Button("c:015146", "Milano"), Button("c:108033", "Monza"))
    for ch in NUMBERS:
        console_event(ch, buttons, None)
        console_event(f"/location {ch} {ch}", buttons, None)
        assert page_of(f"more:{ch}") in (None, *range(10))
        text_event(f"/start a{ch}")
        whatsapp_event({"type": "interactive", "interactive": {"list_reply": {"id": f"more:{ch}"}}})
        whatsapp_event({"type": "location", "location": {"latitude": ch, "longitude": ch}})


async def test_a_failing_turn_logs_where_it_failed_never_what_the_user_wrote(res, tmp_path, caplog, monkeypatch):
    from bot.conversation import Conversation
    from bot.dialogs import orientation
    from bot.store import SessionStore
    from tests.conftest import TODAY

    def broken(*args, **kwargs):
        raise ValueError("invalid literal for int() with base 10: 'Amina 333 1234567'")

    monkeypatch.setattr(orientation, "_read", broken)
    store = await SessionStore.open(tmp_path / "s.sqlite3")
    replies = await Conversation(res, store, lambda: TODAY).handle("console", "u", Text("Amina 333 1234567"))
    await store.close()
    assert replies and replies[0].text  # a kind apology
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert "ValueError" in logged and "orientation.py" in logged
    assert "Amina" not in logged and "1234567" not in logged


def test_what_the_bot_remembers_of_messages_is_words_never_a_whole_message(res, monkeypatch):
    """Only single short words reach the text caches: a family's sentence is not kept in memory
    after its turn (benchmarks/bench_memory.py shows that memory stays bounded)."""
    from bot import text

    remembered: list[str] = []
    caches = [text._normalize_cached, text._latin_cached]
    for name, cached in zip(("_normalize_cached", "_latin_cached"), caches, strict=True):

        def recording(word: str, cached=cached) -> str:
            remembered.append(word)
            return cached(word)

        monkeypatch.setattr(text, name, recording)
    chat = Chat(res)
    chat.send(Command("start"))
    chat.send(Text("mia figlia ha nove anni e cerca aiuto per la scuola a Bresso, tel 3331234567"))
    assert "mia" in remembered and "bresso" in remembered
    assert all(" " not in key and len(key) <= text.CACHED_WORD for key in remembered)
