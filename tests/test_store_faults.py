"""A database the bot cannot use is said in one line, at once; one lost under the bot stops it;
a full disk gets the family an apology and the platform a "try again"."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import ROOT
from bot.conversation import Conversation
from bot.dialogs.model import Text
from bot.store import SessionStore, StoreDown, StoreFull, StoreLost
from tests.conftest import TODAY

CHANNEL_ENV = {"TELEGRAM_TOKEN": "123456789:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "WHATSAPP_PHONE_ID": "1",
               "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v", "WHATSAPP_APP_SECRET": "s"}


def _run(command: str, db: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, **CHANNEL_ENV, "BOT_DB": str(db)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "bot", command], input="x\n", capture_output=True, text=True,
                            cwd=ROOT, env=env, timeout=30)
    return result, time.monotonic() - started


def _one_clear_line(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and what in lines[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["chat", "telegram", "whatsapp"])
def test_a_file_that_is_not_a_database_is_said_in_one_line_at_once(tmp_path: Path, command: str):
    db = tmp_path / "corrupt.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    result, seconds = _run(command, db)
    _one_clear_line(result, "file is not a database")
    print(f"\n{command}: exits in {seconds:.2f} s")


def test_a_database_locked_by_another_process_is_said_at_once(tmp_path: Path):
    db = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result, _ = _run("chat", db)
    finally:
        holder.close()
    _one_clear_line(result, "locked")


@pytest.mark.skipif(os.geteuid() == 0, reason="as root every file is writable")
def test_a_read_only_database_is_said_at_once(tmp_path: Path):
    db = tmp_path / "ro.sqlite3"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    db.chmod(0o444)
    result, _ = _run("chat", db)
    _one_clear_line(result, "database")


async def test_a_database_deleted_under_the_running_bot_stops_it_instead_of_answering_into_nothing(res, tmp_path):
    db = tmp_path / "s.sqlite3"
    store = await SessionStore.open(db)
    conversation = Conversation(res, store, lambda: TODAY)
    await conversation.handle("console", "u", Text("Ciao"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreLost, match="deleted or replaced"):
        await conversation.handle("console", "u", Text("Monza"))
    await store.close()


@pytest.mark.parametrize("fault", [StoreFull("the database cannot grow (database or disk is full)"),
                                   StoreDown("the database at db.host/orienta cannot be reached (server closed)")],
                         ids=["full disk", "database server unreachable"])
async def test_a_full_disk_gets_the_family_an_apology_and_the_webhook_a_try_again(res, tmp_path, monkeypatch, fault):

    from tests.test_whatsapp import GraphApi, whatsapp_bot

    store = await SessionStore.open(tmp_path / "s.sqlite3")

    async def full(*args, **kwargs):
        raise fault

    graph = GraphApi()
    async with whatsapp_bot(res, store, graph) as wa:
        monkeypatch.setattr(store, "save", full)
        answer = await wa.text("Monza")
        assert answer.status_code == 503  # Meta delivers it again: nothing is dropped with a 200
        assert "problema" in graph.texts()[-1] or "problem" in graph.texts()[-1]  # and the family is told
        monkeypatch.undo()
        assert (await wa.text("Monza")).status_code == 200  # the disk has room again: answered
    await store.close()
