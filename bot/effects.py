"""What turns do besides answering: one function per kind of effect.

`step` returns effects as data (`bot.dialogs.model.Effect`); the conversation saves them in
the same transaction as the session and then calls `carry_out`, which runs the function
named by each effect's kind and marks it done. Effects saved but not done when the bot
stopped are carried out when it starts again (`Conversation.resume_effects`). A new kind of
effect is one function here and one entry in HANDLERS; it must be safe to run again when a
crash came after doing and before "done". An effect that only writes to the bot's own
database (counting a result) is one statement in `bot.store.LOCAL_EFFECTS` instead, done in
the turn's own transaction, so exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from bot.store import LOCAL_EFFECTS, PendingEffect, SessionStore
from bot.tracing import where

log = logging.getLogger(__name__)

Handler = Callable[[SessionStore, PendingEffect], Awaitable[None]]


# Effects whose whole work is a write to the bot's own database (counting a result shown)
# are done by the store inside the turn's transaction: see `bot.store.LOCAL_EFFECTS`.
# The others are carried out here, after the save.
HANDLERS: dict[str, Handler] = {}


def known_kinds() -> frozenset[str]:
    return frozenset(HANDLERS) | frozenset(LOCAL_EFFECTS)


async def carry_out(store: SessionStore, pending: Sequence[PendingEffect],
                    others: Mapping[str, Handler] | None = None) -> None:
    """Do each effect; one that fails stays pending (logged by kind only) and is tried at the
    next start. `others`: handlers of kinds a running part of the bot carries out (the
    operators' desk, bot.handoff)."""
    for item in pending:
        handler = HANDLERS.get(item.effect.kind) or (others or {}).get(item.effect.kind)
        if handler is None:
            log.error("no handler for effect kind %s: left pending", item.effect.kind)
            continue
        try:
            await handler(store, item)
        except Exception as exc:
            log.error("effect %s failed (%s at %s): left pending", item.effect.kind, type(exc).__name__, where(exc))
            continue
        await store.done(item)
