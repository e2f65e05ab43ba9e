"""Conversations survive restarts; /forget erases; one user's turns never overwrite each other."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.conversation import Conversation
from bot.dialogs.model import Command, Session, Text
from bot.store import SessionStore
from tests.conftest import TODAY


async def test_store_round_trip_and_delete(open_store):
    store = await open_store()
    session = Session(state="ask_age", lang="uk", comune="015032", filled=("comune",))
    await store.save("telegram", "42", session)
    assert await store.load("telegram", "42") == session
    assert await store.load("console", "42") is None  # keyed by channel and user
    await store.delete("telegram", "42")
    assert await store.load("telegram", "42") is None
    await store.close()


async def test_database_uses_wal(tmp_path: Path):
    store = await SessionStore.open(tmp_path / "s.sqlite3")
    await store.close()
    mode = sqlite3.connect(tmp_path / "s.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_a_restart_loses_no_conversation(open_store, res):
    store = await open_store()
    first = Conversation(res, store, lambda: TODAY)
    await first.handle("console", "u1", Command("start"))
    await first.handle("console", "u1", Text("Bresso"))
    await store.close()  # the process ends

    store = await open_store()
    second = Conversation(res, store, lambda: TODAY)
    replies = await second.handle("console", "u1", Text("9"))
    assert replies[-1].state == "ask_need"
    replies = await second.handle("console", "u1", Text("scuola"))
    assert "cinisello-scuola" in replies[-1].services
    await store.close()


async def test_forget_deletes_the_stored_session(open_store, res):
    store = await open_store()
    conv = Conversation(res, store, lambda: TODAY)
    await conv.handle("telegram", "7", Text("Monza"))
    assert await store.load("telegram", "7") is not None
    await conv.handle("telegram", "7", Command("forget"))
    assert await store.load("telegram", "7") is None
    await store.close()


async def test_quick_messages_of_one_user_are_applied_in_order(open_store, res):
    store = await open_store()
    conv = Conversation(res, store, lambda: TODAY)
    await conv.handle("telegram", "9", Command("start"))
    await asyncio.gather(
        conv.handle("telegram", "9", Text("Monza")),
        conv.handle("telegram", "9", Text("40")),
        conv.handle("telegram", "9", Text("documenti")),
    )
    session = await store.load("telegram", "9")
    assert (session.comune, session.age, session.need) == ("108033", "31+", "documents")
    await store.close()


async def test_a_bug_in_the_dialog_costs_one_apology_not_the_conversation(open_store, res, monkeypatch):
    store = await open_store()
    conv = Conversation(res, store, lambda: TODAY)
    await conv.handle("telegram", "5", Text("Monza"))
    before = await store.load("telegram", "5")

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("bot.conversation.step", broken)
    replies = await conv.handle("telegram", "5", Text("40"))
    assert "c'è stato un problema" in replies[0].text
    assert await store.load("telegram", "5") == before
    await store.close()


async def test_an_event_delivered_twice_is_answered_once(open_store, res):
    store = await open_store()
    conv = Conversation(res, store, lambda: TODAY)
    first = await conv.handle("telegram", "3", Text("Monza"), once="telegram:update:10")
    again = await conv.handle("telegram", "3", Text("Monza"), once="telegram:update:10")
    assert first and again == []
    await store.close()


async def test_a_notice_is_given_once_even_across_restarts(open_store):
    store = await open_store()
    assert await store.first_time("telegram:group:-100")
    assert not await store.first_time("telegram:group:-100")
    await store.close()
    store = await open_store()
    assert not await store.first_time("telegram:group:-100")
    await store.close()
