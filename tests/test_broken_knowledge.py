"""Broken copies of the knowledge base: each gives clear lines naming file, entry and field,
and the bot refuses to start (exit 1) — never a traceback, never a cascade into other files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.knowledge import KnowledgeError, load
from bot.understanding.words import load_words
from tests.conftest import edit

S = "services/"
# (file, text to find, its replacement or None to delete the file's content, what the error names)
BROKEN: list[tuple[str, str, str, str]] = [
    # dates that do not exist, and dates of the wrong kind
    (S + "geco.yaml", "verified: 2026-12-01", "verified: 2026-13-45", "field 'verified'"),
    (S + "geco.yaml", "verified: 2026-12-01", "verified: yesterday", "field 'verified'"),
    (S + "geco.yaml", "verified: 2026-12-01", "verified: [2026]", "field 'verified'"),
    (S + "desio-scuola.yaml", "valid_until: 2026-08-31", "valid_until: 2026-02-30", "field 'valid_until'"),
    (S + "desio-scuola.yaml", "valid_from: 2023-09-01", "valid_from: 2027-09-01", "field 'valid_until'"),
    (S + "omnibus-segrate.yaml", "as_of: 2022-08", "as_of: 2022-00", "field 'sources[1].as_of'"),
    (S + "omnibus-segrate.yaml", "as_of: 2022-08", "as_of: {year: 2022}", "field 'sources[1].as_of'"),
    # hours
    (S + "omnibus-segrate.yaml", "days: [wed], from: \"09:00\"", "days: 1, from: \"09:00\"",
     "hours.blocks[1].slots[1].days"),
    (S + "omnibus-segrate.yaml", "days: [wed], from: \"09:00\"", "days: [mercoledi], from: \"09:00\"", "slots[1].days"),
    (S + "omnibus-segrate.yaml", 'from: "09:00", to: "14:00"', 'from: "14:00", to: "09:00"', "slots[1].to"),
    (S + "omnibus-segrate.yaml", 'from: "09:00", to: "14:00"', 'from: "9", to: "14:00"', "slots[1].from"),
    (S + "omnibus-segrate.yaml", "status: to-confirm", "status: maybe", "field 'hours.status'"),
    (S + "omnibus-segrate.yaml", "  status: to-confirm", "  status: not-published", "field 'hours.status'"),
    (S + "omnibus-segrate.yaml", "      slots: [{days: [wed], from: \"09:00\", to: \"14:00\"}]",
     "      slots: {days: [wed]}", "hours.blocks[1]"),
    (S + "omnibus-segrate.yaml", "  blocks:", "  blocks: yes\n  old_blocks:", "hours"),
    (S + "geco.yaml", "hours: {status: not-published}", "hours: not-published", "field 'hours'"),
    (S + "geco.yaml", "hours: {status: not-published}", "hours: [not-published]", "field 'hours'"),
    # contacts
    (S + "omnibus-segrate.yaml", 'value: "371 45 31 825"', 'value: "call us"', "contacts[1].value"),
    (S + "omnibus-segrate.yaml", "{kind: email, value: omnibus@comune.segrate.mi.it}",
     "{kind: fax, value: omnibus@comune.segrate.mi.it}", "contacts[2].kind"),
    (S + "omnibus-segrate.yaml", "{kind: email, value: omnibus@comune.segrate.mi.it}", "just a string",
     "contacts[2]"),
    (S + "geco.yaml", "contacts:\n  - {kind: web", "contacts: web\nold_contacts:\n  - {kind: web", "field 'contacts'"),
    (S + "omnibus-segrate.yaml", 'value: "371 45 31 825"', 'value: "371 45 31 826"', "is not in the quote"),
    # sources
    (S + "pilot.yaml", "sources:\n", "sources: the seed\nold_sources:\n", "field 'sources'"),
    (S + "omnibus-segrate.yaml", "  - title: fuoridalcomune.it, «A Segrate è operativo lo Sportello Interculturale"
     " Omnibus», agosto 2022", "  - title: [1, 2]", "sources[1].title"),
    (S + "omnibus-segrate.yaml", "    quote: >-", "    quote: [1, 2]\n    old: >-", "sources[1].quote"),
    # fields of a service
    (S + "geco.yaml", "needs: [work]", "needs: [wrok]", "field 'needs'"),
    (S + "geco.yaml", "needs: [work]", "needs: work", "field 'needs'"),
    (S + "geco.yaml", "needs: [work]", "needs: {work: yes}", "field 'needs'"),
    (S + "geco.yaml", "ages: [18-30]", "ages: [18-35]", "field 'ages'"),
    (S + "geco.yaml", "ages: [18-30]", "ages: []", "field 'ages'"),
    (S + "geco.yaml", "id: geco", "id: gecco", "field 'id'"),
    (S + "geco.yaml", "id: geco", "id: [geco]", "field 'id'"),
    (S + "geco.yaml", "name: GeCo.", "name: 42\nold_name: GeCo.", "field 'name'"),
    (S + "geco.yaml", "summary: Per giovani", "summary: {a: b}\nold: Per giovani", "field 'summary'"),
    (S + "geco.yaml", "status: to-confirm", "status: ended", "field 'status'"),
    (S + "geco.yaml", "run_by:", "runby:", "field 'runby'"),
    (S + "geco.yaml", "needs: [work]", "needs: [work]\nneeds: [school]", "written twice"),
    (S + "qubi.yaml", "municipi: [2, 3]", "municipi: [1, two]", "field 'area.municipi'"),
    (S + "qubi.yaml", "municipi: [2, 3]", "municipi: [2, 30]", "field 'area.municipi'"),
    (S + "qubi.yaml", "area: {comuni: [Milano], municipi: [2, 3]}", "area: Milano", "field 'area'"),
    (S + "geco.yaml", "area: {comuni: [Milano]}", "area: {comuni: [Milan0]}", "field 'area.comuni'"),
    (S + "geco.yaml", "area: {comuni: [Milano]}", "area: {comuni: Milano}", "field 'area.comuni'"),
    (S + "geco.yaml", "area: {comuni: [Milano]}", "area: {provinces: [XX]}", "field 'area.provinces'"),
    (S + "cinisello-scuola.yaml", "area: {ambiti: [cinisello]}", "area: {ambiti: [cinisell0]}", "field 'area.ambiti'"),
    (S + "geco.yaml", "id: geco", "- id: geco", "services/geco.yaml"),
    (S + "geco.yaml", "id: geco", "", "services/geco.yaml"),
    (S + "geco.yaml", "name: GeCo.", "name: [unclosed\nx: GeCo.", "is not valid YAML at line"),
    # needs, ages, areas, safety, audiences, words
    ("needs.yaml", "needs:", "needs: school\nold_needs:", "needs.yaml"),
    ("needs.yaml", "  - id: school\n    label: Scuola", "  - school", "needs.yaml"),
    ("needs.yaml", "  - id: school\n    label: Scuola", "  - id: school\n    label: [Scuola]", "field 'label'"),
    ("needs.yaml", "  - id: documents", "  - id: school", "field 'id'"),
    ("needs.yaml", "label: Casa\n    safety: homeless", "label: Casa\n    safety: roof", "field 'safety'"),
    ("needs.yaml", "needs:", "needs: [unclosed\nx:", "needs.yaml: is not valid YAML at line"),
    ("ages.yaml", '  - {id: "0-5", label: "0-5 anni", from: 0, to: 5}', '  - "0-5"', "ages.yaml"),
    ("ages.yaml", "groups:", "groups: {a: 1}\nold:", "ages.yaml"),
    ("ages.yaml", 'from: 0, to: 5}', 'from: zero, to: 5}', "ages.yaml"),
    ("areas.yaml", "ambiti:", "ambiti: cinisello\nold_ambiti:", "areas.yaml"),
    ("areas.yaml", "  - id: cinisello", "  - cinisello\n  - id: cinisello2", "areas.yaml"),
    ("areas.yaml", "  - id: sesto", "  - id: cinisello", "areas.yaml"),
    ("areas.yaml", "aliases:", "aliases: [Milan]\nold_aliases:", "field 'aliases'"),
    ("areas.yaml", "municipi: [1, 2, 3, 4, 5, 6, 7, 8, 9]", "municipi: []", "field 'municipi'"),
    ("areas.yaml", "municipi: [1, 2, 3, 4, 5, 6, 7, 8, 9]", "municipi: [one]", "areas.yaml"),
    ("areas.yaml", "menu: [Milano,", "menu: [Milan0,", "field 'menu'"),
    ("areas.yaml", "  Milano: {holidays: MI}", "  Milano: {holidays: ZZ}", "patron_days"),
    ("safety.yaml", "lines: [antiviolenza-1522, emergenza-112]", "lines: [antiviolenza-15222]", "field 'lines'"),
    ("safety.yaml", "outside: [arci-numero-verde]", "outside: arci", "field 'outside'"),
    ("audiences.yaml", "    need: ukraine", "    need: ukrain", "field 'need'"),
    ("audiences.yaml", "    payload: ua", "    payload: UA!", "field 'payload'"),
    ("words/en.yaml", "  school: [", "  shcool: [", "field 'needs.shcool'"),
    ("words/en.yaml", "needs:", "needs: [school]\nold_needs:", "words/en.yaml"),
    ("words/en.yaml", "ages:", "ages: [years]\nold_ages:", "words/en.yaml"),
    ("words/en.yaml", "units: {zero: 0,", "units: {zero: nothing,", "field 'numbers'"),
    ("words/it.yaml", "safety:", "safety: [medico]\nold_safety:", "words/it.yaml"),
    ("words/en.yaml", "tens: {twenty: 20,", "tens: {twenty: twenty,", "field 'numbers'"),
    ("words/en.yaml", "  before:", "  before: i m\n  old_before:", "field 'ages.before'"),
    ("needs.yaml", 'instead_of: {school: ["0-5"]}', 'instead_of: {school: ["0-6"]}', "field 'instead_of.school'"),
    ("needs.yaml", 'instead_of: {school: ["0-5"]}', 'instead_of: {shcool: ["0-5"]}', "field 'instead_of.shcool'"),
    ("needs.yaml", 'instead_of: {school: ["0-5"]}', "instead_of: {school: 0-5}", "field 'instead_of.school'"),
    # who reads the operators' group, and when
    ("operators.yaml", "answer_within_hours: 4", "answer_within_hours: soon", "field 'answer_within_hours'"),
    ("operators.yaml", "answer_within_hours: 4", "answer_within_hours: 0", "field 'answer_within_hours'"),
    ("operators.yaml", "hours: {status: not-published}", "hours: {status: published}", "field 'hours.blocks'"),
    ("operators.yaml", "mediators: []", "mediators:\n  - {telegram: samira, languages: [ar]}",
     "field 'mediators[1].telegram'"),
    ("operators.yaml", "mediators: []", 'mediators:\n  - {telegram: "@samira_pi", languages: [arabo]}',
     "field 'mediators[1].languages'"),
    ("operators.yaml", "mediators: []", 'mediators:\n  - {telegram: "@samira_pi", languages: [ar], hours: '
     '{status: published, blocks: [{slots: [{days: [lun], from: "09:00", to: "13:00"}]}]}}',
     "field 'mediators[1].hours.blocks[1].slots[1].days'"),
    ("operators.yaml", "mediators: []", "mediators: samira", "field 'mediators'"),
    ("operators.yaml", "mediators: []", "mediators: []\nmediatori: []", "field 'mediatori'"),
]


def _errors_of(root: Path) -> list[str]:
    try:
        kb = load(root)
        load_words(root, kb)
    except KnowledgeError as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.mark.parametrize(("file", "old", "new", "named"), BROKEN, ids=[f"{c[0]}:{i}" for i, c in enumerate(BROKEN)])
def test_a_broken_file_is_refused_with_lines_that_name_it(kb_copy: Path, file, old, new, named):
    edit(kb_copy / file, old, new)
    errors = _errors_of(kb_copy)  # any other exception fails the test: that would be a traceback
    assert errors, "the broken copy was accepted"
    assert any(named in e for e in errors), errors
    assert all(e.startswith("error: ") for e in errors)
    # One broken file gives its own errors, not a cascade into the others (at most a few lines).
    assert all(Path(file).name in e or "services/" not in e or file.startswith(S) for e in errors), errors[:5]
    assert len(errors) <= 5, errors


def test_an_empty_service_file_is_an_error(kb_copy: Path):
    (kb_copy / "services" / "geco.yaml").write_text("", encoding="utf-8")
    assert any("services/geco.yaml" in e and "empty" in e for e in _errors_of(kb_copy))


def test_a_broken_knowledge_base_stops_kb_check_and_the_chat_with_exit_1_and_no_traceback(kb_copy: Path):
    edit(kb_copy / "services" / "desio-scuola.yaml", "valid_until: 2026-08-31", "valid_until: 2026-02-30")
    env = {**os.environ, "BOT_KNOWLEDGE": str(kb_copy)}
    for command in (["kb", "check"], ["chat", "--db", str(kb_copy / "c.sqlite3")]):
        result = subprocess.run([sys.executable, "-m", "bot", *command], input="x\n", capture_output=True,
                                text=True, cwd=ROOT, env=env, timeout=60)
        assert result.returncode == 1, command
        assert "Traceback" not in result.stdout + result.stderr
        assert "desio-scuola.yaml: entry 'desio-scuola', field 'valid_until'" in result.stdout + result.stderr


def test_a_broken_language_description_is_a_clear_line(tmp_path: Path):
    import shutil

    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "locales", locales)
    (locales / "uk" / "language.yaml").write_text("name: [Українська\n", encoding="utf-8")
    env = {**os.environ, "BOT_LOCALES": str(locales)}
    result = subprocess.run([sys.executable, "-m", "bot", "kb", "check"], capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "uk/language.yaml" in result.stdout + result.stderr


ODD_VALUES = ["[1, {a: b}]", "{a: [1]}", "42", "''", "null", "2026-13-45", "yes"]


@pytest.mark.parametrize("file", ["services/omnibus-segrate.yaml", "services/milano-welcome-center.yaml",
                                  "safety.yaml", "audiences.yaml", "needs.yaml", "ages.yaml", "areas.yaml",
                                  "words/en.yaml"])
def test_every_field_of_a_file_given_an_odd_value_is_an_error_not_a_crash(kb_copy: Path, file):
    """Each top-level field of the file in turn replaced by a list, a mapping, a number..."""
    import re

    original = (kb_copy / file).read_text(encoding="utf-8")
    fields = re.findall(r"^([a-z_]+):", original, flags=re.M)
    assert fields
    for name in fields:
        for odd in ODD_VALUES:
            broken = re.sub(rf"^{name}:.*(\n[ #-].*)*", f"{name}: {odd}", original, count=1, flags=re.M)
            (kb_copy / file).write_text(broken, encoding="utf-8")
            try:
                load_words(kb_copy, load(kb_copy))
            except KnowledgeError as exc:
                assert all(str(p).startswith("error: ") for p in exc.problems)
    (kb_copy / file).write_text(original, encoding="utf-8")
