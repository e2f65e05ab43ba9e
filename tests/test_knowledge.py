"""The knowledge base: complete, true to its sources, and loud about malformed data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.knowledge import KnowledgeError, load
from tests.conftest import edit

SHARED = ROOT.parent / "shared"
SERVICE_FILES = sorted((ROOT / "knowledge" / "services").glob("*.yaml"))


def test_every_service_file_is_loaded_with_dated_sources(res):
    """One service per file; every one names its sources, each with the date it states."""
    kb = res.kb
    assert set(kb.services) == {p.stem for p in SERVICE_FILES}
    for s in (*kb.services.values(), *kb.lines.values()):
        assert s.sources and s.verified, s.id
        assert all(src.title for src in s.sources), s.id


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _plain_words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.casefold()))


def test_no_phone_email_address_or_hour_that_no_source_quotes(res):
    """The truth test, on every clone: each contact and hour is in the words its sources quote
    (kept in the repository, not beside it)."""
    checked = 0
    for s in (*res.kb.services.values(), *res.kb.lines.values()):
        quotes = " ".join(src.quote for src in s.sources)
        for c in s.contacts:
            checked += 1
            if c.kind == "phone":
                number = _digits(c.value)
                assert number in _digits(quotes) or number[2:] in _digits(quotes), (s.id, c.value)
            elif c.kind == "email":
                assert c.value.casefold() in quotes.casefold(), (s.id, c.value)
            elif c.kind == "address":
                assert _plain_words(c.value) <= _plain_words(quotes), (s.id, c.value)
            else:
                site = c.value.split("//")[-1].removeprefix("www.").rstrip("/")
                assert site in quotes or any(site in (src.url or "") for src in s.sources), (s.id, c.value)
        for block in s.hours.blocks:
            for slot in block.slots:
                checked += 1
                for moment in (slot.start, slot.end):
                    h, m = moment.hour, moment.minute
                    said = {f"{h}", f"{h}.{m:02d}", f"{h}:{m:02d}"}
                    assert any(re.search(rf"(?<![\d.:]){re.escape(x)}(?![\d])", quotes) for x in said), (s.id, moment)
    assert checked > 20


@pytest.mark.skipif(not (SHARED / "seed").exists(), reason="shared/seed is not beside the repository")
def test_quotes_of_the_cooperatives_page_are_its_own_words(res):
    seed = " ".join("".join(p.read_text() for p in (SHARED / "seed").glob("*.txt")).split())
    seed = seed.replace("•", "")
    for s in res.kb.services.values():
        for src in s.sources:
            if "shared/seed" in src.title and src.quote:
                for piece in src.quote.split("[...]"):
                    piece = " ".join(piece.replace("•", "").split()).strip(" .,:")
                    words = piece.split()
                    # Lists on the page are bullets; a quote joins them with commas.
                    pattern = r"[\s,:.]*".join(re.escape(w.strip(",:.")) for w in words if w.strip(",:."))
                    assert re.search(pattern, seed), (s.id, piece[:60])


def test_gazetteer_holds_every_comune_of_lombardy(res):
    assert len(res.kb.comuni) == 1502
    assert res.kb.comuni["015146"].name == "Milano"
    assert (ROOT / "knowledge" / "gazetteer" / "CREDITS.md").read_text().count("ISTAT") >= 1


def test_periods_from_the_seed(res):
    s = res.kb.services
    assert str(s["sesto-scuola"].valid_until) == "2022-08-31"  # AS 2019-2022
    assert str(s["cologno-scuola"].valid_until) == "2024-08-31"  # AS 2019-2024
    assert str(s["a-scuola-dopo-la-scuola"].valid_until) == "2024-06-30"
    assert str(s["desio-scuola"].valid_until) == "2026-08-31"  # AS 2023-2026


_edit = edit


def _errors(root: Path) -> str:
    with pytest.raises(KnowledgeError) as info:
        load(root)
    return str(info.value)


def test_unknown_need_names_file_entry_and_field(kb_copy: Path):
    _edit(kb_copy / "services" / "geco.yaml", "needs: [work]", "needs: [wrok]")
    message = _errors(kb_copy)
    assert "services/geco.yaml: entry 'geco', field 'needs': 'wrok' is not a need" in message


def test_bad_time_names_the_slot(kb_copy: Path):
    _edit(kb_copy / "services" / "paderno-sportello.yaml", 'to: "12:15"', 'to: "25:15"')
    message = _errors(kb_copy)
    assert "entry 'paderno-sportello', field 'hours.blocks[1].slots[1].to'" in message


def test_unknown_comune_is_an_error(kb_copy: Path):
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", "comuni: [Segrate]", "comuni: [Segrat]")
    assert "field 'area.comuni': 'Segrat' is not a comune of Lombardy" in _errors(kb_copy)


def test_broken_yaml_names_the_line(kb_copy: Path):
    (kb_copy / "services" / "qubi.yaml").write_text("id: qubi\nname: [unclosed\n")
    message = _errors(kb_copy)
    assert "services/qubi.yaml: is not valid YAML at line" in message


def test_missing_source_and_date_are_errors(kb_copy: Path):
    path = kb_copy / "services" / "pilot.yaml"
    text = path.read_text()
    text = re.sub(r"sources:\n(  .*\n)+", "", text).replace("verified: 2026-12-01\n", "")
    path.write_text(text)
    message = _errors(kb_copy)
    assert "entry 'pilot', field 'sources'" in message
    assert "entry 'pilot', field 'verified'" in message


def test_invented_looking_phone_is_rejected(kb_copy: Path):
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", 'value: "371 45 31 825"', 'value: "call us"')
    assert "field 'contacts[1].value': 'call us' is not a phone number" in _errors(kb_copy)


def test_every_error_is_reported_at_once(kb_copy: Path):
    _edit(kb_copy / "services" / "geco.yaml", "ages: [18-30]", "ages: [18-35]")
    _edit(kb_copy / "services" / "qubi.yaml", "needs: [interpreting]", "needs: [interpretng]")
    message = _errors(kb_copy)
    assert "geco" in message and "qubi" in message


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_kb_check_is_clean_of_errors_on_the_shipped_data():
    result = _run("kb", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
    # Operators are told what needs a look.
    assert "services/desio-scuola.yaml: entry 'desio-scuola', field 'valid_until': ended on 2026-08-31" in result.stdout


def test_kb_check_and_chat_refuse_a_broken_knowledge_base_without_a_traceback(kb_copy: Path):
    import os

    _edit(kb_copy / "services" / "geco.yaml", "needs: [work]", "needs: [wrok]")
    env = {**os.environ, "BOT_KNOWLEDGE": str(kb_copy)}
    check = _run("kb", "check", env=env)
    assert check.returncode == 1
    assert "services/geco.yaml: entry 'geco', field 'needs'" in check.stdout
    chat = subprocess.run([sys.executable, "-m", "bot", "chat", "--db", str(kb_copy / "x.sqlite3")],
                          input="", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert chat.returncode == 1
    assert "field 'needs'" in chat.stderr
    assert "Traceback" not in chat.stderr


def test_kb_check_warns_of_untranslated_and_stale_entries(kb_copy: Path):
    import os

    _edit(kb_copy / "services" / "geco.yaml", "Ci sono corsi, laboratori e tirocini di lavoro.",
          "Ci sono corsi e tirocini.")
    env = {**os.environ, "BOT_KNOWLEDGE": str(kb_copy), "BOT_TODAY": "2028-01-10"}
    result = _run("kb", "check", env=env)
    assert result.returncode == 0
    assert "locales/uk/LC_MESSAGES/orienta.po: entry 'geco', field 'summary'" in result.stdout
    assert "not translated: 'Per giovani dai 18 ai 30 anni." in result.stdout
    assert "entry 'geco', field 'verified': last verified 2026-12-01, over 12 months ago" in result.stdout


def test_kb_check_warns_about_every_source_older_than_12_months(res):
    import os

    from bot.knowledge import is_stale
    from tests.conftest import TODAY

    result = _run("kb", "check", env={**os.environ, "BOT_TODAY": TODAY.isoformat()})
    old = [(s, j, src) for s in (*res.kb.services.values(), *res.kb.lines.values())
           for j, src in enumerate(s.sources, start=1) if is_stale(src.as_of, TODAY)]
    assert old
    for s, j, _ in old:
        assert f"{s.file}: entry '{s.id}', field 'sources[{j}].as_of'" in result.stdout, (s.id, j)
    # e.g. Segrate's page of August 2022:
    assert "Sportello Interculturale Omnibus», agosto 2022' is from 2022-08, over 12 months ago" in result.stdout


@pytest.mark.parametrize(("field", "old", "new"), [
    ("contacts[1].value", 'value: "371 45 31 825"', 'value: "371 45 31 826"'),
    ("contacts[2].value", "value: omnibus@comune.segrate.mi.it", "value: info@comune.segrate.mi.it"),
    ("hours.blocks[1].slots[1]", 'from: "09:00", to: "14:00"', 'from: "08:30", to: "14:00"'),
    ("hours.blocks[1].slots[1]", "days: [wed], from: \"09:00\"", "days: [thu], from: \"09:00\""),
])
def test_a_contact_or_hour_that_the_quote_does_not_give_is_an_error(kb_copy: Path, field, old, new):
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", old, new)
    message = _errors(kb_copy)
    assert f"services/omnibus-segrate.yaml: entry 'omnibus-segrate', field '{field}'" in message
    assert "is not in the quote of any source" in message


def test_an_address_absent_from_the_quote_is_an_error(kb_copy: Path):
    _edit(kb_copy / "services" / "milano-welcome-center.yaml", "via Sammartini 75", "via Sammartini 57")
    assert "entry 'milano-welcome-center', field 'contacts[1].value': 'via Sammartini 57' is not in the quote" \
        in _errors(kb_copy)


def test_a_source_needs_the_date_it_states(kb_copy: Path):
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", "as_of: 2022-08", "as_of: 2022-13")
    assert "entry 'omnibus-segrate', field 'sources[1].as_of': '2022-13' is not a date" in _errors(kb_copy)
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", "    as_of: 2022-13\n", "")
    assert "field 'sources[1].as_of': is missing" in _errors(kb_copy)


def test_a_plain_string_source_is_refused_with_what_to_write(kb_copy: Path):
    path = kb_copy / "services" / "pilot.yaml"
    text = path.read_text()
    path.write_text(re.sub(r"sources:\n(  .*\n)+", 'sources: ["the seed"]\n', text))
    assert "entry 'pilot', field 'sources[1]': must be a mapping {title, url, as_of, quote}" in _errors(kb_copy)


@pytest.mark.parametrize(("text", "days"), [
    ("dal lunedì al venerdì dalle 9 alle 18", {0, 1, 2, 3, 4}),
    ("da lunedì al sabato dalle ore 8.00", {0, 1, 2, 3, 4, 5}),
    ("lunedì–venerdì 9-17", {0, 1, 2, 3, 4}),
    ("Monday to Friday", {0, 1, 2, 3, 4}),
    ("lunedì e giovedì, dalle 9.00 alle 12.15", {0, 3}),
    ("il mercoledì dalle 9 alle 14", {2}),
])
def test_day_ranges_are_read_as_people_write_them(text, days):
    from bot.knowledge.truth import days_named

    assert days_named(text) == days


def test_a_words_file_naming_an_unknown_need_is_refused_with_file_and_field(kb_copy: Path):
    import os

    _edit(kb_copy / "words" / "en.yaml", "  school: [", "  shcool: [")
    result = _run("kb", "check", env={**os.environ, "BOT_KNOWLEDGE": str(kb_copy)})
    assert result.returncode == 1
    assert "words/en.yaml: entry 'en', field 'needs.shcool': is not a need of needs.yaml" in result.stdout
