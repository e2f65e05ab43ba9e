"""The orientation dialog: a pure state machine from (session, event) to (session, replies).

Theory of operation
-------------------
The bot needs three slots — the comune, the age group of the person who needs help, and
the need — and, in Milan, sometimes the Municipio. The user may fill them in any order, by
button or in free text, one at a time or all at once ("abito a Bresso, mio figlio ha 9 anni
e non parla italiano a scuola"). After every event the dialog fills what it understood and
asks for the first slot still missing (`advance`); when all are there it shows the services
that apply (`bot.matching.choose_services`): the two that fit best in full, the others as
buttons; or, when none applies, the other needs that do have a service for this comune,
Municipio and age — never a dead end.

Special cases, in the order a message meets them:
- a message about danger, violence, forced work, a night without a roof or a doctor gets
  the safety net first (`safety_net`: the national lines of `knowledge/safety.yaml`), and
  its words are never read as a town; then the dialog goes on;
- a need that no active service answers is never a button; typed (or from an old link) it
  gets an honest answer and its safety topic (`need_not_active`);
- a comune where the cooperative works without a listed service (Pavia, the province of
  Milan) is accepted and answered with the cooperative's contact; a real place elsewhere is
  told so, with a line that helps anywhere in Italy (`outside_area`);
- a session saved before the knowledge base changed keeps what still exists (`_still_valid`).

The state names the question on screen, which also tells how to read free text: when the
bot has asked for the age, a bare "9" is an age; when it has asked for the comune, a bare
"Paderno" is a place (and an ambiguous one: the user picks). Commands work in every state.
The table `TRANSITIONS` below is the whole conversation: (state, event kind) -> handler,
with `ANY` rows for what every state accepts.

`step` never awaits, reads a file or imports a channel: channels turn their updates into
events and render the neutral replies. A returned session of None means "forget this
user" (/forget): the caller deletes what it stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from bot import deeplink
from bot.dialogs import texts as T
from bot.dialogs.cards import line_card, service_card, why_line
from bot.dialogs.model import (
    Button,
    Command,
    Effect,
    Event,
    Location,
    Press,
    Repeat,
    Reply,
    Resources,
    Resume,
    Section,
    Session,
    Text,
)
from bot.i18n import FSI, PDI, RLM, Catalogs, Translator, rtl_lines
from bot.knowledge import Comune, KnowledgeBase, Service
from bot.matching import (
    Query,
    alternatives,
    asks_municipio,
    audience_services,
    choose_services,
    in_area,
    offered_needs,
)
from bot.text import clean_user_text, normalize
from bot.understanding import ComuneMatch


class State(StrEnum):
    START = "start"  # nothing asked yet
    ASK_COMUNE = "ask_comune"
    CHOOSE_COMUNE = "choose_comune"  # the name typed fits several comuni
    ASK_AGE = "ask_age"
    ASK_NEED = "ask_need"
    ASK_MUNICIPIO = "ask_municipio"  # Milan only, when a service serves some Municipi
    RESULTS = "results"
    SHOW_SERVICE = "show_service"  # a deep link named one service
    CHOOSE_LANGUAGE = "choose_language"


ANY = "*"
ECHO_LIMIT = 40  # characters of the user's text quoted back
LABEL_LIMIT = 64  # longer text cannot be a button's label
FULL_CARDS = 2  # services shown in full; the others are buttons, so one message fits a screen
SAFETY_TOPICS_SHOWN = 2


@dataclass(frozen=True)
class Ctx:
    res: Resources
    today: date
    now: datetime | None = None  # the time in Milan, when known: "open now", "opens Tuesday"

    @property
    def kb(self) -> KnowledgeBase:
        return self.res.kb

    def tr(self, session: Session) -> Translator:
        return self.res.catalogs.get(session.lang)

    def offered_needs(self) -> list[str]:
        """Needs that some service active today answers: the only ones offered as buttons."""
        if self.today not in self.res.offered:
            self.res.offered.clear()  # one day at a time
            self.res.offered[self.today] = offered_needs(self.kb, self.today)
        return self.res.offered[self.today]

    def closed_days(self, service: Service) -> frozenset[date]:
        """National holidays, and the patron saint's day of the desk's comune."""
        local = self.res.local_holidays.get(service.hours.comune or "", frozenset())
        return self.res.holidays | local if local else self.res.holidays


Outcome = tuple[Session | None, list[Reply]]
Handler = Callable[[Session, Event, Ctx], Outcome]


def msg(*bodies: str, buttons: tuple[Button, ...] = (), services: tuple[str, ...] = ()) -> Reply:
    return Reply(tuple(Section(b) for b in bodies if b), buttons, services)


# ------------------------------------------------------------------ the questions


def advance(s: Session, ctx: Ctx, before: list[Reply] | None = None) -> Outcome:
    """Ask for the first slot still missing, or show the results when none is."""
    replies = list(before or [])
    kb = ctx.kb
    if s.choices:
        state = State.CHOOSE_COMUNE
    elif s.comune is None:
        state = State.ASK_COMUNE
    elif s.age is None:
        state = State.ASK_AGE
    elif s.need is None:
        state = State.ASK_NEED
    elif s.municipio is None and asks_municipio(kb, _query(s, ctx), ctx.today):
        state = State.ASK_MUNICIPIO
    else:
        state = State.RESULTS
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
    tr, kb = ctx.tr(s), ctx.kb
    match s.state:
        case State.ASK_COMUNE | State.START:
            buttons = tuple(Button(f"c:{c}", kb.comuni[c].name) for c in kb.menu_comuni)
            lang = Button("l:menu", "🌐 " + tr(T.BUTTON_LANGUAGE))
            return msg(tr(T.ASK_COMUNE), tr(T.ASK_COMUNE_HINT), buttons=(*buttons, lang))
        case State.CHOOSE_COMUNE:
            buttons = tuple(Button(f"c:{c}", _comune_label(kb.comuni[c])) for c in s.choices)
            text = tr(T.CHOOSE_COMUNE) if len(s.choices) > 1 else tr(T.DID_YOU_MEAN)
            return msg(text, buttons=buttons)
        case State.ASK_AGE:
            buttons = tuple(Button(f"a:{a.id}", tr(a.label)) for a in kb.ages.values())
            # A typed "3" is three years old, not the third button.
            return replace(msg(tr(T.ASK_AGE), tr(T.ASK_AGE_HINT), buttons=buttons), numbered=False)
        case State.ASK_NEED:
            buttons = tuple(Button(f"n:{n}", tr(kb.needs[n].label)) for n in ctx.offered_needs())
            return msg(tr(T.ASK_NEED), tr(T.ASK_NEED_HINT), buttons=buttons)
        case State.ASK_MUNICIPIO:
            buttons = tuple(Button(f"m:{m}", tr(T.MUNICIPIO_LABEL, number=m)) for m in kb.municipi)
            return msg(tr(T.ASK_MUNICIPIO), tr(T.ASK_MUNICIPIO_HINT),
                       buttons=(*buttons, Button("m:0", tr(T.MUNICIPIO_UNKNOWN))))
        case State.CHOOSE_LANGUAGE:
            buttons = tuple(Button(f"l:{lang.code}", lang.name) for lang in ctx.res.catalogs.languages)
            return msg(tr(T.CHOOSE_LANGUAGE), buttons=buttons)
        case _:
            raise ValueError(f"no question for state {s.state!r}")


def _card(service: Service, ctx: Ctx, tr: Translator, why: str | None = None) -> Section:
    return service_card(service, ctx.kb, tr, why, today=ctx.today, now=ctx.now,
                        closed_days=ctx.closed_days(service))


def _comune_label(c: Comune) -> str:
    return f"{c.name} ({c.province})"


def _query(s: Session, ctx: Ctx) -> Query:
    assert s.comune and s.age and s.need
    return Query(ctx.kb.comuni[s.comune], s.age, s.need, s.municipio)


def _next_buttons(tr: Translator) -> tuple[Button, ...]:
    return (
        Button("x:need", tr(T.BUTTON_CHANGE_NEED)),
        Button("x:comune", tr(T.BUTTON_CHANGE_COMUNE)),
        Button("x:new", tr(T.BUTTON_RESTART)),
    )


def _found(s: Session, ctx: Ctx) -> tuple[list[Service], list[Service]]:
    """(services for the need, services of the user's audiences shown too), best fit first.

    Someone who speaks an audience's language (Ukrainian) or asks for its need also sees the
    services for that need (help for people from Ukraine), after the others.
    """
    kb, q = ctx.kb, _query(s, ctx)
    found = choose_services(kb, q, ctx.today)
    extra: list[Service] = []
    for audience in kb.audience_of(s.lang, q.need):
        extra += [sv for sv in audience_services(kb, audience, q.comune, ctx.today)
                  if sv not in found and sv not in extra]
    return found, extra


def _heading_for(service: Service, s: Session, ctx: Ctx) -> str:
    """The heading before an audience's services among the others ("Per chi viene dall'Ucraina...")."""
    audience = next(a for a in ctx.kb.audience_of(s.lang, s.need) if a.need in service.needs)
    return ctx.tr(s)(audience.also)


def results(s: Session, ctx: Ctx) -> Reply:
    """The best two services in full (why, contacts, hours), the others as buttons; else the
    alternatives that do have a service here, and the cooperative's contact."""
    tr, kb = ctx.tr(s), ctx.kb
    q = _query(s, ctx)
    found, extra = _found(s, ctx)
    shown = (found + extra)[:FULL_CARDS]
    sections: list[Section] = []
    buttons = _results_buttons(s, ctx, found, extra)
    if found:
        sections.append(Section(tr(T.RESULTS)))
    else:
        place = dict(need=tr(kb.needs[q.need].label), age=tr(kb.ages[q.age].label), comune=q.comune.name)
        no_service_here = q.comune.istat not in kb.covered
        sections.append(Section(tr(T.RESULTS_NONE_HERE if no_service_here else T.RESULTS_NONE, **place)))
        if any(b.id.startswith("n:") for b in buttons):
            sections.append(Section(tr(T.RESULTS_OTHER_NEEDS, comune=q.comune.name)))
    for sv in shown:
        if sv is next((x for x in shown if x in extra), None):  # before the first of them
            sections.append(Section(_heading_for(sv, s, ctx)))
        why = why_line(sv, kb, q.comune, q.age, q.need, tr) if sv in found else None
        sections.append(_card(sv, ctx, tr, why))
    if len(found) + len(extra) > FULL_CARDS:
        sections.append(Section(tr(T.RESULTS_MORE)))
    if not shown:
        sections.append(Section(tr(T.RESULTS_ALWAYS)))
        sections.append(_card(kb.fallback, ctx, tr))
        shown = [kb.fallback]
    sections.append(Section(tr(T.RESULTS_NEXT)))
    return Reply(tuple(sections), buttons, tuple(sv.id for sv in shown))


def _results_buttons(s: Session, ctx: Ctx, found: list[Service], extra: list[Service]) -> tuple[Button, ...]:
    """Under the results: the services not shown in full; when nothing fits, the needs that do
    have a service for this comune, Municipio and age; then the way on."""
    tr, kb = ctx.tr(s), ctx.kb
    after = _next_buttons(tr)
    more = tuple(Button(f"s:{sv.id}", sv.name) for sv in (found + extra)[FULL_CARDS:])
    if found:
        return (*more, *after)
    other = alternatives(kb, _query(s, ctx), ctx.today)
    if not other:
        return (*more, *after)
    return (*more, *(Button(f"n:{n}", tr(kb.needs[n].label)) for n in other), *after[1:])


def one_of_the_results(s: Session, service_id: str, ctx: Ctx) -> Reply:
    """A service button under the results: its card in full, the same buttons below."""
    tr, kb = ctx.tr(s), ctx.kb
    q = _query(s, ctx)
    found, extra = _found(s, ctx)
    service = kb.services[service_id]
    why = why_line(service, kb, q.comune, q.age, q.need, tr) if service in found else None
    return Reply((_card(service, ctx, tr, why),), _results_buttons(s, ctx, found, extra), (service.id,))


def show_service(s: Session, ctx: Ctx) -> Reply:
    """One service named by an operator's link, then the way on to a normal search."""
    tr, kb = ctx.tr(s), ctx.kb
    service = kb.services.get(s.service or "", kb.fallback)
    return Reply(
        (_card(service, ctx, tr),),
        (Button("x:more", tr(T.BUTTON_MORE)), Button("l:menu", "🌐 " + tr(T.BUTTON_LANGUAGE))),
        (service.id,),
    )


def outside_area(s: Session, comune: Comune, ctx: Ctx) -> Reply:
    """A real place where the cooperative has no service: say so, and what can still help."""
    tr, kb = ctx.tr(s), ctx.kb
    sections = [Section(tr(T.OUTSIDE_AREA, comune=comune.name))]
    shown: list[Service] = []
    for audience in kb.audience_of(s.lang, s.need):
        shown += [sv for sv in audience_services(kb, audience, comune, ctx.today) if sv not in shown]
    shown.append(kb.fallback)
    sections += [_card(sv, ctx, tr) for sv in shown]
    lines = [(kb.lines or {})[line] for line in kb.outside_lines]
    if lines:
        sections.append(Section(tr(T.OUTSIDE_AREA_ITALY)))
        sections += [line_card(line, tr, ctx.today) for line in lines]
    sections.append(Section(tr(T.OUTSIDE_AREA_NEXT)))
    return Reply(tuple(sections), services=tuple(sv.id for sv in (*shown, *lines)))


def safety_net(s: Session, topics: list[str], ctx: Ctx) -> Reply:
    """Danger, violence, a night without a roof...: the lines that exist, said first and plainly."""
    tr, kb = ctx.tr(s), ctx.kb
    sections: list[Section] = []
    shown: list[str] = []
    for topic_id in topics[:SAFETY_TOPICS_SHOWN]:
        topic = (kb.safety or {})[topic_id]
        sections.append(Section(tr(topic.text)))
        for line_id in topic.lines:
            if line_id not in shown:
                shown.append(line_id)
                sections.append(line_card((kb.lines or {})[line_id], tr, ctx.today))
    sections.append(Section(tr(T.SAFETY_THEN)))
    return Reply(tuple(sections), services=tuple(shown))


# ------------------------------------------------------------------ filling slots


def _set_comune(s: Session, comune: Comune, ctx: Ctx, replies: list[Reply]) -> Session:
    """Fill the comune if the cooperative works there; otherwise explain and keep asking."""
    s = s.evolve(choices=())
    if not in_area(ctx.kb, comune):
        replies.append(outside_area(s, comune, ctx))
        return s.with_slot("comune", None)
    if comune.istat != ctx.kb.municipi_of:
        s = s.evolve(municipio=None)
    return s.with_slot("comune", comune.istat)


def _apply_comune(s: Session, found: ComuneMatch, ctx: Ctx, replies: list[Reply]) -> Session:
    if found.kind == "found":
        return _set_comune(s, found.comune, ctx, replies)
    if found.kind in ("ambiguous", "suggested"):
        return s.evolve(choices=tuple(c.istat for c in found.comuni))
    if found.kind == "too-many":
        tr = ctx.tr(s)
        replies.append(msg(tr(T.TOO_MANY_COMUNI, example=found.comuni[0].name)))
    return s


def _understood(s: Session, ctx: Ctx, slots: list[str]) -> Reply | None:
    """Say back what was understood from free text, so a wrong guess is seen at once."""
    tr, kb = ctx.tr(s), ctx.kb
    parts = []
    for slot in slots:
        if slot == "comune" and s.comune:
            parts.append(kb.comuni[s.comune].name)
        elif slot == "age" and s.age:
            parts.append(tr(kb.ages[s.age].label))
        elif slot == "need" and s.need:
            parts.append(tr(kb.needs[s.need].label))
        elif slot == "municipio" and s.municipio:
            parts.append(tr(T.MUNICIPIO_LABEL, number=s.municipio))
    return msg(tr(T.UNDERSTOOD, what=", ".join(parts))) if parts else None


@dataclass(frozen=True)
class Reading:
    """What one message filled, and what to say about it: the safety net first, then the rest."""

    session: Session
    filled: list[str]
    urgent: list[Reply]  # the safety net: shown before anything else
    replies: list[Reply]

    @property
    def anything(self) -> bool:
        return bool(self.filled or self.urgent or self.replies)


def _read(s: Session, text: str, ctx: Ctx) -> Reading:
    """Fill every slot the text names; the state says which one was asked for.

    A message about danger ("mio marito mi picchia", "dove dormo stanotte?") gets the safety
    net first, and then only clear names count as places: its words are never read back as a
    comune that does not exist.
    """
    nlu, kb, state = ctx.res.nlu, ctx.kb, s.state
    replies: list[Reply] = []
    filled: list[str] = []
    topics = nlu.find_safety(text)
    urgent = [safety_net(s, topics, ctx)] if topics else []
    expect_comune = state in (State.ASK_COMUNE, State.CHOOSE_COMUNE) and not topics
    comune = nlu.find_comune(text, expecting=expect_comune)
    if comune.kind != "none":
        before = s.comune
        s = _apply_comune(s, comune, ctx, replies)
        if s.comune != before and s.comune:
            filled.append("comune")
    years = nlu.find_age(text, expecting=state == State.ASK_AGE)
    group = nlu.age_group(years) if years is not None else None
    if group:
        s = s.with_slot("age", group)
        filled.append("age")
    needs = nlu.find_needs(text, expecting=state == State.ASK_NEED and not topics)
    offered = ctx.offered_needs()
    active = [n for n in needs if n in offered]
    if active:
        s = s.with_slot("need", active[0])
        filled.append("need")
    elif needs:
        replies.append(need_not_active(s, needs[0], ctx, already=topics))
    if s.comune == kb.municipi_of:
        municipio = nlu.find_municipio(text, expecting=state == State.ASK_MUNICIPIO)
        if municipio is not None:
            s = s.with_slot("municipio", municipio)
            filled.append("municipio")
    return Reading(s, filled, urgent, replies)


def need_not_active(s: Session, need_id: str, ctx: Ctx, already: list[str] = ()) -> Reply:
    """A need no active service answers (typed, or from an old link): said honestly, with the
    safety net of that need (a night without a roof, for housing) unless it was just shown."""
    tr, kb = ctx.tr(s), ctx.kb
    need = kb.needs[need_id]
    said = Section(tr(T.NEED_NOT_ACTIVE, need=tr(need.label)))
    if need.safety and need.safety not in already:
        net = safety_net(s, [need.safety], ctx)
        return Reply((said, *net.sections), services=net.services)
    return Reply((said,))


def answer(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Free text: take every slot it names, then ask what is still missing."""
    assert isinstance(event, Text)
    text = clean_user_text(event.text)
    s = _detect_language(s, text, ctx)
    pressed = _typed_button(s, text, ctx)
    if pressed:
        return press(s, Press(pressed), ctx)
    asked = s.choices
    reading = _read(s, text, ctx)
    s = reading.session
    if reading.anything or s.choices != asked:
        if s.state == State.SHOW_SERVICE:
            s = s.evolve(service=None)
        said = _understood(s, ctx, reading.filled)
        return advance(s, ctx, [*reading.urgent, *([said] if said else []), *reading.replies])
    return s, [_not_understood(s, text, ctx.tr(s)), question(s, ctx)]


def _not_understood(s: Session, text: str, tr: Translator) -> Reply:
    match s.state:
        case State.ASK_COMUNE | State.CHOOSE_COMUNE:
            echo = text if len(text) <= ECHO_LIMIT else text[: ECHO_LIMIT - 1] + "…"
            return msg(tr(T.COMUNE_NOT_FOUND, text=echo))
        case State.ASK_AGE:
            return msg(tr(T.AGE_NOT_UNDERSTOOD))
        case State.ASK_NEED:
            return msg(tr(T.NEED_NOT_UNDERSTOOD))
        case _:
            return msg(tr(T.NOT_UNDERSTOOD))


def _typed_button(s: Session, text: str, ctx: Ctx) -> str | None:
    """A typed text equal to a button's label ("6-13 anni", "Scuola") presses that button."""
    typed = normalize(text)
    if not typed or len(typed) > LABEL_LIMIT:
        return None
    for button in current_buttons(s, ctx):
        if normalize(button.label) == typed:
            return button.id
    return None


def current_buttons(s: Session, ctx: Ctx) -> tuple[Button, ...]:
    """The buttons on screen now: a press of any other is stale."""
    if s.state == State.START:
        return ()
    if s.state == State.RESULTS:
        return _results_buttons(s, ctx, *_found(s, ctx))
    return question(s, ctx).buttons


# ------------------------------------------------------------------ buttons


def press(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A button: accepted if it is on screen now; an old one gets the current question."""
    assert isinstance(event, Press)
    data = event.data
    always = {"x:new", "x:more", "x:need", "x:comune", "l:menu"}
    if data not in always and data not in {b.id for b in current_buttons(s, ctx)}:
        return s, [msg(ctx.tr(s)(T.STALE_BUTTON)), question(s, ctx)]
    kind, _, value = data.partition(":")
    kb = ctx.kb
    replies: list[Reply] = []
    match kind:
        case "c" if value in kb.comuni:
            s = _set_comune(s, kb.comuni[value], ctx, replies)
        case "a" if value in kb.ages:
            s = s.with_slot("age", value)
        case "n" if value in ctx.offered_needs():
            s = s.with_slot("need", value)
        case "s" if value in kb.services and s.state == State.RESULTS:
            return s, [one_of_the_results(s, value, ctx)]
        case "m" if value.isdigit():
            s = s.with_slot("municipio", int(value))
        case "l" if value == "menu":
            return open_language_menu(s, event, ctx)
        case "l" if value in ctx.res.catalogs.translators:
            s = s.evolve(lang=value, lang_source="user")
            replies.append(msg(ctx.tr(s)(T.LANGUAGE_SET)))
        case "x" if value == "new":
            return restart(s, event, ctx)
        case "x" if value == "more":
            s = s.evolve(service=None)
        case "x" if value == "need":
            s = s.with_slot("need", None)
        case "x" if value == "comune":
            s = s.with_slot("comune", None).evolve(municipio=None)
        case _:
            return s, [msg(ctx.tr(s)(T.STALE_BUTTON)), question(s, ctx)]
    return advance(s, ctx, replies)


# ------------------------------------------------------------------ commands and the rest


def start(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Always a fresh start; a deep-link payload presets language, comune, age, need, service."""
    arg = event.arg if isinstance(event, Command) else ""
    preset = deeplink.parse(arg, ctx.kb, ctx.res.catalogs.codes)
    fresh = Session(lang=s.lang, lang_source=s.lang_source)
    if preset.lang:
        fresh = fresh.evolve(lang=preset.lang, lang_source="link")
    tr = ctx.tr(fresh)
    replies: list[Reply] = []
    audience = (ctx.kb.audiences or {}).get(preset.audience or "")
    replies.append(msg(tr(audience.welcome) if audience else tr(T.WELCOME)))
    if preset.age:
        fresh = fresh.with_slot("age", preset.age)
    if preset.need and preset.need in ctx.offered_needs():
        fresh = fresh.with_slot("need", preset.need)
    elif preset.need:  # an old poster for a need nobody answers any more
        replies.append(need_not_active(fresh, preset.need, ctx))
    if preset.comune:
        fresh = _set_comune(fresh, ctx.kb.comuni[preset.comune], ctx, replies)
    if preset.service:
        service = ctx.kb.services[preset.service]
        if service.is_active(ctx.today):
            fresh = fresh.evolve(service=service.id, state=State.SHOW_SERVICE)
            return fresh, [*replies, show_service(fresh, ctx)]
        replies.append(msg(tr(T.ENDED, name=service.name)))
    return advance(fresh, ctx, replies)


def enter_audience(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """An audience's command (/ukraina): the same as its deep link (`ua`)."""
    assert isinstance(event, Command)
    name = event.name.lower().lstrip("/")
    audience = next(a for a in (ctx.kb.audiences or {}).values() if a.command == name)
    return start(s, Command("start", audience.payload), ctx)


def first_contact(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """A first message that is not /start (e.g. someone writes straight away): greet, then read it."""
    if isinstance(event, Text):
        s = _detect_language(s, clean_user_text(event.text), ctx)
    fresh, replies = start(s, Command("start"), ctx)
    assert fresh is not None
    if not isinstance(event, Text):
        return fresh, replies
    reading = _read(fresh, clean_user_text(event.text), ctx)
    if not (reading.anything or reading.session.choices):
        return fresh, replies  # "Ciao": the greeting and the first question are the answer
    said = _understood(reading.session, ctx, reading.filled)
    return advance(reading.session, ctx, [*reading.urgent, replies[0], *([said] if said else []), *reading.replies])


def restart(s: Session, event: Event, ctx: Ctx) -> Outcome:
    fresh = Session(lang=s.lang, lang_source=s.lang_source)
    return advance(fresh, ctx, [msg(ctx.tr(s)(T.RESTARTED))])


def back(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """Undo the last answer and ask that question again."""
    if s.state in (State.CHOOSE_LANGUAGE, State.SHOW_SERVICE) or s.choices:
        return advance(s.evolve(choices=(), service=None), ctx)
    if not s.filled:
        return advance(s, ctx, [msg(ctx.tr(s)(T.BACK_AT_START))])
    last = s.filled[-1]
    s = s.with_slot(last, None)
    if last == "comune":
        s = s.with_slot("municipio", None)
    return advance(s, ctx)


def open_language_menu(s: Session, event: Event, ctx: Ctx) -> Outcome:
    s = s.evolve(state=State.CHOOSE_LANGUAGE)
    return s, [question(s, ctx)]


def show_help(s: Session, event: Event, ctx: Ctx) -> Outcome:
    return s, [msg(ctx.tr(s)(T.HELP)), question(s, ctx)]


def forget(s: Session, event: Event, ctx: Ctx) -> Outcome:
    """/forget: everything stored about the user is erased (the caller deletes the session)."""
    return None, [msg(ctx.tr(s)(T.FORGOTTEN))]


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
    if comune is None:
        return advance(s.evolve(choices=()), ctx, [*greeting[:1], msg(tr(T.LOCATION_OUTSIDE))])
    replies: list[Reply] = [*greeting[:1], msg(tr(T.LOCATION_FOUND, comune=comune.name))]
    s = _set_comune(s, comune, ctx, replies)
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
    (ANY, "unknown-command"): unknown_command,
    (ANY, "location"): location,
    (ANY, "other"): not_text,
    (ANY, "resume"): resume,
    (ANY, "repeat"): repeat,
}

COMMANDS = frozenset({"start", "restart", "back", "language", "help", "forget"})


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
            audience = any(a.command == name for a in (kb.audiences or {}).values())
            return "audience" if audience else "unknown-command"
        case Location():
            return "location"
        case Resume():
            return "resume"
        case Repeat():
            return "repeat"
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


def _detect_language(s: Session, text: str, ctx: Ctx) -> Session:
    """Switch once to the language the user clearly writes in; then keep it."""
    if s.lang_source not in ("default", "client"):
        return s
    detected = ctx.res.nlu.detect_language(text)
    if detected and detected != s.lang and detected in ctx.res.catalogs.translators:
        return s.evolve(lang=detected, lang_source="text")
    return s


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
    effects = _effects(s, new, replies, ctx)
    return Turn(new, [replace(r, lang=lang, state=state) for r in replies], effects)


def _effects(before: Session, after: Session | None, replies: list[Reply], ctx: Ctx) -> list[Effect]:
    """What a turn does besides answering: results shown count once, anonymously (day,
    language, place, age group, need, services shown or none), for the cooperative's report."""
    if after is None or after.state != State.RESULTS:
        return []
    asked = ("comune", "age", "need", "municipio")
    if before.state == State.RESULTS and all(getattr(before, k) == getattr(after, k) for k in asked):
        return []  # the same results again (a page of them, /help): not a new request
    shown = next((r.services for r in reversed(replies) if r.services), ())
    return [Effect("count-result", {
        "day": ctx.today.isoformat(), "lang": after.lang or ctx.res.catalogs.default, "comune": after.comune,
        "municipio": after.municipio or None, "age": after.age, "need": after.need,
        "services": [sid for sid in shown if sid in ctx.kb.services and not ctx.kb.services[sid].fallback],
    })]


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
    if unknown and s.state in (State.RESULTS, State.ASK_MUNICIPIO):
        s = s.evolve(state=State.ASK_COMUNE if s.comune is None else State.ASK_AGE if s.age is None
                     else State.ASK_NEED)
    return s


def _rtl(section: Section) -> Section:
    title = f"{RLM}{FSI}{section.title}{PDI}" if section.title else None
    return Section(rtl_lines(section.body), title)
