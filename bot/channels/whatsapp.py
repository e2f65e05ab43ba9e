"""WhatsApp Cloud API: the same dialog where most families already chat.

A thin channel like Telegram's: Meta's webhook payload becomes dialog events, replies
become WhatsApp messages sent through pywa's async client, within WhatsApp's limits —
up to 3 options as reply buttons (title ≤ 20), 4 to 10 as a list (row title ≤ 24,
description ≤ 72, menu button ≤ 20), more than 10 paged with a "more options" row;
labels shortened at a word boundary with the whole text kept in the row's description;
interactive bodies ≤ 1,024 characters and plain texts ≤ 4,096, split between service
cards. Every webhook call must carry a valid `X-Hub-Signature-256` (HMAC-SHA256 of the
body with the app secret): a missing one is answered 401, a wrong one 403, and nothing of
it reaches the dialog. The bot only ever answers a user's message (WhatsApp's 24-hour
window); a message Meta delivers twice is answered once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import signal
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.channels.base import MAX_MEDIA, MORE, Channel, Media, pack, page_of, text_event
from bot.channels.http import MAX_BODY, read_limited
from bot.config import WhatsAppSettings
from bot.conversation import Conversation, OpenConversation
from bot.dialogs import texts as T
from bot.dialogs.model import Button, Command, Event, Location, Other, Press, Reply, Resources
from bot.i18n import Catalogs, Translator
from bot.outbox import TryLater, Undeliverable
from bot.store import Queued, StoreLost
from bot.tracing import where

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
TEXT_LIMIT = 4096
BODY_LIMIT = 1024
BUTTON_TITLE = 20
ROW_TITLE = 24
ROW_DESCRIPTION = 72
LIST_BUTTON = 20
LIST_ROWS = 10
WINDOW_SECONDS = 24 * 3600
# The prefilled message of a wa.me link: "Orienta #lar_c015077_nschool" starts with that preset.
PREFILLED = re.compile(r"^\s*orienta\s*#([A-Za-z0-9_-]{1,64})\s*$", re.IGNORECASE)


# ------------------------------------------------------------------ payload -> events


@dataclass(frozen=True)
class Incoming:
    """One user's message. Meta names the sender by a business-scoped user id (BSUID,
    `contacts[].user_id`) and, unless the user hides it behind a username, by phone number
    (`messages[].from`): either may be missing, never both."""

    bsuid: str
    phone: str
    message_id: str
    timestamp: int
    event: Event | None  # None: nothing to answer (a reaction)

    @property
    def user_id(self) -> str:
        """The key of the user's conversation: the BSUID when Meta gave one (stable when
        a username hides the number), else the phone number."""
        return self.bsuid or self.phone

    @property
    def address(self) -> str:
        """Where the reply goes: the number Meta gave, else the BSUID (the API accepts both)."""
        return self.phone or self.bsuid


class Malformed(ValueError):
    """A signed payload whose shape is not Meta's: answered 400, logged without its content."""


