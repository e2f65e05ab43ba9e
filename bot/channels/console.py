"""The console chat: the bot in a terminal, with no token and no network.

One user message per line on stdin. A line equal to a shown button's number or label
presses that button (the age question shows no numbers: there "3" is an age, not a
button); `/command arg` is a command. For trying things that only phones send:
`/location LAT LON`, `/sticker`, `/photo`, `/voice`. With `--json`, every bot message is
one JSON line: {"text", "buttons", "services", "lang", "state"}.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from bot.channels.base import MAX_TEXT, Channel, numbered_choices, text_event
from bot.conversation import Conversation
from bot.dialogs.model import Button, Command, Event, Location, Other, Press, Reply, Resume, Text
from bot.text import normalize

CHANNEL = "console"
PHONE_ONLY = {"sticker", "photo", "voice", "video", "document"}


def to_event(line: str, buttons: tuple[Button, ...], client_lang: str | None, *, by_number: bool = True) -> Event:
    """A typed line as the event a phone would send: a shown button's number or label is a
    press, `/location LAT LON` a shared place, `/sticker` and the like what phones send."""
    line = line[:MAX_TEXT]  # a pasted book is read as its first page, like on a phone
    stripped = line.strip()
    if by_number and stripped.isascii() and stripped.isdigit() and 1 <= int(stripped) <= len(buttons):
        return Press(buttons[int(stripped) - 1].id, client_lang)
    typed = normalize(stripped)
    for button in buttons:
        if typed and normalize(button.label) == typed:
            return Press(button.id, client_lang)
    event = text_event(stripped, client_lang)
    if isinstance(event, Command):
        if event.name in PHONE_ONLY:
            return Other(event.name, client_lang)
        if event.name == "location":
            try:
                lat, lon = (float(x) for x in event.arg.split())
                return Location(lat, lon, client_lang)
            except ValueError:
                pass
        return event
    return Text(line, client_lang)


class ConsoleChannel(Channel):
    name = CHANNEL


def render(reply: Reply, as_json: bool) -> str:
    if as_json:
        return json.dumps({
            "text": reply.text,
            "buttons": [b.label for b in reply.buttons],
            "services": list(reply.services),
            "lang": reply.lang,
            "state": reply.state,
        }, ensure_ascii=False)
    return "\n".join([reply.text, *numbered_choices(reply)]) + "\n"


async def run(
    conversation: Conversation,
    *,
    user_id: str = "local",
    lang: str | None = None,
    start: str | None = None,
    as_json: bool = False,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
) -> None:
    interactive = stdin.isatty() and not as_json
    channel = ConsoleChannel(conversation, conversation.resources.catalogs)
    key = channel.key_of(user_id)
    buttons: tuple[Button, ...] = ()
    by_number = True

    async def send(event: Event) -> None:
        nonlocal buttons, by_number
        for reply in await channel.turn(key, event):
            print(render(reply, as_json), file=stdout, flush=True)
            if reply.buttons:
                buttons, by_number = reply.buttons, reply.numbered

    if start is not None or not await conversation.has_session(CHANNEL, key):
        await send(Command("start", start or "", lang))
    else:
        await send(Resume(lang))
    while True:
        if interactive:
            print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        await send(to_event(line.rstrip("\n"), buttons, lang, by_number=by_number))
