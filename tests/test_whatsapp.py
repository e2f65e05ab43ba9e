"""WhatsApp, over HTTP: signed webhook payloads shaped like Meta's, the Graph API faked in-process."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.channels.whatsapp import (
    BODY_LIMIT,
    BUTTON_TITLE,
    LIST_BUTTON,
    LIST_ROWS,
    ROW_DESCRIPTION,
    ROW_TITLE,
    TEXT_LIMIT,
    WhatsAppChannel,
    create_app,
    render,
)
from bot.config import SettingsError, WhatsAppSettings
from bot.conversation import Conversation
from bot.dialogs.model import Button, Command, Reply, Section
from bot.dialogs.orientation import State, step
from bot.store import SessionStore
from tests.conftest import TODAY
from tests.test_hostile import ROUTES
from tests.test_languages import ORDER as LANGUAGES

SETTINGS = WhatsAppSettings(phone_id="1234567890", token="graph-token", verify_token="verify-me",
                            app_secret="app-secret-for-tests", api_url="https://graph.example.test")
USER = "393331234567"


class GraphApi:
    """Records every Graph API call; answers like Meta does."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (content, MIME type) families sent

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # a family's media: its URL by id, then the bytes at that URL
            media_id = request.url.path.rsplit("/", 1)[-1]
            if media_id not in self.media:
                return httpx.Response(404, json={"error": {"message": "not found", "code": 100}})
            content, mime = self.media[media_id]
            if "/files/" in request.url.path:
                return httpx.Response(200, content=content, headers={"Content-Type": mime})
            return httpx.Response(200, json={"messaging_product": "whatsapp", "id": media_id, "mime_type": mime,
                                             "sha256": "0" * 64, "file_size": len(content),
                                             "url": f"https://lookaside.example.test/files/{media_id}"})
        self.calls.append({"url": str(request.url), "body": json.loads(request.content or b"{}")})
        return httpx.Response(200, json={"messaging_product": "whatsapp", "contacts": [{"input": USER, "wa_id": USER}],
                                         "messages": [{"id": f"wamid.out{len(self.calls)}"}]})

    def messages(self) -> list[dict]:
        return [c["body"] for c in self.calls if c["url"].endswith("/messages")]

    def texts(self) -> list[str]:
        out = []
        for m in self.messages():
            out.append(m["text"]["body"] if m["type"] == "text" else m["interactive"]["body"]["text"])
        return out


class Webhook:
    def __init__(self, client: httpx.AsyncClient, graph: GraphApi, channel: WhatsAppChannel | None = None):
        self.client, self.graph, self.n, self.channel = client, graph, 0, channel

    def payload(self, message: dict) -> dict:
        self.n += 1
        message = {"from": USER, "id": f"wamid.in{self.n}", "timestamp": str(int(time.time())), **message}
        return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "390200000000",
                          "phone_number_id": SETTINGS.phone_id},
                          "contacts": [{"profile": {"name": "Amina"}, "wa_id": USER}], "messages": [message]}}]}]}

    async def post(self, payload: dict, signature: str | None = "valid") -> httpx.Response:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(SETTINGS.app_secret.encode(), body,
                                                                  hashlib.sha256).hexdigest()
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        answer = await self.client.post("/webhook", content=body, headers=headers)
        if self.channel is not None and self.channel.outbox is not None:  # the answers leave from the outbox
            assert await self.channel.outbox.drained(10), "answers still waiting after 10 s"
        return answer

    async def text(self, text: str) -> httpx.Response:
        return await self.post(self.payload({"type": "text", "text": {"body": text}}))

    async def choose(self, row_id: str, kind: str = "list_reply") -> httpx.Response:
        return await self.post(self.payload({"type": "interactive", "interactive": {
            "type": kind, kind: {"id": row_id, "title": "…"}}}))


@asynccontextmanager
async def whatsapp_bot(res, store: SessionStore, graph: GraphApi, **outbox) -> AsyncIterator[Webhook]:
    """The webhook app over `store`, its Graph API calls going to `graph`, answers sent from the outbox."""
    channel = WhatsAppChannel(SETTINGS, None, res.catalogs,
                              session=httpx.AsyncClient(transport=httpx.MockTransport(graph)))
    channel.attach_outbox(Conversation(res, store, lambda: TODAY), **outbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(channel)),
                                 base_url="http://127.0.0.1") as client:
        try:
            yield Webhook(client, graph, channel)
        finally:
            await channel.outbox.close()


@pytest.fixture
async def wa(res, tmp_path: Path):
    store = await SessionStore.open(tmp_path / "wa.sqlite3")
    async with whatsapp_bot(res, store, GraphApi()) as hook:
        yield hook
    await store.close()


async def test_verification_challenge(wa: Webhook):
    ok = await wa.client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                 "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await wa.client.get("/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                  "hub.challenge": "1"})
    assert bad.status_code == 403


