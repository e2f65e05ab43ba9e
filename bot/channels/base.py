"""The contract every channel keeps, and what they all share.

A channel is a translator between one platform and the pure dialog: it turns the platform's
update into an `Event`, hands it to `Channel.turn` (the one way into the conversation), and
renders the `Reply`s within the platform's limits. No rule of the conversation lives in a
channel. What every channel needs is here, once:

- `text_event`: a typed message is a command (`/start ua`, `/start@OrientaBot ua`) or text;
- `pack`: a turn's sections in as few messages as a length limit allows, cut between cards;
- `numbered_choices`: buttons as numbered lines, for a channel that shows only text;
- `page_of` / `MORE`: menus longer than a platform's list are paged; the options of a page are
  computed again from the dialog (the `Repeat` event), never remembered by the channel.

Channels that talk to a platform attach an outbox (`attach_outbox`): `turn` then saves the
replies with the turn, rendered by the channel's `bodies`, and the outbox sends them through
its `deliver`, which sorts the platform's failures into TryLater and Undeliverable; a limit
per user (bot.fair_use) keeps one user from flooding the bot. The console prints instead.

A new channel (a web chat, Signal) is one module: a subclass of `Channel` with a `name`, its
`to_event`, its `bodies` and `deliver`, and a line in `bot.app`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.model import Command, Event, Repeat, Reply, Section, Text
from bot.fair_use import Admit, FairUse
from bot.i18n import Catalogs, Translator
from bot.outbox import FIRST_PAUSE, LONGEST_PAUSE, STALE_AFTER, Outbox, TryLater, Undeliverable
from bot.store import Queued, StoreDown

log = logging.getLogger(__name__)

MORE = "more:"  # the id of a list row that shows the next page of options
MAX_PAGE = 99
MAX_TEXT = 4096  # what Telegram and WhatsApp allow a message: longer input is cut, before anything


MAX_MEDIA = 20 * 1024 * 1024  # bytes: a family's photo or document passed on (Telegram's bots upload up to 50 MB)


@dataclass(frozen=True)
class Media:
    """A photo or document a family sent, fetched to be passed on to the operators' group."""

    content: bytes
    mime: str
    name: str


