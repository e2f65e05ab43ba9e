"""The anonymous report: a few hundred families talk to the bot, then the cooperative asks
what was asked and where nothing answered. The counts must be right, and no number may
single out a family, in any cut, or by subtracting one number from another."""

from __future__ import annotations

import csv
import io
import itertools
import random
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.conversation import Conversation
from bot.dialogs import texts as T
from bot.dialogs.context import Ctx
from bot.dialogs.model import Command, Press, Text
from bot.report.cells import DIMENSIONS, HIDDEN, NOISE, THRESHOLD, Labels, Table, dimensions, make_report
from bot.report.command import csv_report
from bot.report.counts import KEY_MODULUS, Counts, RequestCount
from bot.report.page import html_report
from bot.store import SessionStore
from tests.conftest import TODAY

MILANO = "015146"  # asks for a Municipio first: left out of the simulation to keep it short
NAMES = ("Fatima", "Oleksandr", "Mihaela")


class Family:
    """One simulated conversation: what it asked and what the bot answered it."""

    def __init__(self, n: int, rnd: random.Random, res) -> None:
        kb = res.kb
        self.user = f"user-{9_100_000_000 + n}"
        self.channel = rnd.choice(("telegram", "whatsapp"))
        covered = sorted(c for c in kb.covered if c != MILANO)
        self.comune = rnd.choice(covered[:6]) if rnd.random() < 0.8 else rnd.choice(covered)
        self.need = rnd.choice(Ctx(res, TODAY).offered_needs()[:6])
        self.years = rnd.choice((4, 9, 16, 30, 45))
        self.lang = rnd.choice(("it", "it", "ar", "en", "uk", "fr", "bn"))
        self.link = rnd.random() < 0.4
        self.person = rnd.random() < 0.2
        self.forget = rnd.random() < 0.1


async def nobody_here(store, pending) -> None:
    """The operators' desk is not part of this test: its effects are taken and dropped."""


async def simulate(res, db: Path, families: int = 300, seed: int = 7, months: int = 1) -> list[dict]:
    """Run the conversations through the real conversation and store; return what each
    family was shown (read from the replies, as the family saw them). With `months`, the
    families come on days spread over that many months up to TODAY (for a demo report)."""
    rnd = random.Random(seed)
    people = replace(res, people=True)
    store = await SessionStore.open(db)
    day = [TODAY]
    conversation = Conversation(people, store, lambda: day[0])
    conversation.handlers = dict.fromkeys(("handoff-open", "handoff-forgotten"), nobody_here)
    seen: list[dict] = []
    for n in range(families):
        f = Family(n, rnd, res)
        day[0] = TODAY - timedelta(days=rnd.randrange(30 * months)) if months > 1 else TODAY
        age_group = res.kb.age_group(f.years)
        if f.link:
            payload = f"l{f.lang}_c{f.comune}_a{f.years}_n{f.need}"
            replies = await conversation.handle(f.channel, f.user, Command("start", payload, f.lang))
        else:
            await conversation.handle(f.channel, f.user, Command("start", "", f.lang))
            name = res.kb.comuni[f.comune].name
            words = f"mi chiamo {rnd.choice(NAMES)}, abito a {name}, ho {f.years} anni"
            await conversation.handle(f.channel, f.user, Text(words, f.lang))
            replies = await conversation.handle(f.channel, f.user, Press(f"n:{f.need}", f.lang))
        session = await store.load(f.channel, f.user)
        assert session is not None and session.state == "results", (f.comune, f.need, session)
        shown = next(r.services for r in reversed(replies) if r.services)
        # Unmet: nothing shown answers the need asked (a Ukrainian family also sees the
        # Ukrainian help line, whatever it asked: that does not answer a housing request).
        answered = [s for s in shown if f.need in res.kb.services[s].needs]
        seen.append({"channel": f.channel, "lang": session.lang, "comune": f.comune, "need": f.need,
                     "age": age_group, "unmet": not answered, "person": f.person, "link": session.link or "",
                     "user": f.user})
        if f.person:
            await conversation.handle(f.channel, f.user, Command("persona", "", f.lang))
        if f.forget:
            await conversation.handle(f.channel, f.user, Command("forget", "", f.lang))
    await store.close()
    return seen


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, res):
    import asyncio

    db = tmp_path_factory.mktemp("report") / "bot.sqlite3"
    seen = asyncio.run(simulate(res, db))
    return res, db, seen


async def read_counts(db: Path) -> Counts:
    store = await SessionStore.open(db)
    try:
        return await store.counts()
    finally:
        await store.close()


@pytest.fixture(scope="module")
def counts(simulated) -> Counts:
    import asyncio

    return asyncio.run(read_counts(simulated[1]))


