"""`python -m bot whatsapp` as a real process on 127.0.0.1, its Graph API a local fake server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.config import ROOT
from tests.fake_graph import FakeGraph, free_port, message, post, whatsapp_env


def test_signed_calls_over_http_reach_the_dialog_and_forged_ones_do_not(tmp_path: Path):
    graph, port = FakeGraph(), free_port()
    env = {**os.environ, **whatsapp_env(graph, port), "BOT_DB": str(tmp_path / "wa.sqlite3"),
           "BOT_TODAY": "2026-11-25"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "whatsapp"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and proc.poll() is None, "server did not start"
            time.sleep(0.1)
        challenge = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/webhook?hub.mode=subscribe&hub.verify_token=v&hub.challenge=42", timeout=10)
        assert challenge.read() == b"42"
        forged = message(1, {"type": "text", "text": {"body": "Bresso, 9 anni, scuola"}})
        assert post(port, forged, None) == 401
        assert post(port, forged, "sha256=" + "f" * 64) == 403
        assert graph.bodies == []
        # A family in Cinisello, in Arabic, through a list, a list and a list row.
        assert post(port, message(2, {"type": "text", "text": {"body": "مرحبا"}}), "valid") == 200
        for n, row in enumerate(("c:015077", "a:6-14", "n:school"), start=3):
            choice = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": row}}}
            assert post(port, message(n, choice), "valid") == 200
        deadline = time.monotonic() + 10  # the answers leave from the outbox, just after the 200
        while not any("Ambito di Cinisello Balsamo" in t for t in graph.texts()) and time.monotonic() < deadline:
            time.sleep(0.05)
        last = graph.texts()[-1]
        assert "Ambito di Cinisello Balsamo" in last and "مناسب لك" in last
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        graph.server.shutdown()
