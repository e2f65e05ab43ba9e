"""Wiring: resources, the store and the conversation, and the channel that runs on them.

The one place that knows how the parts fit: `python -m bot chat|telegram|whatsapp|serve` comes
here. Resources (knowledge base, understanding, catalogs) load once; the store opens in the
event loop that will use it, effects left pending by a crash are carried out, and the
channel runs. Settings or knowledge-base errors end in one plain line and an exit code,
never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.config import Config, SettingsError, TelegramSettings, WhatsAppSettings, env
from bot.conversation import Conversation, OpenConversation
from bot.dialogs.model import Resources
from bot.knowledge import KnowledgeError
from bot.store import StoreError, check_database, shown


def opener(config: Config, resources: Resources, db: str | None = None) -> OpenConversation:
    """A function that opens the store and yields the conversation over it, then closes it."""

    @asynccontextmanager
    async def conversation() -> AsyncIterator[Conversation]:
        from bot.store import SessionStore

        store = await SessionStore.open(db or config.db, retention_days=config.retention_days,
                                        secret=config.secret)
        resuming = None
        try:
            opened = Conversation(resources, store, config.clock)
            await opened.resume_effects()
            resuming = asyncio.get_running_loop().create_task(opened.keep_resuming())
            yield opened
        finally:
            if resuming is not None:
                resuming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resuming
            await store.close()

    return conversation


def _guarded(run: Callable[[], None]) -> int:
    try:
        run()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print("The knowledge base has errors; fix them and start again:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 0
    return 0


# Libraries whose own lines may carry what the bot never logs: httpx's request lines the
# token, PTB's and pywa's debug lines the updates themselves (names, numbers, texts).
QUIET_LIBRARIES = ("httpx", "httpcore", "telegram", "pywa", "pywa_async", "uvicorn", "aiosqlite", "asyncio",
                   "psycopg", "psycopg.pool")


def quiet_libraries() -> None:
    """The libraries log their warnings and errors only (the bot's own lines carry no user data)."""
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()


def chat(config: Config, *, db: str | None, user: str, lang: str | None, start: str | None, as_json: bool) -> int:
    """The console chat: no token, no network."""

    def run() -> None:
        from bot.channels import console
        from bot.resources import load_resources

        check_database(db or config.db)
        conversation = opener(config, load_resources(config), db)

        async def main() -> None:
            async with conversation() as opened:
                await console.run(opened, user_id=user, lang=lang, start=start, as_json=as_json)

        asyncio.run(main())

    return _guarded(run)


def purge(config: Config, *, db: str | None) -> int:
    """Erase conversations untouched for the retention period (the running bot does it too)."""

    def run() -> None:
        from bot.store import SessionStore

        path = db or config.db
        check_database(path)

        async def main() -> int:
            store = await SessionStore.open(path, secret=config.secret)
            try:
                return await store.purge(config.retention_days)
            finally:
                await store.close()

        erased = asyncio.run(main())
        print(f"{erased} conversation(s) untouched for {config.retention_days} days erased from {shown(path)}.")

    return _guarded(run)


def telegram(config: Config, *, webhook: str | None, listen: str | None, port: int | None) -> int:
    def run() -> None:
        from dataclasses import replace

        from bot.channels.telegram import serve
        from bot.resources import load_resources

        settings = TelegramSettings.from_env(env())
        settings = replace(settings, listen=listen or settings.listen, port=port or settings.port)
        check_database(config.db)  # a database it cannot use: one line, before anything starts
        _logging()
        # A person can be asked for only where the operators' group is attached: the process
        # that takes the Telegram updates (`serve` for WhatsApp families too).
        resources = replace(load_resources(config), people=config.operators_chat_id is not None)
        serve(settings, resources, opener(config, resources), webhook_url=webhook,
              operators_chat_id=config.operators_chat_id)

    return _guarded(run)


def whatsapp(config: Config, *, host: str | None, port: int | None) -> int:
    def run() -> None:
        from dataclasses import replace

        from bot.channels.whatsapp import serve
        from bot.resources import load_resources

        settings = WhatsAppSettings.from_env(env())
        settings = replace(settings, host=host or settings.host, port=port or settings.port)
        check_database(config.db)
        _logging()
        if config.operators_chat_id is not None:
            logging.getLogger(__name__).warning(
                "OPERATORS_CHAT_ID is set, but the operators' group is read by the process that takes the "
                "Telegram updates: run `python -m bot serve` to hand WhatsApp families over to a person")
        resources = load_resources(config)
        serve(settings, resources, opener(config, resources))

    return _guarded(run)


def serve(config: Config, *, webhook: str | None, host: str | None, port: int | None) -> int:
    """Telegram and WhatsApp in one process, so that the operators' group answers families of both."""

    def run() -> None:
        from dataclasses import replace

        from bot.channels.both import serve
        from bot.resources import load_resources

        tg_settings = TelegramSettings.from_env(env())
        wa_settings = WhatsAppSettings.from_env(env())
        wa_settings = replace(wa_settings, host=host or wa_settings.host, port=port or wa_settings.port)
        check_database(config.db)
        _logging()
        resources = replace(load_resources(config), people=config.operators_chat_id is not None)
        serve(tg_settings, wa_settings, resources, opener(config, resources), webhook_url=webhook,
              operators_chat_id=config.operators_chat_id)

    return _guarded(run)