def labels_of(res) -> Labels:
    return Labels(res.kb, res.catalogs)


def test_the_counts_are_what_the_families_were_shown(simulated, counts):
    _, _, seen = simulated
    asked = Counter((s["comune"], s["need"], s["age"], s["lang"], s["channel"]) for s in seen)
    unmet = Counter((s["comune"], s["need"]) for s in seen if s["unmet"])
    persons = Counter((s["comune"], s["need"]) for s in seen if s["person"])
    links = Counter(s["link"] for s in seen if s["link"])
    got_asked, got_unmet, got_persons, got_links = Counter(), Counter(), Counter(), Counter()
    for r in counts.requests:
        got_asked[(r.comune, r.need, r.age, r.lang, r.channel)] += r.shown
        got_unmet[(r.comune, r.need)] += r.shown if not r.services else 0
        got_persons[(r.comune, r.need)] += r.persons
    for s in counts.starts:
        got_links[s.link] += s.starts
    assert +got_asked == asked  # families who used /forget are still counted: nothing points to them
    assert +got_unmet == unmet and sum(unmet.values()) > 0
    assert +got_persons == persons and sum(persons.values()) > 0
    assert {k: v for k, v in got_links.items() if k} == links  # one start per family that came by a link
    assert sum(got_links.values()) == len(seen)  # every family started once


def cell_numbers(rows: list[list[str]], width: int) -> list[str]:
    return [value for row in rows[1:] for value in row[width:]]


def truth(requests: list[RequestCount], by: tuple[str, ...], labels: Labels) -> dict[tuple[str, ...], int]:
    """The true requests per row of a cut, counted here independently of bot.report."""
    out: Counter = Counter()
    for r in requests:
        out[tuple(DIMENSIONS[d][1](labels, r) for d in by)] += r.shown
    return out


CUTS = [c for n in (1, 2) for c in itertools.combinations(DIMENSIONS, n)] + [("need", "comune", "age")]


@pytest.mark.parametrize("by", CUTS, ids=lambda c: ",".join(c))
def test_no_number_under_5_is_visible_in_any_cut_and_the_others_are_close_to_true(simulated, counts, by):
    res = simulated[0]
    labels = labels_of(res)
    report = make_report(counts, by, labels, "2026-01-01", TODAY.isoformat())
    true = truth(counts.requests, by, labels)
    for table in (report.main, report.unmet, report.languages, report.links):
        rows = table.text_rows()
        for value in cell_numbers(rows, len(table.columns)):
            assert value == HIDDEN or value == "0" or int(value) >= THRESHOLD, (table.title, value)
    for labels_, cells in report.main.rows.items():
        shown, real = cells[0].text, true[labels_]
        if 0 < real < THRESHOLD:
            assert shown == HIDDEN
        else:
            assert (abs(int(shown) - real) <= NOISE and int(shown) >= THRESHOLD) or real == int(shown) == 0
    again = make_report(counts, by, labels, "2026-01-01", TODAY.isoformat())
    assert again.main.text_rows() == report.main.text_rows()  # asking again tells nothing new


def test_a_hidden_cell_cannot_be_recovered_by_subtracting_from_the_total():
    """Bresso 8 requests, Sesto 3: the total minus Bresso is not Sesto's 3. Over many
    databases (each request's random key), what subtraction gives is spread over several
    values, and is right no more often than a guess."""
    recovered: Counter = Counter()
    keys = random.Random(15)  # the store draws them with `secrets`; seeded here, so the test is exact
    for _ in range(400):
        table = Table("t", ("Comune",), ("Richieste",))
        for comune, n in (("Bresso", 8), ("Sesto", 3)):
            for _ in range(n):
                table.add((comune,), ((1, keys.randrange(KEY_MODULUS)),))
        assert table.rows[("Sesto",)][0].text == HIDDEN
        total, bresso = table.total[0].shown, table.rows[("Bresso",)][0].shown
        assert total is not None and bresso is not None
        recovered[total - bresso] += 1
    assert len(recovered) >= 5
    assert recovered[3] / 400 < 0.25  # a guess among 1 to 4 is right 1 time in 4


def test_a_cut_by_something_unknown_says_what_can_be_chosen():
    with pytest.raises(ValueError, match="choose from day, month"):
        dimensions("need,religion")
    assert dimensions("need, comune,need") == ("need", "comune")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter = Counter()
        self.ids: dict[str, Counter] = {}
        self.inside: list[str] = []
        self.cells: list[str] = []
        self.urls: list[str] = []
        self._td = False

    def handle_starttag(self, tag, attrs):
        self.tags[tag] += 1
        attrs = dict(attrs)
        if "id" in attrs:
            self.inside.append(attrs["id"])
            self.ids[attrs["id"]] = Counter()
        elif self.inside and tag in ("rect", "text"):
            self.ids[self.inside[-1]][tag] += 1
        self.urls += [v for k, v in attrs.items() if k in ("src", "href") and v]
        self._td = tag == "td"

    def handle_endtag(self, tag):
        if tag == "svg" and self.inside:
            self.inside.pop()
        self._td = False

    def handle_data(self, data):
        if self._td:
            self.cells.append(data)


