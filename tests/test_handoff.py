"""A person behind the bot (issue 14): a family asks for a person, the operators' Telegram
group gets an Italian card, replies go both ways, the bot is silent until /fine, and a
restart in the middle loses nothing. Offline, through PTB's process_update and a fake Bot API."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram import Update

from bot.channels.telegram import TelegramChannel, attach_desk, build_application
from bot.channels.whatsapp import WhatsAppChannel, create_app
from bot.config import Config, HandoffTemplate, SettingsError, TelegramSettings, WhatsAppSettings
from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.context import State
from bot.knowledge import Hours, HoursBlock, Mediator, Operators, Slot
from bot.store import SessionStore
from tests.conftest import TODAY, Chat
from tests.telegram_fakes import GROUP, TOKEN, RecordingRequest, Updates, operator_reply
from tests.test_whatsapp import SETTINGS as WHATSAPP
from tests.test_whatsapp import GraphApi, Webhook

FAMILY = 8123456789


def unmarked(text: str) -> str:
    """Without the invisible marks that keep right-to-left text in order."""
    return text.translate(dict.fromkeys(map(ord, "\u200e\u200f\u2066\u2067\u2068\u2069")))


class Desk:
    """One Telegram bot process: families in private chats, the operators' group beside them."""

    def __init__(self, res, db: Path, whatsapp: WhatsAppSettings = WHATSAPP, clock=lambda: TODAY):
        self.res, self.db, self.whatsapp_settings = replace(res, people=True), db, whatsapp
        self.later = 0.0  # seconds the desk's clock is ahead of the real one
        self.clock = clock  # what the dialog is told of time: today, or the time in Milan

    async def start(self) -> Desk:
        self.store = await SessionStore.open(self.db)
        self.api = RecordingRequest()
        self.channel = TelegramChannel(None, self.res.catalogs)
        self.app = build_application(TelegramSettings(token=TOKEN), self.channel, request=self.api,
                                     updates_request=RecordingRequest())
        conversation = Conversation(self.res, self.store, self.clock)
        self.channel.attach_outbox(conversation)
        self.graph = GraphApi()  # families on WhatsApp, in the same process
        self.whatsapp = WhatsAppChannel(self.whatsapp_settings, None, self.res.catalogs,
                                        session=httpx.AsyncClient(transport=httpx.MockTransport(self.graph)))
        self.whatsapp.attach_outbox(conversation)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self.whatsapp)),
                                      base_url="http://127.0.0.1")
        self.wa = Webhook(self.http, self.graph, self.whatsapp)
        await self.app.initialize()
        self.desk = await attach_desk(self.channel, conversation, GROUP, others={"whatsapp": self.whatsapp})
        self.desk.clock = lambda: time.time() + self.later
        return self

    async def stop(self) -> None:
        await self.desk.close()
        for channel in (self.channel, self.whatsapp):
            assert channel.outbox is not None
            await channel.outbox.close()
        await self.http.aclose()
        await self.app.shutdown()
        await self.store.close()

    async def feed(self, data: dict) -> None:
        await self.app.process_update(Update.de_json(data, self.app.bot))
        await self.drained()

    async def drained(self) -> None:
        for channel in (self.channel, self.whatsapp):
            assert channel.outbox is not None and await channel.outbox.drained(10)

    def at(self, moment: datetime) -> None:
        """Move the desk's clock (and the dialog's, if it follows it) to `moment`."""
        self.later = moment.timestamp() - time.time()

    async def remind(self) -> None:
        """One look for families nobody answered in time, as the running bot takes every minute."""
        await self.desk.remind_unanswered()
        await self.drained()

    def to_family(self) -> list[str]:
        """What the family read (without the invisible marks that keep right-to-left text in order)."""
        return [unmarked(p["text"]) for p in self.api.sent() if int(p["chat_id"]) == FAMILY]

    def to_group(self) -> list[dict]:
        return [p for p in self.api.sent() if int(p["chat_id"]) == GROUP]

    def card_id(self) -> int:
        """The message id the fake Bot API gave the last card posted in the group."""
        ids, card = 100, 0
        for call in self.api.calls:
            if call.method in ("sendMessage", "editMessageReplyMarkup", "editMessageText", "createForumTopic"):
                ids += 1
                if call.method == "sendMessage" and "chiede di parlare" in call.params.get("text", ""):
                    card = ids
        return card


