"""Privacy by design (issue 13): no platform id, phone number, name or message text at rest or
in a log line; pseudonyms under a secret that stays with the database; /privacy in every
language; /forget leaves nothing tied to the user."""

from __future__ import annotations

import base64
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest
from telegram import Update

from bot.app import quiet_libraries
from bot.channels.telegram import TelegramChannel, build_application
from bot.config import TelegramSettings
from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.context import State
from bot.dialogs.model import Command, Session
from bot.pseudonyms import secret_path
from bot.store import SessionStore, StoreError
from tests.conftest import TODAY, Chat
from tests.telegram_fakes import RecordingRequest, Updates
from tests.test_languages import ORDER as LANGUAGES
from tests.test_whatsapp import SETTINGS, GraphApi, whatsapp_bot

TG_USER = 5550123987
TG_GROUP = -1009876543210
PHONE = "393471234567"
BSUID = "IT.8877665544332211"
NAMES = ("Zenebech", "Tesfaye", "zene_t", "Yonas")
TG_TEXTS = ("Mi chiamo Zenebech Tesfaye e abito a Cinisello Balsamo",
            "Mio figlio Yonas ha bisogno di aiuto a scuola")
WA_TEXTS = ("Salve, sono Zenebech Tesfaye, vivo a Bresso",
            "Yonas ha 9 anni e non parla italiano a scuola")


def _wamid(n: int) -> str:
    """A message id as Meta makes them: the sender's number is inside, in base64."""
    return "wamid." + base64.b64encode(f"\x15\x02{PHONE}\x15\x02\x12\x18 {n:020d}".encode()).decode()


def _wa_payload(n: int, message: dict) -> dict:
    message = {"from": PHONE, "from_user_id": BSUID, "id": _wamid(n), "timestamp": str(int(time.time())), **message}
    contact = {"profile": {"name": "Zenebech Tesfaye"}, "wa_id": PHONE, "user_id": BSUID}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "390200000000", "phone_number_id": SETTINGS.phone_id},
                      "contacts": [contact], "messages": [message]}}]}]}


def _at_rest(folder: Path) -> bytes:
    """Every byte of every database file (the database, its WAL and shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if ".sqlite3" in p.name
                    and not p.name.endswith(".secret"))


def _secrets() -> list[str]:
    """What must never be stored or logged: ids, numbers, names, the messages' words."""
    return [str(TG_USER), str(TG_GROUP), PHONE, BSUID, _wamid(1), *NAMES, *TG_TEXTS, *WA_TEXTS]


async def _telegram_dialog(res, db: Path) -> tuple[SessionStore, TelegramChannel]:
    store = await SessionStore.open(db)
    channel = TelegramChannel(None, res.catalogs)
    app = build_application(TelegramSettings(token="7000000001:AAH-fake-token-for-tests-0123456789abcdef"),
                            channel, request=RecordingRequest(), updates_request=RecordingRequest())
    channel.attach_outbox(Conversation(res, store, lambda: TODAY))
    await app.initialize()
    user = Updates(user_id=TG_USER)
    user.user.update(first_name="Zenebech", last_name="Tesfaye", username="zene_t")
    user.chat.update(first_name="Zenebech", last_name="Tesfaye", username="zene_t")
    group = Updates(user_id=TG_USER, chat_type="group", chat_id=TG_GROUP)
    for data in (user.text("/start"), user.text(TG_TEXTS[0]), user.press("a:6-14"), user.text(TG_TEXTS[1]),
                 user.text("/privacy"), group.text("ciao a tutti, sono Zenebech")):
        await app.process_update(Update.de_json(data, app.bot))
        assert channel.outbox is not None and await channel.outbox.drained(10)
    await app.shutdown()
    return store, channel


