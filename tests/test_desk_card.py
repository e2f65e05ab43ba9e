"""The desk card a family gets with its results: Italian first for the clerk, then the
family's language; the request in one plain sentence; the services as the results say them;
and an image whose text layout holds every word of it, in every shipped language."""

from __future__ import annotations

import re

import pytest

from bot.card_image import CardBlock, layout
from bot.dialogs import texts as T
from bot.dialogs.model import Press
from tests.conftest import Chat
from tests.test_languages import ORDER as LANGUAGES

STEPS = ("c:015077", "a:6-14", "n:school")  # Cinisello Balsamo, 6-14 years, school
BIDI_MARKS = re.compile("[\u200e\u200f\u2066-\u2069]")


def pieces(word: str) -> list[str]:
    """A word cut where letters meet punctuation."""
    return [m.group() for m in re.finditer(r"\w+|\W+", word)]


def card_for(res, lang: str, steps: tuple[str, ...] = STEPS):
    chat = Chat(res, lang=lang)
    chat.start()
    for data in steps:
        chat.send(Press(data, lang))
    assert "h:card" in [b.id for b in chat.buttons]
    (reply,) = chat.send(Press("h:card", lang))
    return chat, reply


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_card_says_the_request_in_italian_first_then_in_the_familys_language(res, lang):
    chat, reply = card_for(res, lang)
    it, own = res.catalogs.get("it"), res.catalogs.get(lang)
    assert [b.lang for b in reply.card] == (["it"] if lang == "it" else ["it", lang])
    italian = reply.card[0]
    language = res.catalogs.name_of(lang, "it")
    assert italian.lines[0] == f"Cerco aiuto: Scuola. Età: 6-14 anni. Comune: Cinisello Balsamo. Parlo {language}."
    for block in reply.card:
        tr = res.catalogs.get(block.lang)
        assert block.title == BIDI_MARKS.sub("", tr(T.DESK_CARD_TITLE))
        assert block.lines[0] == BIDI_MARKS.sub("", tr(T.DESK_REQUEST, need=tr("Scuola"), age=tr("6-14 anni"),
                                                       comune="Cinisello Balsamo",
                                                       language=res.catalogs.name_of(lang, block.lang)))
        assert "Servizio di integrazione scolastica – Ambito di Cinisello Balsamo" in block.lines
        assert not any("%(" in line or BIDI_MARKS.search(line) for line in block.lines)
    assert reply.services == ("cinisello-scuola",) or "cinisello-scuola" in reply.services
    assert own(T.DESK_CARD_INTRO) in reply.text  # the chat message carries the same words
    assert all(line in BIDI_MARKS.sub("", reply.text) for b in reply.card for line in b.lines)
    assert chat.session.state == "results"  # the family goes on from its results
    assert it(T.DESK_CARD_TITLE)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_card_image_lays_out_every_word_of_the_card(res, lang):
    _, reply = card_for(res, lang)
    blocks = [CardBlock(b.lang, b.title, b.lines) for b in reply.card]
    placed = layout(blocks, "https://t.me/OrientaBot")
    drawn = " ".join(p.text for p in placed if p.kind in ("text", "title"))
    for block in blocks:
        for word in " ".join((block.title, *block.lines)).split():
            # A word and its punctuation may be drawn in two fonts ("Balsamo" and the Bengali "।").
            assert word in drawn or all(piece in drawn for piece in pieces(word)), (lang, word)


def test_a_service_without_contacts_points_to_the_cooperative_on_the_card(res):
    _, reply = card_for(res, "it")
    lines = reply.card[0].lines
    school = lines.index("Servizio di integrazione scolastica – Ambito di Cinisello Balsamo")
    rest = lines[school:]
    assert "Non abbiamo contatti pubblici per questo servizio." in rest
    assert any(c.value in line for c in res.kb.fallback.contacts for line in rest)


@pytest.mark.parametrize("words", [("Bresso", "40 anni", "casa"), ("Cinisello Balsamo", "9 anni", "scuola"),
                                   ("Segrate", "35 anni", "documenti")])
def test_the_card_is_offered_exactly_when_the_results_show_a_service(res, words):
    chat = Chat(res, lang="it")
    chat.start()
    for said in words:
        chat.say(said)
    services = res.kb.services  # (the safety net's national lines are not the cooperative's)
    found = [sid for r in chat.replies for sid in r.services if sid in services and not services[sid].fallback]
    assert ("h:card" in [b.id for b in chat.buttons]) == bool(found)