def _reply_to(params: dict) -> int:
    reply = params.get("reply_parameters")
    reply = json.loads(reply) if isinstance(reply, str) else reply
    return int(reply["message_id"])


@pytest.fixture
async def desk(res, tmp_path: Path):
    d = await Desk(res, tmp_path / "desk.sqlite3").start()
    yield d
    await d.stop()


async def test_an_arabic_family_is_answered_by_a_person_and_the_bot_keeps_quiet_until_fine(desk: Desk, res):
    family = Updates(user_id=FAMILY, language_code="ar")
    ar = res.catalogs.get("ar")
    for data in (family.text("/start"), family.press("c:015077"), family.press("a:6-14"), family.press("n:school")):
        await desk.feed(data)
    assert "h:person" in [b["callback_data"] for b in desk.api.last_keyboard()]  # a person, under the results
    await desk.feed(family.press("h:person"))
    assert ar(T.PERSON_ASKED) in desk.to_family()[-1]

    card = desk.to_group()[-1]
    assert "Lingua: arabo" in card["text"] and "Cinisello Balsamo" in card["text"] and "Scuola" in card["text"]
    assert "Servizio di integrazione scolastica" in card["text"]  # what the family was already shown
    assert str(FAMILY) not in json.dumps(desk.to_group())  # no platform id in the group
    card_id = desk.card_id()

    before = len(desk.to_family())
    await desk.feed(family.text("مرحبا، ابني لا يتكلم الإيطالية"))
    assert len(desk.to_family()) == before  # silence: no menu, no "I did not understand"
    relayed = desk.to_group()[-1]
    assert relayed["text"] == "💬 مرحبا، ابني لا يتكلم الإيطالية" and int(_reply_to(relayed)) == card_id

    await desk.feed(operator_reply(9001, "Buongiorno, la chiamo domani alle 10 con una mediatrice.", card_id))
    answer = desk.to_family()[-1]
    assert "Buongiorno, la chiamo domani alle 10 con una mediatrice." in answer
    assert ar(T.FROM_PERSON) in answer  # marked as coming from a person

    await desk.feed(operator_reply(9002, "/fine", card_id))
    assert ar(T.PERSON_DONE) in desk.to_family()[-2] or ar(T.PERSON_DONE) in desk.to_family()[-1]
    session = await desk.store.load("telegram", desk.channel.key_of(str(FAMILY)))
    assert session.state == State.RESULTS  # the bot takes over where the dialog was
    assert await desk.store.handoff_of("telegram", desk.channel.key_of(str(FAMILY))) is None  # address erased
    await desk.feed(family.text("/help"))
    assert ar(T.PERSON_WAITING) not in desk.to_family()[-1]  # the bot answers again


async def test_a_restart_in_the_middle_of_a_hand_off_loses_nothing(res, tmp_path: Path):
    db = tmp_path / "desk.sqlite3"
    first = await Desk(res, db).start()
    family = Updates(user_id=FAMILY, language_code="it")
    await first.feed(family.text("/start"))
    await first.feed(family.text("voglio parlare con una persona"))
    card_id = first.card_id()
    assert "Una famiglia chiede di parlare con una persona" in first.to_group()[-1]["text"]
    await first.stop()

    again = await Desk(res, db).start()  # a new process on the same database
    try:
        update = operator_reply(9100, "Sono Giulia della cooperativa: come posso aiutarla?", card_id)
        await again.feed(update)
        await again.feed(update)  # Telegram delivers it again: answered once
        assert again.to_family() == [f"<b>{res.catalogs.get('it')(T.FROM_PERSON)}</b>\n"
                                     "Sono Giulia della cooperativa: come posso aiutarla?"]
        await again.feed(family.text("Grazie, abito a Bresso"))
        assert again.to_family()[1:] == []  # still silent
        assert again.to_group()[-1]["text"] == "💬 Grazie, abito a Bresso"
    finally:
        await again.stop()


