"""Where conversations are kept: `SessionStore` over an engine chosen by BOT_DB — an SQLite file
(the default, bot.store.sqlite) or a PostgreSQL URL that several processes share
(bot.store.postgres). The schema and its migrations are in bot.store.schema."""

from bot.store.records import (
    Handoff,
    PendingEffect,
    Queued,
    Stale,
    StoreDown,
    StoreError,
    StoreFull,
    StoreLost,
    Turn,
)
from bot.store.sessions import LOCAL_EFFECTS, Lease, SessionStore, is_url
from bot.store.sqlite import check_database as check_file


def shown(target: object) -> str:
    """BOT_DB as it may be printed: a file's path, or a server's host and database (never its password)."""
    if is_url(str(target)):
        from bot.store.postgres import where

        return where(str(target))
    return str(target)


def check_database(target: object) -> None:
    """Before anything starts: an SQLite file that cannot be used is said in one line (a
    PostgreSQL server is checked when the store opens, in the bot's event loop)."""
    if not is_url(str(target)):
        check_file(target)  # type: ignore[arg-type]


__all__ = ["LOCAL_EFFECTS", "Handoff", "Lease", "PendingEffect", "Queued", "SessionStore", "Stale", "StoreDown",
           "StoreError", "StoreFull", "StoreLost", "Turn", "check_database", "is_url", "shown"]