async def test_unsigned_and_forged_calls_are_refused_and_change_nothing(wa: Webhook):
    payload = wa.payload({"type": "text", "text": {"body": "Bresso"}})
    assert (await wa.post(payload, signature=None)).status_code == 401
    assert (await wa.post(payload, signature="sha256=" + "0" * 64)).status_code == 403
    assert wa.graph.calls == []


async def test_family_in_cinisello_gets_school_help_in_arabic_by_buttons_and_lists(wa: Webhook):
    assert (await wa.text("مرحبا")).status_code == 200
    first = wa.graph.messages()[-1]
    assert first["interactive"]["type"] == "list"  # 7 options: a list
    rows = first["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows][:2] == ["c:015146", "c:108033"]
    assert "\u200f" in first["interactive"]["body"]["text"]  # Arabic, right to left
    await wa.choose("c:015077")
    await wa.choose("a:6-14")
    need_list = wa.graph.messages()[-1]["interactive"]
    rows = need_list["action"]["sections"][0]["rows"]
    assert all(r["id"].startswith("n:") for r in rows) and len(rows) <= LIST_ROWS
    await wa.choose("n:school")
    last = wa.graph.texts()[-1]
    assert "\u2068Servizio di integrazione scolastica – Ambito di Cinisello Balsamo\u2069*" in last
    assert "مناسب لك" in last


def test_up_to_three_short_options_are_reply_buttons_and_more_a_list(res):
    tr = res.catalogs.get("it")
    three = (Button("x:need", "Altro bisogno"), Button("x:comune", "Altro comune"), Button("x:new", "Ricomincia"))
    (buttons,) = render([Reply((Section("Ecco."),), three)], tr)
    assert buttons.buttons == (("x:need", "Altro bisogno"), ("x:comune", "Altro comune"), ("x:new", "Ricomincia"))
    (listed,) = render([Reply((Section("Ecco."),), (Button("h:card", "Biglietto per lo sportello"), *three))], tr)
    assert not listed.buttons and [r[0] for r in listed.rows] == ["h:card", "x:need", "x:comune", "x:new"]


async def test_the_options_under_the_results_are_pressable(wa: Webhook):
    await wa.text("Bresso, 9 anni, scuola")
    last = wa.graph.messages()[-1]
    rows = last["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == ["h:card", "x:need", "x:comune", "x:new"]
    await wa.choose("x:need")
    assert "Di che cosa hai bisogno?" in wa.graph.texts()[-1]


async def test_ukrainian_preset_from_a_wa_me_prefilled_message(wa: Webhook):
    await wa.text("Orienta #ua")
    assert "України" in wa.graph.texts()[0]


async def test_location_sticker_and_duplicate_delivery(wa: Webhook):
    await wa.text("Ciao")
    await wa.post(wa.payload({"type": "sticker", "sticker": {"id": "s1", "mime_type": "image/webp"}}))
    assert "Non posso leggere foto, audio o adesivi" in wa.graph.texts()[-1]
    located = wa.payload({"type": "location", "location": {"latitude": 45.5376, "longitude": 9.1890}})
    await wa.post(located)
    count = len(wa.graph.calls)
    assert "Dalla posizione: Bresso." in wa.graph.texts()[-1]
    await wa.post(located)  # Meta delivers the same message again
    assert len(wa.graph.calls) == count


async def test_statuses_and_reactions_get_no_answer(wa: Webhook):
    status = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
              "value": {"messaging_product": "whatsapp", "statuses": [{"id": "wamid.out1", "status": "read",
                                                                       "timestamp": "1", "recipient_id": USER}]}}]}]}
    assert (await wa.post(status)).status_code == 200
    await wa.post(wa.payload({"type": "reaction", "reaction": {"message_id": "wamid.out1", "emoji": "👍"}}))
    assert wa.graph.calls == []


