"""The orientation dialog: a pure state machine from (session, event) to (session, replies, effects).

Theory of operation
-------------------
The bot needs a few answers — the comune, the age group of the person who needs help, the
need, and in Milan sometimes the Municipio. Each is a `Question` declared once in
`slots.py` (its state, texts, buttons, how free text fills it, what clearing it clears). The
user may answer in any order, by button or in free text, one at a time or all at once
("abito a Bresso, mio figlio ha 9 anni e non parla italiano a scuola"): after every event
the dialog fills what it understood and `advance` — the one rule that moves it on — asks
the first question still unanswered, or shows the results (`results.py`) when none is.

The state names what is on screen, which also tells how to read free text: when the bot
has asked for the age, a bare "9" is an age; when it has asked for the comune, a bare
"Paderno" is a place (an ambiguous one: CHOOSE_COMUNE, the user picks). A button is
accepted only if it is on screen now. Commands work in every state. The table
`TRANSITIONS` at the end is the whole conversation: (state, event kind) -> handler, with
`ANY` rows for what every state accepts.

Special cases, in the order a message meets them:
- a message about danger, violence, forced work, a night without a roof or a doctor gets
  the safety net first (`results.safety_net`: the national lines of
  `knowledge/safety.yaml`), and its words are never read as a town; then the dialog goes on;
- a need that no active service answers is never a button; typed (or from an old link) it
  gets an honest answer and its safety topic (`results.need_not_active`);
- a comune where the cooperative works without a listed service (Pavia, the province of
  Milan) is accepted and answered with the cooperative's contact; a real place elsewhere is
  told so, with a line that helps anywhere in Italy (`results.outside_area`);
- an audience's command or link (/ukraina, `ua`: `knowledge/audiences.yaml`) is a fresh
  start in its language with its need chosen;
- a session saved before the knowledge base changed keeps what still exists (`_still_valid`);
- asking for a person (/persona, the button under results, "voglio parlare con qualcuno")
  hands the family to the cooperative's people (WITH_PERSON): the bot is silent, each
  message of the family goes to them, theirs come back (`FromPerson`), and the bot takes
  over where it was when they end it (`PersonDone`) or the family writes /bot.

`step` never awaits, reads a file or imports a channel: channels turn their updates into
events and render the neutral replies. It returns the new session (None: "forget this
user", the caller deletes what it stored), the replies, and the effects of the turn (a
result counted, a hand-off opened or a message passed on), which the conversation carries
out after saving the session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple

from bot import deeplink
from bot.dialogs import texts as T
from bot.dialogs.context import Ctx, Handler, Outcome, State, msg
from bot.dialogs.desk_card import desk_card
from bot.dialogs.model import (
    Button,
    Command,
    Effect,
    Event,
    FromPerson,
    Location,
    NobodyAnswered,
    Other,
    PersonDone,
    Press,
    Repeat,
    Reply,
    Resources,
    Resume,
    Section,
    Session,
    Text,
)
from bot.dialogs.results import (
    found_for,
    found_for_all,
    need_not_active,
    one_of_the_results,
    results,
    results_buttons,
    safety_net,
    show_service,
)
from bot.dialogs.slots import BY_PREFIX, BY_SLOT, BY_STATE, QUESTIONS, Reading, choose_comune, set_comune
from bot.hours import earliest
from bot.i18n import FSI, PDI, RLM, Catalogs, rtl_lines
from bot.knowledge import KnowledgeBase
from bot.text import clean_user_text, normalize

__all__ = ["TRANSITIONS", "Resources", "State", "Turn", "step"]

ANY = "*"
LABEL_LIMIT = 64  # longer text cannot be a button's label
PERSON_BUTTON = "h:person"  # "talk to a person": pressable wherever it was shown
ALWAYS_PRESSABLE = frozenset({"x:new", "x:more", "x:need", "x:comune", "l:menu", PERSON_BUTTON})


# ------------------------------------------------------------------ the rule: ask the first missing slot


def advance(s: Session, ctx: Ctx, before: list[Reply] | None = None) -> Outcome:
    """The one rule that moves the conversation on: ask the first question still unanswered
    (a pending choice of comune first), or show the results when none is."""
    replies = list(before or [])
    if s.choices:
        state = State.CHOOSE_COMUNE
    else:
        missing = next((q for q in QUESTIONS if getattr(s, q.slot) is None and q.asked(s, ctx)), None)
        state = missing.state if missing else State.RESULTS
    s = s.evolve(state=state)
    replies.append(question(s, ctx))
    return s, replies


def question(s: Session, ctx: Ctx) -> Reply:
    """The reply that asks the question of the current state (also re-asked after odd input)."""
    if s.state in (State.RESULTS, State.SHOW_SERVICE):
        return results(s, ctx) if s.state == State.RESULTS else show_service(s, ctx)
    key = (s.state, s.lang, s.choices, ctx.today if s.state == State.ASK_NEED else None)
    cached = ctx.res.questions.get(key)
    if cached is None:
        cached = ctx.res.questions[key] = _ask(s, ctx)
    return cached


def _ask(s: Session, ctx: Ctx) -> Reply:
    if s.state == State.CHOOSE_LANGUAGE:
        tr = ctx.tr(s)
        buttons = tuple(Button(f"l:{lang.code}", lang.name) for lang in ctx.res.catalogs.languages)
        return msg(tr(T.CHOOSE_LANGUAGE), buttons=buttons)
    if s.state == State.CHOOSE_COMUNE:
        return choose_comune(s, ctx)
    return BY_STATE.get(s.state, QUESTIONS[0]).reply(s, ctx)  # START: the first question


# ------------------------------------------------------------------ free text


@dataclass(frozen=True)
class Read:
    """What one message filled, and what to say about it: the safety net first, then the rest."""

    session: Session
    filled: list[str]
    urgent: list[Reply]  # the safety net: shown before anything else
    replies: list[Reply]

    @property
    def anything(self) -> bool:
        return bool(self.filled or self.urgent or self.replies)


def _read(s: Session, text: str, ctx: Ctx) -> Read:
    """Fill every slot the text names; the state says which question was asked.

    A message about danger ("mio marito mi picchia", "dove dormo stanotte?") gets the safety
    net first, and then only clear names count as places: its words are never read back as a
    comune that does not exist.
    """
    reading = reading_of(s, text, ctx)
    urgent = [safety_net(s, list(reading.topics), ctx)] if reading.topics else []
    replies: list[Reply] = []
    filled: list[str] = []
    for q in QUESTIONS:
        if not q.readable(s, ctx):
            continue
        value = q.read(s, text, ctx, q.expecting(s, reading), reading)
        if value is None:
            continue
        before = getattr(s, q.slot)
        s = q.fill(s, value, ctx, replies, reading)
        if getattr(s, q.slot) is not None and getattr(s, q.slot) != before:
            filled.append(q.slot)
    return Read(s, filled, urgent, replies)


def reading_of(s: Session, text: str, ctx: Ctx) -> Reading:
    """What a message shows before its slots are read: its safety topics, whether it is only numbers."""
    nlu, norm = ctx.res.nlu, normalize(text)
    return Reading(tuple(nlu.find_safety(text, norm=norm)), nlu.read_ages(text, norm=norm), norm)


def _understood(s: Session, ctx: Ctx, slots: list[str]) -> Reply | None:
    """Say back what was understood from free text, so a wrong guess is seen at once."""
    tr = ctx.tr(s)
    parts = [part for slot in slots if (part := BY_SLOT[slot].echo(s, ctx, tr))]
    return msg(tr(T.UNDERSTOOD, what=", ".join(parts))) if parts else None


def answer(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Free text: take every slot it names, then ask what is still missing."""
    assert isinstance(event, Text)
    text = clean_user_text(event.text)
    s, notice = _detect_language(s, text, ctx)
    if ctx.res.nlu.wants_person(text):
        s, replies = ask_person(s, event, ctx)
        return s, [*notice, *replies]
    pressed = _typed_button(s, text, ctx)
    if pressed:
        s, replies = press(s, Press(pressed), ctx)
        return s, [*notice, *replies]
    asked = s.choices
    read = _read(s, text, ctx)
    s = read.session
    if read.anything or s.choices != asked:
        if s.state == State.SHOW_SERVICE:
            s = s.evolve(service=None)
        said = _understood(s, ctx, read.filled)
        s, replies = advance(s, ctx, [*read.urgent, *notice, *([said] if said else []), *read.replies])
        return s, _with_person_button(replies, ctx, s) if read.urgent else replies
    q = BY_STATE.get(s.state)
    tr = ctx.tr(s)
    return s, [*notice, q.not_understood(text, tr) if q else msg(tr(T.NOT_UNDERSTOOD)), question(s, ctx)]