async def test_a_family_message_saved_but_not_relayed_before_a_crash_reaches_the_group_at_the_next_start(
        res, tmp_path: Path, monkeypatch):
    from bot.store import sessions

    # The process that saved the effect holds it for EFFECT_LEASE seconds (so that no other
    # process relays it twice); here that hold has run out by the time the bot is back.
    monkeypatch.setattr(sessions, "EFFECT_LEASE", 0.0)
    db = tmp_path / "desk.sqlite3"
    first = await Desk(res, db).start()
    family = Updates(user_id=FAMILY, language_code="it")
    await first.feed(family.text("/start"))
    await first.feed(family.text("/persona"))
    first.channel.attached.handlers.clear()  # the process dies between saving the turn and relaying it
    await first.feed(family.text("Mio figlio ha 9 anni"))
    assert first.to_group()[-1]["text"] != "💬 Mio figlio ha 9 anni"
    await first.stop()

    again = await Desk(res, db).start()
    try:
        assert again.to_group()[-1]["text"] == "💬 Mio figlio ha 9 anni"
    finally:
        await again.stop()


async def test_the_family_comes_back_to_the_bot_with_slash_bot_and_the_group_is_told(desk: Desk, res):
    family = Updates(user_id=FAMILY, language_code="it")
    await desk.feed(family.text("/start"))
    await desk.feed(family.text("/persona"))
    await desk.feed(family.text("/bot"))
    it = res.catalogs.get("it")
    assert it(T.BACK_TO_BOT) in desk.to_family()[-1] or it(T.BACK_TO_BOT) in desk.to_family()[-2]
    assert "tornata al bot" in desk.to_group()[-1]["text"]
    before = len(desk.to_family())
    await desk.feed(operator_reply(9200, "Ci sei?", desk.card_id()))
    assert len(desk.to_family()) == before  # a closed hand-off reaches nobody


async def test_forget_during_a_hand_off_tells_the_group_and_keeps_nothing(desk: Desk):
    family = Updates(user_id=FAMILY, language_code="it")
    await desk.feed(family.text("/start"))
    await desk.feed(family.text("/persona"))
    await desk.feed(family.text("/forget"))
    assert "cancellare i suoi dati" in desk.to_group()[-1]["text"]
    key = desk.channel.key_of(str(FAMILY))
    assert await desk.store.handoff_of("telegram", key) is None
    assert await desk.store.load("telegram", key) is None


async def whatsapp_family_asks_for_a_person(desk: Desk) -> int:
    """An Arabic-speaking family on WhatsApp reaches a person; the card's message id."""
    await desk.wa.text("مرحبا")
    for row in ("c:015077", "a:6-14", "n:school"):
        await desk.wa.choose(row)
    await desk.wa.choose("h:person", "button_reply")
    for channel in (desk.channel, desk.whatsapp):
        assert channel.outbox is not None and await channel.outbox.drained(10)
    assert "Canale: WhatsApp" in desk.to_group()[-1]["text"]
    return desk.card_id()


async def test_a_whatsapp_familys_operator_answers_within_the_24_hours(desk: Desk, res):
    card_id = await whatsapp_family_asks_for_a_person(desk)
    desk.later = 23 * 3600  # the family wrote 23 hours ago: still inside WhatsApp's window
    await desk.feed(operator_reply(9300, "Buongiorno, sono Samira, mediatrice.", card_id))
    assert "Buongiorno, sono Samira, mediatrice." in desk.graph.texts()[-1]
    assert res.catalogs.get("ar")(T.FROM_PERSON) in desk.graph.texts()[-1]


