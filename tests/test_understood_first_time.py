"""Understood the first time (issue 12): every message quoted there gets the right reading.

Ages anywhere in a sentence and in every language's words, families with several children,
places written in other scripts, needs in everyday words, an answer given before it is asked,
and the language kept, switched or named honestly when the bot does not speak it yet.
"""

from __future__ import annotations

import pytest

from bot.dialogs import texts as T
from bot.dialogs.context import State
from bot.dialogs.model import Location
from tests.conftest import Chat

# ------------------------------------------------------------------ ages


@pytest.mark.parametrize(("text", "ages"), [
    ("Hello, I'm 24 and I need a job in Monza", [24]),
    ("hi im 28, looking for work", [28]),
    ("my daughter is 16 and she has problems at school", [16]),
    ("we live in Bresso and my son is 9", [9]),
    ("ho 29 anni e cerco lavoro", [29]),
    ("عمري خمسة و ثلاثون سنة", [35]),
    ("ma mère a soixante-dix ans", [70]),
    ("mon grand-père a quatre-vingts ans", [80]),
    ("ابني عمره أحد عشر سنة", [11]),
    ("আমার বয়স পঁয়ত্রিশ বছর", [35]),
    ("আমার ছেলের বয়স একুশ বছর", [21]),
])
def test_an_age_is_read_wherever_it_stands(res, text, ages):
    assert res.nlu.find_ages(text) == ages


@pytest.mark.parametrize("text", ["150", "1990", "3331234567"])
def test_an_age_nobody_has_is_asked_again(chat: Chat, text):
    chat.say("Bresso")
    chat.say(text)
    assert chat.state == State.ASK_AGE and chat.session.age is None


# ------------------------------------------------------------------ families


@pytest.mark.parametrize(("text", "ages"), [
    ("two kids, 6 and 11", [6, 11]),
    ("tre figli di 4, 9 e 15 anni", [4, 9, 15]),
    ("двое детей, 6 и 11 лет", [6, 11]),
])
def test_several_ages_in_one_message_are_all_kept(res, text, ages):
    assert res.nlu.find_ages(text) == ages


def test_the_results_say_which_service_is_for_which_child(chat: Chat, res):
    chat.say("abito a Bresso, ho tre figli di 4, 9 e 15 anni, problemi a scuola")
    assert chat.session.ages == ("0-5", "6-14", "15-17")
    tr = res.catalogs.get("it")
    text = chat.text
    for group in chat.session.ages:
        assert tr(T.FOR_AGE, age=tr(res.kb.ages[group].label)) in text
    assert "0-5 anni, 6-14 anni e 15-17 anni" in chat.replies[-2].text  # said back, all three


def test_a_family_of_one_age_group_gets_the_usual_results(chat: Chat):
    chat.say("Bresso, due figli di 7 e 9 anni, scuola")
    assert chat.session.age == "6-14" and chat.session.ages == ()
    assert "Ecco cosa c'è per te" in chat.text


# ------------------------------------------------------------------ places


@pytest.mark.parametrize(("text", "name"), [
    ("سيستو سان جيوفاني", "Sesto San Giovanni"),
    ("مونزا", "Monza"),
    ("منزا", "Monza"),
    ("ব্রেসোতে", "Bresso"),
    ("мы живём в Сесто Сан Джованні, нужна работа", "Sesto San Giovanni"),
    ("普拉托", "Prato"),
    ("我住在Prato", "Prato"),
    ("Рим", "Roma"),
])
def test_a_place_in_another_script_is_one_clear_match(res, text, name):
    found = res.nlu.find_comune(text, expecting=True)
    assert found.kind == "found", found
    assert found.comune.name == name


@pytest.mark.parametrize(("text", "name"), [("普拉托", "Prato"), ("Рим", "Roma")])
def test_a_place_elsewhere_in_italy_is_said_to_be_outside(chat: Chat, res, text, name):
    chat.say(text)
    assert chat.session.comune is None
    assert res.catalogs.get(chat.session.lang)(T.OUTSIDE_AREA, comune=name) in chat.text


# ------------------------------------------------------------------ needs


@pytest.mark.parametrize(("text", "need"), [
    ("voglio portare mia moglie in Italia", "family-reunification"),
    ("ми втекли від війни", "ukraine"),
    ("потрібне житло", "housing"),
    ("رہائشی اجازت نامہ", "documents"),
])
def test_a_need_in_everyday_words_is_read(res, text, need):
    needs = res.nlu.find_needs(text)
    assert needs and needs[0] == need, needs


def test_learning_italian_at_school_for_a_child_is_school(chat: Chat):
    chat.say("Bresso")
    chat.say("help learning Italian at school for my son, he is 9")
    assert chat.session.age == "6-14" and chat.session.need == "school"


