"""Shared fixtures: the real knowledge base and catalogs, and a chat driver over the pure dialog."""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from bot.config import ROOT, Config
from bot.dialogs.model import Command, Effect, Event, Press, Reply, Resources, Session, Text
from bot.dialogs.orientation import step
from bot.resources import load_resources
from bot.store import SessionStore, is_url
from tests.pg_cluster import Cluster

# The day these tests describe. Services' periods are absolute dates, so the tests pin it.
TODAY = date(2026, 12, 1)


# Every process of a bot on one PostgreSQL database keys users with the same BOT_SECRET.
TEST_SECRET = "orienta-tests-" + "0" * 40
_pg_missing: list[str] = []


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    """The tests' PostgreSQL server, started once (tests.pg_cluster), or None where none can
    start: its tests are then skipped, and the summary says so in capitals. ORIENTA_REQUIRE_PG=1
    (CI) makes that a failure instead."""
    cluster, why = Cluster.start()
    if cluster is None:
        if os.environ.get("ORIENTA_REQUIRE_PG"):
            pytest.fail(f"ORIENTA_REQUIRE_PG is set, but {why}", pytrace=False)
        _pg_missing.append(why)
        yield None
        return
    try:
        yield cluster
    finally:
        cluster.stop()


_nginx_missing: list[str] = []


@pytest.fixture(scope="session")
def nginx() -> str:
    """The nginx binary, for the test of the deployment's proxy (deploy/nginx.conf): skipped
    where none is installed, and said in capitals; ORIENTA_REQUIRE_NGINX=1 (CI) fails instead."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None:
        why = "nginx is not installed (Debian: apt install nginx-light)"
        if os.environ.get("ORIENTA_REQUIRE_NGINX"):
            pytest.fail(f"ORIENTA_REQUIRE_NGINX is set, but {why}", pytrace=False)
        _nginx_missing.append(why)
        pytest.skip(why)
    return found


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _pg_missing:
        terminalreporter.section("POSTGRESQL TESTS SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"The store's PostgreSQL tests did not run: {_pg_missing[0]}.", red=True)
    if _nginx_missing:
        terminalreporter.section("PROXY TEST SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(f"The test of deploy/nginx.conf did not run: {_nginx_missing[0]}.", red=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """BOT_DB for a test of the store on each engine: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "s.sqlite3")
        return
    cluster = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip(f"PostgreSQL: {_pg_missing[0]}")
    url = cluster.database()
    try:
        yield url
    finally:
        cluster.drop(url)


@pytest.fixture
def open_store(db: str) -> Callable[..., Awaitable[SessionStore]]:
    """Opens the store at `db` as the bot would (a shared PostgreSQL database needs BOT_SECRET)."""
    async def opening(**options: object) -> SessionStore:
        if is_url(db):
            options.setdefault("secret", TEST_SECRET)
        return await SessionStore.open(db, **options)  # type: ignore[arg-type]

    return opening


@pytest.fixture(scope="session")
def res() -> Resources:
    return load_resources(Config.from_env({}))


@dataclass
class Chat:
    """Drives the dialog as a user would: typing, pressing buttons by their label."""

    res: Resources
    lang: str | None = None
    today: date = TODAY
    session: Session | None = None
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    forgotten: bool = False

    def send(self, event: Event) -> list[Reply]:
        self.session, self.replies, self.effects = step(self.session, event, self.res, self.today)
        self.forgotten = self.session is None
        return self.replies

    def start(self, payload: str = "") -> list[Reply]:
        return self.send(Command("start", payload, self.lang))

    def say(self, text: str) -> list[Reply]:
        return self.send(Text(text, self.lang))

    def command(self, name: str, arg: str = "") -> list[Reply]:
        return self.send(Command(name, arg, self.lang))

    def press(self, label: str) -> list[Reply]:
        """Press the button with this label among the buttons now on screen."""
        for button in self.buttons:
            if button.label == label:
                return self.send(Press(button.id, self.lang))
        raise AssertionError(f"no button {label!r} on screen; buttons: {[b.label for b in self.buttons]}")

    @property
    def buttons(self):
        for reply in reversed(self.replies):
            if reply.buttons:
                return reply.buttons
        return ()

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.replies)

    @property
    def services(self) -> list[str]:
        return [s for r in self.replies for s in r.services]

    def card(self, title_start: str) -> str:
        """The body of the card whose title starts so, among the last replies."""
        for reply in self.replies:
            for section in reply.sections:
                if section.title and section.title.startswith(title_start):
                    return section.body
        raise AssertionError(f"no card {title_start!r}")

    @property
    def state(self) -> str:
        return self.replies[-1].state


@pytest.fixture
def chat(res: Resources) -> Chat:
    return Chat(res)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A copy of the real knowledge base, to edit in one test."""
    target = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def resources_from(knowledge: Path) -> Resources:
    return load_resources(Config.from_env({"BOT_KNOWLEDGE": str(knowledge), "BOT_TODAY": TODAY.isoformat()}))