async def test_after_whatsapps_24_hours_the_operator_is_told_at_once_and_nothing_is_lost_silently(desk: Desk):
    card_id = await whatsapp_family_asks_for_a_person(desk)
    sent = len(desk.graph.messages())
    desk.later = 25 * 3600
    await desk.feed(operator_reply(9301, "Buongiorno, sono Samira, mediatrice.", card_id))
    assert len(desk.graph.messages()) == sent  # WhatsApp would refuse it: not sent
    notice = desk.to_group()[-1]["text"]
    assert "24 ore" in notice and "non le è arrivato" in notice

    await desk.wa.text("Sono qui")  # the family writes again: the window opens again
    assert desk.to_group()[-1]["text"] == "💬 Sono qui"
    desk.later = 0
    await desk.feed(operator_reply(9302, "Eccomi: domani alle 10?", card_id))
    assert "Eccomi: domani alle 10?" in desk.graph.texts()[-1]


async def test_after_24_hours_the_configured_template_goes_to_the_family_in_its_language(res, tmp_path: Path):
    template = HandoffTemplate.parse("orienta_risposta:it,ar,en_US")
    desk = await Desk(res, tmp_path / "desk.sqlite3", replace(WHATSAPP, handoff_template=template)).start()
    try:
        card_id = await whatsapp_family_asks_for_a_person(desk)
        desk.later = 30 * 3600
        update = operator_reply(9303, "Buongiorno, sono Samira.", card_id)
        await desk.feed(update)
        await desk.feed(update)  # delivered twice by Telegram: one template
        templates = [m for m in desk.graph.messages() if m["type"] == "template"]
        assert [(t["template"]["name"], t["template"]["language"]["code"]) for t in templates] == [
            ("orienta_risposta", "ar")]
        assert "«orienta_risposta»" in desk.to_group()[-1]["text"]
        assert "Samira" not in json.dumps(desk.graph.messages())  # the operator's words are not sent
    finally:
        await desk.stop()


@pytest.mark.parametrize("value", ["Orienta Risposta", "orienta:italiano", "orienta:it,"])
def test_a_malformed_template_setting_is_one_clear_error(value):
    if value == "orienta:it,":  # a trailing comma is forgiven: the languages are it
        assert HandoffTemplate.parse(value) == HandoffTemplate("orienta", ("it",))
        return
    with pytest.raises(SettingsError, match="WHATSAPP_HANDOFF_TEMPLATE"):
        HandoffTemplate.parse(value)


ROME = ZoneInfo("Europe/Rome")
WEEKDAYS_9_TO_17 = Hours("published", (HoursBlock(None, (Slot((0, 1, 2, 3, 4), dt.time(9), dt.time(17)),)),))


def with_operators(res, **fields):
    """Resources whose operators' group is read Monday to Friday, 9 to 17, with these changes."""
    operators = Operators(**{"hours": WEEKDAYS_9_TO_17, **fields})
    return replace(res, people=True, kb=replace(res.kb, operators=operators))


@pytest.mark.parametrize(("now", "told"), [
    (datetime(2026, 11, 28, 11, 0), (0, "09:00")),  # Saturday: read on Monday
    (datetime(2026, 11, 25, 18, 30), (3, "09:00")),  # Wednesday evening: Thursday morning
    (datetime(2026, 12, 8, 10, 0), (2, "09:00")),  # Tuesday, but the Immacolata: Wednesday
    (datetime(2026, 11, 25, 10, 0), None),  # Wednesday morning: someone reads it now
])
def test_outside_the_operators_hours_the_family_is_told_when_someone_reads_it(res, now, told):
    chat = Chat(with_operators(res), lang="it", today=now)
    chat.start()
    chat.command("persona")
    it = res.catalogs.get("it")
    said = chat.replies[0].text
    assert it(T.PERSON_ASKED) in said
    if told:
        assert it(T.PERSON_LATER, day=it.day_names([told[0]]), time=told[1]) in said
    else:
        assert "nessuno legge" not in said


