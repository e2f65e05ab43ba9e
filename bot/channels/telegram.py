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
import hmac
import html
import itertools
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from functools import lru_cache
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
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest

from bot.channels.base import Channel, pack, text_event
from bot.channels.http import MAX_BODY, read_limited
from bot.config import SettingsError, TelegramSettings
from bot.conversation import Conversation, OpenConversation
from bot.dialogs import texts as T
from bot.dialogs.model import Button, Event, Location, Other, Press, Reply, Resources
from bot.i18n import Catalogs
from bot.knowledge import Audience
from bot.storage import StoreLost
from bot.tracing import where

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_MESSAGE = 4096
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # a link in a card must not push the card off screen
SEND_ATTEMPTS = 4  # a send failing on the network is tried again, with growing pauses
NOT_TEXT_KINDS = ("sticker", "voice", "audio", "photo", "video", "video_note", "animation", "document",
                  "contact", "poll", "dice", "venue", "game", "story")

# The command menu, in the order Telegram shows it; the audiences' commands (/ukraina) come
# after /language, from knowledge/audiences.yaml.
COMMANDS = (
    ("start", T.CMD_START), ("restart", T.CMD_RESTART), ("back", T.CMD_BACK),
    ("language", T.CMD_LANGUAGE), ("help", T.CMD_HELP), ("forget", T.CMD_FORGET),
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
    return Other(kind, lang)


# ------------------------------------------------------------------ reply -> messages


@lru_cache(maxsize=4096)
def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """Short labels two to a row, long ones alone, so they stay readable on a small screen."""
    if not buttons:
        return None
    width = 2 if all(len(b.label) <= 16 for b in buttons) else 1
    rows = [
        [InlineKeyboardButton(b.label, callback_data=b.id) for b in buttons[i : i + width]]
        for i in range(0, len(buttons), width)
    ]
    return InlineKeyboardMarkup(rows)


def render(replies: list[Reply], limit: int = MAX_MESSAGE) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """HTML messages for one turn's replies: as few as fit (Telegram allows about one message
    a second per chat, and each one buzzes the phone), split only between sections, with
    the keyboard of the last reply on the last message."""
    parts = []
    for section in (section for reply in replies for section in reply.sections):
        body = html.escape(section.body, quote=False)
        parts.append(f"<b>{html.escape(section.title, quote=False)}</b>\n{body}" if section.title else body)
    chunks = pack(parts, limit)
    buttons = replies[-1].buttons if replies else ()
    return [(c, keyboard(buttons) if i == len(chunks) - 1 else None) for i, c in enumerate(chunks)]


# ------------------------------------------------------------------ the channel


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
        at = next(i for i, (name, _) in enumerate(COMMANDS) if name == "language") + 1
        self.commands = (*COMMANDS[:at], *((a.command, a.menu) for a in audiences), *COMMANDS[at:])

    def _tr(self, update: Update):
        user = update.effective_user
        return self.catalogs.get(self.catalogs.pick(user.language_code if user else None))

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Every update: private chats get the dialog; groups get one notice; the rest is ignored."""
        chat = update.effective_chat
        query = update.callback_query
        if query is not None:
            try:
                await with_retries(query.answer, "answerCallbackQuery")
            except BadRequest as exc:  # a press from long ago: the dialog still answers it
                log.info("could not answer a callback query (%s)", type(exc).__name__)
        if chat is None or update.effective_user is None:
            return
        if chat.type != ChatType.PRIVATE:
            await self._group_notice(update, context)
            return
        event = to_event(update)
        if event is None:
            return
        if query is not None and query.message is not None:
            # The keyboard pressed is spent: remove it so it cannot be pressed twice.
            try:
                await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError as exc:  # too old, already edited...: the dialog still judges the press
                log.info("could not remove a keyboard (%s)", type(exc).__name__)
        replies = await self.turn(str(update.effective_user.id), event, once=f"{CHANNEL}:update:{update.update_id}")
        if not replies:
            return
        for text, markup in render(replies):
            await with_retries(
                lambda text=text, markup=markup: context.bot.send_message(
                    chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                ),
                "sendMessage",
            )

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


def build_application(
    settings: TelegramSettings,
    channel: TelegramChannel,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    rate_limiter: bool = True,
    post_init: Callable[[Application], Awaitable[None]] | None = None,
    post_shutdown: Callable[[Application], Awaitable[None]] | None = None,
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
    if post_init is not None:
        builder = builder.post_init(post_init)
    if post_shutdown is not None:
        builder = builder.post_shutdown(post_shutdown)
    # Updates of different users run concurrently; one user's turns are ordered by the
    # conversation's per-user lock.
    application = builder.concurrent_updates(True).build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    application.add_error_handler(channel.on_error)
    return application


def serve(settings: TelegramSettings, resources: Resources, conversation: OpenConversation, *,
          webhook_url: str | None = None) -> None:
    """Run the bot until stopped: long polling, or the bot's own webhook server behind `webhook_url`."""
    from contextlib import AsyncExitStack

    if webhook_url and not settings.webhook_secret:
        raise SettingsError("a webhook needs TELEGRAM_WEBHOOK_SECRET, so that only Telegram can send updates.")
    channel = TelegramChannel(None, resources.catalogs, settings.username,
                              tuple((resources.kb.audiences or {}).values()))
    stack = AsyncExitStack()

    async def post_init(application: Application) -> None:
        # The store opens in PTB's event loop, where the conversation will run.
        channel.conversation = await stack.enter_async_context(conversation())
        await channel.describe_bot(application)

    async def post_shutdown(application: Application) -> None:
        await stack.aclose()

    application = build_application(settings, channel, post_init=post_init, post_shutdown=post_shutdown)
    if webhook_url:
        run_webhook(application, channel, settings, webhook_url)
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, bootstrap_retries=-1)
    if channel.fatal is not None:
        raise channel.fatal


