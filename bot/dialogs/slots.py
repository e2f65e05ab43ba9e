"""The questions the bot asks, each declared once: what it fills, how, and how it is asked.

A `Question` holds everything about one slot of the session: the state in which it is on
screen, its texts (ask, hint, what to say when an answer is not understood), its buttons and
their id prefix, how free text fills it (`read`, told whether the bot has just asked for it),
how a reading or a pressed button is put in the session (`fill`), how it is said back
("Ho capito: Bresso, 6-14 anni"), what clearing it also clears, whether a typed number
means a button or a value, and when it is asked at all. `orientation.py` reads only these
declarations: a new question ("how many children") is one more `Question` in QUESTIONS,
its texts in `texts.py`, and, if it reads free text, a reader in `bot.understanding`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.dialogs import texts as T
from bot.dialogs.context import Ctx, State, msg
from bot.dialogs.model import Button, Reply, Session
from bot.dialogs.results import need_not_active, outside_area, query
from bot.i18n import Translator
from bot.knowledge import Comune
from bot.matching import asks_municipio, in_area
from bot.understanding import NO_AGES, AgeReading, ComuneMatch

ECHO_LIMIT = 40  # characters of the user's text quoted back


@dataclass(frozen=True)
class Reading:
    """What the message being read has already shown: the safety topics it spoke of, and
    whether it is only numbers ("45", "6 e 11"): then it answers the age, whatever was asked."""

    topics: tuple[str, ...] = ()
    ages: AgeReading = NO_AGES  # its numbers, read once for every question
    norm: str | None = None  # the message normalised once (bot.text.normalize), for this turn only

    @property
    def only_numbers(self) -> bool:
        return self.ages.only_numbers


@dataclass(frozen=True)
class Question:
    slot: str  # the Session field it fills
    state: State  # the state while it is on screen
    ask: str
    hint: str | None
    retry: str  # when an answer is not understood
    prefix: str  # its buttons' ids are f"{prefix}:{value}"
    buttons: Callable[[Session, Ctx, Translator], tuple[Button, ...]]
    # Free text -> a reading (a value, or what `fill` takes), or None. `expecting`: the bot
    # has just asked this question, so a bare answer ("9", "Paderno") counts.
    read: Callable[[Session, str, Ctx, bool, Reading], Any]
    fill: Callable[[Session, Any, Ctx, list[Reply], Reading], Session]
    decode: Callable[[str, Ctx], Any]  # a button's value -> what `fill` takes, or None if not valid
    echo: Callable[[Session, Ctx, Translator], str | None]
    asked: Callable[[Session, Ctx], bool] = lambda s, ctx: True  # worth asking now
    readable: Callable[[Session, Ctx], bool] = lambda s, ctx: True  # may be read from free text now
    clears: tuple[str, ...] = ()  # cleared with it (a new comune is a new Municipio)
    numbered: bool = True  # a typed number presses a button (False: it is a value, like an age)
    also_on_screen_in: tuple[State, ...] = ()  # other states where it is being answered
    takes_numbers: bool = False  # also answered, in any state, by a message of numbers only ("45")

    def reply(self, s: Session, ctx: Ctx) -> Reply:
        tr = ctx.tr(s)
        asked = msg(tr(self.ask), tr(self.hint) if self.hint else "", buttons=self.buttons(s, ctx, tr))
        return asked if self.numbered else replace(asked, numbered=False)

    def expecting(self, s: Session, reading: Reading) -> bool:
        if reading.only_numbers and self.takes_numbers and s.state != State.ASK_MUNICIPIO:
            return True
        return s.state in (self.state, *self.also_on_screen_in)

    def not_understood(self, text: str, tr: Translator) -> Reply:
        echo = text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"
        return msg(tr(self.retry, text=echo) if "%(text)s" in self.retry else tr(self.retry))


def _set(slot: str) -> Callable[[Session, Any, Ctx, list[Reply], Reading], Session]:
    return lambda s, value, ctx, replies, reading: s.with_slot(slot, value)


# ------------------------------------------------------------------ the comune


def set_comune(s: Session, comune: Comune, ctx: Ctx, replies: list[Reply]) -> Session:
    """Fill the comune if the cooperative works there; otherwise explain and keep asking."""
    s = s.evolve(choices=())
    if not in_area(ctx.kb, comune):
        replies.append(outside_area(s, comune, ctx))
        return s.with_slot("comune", None)
    if comune.istat != ctx.kb.municipi_of:
        s = s.evolve(municipio=None)
    return s.with_slot("comune", comune.istat)


def _fill_comune(s: Session, found: Comune | ComuneMatch, ctx: Ctx, replies: list[Reply], reading: Reading) -> Session:
    if isinstance(found, Comune):
        return set_comune(s, found, ctx, replies)
    if found.kind == "found":
        return set_comune(s, found.comune, ctx, replies)
    if found.kind in ("ambiguous", "suggested"):
        return s.evolve(choices=tuple(c.istat for c in found.comuni))  # the user picks: CHOOSE_COMUNE
    if found.kind == "too-many":
        replies.append(msg(ctx.tr(s)(T.TOO_MANY_COMUNI, example=found.comuni[0].name)))
    return s


def _read_comune(s: Session, text: str, ctx: Ctx, expecting: bool, reading: Reading) -> ComuneMatch | None:
    # A message about danger is not an answer to "which comune": only clear names count there.
    # Numbers are never a town: "45" while towns are offered is an age.
    if reading.only_numbers:
        return None
    found = ctx.res.nlu.find_comune(text, expecting=expecting and not reading.topics)
    return found if found.kind != "none" else None


def _comune_buttons(s: Session, ctx: Ctx, tr: Translator) -> tuple[Button, ...]:
    kb = ctx.kb
    if s.choices:  # several comuni fit the name typed: the user picks one
        return tuple(Button(f"c:{c}", f"{kb.comuni[c].name} ({kb.comuni[c].province})") for c in s.choices)
    menu = tuple(Button(f"c:{c}", kb.comuni[c].name) for c in kb.menu_comuni)
    return (*menu, Button("l:menu", "🌐 " + tr(T.BUTTON_LANGUAGE)))


COMUNE = Question(
    slot="comune", state=State.ASK_COMUNE, also_on_screen_in=(State.CHOOSE_COMUNE,),
    ask=T.ASK_COMUNE, hint=T.ASK_COMUNE_HINT, retry=T.COMUNE_NOT_FOUND, prefix="c",
    buttons=_comune_buttons, read=_read_comune, fill=_fill_comune,
    decode=lambda value, ctx: ctx.kb.comuni.get(value),
    echo=lambda s, ctx, tr: ctx.kb.comuni[s.comune].name if s.comune else None,
    clears=("municipio",),
)


def choose_comune(s: Session, ctx: Ctx) -> Reply:
    """The comune question while a choice among several is pending (CHOOSE_COMUNE)."""
    tr = ctx.tr(s)
    text = tr(T.CHOOSE_COMUNE) if len(s.choices) > 1 else tr(T.DID_YOU_MEAN)
    return msg(text, buttons=_comune_buttons(s, ctx, tr))


# ------------------------------------------------------------------ the age


def _read_age(s: Session, text: str, ctx: Ctx, expecting: bool, reading: Reading) -> tuple[str, ...] | None:
    """The age groups of everyone the message gives an age for, in order, each once."""
    groups = [ctx.kb.age_group(years) for years in reading.ages.ages(expecting)]
    named = tuple(dict.fromkeys(g for g in groups if g))
    return named or None


def _fill_age(s: Session, value: str | tuple[str, ...], ctx: Ctx, replies: list[Reply], reading: Reading) -> Session:
    """One age group (a button), or several (a family: "6 e 11"): the results cover each."""
    groups = (value,) if isinstance(value, str) else value
    return s.with_slot("age", groups[0]).evolve(ages=groups if len(groups) > 1 else ())


def and_list(items: list[str], tr: Translator) -> str:
    """"a, b e c" in the user's language."""
    if len(items) < 2:
        return "".join(items)
    return tr(T.AND, first=", ".join(items[:-1]), last=items[-1])


