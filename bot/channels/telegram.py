"""Telegram: python-telegram-bot turns updates into dialog events, replies into messages.

A thin channel: no rule of the conversation lives here. It maps a PTB `Update` to an
`Event` (text, command, button, location, anything else), asks the conversation for the
replies, and renders them within Telegram's limits — HTML with every user- or data-derived
string escaped, at most 4,096 characters a message (split between service cards), inline
keyboards whose `callback_data` are the dialog's short ASCII button ids.

Robustness: PTB's `AIORateLimiter` honours 429 `retry_after`; a send that fails on the
network is retried; an update delivered again after a crash is answered once (its id is
stored with the session it produced); a failure is logged without message text or names
and the user gets a kind apology. The bot talks only in private chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import html
import itertools
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.channels.base import Channel, pack, text_event
from bot.channels.http import MAX_BODY, read_limited
from bot.config import SettingsError, TelegramSettings
from bot.conversation import Conversation, OpenConversation
from bot.dialogs import texts as T
from bot.dialogs.model import Button, Event, Location, Other, Press, Reply, Resources
from bot.handoff import OperatorsDesk
from bot.i18n import Catalogs
from bot.knowledge import Audience
from bot.outbox import TryLater, Undeliverable
from bot.store import Queued, StoreLost
from bot.tracing import where

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a link in a card must not push the card off screen
SEND_ATTEMPTS = 4  # a send failing on the network is tried again, with growing pauses
MEDIA_KINDS = frozenset({"photo", "document", "voice", "audio", "video", "video_note"})  # passed on in a hand-off
NOT_TEXT_KINDS = ("sticker", "voice", "audio", "photo", "video", "video_note", "animation", "document",
                  "contact", "poll", "dice", "venue", "game", "story")

# The command menu, in the order Telegram shows it; the audiences' commands (/ukraina) come
# after /language, from knowledge/audiences.yaml.
COMMANDS = (
    ("start", T.CMD_START), ("restart", T.CMD_RESTART), ("back", T.CMD_BACK),
    ("language", T.CMD_LANGUAGE), ("persona", T.CMD_PERSON), ("help", T.CMD_HELP), ("privacy", T.CMD_PRIVACY),
    ("forget", T.CMD_FORGET),
)


# ------------------------------------------------------------------ update -> event


def to_event(update: Update) -> Event | None:
    """The dialog event an update carries, or None for updates the bot ignores (edits, ...)."""
    user = update.effective_user
    lang = user.language_code if user else None
    if update.callback_query is not None:
        return Press(update.callback_query.data or "", lang)
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        return text_event(message.text, lang)
    if message.location is not None:
        return Location(message.location.latitude, message.location.longitude, lang)
    kind = next((k for k in NOT_TEXT_KINDS if getattr(message, k, None)), "other")
    return Other(kind, lang, str(message.message_id) if kind in MEDIA_KINDS else "")


# ------------------------------------------------------------------ reply -> messages


def keyboard_rows(buttons: tuple[Button, ...]) -> list[list[tuple[str, str]]]:
    """Short labels two to a row, long ones alone, so they stay readable on a small screen."""
    width = 2 if all(len(b.label) <= 16 for b in buttons) else 1
    return [[(b.label, b.id) for b in buttons[i : i + width]] for i in range(0, len(buttons), width)]


def render_rows(replies: list[Reply], limit: int = MAX_MESSAGE) -> list[tuple[str, list[list[tuple[str, str]]]]]:
    """HTML messages for one turn's replies: as few as fit (Telegram allows about one message
    a second per chat, and each one buzzes the phone), split only between sections, with
    the keyboard of the last reply (as rows of (label, callback data)) on the last message."""
    parts = []
    for section in (section for reply in replies for section in reply.sections):
        body = html.escape(section.body, quote=False)
        parts.append(f"<b>{html.escape(section.title, quote=False)}</b>\n{body}" if section.title else body)
    chunks = pack(parts, limit)
    buttons = replies[-1].buttons if replies else ()
    return [(c, keyboard_rows(buttons) if i == len(chunks) - 1 and buttons else []) for i, c in enumerate(chunks)]


def render(replies: list[Reply], limit: int = MAX_MESSAGE) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """`render_rows` as PTB objects."""
    return [(text, InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                         for row in rows]) if rows else None)
            for text, rows in render_rows(replies, limit)]


NO_PREVIEW_JSON = json.dumps({"is_disabled": True})


def _markup_json(rows: list[list[tuple[str, str]]]) -> str:
    """An inline keyboard as the Bot API's JSON."""
    return json.dumps({"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                           for row in rows]}, ensure_ascii=False)


def _seconds(value: object) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the channel


async def _sorted(send: Awaitable[Any]) -> None:
    """A send for the outbox, its failures sorted into "later" (TryLater) and "never" (Undeliverable)."""
    try:
        await send
    except RetryAfter as exc:
        raise TryLater("429", _seconds(exc.retry_after)) from None
    except BadRequest as exc:
        raise Undeliverable(type(exc).__name__) from None
    except NetworkError as exc:  # also timeouts and 5xx
        raise TryLater(type(exc).__name__) from None
    except TelegramError as exc:  # Forbidden: the user blocked the bot
        raise Undeliverable(type(exc).__name__) from None


async def with_retries(send: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Network errors are retried (429s are the rate limiter's job); others are raised."""
    for attempt in range(SEND_ATTEMPTS):
        try:
            return await send()
        except RetryAfter:
            raise
        except NetworkError as exc:
            if isinstance(exc, BadRequest) or attempt == SEND_ATTEMPTS - 1:
                raise
            log.warning("%s failed on the network (%s), trying again", what, type(exc).__name__)
            await asyncio.sleep(0.5 * 2**attempt)
    return None


class TelegramChannel(Channel):
    """Handlers for one Application, around one Conversation."""

    name = CHANNEL

    def __init__(self, conversation: Conversation | None, catalogs: Catalogs, username: str | None = None,
                 audiences: tuple[Audience, ...] = ()):
        # The conversation may be attached in post_init, once the event loop (and the
        # database connection that lives in it) exists.
        super().__init__(conversation, catalogs)
        self.username = username
        self.fatal: Exception | None = None  # why the bot stopped itself (the database was lost)
        self.stop: Callable[[Application], None] = Application.stop_running
        self.telegram: Any = None  # the PTB Bot that sends (set with the Application)
        self.desk: OperatorsDesk | None = None  # the operators' group, where families are handed to a person
        at = next(i for i, (name, _) in enumerate(COMMANDS) if name == "language") + 1
        self.commands = (*COMMANDS[:at], *((a.command, a.menu) for a in audiences), *COMMANDS[at:])

    def _tr(self, update: Update):
        user = update.effective_user
        return self.catalogs.get(self.catalogs.pick(user.language_code if user else None))

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update: private chats get the dialog; groups get one notice; the rest is ignored.

        The turn comes first, before anything else is awaited: the updates of one batch reach
        their users' locks in the order Telegram sent them. Its replies are saved with it and
        sent by the outbox."""
        chat = update.effective_chat
        query = update.callback_query
        if self.desk is not None and chat is not None and chat.id == self.desk.chat_id:
            await self.desk.on_update(update)  # the cooperative's people, answering families
            return
        event = to_event(update) if chat is not None and chat.type == ChatType.PRIVATE else None
        if event is not None and update.effective_user is not None and chat is not None:
            await self.turn(self.key_of(str(update.effective_user.id)), event,
                            once=f"{CHANNEL}:update:{update.update_id}", address=str(chat.id))
        if query is not None:
            try:
                await with_retries(query.answer, "answerCallbackQuery")
            except BadRequest as exc:  # a press from long ago: the dialog still answered it
                log.info("could not answer a callback query (%s)", type(exc).__name__)
            if event is not None and query.message is not None:
                # The keyboard pressed is spent: remove it so it cannot be pressed twice.
                try:
                    await query.edit_message_reply_markup(reply_markup=None)
                except TelegramError as exc:  # too old, already edited...: the dialog judged the press
                    log.info("could not remove a keyboard (%s)", type(exc).__name__)
        if chat is not None and chat.type != ChatType.PRIVATE and update.effective_user is not None:
            await self._group_notice(update, context)

    def bodies(self, replies: list[Reply]) -> list[str]:
        """Each message as the outbox keeps it: its HTML text and its keyboard, already in the
        Bot API's JSON (PTB's objects cost more to build and serialise than the rest of a turn).
        A desk card goes first as its image (drawn when sent), then the text with the keyboard."""
        cards = [json.dumps({"card": [dataclasses.asdict(b) for b in r.card]}, ensure_ascii=False)
                 for r in replies if r.card]
        return [*cards, *(json.dumps({"text": text, "reply_markup": _markup_json(rows) if rows else None},
                                     ensure_ascii=False) for text, rows in render_rows(replies))]

    async def deliver(self, message: Queued) -> None:
        body = json.loads(message.body)
        if "card" in body:
            await self._send_card(int(message.address), body["card"])
            return
        extra = {"link_preview_options": NO_PREVIEW_JSON}
        if body.get("reply_markup"):
            extra["reply_markup"] = body["reply_markup"]
        await _sorted(self.telegram.send_message(int(message.address), body["text"], parse_mode=ParseMode.HTML,
                                                 api_kwargs=extra))

    async def _send_card(self, chat_id: int, blocks: list[dict[str, Any]]) -> None:
        """The desk card as a PNG with the bot's QR code (bot.card_image), drawn off the event
        loop. A machine that cannot draw it correctly sends none: the text follows anyway."""
        from bot.card_image import CardBlock, CardRenderingError, render_card

        cards = [CardBlock(b["lang"], b["title"], tuple(b["lines"])) for b in blocks]
        link = f"https://t.me/{self.username or self.telegram.username}"
        try:
            png = await asyncio.to_thread(render_card, cards, link)
        except CardRenderingError as exc:
            log.error("the desk card cannot be drawn here: %s", exc)
            raise Undeliverable("card not drawn") from None
        await _sorted(self.telegram.send_photo(chat_id, photo=png, filename="orienta.png"))

    async def _group_notice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if update.message is None or chat is None:
            return
        if not await self.attached.store.first_time(f"{CHANNEL}:group:{chat.id}"):
            return
        username = self.username or context.bot.username
        text = self._tr(update)(T.PRIVATE_ONLY, link=f"https://t.me/{username}")
        await with_retries(lambda: context.bot.send_message(chat.id, text), "sendMessage")

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what failed (never the text or the names) and apologise to the user."""
        error = context.error
        if isinstance(error, StoreLost):  # the database is gone: stop, loudly, rather than answer into the void
            log.critical("%s: stopping", error)
            self.fatal = error
            self.stop(context.application)
            return
        log.error("update %s failed: %s at %s", getattr(update, "update_id", "?"), type(error).__name__,
                  where(error) if error else "?")
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.type != ChatType.PRIVATE or isinstance(error, Forbidden):
            return
        try:
            await context.bot.send_message(update.effective_chat.id, self._tr(update)(T.SORRY))
        except TelegramError:
            log.warning("could not send the apology either")

    async def describe_bot(self, application: Application) -> None:
        """The command menu and the bot's description, in every shipped language."""
        bot = application.bot
        for code in (None, *self.catalogs.codes):
            tr = self.catalogs.get(code or "en")
            try:
                await bot.set_my_commands([BotCommand(name, tr(text)) for name, text in self.commands],
                                          language_code=code)
                await bot.set_my_description(tr(T.BOT_DESCRIPTION), language_code=code)
                await bot.set_my_short_description(tr(T.BOT_SHORT_DESCRIPTION), language_code=code)
            except TelegramError as exc:  # the bot works without a menu: not worth refusing to start
                log.warning("could not set the command menu for %s (%s)", code or "default", type(exc).__name__)


async def attach_desk(channel: TelegramChannel, conversation: Conversation, chat_id: int,
                      others: Mapping[str, Channel] | None = None) -> OperatorsDesk:
    """The operators' group answers this channel's families, and those of the `others` channels
    running in the same process (bot.handoff); a topic per family if the group has topics."""
    topics = False
    try:
        topics = bool((await channel.telegram.get_chat(chat_id)).is_forum)
    except TelegramError as exc:
        log.warning("the operators' group cannot be read (%s): is the bot a member of it?", type(exc).__name__)
    resources = conversation.resources
    desk = OperatorsDesk(conversation.store, resources.kb, resources.catalogs, chat_id, channel.telegram,
                         {CHANNEL: channel, **(others or {})}, topics=topics)
    channel.desk = desk
    conversation.handlers.update(desk.handlers)
    await conversation.resume_effects()  # hand-off messages a crash left saved but not yet relayed
    desk.start()  # families nobody answered in time are told so
    return desk


def build_application(
    settings: TelegramSettings,
    channel: TelegramChannel,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
) -> Application:
    """The PTB Application: one handler for every update, an error handler, the rate limiter."""
    builder: ApplicationBuilder = Application.builder().token(settings.token)
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    # Updates of different users run concurrently; one user's turns are ordered by the
    # conversation's per-user lock.
    application = builder.concurrent_updates(True).updater(None).build()
    channel.telegram = application.bot
    application.add_handler(TypeHandler(Update, channel.on_update))
    application.add_error_handler(channel.on_error)
    return application


POLL_SECONDS = 30  # long polling: Telegram holds the request open until an update comes
DRAIN_SECONDS = 20.0  # on SIGTERM: time to send what is waiting, within a supervisor's usual 30 s


def serve(settings: TelegramSettings, resources: Resources, conversation: OpenConversation, *,
          webhook_url: str | None = None, operators_chat_id: int | None = None) -> None:
    """Run the bot until SIGTERM or SIGINT: long polling, or the webhook server behind `webhook_url`."""
    if webhook_url and not settings.webhook_secret:
        raise SettingsError("a webhook needs TELEGRAM_WEBHOOK_SECRET, so that only Telegram can send updates.")
    channel = TelegramChannel(None, resources.catalogs, settings.username,
                              tuple((resources.kb.audiences or {}).values()))
    application = build_application(settings, channel)
    try:
        asyncio.run(_run(application, channel, conversation, settings, webhook_url, operators_chat_id))
    except InvalidToken:
        raise SettingsError("Telegram refused TELEGRAM_TOKEN: check it with @BotFather (/token).") from None
    except Conflict:
        raise SettingsError("another process is already taking this bot's updates (polling or a webhook): "
                            "run one per bot, or use --webhook behind one address.") from None
    if channel.fatal is not None:
        raise channel.fatal


async def _run(application: Application, channel: TelegramChannel, conversation: OpenConversation,
               settings: TelegramSettings, webhook_url: str | None, operators_chat_id: int | None = None) -> None:
    """Open the store, send what a crash left waiting, take updates until told to stop, then
    finish: stop taking updates, send what is waiting (up to DRAIN_SECONDS), close."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    channel.stop = lambda _application: stop.set()  # the database was lost
    async with conversation() as opened, application:
        outbox = channel.attach_outbox(opened)
        if operators_chat_id is not None:
            await attach_desk(channel, opened, operators_chat_id)
        await outbox.resume()
        await channel.describe_bot(application)
        try:
            if webhook_url:
                await _serve_webhook(application, channel, settings, webhook_url, stop)
            else:
                await poll(application, channel, stop)
        finally:
            if channel.desk is not None:
                await channel.desk.close()
            if not await outbox.drained(DRAIN_SECONDS):
                log.warning("answers for %d users stay in the outbox for the next start", outbox.busy)
            await outbox.close()


async def _until(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def poll(application: Application, channel: TelegramChannel, stop: asyncio.Event) -> None:
    """Long polling where an update is confirmed to Telegram only once its turn is saved.

    Telegram forgets updates up to the `offset` of the next getUpdates: it is advanced past a
    batch only after every turn of the batch (and its replies) is in the database. A crash
    before that, and Telegram delivers the batch again; the turns already saved are
    recognised by their update ids and not answered twice. A batch that could not be saved
    (a full disk) is fetched again after a pause, not confirmed."""
    bot = application.bot
    offset: int | None = None
    failures = 0
    with contextlib.suppress(TelegramError):
        await bot.delete_webhook()
    while not stop.is_set():
        fetch = asyncio.ensure_future(bot.get_updates(offset=offset, timeout=POLL_SECONDS,
                                                      allowed_updates=Update.ALL_TYPES))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            break
        try:
            updates = fetch.result()
        except (NetworkError, RetryAfter) as exc:
            if isinstance(exc, BadRequest):
                raise
            failures += 1
            pause = _seconds(exc.retry_after) if isinstance(exc, RetryAfter) else min(30.0, 0.5 * 2**failures)
            log.warning("getUpdates failed (%s), trying again in %.1f s", type(exc).__name__, pause)
            await _until(stop, pause)
            continue
        failures = 0
        if not updates:
            continue
        unsaved = channel.unsaved
        await asyncio.gather(*(application.process_update(u) for u in updates))
        if channel.unsaved > unsaved:
            log.warning("a batch of updates could not be saved; it will be fetched again")
            await _until(stop, 2.0)
            continue
        offset = updates[-1].update_id + 1
    if offset is not None:  # confirm the last batch, so that the next start does not fetch it again
        with contextlib.suppress(TelegramError):
            await bot.get_updates(offset=offset, timeout=0, limit=1)


# ------------------------------------------------------------------ the webhook server


def webhook_app(application: Application, channel: TelegramChannel, secret: str, path: str) -> Starlette:
    """The endpoint Telegram calls: the secret token is checked from the headers and the body
    is read only up to MAX_BODY, before anything is parsed (PTB's own tornado server reads
    any body whole, and logs the updates it cannot parse — with the users' words). A call
    that is not an update is answered 400 and logged by its kind only. 200 is answered only
    once the turn is saved; a turn that could not be saved is 503, and Telegram sends the
    update again."""

    async def receive(request: Request) -> Response:
        token = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        body = await read_limited(request, MAX_BODY)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # anything Telegram would never send: refused, not a crash
            log.warning("a webhook call was not an update: %s", type(exc).__name__)
            return PlainTextResponse("not understood", status_code=400)
        unsaved = channel.unsaved
        await application.process_update(update)
        if channel.unsaved > unsaved or channel.fatal is not None:
            return PlainTextResponse("not saved, try again", status_code=503)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/" + path.strip("/"), receive, methods=["POST"])])


async def _serve_webhook(application: Application, channel: TelegramChannel, settings: TelegramSettings,
                         webhook_url: str, stop: asyncio.Event) -> None:
    """uvicorn in this event loop, until `stop` (uvicorn takes SIGTERM itself, then passes it on)."""
    from urllib.parse import urlparse

    import uvicorn

    await _register_webhook(application, webhook_url, settings.webhook_secret or "", stop)
    app = webhook_app(application, channel, settings.webhook_secret or "", urlparse(webhook_url).path)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.listen, port=settings.port, log_level="warning",
                                           lifespan="off"))
    watcher = asyncio.ensure_future(stop.wait())
    watcher.add_done_callback(lambda _: setattr(server, "should_exit", True))
    try:
        await server.serve()
    finally:
        watcher.cancel()


async def _register_webhook(application: Application, url: str, secret: str, stop: asyncio.Event) -> None:
    """setWebhook, tried again with growing pauses while Telegram cannot be reached."""
    for attempt in itertools.count():
        try:
            await application.bot.set_webhook(url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
            return
        except (NetworkError, RetryAfter) as exc:
            if isinstance(exc, BadRequest) or stop.is_set():
                raise
            log.warning("could not register the webhook (%s), trying again", type(exc).__name__)
            await _until(stop, min(30.0, 0.5 * 2**attempt))
