"""Reading free text: comuni with typos and in other scripts, ages in any script, needs."""

from __future__ import annotations

import pytest

from bot.understanding import Understanding


@pytest.fixture(scope="module")
def nlu(res) -> Understanding:
    return res.nlu


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Bresso", "Bresso"),
        ("bresso", "Bresso"),
        ("Cinisselo", "Cinisello Balsamo"),
        ("Cinisello", "Cinisello Balsamo"),
        ("Sesto S. Giovanni", "Sesto San Giovanni"),
        ("sesto s giovanni", "Sesto San Giovanni"),
        ("Padern Dugnano", "Paderno Dugnano"),
        ("Монца", "Monza"),
        ("Сесто Сан Джованні", "Sesto San Giovanni"),  # by how it sounds: one clear best match
        ("Мілан", "Milano"),
        ("ميلانو", "Milano"),
        ("Milan", "Milano"),
        ("Cusano Milano", "Cusano Milanino"),  # the seed's spelling
        ("Muggio", "Muggiò"),
        ("BOVISIO MASCIAGO", "Bovisio-Masciago"),
        ("Cologno Monzes", "Cologno Monzese"),
        ("Bergamo", "Bergamo"),  # a real place outside the area stays itself
        ("Abbiategrasso", "Abbiategrasso"),
        ("Brescia", "Brescia"),
    ],
)
def test_comune_answer_is_found_despite_typos_case_and_script(nlu, text, name):
    match = nlu.find_comune(text, expecting=True)
    assert match.kind == "found", (text, match)
    assert match.comune.name == name


@pytest.mark.parametrize(
    ("text", "first", "also"),
    [
        ("Paderno", "Paderno Dugnano", "Paderno d'Adda"),
        ("Sesto", "Sesto San Giovanni", "Sesto Calende"),
        ("Cologno", "Cologno Monzese", "Cologno al Serio"),
    ],
)
def test_ambiguous_short_name_offers_covered_comune_first(nlu, text, first, also):
    match = nlu.find_comune(text, expecting=True)
    assert match.kind == "ambiguous"
    names = [c.name for c in match.comuni]
    assert names[0] == first and also in names


@pytest.mark.parametrize("name", ["Torino", "Roma", "Napoli", "Bolzano", "Palermo"])
def test_a_comune_elsewhere_in_italy_is_itself_not_a_lombard_look_alike(nlu, name):
    match = nlu.find_comune(name, expecting=True)
    assert match.kind == "found" and match.comune.name == name and match.comune.region != "Lombardia"


def test_out_of_area_comune_is_never_pulled_to_a_covered_one(nlu):
    for text in ("Bergamo", "Abbiategrasso", "Lodi", "Pavia", "Varese", "Como"):
        match = nlu.find_comune(text, expecting=True)
        assert match.kind == "found" and match.comune.name == text
        assert not nlu.is_covered(match.comune)


@pytest.mark.parametrize(
    ("sentence", "name"),
    [
        ("abito a Bresso, mio figlio ha 9 anni e non parla italiano a scuola", "Bresso"),
        ("vivo a sesto san giovanni con i miei figli", "Sesto San Giovanni"),
        ("I live in Milan with my son", "Milano"),
        ("Я живу в Монца", "Monza"),
        ("abito a cinisselo balsamo", "Cinisello Balsamo"),
    ],
)
def test_comune_inside_a_sentence(nlu, sentence, name):
    match = nlu.find_comune(sentence)
    assert match.kind == "found" and match.comune.name == name


@pytest.mark.parametrize(
    "sentence",
    ["torno a casa da un mese", "come stai?", "mio figlio gioca a calcio", "ho trovato lavoro", "grazie mille"],
)
def test_everyday_words_are_not_taken_for_comuni(nlu, sentence):
    assert nlu.find_comune(sentence).kind == "none"


@pytest.mark.parametrize(("text", "name"), [("Bressp", "Bresso"), ("Bolat", "Bollate")])
def test_a_close_but_uncertain_answer_is_suggested(nlu, text, name):
    match = nlu.find_comune(text, expecting=True)
    assert match.kind == "suggested" and match.comune.name == name


