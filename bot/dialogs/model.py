"""The dialog's vocabulary: what comes in (events), what is kept (session), what goes out (replies).

All frozen dataclasses, so a step can never change the session it was given; channels build
events from their platform's updates and render replies within their platform's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any, Literal

from bot.i18n import Catalogs
from bot.knowledge import KnowledgeBase
from bot.understanding import Understanding

# ------------------------------------------------------------------ events


@dataclass(frozen=True)
class Text:
    """A message the user typed."""

    text: str
    client_lang: str | None = None  # what the user's app says its language is, if anything


@dataclass(frozen=True)
class Press:
    """A button pressed: `data` is the button's short id (e.g. 'n:school')."""

    data: str
    client_lang: str | None = None


@dataclass(frozen=True)
class Command:
    """/start, /restart, /back, /language, /help, /forget, /ukraina; `arg` is the rest."""

    name: str
    arg: str = ""
    client_lang: str | None = None


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    client_lang: str | None = None


@dataclass(frozen=True)
class Other:
    """Anything else: sticker, voice, photo, video, document, contact... (`kind` says which)."""

    kind: str
    client_lang: str | None = None
    ref: str = ""  # the platform's id of a photo or document, to pass it on in a hand-off


@dataclass(frozen=True)
class Resume:
    """The user comes back to a stored conversation (console restart): repeat the question."""

    client_lang: str | None = None


@dataclass(frozen=True)
class Repeat:
    """Show the question on screen again, as it is (a channel paging a long menu)."""

    client_lang: str | None = None


@dataclass(frozen=True)
class FromPerson:
    """A person of the cooperative wrote to the family (the hand-off, bot.handoff)."""

    text: str
    client_lang: str | None = None


@dataclass(frozen=True)
class PersonDone:
    """The person of the cooperative ended the hand-off: the bot takes over again."""

    client_lang: str | None = None


@dataclass(frozen=True)
class NobodyAnswered:
    """The operators' group has not answered a family's request in the time set (bot.handoff)."""

    client_lang: str | None = None


Event = Text | Press | Command | Location | Other | Resume | Repeat | FromPerson | PersonDone | NobodyAnswered

# ------------------------------------------------------------------ replies


@dataclass(frozen=True)
class Button:
    id: str  # short ASCII, never translated: fits Telegram's 64-byte callback_data
    label: str


@dataclass(frozen=True)
class Section:
    """A block of a message; a service card is one section, so long answers split between them."""

    body: str
    title: str | None = None  # shown bold where the channel can


@dataclass(frozen=True)
class CardText:
    """One language's block of the desk card: drawn as an image where the channel can
    (bot.card_image), always also sent as the reply's text."""

    lang: str
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Reply:
    sections: tuple[Section, ...]
    buttons: tuple[Button, ...] = ()
    services: tuple[str, ...] = ()  # ids of the services shown
    lang: str = "it"
    state: str = ""
    numbered: bool = True  # a typed number presses a button; False where it is a value (an age)
    card: tuple[CardText, ...] = ()  # the desk card, Italian block first

    @property
    def text(self) -> str:
        return "\n\n".join(
            f"{s.title}\n{s.body}" if s.title and s.body else (s.title or s.body)
            for s in self.sections
        )


# ------------------------------------------------------------------ effects


@dataclass(frozen=True)
class Effect:
    """Something a turn decided besides answering: data, carried out by the conversation
    after the session is saved (and again after a crash, until done). `kind` names the one
    function of `bot.effects` that carries it out; `data` is plain JSON, never a user id (the
    conversation adds the user's pseudonym where an effect needs it), and a message text only
    in a hand-off, which passes the family's words to the cooperative's people."""

    kind: str
    data: Mapping[str, Any]


# ------------------------------------------------------------------ session

LangSource = Literal["default", "client", "text", "user", "link"]


@dataclass(frozen=True)
class Session:
    """What the bot remembers about one user between messages: slots, state and language."""

    state: str = "start"
    lang: str | None = None
    lang_source: LangSource = "default"
    comune: str | None = None  # ISTAT code
    age: str | None = None  # age group id (of the first person, when a family names several)
    ages: tuple[str, ...] = ()  # every age group named, when more than one: "6 e 11" -> 6-14, 15-17
    need: str | None = None
    municipio: int | None = None  # 0: the user does not know
    filled: tuple[str, ...] = ()  # slots in the order they were filled, for /back
    choices: tuple[str, ...] = ()  # ISTAT codes offered when a name was ambiguous
    service: str | None = None  # a service preset by a deep link
    before_person: str | None = None  # in a hand-off: the state the bot takes over again at its end
    link: str | None = None  # the operators' link it began from (canonical payload): the report counts it

    def evolve(self, **changes: Any) -> Session:
        """A copy with some fields changed (dataclasses.replace, minus its per-call introspection)."""
        data = dict(self.__dict__)
        data.update(changes)
        return Session(**data)

    def with_slot(self, slot: str, value: Any) -> Session:
        filled = tuple(s for s in self.filled if s != slot) + ((slot,) if value is not None else ())
        return self.evolve(**{slot: value}, filled=filled)

    def reset(self, name: str) -> Session:
        """A copy with one field back to its default (and, if a slot, no longer filled)."""
        default = _DEFAULTS[name]
        return self.evolve(**{name: default}, filled=tuple(f for f in self.filled if f != name))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (all are plain values or tuples of them)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """Tolerant of fields added or removed between versions: a restart loses nothing."""
        known = {f.name for f in fields(cls)}
        clean = {k: v for k, v in data.items() if k in known}
        for key in ("filled", "choices", "ages"):
            if key in clean:
                clean[key] = tuple(clean[key] or ())
        return cls(**clean)


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Session)}


# ------------------------------------------------------------------ what a step reads


@dataclass(frozen=True)
class Resources:
    """What the dialog reads but never changes: knowledge, understanding, languages."""

    kb: KnowledgeBase
    nlu: Understanding
    catalogs: Catalogs
    holidays: frozenset[date] = frozenset()  # days every desk is closed (Italian public holidays)
    local_holidays: Mapping[str, frozenset[date]] = field(default_factory=dict)  # ISTAT -> patron days
    retention_days: int = 30  # how long a conversation is kept (BOT_RETENTION_DAYS): /privacy says it
    people: bool = False  # a group of the cooperative's people answers hand-offs (OPERATORS_CHAT_ID)
    # Questions depend only on (state, language, choices, day): built once, then reused.
    questions: dict[tuple[object, ...], Reply] = field(default_factory=dict, compare=False)
    # Needs offered as buttons depend only on the day (services start and end on dates).
    offered: dict[date, list[str]] = field(default_factory=dict, compare=False)
