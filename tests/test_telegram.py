"""Telegram, offline: real PTB Application, a recording fake Bot API, genuine update JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import Application

from bot.channels.telegram import (
    SettingsError,
    TelegramChannel,
    build_application,
    render,
)
from bot.config import TelegramSettings
from bot.conversation import Conversation
from bot.dialogs.model import Reply, Section
from bot.store import SessionStore
from tests.conftest import TODAY
from tests.telegram_fakes import TOKEN, RecordingRequest, Updates


@dataclass
class Harness:
    app: Application
    api: RecordingRequest
    errors: list[BaseException]
    store: SessionStore
    channel: TelegramChannel

    async def feed(self, data: dict) -> None:
        await self.app.process_update(Update.de_json(data, self.app.bot))
        await self.drained()

    async def drained(self) -> None:
        assert self.channel.outbox is not None
        assert await self.channel.outbox.drained(10), "answers still waiting after 10 s"


@pytest.fixture
async def tg(res, tmp_path: Path):
    store = await SessionStore.open(tmp_path / "tg.sqlite3")
    api = RecordingRequest()
    channel = TelegramChannel(None, res.catalogs, audiences=tuple(res.kb.audiences.values()))
    app = build_application(TelegramSettings(token=TOKEN), channel, request=api, updates_request=RecordingRequest())
    channel.attach_outbox(Conversation(res, store, lambda: TODAY))
    errors: list[BaseException] = []

    async def record(update: object, context) -> None:
        errors.append(context.error)

    app.add_error_handler(record)
    await app.initialize()
    harness = Harness(app, api, errors, store, channel)
    yield harness
    await channel.outbox.close()
    await app.shutdown()
    await store.close()


async def test_start_asks_the_comune_with_an_inline_keyboard(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    (sent,) = tg.api.sent()  # the greeting and the first question in one message
    assert "Progetto Integrazione" in sent["text"] and "In quale comune abiti?" in sent["text"]
    assert sent["parse_mode"] == "HTML"
    buttons = tg.api.last_keyboard()
    assert [b["text"] for b in buttons][:2] == ["Milano", "Monza"]
    for b in buttons:  # short ASCII codes, never the translated labels
        assert b["callback_data"].isascii() and len(b["callback_data"].encode()) <= 64
    assert tg.errors == []


async def test_whole_dialog_by_button_presses(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    for data in ("c:015077", "a:6-14", "n:school"):
        tg.api.clear()
        await tg.feed(user.press(data))
        methods = tg.api.methods()
        assert methods[0] == "answerCallbackQuery"
        edit = next(c for c in tg.api.calls if c.method == "editMessageReplyMarkup")
        assert not edit.params.get("reply_markup")  # the spent keyboard is removed
    text = "\n".join(tg.api.texts())
    assert "<b>Servizio di integrazione scolastica – Ambito di Cinisello Balsamo</b>" in text
    assert "Va bene per te: Cinisello Balsamo, 6-14 anni, Scuola." in text
    assert tg.errors == []


async def test_whole_dialog_by_text(tg: Harness):
    user = Updates(language_code="en")
    await tg.feed(user.text("/start"))
    await tg.feed(user.text("I live in Bresso, my son is 9 years old and needs help at school"))
    text = "\n".join(tg.api.texts())
    assert "I understand: Bresso, 6-14 years, School." in text
    assert "Cinisello Balsamo" in text
    assert tg.errors == []


async def test_deep_link_presets_language_comune_and_need(tg: Harness):
    user = Updates(language_code="it")
    await tg.feed(user.text("/start len_c015077_nschool"))
    assert "How old is the person who needs help?" in tg.api.texts()[-1]
    assert tg.errors == []


async def test_ukraina_command_opens_in_ukrainian_for_people_from_ukraine(tg: Harness):
    user = Updates(language_code="it")
    await tg.feed(user.text("/ukraina"))
    first = tg.api.texts()[0]
    assert "України" in first
    assert tg.errors == []


async def test_stale_button_gets_the_current_question(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    await tg.feed(user.text("Monza"))
    tg.api.clear()
    await tg.feed(user.press("c:015146", on_message_id=5))
    (text,) = tg.api.texts()  # one message: the notice and the question
    assert "Questo menu non vale più" in text and "Quanti anni" in text
    assert tg.errors == []


async def test_location_and_sticker(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    await tg.feed(user.sticker())
    assert "Non posso leggere foto, audio o adesivi" in tg.api.texts()[-1]
    await tg.feed(user.location(45.5376, 9.1890))
    assert any("Dalla posizione: Bresso." in t for t in tg.api.texts())
    assert tg.errors == []


async def test_a_429_is_honoured_and_the_message_still_arrives(tg: Harness):
    user = Updates()
    tg.api.scripted["sendMessage"] = [(429, {"ok": False, "error_code": 429,
                                             "description": "Too Many Requests: retry after 1",
                                             "parameters": {"retry_after": 1}})]
    await tg.feed(user.text("/start"))
    assert tg.api.methods().count("sendMessage") == 2  # the refused one, then the same again
    assert tg.api.texts()[0] == tg.api.texts()[1] and "Progetto Integrazione" in tg.api.texts()[1]
    assert tg.errors == []


async def test_a_press_too_old_to_acknowledge_still_gets_the_dialog(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    tg.api.scripted["answerCallbackQuery"] = [(400, {"ok": False, "error_code": 400,
                                                     "description": "Bad Request: query is too old"})]
    await tg.feed(user.press("c:015146"))
    assert "Quanti anni" in tg.api.texts()[-1]
    assert tg.errors == []


async def test_network_error_on_send_is_retried(tg: Harness):
    user = Updates()
    tg.api.scripted["sendMessage"] = [(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})]
    await tg.feed(user.text("/start"))
    assert "Progetto Integrazione" in tg.api.texts()[1]
    assert tg.errors == []


async def test_same_update_twice_is_answered_once(tg: Harness):
    user = Updates()
    update = user.text("/start")
    await tg.feed(update)
    count = len(tg.api.sent())
    await tg.feed(update)
    assert len(tg.api.sent()) == count
    assert tg.errors == []


async def test_group_chat_gets_one_notice_then_silence(tg: Harness):
    group = Updates(chat_type="group", chat_id=-100555)
    await tg.feed(group.text("/start"))
    await tg.feed(group.text("/start"))
    texts = tg.api.texts()
    assert len(texts) == 1
    assert "Rispondo solo nelle chat private" in texts[0] and "https://t.me/orienta_test_bot" in texts[0]


async def test_user_text_is_escaped_for_html(tg: Harness):
    user = Updates()
    await tg.feed(user.text("/start"))
    await tg.feed(user.text("<b>Xyzz</b>"))
    text = tg.api.texts()[-1]
    assert "«&lt;b&gt;Xyzz&lt;/b&gt;»" in text
    assert tg.errors == []


async def test_language_follows_the_app_and_can_be_changed(tg: Harness):
    user = Updates(language_code="uk")
    await tg.feed(user.text("/start"))
    assert "У якому місті" in tg.api.texts()[-1]
    await tg.feed(user.text("/language"))
    await tg.feed(user.press("l:en"))
    assert "OK, let's speak English." in tg.api.texts()[-1]


async def test_command_menu_and_description_in_every_language(tg: Harness):
    await tg.channel.describe_bot(tg.app)
    menus = {c.params.get("language_code"): c.params["commands"]
             for c in tg.api.calls if c.method == "setMyCommands"}
    assert set(menus) == {None, *tg.channel.catalogs.codes}
    names = [json.loads(c)["command"] if isinstance(c, str) else c["command"] for c in menus["uk"]]
    audiences = [a.command for a in tg.channel.conversation.resources.kb.audiences.values()]
    assert names == ["start", "restart", "back", "language", *audiences, "persona", "help", "privacy", "forget"]
    assert "ukraina" in names  # the Ukrainian entry point of knowledge/audiences.yaml
    descriptions = {c.params.get("language_code") for c in tg.api.calls if c.method == "setMyDescription"}
    assert descriptions == {None, *tg.channel.catalogs.codes}


async def test_a_failure_is_apologised_for_and_logged_without_text(tg: Harness, monkeypatch, caplog):
    user = Updates()

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(tg.channel.conversation, "handle", broken)
    await tg.feed(user.text("la mia via è Via Segreta 1"))
    assert "c'è stato un problema" in tg.api.texts()[-1]
    assert "Via Segreta" not in caplog.text and "Amina" not in caplog.text
    assert len(tg.errors) == 1


def test_long_answer_is_split_at_service_boundaries():
    cards = tuple(Section(body="x" * 1500, title=f"Servizio {i}") for i in range(6))
    from bot.dialogs.model import Button

    chunks = render([Reply(cards, (Button("x:new", "Ricomincia"),))])
    assert len(chunks) > 1
    assert all(len(text) <= 4096 for text, _ in chunks)
    assert all(text.startswith("<b>Servizio") for text, _ in chunks)  # never cut inside a card
    assert [markup is not None for _, markup in chunks] == [False] * (len(chunks) - 1) + [True]


def test_markup_in_data_is_escaped():
    (text, _), = render([Reply((Section(body="a < b & c", title="<i>T</i>"),))])
    assert text == "<b>&lt;i&gt;T&lt;/i&gt;</b>\na &lt; b &amp; c"


@pytest.mark.parametrize(("env", "message"), [
    ({}, "TELEGRAM_TOKEN is not set"),
    ({"TELEGRAM_TOKEN": "hello"}, "does not look like a bot token"),
    ({"TELEGRAM_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "no spaces please"}, "TELEGRAM_WEBHOOK_SECRET"),
])
def test_settings_errors_say_what_to_set(env, message):
    with pytest.raises(SettingsError, match=message):
        TelegramSettings.from_env(env)


# ------------------------------------------------------------------ the webhook endpoint

HOOK_SECRET = "hook-secret"


@pytest.fixture
async def hook(tg: Harness):
    import httpx

    from bot.channels.telegram import webhook_app

    app = webhook_app(tg.app, tg.channel, HOOK_SECRET, "/tg-hook")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


def _queued(tg: Harness) -> list[str]:
    """What reached the dialog: the messages it queued or sent."""
    return [c.method for c in tg.api.calls if c.method == "sendMessage"]


async def test_webhook_answers_200_once_the_turn_is_saved(tg: Harness, hook):
    answer = await hook.post("/tg-hook", json=Updates().text("/start"),
                             headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
    assert answer.status_code == 200
    session = await tg.store.load("telegram", tg.channel.key_of("4242"))
    assert session is not None  # saved before the 200
    await tg.drained()
    (sent,) = tg.api.sent()
    assert "In quale comune abiti?" in sent["text"]


async def test_webhook_refuses_an_oversized_body_unread(tg: Harness, hook):
    huge = b"{" + b" " * 2_000_000 + b"}"
    for headers in ({"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}, {}):
        answer = await hook.post("/tg-hook", content=huge, headers=headers)
        assert answer.status_code in (403, 413)
    answer = await hook.post("/tg-hook", content=huge, headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
    assert answer.status_code == 413

    async def stream():  # no Content-Length: refused while reading, as soon as it passes the limit
        for _ in range(2_000):
            yield b" " * 1_000

    answer = await hook.post("/tg-hook", content=stream(), headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
    assert answer.status_code == 413
    assert _queued(tg) == []


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'"hello"', b"{}", b'{"update_id": "1"}', b'{"update_id": 1, "message": "text"}',
    b'{"update_id": 1, "message": {"chat": []}}', b"[" * 100_000 + b"]" * 100_000,
])
async def test_webhook_answers_odd_calls_400_never_500(tg: Harness, hook, body, caplog):
    answer = await hook.post("/tg-hook", content=body, headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
    assert answer.status_code == 400
    assert _queued(tg) == []
    assert all("hello" not in r.getMessage() and "text" not in r.getMessage() for r in caplog.records)


async def test_webhook_without_the_secret_reaches_nothing(tg: Harness, hook):
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
        answer = await hook.post("/tg-hook", json=Updates().text("/start"), headers=headers)
        assert answer.status_code == 403
    assert _queued(tg) == []


async def test_the_desk_card_arrives_as_an_image_with_its_text_under_it(tg: Harness, res):
    user = Updates(language_code="ar")
    for data in (user.text("/start"), user.press("c:015077"), user.press("a:6-14"), user.press("n:school")):
        await tg.feed(data)
    assert "h:card" in [b["callback_data"] for b in tg.api.last_keyboard()]
    tg.api.clear()
    await tg.feed(user.press("h:card"))
    photo, text = [c for c in tg.api.calls if c.method in ("sendPhoto", "sendMessage")]
    assert photo.method == "sendPhoto" and text.method == "sendMessage"  # the image, then its words
    (_, png, mime) = next(iter(photo.files.values()))
    assert png.startswith(b"\x89PNG") and mime == "image/png"
    assert "Cerco aiuto: Scuola. Età: 6-14 anni. Comune: Cinisello Balsamo. Parlo arabo." in text.params["text"]
    assert "h:card" in [b["callback_data"] for b in tg.api.last_keyboard()]  # the family goes on from here
    assert tg.errors == []