@pytest.mark.parametrize("greeting", ["Hello", "Ciao", "Привіт", "Salve", "Buongiorno", "figlio", "papa"])
def test_greetings_are_not_comuni(nlu, greeting):
    assert nlu.find_comune(greeting, expecting=True).kind == "none"


def test_a_lone_everyday_word_answering_the_question_is_the_comune(nlu):
    assert nlu.find_comune("Opera", expecting=True).comune.name == "Opera"


def test_too_common_first_word_asks_for_the_full_name(nlu):
    assert nlu.find_comune("Villa", expecting=True).kind == "too-many"


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("9", 9),
        ("٣٥", 35),  # Arabic-Indic digits
        ("৩৫", 35),  # Bengali digits
        ("３５", 35),  # full-width
        ("nove", 9),
        ("trentacinque", 35),
        ("ventuno", 21),
        ("thirty five", 35),
        ("thirty-five", 35),
        ("дев'ять", 9),
        ("тридцять п'ять", 35),
        ("6 mesi", 0),
        ("8 months", 0),
    ],
)
def test_age_typed_in_any_script_or_in_words(nlu, text, years):
    assert nlu.find_ages(text, expecting=True) == [years]


def test_age_inside_a_sentence_needs_its_unit(nlu):
    assert nlu.find_ages("mio figlio ha 9 anni") == [9]
    assert nlu.find_ages("my son is 12 years old") == [12]
    assert nlu.find_ages("моєму сину 7 років") == [7]
    assert nlu.find_ages("abito in via Roma 12") == []  # a house number is not an age


@pytest.mark.parametrize("text", ["150", "150 anni", "1990", "3331234567", "999 years"])
def test_an_age_nobody_has_is_not_read_as_one(nlu, text):
    assert nlu.find_ages(text, expecting=True) == []


def test_the_oldest_plausible_age_is_still_an_age(nlu):
    assert nlu.find_ages("110", expecting=True) == [110] and nlu.find_ages("mia nonna ha 98 anni") == [98]


@pytest.mark.parametrize(
    ("years", "group"), [(0, "0-5"), (5, "0-5"), (6, "6-14"), (14, "6-14"), (15, "15-17"), (30, "18-30"), (31, "31+")]
)
def test_age_groups_have_no_gaps(nlu, years, group):
    assert nlu.age_group(years) == group


@pytest.mark.parametrize(
    ("text", "need"),
    [
        ("mio figlio non parla italiano a scuola", "school"),
        ("devo rinnovare il permesso di soggiorno", "documents"),
        ("voglio portare la famiglia in Italia, ricongiungimento", "family-reunification"),
        ("Привіт, я з України", "ukraine"),
        ("I need a job", "work"),
        ("cerco un corso di italiano", "italian-course"),
        ("non ho una casa", "housing"),
        ("scula", "school"),  # a typo
        ("мені потрібні документи", "documents"),
        ("mio figlio è autistico", "disability"),
    ],
)
def test_need_in_own_words(nlu, text, need):
    assert nlu.find_needs(text, expecting=True)[0] == need


def test_municipio(nlu):
    assert nlu.find_municipio("abito nel municipio 3") == 3
    assert nlu.find_municipio("3", expecting=True) == 3
    assert nlu.find_municipio("12", expecting=True) is None


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Привіт, я з України", "uk"),
        ("Ciao, abito a Milano con mio figlio", "it"),
        ("Hello, I live in Milan and I need help", "en"),
        ("Bresso", None),  # a bare name says nothing about the language
        ("👍", None),
    ],
)
def test_language_of_a_message(nlu, text, lang):
    assert nlu.detect_language(text) == lang


def test_nearest_comune_of_a_location(nlu):
    assert nlu.nearest_comune(45.5582, 9.2150).name == "Cinisello Balsamo"
    assert nlu.nearest_comune(48.8566, 2.3522) is None  # Paris