def test_without_the_operators_hours_no_time_is_promised(res):
    chat = Chat(replace(res, people=True), lang="it", today=datetime(2026, 11, 28, 23, 0))
    chat.start()
    chat.command("persona")
    assert "nessuno legge" not in chat.replies[0].text  # knowledge/operators.yaml ships no hours


async def test_a_request_on_saturday_names_the_mediator_and_is_recalled_on_monday_if_nobody_answers(
        res, tmp_path: Path):
    samira = Mediator("@samira_pi", ("ar", "fr"), WEEKDAYS_9_TO_17)
    desk = Desk(with_operators(res, mediators=(samira, Mediator("@olena_pi", ("uk",)))), tmp_path / "d.sqlite3",
                clock=lambda: datetime.fromtimestamp(time.time() + desk.later, ROME).replace(tzinfo=None))
    await desk.start()
    try:
        desk.at(datetime(2026, 11, 28, 11, 0, tzinfo=ROME))  # a Saturday
        family = Updates(user_id=FAMILY, language_code="ar")
        await desk.feed(family.text("/start"))
        await desk.feed(family.text("/persona"))
        ar = res.catalogs.get("ar")
        later = ar(T.PERSON_LATER, day=ar.day_names([0]), time=ar.clock(dt.time(9)))
        assert unmarked(later) in desk.to_family()[-1]
        card = desk.to_group()[-1]["text"]
        assert "Mediatori che parlano arabo: @samira_pi (" in card and "@olena_pi" not in card
        assert "Arrivata fuori orario" in card and "lunedì dalle 09:00" in card

        desk.at(datetime(2026, 11, 30, 12, 59, tzinfo=ROME))  # Monday, 3 h 59 min after the group opened
        await desk.remind()
        told = len(desk.to_family())
        desk.at(datetime(2026, 11, 30, 13, 1, tzinfo=ROME))  # 4 h: nobody answered
        await desk.remind()
        await desk.remind()  # told once
        assert len(desk.to_family()) == told + 1
        reminder = desk.to_family()[-1]
        assert unmarked(ar(T.PERSON_NO_ANSWER, contacts="")).rstrip() in reminder
        assert all(c.value in reminder for c in res.kb.fallback.contacts)
        assert desk.to_group()[-1]["text"].startswith("⏰ Nessuno ha ancora risposto")
        session = await desk.store.load("telegram", desk.channel.key_of(str(FAMILY)))
        assert session.state == State.WITH_PERSON  # still open: a person may answer here
    finally:
        await desk.stop()


async def test_a_family_answered_in_time_gets_no_reminder(res, tmp_path: Path):
    desk = Desk(with_operators(res), tmp_path / "d.sqlite3")
    await desk.start()
    try:
        desk.at(datetime(2026, 11, 25, 10, 0, tzinfo=ROME))
        family = Updates(user_id=FAMILY, language_code="it")
        await desk.feed(family.text("/start"))
        await desk.feed(family.text("/persona"))
        await desk.feed(operator_reply(9400, "Buongiorno!", desk.card_id()))
        desk.at(datetime(2026, 11, 25, 18, 0, tzinfo=ROME))
        before = len(desk.to_family())
        await desk.remind()
        assert len(desk.to_family()) == before
    finally:
        await desk.stop()


def test_without_an_operators_group_the_family_gets_the_contacts_not_a_promise(res):
    chat = Chat(res)
    chat.say("Ciao")
    chat.command("persona")
    said = chat.replies[0].text
    assert all(c.value in said for c in res.kb.fallback.contacts)
    assert chat.session.state != State.WITH_PERSON


@pytest.mark.parametrize("phrase", ["voglio parlare con una persona", "talk to a human please",
                                    "je veux parler à quelqu'un", "quiero hablar con una persona"])
def test_asking_for_a_person_in_free_text_is_understood(res, phrase):
    assert res.nlu.wants_person(phrase)


