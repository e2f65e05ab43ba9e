"""What a family reads is easy Italian, with the real names and numbers in it, and fits a phone.

Gulpease >= 60 is "easy for readers with a middle-school education". Placeholders are filled
with values the bot really inserts (the longest comune of the menu, the longest need label,
a real phone number and month), because a short "X" hides a hard sentence. Every card of
every service is measured as the bot renders it, and holds at most CARD_WORD_LIMIT words.
"""

from __future__ import annotations

import re
from datetime import date, time

import pytest
import textstat

from bot import i18n
from bot.config import ROOT
from bot.dialogs import texts as T
from bot.dialogs.cards import CARD_WORD_LIMIT, line_card, service_card, why_line
from bot.dialogs.results import FULL_CARDS
from bot.i18n_extract import knowledge_texts
from tests.conftest import TODAY, Chat

EASY = 60


@pytest.fixture(scope="module")
def it(res):
    return res.catalogs.get("it")


def _real_values(res, it) -> dict[str, str]:
    """A real value for every placeholder, from the data: the longest where there is a choice."""
    kb = res.kb
    comune = max((kb.comuni[c].name for c in kb.menu_comuni), key=len)
    phone = next(c.value for s in kb.services.values() for c in s.contacts if c.kind == "phone")
    email = next(c.value for s in kb.services.values() for c in s.contacts if c.kind == "email")
    service = next(s for s in kb.services.values() if not s.fallback)
    return {
        "comune": comune, "example": comune, "text": "Cinisselo",
        "need": max((n.label for n in kb.needs.values()), key=len),
        "age": max((a.label for a in kb.ages.values()), key=len),
        "phone": phone, "value": phone, "email": email,
        "month": it.month(date(2022, 8, 1)), "year": "2022",
        "time": it.clock(time(9, 0)), "day": it.day_names([3]),
        "first": it.day_names([0]), "last": it.day_names([4]),
        "name": service.name, "number": str(kb.municipi[-1]), "municipi": "1, 2, 3, 8, 9",
        "place": f"{comune} (solo Municipi 1, 2)", "what": f"{comune}, {kb.ages['6-14'].label}, Scuola",
        "link": "https://t.me/OrientaBot",
        "language": res.catalogs.name_of("prs", "it"), "other": res.catalogs.name_of("en", "it"),
        "contacts": ", ".join(c.value for c in kb.fallback.contacts), "period": it.days(res.retention_days),
    }


def _ui_texts() -> list[str]:
    return [v for k, v in vars(T).items() if k.isupper() and isinstance(v, str)] + [i18n.DAY_RANGE, i18n.EVERY_DAY]


def _gulpease(text: str) -> float:
    textstat.set_lang("it")
    return textstat.gulpease_index(text)


def test_every_interface_text_with_real_values_is_easy_italian(res, it):
    values = _real_values(res, it)
    hard = []
    for template in _ui_texts() + [t for t, *_ in knowledge_texts(ROOT / "knowledge")]:
        names = re.findall(r"%\((\w+)\)s", template)
        assert set(names) <= set(values), (template, set(names) - set(values))
        text = it(template, **{n: values[n] for n in names}) if names else template
        if len(text.split()) >= 3 and _gulpease(text) < EASY:
            hard.append((round(_gulpease(text)), text))
    assert not hard, hard


def _cards(res, it):
    """Every card as the bot shows it in Italian: each service with its first need and age."""
    kb = res.kb
    for s in kb.services.values():
        if not s.is_active(TODAY):
            continue
        comune = kb.comuni[sorted(s.comuni)[0]] if s.comuni else kb.comuni[kb.menu_comuni[0]]
        why = why_line(s, kb, comune, s.ages[0], s.needs[0], it) if s.needs else None
        yield s.id, service_card(s, kb, it, why, today=TODAY)
    for line in kb.lines.values():
        yield line.id, line_card(line, it, TODAY)


def _prose(body: str) -> str:
    """The sentences of a card, without contact values and hours lists (data, not prose)."""
    keep = [ln for ln in body.split("\n") if not re.match(r"^(Telefono|E-mail|Sito|Indirizzo):|^•|^ ", ln)]
    return " ".join(keep)


def test_every_card_is_easy_italian_and_fits_a_phone_screen(res, it):
    long_cards, hard = [], []
    for service_id, card in _cards(res, it):
        words = len(f"{card.title}\n{card.body}".split())
        if words > CARD_WORD_LIMIT:
            long_cards.append((service_id, words))
        if _gulpease(_prose(card.body)) < EASY:
            hard.append((service_id, round(_gulpease(_prose(card.body)))))
    assert not long_cards, long_cards
    assert not hard, hard


def test_results_show_two_services_in_full_and_the_others_as_buttons(res):
    """Milan's Municipio 2 has three interpreting services for an 8-year-old: the two that fit
    best are cards, the third a button that opens its card, with the same buttons below."""
    chat = Chat(res)
    chat.start()
    chat.say("Milano, mio figlio ha 8 anni, mi serve un interprete")
    chat.press("Municipio 2")
    cards = [s for s in chat.replies[-1].sections if s.title]
    assert len(cards) == FULL_CARDS
    assert "Ci sono anche altri servizi. Tocca il nome per leggerlo:" in chat.text
    more = [b for b in chat.buttons if b.id.startswith("s:")]
    assert more
    shown = set(chat.services)
    for button in more:
        assert button.id[2:] not in shown
        chat.press(button.label)
        assert chat.services == [button.id[2:]] and chat.replies[-1].sections[0].title == button.label
        assert {b.id for b in chat.buttons} >= {b.id for b in more}
