"""`python -m bot whatsapp` as a real process on 127.0.0.1, its Graph API a local fake server."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from bot.config import ROOT
from tests.fake_bot_api import _QuietServer

SECRET = "app-secret-for-tests"
USER = "393331234567"


class FakeGraph:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                graph.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                body = json.dumps({"messaging_product": "whatsapp", "contacts": [{"input": USER, "wa_id": USER}],
                                   "messages": [{"id": f"wamid.out{len(graph.bodies)}"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [b["text"]["body"] if b.get("type") == "text" else b["interactive"]["body"]["text"] for b in self.bodies]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, payload: dict, signature: str | None) -> int:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    elif signature:
        headers["X-Hub-Signature-256"] = signature
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def message(n: int, body: dict) -> dict:
    msg = {"from": USER, "id": f"wamid.in{n}", "timestamp": str(int(time.time())), **body}
    return {"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages",
            "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "123"},
                      "messages": [msg]}}]}]}


def test_signed_calls_over_http_reach_the_dialog_and_forged_ones_do_not(tmp_path: Path):
    graph, port = FakeGraph(), free_port()
    env = {**os.environ, "WHATSAPP_PHONE_ID": "123", "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v",
           "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_API_URL": f"http://127.0.0.1:{graph.server.server_address[1]}",
           "BOT_DB": str(tmp_path / "wa.sqlite3"), "BOT_TODAY": "2026-11-25", "PORT": str(port), "HOST": "127.0.0.1"}
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
