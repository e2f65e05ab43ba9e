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

A new channel (a web chat, Signal) is one module: a subclass of `Channel` with a `name`, its
`to_event`, its rendering and its sending, and a line in `bot.app`.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.model import Command, Event, Repeat, Reply, Section, Text
from bot.i18n import Catalogs, Translator
from bot.storage import StoreFull

log = logging.getLogger(__name__)

MORE = "more:"  # the id of a list row that shows the next page of options
MAX_PAGE = 99
MAX_TEXT = 4096  # what Telegram and WhatsApp allow a message: longer input is cut, before anything


class Channel:
    """One platform around one Conversation (attached once the event loop exists)."""

    name: ClassVar[str]

    def __init__(self, conversation: Conversation | None, catalogs: Catalogs):
        self.conversation, self.catalogs = conversation, catalogs
        self.unsaved = 0  # turns answered with an apology because the disk was full

    @property
    def attached(self) -> Conversation:
        if self.conversation is None:
            raise RuntimeError(f"the {self.name} channel has no conversation attached")
        return self.conversation

    async def turn(self, user_id: str, event: Event, *, once: str | None = None) -> list[Reply]:
        """The replies to one event of one user of this channel (answered once per `once` key).

        A full disk: the turn is not saved, the family gets a short apology and may simply
        write again (`unsaved` tells a webhook to ask the platform to deliver it again). A
        database deleted or replaced under the bot (StoreLost) is not handled here: the
        channel stops, loudly.
        """
        try:
            return await self.attached.handle(self.name, user_id, event, once=once)
        except StoreFull as exc:
            log.error("%s: a turn could not be saved: %s", self.name, exc)
            self.unsaved += 1
            tr = self.catalogs.get(self.catalogs.pick(getattr(event, "client_lang", None)))
            return [Reply((Section(tr(T.SORRY)),), lang=tr.lang)]

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