async def test_after_dialogs_on_telegram_and_whatsapp_no_id_name_or_text_is_stored_or_logged(
        res, tmp_path: Path, caplog):
    quiet_libraries()  # as the bot runs: the libraries' own debug lines are off
    caplog.set_level(logging.DEBUG)
    tg_store, tg = await _telegram_dialog(res, tmp_path / "tg.sqlite3")
    assert (await tg_store.load("telegram", tg.key_of(str(TG_USER)))).state == State.RESULTS

    wa_store = await SessionStore.open(tmp_path / "wa.sqlite3")
    graph = GraphApi()
    async with whatsapp_bot(res, wa_store, graph) as wa:
        for n, message in enumerate(({"type": "text", "text": {"body": WA_TEXTS[0]}},
                                     {"type": "text", "text": {"body": WA_TEXTS[1]}},
                                     {"type": "text", "text": {"body": "/privacy"}}), start=1):
            assert (await wa.post(_wa_payload(n, message))).status_code == 200
        assert wa.channel is not None
        assert (await wa_store.load("whatsapp", wa.channel.key_of(BSUID))).state == State.RESULTS
        assert {m["to"] for m in graph.messages()} == {PHONE}  # the replies did reach the family
        stored = _at_rest(tmp_path)  # while the bot runs: the WAL holds every recent write
        await tg_store.close()
        await wa_store.close()
    stored += _at_rest(tmp_path)
    logged = caplog.text
    assert caplog.records, "nothing was logged: the scan would prove nothing"
    for secret in _secrets():
        assert secret.encode() not in stored, f"{secret!r} is in a database file"
        assert secret not in logged, f"{secret!r} is in the log"


async def test_a_reply_waiting_to_be_sent_keeps_its_address_sealed(tmp_path: Path):
    store = await SessionStore.open(tmp_path / "s.sqlite3")
    key = store.pseudonyms.of("whatsapp", PHONE)
    await store.save("whatsapp", key, Session(), outbox=[(PHONE, '{"text": "ciao"}')])
    assert [q.address for q in await store.queued("whatsapp", key)] == [PHONE]  # the outbox can send it
    assert PHONE.encode() not in _at_rest(tmp_path)
    await store.close()
    assert PHONE.encode() not in _at_rest(tmp_path)


async def test_forget_leaves_nothing_tied_to_the_user(res, tmp_path: Path):
    graph = GraphApi()
    store = await SessionStore.open(tmp_path / "wa.sqlite3")
    async with whatsapp_bot(res, store, graph) as wa:
        await wa.post(_wa_payload(1, {"type": "text", "text": {"body": WA_TEXTS[0]}}))
        await wa.post(_wa_payload(2, {"type": "text", "text": {"body": "/forget"}}))
        assert wa.channel is not None
        keys = {wa.channel.key_of(BSUID), wa.channel.key_of(PHONE)}
    said = graph.texts()[-1]
    assert said == res.catalogs.get("it")(T.FORGOTTEN)  # and it says what it cannot erase: the chat in the app
    await store.close()
    with sqlite3.connect(tmp_path / "wa.sqlite3") as db:
        for table, column in (("sessions", "user_id"), ("outbox", "user_id"), ("aliases", "user_id"),
                              ("aliases", "alias")):
            rows = db.execute(f"SELECT count(*) FROM {table} WHERE {column} IN (?, ?)", tuple(keys)).fetchone()
            assert rows == (0,), f"{table}.{column} still holds the user"
        assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)


