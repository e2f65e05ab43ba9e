"""A fake Bot API for offline tests: records every call, answers like Telegram would.

This is the pattern python-telegram-bot recommends for testing without a network: a
`BaseRequest` subclass given to the `Application` builder, and updates fed through
`Application.process_update`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 7000000001
TOKEN = f"{BOT_ID}:AAH-fake-token-for-tests-0123456789abcdef"
USERNAME = "orienta_test_bot"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, Any] = field(default_factory=dict)  # name -> (file name, bytes, MIME type)


@dataclass
class RecordingRequest(BaseRequest):
    calls: list[Call] = field(default_factory=list)
    # method -> answers to give first (then the normal one): e.g. a 429 once.
    scripted: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    record: bool = True  # False: answer only (benchmarks)
    _next_message_id: int = 100

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = None, write_timeout: Any = None, connect_timeout: Any = None,
                         pool_timeout: Any = None) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if self.record:
            files = request_data.multipart_data if request_data and request_data.contains_files else {}
            self.calls.append(Call(name, params, dict(files or {})))
        if self.scripted.get(name):
            status, body = self.scripted[name].pop(0)
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Orienta", "username": USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": False}
        if name == "copyMessage":
            self._next_message_id += 1
            return {"message_id": self._next_message_id}
        if name in ("sendMessage", "editMessageReplyMarkup", "editMessageText", "sendPhoto", "sendDocument"):
            self._next_message_id += 1
            return {"message_id": self._next_message_id, "date": int(time.time()),
                    "chat": {"id": params.get("chat_id", 1), "type": "private"}, "text": params.get("text", "")}
        if name == "getUpdates":
            return []
        if name == "createForumTopic":
            self._next_message_id += 1
            return {"message_thread_id": self._next_message_id, "name": params.get("name", ""), "icon_color": 7322096}
        if name == "getChat":
            return {"id": params.get("chat_id", 1), "type": "supergroup", "title": "Operatori", "is_forum": False,
                    "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
                        "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                        "premium_subscription": False, "gifts_from_channels": False}}
        return True

    # -- what the tests read

    def sent(self) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == "sendMessage"]

    def texts(self) -> list[str]:
        return [p["text"] for p in self.sent()]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def last_keyboard(self) -> list[dict[str, Any]]:
        for params in reversed(self.sent()):
            markup = params.get("reply_markup")
            if markup:
                data = markup if isinstance(markup, dict) else json.loads(markup)
                return [b for row in data["inline_keyboard"] for b in row]
        return []

    def clear(self) -> None:
        self.calls.clear()


class Updates:
    """Builds genuine update JSON, as Telegram sends it, for one user."""

    def __init__(self, user_id: int = 4242, language_code: str | None = "it", chat_type: str = "private",
                 chat_id: int | None = None):
        self.user = {"id": user_id, "is_bot": False, "first_name": "Amina", "language_code": language_code}
        if language_code is None:
            del self.user["language_code"]
        self.chat = {"id": chat_id if chat_id is not None else user_id, "type": chat_type}
        if chat_type == "private":
            self.chat["first_name"] = "Amina"
        else:
            self.chat["title"] = "Genitori scuola"
        self._update_id = 1000 + user_id % 1000 * 1000
        self._message_id = 1

    def _next(self) -> tuple[int, int]:
        self._update_id += 1
        self._message_id += 1
        return self._update_id, self._message_id

    def message(self, **content: Any) -> dict[str, Any]:
        update_id, message_id = self._next()
        message = {"message_id": message_id, "date": int(time.time()), "chat": self.chat, "from": self.user,
                   **content}
        return {"update_id": update_id, "message": message}

    def text(self, text: str) -> dict[str, Any]:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.message(text=text, entities=entities) if entities else self.message(text=text)

    def press(self, data: str, on_message_id: int = 101) -> dict[str, Any]:
        update_id, _ = self._next()
        return {"update_id": update_id, "callback_query": {
            "id": str(update_id), "from": self.user, "chat_instance": "ci", "data": data,
            "message": {"message_id": on_message_id, "date": int(time.time()), "chat": self.chat,
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Orienta"}, "text": "…"},
        }}

    def location(self, lat: float, lon: float) -> dict[str, Any]:
        return self.message(location={"latitude": lat, "longitude": lon})

    def photo(self, caption: str | None = None) -> dict[str, Any]:
        sizes = [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 120}]
        return self.message(photo=sizes, **({"caption": caption} if caption else {}))

    def sticker(self) -> dict[str, Any]:
        return self.message(sticker={"file_id": "s1", "file_unique_id": "u1", "type": "regular", "width": 512,
                                     "height": 512, "is_animated": False, "is_video": False})


GROUP = -1001234567890  # the operators' supergroup
OPERATOR = 555000111  # a mediator in it


def operator_reply(message_id: int, text: str, reply_to: int) -> dict[str, Any]:
    """An operator's message in the operators' group, replying to one of the bot's messages there."""
    op = Updates(user_id=OPERATOR, chat_type="supergroup", chat_id=GROUP)
    data = op.message(text=text)
    data["message"]["message_id"] = message_id
    data["update_id"] = 500_000 + message_id  # one update per operator message
    data["message"]["reply_to_message"] = {"message_id": reply_to, "date": 0, "chat": op.chat,
                                           "from": {"id": BOT_ID, "is_bot": True, "first_name": "Orienta"},
                                           "text": "card"}
    if text.startswith("/"):
        data["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return data