def test_the_html_report_is_one_page_with_its_charts_and_nothing_from_the_network(simulated, counts):
    res = simulated[0]
    report = make_report(counts, ("need", "comune"), labels_of(res), "2026-01-01", TODAY.isoformat())
    page = html_report(report)
    tags = Tags()
    tags.feed(page)
    assert tags.tags["svg"] == 3 and tags.tags["table"] == 4
    assert tags.ids["unmet-chart"]["rect"] >= 1 and tags.ids["languages-chart"]["rect"] >= 2
    assert tags.ids["links-chart"]["rect"] >= 1
    assert tags.urls == [] and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_the_report_and_the_database_hold_no_user_id_and_no_words(simulated, counts):
    res, db, seen = simulated
    labels = labels_of(res)
    outputs = [csv_report(make_report(counts, by, labels, "2026-01-01", TODAY.isoformat())) for by in CUTS[:12]]
    outputs.append(html_report(make_report(counts, ("need", "comune"), labels, "2026-01-01", TODAY.isoformat())))
    with sqlite3.connect(db) as conn:
        tables = [" ".join(map(str, row)) for t in ("request_counts", "start_counts")
                  for row in conn.execute(f"SELECT * FROM {t}")]
    assert tables
    digits = {s["user"].removeprefix("user-") for s in seen}
    for text in [*outputs, *tables]:
        assert not any(s["user"] in text or s["user"][-9:] in text for s in seen)
        assert not any(name in text for name in NAMES) and "mi chiamo" not in text
        assert not digits & set(text.replace(",", " ").split())


def test_the_command_writes_the_same_numbers_as_csv_and_as_html(simulated, tmp_path: Path):
    _, db, _ = simulated
    run = [sys.executable, "-m", "bot", "report", "--db", str(db), "--since", "2026-01-01",
           "--until", TODAY.isoformat(), "--by", "need,comune"]
    as_csv = subprocess.run([*run, "--format", "csv"], capture_output=True, text=True, check=True).stdout
    html_file = tmp_path / "report.html"
    subprocess.run([*run, "--format", "html", "-o", str(html_file)], capture_output=True, text=True, check=True)
    tags = Tags()
    tags.feed(html_file.read_text(encoding="utf-8"))
    csv_cells = [v for row in csv.reader(io.StringIO(as_csv)) if len(row) > 1 and row[0] not in (
        "Bisogno", "Comune", "Mese", "Link o QR") for v in row]
    # The HTML shows the same tables, in another order: the same multiset of cells.
    assert Counter(v for v in csv_cells if v) == Counter(tags.cells)
    bad = subprocess.run([*run, "--by", "religion"], capture_output=True, text=True)
    assert bad.returncode == 2 and "choose from" in bad.stderr


async def test_counts_of_an_older_version_join_the_report(res, tmp_path: Path):
    db = tmp_path / "old.sqlite3"
    store = await SessionStore.open(db)
    await store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE result_counts (day TEXT, channel TEXT, lang TEXT, comune TEXT, municipio INTEGER,"
                     " age TEXT, need TEXT, services TEXT, shown INTEGER)")
        conn.executemany("INSERT INTO result_counts VALUES (?, 'telegram', 'ar', '015032', 0, '6-14',"
                         " 'school', '', 7)", [(f"2026-11-{d:02}",) for d in range(1, 21)])
    counts = await read_counts(db)
    assert [(r.lang, r.shown, r.services, r.link) for r in counts.requests] == [("ar", 7, "", "")] * 20
    # Each old row got a random cell key: a fixed one would tell how much its number moved.
    assert len({r.shown_key for r in counts.requests}) > 5


async def test_counts_stay_after_forget_and_the_privacy_notice_says_so(res, tmp_path: Path):
    store = await SessionStore.open(tmp_path / "s.sqlite3")
    conversation = Conversation(res, store, lambda: TODAY)
    await conversation.handle("telegram", "u1", Text("Bresso, 9 anni, scuola"))
    await conversation.handle("telegram", "u1", Command("forget"))
    assert await store.load("telegram", "u1") is None
    assert [r.shown for r in (await store.counts()).requests] == [1]
    notice = (await conversation.handle("telegram", "u2", Command("privacy")))[0].text
    await store.close()
    assert res.catalogs.get("it")(T.PRIVACY_COUNTS) in notice
