"""The knowledge base: the cooperative's services, needs, age groups and places, as data.

Operators edit YAML files under `knowledge/`; this module loads them once at start-up into
immutable dataclasses and checks every field. A family may travel across town on what the
bot says, so a malformed file must stop the bot with a message that names the file, the
entry and the field — never a traceback, never a half-loaded knowledge base.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.text import normalize

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_STATUSES = ("published", "to-confirm", "not-published")
CONTACT_KINDS = ("phone", "email", "web", "address")
STALE_AFTER = timedelta(days=365)

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (error) or worth an operator's look (warning) in the knowledge base."""

    severity: Severity
    file: str
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: entry '{self.entry}'" if self.entry else self.file
        if self.field:
            where += f", field '{self.field}'"
        return f"{self.severity}: {where}: {self.message}"


class KnowledgeError(Exception):
    """The knowledge base cannot be used: each problem names file, entry and field."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Comune:
    istat: str
    name: str
    province: str
    lat: float | None = None
    lon: float | None = None
    aliases: tuple[str, ...] = ()
    region: str = "Lombardia"


@dataclass(frozen=True)
class Ambito:
    id: str
    name: str
    comuni: frozenset[str]  # ISTAT codes


@dataclass(frozen=True)
class Need:
    id: str
    label: str
    keywords: Mapping[str, tuple[str, ...]]  # language -> normalised words and phrases


@dataclass(frozen=True)
class AgeGroup:
    id: str
    label: str
    low: int
    high: int | None  # None: no upper limit

    def contains(self, years: int) -> bool:
        return years >= self.low and (self.high is None or years <= self.high)


@dataclass(frozen=True)
class Slot:
    """One opening window repeated on some weekdays (0 = Monday), in Europe/Rome time."""

    days: tuple[int, ...]
    start: time
    end: time


@dataclass(frozen=True)
class HoursBlock:
    label: str | None
    slots: tuple[Slot, ...]
    by_appointment: bool = False


@dataclass(frozen=True)
class Hours:
    status: str  # one of HOURS_STATUSES
    blocks: tuple[HoursBlock, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Contact:
    kind: str  # one of CONTACT_KINDS
    value: str
    note: str | None = None
    to_confirm: bool = False


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    summary: str
    needs: tuple[str, ...]
    ages: tuple[str, ...]
    comuni: frozenset[str]  # ISTAT codes named directly or through an ambito
    provinces: frozenset[str]  # plate codes: every comune of the province
    municipi: frozenset[int]  # for the comune with Municipi (Milano) only; empty = all
    run_by: str
    funded_by: str
    contacts: tuple[Contact, ...]
    hours: Hours
    sources: tuple[str, ...]
    verified: date
    file: str
    valid_from: date | None = None
    valid_until: date | None = None
    notes: tuple[str, ...] = ()
    fallback: bool = False

    def is_active(self, today: date) -> bool:
        """Offered today: not ended (an end date in the past hides it) and already started."""
        if self.valid_until is not None and today > self.valid_until:
            return False
        return self.valid_from is None or today >= self.valid_from

    def serves(self, comune: Comune) -> bool:
        return comune.istat in self.comuni or comune.province in self.provinces


@dataclass(frozen=True)
class NumberWords:
    """Number words of one language: units (0-19) and tens, for ages typed as words."""

    units: Mapping[str, int]
    tens: Mapping[str, int]
    joiners: tuple[str, ...] = ()  # words between tens and units: "njëzet e pesë", "douăzeci și cinci"


@dataclass(frozen=True)
class KnowledgeBase:
    services: Mapping[str, Service]
    needs: Mapping[str, Need]
    ages: Mapping[str, AgeGroup]
    comuni: Mapping[str, Comune]  # ISTAT code -> comune, all of Lombardy
    elsewhere: Mapping[str, Comune]  # the rest of Italy: known by exact name, always outside
    ambiti: Mapping[str, Ambito]
    menu_comuni: tuple[str, ...]  # ISTAT codes shown as buttons
    municipi_of: str | None  # ISTAT code of the comune split into Municipi (Milano)
    municipi: tuple[int, ...]
    extra_aliases: Mapping[str, tuple[str, ...]]  # ISTAT code -> names people type
    common_words: frozenset[str]  # names that are everyday words: not places inside a sentence
    covered: frozenset[str]  # ISTAT codes of the area where the cooperative works (see `load`)
    year_words: Mapping[str, tuple[str, ...]]
    month_words: Mapping[str, tuple[str, ...]]
    numbers: Mapping[str, NumberWords]

    @property
    def fallback(self) -> Service:
        return next(s for s in self.services.values() if s.fallback)

    def translatable_texts(self) -> list[tuple[str, str, str, str]]:
        """Every text of the knowledge base a user reads: (text, file, entry, field)."""
        out: list[tuple[str, str, str, str]] = []
        out += [(n.label, "needs.yaml", n.id, "label") for n in self.needs.values()]
        out += [(a.label, "ages.yaml", a.id, "label") for a in self.ages.values()]
        for s in self.services.values():
            out.append((s.summary, s.file, s.id, "summary"))
            out += [(n, s.file, s.id, "notes") for n in s.notes]
            out += [(c.note, s.file, s.id, "contacts.note") for c in s.contacts if c.note]
            if s.hours.note:
                out.append((s.hours.note, s.file, s.id, "hours.note"))
            out += [(b.label, s.file, s.id, "hours.label") for b in s.hours.blocks if b.label]
        return out


# --------------------------------------------------------------------------- loading


class _Reader:
    """Collects problems while reading one entry, so that all of them are reported at once."""

    def __init__(self, problems: list[Problem], file: str, entry: str):
        self.problems, self.file, self.entry = problems, file, entry

    def error(self, field_name: str, message: str) -> None:
        self.problems.append(Problem("error", self.file, self.entry, field_name, message))

    def text(self, data: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(key, "is missing: write a short text")
            return None
        if not isinstance(value, str):
            self.error(key, f"must be text, not {type(value).__name__}")
            return None
        return " ".join(value.split())

    def strings(self, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            self.error(key, "must be a list of texts, e.g. [a, b]")
            return ()
        return tuple(str(v) for v in value)

    def day(self, data: Mapping[str, Any], key: str, *, required: bool = False) -> date | None:
        value = data.get(key)
        if value is None:
            if required:
                self.error(key, "is missing: write a date as YYYY-MM-DD")
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.error(key, f"'{value}' is not a date: write YYYY-MM-DD")
            return None


def _read_yaml(path: Path, root: Path, problems: list[Problem]) -> Any:
    rel = path.relative_to(root).as_posix()
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        problems.append(Problem("error", rel, "", "", "file is missing"))
    except UnicodeDecodeError:
        problems.append(Problem("error", rel, "", "", "is not UTF-8 text: save it as UTF-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem("error", rel, "", "", f"is not valid YAML{where}: {reason}"))
    return None


def load_gazetteer(path: Path) -> dict[str, Comune]:
    """Comuni from a CSV derived from ISTAT (see gazetteer/CREDITS.md)."""
    comuni: dict[str, Comune] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            lat, lon = row.get("lat") or "", row.get("lon") or ""
            aliases = tuple(a for a in (row.get("aliases") or "").split("|") if a)
            comuni[row["istat"]] = Comune(
                istat=row["istat"],
                name=row["name"],
                province=row["province"],
                lat=float(lat) if lat else None,
                lon=float(lon) if lon else None,
                aliases=aliases,
                region=row.get("region") or "Lombardia",
            )
    return comuni


class _Places:
    """Resolves official comune names written in the YAML to ISTAT codes."""

    def __init__(self, comuni: Mapping[str, Comune]):
        self.by_name = {normalize(c.name): c.istat for c in comuni.values()}
        self.provinces = {c.province for c in comuni.values()}

    def code(self, name: Any, reader: _Reader, field_name: str) -> str | None:
        code = self.by_name.get(normalize(str(name)))
        if code is None:
            reader.error(field_name, f"'{name}' is not a comune of Lombardy (ISTAT name)")
        return code


def _load_needs(root: Path, problems: list[Problem]) -> dict[str, Need]:
    data = _read_yaml(root / "needs.yaml", root, problems)
    needs: dict[str, Need] = {}
    entries = data.get("needs") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        if data is not None:
            problems.append(Problem("error", "needs.yaml", "", "needs", "must be a list"))
        return needs
    for i, item in enumerate(entries):
        r = _Reader(problems, "needs.yaml", str(item.get("id", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}")
        if not isinstance(item, dict):
            r.error("", "each need must be a mapping with id, label, keywords")
            continue
        need_id, label = r.text(item, "id"), r.text(item, "label")
        if need_id and label:
            if need_id in needs:
                r.error("id", "is used twice")
            needs[need_id] = Need(need_id, label, {})
    return needs


@dataclass
class _Words:
    """What words/<lang>.yaml files say, merged: the vocabulary of free text."""

    keywords: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # need -> lang -> words
    years: dict[str, tuple[str, ...]] = field(default_factory=dict)
    months: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: dict[str, NumberWords] = field(default_factory=dict)


def _load_words(root: Path, problems: list[Problem], needs: Mapping[str, Need]) -> _Words:
    words = _Words()
    for path in sorted((root / "words").glob("*.yaml")):
        lang = path.stem
        data = _read_yaml(path, root, problems)
        if data is None:
            continue
        rel = path.relative_to(root).as_posix()
        r = _Reader(problems, rel, lang)
        if not isinstance(data, dict):
            r.error("", "must be a mapping with needs, ages and numbers")
            continue
        for need_id, items in (data.get("needs") or {}).items():
            if need_id not in needs:
                r.error(f"needs.{need_id}", f"is not a need of needs.yaml ({', '.join(needs)})")
                continue
            if not isinstance(items, list):
                r.error(f"needs.{need_id}", "must be a list of words, e.g. [scuola, scuole]")
                continue
            words.keywords.setdefault(need_id, {})[lang] = tuple(w for w in (normalize(str(i)) for i in items) if w)
        ages = data.get("ages") or {}
        for kind, target in (("years", words.years), ("months", words.months)):
            items = [normalize(str(w)) for w in ages.get(kind) or []]
            target[lang] = tuple(sorted((w for w in items if w), key=len, reverse=True))
        numbers = data.get("numbers") or {}
        try:
            words.numbers[lang] = NumberWords(
                {normalize(str(k)): int(v) for k, v in (numbers.get("units") or {}).items()},
                {normalize(str(k)): int(v) for k, v in (numbers.get("tens") or {}).items()},
                tuple(normalize(str(w)) for w in numbers.get("and") or []),
            )
        except (TypeError, ValueError, AttributeError):
            r.error("numbers", "units and tens must map a word to a whole number, e.g. {nove: 9}")
    return words


def _load_ages(root: Path, problems: list[Problem]) -> dict[str, AgeGroup]:
    data = _read_yaml(root / "ages.yaml", root, problems) or {}
    ages: dict[str, AgeGroup] = {}
    for i, item in enumerate(data.get("groups") or []):
        r = _Reader(problems, "ages.yaml", str(item.get("id", f"#{i + 1}")))
        age_id, label = r.text(item, "id"), r.text(item, "label")
        low, high = item.get("from"), item.get("to")
        if not isinstance(low, int) or (high is not None and not isinstance(high, int)):
            r.error("from", "from/to must be whole years (to may be null)")
            continue
        if age_id and label:
            ages[age_id] = AgeGroup(age_id, label, low, high)
    if not ages:
        problems.append(Problem("error", "ages.yaml", "", "groups", "no age group defined"))
    return ages


def _load_areas(
    root: Path, problems: list[Problem], places: _Places
) -> tuple[
    dict[str, Ambito], tuple[str, ...], str | None, tuple[int, ...], dict[str, tuple[str, ...]], frozenset[str]
]:
    data = _read_yaml(root / "areas.yaml", root, problems) or {}
    ambiti: dict[str, Ambito] = {}
    for i, item in enumerate(data.get("ambiti") or []):
        r = _Reader(problems, "areas.yaml", str(item.get("id", f"#{i + 1}")))
        amb_id, name = r.text(item, "id"), r.text(item, "name")
        codes = [places.code(n, r, "comuni") for n in r.strings(item, "comuni")]
        if amb_id and name:
            ambiti[amb_id] = Ambito(amb_id, name, frozenset(c for c in codes if c))
    r = _Reader(problems, "areas.yaml", "")
    menu = tuple(c for c in (places.code(n, r, "menu") for n in r.strings(data, "menu")) if c)
    municipi_of = places.code(data["municipi_of"], r, "municipi_of") if data.get("municipi_of") else None
    municipi = tuple(int(m) for m in data.get("municipi") or [])
    aliases: dict[str, tuple[str, ...]] = {}
    for name, names in (data.get("aliases") or {}).items():
        code = places.code(name, r, "aliases")
        if code:
            aliases[code] = tuple(str(n) for n in names or [])
    common = frozenset(normalize(w) for w in r.strings(data, "common_words"))
    return ambiti, menu, municipi_of, municipi, aliases, common


def _parse_time(value: Any, r: _Reader, field_name: str) -> time | None:
    if isinstance(value, int):  # YAML 1.1 reads 09:00 unquoted as a sexagesimal number
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value):
        r.error(field_name, f"'{value}' is not a time: write \"HH:MM\" in quotes")
        return None
    hh, mm = (int(x) for x in value.split(":"))
    if hh > 23 or mm > 59:
        r.error(field_name, f"'{value}' is not a time of day")
        return None
    return time(hh, mm)


def _parse_hours(value: Any, r: _Reader) -> Hours:
    if not isinstance(value, dict):
        r.error("hours", "is missing: write at least {status: not-published}")
        return Hours("not-published")
    status = value.get("status")
    if status not in HOURS_STATUSES:
        r.error("hours.status", f"'{status}' must be one of {', '.join(HOURS_STATUSES)}")
        status = "not-published"
    blocks: list[HoursBlock] = []
    for j, block in enumerate(value.get("blocks") or []):
        where = f"hours.blocks[{j + 1}]"
        if not isinstance(block, dict):
            r.error(where, "must be a mapping with label and slots")
            continue
        slots: list[Slot] = []
        for k, slot in enumerate(block.get("slots") or []):
            sw = f"{where}.slots[{k + 1}]"
            if not isinstance(slot, dict):
                r.error(sw, "must be a mapping like {days: [mon], from: \"09:00\", to: \"12:00\"}")
                continue
            days = slot.get("days") or []
            bad = [d for d in days if d not in WEEKDAYS]
            if bad or not days:
                r.error(f"{sw}.days", f"days must be some of {', '.join(WEEKDAYS)}")
                continue
            start = _parse_time(slot.get("from"), r, f"{sw}.from")
            end = _parse_time(slot.get("to"), r, f"{sw}.to")
            if start and end:
                if end <= start:
                    r.error(f"{sw}.to", "closes before it opens")
                    continue
                slots.append(Slot(tuple(WEEKDAYS.index(d) for d in days), start, end))
        if not slots:
            r.error(f"{where}.slots", "a block of hours needs at least one slot")
            continue
        label = block.get("label")
        blocks.append(HoursBlock(str(label) if label else None, tuple(slots), bool(block.get("by_appointment"))))
    if status != "not-published" and not blocks:
        r.error("hours.blocks", f"status '{status}' needs the hours: add blocks or use not-published")
    if status == "not-published" and blocks:
        r.error("hours.status", "there are hours here: use published or to-confirm")
    note = value.get("note")
    return Hours(status, tuple(blocks), " ".join(str(note).split()) if note else None)


_PHONE = re.compile(r"\+?[0-9][0-9 .]{3,20}[0-9]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)


def _parse_contacts(value: Any, r: _Reader) -> tuple[Contact, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.error("contacts", "must be a list of {kind, value, note}")
        return ()
    contacts: list[Contact] = []
    for j, item in enumerate(value):
        where = f"contacts[{j + 1}]"
        if not isinstance(item, dict):
            r.error(where, "must be a mapping like {kind: phone, value: \"02 123\"}")
            continue
        kind, val = item.get("kind"), str(item.get("value") or "").strip()
        if kind not in CONTACT_KINDS:
            r.error(f"{where}.kind", f"'{kind}' must be one of {', '.join(CONTACT_KINDS)}")
            continue
        if not val:
            r.error(f"{where}.value", "is empty: remove the line if the contact is not known")
            continue
        if kind == "phone" and not _PHONE.fullmatch(val):
            r.error(f"{where}.value", f"'{val}' is not a phone number (digits and spaces)")
            continue
        if kind == "email" and not _EMAIL.fullmatch(val):
            r.error(f"{where}.value", f"'{val}' is not an e-mail address")
            continue
        if kind == "web" and not val.startswith(("https://", "http://")):
            r.error(f"{where}.value", f"'{val}' must start with https://")
            continue
        note = item.get("note")
        contacts.append(Contact(kind, val, " ".join(str(note).split()) if note else None, bool(item.get("to_confirm"))))
    return tuple(contacts)


def _load_service(
    path: Path,
    root: Path,
    problems: list[Problem],
    places: _Places,
    needs: Mapping[str, Need],
    ages: Mapping[str, AgeGroup],
    ambiti: Mapping[str, Ambito],
    municipi: tuple[int, ...],
) -> Service | None:
    rel = path.relative_to(root).as_posix()
    data = _read_yaml(path, root, problems)
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append(Problem("error", rel, "", "", "must be a mapping of fields (id, name, ...)"))
        return None
    r = _Reader(problems, rel, str(data.get("id") or path.stem))
    service_id, name, summary = r.text(data, "id"), r.text(data, "name"), r.text(data, "summary")
    if service_id and service_id != path.stem:
        r.error("id", f"must equal the file name '{path.stem}'")
    if service_id and not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", service_id):
        r.error("id", "use lower-case letters, digits and dashes only (deep links use it)")
    fallback = bool(data.get("fallback"))
    service_needs = r.strings(data, "needs")
    for n in service_needs:
        if n not in needs:
            r.error("needs", f"'{n}' is not a need of needs.yaml ({', '.join(needs)})")
    service_ages = r.strings(data, "ages")
    for a in service_ages:
        if a not in ages:
            r.error("ages", f"'{a}' is not an age group of ages.yaml ({', '.join(ages)})")
    if not fallback and (not service_needs or not service_ages):
        r.error("needs" if not service_needs else "ages", "is empty: the service would never be offered")
    area = data.get("area") or {}
    if not isinstance(area, dict):
        r.error("area", "must be a mapping with comuni, ambiti, provinces or municipi")
        area = {}
    codes: set[str] = set()
    for amb in r.strings(area, "ambiti"):
        if amb in ambiti:
            codes |= ambiti[amb].comuni
        else:
            r.error("area.ambiti", f"'{amb}' is not an ambito of areas.yaml ({', '.join(ambiti)})")
    for n in r.strings(area, "comuni"):
        code = places.code(n, r, "area.comuni")
        if code:
            codes.add(code)
    provinces = frozenset(r.strings(area, "provinces"))
    for p in provinces - places.provinces:
        r.error("area.provinces", f"'{p}' is not a province plate code of Lombardy")
    if not codes and not provinces:
        r.error("area", "names no comune, ambito or province: where does it serve?")
    service_municipi = frozenset(int(m) for m in r.strings(area, "municipi") if str(m).isdigit())
    if service_municipi - set(municipi):
        r.error("area.municipi", f"Municipi are numbered {municipi[0]}-{municipi[-1]}")
    run_by = r.text(data, "run_by") or ""
    funded_by = r.text(data, "funded_by", required=False) or ""
    contacts = _parse_contacts(data.get("contacts"), r)
    hours = _parse_hours(data.get("hours"), r)
    sources = r.strings(data, "sources")
    if not sources:
        r.error("sources", "name at least one public source for these facts")
    verified = r.day(data, "verified", required=True)
    valid_from, valid_until = r.day(data, "valid_from"), r.day(data, "valid_until")
    if valid_from and valid_until and valid_until < valid_from:
        r.error("valid_until", "ends before it starts")
    notes = tuple(" ".join(n.split()) for n in r.strings(data, "notes"))
    known = {
        "id", "name", "summary", "needs", "ages", "area", "run_by", "funded_by", "contacts",
        "hours", "sources", "verified", "valid_from", "valid_until", "notes", "fallback",
    }
    for extra in sorted(set(data) - known):
        r.error(str(extra), f"is not a known field ({', '.join(sorted(known))})")
    if not (service_id and name and summary and verified):
        return None
    return Service(
        id=service_id, name=name, summary=summary, needs=service_needs, ages=service_ages,
        comuni=frozenset(codes), provinces=provinces, municipi=service_municipi, run_by=run_by,
        funded_by=funded_by, contacts=contacts, hours=hours, sources=sources, verified=verified,
        file=rel, valid_from=valid_from, valid_until=valid_until, notes=notes, fallback=fallback,
    )


def operator_warnings(kb: KnowledgeBase, today: date) -> list[Problem]:
    """What an operator should look at although the bot can run: ended, stale, unreachable."""
    out: list[Problem] = []
    for s in kb.services.values():
        if s.valid_until and today > s.valid_until:
            out.append(Problem("warning", s.file, s.id, "valid_until",
                               f"ended on {s.valid_until.isoformat()}: it is no longer offered"))
        if s.hours.status == "not-published":
            out.append(Problem("warning", s.file, s.id, "hours", "no opening hours published"))
        elif s.hours.status == "to-confirm":
            out.append(Problem("warning", s.file, s.id, "hours", "hours are marked to be confirmed"))
        if not any(c.kind in ("phone", "email", "address") for c in s.contacts):
            out.append(Problem("warning", s.file, s.id, "contacts",
                               "no phone, e-mail or address: families are sent to the fallback"))
        if today - s.verified > STALE_AFTER:
            out.append(Problem("warning", s.file, s.id, "verified",
                               f"last verified {s.verified.isoformat()}, over 12 months ago"))
    return out


def load(root: Path, gazetteer: Path | None = None) -> KnowledgeBase:
    """Load and check the whole knowledge base; raise KnowledgeError listing every error."""
    problems: list[Problem] = []
    gazetteer = gazetteer or root / "gazetteer" / "comuni_lombardia.csv"
    elsewhere_path = gazetteer.with_name("comuni_altre_regioni.csv")
    try:
        comuni = load_gazetteer(gazetteer)
        elsewhere = load_gazetteer(elsewhere_path) if elsewhere_path.exists() else {}
    except (OSError, KeyError, ValueError) as exc:
        raise KnowledgeError([Problem("error", str(gazetteer), "", "", f"cannot be read: {exc}")]) from None
    places = _Places(comuni)
    needs = _load_needs(root, problems)
    words = _load_words(root, problems, needs)
    needs = {n.id: Need(n.id, n.label, words.keywords.get(n.id, {})) for n in needs.values()}
    ages = _load_ages(root, problems)
    ambiti, menu, municipi_of, municipi, aliases, common = _load_areas(root, problems, places)
    services: dict[str, Service] = {}
    for path in sorted((root / "services").glob("*.yaml")):
        service = _load_service(path, root, problems, places, needs, ages, ambiti, municipi)
        if service:
            services[service.id] = service
    fallbacks = [s.id for s in services.values() if s.fallback]
    if len(fallbacks) != 1:
        problems.append(Problem("error", "services/", "", "fallback",
                                f"exactly one service must be the fallback (found {len(fallbacks)})"))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise KnowledgeError(errors)
    # The cooperative's area: its ambiti and every comune a service names, even a service
    # that has ended (it still works there). A province-wide service alone does not make
    # a comune part of it.
    covered = frozenset().union(*(a.comuni for a in ambiti.values()),
                                *(s.comuni for s in services.values() if not s.fallback))
    return KnowledgeBase(
        services=services, needs=needs, ages=ages, comuni=comuni, elsewhere=elsewhere, ambiti=ambiti,
        menu_comuni=menu, municipi_of=municipi_of, municipi=municipi, extra_aliases=aliases,
        common_words=common, covered=covered,
        year_words=words.years, month_words=words.months, numbers=words.numbers,
    )