def _items(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Malformed(f"{where} is not a list of objects")
    return value


def _timestamp(value: Any) -> int:
    text = str(value or "0")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else 0  # odd: no window check


def incoming_messages(payload: Any) -> list[Incoming]:
    """The users' messages in one webhook payload (statuses and other fields are skipped).
    A payload of another shape raises Malformed."""
    if not isinstance(payload, dict):
        raise Malformed("the payload is not an object")
    out: list[Incoming] = []
    for entry in _items(payload.get("entry"), "entry"):
        for change in _items(entry.get("changes"), "entry.changes"):
            value = change.get("value") or {}
            if not isinstance(value, dict):
                raise Malformed("entry.changes.value is not an object")
            contacts = _items(value.get("contacts"), "entry.changes.value.contacts")
            for message in _items(value.get("messages"), "entry.changes.value.messages"):
                phone = _id(message.get("from"))
                contact = next((c for c in contacts if phone and _id(c.get("wa_id")) == phone),
                               contacts[0] if len(contacts) == 1 else {})
                bsuid = _id(message.get("from_user_id")) or _id(contact.get("user_id"))
                phone = phone or _id(contact.get("wa_id"))
                if phone or bsuid:
                    out.append(Incoming(bsuid, phone, str(message.get("id") or "")[:256],
                                        _timestamp(message.get("timestamp")), to_event(message)))
    return out


def _id(value: Any) -> str:
    """A user id as Meta writes them (digits; a BSUID like "IT.1502576394655843"), else ""."""
    text = value if isinstance(value, str) else ""
    return text if 0 < len(text) <= 160 and text.isascii() and text.replace(".", "").isalnum() else ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


MEDIA_KINDS = frozenset({"image", "document", "audio", "video"})


def to_event(message: dict[str, Any]) -> Event | None:
    """A Meta message as a dialog event; a field of an odd type is read as missing."""
    kind = message.get("type")
    if kind == "text":
        text = str(_obj(message.get("text")).get("body") or "")
        preset = PREFILLED.match(text[:200])
        if preset:
            return Command("start", preset.group(1))
        return text_event(text)
    if kind == "interactive":
        interactive = _obj(message.get("interactive"))
        reply = _obj(interactive.get("button_reply")) or _obj(interactive.get("list_reply"))
        return Press(str(reply.get("id") or "")[:256])
    if kind == "button":  # a template's quick reply
        return Press(str(_obj(message.get("button")).get("payload") or "")[:256])
    if kind == "location":
        loc = _obj(message.get("location"))
        try:
            return Location(float(loc["latitude"]), float(loc["longitude"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            return Other("location")
    if kind == "reaction":
        return None
    if kind in MEDIA_KINDS:  # passed on as it is in a hand-off, by its media id
        return Other(str(kind), None, str(_obj(message.get(kind)).get("id") or "")[:256])
    return Other(str(kind or "other")[:40])


# ------------------------------------------------------------------ replies -> messages


def shorten(label: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary, with an ellipsis when cut."""
    if len(label) <= limit:
        return label
    cut = label[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-–(")
    return (cut if len(cut) >= limit // 2 else label[: limit - 1]) + "…"


_MARKUP = re.compile(r"([*_~`])")


def plain(text: str) -> str:
    """Text shown as typed: WhatsApp's formatting marks are kept from pairing up."""
    return _MARKUP.sub("\\1\u200b", text)


@dataclass(frozen=True)
class Outgoing:
    """One WhatsApp message: text, and at most one kind of interactive part."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (id, title) reply buttons
    rows: tuple[tuple[str, str, str | None], ...] = ()  # (id, title, description) list rows
    list_button: str = ""
    template: tuple[str, str] | None = None  # (name, language): a message template, in place of the text


def _texts(replies: list[Reply], limit: int) -> list[str]:
    parts = [
        f"*{plain(s.title)}*\n{plain(s.body)}" if s.title else plain(s.body)
        for reply in replies for s in reply.sections
    ]
    return pack(parts, limit)


def options_page(buttons: tuple[Button, ...], page: int, tr: Translator) -> list[tuple[str, str, str | None]]:
    """List rows for one page: 10 at most, the last one "more options" when others follow."""
    start = page * (LIST_ROWS - 1)
    shown = buttons[start:] if len(buttons) - start <= LIST_ROWS else buttons[start : start + LIST_ROWS - 1]
    rows: list[tuple[str, str, str | None]] = []
    for b in shown:
        title = shorten(b.label, ROW_TITLE)
        rows.append((b.id, title, shorten(b.label, ROW_DESCRIPTION) if title != b.label else None))
    if start + len(shown) < len(buttons):
        rows.append((f"{MORE}{page + 1}", shorten(tr(T.MORE_OPTIONS), ROW_TITLE), None))
    return rows


def render(replies: list[Reply], tr: Translator, page: int = 0) -> list[Outgoing]:
    """The turn's replies as WhatsApp messages; the last carries the options on screen."""
    buttons = replies[-1].buttons if replies else ()
    if not buttons:
        return [Outgoing(t) for t in _texts(replies, TEXT_LIMIT)]
    texts = _texts(replies, BODY_LIMIT)
    head, body = texts[:-1], texts[-1]
    if len(buttons) <= 3 and all(len(b.label) <= BUTTON_TITLE for b in buttons):
        last = Outgoing(body, buttons=tuple((b.id, b.label) for b in buttons))
    else:
        last = Outgoing(body, rows=tuple(options_page(buttons, page, tr)),
                        list_button=shorten(tr(T.LIST_BUTTON), LIST_BUTTON))
    return [*(Outgoing(t) for t in head), last]


# ------------------------------------------------------------------ the channel


def signature_ok(body: bytes, header: str | None, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header.strip())


class WhatsAppChannel(Channel):
    name = CHANNEL

    def __init__(self, settings: WhatsAppSettings, conversation: Conversation | None, catalogs: Catalogs,
                 session: httpx.AsyncClient | None = None, clock=time.time):
        from pywa_async import WhatsApp

        super().__init__(conversation, catalogs)
        self.settings, self.clock = settings, clock
        self._linked: OrderedDict[tuple[str, str], None] = OrderedDict()  # number-BSUID pseudonym pairs stored
        self.fatal: Exception | None = None
        self.session = session or httpx.AsyncClient(timeout=20)
        self.wa = WhatsApp(phone_id=settings.phone_id, token=settings.token, session=self.session, server=None,
                           verify_token=settings.verify_token, app_secret=settings.app_secret)
        # WHATSAPP_API_URL: a proxy or a local fake Graph API in place of Meta's.
        api = httpx.URL(settings.api_url.rstrip("/") + "/")
        self.session.base_url = api.join(self.session.base_url.path.lstrip("/"))

    async def verify(self, request: Request) -> Response:
        """Meta's GET challenge when the webhook is registered."""
        params = request.query_params
        if params.get("hub.mode") == "subscribe" and hmac.compare_digest(
            params.get("hub.verify_token", ""), self.settings.verify_token
        ):
            return PlainTextResponse(params.get("hub.challenge", ""))
        return PlainTextResponse("forbidden", status_code=403)

    async def receive(self, request: Request) -> Response:
        header = request.headers.get("x-hub-signature-256")
        if header is None:
            return PlainTextResponse("missing signature", status_code=401)
        body = await read_limited(request, MAX_BODY)  # before the signature: a forged giant costs nothing
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        if not signature_ok(body, header, self.settings.app_secret):
            return PlainTextResponse("bad signature", status_code=403)
        try:
            messages = incoming_messages(json.loads(body))
        except (ValueError, RecursionError) as exc:  # not JSON, or not Meta's shape
            log.warning("a signed webhook call was not understood: %s", exc if isinstance(exc, Malformed)
                        else type(exc).__name__)
            return PlainTextResponse("not understood", status_code=400)
        unsaved, failed = self.unsaved, False
        for message in messages:
            try:
                await self.answer(message)
            except StoreLost as exc:  # the database is gone: stop the server, loudly
                log.critical("%s: stopping", exc)
                self.fatal = exc
                os.kill(os.getpid(), signal.SIGTERM)
                return PlainTextResponse("stopping", status_code=503)
            except Exception as exc:  # the others are answered; Meta delivers this call again
                log.error("a whatsapp message failed: %s at %s", type(exc).__name__, where(exc))
                failed = True
        if self.unsaved > unsaved or failed:  # not saved: Meta delivers it again later (answered once)
            return PlainTextResponse("not saved, try again", status_code=503)
        return PlainTextResponse("ok")

    async def answer(self, message: Incoming) -> None:
        """Save the turn with its replies in the outbox (sent from there, see bot.outbox)."""
        if message.event is None or self.conversation is None:
            return
        if message.timestamp and self.clock() - message.timestamp > WINDOW_SECONDS:
            return  # outside WhatsApp's 24-hour window: free-form replies are not allowed
        user_id = await self._user_of(message)
        event = message.event
        if isinstance(event, Press) and event.data.startswith(MORE):
            await self._next_page(user_id, message.address, event.data)
            return
        await self.turn(user_id, event, once=f"{CHANNEL}:message:{message.message_id}", address=message.address)

    async def _user_of(self, message: Incoming) -> str:
        """The conversation's key (a pseudonym). When Meta gives both ids, the number is linked
        to the BSUID once (a conversation begun under the number continues under the BSUID); a
        message with the number alone finds the BSUID it was linked to."""
        store = self.attached.store
        bsuid = self.key_of(message.bsuid) if message.bsuid else ""
        phone = self.key_of(message.phone) if message.phone else ""
        if bsuid and phone:
            if (phone, bsuid) not in self._linked:
                await store.link(CHANNEL, phone, bsuid)
                self._linked[(phone, bsuid)] = None
                if len(self._linked) > 10_000:
                    self._linked.popitem(last=False)
            return bsuid
        return bsuid or await store.alias_of(CHANNEL, phone) or phone

    async def _next_page(self, user_id: str, address: str, data: str) -> None:
        """A "more options" row: the question on screen, asked of the dialog again, at that page
        (a forged or stale page number gets the first one)."""
        replies = await self.options_again(user_id)
        if not replies:
            return
        page = page_of(data) or 0
        buttons = replies[-1].buttons
        if page * (LIST_ROWS - 1) >= len(buttons):
            page = 0
        tr = self.translator(replies)
        if page == 0:
            messages = render(replies[-1:], tr)
        else:
            rows = tuple(options_page(buttons, page, tr))
            messages = [Outgoing(shorten(tr(T.MORE_OPTIONS), BODY_LIMIT), rows=rows,
                                 list_button=shorten(tr(T.LIST_BUTTON), LIST_BUTTON))]
        await self.attached.store.queue(CHANNEL, user_id, [(address, _body(m)) for m in messages])
        if self.outbox is not None:
            self.outbox.kick(user_id)

    def bodies(self, replies: list[Reply]) -> list[str]:
        return [_body(m) for m in render(replies, self.translator(replies))]

    reply_window = WINDOW_SECONDS

    async def media(self, ref: str) -> Media | None:
        """A photo or document a family sent, fetched from Meta (its link lasts 5 minutes)."""
        found = await self.wa.get_media_url(ref)
        if found.file_size and found.file_size > MAX_MEDIA:
            return None
        content = await self.wa.get_media_bytes(found.url)
        if len(content) > MAX_MEDIA:
            return None
        mime = (found.mime_type or "application/octet-stream").split(";")[0].strip()
        return Media(content, mime, "whatsapp" + (mimetypes.guess_extension(mime) or ""))

    async def reopen(self, user_id: str, address: str, lang: str) -> str | None:
        """The hand-off template (WHATSAPP_HANDOFF_TEMPLATE), in the family's language where
        it was approved in it, through the outbox like any answer."""
        template = self.settings.handoff_template
        if template is None:
            return None
        message = Outgoing("", template=(template.name, template.language_for(lang)))
        await self.attached.store.queue(CHANNEL, user_id, [(address, _body(message))])
        if self.outbox is not None:
            self.outbox.kick(user_id)
        return template.name

    async def deliver(self, message: Queued) -> None:
        """One message through pywa's client; Meta's errors sorted into "later" and "never"."""
        from pywa.errors import ThrottlingError, TooManyMessages, WhatsAppError

        try:
            await self.send(message.address, [_outgoing(message.body)])
        except TooManyMessages:  # 131056: one message every 6 seconds to the same user
            raise TryLater("pair rate limit", PAIR_PAUSE) from None
        except WhatsAppError as exc:
            if isinstance(exc, ThrottlingError) or exc.is_transient or (exc.status_code or 0) >= 500 \
                    or exc.code in TRANSIENT_CODES:
                raise TryLater(f"error {exc.code}") from None
            raise Undeliverable(f"error {exc.code}") from None
        except httpx.HTTPError as exc:  # timeouts, refused connections
            raise TryLater(type(exc).__name__) from None

    async def send(self, to: str, messages: Iterable[Outgoing]) -> None:
        from pywa_async.types import Button as WaButton
        from pywa_async.types import Section, SectionList, SectionRow

        for m in messages:
            if m.template:
                from pywa_async.types.templates import TemplateLanguage

                await self.wa.send_template(to=to, name=m.template[0], language=TemplateLanguage(m.template[1]))
            elif m.buttons:
                await self.wa.send_message(to=to, text=m.text, buttons=[WaButton(t, i) for i, t in m.buttons])
            elif m.rows:
                rows = [SectionRow(title=t, callback_data=i, description=d) for i, t, d in m.rows]
                await self.wa.send_message(to=to, text=m.text,
                                           buttons=SectionList(m.list_button, [Section(m.list_button, rows)]))
            else:
                await self.wa.send_message(to=to, text=m.text)


DRAIN_SECONDS = 20.0  # on SIGTERM, within a supervisor's usual 30 s
PAIR_PAUSE = 6.0  # Meta: at most one message every 6 seconds to the same user, in bursts
TRANSIENT_CODES = frozenset({1, 2, 131000, 131016})  # unknown, service, "something went wrong", unavailable


def _body(message: Outgoing) -> str:
    return json.dumps(dataclasses.asdict(message), ensure_ascii=False)


def _outgoing(body: str) -> Outgoing:
    data = json.loads(body)
    template = data.get("template")
    return Outgoing(data["text"], tuple(tuple(b) for b in data.get("buttons") or ()),
                    tuple(tuple(r) for r in data.get("rows") or ()), data.get("list_button") or "",
                    (str(template[0]), str(template[1])) if template else None)


def create_app(channel: WhatsAppChannel, path: str = "/webhook") -> Starlette:
    return Starlette(routes=[
        Route(path, channel.verify, methods=["GET"]),
        Route(path, channel.receive, methods=["POST"]),
    ])


def serve(settings: WhatsAppSettings, resources: Resources, conversation: OpenConversation) -> None:
    """Run the webhook server (uvicorn) until stopped."""
    import contextlib

    import uvicorn

    channel = WhatsAppChannel(settings, None, resources.catalogs)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        async with conversation() as opened:
            outbox = channel.attach_outbox(opened)
            await outbox.resume()  # what a crash or an outage left waiting
            try:
                yield
            finally:  # SIGTERM: uvicorn has stopped taking calls; send what is waiting
                if not await outbox.drained(DRAIN_SECONDS):
                    log.warning("answers for %d users stay in the outbox for the next start", outbox.busy)
                await outbox.close()
                await channel.session.aclose()

    app = create_app(channel)
    app.router.lifespan_context = lifespan
    # No access log: a line per call from Meta says nothing an operator needs, and costs time.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
    if channel.fatal is not None:
        raise channel.fatal