async def test_the_secret_is_made_once_beside_the_database_readable_only_by_its_owner(tmp_path: Path, caplog):
    db = tmp_path / "s.sqlite3"
    with caplog.at_level(logging.WARNING):
        store = await SessionStore.open(db)
    assert [r for r in caplog.records if "made a new secret" in r.getMessage()]
    key = store.pseudonyms.of("telegram", "42")
    await store.save("telegram", key, Session(comune="015032"))
    await store.close()
    assert stat.S_IMODE(os.stat(secret_path(db)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600  # the database too
    caplog.clear()
    again = await SessionStore.open(db)
    assert not caplog.records  # said once, on the first start only
    assert again.pseudonyms.of("telegram", "42") == key
    assert (await again.load("telegram", key)).comune == "015032"  # the conversation goes on
    await again.close()


def test_processes_starting_together_on_a_new_database_make_one_secret(tmp_path: Path):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from bot import pseudonyms

    for n in range(40):
        db, start = tmp_path / f"new{n}.sqlite3", Barrier(8)

        def starting(db: Path = db, start: Barrier = start) -> bytes:
            start.wait()  # all at the same moment, as replicas started together
            return pseudonyms.load(None, db).of("telegram", "42").encode()

        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(lambda _: starting(), range(8)))  # none finds a half-written secret
        assert len(set(keys)) == 1
        assert [f.name for f in tmp_path.iterdir() if f.name.startswith(db.name)] == [secret_path(db).name]


async def test_bot_secret_takes_the_place_of_the_file_and_a_wrong_one_is_refused(tmp_path: Path):
    db = tmp_path / "s.sqlite3"
    store = await SessionStore.open(db, secret="a" * 64)
    await store.save("telegram", store.pseudonyms.of("telegram", "42"), Session())
    await store.close()
    assert not secret_path(db).exists()
    with pytest.raises(StoreError, match="another secret"):
        await SessionStore.open(db, secret="b" * 64)
    with pytest.raises(StoreError, match="secret of this database is missing"):
        await SessionStore.open(db)  # no BOT_SECRET and no file: not a new secret that loses everyone
    assert not secret_path(db).exists()
    store = await SessionStore.open(db, secret="a" * 64)
    assert await store.load("telegram", store.pseudonyms.of("telegram", "42")) is not None
    await store.close()


def test_a_short_bot_secret_is_one_clear_error():
    from bot.config import Config, SettingsError

    with pytest.raises(SettingsError, match="BOT_SECRET"):
        Config.from_env({"BOT_SECRET": "hunter2"})


async def test_a_database_of_the_previous_version_is_rekeyed_and_keeps_its_conversations(res, tmp_path: Path):
    """Before pseudonyms, ids and addresses were stored in clear: the first start of this
    version replaces them, the family's conversation goes on, and no page keeps the old ids."""
    db = tmp_path / "old.sqlite3"
    store = await SessionStore.open(db)
    await store.close()
    with sqlite3.connect(db) as raw:  # what the previous version wrote
        raw.execute("PRAGMA user_version = 0")
        raw.execute("DELETE FROM meta WHERE key = 'secret'")  # (its tables, as migrated, are kept)
        raw.execute("INSERT INTO sessions (channel, user_id, data, updated_at) VALUES ('whatsapp', ?, ?, ?)",
                    (BSUID, '{"state": "ask_age", "comune": "015032", "lang": "it"}', "2026-12-01T10:00:00+00:00"))
        raw.execute("INSERT INTO outbox (channel, user_id, address, body, created) VALUES ('whatsapp', ?, ?, ?, 0)",
                    (BSUID, PHONE, '{"text": "x"}'))
        raw.execute("INSERT INTO aliases (channel, alias, user_id) VALUES ('whatsapp', ?, ?)", (PHONE, BSUID))
    os.remove(secret_path(db))
    store = await SessionStore.open(db)
    key = store.pseudonyms.of("whatsapp", BSUID)
    assert (await store.load("whatsapp", key)).comune == "015032"
    assert [q.address for q in await store.queued("whatsapp", key)] == [PHONE]
    assert await store.alias_of("whatsapp", store.pseudonyms.of("whatsapp", PHONE)) == key
    await store.close()
    stored = _at_rest(tmp_path)
    assert PHONE.encode() not in stored and BSUID.encode() not in stored


@pytest.mark.parametrize("lang", LANGUAGES)
def test_privacy_answers_in_every_language_with_the_contact_and_the_period(res, lang):
    tr = res.catalogs.get(lang)
    chat = Chat(res)
    chat.send(Command("start", "", lang))
    assert tr(T.PRIVACY_POINTER) in chat.replies[0].text  # the first message points to it
    chat.command("privacy")
    notice = chat.replies[0].text
    if lang != "it":
        assert tr.messages.get(T.PRIVACY) and "Chi tiene i tuoi dati" not in notice  # translated, not Italian
    assert tr.days(res.retention_days) in notice.replace("\u2068", "").replace("\u2069", "")
    assert all(c.value in notice for c in res.kb.fallback.contacts)
    assert "/forget" in notice
    assert chat.session is not None and chat.session.state == State.ASK_COMUNE  # the dialog goes on


async def test_privacy_before_anything_else_is_answered_then_the_bot_greets(res):
    chat = Chat(res)
    chat.command("privacy")
    assert "Chi tiene i tuoi dati" in chat.replies[0].text
    assert chat.session is not None and chat.session.state == State.ASK_COMUNE


def test_the_sealed_address_is_only_readable_with_the_secret():
    from bot.pseudonyms import Pseudonyms

    ours, theirs = Pseudonyms(b"x" * 32), Pseudonyms(b"y" * 32)
    sealed = ours.seal(PHONE)
    assert PHONE not in sealed and ours.unseal(sealed) == PHONE and theirs.unseal(sealed) is None
    assert ours.of("whatsapp", PHONE) != theirs.of("whatsapp", PHONE)
    assert ours.of("whatsapp", PHONE) != ours.of("telegram", PHONE)