async def test_nothing_is_sent_outside_the_24_hour_window(wa: Webhook):
    old = wa.payload({"type": "text", "text": {"body": "Ciao"}})
    old["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = str(int(time.time()) - 25 * 3600)
    await wa.post(old)
    assert wa.graph.calls == []


def test_missing_settings_are_named():
    with pytest.raises(SettingsError, match="WHATSAPP_APP_SECRET"):
        WhatsAppSettings.from_env({"WHATSAPP_PHONE_ID": "1", "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v"})


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_fits_whatsapp_limits_in_every_language(res, lang):
    res = replace(res, people=True)  # with the cooperative's people behind the bot: every state
    for state, route in ROUTES.items():
        session, replies = None, []
        first = Command("start", route[0].arg if route else "", lang)
        for event in [first, *route[1:]]:
            session, replies, _ = step(session, event, res, TODAY)
        if state == State.START:
            continue
        assert replies[-1].state == state
        tr = res.catalogs.get(lang)
        buttons = replies[-1].buttons
        pages = max(1, -(-len(buttons) // (LIST_ROWS - 1)))
        for page in range(pages):
            for m in render(replies, tr, page):
                assert len(m.text) <= (BODY_LIMIT if (m.buttons or m.rows) else TEXT_LIMIT)
                assert len(m.buttons) <= 3 and all(len(t) <= BUTTON_TITLE for _, t in m.buttons)
                assert len(m.rows) <= LIST_ROWS
                assert all(len(t) <= ROW_TITLE and (d is None or len(d) <= ROW_DESCRIPTION) for _, t, d in m.rows)
                assert len(m.list_button) <= LIST_BUTTON


async def test_a_printed_wa_me_link_opens_with_its_preset(wa: Webhook):
    import subprocess
    import sys
    from urllib.parse import parse_qs, urlparse

    from bot.config import ROOT

    out = subprocess.run([sys.executable, "-m", "bot", "link", "--whatsapp", "+39 02 0000 0000", "--lang", "ar",
                          "--comune", "Cinisello Balsamo", "--need", "school"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    link = next(u for u in out if u.startswith("https://wa.me/390200000000?"))
    prefilled = parse_qs(urlparse(link).query)["text"][0]
    await wa.text(prefilled)
    asked = wa.graph.messages()[-1]["interactive"]
    assert "\u200f" in asked["body"]["text"]  # in Arabic
    assert asked["action"]["sections"][0]["rows"][0]["id"] == "a:0-5"  # comune and need preset


async def test_a_menu_longer_than_a_list_is_paged(wa: Webhook):
    """Sixteen languages do not fit WhatsApp's ten rows: the tenth row shows the others."""
    await wa.text("Ciao")
    await wa.text("/language")
    rows = wa.graph.messages()[-1]["interactive"]["action"]["sections"][0]["rows"]
    assert len(rows) == LIST_ROWS and rows[-1]["id"] == "more:1"
    await wa.choose("more:1")
    page_two = wa.graph.messages()[-1]["interactive"]["action"]["sections"][0]["rows"]
    ids = [r["id"] for r in rows[:-1]] + [r["id"] for r in page_two if not r["id"].startswith("more:")]
    assert len(set(ids)) == len(ids) and "l:ti" in ids  # every language once, the last one too


async def test_paging_needs_no_memory_in_the_channel_so_a_restart_keeps_it(res, tmp_path: Path):
    """The options of a page come from the dialog again: a new process pages as the old one."""
    graph, db = GraphApi(), tmp_path / "wa.sqlite3"
    for round_ in ("before", "after a restart"):
        store = await SessionStore.open(db)
        async with whatsapp_bot(res, store, graph) as wa:
            wa.n = 100 if round_ != "before" else 0
            if round_ == "before":
                await wa.text("Ciao")
                await wa.text("/language")
            else:
                await wa.choose("more:1")
                rows = graph.messages()[-1]["interactive"]["action"]["sections"][0]["rows"]
                assert "l:ti" in [r["id"] for r in rows], round_
                await wa.choose("more:\u0661")  # not an ASCII page number: the first page, no crash
                rows = graph.messages()[-1]["interactive"]["action"]["sections"][0]["rows"]
                assert rows[0]["id"] == "l:it"
        await store.close()


async def test_an_oversized_call_is_refused_before_it_is_read_or_checked(wa: Webhook):
    huge = b"{" + b" " * 2_000_000 + b"}"
    answer = await wa.client.post("/webhook", content=huge, headers={"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert answer.status_code == 413
    assert wa.graph.calls == []


@pytest.mark.parametrize("payload", [
    [], "hello", {"entry": "a string"}, {"entry": [{"changes": {"value": 1}}]},
    {"entry": [{"changes": [{"value": "x"}]}]}, {"entry": [{"changes": [{"value": {"messages": [1, 2]}}]}]},
    {"entry": [{"changes": [{"value": {"messages": [{"from": "1", "type": "text", "text": "not an object",
                                                      "timestamp": "yesterday"}]}}]}]},
    {"entry": [{"changes": [{"value": {"messages": [{"from": "1", "type": "location",
                                                      "location": {"latitude": "1e999", "longitude": []}}]}}]}]},
])
async def test_signed_calls_of_odd_shapes_get_400_or_an_answer_never_500(wa: Webhook, payload):
    answer = await wa.post(payload)
    assert answer.status_code in (200, 400)


async def test_deeply_nested_signed_json_is_400(wa: Webhook):
    body = b"[" * 100_000 + b"]" * 100_000
    signature = "sha256=" + hmac.new(SETTINGS.app_secret.encode(), body, hashlib.sha256).hexdigest()
    answer = await wa.client.post("/webhook", content=body, headers={"X-Hub-Signature-256": signature})
    assert answer.status_code == 400