def test_a_malformed_operators_chat_id_is_one_clear_error():
    with pytest.raises(SettingsError, match="OPERATORS_CHAT_ID"):
        Config.from_env({"OPERATORS_CHAT_ID": "operatori"})
    assert Config.from_env({"OPERATORS_CHAT_ID": str(GROUP)}).operators_chat_id == GROUP


async def test_a_database_from_before_the_24_hour_window_opens_and_keeps_its_hand_offs(tmp_path: Path):
    import sqlite3

    db = tmp_path / "old.sqlite3"
    store = await SessionStore.open(db)
    await store.close()
    with sqlite3.connect(db) as old:  # the handoffs table as the first hand-off release made it
        old.execute("DROP TABLE handoffs")
        old.execute("CREATE TABLE handoffs (channel TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL,"
                    " card INTEGER NOT NULL, thread INTEGER, opened TEXT NOT NULL, PRIMARY KEY (channel, user_id))")
        old.execute("INSERT INTO handoffs VALUES ('telegram', 'u1', 'x', 101, NULL, '2026-12-01T10:00:00+00:00')")
    store = await SessionStore.open(db)
    try:
        kept = await store.handoff_of("telegram", "u1")
        assert kept is not None and kept.card == 101 and kept.heard is None  # no window known: not refused
        await store.note_handoff_message(kept, 102)
        again = await store.handoff_of("telegram", "u1")
        assert again is not None and again.heard is not None
    finally:
        await store.close()


async def test_a_photo_of_a_telegram_family_reaches_the_group_as_it_is_and_can_be_answered(desk: Desk, res):
    family = Updates(user_id=FAMILY, language_code="it")
    await desk.feed(family.text("/start"))
    await desk.feed(family.text("/persona"))
    card_id = desk.card_id()
    photo = family.photo(caption="Il permesso di soggiorno")
    await desk.feed(photo)
    (copy,) = [c for c in desk.api.calls if c.method == "copyMessage"]
    assert int(copy.params["chat_id"]) == GROUP and int(copy.params["from_chat_id"]) == FAMILY
    assert int(copy.params["message_id"]) == photo["message"]["message_id"]
    assert _reply_to(copy.params) == card_id
    copied_id = desk.api._next_message_id  # what the fake Bot API gave the copy
    await desk.feed(operator_reply(9500, "Grazie, lo vedo: è scaduto a ottobre.", copied_id))
    assert "Grazie, lo vedo: è scaduto a ottobre." in desk.to_family()[-1]  # a reply to the photo reaches her


async def test_a_photo_of_a_whatsapp_family_is_fetched_from_meta_and_uploaded_to_the_group(desk: Desk):
    await whatsapp_family_asks_for_a_person(desk)
    desk.graph.media["m1"] = (b"\xff\xd8\xff\xe0 a jpeg", "image/jpeg")
    await desk.wa.post(desk.wa.payload({"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg"}}))
    await desk.drained()
    (upload,) = [c for c in desk.api.calls if c.method == "sendPhoto"]
    (_, content, _) = next(iter(upload.files.values()))
    assert content == b"\xff\xd8\xff\xe0 a jpeg" and upload.params["caption"] == "📎 La famiglia ha mandato una foto."

    await desk.wa.post(desk.wa.payload({"type": "document", "document": {"id": "gone", "filename": "x.pdf"}}))
    await desk.drained()  # Meta no longer has it: announced, not lost in silence
    assert desk.to_group()[-1]["text"].startswith("📎 La famiglia ha mandato un documento")


def test_kb_check_reminds_the_cooperative_to_write_the_operators_hours(res):
    from bot.knowledge import operator_warnings

    def said(kb):
        return [p for p in operator_warnings(kb, TODAY) if p.file == "operators.yaml"]

    assert [p.field for p in said(res.kb)] == ["hours"]  # shipped without hours
    assert said(with_operators(res).kb) == []