# ------------------------------------------------------------------ the webhook server


def webhook_app(application: Application, secret: str, path: str, lifespan=None) -> Starlette:
    """The endpoint Telegram calls: the secret token is checked from the headers and the body
    is read only up to MAX_BODY, before anything is parsed (PTB's own tornado server reads
    any body whole, and logs the updates it cannot parse — with the users' words). A call
    that is not an update is answered 400 and logged by its kind only."""

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
        await application.update_queue.put(update)
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/" + path.strip("/"), receive, methods=["POST"])], lifespan=lifespan)


def run_webhook(application: Application, channel: TelegramChannel, settings: TelegramSettings,
                webhook_url: str) -> None:
    """PTB's Application processes the updates; uvicorn serves `webhook_app` in the same loop."""
    import contextlib
    from urllib.parse import urlparse

    import uvicorn

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        async with application:  # initialize ... shutdown
            if application.post_init:
                await application.post_init(application)
            await _register_webhook(application, webhook_url, settings.webhook_secret or "")
            await application.start()
            try:
                yield
            finally:
                await application.stop()
                if application.post_shutdown:
                    await application.post_shutdown(application)

    # The database lost under the running bot: stop the server the way a supervisor would.
    channel.stop = lambda _application: os.kill(os.getpid(), signal.SIGTERM)
    app = webhook_app(application, settings.webhook_secret or "", urlparse(webhook_url).path, lifespan)
    uvicorn.run(app, host=settings.listen, port=settings.port, log_level="warning")


async def _register_webhook(application: Application, url: str, secret: str) -> None:
    """setWebhook, tried again with growing pauses while Telegram cannot be reached."""
    for attempt in itertools.count():
        try:
            await application.bot.set_webhook(url=url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
            return
        except (NetworkError, RetryAfter) as exc:
            if isinstance(exc, BadRequest):
                raise
            log.warning("could not register the webhook (%s), trying again", type(exc).__name__)
            await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