def _echo_age(s: Session, ctx: Ctx, tr: Translator) -> str | None:
    if not s.age:
        return None
    return and_list([tr(ctx.kb.ages[a].label) for a in (s.ages or (s.age,))], tr)


AGE = Question(
    slot="age", state=State.ASK_AGE, ask=T.ASK_AGE, hint=T.ASK_AGE_HINT, retry=T.AGE_NOT_UNDERSTOOD,
    prefix="a",
    buttons=lambda s, ctx, tr: tuple(Button(f"a:{a.id}", tr(a.label)) for a in ctx.kb.ages.values()),
    read=_read_age, fill=_fill_age,
    decode=lambda value, ctx: value if value in ctx.kb.ages else None,
    echo=_echo_age, clears=("ages",),
    numbered=False,  # a typed "3" is three years old, not the third button
    takes_numbers=True,
)


# ------------------------------------------------------------------ the need


def _read_need(s: Session, text: str, ctx: Ctx, expecting: bool, reading: Reading) -> list[str] | None:
    needs = ctx.res.nlu.find_needs(text, expecting=expecting and not reading.topics, norm=reading.norm)
    if not needs:
        return None
    meant_by_age = [(n.id, n.instead_of[needs[0]]) for n in ctx.kb.needs.values() if needs[0] in n.instead_of]
    if not meant_by_age:
        return needs
    # Context: the ages this message gives, else those already known ("scuola" for a baby).
    groups = {ctx.kb.age_group(y) for y in reading.ages.said} or set(s.ages or (s.age,) if s.age else ())
    for need_id, meant in meant_by_age:
        if groups and groups <= set(meant):
            return [need_id, *needs]
    return needs


