"""The knowledge base: complete, true to its sources, and loud about malformed data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.knowledge import KnowledgeError, load

ISSUE_IDS = {
    "geco", "first-step-milan", "raggiungimi", "interpretariato-milano", "poli-start", "qubi",
    "milano-aiuta-ucraina", "cinisello-scuola", "cinisello-sportello", "a-scuola-dopo-la-scuola",
    "in-and-out", "sesto-scuola", "cologno-scuola", "precarieta-abitativa", "spazio-immigrazione",
    "paderno-scuola", "paderno-sportello", "r-estate-insieme", "desio-scuola", "pilot",
    "contaminiamoci-di-cultura", "servizi-al-centro-monza", "brugherio-villasanta",
    "omnibus-segrate", "progetto-integrazione",
}
NEEDS = ["school", "family-reunification", "ukraine", "housing", "documents", "interpreting", "work",
         "early-childhood", "after-school", "italian-course", "disability"]
SHARED = ROOT.parent / "shared"


def test_every_service_of_the_seed_is_there_with_sources_and_date(res):
    kb = res.kb
    assert set(kb.services) == ISSUE_IDS
    assert list(kb.needs) == NEEDS
    assert list(kb.ages) == ["0-5", "6-13", "14-17", "18-30", "31+"]
    for s in kb.services.values():
        assert s.sources and s.verified, s.id


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


@pytest.mark.skipif(not (SHARED / "FACTS.md").exists(), reason="shared/FACTS.md is not beside the repository")
def test_no_phone_or_email_that_no_source_gives(res):
    """Every phone number and e-mail in the knowledge base appears in FACTS.md or the seed."""
    sources = (SHARED / "FACTS.md").read_text() + "".join(p.read_text() for p in (SHARED / "seed").glob("*.txt"))
    digits_in_sources = re.sub(r"\D", "", sources)
    for s in res.kb.services.values():
        for c in s.contacts:
            if c.kind == "phone":
                assert re.sub(r"\D", "", c.value) in digits_in_sources, (s.id, c.value)
            if c.kind == "email":
                assert c.value.lower() in sources.lower(), (s.id, c.value)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


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
    text = re.sub(r"sources:\n(  - .*\n)+", "", text).replace("verified: 2026-11-25\n", "")
    path.write_text(text)
    message = _errors(kb_copy)
    assert "entry 'pilot', field 'sources'" in message
    assert "entry 'pilot', field 'verified'" in message


def test_invented_looking_phone_is_rejected(kb_copy: Path):
    _edit(kb_copy / "services" / "omnibus-segrate.yaml", 'value: "371 45 31 825"', 'value: "call us"')
    assert "field 'contacts[1].value': 'call us' is not a phone number" in _errors(kb_copy)


def test_every_error_is_reported_at_once(kb_copy: Path):
    _edit(kb_copy / "services" / "geco.yaml", "ages: [18-30]", "ages: [18-35]")
    _edit(kb_copy / "services" / "qubi.yaml", "needs: [school,", "needs: [scool,")
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
    assert "entry 'geco', field 'verified': last verified 2026-11-25, over 12 months ago" in result.stdout
