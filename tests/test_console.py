"""The console chat driven as a subprocess, as a user (or an operator's script) would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.config import ROOT


def chat(lines: list[str], *args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOT_TODAY": "2026-11-25"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--db", str(db), *args],
        input="".join(line + "\n" for line in lines), capture_output=True, text=True,
        cwd=ROOT, env=env, timeout=60,
    )


def messages(result: subprocess.CompletedProcess[str]) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_whole_dialog_by_numbers_labels_and_text(tmp_path: Path):
    result = chat(["Bresso", "9", "1"], db=tmp_path / "c.sqlite3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "In quale comune abiti?" in out
    assert "  1. Milano" in out
    assert "  • 0-5 anni" in out  # the age question shows no numbers: "9" is an age
    assert "Servizio di integrazione scolastica – Ambito di Cinisello Balsamo" in out


def test_json_lines_have_the_documented_fields(tmp_path: Path):
    out = messages(chat(["Bresso", "6-14 anni", "Scuola"], "--json", db=tmp_path / "c.sqlite3"))
    assert set(out[0]) == {"text", "buttons", "services", "lang", "state"}
    assert out[1]["buttons"][:2] == ["Milano", "Monza"]
    last = out[-1]
    assert last["state"] == "results" and last["services"] == ["cinisello-scuola"] and last["lang"] == "it"


def test_lang_and_start_act_like_the_client_and_a_deep_link(tmp_path: Path):
    out = messages(chat(["Sesto San Giovanni", "40"], "--json", "--lang", "uk-UA", "--start", "ua",
                        db=tmp_path / "c.sqlite3"))
    assert all(m["lang"] == "uk" for m in out)
    assert "України" in out[0]["text"]
    # Sesto is in the province of Milan: the Ukrainian line, with its doubt said first.
    assert out[-1]["services"] == ["milano-aiuta-ucraina"]
    assert "020205" in out[-1]["text"]


def test_console_restart_resumes_the_conversation(tmp_path: Path):
    db = tmp_path / "c.sqlite3"
    messages(chat(["Monza"], "--json", db=db))
    out = messages(chat(["40"], "--json", db=db))
    assert "Bentornato" in out[0]["text"]
    assert out[-1]["state"] == "ask_need"


def test_hostile_lines_do_not_crash_the_console(tmp_path: Path):
    lines = ["", "<b>bold</b>", "*x*", "\x00\x07\x1b[31m", "🙂🙂🙂", "x" * 5000, "/", "/location abc",
             "/sticker", "/location 45.5376 9.1890", "1"]
    out = messages(chat(lines, "--json", db=tmp_path / "c.sqlite3"))
    assert out[-1]["state"] in {"ask_age", "ask_need", "results", "ask_comune"}
