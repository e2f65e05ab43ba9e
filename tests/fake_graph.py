"""A local fake Graph API on 127.0.0.1, and signed webhook calls, for tests of the real
WhatsApp process (reached through WHATSAPP_API_URL, as a proxy in Meta's place would be)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

from tests.fake_bot_api import _QuietServer

SECRET = "app-secret-for-tests"
USER = "393331234567"


class FakeGraph:
    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[dict] = []  # `delay`: seconds each send takes, as over a real network
        graph = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if delay:
                    time.sleep(delay)
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


def whatsapp_env(graph: FakeGraph, port: int) -> dict[str, str]:
    """The settings of a WhatsApp bot whose Graph API is `graph`, listening on 127.0.0.1:`port`."""
    return {"WHATSAPP_PHONE_ID": "123", "WHATSAPP_TOKEN": "t", "WHATSAPP_VERIFY_TOKEN": "v",
            "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_API_URL": f"http://127.0.0.1:{graph.server.server_address[1]}",
            "PORT": str(port), "HOST": "127.0.0.1"}


def press(n: int, data: str, kind: str = "list_reply") -> dict:
    """A signed-webhook payload: the family tapped a list row or a reply button."""
    return message(n, {"type": "interactive", "interactive": {"type": kind, kind: {"id": data, "title": "…"}}})


def text(n: int, body: str) -> dict:
    return message(n, {"type": "text", "text": {"body": body}})


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
