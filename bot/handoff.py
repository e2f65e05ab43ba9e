"""The operators' desk: a Telegram group where the cooperative's people answer families.

Why a Telegram group: the cooperative can have one for free, on the phones its mediators
already carry, and families from Telegram or WhatsApp land in the same inbox. The dialog
decides (bot.dialogs.orientation: the WITH_PERSON state and its effects); the desk carries
it out:

- `handoff-open`: one card in Italian (language, comune, age groups, need, services already
  shown, channel, day, the family's own words), in its own topic where the group has topics,
  with a button to end it; the family's address is kept sealed in the `handoffs` row while
  the hand-off is open, and erased when it ends;
- `handoff-say`: each later message of the family, as a reply to the card (or in its topic);
- an operator's reply to any of those messages (or a message in the topic) reaches the
  family through the family's own channel, saved in its outbox first, answered once per
  update; `/fine` (or the card's button) ends it, and the bot takes over again;
- `handoff-close` / `handoff-forgotten`: the family went back to the bot, or asked to be
  forgotten (the group is told, so its people can delete the topic).

No phone number, platform id or name reaches the group unless the family typed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.config import TIMEZONE
from bot.dialogs.model import FromPerson, NobodyAnswered, PersonDone
from bot.effects import Handler
from bot.hours import earliest, italian_holidays, opens_at
from bot.i18n import Catalogs, hours_lines
from bot.knowledge import KnowledgeBase
from bot.store import Handoff, PendingEffect, SessionStore

if TYPE_CHECKING:
    from bot.channels.base import Channel

log = logging.getLogger(__name__)

END_BUTTON = "h:fine"  # the card's button: the operator ends the hand-off
END_COMMANDS = ("/fine", "/end")
REMIND_EVERY = 60.0  # seconds between looks for families nobody answered
WINDOW_MARGIN = 120.0  # seconds: a reply this close to the end of WhatsApp's window is not risked
CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp", "console": "chat di prova"}
WHAT_WAS_SENT = {"photo": "una foto", "image": "una foto", "document": "un documento", "video": "un video",
                 "video_note": "un video", "voice": "un messaggio vocale", "audio": "un audio",
                 "sticker": "un adesivo", "location": "una posizione"}


def card_text(data: Mapping[str, Any], kb: KnowledgeBase, catalogs: Catalogs, channel: str,
              read_at: datetime | None = None) -> str:
    """The hand-off card, in Italian, for the cooperative's people: what the family asked, who
    among the mediators speaks its language, and when the family was told the group reads it."""
    comune = kb.comuni[data["comune"]].name if data.get("comune") in kb.comuni else "non detto"
    if data.get("municipio"):
        comune += f" (Municipio {data['municipio']})"
    ages = ", ".join(kb.ages[a].label for a in data.get("ages") or () if a in kb.ages) or "non detta"
    need = kb.needs[data["need"]].label if data.get("need") in kb.needs else "non detto"
    shown = ", ".join(kb.services[s].name for s in data.get("services") or () if s in kb.services) or "nessuno"
    lines = [
        "🙋 Una famiglia chiede di parlare con una persona",
        f"Lingua: {catalogs.name_of(data.get('lang') or 'it', 'it')}",
        f"Comune: {comune}",
        f"Età: {ages}",
        f"Bisogno: {need}",
        f"Servizi già mostrati: {shown}",
        f"Canale: {CHANNEL_NAMES.get(channel, channel)}, {data.get('day', '')}",
    ]
    if data.get("words"):
        lines.append(f"Ha scritto: «{data['words']}»")
    lang = data.get("lang") or "it"
    mediators = kb.operators.speaking(lang)
    if mediators:
        it = catalogs.get("it")
        lines.append(f"Mediatori che parlano {catalogs.name_of(lang, 'it')}: " + ", ".join(
            m.telegram + (f" ({'; '.join(hours_lines(m.hours, it))})" if m.hours.blocks else "") for m in mediators))
    if read_at is not None:
        it = catalogs.get("it")
        day, hour = it.day_names([read_at.weekday()]), it.clock(read_at.time())
        lines.append(f"Arrivata fuori orario: alla famiglia ho detto che la leggete {day} dalle {hour}.")
    lines.append("Rispondi a questo messaggio: la risposta arriva alla famiglia. Per chiudere: /fine o il pulsante.")
    return "\n".join(lines)


class OperatorsDesk:
    """The hand-offs of one bot, around the operators' Telegram group."""

    def __init__(self, store: SessionStore, kb: KnowledgeBase, catalogs: Catalogs, chat_id: int, telegram: Any,
                 families: Mapping[str, Channel], topics: bool = False, clock: Callable[[], float] = time.time):
        self.store, self.kb, self.catalogs, self.chat_id = store, kb, catalogs, chat_id
        self.telegram = telegram  # the PTB Bot that posts in the group
        self.families = families  # channel name -> the Channel that answers its families
        self.topics = topics  # the group has topics: one per family
        self.clock = clock
        self._watcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ time

    def now(self) -> datetime:
        """The time in Milan (aware)."""
        return datetime.fromtimestamp(self.clock(), TIMEZONE)

    def read_at(self, now: datetime) -> datetime | None:
        """When the group is read next, if it is not read now (knowledge/operators.yaml); aware."""
        hours = self.kb.operators.hours
        if not hours.blocks:
            return None
        local = now.replace(tzinfo=None)
        state = earliest(hours.blocks, local, italian_holidays({local.year, local.year + 1}))
        opens = opens_at(state)
        return opens.replace(tzinfo=TIMEZONE) if opens else None

    def start(self) -> None:
        """Look for unanswered hand-offs every REMIND_EVERY seconds, while the bot runs."""
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(REMIND_EVERY)
            try:
                await self.remind_unanswered()
            except Exception as exc:  # a network fault or a full disk: tried again next time
                log.warning("could not remind the families waiting (%s)", type(exc).__name__)

    async def remind_unanswered(self) -> None:
        """Families nobody answered in time (operators.yaml, answer_within_hours) are told so,
        with the cooperative's contacts; the group is told too. Once per hand-off."""
        for handoff in await self.store.handoffs_unanswered(self.now()):
            family = self.families.get(handoff.channel)
            if family is None:
                continue  # the channel runs in another process: that one reminds
            if not await self.store.no_reminder(handoff):
                continue  # another process of the bot is reminding this family now
            if not self._window_closed(family, handoff):
                await family.turn(handoff.user_id, NobodyAnswered(), once=f"handoff:no-answer:{handoff.card}",
                                  address=handoff.address, from_family=False)
            await self._post("⏰ Nessuno ha ancora risposto a questa famiglia. Le ho dato i contatti della "
                             "cooperativa. La conversazione resta aperta: rispondete qui.",
                             thread=handoff.thread, reply_to=handoff.card)

    @property
    def handlers(self) -> dict[str, Handler]:
        return {"handoff-open": self._open, "handoff-say": self._say, "handoff-close": self._closed_by_family,
                "handoff-forgotten": self._forgotten}

    @staticmethod
    def _where(thread: int | None, reply_to: int | None) -> dict[str, Any]:
        """Where a message for one family goes in the group: its topic, or a reply to its card."""
        extra: dict[str, Any] = {"message_thread_id": thread} if thread else {}
        if reply_to and not thread:
            extra["reply_to_message_id"] = reply_to
            extra["allow_sending_without_reply"] = True
        return extra

    async def _post(self, text: str, *, thread: int | None = None, reply_to: int | None = None,
                    markup: InlineKeyboardMarkup | None = None) -> Message:
        return await self.telegram.send_message(self.chat_id, text, reply_markup=markup,
                                                **self._where(thread, reply_to))

    async def _open(self, store: SessionStore, item: PendingEffect) -> None:
        data = item.effect.data
        if await store.handoff_of(item.channel, data["user"]) is not None:
            return  # done before a crash: not a second card
        now = self.now()
        read_at = self.read_at(now)
        text = card_text(data, self.kb, self.catalogs, item.channel, read_at)
        thread = None
        if self.topics:
            name = text.splitlines()[1].removeprefix("Lingua: ") + " · " + now.strftime("%d/%m %H:%M")
            thread = (await self.telegram.create_forum_topic(self.chat_id, name[:128])).message_thread_id
        card = await self._post(text, thread=thread, markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("Chiudi: torna il bot", callback_data=END_BUTTON)]]))
        await store.open_handoff(item.channel, data["user"], data["to"], card.message_id, thread,
                                 remind=(read_at or now) + self.kb.operators.answer_within)

    async def _say(self, store: SessionStore, item: PendingEffect) -> None:
        data = item.effect.data
        handoff = await store.handoff_of(item.channel, data["user"])
        if handoff is None:
            log.warning("a family's message for a hand-off that is no longer open; dropped")
            return
        passed = await self._pass_on(item.channel, handoff, data) if data.get("ref") else None
        if passed is not None:
            await store.note_handoff_message(handoff, passed)
            return
        if data.get("text"):
            text = f"💬 {data['text']}"
        else:
            text = f"📎 La famiglia ha mandato {WHAT_WAS_SENT.get(data.get('kind', ''), 'un messaggio')}, " \
                   "che il bot non può inoltrare: chiedile di scriverlo."
        sent = await self._post(text, thread=handoff.thread, reply_to=handoff.card)
        await store.note_handoff_message(handoff, sent.message_id)

    async def _pass_on(self, channel: str, handoff: Handoff, data: Mapping[str, Any]) -> int | None:
        """A photo or document of the family, as it is: copied from its Telegram chat, or
        fetched from WhatsApp and uploaded, as a reply to the card. The message id in the
        group, or None when it cannot be passed on (then it is announced instead)."""
        where = self._where(handoff.thread, handoff.card)
        what = WHAT_WAS_SENT.get(str(data.get("kind", "")), "un file")
        try:
            if channel == "telegram":
                copied = await self.telegram.copy_message(self.chat_id, int(handoff.address), int(data["ref"]),
                                                          **where)
                return int(copied.message_id)
            family = self.families.get(channel)
            media = await family.media(str(data["ref"])) if family is not None else None
            if media is None:
                return None
            caption = f"📎 La famiglia ha mandato {what}."
            if media.mime in ("image/jpeg", "image/png"):
                sent = await self.telegram.send_photo(self.chat_id, photo=media.content, caption=caption, **where)
            else:
                sent = await self.telegram.send_document(self.chat_id, document=media.content, filename=media.name,
                                                         caption=caption, **where)
            return int(sent.message_id)
        except Exception as exc:  # too large, expired, refused: announced instead, never lost silently
            log.warning("a family's %s could not be passed on (%s)", data.get("kind"), type(exc).__name__)
            return None

    async def _closed_by_family(self, store: SessionStore, item: PendingEffect) -> None:
        await self._end(store, item.channel, item.effect.data["user"], "↩️ La famiglia è tornata al bot. Chiusa.")

    async def _forgotten(self, store: SessionStore, item: PendingEffect) -> None:
        await self._end(store, item.channel, item.effect.data["user"],
                        "🗑 La famiglia ha chiesto di cancellare i suoi dati. Il bot li ha cancellati: "
                        "cancellate anche questa conversazione dal gruppo.")

    async def _end(self, store: SessionStore, channel: str, user: str, notice: str) -> None:
        handoff = await store.handoff_of(channel, user)
        if handoff is None:
            return
        await self._post(notice, thread=handoff.thread, reply_to=handoff.card)
        await store.close_handoff(channel, user)
        if handoff.thread:
            try:
                await self.telegram.close_forum_topic(self.chat_id, handoff.thread)
            except TelegramError as exc:
                log.info("could not close a topic (%s)", type(exc).__name__)

    # ------------------------------------------------------------------ from the group

    async def on_update(self, update: Update) -> None:
        """An operator wrote in the group, or pressed a card's button."""
        query = update.callback_query
        if query is not None and query.message is not None:
            if query.data == END_BUTTON:
                handoff = await self.store.handoff_at(query.message.message_id, None)
                await self._ended_by_operator(handoff, update.update_id)
            try:
                await query.answer()
            except TelegramError as exc:
                log.info("could not answer a callback query (%s)", type(exc).__name__)
            return
        message = update.message
        if message is None or message.from_user is None or message.from_user.is_bot:
            return
        replied = message.reply_to_message.message_id if message.reply_to_message else None
        thread = message.message_thread_id if message.is_topic_message else None
        handoff = await self.store.handoff_at(replied, thread)
        if handoff is None:
            if replied is not None and message.reply_to_message and message.reply_to_message.from_user \
                    and message.reply_to_message.from_user.is_bot:
                await message.reply_text("Questa conversazione è chiusa: la famiglia non riceve più messaggi da qui.")
            return
        text = (message.text or message.caption or "").strip()
        if text.split("@")[0].lower() in END_COMMANDS:
            await self._ended_by_operator(handoff, update.update_id)
            return
        if not text:
            await message.reply_text("Per ora passo alla famiglia solo testo scritto.")
            return
        family = self.families.get(handoff.channel)
        if family is None:
            await message.reply_text(f"Il canale {handoff.channel} non è attivo in questo processo del bot.")
            return
        if self._window_closed(family, handoff):
            await self._invite_back(message, family, handoff, update.update_id)
            return
        await self.store.no_reminder(handoff)  # someone answered
        await family.turn(handoff.user_id, FromPerson(text), once=f"telegram:update:{update.update_id}",
                          address=handoff.address, from_family=False)

    def _window_closed(self, family: Channel, handoff: Handoff) -> bool:
        """WhatsApp lets a business write freely only for 24 hours after the family's last
        message (a little less here: the answer still has to leave the outbox)."""
        if family.reply_window is None or handoff.heard is None:
            return False
        return self.clock() - handoff.heard.timestamp() > family.reply_window - WINDOW_MARGIN

    async def _invite_back(self, message: Message, family: Channel, handoff: Handoff, update_id: int) -> None:
        """The operator's text cannot reach the family: say so at once, and send the approved
        template instead where one is configured (once per operator message)."""
        if not await self.store.first_time(f"telegram:update:{update_id}"):
            return
        session = await self.store.load(handoff.channel, handoff.user_id)
        sent = await family.reopen(handoff.user_id, handoff.address, session.lang if session and session.lang
                                   else "it")
        hours = int((family.reply_window or 0) // 3600)
        if sent:
            text = (f"⏰ La famiglia ha scritto l'ultima volta più di {hours} ore fa. WhatsApp non lascia "
                    f"mandarle questo messaggio. Le ho mandato il modello «{sent}», che la invita a scrivere. "
                    "Quando risponde, il suo messaggio arriva qui: allora scrivile di nuovo.")
        else:
            text = (f"⏰ La famiglia ha scritto l'ultima volta più di {hours} ore fa. WhatsApp non lascia "
                    "mandarle questo messaggio: non le è arrivato. Le arriverà una risposta solo dopo un suo "
                    "nuovo messaggio.")
        await message.reply_text(text)

    async def _ended_by_operator(self, handoff: Handoff | None, update_id: int) -> None:
        if handoff is None:
            return
        await self.store.close_handoff(handoff.channel, handoff.user_id)
        await self._post("✅ Chiusa: la famiglia torna al bot.", thread=handoff.thread, reply_to=handoff.card)
        family = self.families.get(handoff.channel)
        if family is not None:
            await family.turn(handoff.user_id, PersonDone(), once=f"telegram:update:{update_id}",
                              address=handoff.address, from_family=False)
