"""What the store hands out (a turn's session, a queued reply, a hand-off, a pending effect) and
the ways it can fail, as the channels see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.dialogs.model import Effect, Session


@dataclass(frozen=True)
class PendingEffect:
    id: int
    channel: str
    effect: Effect


@dataclass(frozen=True)
class Queued:
    """A reply waiting in the outbox: one platform message, as the channel rendered it."""

    id: int
    user_id: str
    address: str  # where the platform must deliver it (a chat id, a phone number or BSUID)
    body: str
    created: float  # unix time of the turn that decided it


@dataclass(frozen=True)
class Handoff:
    """An open hand-off: whose (channel, pseudonym), where to answer (the address, unsealed),
    and where its card is in the operators' group (message id, and topic if the group has them);
    when the family last wrote (UTC), since WhatsApp lets a business reply freely for 24 hours."""

    channel: str
    user_id: str
    address: str
    card: int
    thread: int | None
    heard: datetime | None = None


@dataclass(frozen=True)
class Turn:
    session: Session | None
    already: bool  # the event asked about was answered before: do not answer it again
    version: int = 0  # the session's version as read (0: none stored); the save checks it is still so


class StoreError(Exception):
    """The database cannot be used: one line that says which database and why."""


class StoreLost(StoreError):
    """The database file was deleted or replaced under the running bot: it must stop."""


class StoreDown(StoreError):
    """This turn could not be saved (the disk is full, the database server cannot be reached);
    the next may. The family is told, and a webhook asks the platform to deliver it again."""


class StoreFull(StoreDown):
    """The disk (or the database) is full."""


class Stale(Exception):
    """Another process saved this user's session since it was read: the save wrote nothing."""