def test_a_typo_of_a_need_is_read_when_the_need_was_asked(chat: Chat):
    chat.say("Bresso")
    chat.say("40")
    chat.say("ricongiungimeto")
    assert chat.session.need == "family-reunification"


@pytest.mark.parametrize(("age", "need"), [("9", "school"), ("40", "italian-course")])
def test_not_speaking_italian_means_school_for_a_child_and_a_course_for_an_adult(chat: Chat, age, need):
    chat.say("Bresso")
    chat.say(age)
    chat.say("non parla italiano")
    assert chat.session.need == need


# ------------------------------------------------------------------ out of order


@pytest.mark.parametrize(("text", "group"), [("45", "31+"), ("9", "6-14")])
def test_an_age_while_towns_are_offered_is_the_age_and_the_choice_stays(chat: Chat, text, group):
    chat.say("Paderno")
    assert chat.state == State.CHOOSE_COMUNE
    chat.say(text)
    assert chat.session.age == group
    assert chat.state == State.CHOOSE_COMUNE  # still to choose the town
    assert "Non trovo" not in chat.text
    chat.press("Paderno Dugnano (MI)")
    assert chat.state == State.ASK_NEED


# ------------------------------------------------------------------ language


def test_a_french_family_stays_in_french_when_it_writes_an_italian_word(chat: Chat):
    chat.say("Bonjour, j'habite à Monza, mon fils a 8 ans")
    assert chat.session.lang == "fr"
    chat.say("il ne comprend pas la maîtresse")
    assert chat.session.lang == "fr"
    chat.say("la scuola media")
    assert chat.session.lang == "fr"


@pytest.mark.parametrize(("text", "lang"), [
    ("salam, mujhe madad chahiye", "ur"),
    ("naukri chahiye", "ur"),
    ("bghit nkhdem f Monza", "ar"),
])
def test_urdu_and_arabic_in_latin_letters_are_recognised(chat: Chat, text, lang):
    chat.say(text)
    assert chat.session.lang == lang


def test_roman_urdu_job_request_is_read_as_work(res):
    assert res.nlu.find_needs("naukri chahiye")[:1] == ["work"]


@pytest.mark.parametrize(("text", "code", "answer"), [
    ("سلام، من در میلانو زندگی میکنم و کمک میخواهم", "fa", "en"),
    ("سلام، مه در میلان استم، کار میخایم", "prs", "en"),
    ("ሰላም፣ እኔ ሚላኖ ውስጥ ነው የምኖረው፣ ስራ እፈልጋለሁ", "am", "en"),
    ("Waxaan ku nool ahay Milano, shaqo ayaan u baahanahay", "so", "en"),
    ("Olá, preciso de ajuda, moro em Monza", "pt", "es"),
    ("नमस्ते, मुझे मदद चाहिए", "hi", "en"),
    ("ਸਤ ਸ੍ਰੀ ਅਕਾਲ, ਮੈਨੂੰ ਮਦਦ ਚਾਹੀਦੀ ਹੈ", "pa", "en"),
    ("Salaam, dama begg ligeey ci Milano", "wo", "fr"),
])
def test_a_language_not_spoken_yet_is_named_and_answered_in_the_closest(chat: Chat, res, text, code, answer):
    chat.say(text)
    assert chat.session.lang == answer
    catalogs = res.catalogs
    notice = catalogs.get(answer)(T.NOT_SPOKEN_YET, language=catalogs.name_of(code, answer),
                                  other=catalogs.name_of(answer, answer))
    assert chat.replies[0].text == notice


def test_amharic_is_never_taken_for_tigrinya_and_tigrinya_stays_tigrinya(res):
    assert res.nlu.detect_language("ሰላም፣ እኔ ሚላኖ ውስጥ ነው የምኖረው፣ ስራ እፈልጋለሁ") == "am"
    assert res.nlu.detect_language("ሰላም ኣነ ኣብ ሚላኖ እየ ዝነብር ስራሕ ይደሊ") == "ti"
    assert res.nlu.detect_language("ሰላም") == "ti"


# ------------------------------------------------------------------ going back, and a shared location


def test_back_after_results_says_what_it_took_back(chat: Chat, res):
    chat.say("Bresso, 9 anni, scuola")
    assert chat.state == State.RESULTS
    chat.command("back")
    tr = res.catalogs.get("it")
    assert chat.replies[0].text == tr(T.BACK_UNDONE, what=tr(res.kb.needs["school"].label))
    assert chat.state == State.ASK_NEED
    assert chat.session.comune and chat.session.age == "6-14"  # the rest is kept


def test_a_location_outside_the_area_does_not_keep_the_old_town(chat: Chat):
    chat.say("Bresso")
    chat.send(Location(41.9, 12.5))  # Rome
    assert chat.session.comune is None
    assert chat.state == State.ASK_COMUNE
