"""What the dialog shows when it has its answers: the services that apply, or what still helps.

The two services that fit best are shown in full (what it offers, why it fits, contacts,
hours: `bot.dialogs.cards`), the others as buttons; when none applies, the other needs that
do have a service for this comune, Municipio and age, and the cooperative's contact. Also
here: one service opened by an operator's link, a place outside the area, the safety net,
and the honest answer for a need no active service answers.
"""

from __future__ import annotations

from bot.dialogs import texts as T
from bot.dialogs.cards import line_card, service_card, why_line
from bot.dialogs.context import Ctx
from bot.dialogs.model import Button, Reply, Section, Session
from bot.i18n import Translator
from bot.knowledge import Comune, Service
from bot.matching import Query, alternatives, audience_services, choose_services

FULL_CARDS = 2  # services shown in full; the others are buttons, so one message fits a screen
SAFETY_TOPICS_SHOWN = 2


def card(service: Service, ctx: Ctx, tr: Translator, why: str | None = None) -> Section:
    return service_card(service, ctx.kb, tr, why, today=ctx.today, now=ctx.now,
                        closed_days=ctx.closed_days(service))


def query(s: Session, ctx: Ctx) -> Query:
    assert s.comune and s.age and s.need
    return Query(ctx.kb.comuni[s.comune], s.age, s.need, s.municipio)


DESK_CARD_BUTTON = "h:card"  # under results: the card to show at the desk


def next_buttons(tr: Translator) -> tuple[Button, ...]:
    return (
        Button("x:need", tr(T.BUTTON_CHANGE_NEED)),
        Button("x:comune", tr(T.BUTTON_CHANGE_COMUNE)),
        Button("x:new", tr(T.BUTTON_RESTART)),
    )


def found_for(s: Session, ctx: Ctx) -> tuple[list[Service], list[Service]]:
    """(services for the need, services of the user's audiences shown too), best fit first.

    Someone who speaks an audience's language (Ukrainian) or asks for its need also sees the
    services for that need (help for people from Ukraine), after the others.
    """
    key = ("found", s.comune, s.age, s.need, s.municipio, s.lang)
    if key in ctx.memo:
        return ctx.memo[key]
    kb, q = ctx.kb, query(s, ctx)
    found = choose_services(kb, q, ctx.today)
    extra: list[Service] = []
    for audience in kb.audience_of(s.lang, q.need):
        extra += [sv for sv in audience_services(kb, audience, q.comune, ctx.today)
                  if sv not in found and sv not in extra]
    ctx.memo[key] = found, extra
    return found, extra


def found_for_all(s: Session, ctx: Ctx) -> tuple[list[Service], list[Service]]:
    """`found_for` over every age group a family named (each service once, in order)."""
    if not s.ages:
        return found_for(s, ctx)
    found: list[Service] = []
    extra: list[Service] = []
    for group in s.ages:
        f, e = found_for(s.evolve(age=group), ctx)
        found += [sv for sv in f if sv not in found]
        extra += [sv for sv in e if sv not in extra]
    return found, [sv for sv in extra if sv not in found]


def _age_of(service: Service, s: Session, ctx: Ctx) -> str:
    """The first age group of the family that `service` was found for."""
    return next((g for g in s.ages if service in found_for(s.evolve(age=g), ctx)[0]), s.age or "")


def family_results(s: Session, ctx: Ctx) -> Reply:
    """Several people of different ages: for each age group, its best service in full (or a
    line that it is already above, or that none was found); the others as buttons."""
    tr, kb = ctx.tr(s), ctx.kb
    sections = [Section(tr(T.RESULTS_FAMILY))]
    shown: list[Service] = []
    for group in s.ages:
        one = s.evolve(age=group)
        found, extra = found_for(one, ctx)
        q = query(one, ctx)
        sections.append(Section("", tr(T.FOR_AGE, age=tr(kb.ages[group].label))))
        already = [sv for sv in found if sv in shown]
        new = [sv for sv in found + extra if sv not in shown]
        if new:
            sv = new[0]
            why = why_line(sv, kb, q.comune, group, q.need, tr) if sv in found else None
            sections.append(card(sv, ctx, tr, why))
            shown.append(sv)
        if already:
            sections.append(Section(tr(T.ALSO_ABOVE, name=already[0].name)))
        elif not new:
            place = dict(need=tr(kb.needs[q.need].label), age=tr(kb.ages[group].label), comune=q.comune.name)
            sections.append(Section(tr(T.RESULTS_NONE, **place)))
    if not shown:
        sections.append(Section(tr(T.RESULTS_ALWAYS)))
        sections.append(card(kb.fallback, ctx, tr))
        shown = [kb.fallback]
    sections.append(Section(tr(T.RESULTS_NEXT)))
    found, extra = found_for_all(s, ctx)
    return Reply(tuple(sections), results_buttons(s, ctx, found, extra, shown=shown), tuple(sv.id for sv in shown))


