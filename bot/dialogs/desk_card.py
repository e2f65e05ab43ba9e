"""The desk card: what a family shows at a service's desk, or forwards to whoever helps it.

A clerk who does not speak the family's language, and a family who cannot explain in
Italian, meet over one screen: the Italian block first (the clerk reads it), then the same
in the family's language. Each block says the request in one plain sentence ("Cerco aiuto:
Scuola. Età: 6-14 anni. Comune: Cinisello Balsamo. Parlo arabo.") and the services found,
with their doubts, contacts and hours as the results say them: nothing guessed, and nothing
about the family beyond what it answered. The channel sends it as text, and where it can as
a PNG image with the bot's QR code too (bot.card_image, on Telegram).
"""

from __future__ import annotations

from bot.dialogs import texts as T
from bot.dialogs.cards import desk_lines
from bot.dialogs.context import Ctx
from bot.dialogs.model import CardText, Reply, Section, Session
from bot.dialogs.results import FULL_CARDS, found_for_all, results_buttons
from bot.i18n import Translator


def desk_card(s: Session, ctx: Ctx) -> Reply:
    """The card for the results on screen (their first FULL_CARDS services), with the results'
    buttons under it, so the family goes on from where it was."""
    found, extra = found_for_all(s, ctx)
    services = (found + extra)[:FULL_CARDS]
    langs = ["it", *([s.lang] if s.lang and s.lang != "it" else [])]
    blocks = tuple(_block(s, ctx, ctx.res.catalogs.get(lang), [sv.id for sv in services]) for lang in langs)
    intro = Section(ctx.tr(s)(T.DESK_CARD_INTRO))
    sections = (intro, *(Section("\n".join(b.lines), b.title) for b in blocks))
    return Reply(sections, results_buttons(s, ctx, found, extra), tuple(sv.id for sv in services), card=blocks)


def _block(s: Session, ctx: Ctx, tr: Translator, services: list[str]) -> CardText:
    kb = ctx.kb
    ages = s.ages or ((s.age,) if s.age else ())
    place = kb.comuni[s.comune].name if s.comune in kb.comuni else ""
    if s.municipio:
        place += f", Municipio {s.municipio}"
    request = tr(T.DESK_REQUEST, need=tr(kb.needs[s.need].label) if s.need in kb.needs else "",
                 age=", ".join(tr(kb.ages[a].label) for a in ages if a in kb.ages), comune=place,
                 language=ctx.res.catalogs.name_of(s.lang or ctx.res.catalogs.default, tr.lang))
    lines = [request]
    for sid in services:
        lines += desk_lines(kb.services[sid], kb, tr, ctx.today)
    # The image lays out its own directions: the marks that keep a chat's text in order go.
    return CardText(tr.lang, unmarked(tr(T.DESK_CARD_TITLE)), tuple(unmarked(line) for line in lines))


def unmarked(text: str) -> str:
    return text.translate(_MARKS)


_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u2066\u2067\u2068\u2069"))