class Channel:
    """One platform around one Conversation (attached once the event loop exists)."""

    name: ClassVar[str]

    def __init__(self, conversation: Conversation | None, catalogs: Catalogs):
        self.conversation, self.catalogs = conversation, catalogs
        self.unsaved = 0  # turns answered with an apology because the disk was full
        self.outbox: Outbox | None = None  # set by channels that send from the outbox (all but the console)
        self.fair: FairUse | None = None  # a limit per user, where a platform can flood the bot

    def attach_outbox(self, conversation: Conversation, *, stale_after: float = STALE_AFTER,
                      pauses: tuple[float, float] = (FIRST_PAUSE, LONGEST_PAUSE)) -> Outbox:
        """Send this channel's replies from the store's outbox (see bot.outbox)."""
        self.conversation = conversation
        self.outbox = Outbox(conversation.store, self.name, self.deliver, late=self.late, stale_after=stale_after,
                             pauses=pauses)
        self.fair = FairUse()
        return self.outbox

    # How long after the user's last message the platform lets the bot write freely (None: always).
    reply_window: float | None = None

    async def reopen(self, user_id: str, address: str, lang: str) -> str | None:
        """Outside the reply window, invite the user to write again (a template the platform
        allows); the name of what was queued, or None where the channel has no such way."""
        return None

    async def media(self, ref: str) -> Media | None:
        """A photo or document a user sent, by the platform's id (None where it cannot be had)."""
        return None

    def bodies(self, replies: list[Reply]) -> list[str]:
        """The platform's messages for a turn's replies, each as the text the outbox keeps."""
        raise NotImplementedError

    async def deliver(self, message: Queued) -> None:
        """Send one message of the outbox; raise TryLater or Undeliverable when it fails."""
        raise NotImplementedError

    async def late(self, user_id: str, address: str) -> list[str]:
        """What replaces answers that waited too long: an apology and the question on screen now."""
        replies = await self.options_again(user_id)
        if not replies:
            return []
        tr = self.translator(replies)
        return self.bodies([Reply((Section(tr(T.LATE)),), lang=tr.lang), *replies])

    @property
    def attached(self) -> Conversation:
        if self.conversation is None:
            raise RuntimeError(f"the {self.name} channel has no conversation attached")
        return self.conversation

    def key_of(self, platform_id: str) -> str:
        """The pseudonym a user of this channel is known by below the channel (bot.pseudonyms):
        conversation, store, outbox and logs never see the platform's id."""
        return self.attached.store.pseudonyms.of(self.name, platform_id)

    async def turn(self, user_id: str, event: Event, *, once: str | None = None,
                   address: str | None = None, from_family: bool = True) -> list[Reply]:
        """The replies to one event of one user of this channel (answered once per `once` key).

        `user_id` is the user's pseudonym (`key_of`). With an outbox, the replies are saved
        with the turn and sent from there, to `address` (the platform's id the reply goes to,
        kept sealed in the outbox); the console prints what this returns.

        Fair use: above FairUse's rate, one "please wait" and then silence, with nothing
        stored. A full disk or a database server out of reach: the turn is not saved, the
        family gets a short apology and may simply write again (`unsaved` tells a webhook to
        ask the platform to deliver it again). A database deleted or replaced under the bot
        (StoreLost) is not handled here: the channel stops, loudly.
        """
        to = address or ""
        # Fair use counts the family's own messages, not those of the cooperative's people.
        verdict = self.fair.admit(user_id) if self.fair is not None and from_family else Admit.YES
        if verdict is not Admit.YES:
            if verdict is Admit.WARN and self.outbox is not None:
                tr = self.catalogs.get(await self._lang_of(user_id, event))
                await self._send_now(to, self.bodies([Reply((Section(tr(T.SLOW_DOWN)),), lang=tr.lang)]))
            return []
        render = None if self.outbox is None else (lambda replies: [(to, b) for b in self.bodies(replies)])
        try:
            replies = await self.attached.handle(self.name, user_id, event, once=once, render=render, address=to)
        except StoreDown as exc:  # a full disk, a database server out of reach
            log.error("%s: a turn could not be saved: %s", self.name, exc)
            self.unsaved += 1
            tr = self.catalogs.get(self.catalogs.pick(getattr(event, "client_lang", None)))
            sorry = [Reply((Section(tr(T.SORRY)),), lang=tr.lang)]
            if self.outbox is not None:
                await self._send_now(to, self.bodies(sorry))
            return sorry
        if self.outbox is not None:
            self.outbox.kick(user_id)
        return replies

    async def _lang_of(self, user_id: str, event: Event) -> str | None:
        session = await self.attached.store.load(self.name, user_id)
        return session.lang if session else self.catalogs.pick(getattr(event, "client_lang", None))

    async def _send_now(self, address: str, bodies: list[str]) -> None:
        """Outside the outbox (nothing may be stored): one try each, failures only logged."""
        for body in bodies:
            try:
                await self.deliver(Queued(0, "", address, body, 0.0))
            except (TryLater, Undeliverable) as exc:
                log.warning("%s: a notice could not be sent (%s)", self.name, type(exc).__name__)

    async def options_again(self, user_id: str) -> list[Reply]:
        """The question on screen now, to page its options: computed from the dialog, not remembered."""
        return await self.attached.handle(self.name, user_id, Repeat())

    def translator(self, replies: list[Reply]) -> Translator:
        return self.catalogs.get(replies[-1].lang if replies else None)


def text_event(text: str, client_lang: str | None = None) -> Event:
    """A typed message: `/name arg` (also `/name@botname arg`, as Telegram groups send it) is
    a command; anything else is text. Cut to MAX_TEXT first, whatever the platform sent."""
    text = text[:MAX_TEXT]
    if text.startswith("/") and len(text) > 1:
        head, _, arg = text[1:].partition(" ")
        return Command(head.split("@")[0].lower(), arg.strip(), client_lang)
    return Text(text, client_lang)


def page_of(data: str) -> int | None:
    """The page a "more options" row asks for, if the id is one (and not a forged number)."""
    if not data.startswith(MORE):
        return None
    digits = data[len(MORE):]
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_PAGE:
        return None
    return int(digits)


def numbered_choices(reply: Reply) -> list[str]:
    """Buttons as lines of text. Numbered where a typed number means a button; where it
    means a value (the age question: "3" is three years old) they are bullets."""
    if reply.numbered:
        return [f"  {i}. {b.label}" for i, b in enumerate(reply.buttons, 1)]
    return [f"  • {b.label}" for b in reply.buttons]


def pack(parts: list[str], limit: int) -> list[str]:
    """Join parts (service cards, questions) into messages of at most `limit` characters.

    Parts are never cut unless one alone is longer than a message; then it is cut at a line
    break, so a card's lines stay whole.
    """
    chunks: list[str] = []
    for part in parts:
        while len(part) > limit:
            cut = part.rfind("\n", 0, limit)
            cut = cut if cut > 0 else limit
            chunks.append(part[:cut])
            part = part[cut:].lstrip("\n")
        if chunks and len(chunks[-1]) + 2 + len(part) <= limit:
            chunks[-1] += "\n\n" + part
        else:
            chunks.append(part)
    return [c for c in chunks if c.strip()] or ["…"]
