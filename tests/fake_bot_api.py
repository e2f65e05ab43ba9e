"""A local fake Bot API server on 127.0.0.1, for end-to-end tests of the real bot process.

The bot reaches it through TELEGRAM_BASE_URL, exactly as it would reach a self-hosted Bot
API server. It answers getMe, getUpdates (long polling over a queue the test fills),
setWebhook/deleteWebhook, sendMessage and the rest, and records every call.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.telegram_fakes import BOT_ID, USERNAME


class FakeBotApi:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay  # seconds each sendMessage takes, as over a real network
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.updates: list[dict[str, Any]] = []  # every update ever queued, in order
        self.served: list[int] = []  # update ids handed out by getUpdates, repeats included
        self.lock = threading.Condition()
        self._message_id = 500
        self.refuse: dict[str, tuple[int, str]] = {}  # method -> (status, description) to answer
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = _params(body, self.headers.get("Content-Type", ""))
                method = urlparse(self.path).path.rsplit("/", 1)[-1]
                if method in api.refuse:
                    status, description = api.refuse[method]
                    payload = json.dumps({"ok": False, "error_code": status, "description": description}).encode()
                else:
                    status, payload = 200, json.dumps({"ok": True, "result": api.answer(method, params)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def __enter__(self) -> FakeBotApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- behaviour

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        if method != "getUpdates":
            with self.lock:
                self.calls.append((method, params))
                self.lock.notify_all()
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Orienta", "username": USERNAME}
        if method == "getUpdates":
            return self._updates(int(params.get("offset") or 0), float(params.get("timeout") or 0))
        if method == "sendMessage":
            if self.delay:
                time.sleep(self.delay)
            with self.lock:
                self._message_id += 1
                mid = params["_given_id"] = self._message_id  # kept for sent_with_ids
            chat = int(params["chat_id"])
            return {"message_id": mid, "date": int(time.time()),
                    "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
                    "text": params.get("text", "")}
        if method == "getChat":  # the operators' group, without topics
            return {"id": int(params["chat_id"]), "type": "supergroup", "title": "Operatori", "accent_color_id": 0,
                    "max_reaction_count": 11}
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True

    def _updates(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        # An update stays available until a getUpdates asks for a later offset, as in
        # Telegram: a bot that dies before confirming gets it again.
        deadline = time.monotonic() + min(timeout, 0.5)
        with self.lock:
            while True:
                pending = [u for u in self.updates if u["update_id"] >= offset]
                if pending or time.monotonic() >= deadline:
                    self.served += [u["update_id"] for u in pending]
                    return pending
                self.lock.wait(deadline - time.monotonic())

    # ---------------------------------------------------------------- for tests

    def push(self, update: dict[str, Any]) -> None:
        with self.lock:
            self.updates.append(update)
            self.lock.notify_all()

    def sent_with_ids(self, chat_id: int) -> list[tuple[int, str]]:
        """(message id given, text) of every message sent to one chat, in order."""
        with self.lock:
            return [(p["_given_id"], p.get("text", "")) for m, p in self.calls
                    if m == "sendMessage" and "_given_id" in p and int(p.get("chat_id") or 0) == chat_id]

    def sent_texts(self) -> list[str]:
        with self.lock:
            return [p.get("text", "") for m, p in self.calls if m == "sendMessage"]

    def sent_by_chat(self) -> dict[int, list[str]]:
        """The texts sent to each chat, in order (a request cut short by a kill has no chat_id
        and is left out: Telegram would not have delivered it)."""
        out: dict[int, list[str]] = {}
        with self.lock:
            for method, params in self.calls:
                if method == "sendMessage" and "chat_id" in params:
                    out.setdefault(int(params["chat_id"]), []).append(params.get("text", ""))
        return out

    def sent_chats(self) -> list[int]:
        """The chat of every message sent, in the order sent."""
        with self.lock:
            return [int(p["chat_id"]) for m, p in self.calls if m == "sendMessage" and "chat_id" in p]

    def methods(self) -> list[str]:
        with self.lock:
            return [m for m, _ in self.calls]

    def wait_for(self, predicate, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.2))
        return True

    def count_sent(self) -> int:
        return sum(1 for m, _ in self.calls if m == "sendMessage")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (the bot killed mid-request) is expected here."""


def _params(body: str, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        return json.loads(body)
    out: dict[str, Any] = {}
    for key, values in parse_qs(body, keep_blank_values=True).items():
        value = values[-1]
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