def need_of(needs: list[str], ctx: Ctx) -> str:
    """Of the needs a message names, strongest first, the one the bot takes: the first that an
    active service answers, else the first (answered honestly by `need_not_active`)."""
    offered = ctx.offered_needs()
    return next((n for n in needs if n in offered), needs[0])


def _fill_need(s: Session, needs: list[str], ctx: Ctx, replies: list[Reply], reading: Reading) -> Session:
    """The first need named that an active service answers; a need none answers gets the honest
    answer and its safety net (`need_not_active`), and the need is asked again."""
    need = need_of(needs, ctx)
    if need in ctx.offered_needs():
        if need != needs[0]:  # "doposcuola" asked, none active: said, and the school's services shown
            replies.append(need_not_active(s, needs[0], ctx, already=list(reading.topics)))
        return s.with_slot("need", need)
    replies.append(need_not_active(s, needs[0], ctx, already=list(reading.topics)))
    return s


NEED = Question(
    slot="need", state=State.ASK_NEED, ask=T.ASK_NEED, hint=T.ASK_NEED_HINT, retry=T.NEED_NOT_UNDERSTOOD,
    prefix="n",
    buttons=lambda s, ctx, tr: tuple(Button(f"n:{n}", tr(ctx.kb.needs[n].label)) for n in ctx.offered_needs()),
    read=_read_need, fill=_fill_need,
    decode=lambda value, ctx: [value] if value in ctx.offered_needs() else None,
    echo=lambda s, ctx, tr: tr(ctx.kb.needs[s.need].label) if s.need else None,
)


# ------------------------------------------------------------------ Milan's Municipio


def _municipio_buttons(s: Session, ctx: Ctx, tr: Translator) -> tuple[Button, ...]:
    numbers = tuple(Button(f"m:{m}", tr(T.MUNICIPIO_LABEL, number=m)) for m in ctx.kb.municipi)
    return (*numbers, Button("m:0", tr(T.MUNICIPIO_UNKNOWN)))


def _decode_municipio(value: str, ctx: Ctx) -> int | None:
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if number == 0 or number in ctx.kb.municipi else None  # 0: "I don't know"


MUNICIPIO = Question(
    slot="municipio", state=State.ASK_MUNICIPIO, ask=T.ASK_MUNICIPIO, hint=T.ASK_MUNICIPIO_HINT,
    retry=T.NOT_UNDERSTOOD, prefix="m", buttons=_municipio_buttons,
    read=lambda s, text, ctx, expecting, reading: ctx.res.nlu.find_municipio(text, expecting=expecting),
    fill=_set("municipio"), decode=_decode_municipio,
    echo=lambda s, ctx, tr: tr(T.MUNICIPIO_LABEL, number=s.municipio) if s.municipio else None,
    # Asked in Milan only, and only when a service that fits serves some Municipi.
    asked=lambda s, ctx: s.comune == ctx.kb.municipi_of and asks_municipio(ctx.kb, query(s, ctx), ctx.today),
    readable=lambda s, ctx: s.comune == ctx.kb.municipi_of,
)


QUESTIONS: tuple[Question, ...] = (COMUNE, AGE, NEED, MUNICIPIO)  # asked in this order
BY_STATE: dict[str, Question] = {q.state: q for q in QUESTIONS} | {
    state: q for q in QUESTIONS for state in q.also_on_screen_in}
BY_PREFIX: dict[str, Question] = {q.prefix: q for q in QUESTIONS}
BY_SLOT: dict[str, Question] = {q.slot: q for q in QUESTIONS}
