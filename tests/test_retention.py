"""Conversations are not kept for ever (issue 13, storage limitation): one untouched for
BOT_RETENTION_DAYS is erased with what is tied to it, by `python -m bot purge` and by the
running bot's own sweep, and the family's next message starts afresh with a greeting."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ROOT, Config, SettingsError
from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.context import State
from bot.dialogs.model import Session, Text
from bot.store import SessionStore
from tests.conftest import TODAY


def _age(path: Path, user_id: str, days: int) -> None:
    """Make a stored conversation look untouched for `days` days."""
    when = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sessions SET updated_at = ? WHERE user_id = ?", (when, user_id))


def _users(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {u for (u,) in db.execute("SELECT user_id FROM sessions")}


async def _two_families(path: Path) -> None:
    store = await SessionStore.open(path)
    for user in ("old-family", "new-family"):
        await store.save("whatsapp", user, Session(state=State.ASK_AGE, comune="015032"),
                         outbox=[("39333", '{"text": "x"}')])
    await store.link("whatsapp", "39333111", "old-family")
    await store.close()


async def test_purge_erases_old_conversations_with_their_replies_and_links(tmp_path: Path):
    path = tmp_path / "b.sqlite3"
    await _two_families(path)
    _age(path, "old-family", 31)
    store = await SessionStore.open(path)
    assert await store.purge(30) == 1
    assert await store.load("whatsapp", "old-family") is None
    assert await store.load("whatsapp", "new-family") is not None
    assert await store.alias_of("whatsapp", "39333111") is None
    assert [q.user_id for q in await store.queued("whatsapp", "old-family")] == []
    assert len(await store.queued("whatsapp", "new-family")) == 1
    await store.close()


async def test_the_running_bot_sweeps_while_idle_and_forgets_what_it_had_in_memory(tmp_path: Path):
    path = tmp_path / "b.sqlite3"
    await _two_families(path)
    store = await SessionStore.open(path, retention_days=30, sweep_seconds=0.05)
    assert await store.load("whatsapp", "old-family") is not None  # now also in memory
    _age(path, "old-family", 45)
    for _ in range(200):  # nobody writes: the sweep comes by itself
        if _users(path) == {"new-family"}:
            break
        await asyncio.sleep(0.05)
    assert _users(path) == {"new-family"}
    assert await store.load("whatsapp", "old-family") is None  # not served from memory either
    assert await store.alias_of("whatsapp", "39333111") is None
    await store.close()


def test_python_m_bot_purge_erases_and_says_how_many(tmp_path: Path):
    path = tmp_path / "b.sqlite3"
    asyncio.run(_two_families(path))
    _age(path, "old-family", 8)
    env = {**os.environ, "BOT_RETENTION_DAYS": "7"}
    run = subprocess.run([sys.executable, "-m", "bot", "purge", "--db", str(path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("1 conversation(s) untouched for 7 days erased")
    assert _users(path) == {"new-family"}


async def test_a_family_whose_conversation_expired_is_greeted_afresh(tmp_path: Path, res):
    path = tmp_path / "b.sqlite3"
    store = await SessionStore.open(path, retention_days=30)
    conversation = Conversation(res, store, lambda: TODAY)
    await conversation.handle("telegram", "77", Text("Bresso"))
    assert (await store.load("telegram", "77")).comune == "015032"
    _age(path, "77", 31)
    await store.purge(30)
    replies = await conversation.handle("telegram", "77", Text("9"))
    assert replies[0].sections[0].body == res.catalogs.get("it")(T.WELCOME)  # greeted, as a first message
    assert (await store.load("telegram", "77")).comune is None  # the old town is gone
    await store.close()


@pytest.mark.parametrize("value", ["0", "-3", "thirty", "1.5"])
def test_a_retention_that_is_not_a_number_of_days_is_one_clear_error(value):
    with pytest.raises(SettingsError, match="BOT_RETENTION_DAYS"):
        Config.from_env({"BOT_RETENTION_DAYS": value})


def test_retention_defaults_to_thirty_days():
    assert Config.from_env({}).retention_days == 30


async def test_forget_also_erases_unsent_answers_and_number_links(tmp_path: Path):
    path = tmp_path / "b.sqlite3"
    await _two_families(path)
    store = await SessionStore.open(path)
    await store.save("whatsapp", "old-family", None, outbox=[("39333", '{"text": "forgotten"}')])
    assert await store.load("whatsapp", "old-family") is None
    assert [q.body for q in await store.queued("whatsapp", "old-family")] == ['{"text": "forgotten"}']
    assert await store.alias_of("whatsapp", "39333111") is None
    assert len(await store.queued("whatsapp", "new-family")) == 1  # nobody else's
    await store.close()
