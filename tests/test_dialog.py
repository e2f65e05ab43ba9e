"""The conversation as a family lives it: questions, answers in any order, results, commands."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

import pytest

from bot.dialogs.model import Location, Other, Press, Resume, Session, Text
from bot.dialogs.orientation import State, step
from bot.matching import Query, choose_services, offered_needs
from tests.conftest import TODAY, Chat


def test_start_greets_and_asks_the_comune_with_buttons(chat: Chat):
    chat.start()
    assert "Progetto Integrazione" in chat.replies[0].text
    assert chat.state == State.ASK_COMUNE
    assert "In quale comune abiti?" in chat.text
    assert [b.label for b in chat.buttons][:3] == ["Milano", "Monza", "Sesto San Giovanni"]


def test_family_in_bresso_with_a_nine_year_old_gets_school_help_by_buttons_and_text(chat: Chat):
    chat.start()
    chat.say("Bresso")
    assert chat.state == State.ASK_AGE
    chat.say("9")
    assert chat.state == State.ASK_NEED
    chat.press("Scuola")
    assert chat.state == State.RESULTS
    assert chat.services == ["cinisello-scuola"]
    assert "Servizio di integrazione scolastica – Ambito di Cinisello Balsamo" in chat.text
    assert "Va bene per te: Bresso, 6-14 anni, Scuola." in chat.text
    # No contact of its own is published: the card says so and gives the cooperative's site.
    assert "Non abbiamo contatti pubblici" in chat.text
    assert "https://www.progettointegrazione.org" in chat.text
    assert "Orari: non pubblicati." in chat.text


def test_one_sentence_fills_all_three_slots(chat: Chat):
    chat.start()
    chat.say("abito a Bresso, mio figlio ha 9 anni e non parla italiano a scuola")
    assert chat.state == State.RESULTS
    assert "Ho capito: Bresso, 6-14 anni, Scuola." in chat.text
    assert chat.services == ["cinisello-scuola"]


def test_a_first_message_without_start_is_greeted_and_understood(chat: Chat):
    chat.say("Abito a Paderno Dugnano e ho bisogno del permesso di soggiorno, ho 35 anni")
    assert "Progetto Integrazione" in chat.replies[0].text
    assert chat.state == State.RESULTS
    assert chat.services == ["paderno-sportello"]
    # The comune's page warns that its hours changed in June 2023: the card leads with
    # "call first", then gives the old hours as old.
    card = chat.card("Sportello immigrazione – Paderno Dugnano")
    assert card.startswith("Informazioni di giugno 2023. Telefona prima di andare: 02 91004 319.")
    assert "E-mail: immigrazione@comune.paderno-dugnano.mi.it" in card
    assert "Orari del 2023, forse cambiati:\n• Sportello: lunedì e giovedì 09:00–12:15 — solo su appuntamento" in card
    assert "Aperto" not in card and "Apre " not in card


def test_a_hello_as_first_message_just_gets_the_first_question(chat: Chat):
    chat.say("Ciao")
    assert chat.state == State.ASK_COMUNE
    assert "Non trovo" not in chat.text


def test_slots_can_come_in_any_order(chat: Chat):
    chat.start()
    chat.say("Ho bisogno di un lavoro")
    assert chat.state == State.ASK_COMUNE
    chat.say("ho 25 anni")
    assert chat.state == State.ASK_COMUNE
    chat.say("Milano")
    assert chat.state == State.RESULTS
    # What surely runs comes first; GeCo (started December 2023, end not found) says its doubt.
    assert chat.services == ["milano-welcome-center", "geco"]
    assert "https://geco-connessioni.it/" in chat.text
    geco = chat.replies[-1].sections[2]
    assert geco.title.startswith("GeCo") and geco.body.startswith("Questo servizio potrebbe non essere più attivo.")


def test_ukrainian_in_sesto_san_giovanni_gets_the_ukrainian_line(chat: Chat):
    chat.start()
    chat.say("Sesto San Giovanni")
    chat.press("31 anni o più")
    chat.press("Aiuto per chi viene dall'Ucraina")
    assert "milano-aiuta-ucraina" in chat.services
    assert "Telefono: 020205" in chat.text


def test_bergamo_is_told_plainly_it_is_outside_and_still_gets_a_contact(chat: Chat):
    chat.start()
    chat.say("Bergamo")
    assert "Bergamo è fuori dalla zona" in chat.text
    assert chat.services == ["progetto-integrazione", "arci-numero-verde"]
    assert "https://www.progettointegrazione.org" in chat.text
    # And a pointer that helps anywhere in Italy.
    assert "In tutta Italia c'è anche questo aiuto:" in chat.text and "800 905 570" in chat.text
    assert chat.state == State.ASK_COMUNE  # and the conversation goes on


def test_a_place_elsewhere_in_italy_is_named_in_the_answer(chat: Chat):
    chat.start()
    chat.say("Torino")
    assert "Torino è fuori dalla zona" in chat.text
    assert chat.state == State.ASK_COMUNE


def test_abbiategrasso_is_itself_not_a_covered_comune_and_the_cooperative_works_there(chat: Chat):
    chat.start()
    chat.say("Abbiategrasso")  # province of Milan: "Milano e provincia" on the cooperative's page
    assert chat.session.comune == "015002" and chat.state == State.ASK_AGE
    chat.say("30")
    chat.press("Lavoro e formazione")
    assert "La cooperativa lavora ad Abbiategrasso. Qui non conosco un suo servizio" in chat.text
    assert "fuori dalla zona" not in chat.text
    assert "progetto-integrazione" in chat.services


def test_ukrainian_speaker_in_the_province_gets_the_ukrainian_line_with_its_doubt(chat: Chat):
    chat.start("ua")
    chat.say("Abbiategrasso")  # province of Milan: the line serves the metropolitan area
    chat.say("35")
    assert "milano-aiuta-ucraina" in chat.services
    assert "020205" in chat.text


def test_ambiguous_comune_gets_a_short_choice(chat: Chat):
    chat.start()
    chat.say("Paderno")
    assert chat.state == State.CHOOSE_COMUNE
    labels = [b.label for b in chat.buttons]
    assert labels[0] == "Paderno Dugnano (MI)"
    assert "Paderno d'Adda (LC)" in labels
    chat.press("Paderno Dugnano (MI)")
    assert chat.state == State.ASK_AGE


def test_typo_in_comune_still_matches(chat: Chat):
    chat.start()
    chat.say("Cinisselo")
    assert chat.state == State.ASK_AGE
    assert chat.session.comune == "015077"


def test_uncertain_typo_is_confirmed_with_one_tap(chat: Chat):
    chat.start()
    chat.say("Bressp")
    assert chat.state == State.CHOOSE_COMUNE
    assert "Intendi questo comune?" in chat.text
    chat.press("Bresso (MI)")
    assert chat.state == State.ASK_AGE and chat.session.comune == "015032"


def test_unknown_comune_gets_a_kind_retry_quoting_the_text(chat: Chat):
    chat.start()
    chat.say("Xyzzyville")
    assert "Non trovo il comune «Xyzzyville»" in chat.text
    assert chat.state == State.ASK_COMUNE


def test_ended_service_is_never_offered_for_any_combination(res, chat: Chat):
    kb = res.kb
    comuni = [kb.comuni[c] for c in ("015032", "015086", "015077", "015209", "015081", "015166", "108023")]
    for comune, age, need in itertools.product(comuni, kb.ages, kb.needs):
        found = {s.id for s in choose_services(kb, Query(comune, age, need), TODAY)}
        assert not found & {"a-scuola-dopo-la-scuola", "sesto-scuola", "cologno-scuola", "r-estate-insieme",
                            "desio-scuola", "precarieta-abitativa"}


def test_a_service_is_offered_until_its_last_day_and_not_after(chat: Chat):
    # a-scuola-dopo-la-scuola ran from September 2023 to June 2024 in Bresso and Cormano.
    for day, offered in ((date(2024, 6, 30), True), (date(2024, 7, 1), False)):
        chat = Chat(chat.res, today=day)
        chat.start()
        chat.say("Cormano, 10 anni, doposcuola")
        assert ("a-scuola-dopo-la-scuola" in chat.services) is offered


def test_no_match_offers_alternatives_never_a_dead_end(chat: Chat):
    chat.start()
    chat.say("Sesto San Giovanni")
    chat.press("6-14 anni")
    chat.press("Scuola")  # Sesto's school service ended in 2022
    assert "Non ho trovato un servizio per: Scuola, 6-14 anni, a Sesto San Giovanni." in chat.text
    assert "progetto-integrazione" in chat.services
    labels = [b.label for b in chat.buttons]
    assert "Aiuto per chi viene dall'Ucraina" in labels  # what is served there instead
    chat.press("Aiuto per chi viene dall'Ucraina")
    assert chat.services == ["milano-aiuta-ucraina"]


def test_every_alternative_offered_leads_to_a_service(res):
    """Wherever nothing fits, each need offered instead has a service for that comune,
    Municipio and age (Milano Municipio 4, after-school help, used to lead nowhere again)."""
    kb = res.kb
    milano = kb.municipi_of
    places = [(c, None) for c in sorted(kb.covered | kb.works_in) if c != milano][:60]
    places += [(milano, m) for m in kb.municipi]
    checked = 0
    for (code, municipio), age in itertools.product(places, kb.ages):
        for need in offered_needs(kb, TODAY):
            session = Session(state=State.RESULTS, lang="it", comune=code, age=age, need=need, municipio=municipio,
                              filled=("comune", "age", "need"))
            _, replies, _ = step(session, Resume(), res, TODAY)
            for button in replies[-1].buttons:
                if button.id.startswith("n:"):
                    checked += 1
                    _, more, _ = step(session, Press(button.id), res, TODAY)
                    assert more[-1].state in (State.RESULTS, State.ASK_MUNICIPIO), (code, age, need, button.id)
                    if more[-1].state == State.RESULTS:
                        assert not more[-1].text.startswith("Non ho trovato"), (code, municipio, age, button.id)
    assert checked


def test_milan_asks_the_municipio_when_a_service_serves_only_some(chat: Chat):
    chat.start()
    chat.say("Milano, mia figlia ha 7 anni, scuola")
    assert chat.state == State.ASK_MUNICIPIO
    chat.press("Municipio 5")
    assert chat.state == State.RESULTS
    assert "poli-start" not in chat.services and "qubi" not in chat.services
    chat.command("back")
    chat.press("Municipio 2")
    assert chat.services == ["poli-start"]
    chat.command("back")
    chat.press("Non lo so")
    assert "solo Municipi 1, 2, 3, 8, 9" in chat.text


def test_back_undoes_the_last_answer(chat: Chat):
    chat.start()
    chat.say("Monza")
    chat.say("40")
    assert chat.state == State.ASK_NEED
    chat.command("back")
    assert chat.state == State.ASK_AGE
    assert chat.session.age is None and chat.session.comune == "108033"
    chat.command("back")
    assert chat.state == State.ASK_COMUNE
    chat.command("back")
    assert "Sei già alla prima domanda." in chat.text


def test_restart_keeps_the_language_and_forgets_the_answers(chat: Chat):
    chat.start("len")
    chat.say("Monza")
    chat.command("restart")
    assert chat.session.comune is None
    assert chat.session.lang == "en"
    assert chat.state == State.ASK_COMUNE


def test_start_is_always_a_fresh_start(chat: Chat):
    chat.start()
    chat.say("Monza")
    chat.start()
    assert chat.session.comune is None and chat.state == State.ASK_COMUNE


def test_forget_erases_the_session(chat: Chat):
    chat.start()
    chat.say("Monza")
    chat.command("forget")
    assert chat.forgotten
    assert "Ho cancellato tutti i tuoi dati" in chat.text


def test_help_explains_and_repeats_the_question(chat: Chat):
    chat.start()
    chat.command("help")
    assert "/restart" in chat.text and "/forget" in chat.text
    assert chat.replies[-1].text.startswith("In quale comune abiti?")


def test_unknown_command_is_answered_kindly(chat: Chat):
    chat.start()
    chat.command("pizza")
    assert "Non conosco questo comando" in chat.text
    assert chat.state == State.ASK_COMUNE


def test_deep_link_presets_comune_and_need(chat: Chat):
    chat.start("c015077_nschool")
    assert chat.state == State.ASK_AGE
    chat.press("6-14 anni")
    assert chat.services == ["cinisello-scuola"]


def test_deep_link_to_one_service_shows_it_first(chat: Chat):
    chat.start("spaderno-sportello")
    assert chat.state == State.SHOW_SERVICE
    assert chat.services == ["paderno-sportello"]
    chat.press("Cerca altri servizi")
    assert chat.state == State.ASK_COMUNE


def test_deep_link_to_an_ended_service_says_so_and_goes_on(chat: Chat):
    chat.start("sa-scuola-dopo-la-scuola")
    assert "è finito e non è più attivo" in chat.text
    assert chat.state == State.ASK_COMUNE
    assert "a-scuola-dopo-la-scuola" not in chat.services


@pytest.mark.parametrize("payload", ["", "zzz", "c999999", "n../../etc", "x" * 200, "💥", "l" + "a" * 70])
def test_tampered_deep_link_starts_a_normal_dialog(chat: Chat, payload: str):
    chat.start(payload)
    assert chat.state == State.ASK_COMUNE


def test_stale_button_gets_the_current_question(chat: Chat):
    chat.start()
    chat.say("Monza")
    chat.send(Press("c:015146"))  # a comune button from the first question, pressed late
    assert "Questo menu non vale più" in chat.text
    assert chat.session.comune == "108033"
    assert chat.state == State.ASK_AGE


def test_sticker_voice_photo_get_a_kind_reply_and_the_question(chat: Chat):
    chat.start()
    for kind in ("sticker", "voice", "photo"):
        chat.send(Other(kind))
        assert "Non posso leggere foto, audio o adesivi" in chat.text
        assert chat.state == State.ASK_COMUNE


def test_location_inside_the_area_fills_the_comune(chat: Chat):
    chat.start()
    chat.send(Location(45.5376, 9.1890))  # Bresso
    assert "Dalla posizione: Bresso." in chat.text
    assert chat.state == State.ASK_AGE


def test_location_far_away_is_outside(chat: Chat):
    chat.start()
    chat.send(Location(41.9028, 12.4964))  # Rome
    assert "fuori dalla zona" in chat.text
    assert chat.state == State.ASK_COMUNE


def test_typed_button_label_presses_it(chat: Chat):
    chat.start()
    chat.say("Monza")
    chat.say("18-30 anni")
    assert chat.session.age == "18-30"


def test_resume_repeats_the_current_question(res):
    session = Session(state=State.ASK_AGE, lang="it", comune="108033", filled=("comune",))
    new, replies, _ = step(session, Resume(), res, TODAY)
    assert new.comune == "108033"
    assert replies[-1].state == State.ASK_AGE
    assert "Quanti anni" in replies[-1].text


def test_language_menu_names_each_language_in_itself(chat: Chat):
    chat.start()
    chat.command("language")
    labels = [b.label for b in chat.buttons]
    assert {"Italiano", "English", "Українська"} <= set(labels)
    chat.press("English")
    assert chat.session.lang == "en" and chat.session.lang_source == "user"
    assert chat.state == State.ASK_COMUNE
    # An explicit choice is kept even if the user then writes in another language.
    chat.say("Ciao, abito a Monza")
    assert chat.session.lang == "en"


def test_replies_carry_language_and_state(chat: Chat):
    chat.start()
    assert all(r.lang == "it" and r.state == "ask_comune" for r in chat.replies)


def test_session_survives_serialisation(res):
    chat = Chat(res)
    chat.start()
    chat.say("Milano, 7 anni, scuola")
    restored = Session.from_dict(chat.session.to_dict())
    assert restored == chat.session
    # Unknown fields from another version are ignored, not fatal.
    assert Session.from_dict({**chat.session.to_dict(), "future": 1}) == chat.session


def test_a_need_no_active_service_answers_is_not_a_button_and_typed_gets_an_honest_answer(res):
    session = replace(Session(), state=State.RESULTS, lang="it", comune="015032", age="6-14", need="school",
                      filled=("comune", "age", "need"))
    _, replies, _ = step(session, Resume(), res, TODAY)
    assert "n:housing" not in {b.id for r in replies for b in r.buttons}
    new, replies, _ = step(session, Text("casa"), res, TODAY)
    text = "\n\n".join(r.text for r in replies)
    assert "Per ora non conosco un servizio attivo per: Casa." in text
    assert "servizi sociali del tuo Comune" in text and "800 905 570" in text  # the safety net
    assert new.need == "school" and replies[-1].state == State.RESULTS  # and the dialog goes on


def test_a_session_saved_with_an_age_group_that_no_longer_exists_asks_the_age_again(res):
    """Age groups were 6-13 and 14-17 before scuola media counted up to 14: a stored session
    with the old id is not a crash, it is the age question again."""
    session = Session(state=State.RESULTS, lang="it", comune="015032", age="6-13", need="school",
                      filled=("comune", "age", "need"))
    new, replies, _ = step(session, Resume(), res, TODAY)
    assert new.age is None and new.comune == "015032" and new.need == "school"
    assert replies[-1].state == State.ASK_AGE


def test_italian_articles_before_a_vowel(chat: Chat):
    chat.start()
    chat.say("Arcore")
    chat.say("30")
    chat.press("Documenti e permesso di soggiorno")
    assert "ad Arcore" in chat.text and " a Arcore" not in chat.text


def test_an_impossible_age_is_asked_again(chat: Chat):
    chat.start()
    chat.say("Bresso")
    chat.say("150")
    assert chat.state == State.ASK_AGE and chat.session.age is None
    assert "Non ho capito l'età" in chat.text
    chat.say("15")
    assert chat.session.age == "15-17"
