"""Telegram and WhatsApp in one process, around one store and one operators' desk.

Why one process: the operators' group is a Telegram chat, so an operator's reply reaches
only the process that takes the bot's Telegram updates. A WhatsApp family handed over to
a person must therefore be answered by that same process, which also holds the family's
WhatsApp conversation (one SQLite file is one process's, until the shared store of issue
16). `python -m bot serve` runs both: Telegram by long polling (or its webhook, on the
same HTTP server), the WhatsApp webhook at /webhook, one outbox per channel, and the desk
that relays between the group and families of either channel.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from urllib.parse import urlparse

from starlette.applications import Starlette
from telegram.error import Conflict, InvalidToken

from bot.channels import telegram as tg
from bot.channels import whatsapp as wa
from bot.config import SettingsError, TelegramSettings, WhatsAppSettings
from bot.conversation import OpenConversation
from bot.dialogs.model import Resources

log = logging.getLogger(__name__)

WHATSAPP_PATH = "/webhook"


def serve(tg_settings: TelegramSettings, wa_settings: WhatsAppSettings, resources: Resources,
          conversation: OpenConversation, *, webhook_url: str | None = None,
          operators_chat_id: int | None = None) -> None:
    """Run both channels until SIGTERM or SIGINT; the HTTP server listens on HOST:PORT."""
    if webhook_url and not tg_settings.webhook_secret:
        raise SettingsError("a webhook needs TELEGRAM_WEBHOOK_SECRET, so that only Telegram can send updates.")
    if webhook_url and "/" + urlparse(webhook_url).path.strip("/") == WHATSAPP_PATH:
        raise SettingsError(f"the Telegram webhook cannot use {WHATSAPP_PATH}, WhatsApp's path: "
                            "give it another one, e.g. https://bot.example.org/telegram")
    telegram = tg.TelegramChannel(None, resources.catalogs, tg_settings.username,
                                  tuple((resources.kb.audiences or {}).values()))
    whatsapp = wa.WhatsAppChannel(wa_settings, None, resources.catalogs)
    application = tg.build_application(tg_settings, telegram)
    try:
        asyncio.run(_run(application, telegram, whatsapp, conversation, tg_settings, wa_settings, webhook_url,
                         operators_chat_id))
    except InvalidToken:
        raise SettingsError("Telegram refused TELEGRAM_TOKEN: check it with @BotFather (/token).") from None
    except Conflict:
        raise SettingsError("another process is already taking this bot's updates (polling or a webhook): "
                            "run one per bot, or use --webhook behind one address.") from None
    for channel in (telegram, whatsapp):
        if channel.fatal is not None:
            raise channel.fatal


async def _run(application, telegram: tg.TelegramChannel, whatsapp: wa.WhatsAppChannel,
               conversation: OpenConversation, tg_settings: TelegramSettings, wa_settings: WhatsAppSettings,
               webhook_url: str | None, operators_chat_id: int | None) -> None:
    """Open the store, attach both channels and the desk, serve until told to stop, then
    send what is waiting (up to DRAIN_SECONDS) and close."""
    import uvicorn

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # uvicorn takes them while it serves, then passes them on
        signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    telegram.stop = lambda _application: stop.set()  # the database was lost
    async with conversation() as opened, application:
        outboxes = (telegram.attach_outbox(opened), whatsapp.attach_outbox(opened))
        if operators_chat_id is not None:
            await tg.attach_desk(telegram, opened, operators_chat_id, others={wa.CHANNEL: whatsapp})
        for outbox in outboxes:
            await outbox.resume()
        await telegram.describe_bot(application)
        routes = list(wa.create_app(whatsapp, WHATSAPP_PATH).routes)
        if webhook_url:
            await tg._register_webhook(application, webhook_url, tg_settings.webhook_secret or "", stop)
            routes += tg.webhook_app(application, telegram, tg_settings.webhook_secret or "",
                                     urlparse(webhook_url).path).routes
        server = uvicorn.Server(uvicorn.Config(Starlette(routes=routes), host=wa_settings.host,
                                               port=wa_settings.port, log_level="warning", lifespan="off",
                                               access_log=False))
        watcher = asyncio.ensure_future(stop.wait())
        watcher.add_done_callback(lambda _: setattr(server, "should_exit", True))

        async def http() -> None:
            try:
                await server.serve()
            finally:
                # uvicorn returns on SIGTERM (and passes the signal on): the polling stops too.
                stop.set()

        try:
            tasks = [asyncio.ensure_future(http())]
            if not webhook_url:
                tasks.append(asyncio.ensure_future(tg.poll(application, telegram, stop)))
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        finally:
            watcher.cancel()
            if telegram.desk is not None:
                await telegram.desk.close()
            for outbox in outboxes:
                if not await outbox.drained(tg.DRAIN_SECONDS):
                    log.warning("answers for %d users stay in the outbox for the next start", outbox.busy)
                await outbox.close()
            await whatsapp.session.aclose()