def _heading_for(service: Service, s: Session, ctx: Ctx) -> str:
    """The heading before an audience's services among the others ("Per chi viene dall'Ucraina...")."""
    audience = next(a for a in ctx.kb.audience_of(s.lang, s.need) if a.need in service.needs)
    return ctx.tr(s)(audience.also)


def results(s: Session, ctx: Ctx) -> Reply:
    """The best two services in full (why, contacts, hours), the others as buttons; else the
    alternatives that do have a service here, and the cooperative's contact."""
    if s.ages:
        return family_results(s, ctx)
    tr, kb = ctx.tr(s), ctx.kb
    q = query(s, ctx)
    found, extra = found_for(s, ctx)
    shown = (found + extra)[:FULL_CARDS]
    sections: list[Section] = []
    buttons = results_buttons(s, ctx, found, extra)
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
        sections.append(card(sv, ctx, tr, why))
    if len(found) + len(extra) > FULL_CARDS:
        sections.append(Section(tr(T.RESULTS_MORE)))
    if not shown:
        sections.append(Section(tr(T.RESULTS_ALWAYS)))
        sections.append(card(kb.fallback, ctx, tr))
        shown = [kb.fallback]
    sections.append(Section(tr(T.RESULTS_NEXT)))
    return Reply(tuple(sections), buttons, tuple(sv.id for sv in shown))


def results_buttons(s: Session, ctx: Ctx, found: list[Service], extra: list[Service],
                    shown: list[Service] | None = None) -> tuple[Button, ...]:
    """Under the results: the services not shown in full; when nothing fits, the needs that do
    have a service for this comune, Municipio and age; then the way on."""
    tr, kb = ctx.tr(s), ctx.kb
    after = next_buttons(tr)
    if found:  # a card to show at the desk, or to forward (bot.dialogs.desk_card)
        after = (Button(DESK_CARD_BUTTON, tr(T.BUTTON_DESK_CARD)), *after)
    if ctx.res.people:  # a person of the cooperative can take over from here
        after = (*after, Button("h:person", tr(T.BUTTON_PERSON)))
    if s.ages and shown is None:
        shown = _family_shown(s, ctx)
    rest = (found + extra)[FULL_CARDS:] if shown is None else [sv for sv in found + extra if sv not in shown]
    more = tuple(Button(f"s:{sv.id}", sv.name) for sv in rest)
    if found:
        return (*more, *after)
    other = alternatives(kb, query(s, ctx), ctx.today)
    if not other:
        return (*more, *after)
    return (*more, *(Button(f"n:{n}", tr(kb.needs[n].label)) for n in other), *after[1:])


def _family_shown(s: Session, ctx: Ctx) -> list[Service]:
    """The services `family_results` shows in full: each age group's first one not shown yet."""
    shown: list[Service] = []
    for group in s.ages:
        found, extra = found_for(s.evolve(age=group), ctx)
        new = [sv for sv in found + extra if sv not in shown]
        if new:
            shown.append(new[0])
    return shown


def one_of_the_results(s: Session, service_id: str, ctx: Ctx) -> Reply:
    """A service button under the results: its card in full, the same buttons below."""
    tr, kb = ctx.tr(s), ctx.kb
    q = query(s, ctx)
    found, extra = found_for_all(s, ctx)
    service = kb.services[service_id]
    age = _age_of(service, s, ctx) if s.ages else q.age
    why = why_line(service, kb, q.comune, age, q.need, tr) if service in found else None
    return Reply((card(service, ctx, tr, why),), results_buttons(s, ctx, found, extra), (service.id,))


def show_service(s: Session, ctx: Ctx) -> Reply:
    """One service named by an operator's link, then the way on to a normal search."""
    tr, kb = ctx.tr(s), ctx.kb
    service = kb.services.get(s.service or "", kb.fallback)
    return Reply(
        (card(service, ctx, tr),),
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
    sections += [card(sv, ctx, tr) for sv in shown]
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