def _typed_button(s: Session, text: str, ctx: Ctx) -> str | None:
    """A typed text equal to a button's label ("6-14 anni", "Scuola") presses that button."""
    typed = normalize(text)
    if not typed or len(typed) > LABEL_LIMIT:
        return None
    for button in current_buttons(s, ctx):
        if _label_key(button.label) == typed:
            return button.id
    return None


@lru_cache(maxsize=4096)
def _label_key(label: str) -> str:
    """A button's label as typed text is compared: the bot's own texts, a bounded set."""
    return normalize(label)


def current_buttons(s: Session, ctx: Ctx) -> tuple[Button, ...]:
    """The buttons on screen now: a press of any other is stale."""
    if s.state == State.START:
        return ()
    if s.state == State.RESULTS:
        return results_buttons(s, ctx, *found_for_all(s, ctx))
    return question(s, ctx).buttons


# ------------------------------------------------------------------ buttons


def press(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A button: accepted if it is on screen now; an old one gets the current question."""
    assert isinstance(event, Press)
    data = event.data
    if data not in ALWAYS_PRESSABLE and data not in {b.id for b in current_buttons(s, ctx)}:
        return _stale(s, ctx)
    kind, _, value = data.partition(":")
    replies: list[Reply] = []
    if kind in BY_PREFIX:  # an answer to a question
        q = BY_PREFIX[kind]
        decoded = q.decode(value, ctx)
        if decoded is None:
            return _stale(s, ctx)
        s = q.fill(s, decoded, ctx, replies, Reading())
        return advance(s, ctx, replies)
    match kind, value:
        case "s", _ if value in ctx.kb.services and s.state == State.RESULTS:
            return s, [one_of_the_results(s, value, ctx)]
        case "l", "menu":
            return open_language_menu(s, event, ctx)
        case "l", _ if value in ctx.res.catalogs.translators:
            s = s.evolve(lang=value, lang_source="user")
            replies.append(msg(ctx.tr(s)(T.LANGUAGE_SET)))
        case "x", "new":
            return restart(s, event, ctx)
        case "h", "person":
            return ask_person(s, event, ctx)
        case "h", "card" if s.state == State.RESULTS:
            return s, [desk_card(s, ctx)]
        case "x", "more":
            s = s.evolve(service=None)
        case "x", "need" | "comune":
            s = _clear(s, value)
        case _:
            return _stale(s, ctx)
    return advance(s, ctx, replies)


def _stale(s: Session, ctx: Ctx) -> Outcome:
    """A button no longer on screen (an old menu pressed late): the question of now instead."""
    return s, [msg(ctx.tr(s)(T.STALE_BUTTON)), question(s, ctx)]


def _clear(s: Session, slot: str) -> Session:
    """Forget one answer and what depends on it (a new comune is a new Municipio)."""
    for name in (slot, *BY_SLOT[slot].clears):
        s = s.reset(name)
    return s


# ------------------------------------------------------------------ commands and the rest


def start(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Always a fresh start; a deep-link payload presets language, comune, age, need, service."""
    arg = event.arg if isinstance(event, Command) else ""
    preset = deeplink.parse(arg, ctx.kb, ctx.res.catalogs.codes)
    fresh = Session(lang=s.lang, lang_source=s.lang_source, link=_link(preset, ctx) if arg.strip() else s.link)
    if preset.lang:
        fresh = fresh.evolve(lang=preset.lang, lang_source="link")
    tr = ctx.tr(fresh)
    replies: list[Reply] = []
    audience = (ctx.kb.audiences or {}).get(preset.audience or "")
    replies.append(msg(tr(audience.welcome) if audience else tr(T.WELCOME), tr(T.PRIVACY_POINTER)))
    if preset.age:
        fresh = fresh.with_slot("age", preset.age)
    if preset.need and preset.need in ctx.offered_needs():
        fresh = fresh.with_slot("need", preset.need)
    elif preset.need:  # an old poster for a need nobody answers any more
        replies.append(need_not_active(fresh, preset.need, ctx))
    if preset.comune:
        fresh = set_comune(fresh, ctx.kb.comuni[preset.comune], ctx, replies)
    if preset.service:
        service = ctx.kb.services[preset.service]
        if service.is_active(ctx.today):
            fresh = fresh.evolve(service=service.id, state=State.SHOW_SERVICE)
            return fresh, [*replies, show_service(fresh, ctx)]
        replies.append(msg(tr(T.ENDED, name=service.name)))
    return advance(fresh, ctx, replies)


def _link(preset: deeplink.Preset, ctx: Ctx) -> str | None:
    """The link a conversation came from, rebuilt from what was understood: never what a
    user typed after /start (that could be a name or a number)."""
    try:
        return deeplink.build(preset, ctx.kb) or None
    except ValueError:
        return None


def enter_audience(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """An audience's command (/ukraina): the same as its deep link (`ua`)."""
    assert isinstance(event, Command)
    name = event.name.lower().lstrip("/")
    audience = next(a for a in (ctx.kb.audiences or {}).values() if a.command == name)
    return start(s, Command("start", audience.payload), ctx)


def first_contact(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A first message that is not /start (e.g. someone writes straight away): greet, then read it."""
    notice: list[Reply] = []
    if isinstance(event, Text):
        s, notice = _detect_language(s, clean_user_text(event.text), ctx)
    fresh, replies = start(s, Command("start"), ctx)
    assert fresh is not None
    if not isinstance(event, Text):
        return fresh, replies
    if ctx.res.nlu.wants_person(clean_user_text(event.text)):
        asked, more = ask_person(fresh, event, ctx)
        return asked, [*notice, *replies[:1], *more]
    read = _read(fresh, clean_user_text(event.text), ctx)
    if not (read.anything or read.session.choices):
        return fresh, [*notice, *replies]  # "Ciao": the greeting and the first question are the answer
    said = _understood(read.session, ctx, read.filled)
    return advance(read.session, ctx, [*read.urgent, *notice, replies[0], *([said] if said else []), *read.replies])


def restart(s: Session, event: Event, ctx: Ctx) -> Outcome:
    fresh = Session(lang=s.lang, lang_source=s.lang_source)
    return advance(fresh, ctx, [msg(ctx.tr(s)(T.RESTARTED))])


def back(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Undo the last answer and ask that question again."""
    if s.state in (State.CHOOSE_LANGUAGE, State.SHOW_SERVICE) or s.choices:
        return advance(s.evolve(choices=(), service=None), ctx)
    if not s.filled:
        return advance(s, ctx, [msg(ctx.tr(s)(T.BACK_AT_START))])
    tr, last = ctx.tr(s), s.filled[-1]
    said = BY_SLOT[last].echo(s, ctx, tr)  # the answer taken back is said, so nothing goes silently
    return advance(_clear(s, last), ctx, [msg(tr(T.BACK_UNDONE, what=said))] if said else [])


def open_language_menu(s: Session, event: Event, ctx: Ctx) -> Outcome:
    s = s.evolve(state=State.CHOOSE_LANGUAGE)
    return s, [question(s, ctx)]


def show_help(s: Session, event: Event, ctx: Ctx) -> Outcome:
    return s, [msg(ctx.tr(s)(T.HELP)), question(s, ctx)]


def forget(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """/forget: everything stored about the user is erased (the caller deletes the session)."""
    return None, [msg(ctx.tr(s)(T.FORGOTTEN))]


def privacy(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """/privacy: who keeps what, for how long, and how to erase it; then the question on screen
    (for someone who asks before anything else, the greeting and the first question)."""
    tr, coop = ctx.tr(s), ctx.kb.fallback
    contacts = ", ".join(c.value for c in coop.contacts)
    notice = msg(tr(T.PRIVACY, name=coop.name, contacts=contacts, period=tr.days(ctx.res.retention_days)),
                 tr(T.PRIVACY_COUNTS), tr(T.PRIVACY_PERSON) if ctx.res.people else "")
    if s.state == State.START:
        fresh, greeting = start(s, Command("start"), ctx)
        return fresh, [notice, *greeting]
    return s, [notice, question(s, ctx)]


# ------------------------------------------------------------------ a person of the cooperative


def ask_person(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """/persona, its button, "voglio parlare con qualcuno": the hand-off opens (its effect,
    see `_effects`, posts the card to the cooperative's group), and the bot keeps quiet.
    Where no group answers, the family gets the cooperative's contacts, never a promise."""
    tr = ctx.tr(s)
    if s.state == State.WITH_PERSON:
        return s, [msg(tr(T.PERSON_WAITING))]
    if not ctx.res.people:
        contacts = ", ".join(c.value for c in ctx.kb.fallback.contacts)
        reply = msg(tr(T.NO_PERSON, contacts=contacts))
        if s.state == State.START:
            fresh, greeting = start(s, Command("start"), ctx)
            return fresh, [*greeting[:1], reply, *greeting[1:]]
        return s, [reply, question(s, ctx)]
    later = _when_read(ctx)
    when = tr(T.PERSON_LATER, day=tr.day_names([later.weekday()]), time=tr.clock(later.time())) if later else ""
    return s.evolve(state=State.WITH_PERSON, before_person=str(s.state), choices=()), [msg(tr(T.PERSON_ASKED), when)]


def _when_read(ctx: Ctx) -> datetime | None:
    """Outside the operators' hours (knowledge/operators.yaml, public holidays closed): when
    the group is read next. None when it is read now, or its hours are not known."""
    hours = ctx.kb.operators.hours
    if ctx.now is None or not hours.blocks:
        return None
    state = earliest(hours.blocks, ctx.now.replace(tzinfo=None), ctx.res.holidays)
    if state.open_now or state.next_day is None or state.next_time is None:
        return None
    return datetime.combine(state.next_day, state.next_time)


def nobody_answered(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """The group did not answer in time: the family is told, and given the contacts; the
    hand-off stays open (a person may still answer here)."""
    contacts = ", ".join(c.value for c in ctx.kb.fallback.contacts)
    return s, [msg(ctx.tr(s)(T.PERSON_NO_ANSWER, contacts=contacts))]


def _with_person_button(replies: list[Reply], ctx: Ctx, s: Session | None) -> list[Reply]:
    """After the safety net, a person of the cooperative is one tap away (where there are people)."""
    if not ctx.res.people or not replies or s is None or s.state == State.WITH_PERSON:
        return replies
    last = replies[-1]
    button = Button(PERSON_BUTTON, ctx.tr(s)(T.BUTTON_PERSON))
    return [*replies[:-1], replace(last, buttons=(*last.buttons, button))] if button not in last.buttons else replies


def with_person(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """While a person answers, the bot says nothing: the family's words go to them (`_effects`)."""
    return s, []


def person_reminder(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A command while a person answers: where the family is, and how to come back."""
    return s, [msg(ctx.tr(s)(T.PERSON_WAITING))]


def back_to_bot(s: Session, event: Event, ctx: Ctx, text: str = T.BACK_TO_BOT) -> Outcome:
    """/bot (or the person ended it): the bot takes over where the dialog was."""
    if s.state != State.WITH_PERSON:
        return (s, [question(s, ctx)]) if s.state != State.START else start(s, Command("start"), ctx)
    s = s.evolve(state=s.before_person or State.START, before_person=None)
    if s.state == State.START:
        fresh, greeting = start(s, Command("start"), ctx)
        return fresh, [msg(ctx.tr(s)(text)), *greeting]
    return s, [msg(ctx.tr(s)(text)), question(s, ctx)]


def from_person(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A message of the cooperative's person, marked as such, in their own words."""
    assert isinstance(event, FromPerson)
    return s, [Reply((Section(event.text, ctx.tr(s)(T.FROM_PERSON)),))]


def person_done(s: Session, event: Event, ctx: Ctx) -> Outcome:
    return back_to_bot(s, event, ctx, T.PERSON_DONE) if s.state == State.WITH_PERSON else (s, [])


def unknown_command(s: Session, event: Event, ctx: Ctx) -> Outcome:
    return s, [msg(ctx.tr(s)(T.UNKNOWN_COMMAND)), question(s, ctx)]


def not_text(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Stickers, voice, photos...: a kind word and the question again."""
    if s.state == State.START:
        return first_contact(s, event, ctx)
    return s, [msg(ctx.tr(s)(T.NOT_TEXT)), question(s, ctx)]


def location(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A shared location: the comune it lies in, if the cooperative works there."""
    assert isinstance(event, Location)
    if s.state == State.START:
        s, greeting = start(s, Command("start"), ctx)
        assert s is not None
    else:
        greeting = []
    comune = ctx.res.nlu.nearest_comune(event.latitude, event.longitude)
    tr = ctx.tr(s)
    if comune is None:  # outside the area: the old comune no longer holds
        s = _clear(s, "comune") if s.comune else s
        return advance(s.evolve(choices=()), ctx, [*greeting[:1], msg(tr(T.LOCATION_OUTSIDE))])
    replies: list[Reply] = [*greeting[:1], msg(tr(T.LOCATION_FOUND, comune=comune.name))]
    s = set_comune(s, comune, ctx, replies)
    return advance(s, ctx, replies)


def repeat(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """The question on screen again, nothing else (a channel pages its options)."""
    if s.state == State.START:
        return start(s, Command("start"), ctx)
    return s, [question(s, ctx)]


def resume(s: Session, event: Event, ctx: Ctx) -> Outcome:
    if s.state == State.START:
        return start(s, Command("start"), ctx)
    return s, [msg(ctx.tr(s)(T.WELCOME_BACK)), question(s, ctx)]


# ------------------------------------------------------------------ the table

TRANSITIONS: dict[tuple[str, str], Handler] = {
    # A conversation's first event that is not /start greets, then reads the event.
    (State.START, "text"): first_contact,
    (State.START, "press"): first_contact,
    # Free text is read for every slot; the state only says which one was asked.
    (State.ASK_COMUNE, "text"): answer,
    (State.CHOOSE_COMUNE, "text"): answer,
    (State.ASK_AGE, "text"): answer,
    (State.ASK_NEED, "text"): answer,
    (State.ASK_MUNICIPIO, "text"): answer,
    (State.RESULTS, "text"): answer,
    (State.SHOW_SERVICE, "text"): answer,
    (State.CHOOSE_LANGUAGE, "text"): answer,
    # A person of the cooperative answers: the bot is silent, and says only how to come back.
    (State.WITH_PERSON, "text"): with_person,
    (State.WITH_PERSON, "press"): person_reminder,  # an old button: where the family is, and how to come back
    (State.WITH_PERSON, "other"): with_person,
    (State.WITH_PERSON, "location"): with_person,
    (State.WITH_PERSON, "repeat"): with_person,
    (State.WITH_PERSON, "help"): person_reminder,
    (State.WITH_PERSON, "back"): person_reminder,
    (State.WITH_PERSON, "language"): person_reminder,
    (State.WITH_PERSON, "resume"): person_reminder,
    (State.WITH_PERSON, "unknown-command"): person_reminder,
    (ANY, "person"): ask_person,
    (ANY, "bot"): back_to_bot,
    (ANY, "from-person"): from_person,
    (ANY, "person-done"): person_done,
    (State.WITH_PERSON, "no-answer"): nobody_answered,
    (ANY, "no-answer"): with_person,  # the hand-off ended meanwhile: nothing to say
    # Buttons work in every state, if they are the ones on screen.
    (ANY, "press"): press,
    # Commands, and what is not text.
    (ANY, "start"): start,
    (ANY, "audience"): enter_audience,  # /ukraina: the commands of knowledge/audiences.yaml
    (ANY, "restart"): restart,
    (ANY, "back"): back,
    (ANY, "language"): open_language_menu,
    (ANY, "help"): show_help,
    (ANY, "forget"): forget,
    (ANY, "privacy"): privacy,
    (ANY, "unknown-command"): unknown_command,
    (ANY, "location"): location,
    (ANY, "other"): not_text,
    (ANY, "resume"): resume,
    (ANY, "repeat"): repeat,
}

COMMANDS = frozenset({"start", "restart", "back", "language", "help", "forget", "privacy", "bot"})
COMMAND_ALIASES = {"persona": "person", "person": "person", "human": "person"}  # /persona in every menu


def event_kind(event: Event, kb: KnowledgeBase) -> str:
    match event:
        case Text():
            return "text"
        case Press():
            return "press"
        case Command(name=name):
            name = name.lower().lstrip("/")
            if name in COMMANDS:
                return name
            if name in COMMAND_ALIASES:
                return COMMAND_ALIASES[name]
            audience = any(a.command == name for a in (kb.audiences or {}).values())
            return "audience" if audience else "unknown-command"
        case Location():
            return "location"
        case Resume():
            return "resume"
        case Repeat():
            return "repeat"
        case FromPerson():
            return "from-person"
        case PersonDone():
            return "person-done"
        case NobodyAnswered():
            return "no-answer"
        case _:
            return "other"


# ------------------------------------------------------------------ language


def _language_from_client(s: Session, event: Event, catalogs: Catalogs) -> Session:
    """The app's language, until the user or their own words say otherwise."""
    if s.lang_source not in ("default", "client"):
        return s
    client = getattr(event, "client_lang", None)
    picked = catalogs.pick(client)
    if picked:
        return s.evolve(lang=picked, lang_source="client")
    if client and s.lang is None and "en" in catalogs.translators:
        return s.evolve(lang="en", lang_source="client")  # an unshipped language: English
    if s.lang is None:
        return s.evolve(lang=catalogs.default)
    return s


def _detect_language(s: Session, text: str, ctx: Ctx) -> tuple[Session, list[Reply]]:
    """Answer in the language the user writes: guessed freely from a first message, then
    changed only when a whole message is clearly in another one; never after the user chose
    one in the menu. A language the bot does not speak yet (Persian, Amharic...) gets the
    closest one it does, and a line saying so."""
    if s.lang_source == "user":
        return s, []
    catalogs = ctx.res.catalogs
    current = None if s.state == State.START else s.lang  # the first message: a free guess
    detected = ctx.res.nlu.detect_language(text, current)
    if not detected or detected == s.lang:
        return s, []
    if detected in catalogs.translators:
        return s.evolve(lang=detected, lang_source="text"), []
    answer = catalogs.answer_for(detected)
    if answer == s.lang and s.lang_source == "text":
        return s, []  # already said
    s = s.evolve(lang=answer, lang_source="text")
    tr = ctx.tr(s)
    return s, [msg(tr(T.NOT_SPOKEN_YET, language=catalogs.name_of(detected, answer),
                      other=catalogs.name_of(answer, answer)))]


# ------------------------------------------------------------------ the step


class Turn(NamedTuple):
    session: Session | None  # None: forget the user
    replies: list[Reply]
    effects: list[Effect]


def step(session: Session | None, event: Event, res: Resources, when: date | datetime) -> Turn:
    """One turn of the conversation: the new session (None: forget the user), the replies,
    and the effects to carry out once the session is saved.

    `when` is today's date, or the current time in Milan (then cards say whether a desk is
    open now and when it opens next).
    """
    s = _language_from_client(_still_valid(session or Session(), res), event, res.catalogs)
    kind = event_kind(event, res.kb)
    handler = TRANSITIONS.get((s.state, kind)) or TRANSITIONS.get((ANY, kind), unknown_command)
    ctx = Ctx(res, when.date(), when) if isinstance(when, datetime) else Ctx(res, when)
    new, replies = handler(s, event, ctx)
    final = new or s
    lang, state = final.lang or res.catalogs.default, str(final.state)
    if res.catalogs.is_rtl(lang):
        replies = [replace(r, sections=tuple(_rtl(sec) for sec in r.sections)) for r in replies]
    effects = [*_effects(s, new, event, session is None, ctx), *_person_effects(s, new, event, ctx)]
    # Direct construction: dataclasses.replace costs several times more, once per reply.
    return Turn(new, [Reply(r.sections, r.buttons, r.services, lang, state, r.numbered, r.card) for r in replies],
                effects)


def _effects(before: Session, after: Session | None, event: Event, new_user: bool, ctx: Ctx) -> list[Effect]:
    """What a turn counts for the cooperative's anonymous report (`bot.report`): a start, with
    the link it came from; results shown, once per request (day, language, place, age group,
    need, the services that answer it there, or none); a family asking for a person. Never
    who, never their words."""
    if after is None:
        return []
    effects: list[Effect] = []
    day, lang = ctx.today.isoformat(), after.lang or ctx.res.catalogs.default
    kind = event_kind(event, ctx.kb)
    if kind in ("start", "audience") or new_user:
        effects.append(Effect("count-start", {"day": day, "lang": lang, "link": after.link or ""}))
    asked = ("comune", "age", "ages", "need", "municipio")
    if after.state == State.RESULTS and not (
            before.state == State.RESULTS and all(getattr(before, k) == getattr(after, k) for k in asked)):
        # (the same results again, a page of them or /help, are not a new request)
        effects.append(_count_request(after, ctx, person=False))
    if after.state == State.WITH_PERSON and before.state != State.WITH_PERSON:
        effects.append(_count_request(before, ctx, person=True))
    return effects


def _count_request(s: Session, ctx: Ctx, *, person: bool) -> Effect:
    """One count per age group the family named (a family with three children is three
    requests), each with the services that answer its need there (an audience's extra
    services, shown to every Ukrainian speaker, do not); `person`: a person was asked for."""
    groups = s.ages or ((s.age,) if s.age else ("",))
    rows = []
    for group in groups:
        found = found_for(s.evolve(age=group), ctx)[0] if s.comune and s.need and group else []
        rows.append([group, [sv.id for sv in found if not sv.fallback]])
    return Effect("count-request", {
        "day": ctx.today.isoformat(), "lang": s.lang or ctx.res.catalogs.default, "comune": s.comune or "",
        "municipio": s.municipio or 0, "need": s.need or "", "link": s.link or "", "rows": rows,
        "person": person})


def _person_effects(before: Session, after: Session | None, event: Event, ctx: Ctx) -> list[Effect]:
    """What a hand-off does, read from the turn's change of state: opened (the card, in
    Italian, is the channel's work: here the facts it needs), a message of the family passed
    on, closed by the family, or the family asked to be forgotten."""
    was, now = before.state == State.WITH_PERSON, after is not None and after.state == State.WITH_PERSON
    if not was and now:
        assert after is not None
        shown = [sv.id for sv in found_for_all(before, ctx)[0]] if before.state == State.RESULTS else []
        words = clean_user_text(event.text) if isinstance(event, Text) else ""
        return [Effect("handoff-open", {
            "lang": after.lang or ctx.res.catalogs.default, "comune": after.comune, "municipio": after.municipio,
            "ages": list(after.ages or ((after.age,) if after.age else ())), "need": after.need,
            "services": shown, "words": words, "day": ctx.today.isoformat()})]
    if was and now and isinstance(event, Text | Other | Location):
        said = clean_user_text(event.text) if isinstance(event, Text) else ""
        if isinstance(event, Text) and not said.strip():
            return []  # nothing to pass on
        return [Effect("handoff-say", {"text": said, "kind": "text" if said else event_kind(event, ctx.kb)
                                       if not isinstance(event, Other) else event.kind,
                                       "ref": event.ref if isinstance(event, Other) else ""})]
    if was and after is None:
        return [Effect("handoff-forgotten", {})]
    if was and not now and not isinstance(event, PersonDone):
        return [Effect("handoff-close", {})]
    return []


def _still_valid(s: Session, res: Resources) -> Session:
    """A session saved before the knowledge base changed (an age group renamed, a service
    removed) keeps what still exists; the rest is asked again, never a crash."""
    kb = res.kb
    unknown = [slot for slot, value, known in (("comune", s.comune, kb.comuni), ("age", s.age, kb.ages),
                                                ("need", s.need, kb.needs)) if value is not None and value not in known]
    for slot in unknown:
        s = s.with_slot(slot, None)
    if s.service is not None and s.service not in kb.services:
        s = s.evolve(service=None, state=State.ASK_COMUNE if s.state == State.SHOW_SERVICE else s.state)
    if s.choices and any(c not in kb.comuni for c in s.choices):
        s = s.evolve(choices=())
    if any(a not in kb.ages for a in s.ages):
        s = s.evolve(ages=tuple(a for a in s.ages if a in kb.ages) if s.age in kb.ages else ())
    if unknown and s.state in (State.RESULTS, State.ASK_MUNICIPIO):
        s = s.evolve(state=State.ASK_COMUNE if s.comune is None else State.ASK_AGE if s.age is None
                     else State.ASK_NEED)
    return s


def _rtl(section: Section) -> Section:
    title = f"{RLM}{FSI}{section.title}{PDI}" if section.title else None
    return Section(rtl_lines(section.body), title)
