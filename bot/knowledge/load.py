"""Reading the knowledge base: YAML files under `knowledge/` into the dataclasses of `model`.

Operators edit these files; this module loads them once at start-up and checks every field.
A family may travel across town on what the bot says, so a malformed file must stop the bot
with a message that names the file, the entry and the field — never a traceback, never a
half-loaded knowledge base. Every contact and hour is checked against its sources' quotes
(`bot.knowledge.truth`) here too: a fact no source gives is an error, not a warning.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge import truth
from bot.knowledge.model import (
    CONTACT_KINDS,
    HOURS_STATUSES,
    SERVICE_STATUSES,
    WEEKDAYS,
    AgeGroup,
    Ambito,
    Audience,
    Comune,
    Contact,
    Hours,
    HoursBlock,
    KnowledgeBase,
    KnowledgeError,
    Need,
    Problem,
    SafetyTopic,
    Service,
    Slot,
    Source,
)
from bot.text import normalize


class _Reader:
    """Collects problems while reading one entry, so that all of them are reported at once."""

    def __init__(self, problems: list[Problem], file: str, entry: str, prefix: str = ""):
        self.problems, self.file, self.entry, self.prefix = problems, file, entry, prefix

    def error(self, field_name: str, message: str) -> None:
        self.problems.append(Problem("error", self.file, self.entry, self.prefix + field_name, message))

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

    def month(self, data: Mapping[str, Any], key: str) -> tuple[bool, date | None]:
        """A page's date at month or day precision ('2022-08', 2022-08-15) or 'unknown'."""
        value = data.get(key)
        if value is None:
            self.error(key, "is missing: write the date the page states (YYYY-MM), or unknown")
            return False, None
        if isinstance(value, date):
            return True, value
        text = str(value).strip()
        if text == "unknown":
            return True, None
        match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", text)
        try:
            if match:
                return True, date(int(match[1]), int(match[2]), int(match[3] or 1))
        except ValueError:
            pass
        self.error(key, f"'{value}' is not a date: write YYYY-MM (or YYYY-MM-DD, or unknown)")
        return False, None


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
        safety = r.text(item, "safety", required=False)
        if need_id and label:
            if need_id in needs:
                r.error("id", "is used twice")
            needs[need_id] = Need(need_id, label, safety)
    return needs


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


@dataclass(frozen=True)
class _Areas:
    ambiti: dict[str, Ambito]
    menu: tuple[str, ...]
    municipi_of: str | None
    municipi: tuple[int, ...]
    aliases: dict[str, tuple[str, ...]]
    common: frozenset[str]
    works_in: frozenset[str]
    works_in_provinces: frozenset[str]
    patron_days: dict[str, tuple[int, int]]


def _patron_days(data: Any, r: _Reader, places: _Places) -> dict[str, tuple[int, int]]:
    """comune -> (month, day): from the `holidays` package for a provincial capital, or a date."""
    out: dict[str, tuple[int, int]] = {}
    if not isinstance(data, dict):
        if data is not None:
            r.error("patron_days", "must map a comune to {holidays: MI} or {date: 'MM-DD', source: ...}")
        return out
    for name, spec in data.items():
        code = places.code(name, r, "patron_days")
        if not code or not isinstance(spec, dict):
            if code:
                r.error(f"patron_days.{name}", "must be {holidays: MI} or {date: 'MM-DD', source: ...}")
            continue
        if spec.get("holidays"):
            import holidays

            subdiv = str(spec["holidays"])
            try:
                local = holidays.country_holidays("IT", subdiv=subdiv, years=2024)
            except NotImplementedError:
                r.error(f"patron_days.{name}", f"'{subdiv}' is not a subdivision of Italy in the holidays package")
                continue
            national = holidays.country_holidays("IT", years=2024)
            extra = [d for d in local if d not in national]
            if len(extra) != 1:
                r.error(f"patron_days.{name}", f"the holidays package has no single patron day for '{subdiv}'")
                continue
            out[code] = (extra[0].month, extra[0].day)
        else:
            match = re.fullmatch(r"(\d{2})-(\d{2})", str(spec.get("date") or ""))
            if not match or not spec.get("source"):
                r.error(f"patron_days.{name}", "write {date: 'MM-DD', source: 'the page that says so'}")
                continue
            out[code] = (int(match[1]), int(match[2]))
    return out


def _load_areas(root: Path, problems: list[Problem], places: _Places) -> _Areas:
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
    works = data.get("works_in") or {}
    works_codes, provinces = _place_list(works, "works_in", r, places, ambiti)
    return _Areas(ambiti, menu, municipi_of, municipi, aliases, common, works_codes, provinces,
                  _patron_days(data.get("patron_days"), r, places))


def _place_list(data: Mapping[str, Any], where: str, r: _Reader, places: _Places,
                ambiti: Mapping[str, Ambito]) -> tuple[frozenset[str], frozenset[str]]:
    """(ISTAT codes, province plate codes) of a mapping of ambiti, comuni and provinces."""
    codes: set[str] = set()
    for amb in r.strings(data, "ambiti"):
        if amb in ambiti:
            codes |= ambiti[amb].comuni
        else:
            r.error(f"{where}.ambiti", f"'{amb}' is not an ambito of areas.yaml ({', '.join(ambiti)})")
    codes |= {c for c in (places.code(n, r, f"{where}.comuni") for n in r.strings(data, "comuni")) if c}
    provinces = frozenset(r.strings(data, "provinces"))
    for p in provinces - places.provinces:
        r.error(f"{where}.provinces", f"'{p}' is not a province plate code of Lombardy")
    return frozenset(codes), provinces


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


def _parse_hours(value: Any, r: _Reader, places: _Places, area_comuni: frozenset[str]) -> Hours:
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
    always = bool(value.get("always"))
    if status != "not-published" and not blocks and not always:
        r.error("hours.blocks", f"status '{status}' needs the hours: add blocks or use not-published")
    if status == "not-published" and (blocks or always):
        r.error("hours.status", "there are hours here: use published or to-confirm")
    comune = None
    if value.get("comune"):
        comune = places.code(value["comune"], r, "hours.comune")
    elif blocks and len(area_comuni) == 1:
        comune = next(iter(area_comuni))  # the desk is in the only comune the service serves
    note = value.get("note")
    return Hours(status, tuple(blocks), " ".join(str(note).split()) if note else None, always, comune)


_PHONE = re.compile(r"\+?[0-9][0-9 .]{1,20}[0-9]")
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


def _parse_sources(value: Any, r: _Reader) -> tuple[Source, ...]:
    if not isinstance(value, list) or not value:
        r.error("sources", "name at least one public source: {title, url, as_of, quote}")
        return ()
    sources: list[Source] = []
    for j, item in enumerate(value):
        where = f"sources[{j + 1}]"
        if not isinstance(item, dict):
            r.error(where, "must be a mapping {title, url, as_of, quote}: the page, where it is, "
                           "the date it states and its own words for the facts it gives")
            continue
        sr = _Reader(r.problems, r.file, r.entry, prefix=f"{where}.")
        title = sr.text(item, "title")
        url = item.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            sr.error("url", f"'{url}' must start with https://")
            url = None
        _, as_of = sr.month(item, "as_of")
        quote = item.get("quote") or ""
        if not isinstance(quote, str):
            sr.error("quote", "must be text: the page's own words")
            quote = ""
        if title:
            sources.append(Source(title, url, as_of, " ".join(quote.split())))
    return tuple(sources)


_COMMON_FIELDS = {"id", "name", "summary", "contacts", "hours", "sources", "verified", "notes", "status"}
_SERVICE_FIELDS = _COMMON_FIELDS | {"needs", "ages", "area", "run_by", "funded_by", "valid_from",
                                    "valid_until", "fallback"}


def _service_fields(data: dict[str, Any], r: _Reader, places: _Places, area: frozenset[str], rel: str,
                    known: set[str]) -> dict[str, Any] | None:
    """What services and lines share: texts, contacts, hours and their sources, checked and dated."""
    entry_id, name, summary = r.text(data, "id"), r.text(data, "name"), r.text(data, "summary")
    status = data.get("status", "active")
    if status not in SERVICE_STATUSES:
        r.error("status", f"'{status}' must be one of {', '.join(SERVICE_STATUSES)}")
        status = "active"
    contacts = _parse_contacts(data.get("contacts"), r)
    hours = _parse_hours(data.get("hours"), r, places, area)
    sources = _parse_sources(data.get("sources"), r)
    verified = r.day(data, "verified", required=True)
    notes = tuple(" ".join(n.split()) for n in r.strings(data, "notes"))
    for extra in sorted(set(data) - known):
        r.error(str(extra), f"is not a known field ({', '.join(sorted(known))})")
    dating = truth.check(rel, r.entry, sources, contacts, hours)
    r.problems.extend(dating.problems)
    if not (entry_id and name and summary and verified):
        return None
    return dict(id=entry_id, name=name, summary=summary, status=status, contacts=contacts, hours=hours,
                sources=sources, verified=verified, notes=notes, file=rel,
                facts_as_of=dating.facts_as_of, hours_as_of=dating.hours_as_of)


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
    service_id = data.get("id")
    if service_id and service_id != path.stem:
        r.error("id", f"must equal the file name '{path.stem}'")
    if service_id and not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", str(service_id)):
        r.error("id", "use lower-case letters, digits and dashes only (deep links use it)")
    if service_id and len(str(service_id)) > 40:
        r.error("id", "keep it under 40 characters: buttons and links carry it (Telegram allows 64)")
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
    codes, provinces = _place_list(area, "area", r, places, ambiti)
    if not codes and not provinces:
        r.error("area", "names no comune, ambito or province: where does it serve?")
    service_municipi = frozenset(int(m) for m in r.strings(area, "municipi") if str(m).isdigit())
    if service_municipi - set(municipi):
        r.error("area.municipi", f"Municipi are numbered {municipi[0]}-{municipi[-1]}")
    run_by = r.text(data, "run_by") or ""
    funded_by = r.text(data, "funded_by", required=False) or ""
    valid_from, valid_until = r.day(data, "valid_from"), r.day(data, "valid_until")
    if valid_from and valid_until and valid_until < valid_from:
        r.error("valid_until", "ends before it starts")
    common = _service_fields(data, r, places, codes, rel, _SERVICE_FIELDS)
    if common is None:
        return None
    return Service(
        **common, needs=service_needs, ages=service_ages, comuni=codes, provinces=provinces,
        municipi=service_municipi, run_by=run_by, funded_by=funded_by, valid_from=valid_from,
        valid_until=valid_until, fallback=fallback,
    )


@dataclass(frozen=True)
class _Safety:
    lines: dict[str, Service]
    topics: dict[str, tuple[str, tuple[str, ...]]]  # id -> (text, line ids)
    outside: tuple[str, ...]


def _load_safety(root: Path, problems: list[Problem], places: _Places) -> _Safety:
    """safety.yaml: national lines (with sources, like services) and the topics that show them."""
    rel = "safety.yaml"
    data = _read_yaml(root / rel, root, problems)
    if data is None:
        return _Safety({}, {}, ())
    if not isinstance(data, dict):
        problems.append(Problem("error", rel, "", "", "must be a mapping with lines, topics and outside"))
        return _Safety({}, {}, ())
    lines: dict[str, Service] = {}
    for i, item in enumerate(data.get("lines") or []):
        r = _Reader(problems, rel, str(item.get("id", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}")
        if not isinstance(item, dict):
            r.error("lines", "each line must be a mapping like a service: id, name, summary, contacts, ...")
            continue
        common = _service_fields(item, r, places, frozenset(), rel, _COMMON_FIELDS)
        if common:
            if common["id"] in lines:
                r.error("id", "is used twice")
            lines[common["id"]] = Service(**common, needs=(), ages=(), comuni=frozenset(),
                                          provinces=frozenset(), municipi=frozenset(), run_by="", funded_by="")
    topics: dict[str, tuple[str, tuple[str, ...]]] = {}
    for i, item in enumerate(data.get("topics") or []):
        r = _Reader(problems, rel, str(item.get("id", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}")
        if not isinstance(item, dict):
            r.error("topics", "each topic must be a mapping {id, text, lines}")
            continue
        topic_id, text = r.text(item, "id"), r.text(item, "text")
        ids = r.strings(item, "lines")
        for line in ids:
            if line not in lines:
                r.error("lines", f"'{line}' is not a line of safety.yaml ({', '.join(lines)})")
        if topic_id and text:
            topics[topic_id] = (text, ids)
    r = _Reader(problems, rel, "")
    outside = r.strings(data, "outside")
    for line in outside:
        if line not in lines:
            r.error("outside", f"'{line}' is not a line of safety.yaml ({', '.join(lines)})")
    return _Safety(lines, topics, outside)


_AUDIENCE_FIELDS = ("id", "payload", "command", "lang", "need", "welcome", "menu", "also")


def _load_audiences(root: Path, problems: list[Problem], needs: Mapping[str, Need]) -> dict[str, Audience]:
    """audiences.yaml: entry points of their own (payload, command, language, need, texts)."""
    rel = "audiences.yaml"
    if not (root / rel).exists():
        return {}
    data = _read_yaml(root / rel, root, problems)
    audiences: dict[str, Audience] = {}
    items = data.get("audiences") if isinstance(data, dict) else None
    if not isinstance(items, list):
        if data is not None:
            problems.append(Problem("error", rel, "", "audiences", "must be a list of audiences"))
        return audiences
    seen: dict[str, set[str]] = {"payload": set(), "command": set()}
    for i, item in enumerate(items):
        r = _Reader(problems, rel, str(item.get("id", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}")
        if not isinstance(item, dict):
            r.error("", f"each audience must be a mapping with {', '.join(_AUDIENCE_FIELDS)}")
            continue
        values = {key: r.text(item, key) for key in _AUDIENCE_FIELDS}
        for key in ("payload", "command"):
            value = values[key]
            if value and not re.fullmatch(r"[a-z0-9]{2,20}", value):
                r.error(key, f"'{value}' must be 2-20 lower-case letters or digits (links and commands carry it)")
            elif value in seen[key]:
                r.error(key, f"'{value}' is used by another audience")
            seen[key].add(value or "")
        if values["need"] and values["need"] not in needs:
            r.error("need", f"'{values['need']}' is not a need of needs.yaml ({', '.join(needs)})")
        for extra in sorted(set(item) - set(_AUDIENCE_FIELDS)):
            r.error(str(extra), f"is not a known field ({', '.join(_AUDIENCE_FIELDS)})")
        if all(values.values()):
            audiences[values["id"]] = Audience(**values)  # type: ignore[arg-type]
    return audiences


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
    safety = _load_safety(root, problems, places)
    for need in needs.values():
        if need.safety and need.safety not in safety.topics:
            problems.append(Problem("error", "needs.yaml", need.id, "safety",
                                    f"'{need.safety}' is not a topic of safety.yaml ({', '.join(safety.topics)})"))
    topics = {tid: SafetyTopic(tid, text, ids) for tid, (text, ids) in safety.topics.items()}
    audiences = _load_audiences(root, problems, needs)
    ages = _load_ages(root, problems)
    areas = _load_areas(root, problems, places)
    services: dict[str, Service] = {}
    for path in sorted((root / "services").glob("*.yaml")):
        service = _load_service(path, root, problems, places, needs, ages, areas.ambiti, areas.municipi)
        if service:
            services[service.id] = service
    fallbacks = [s.id for s in services.values() if s.fallback]
    if len(fallbacks) != 1:
        problems.append(Problem("error", "services/", "", "fallback",
                                f"exactly one service must be the fallback (found {len(fallbacks)})"))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise KnowledgeError(errors)
    # Where some service of the cooperative is: its ambiti and every comune a service names,
    # even a service that has ended. A province-wide service alone does not make a comune
    # part of it. (Where the cooperative says it works without a service: `works_in`.)
    covered = frozenset().union(*(a.comuni for a in areas.ambiti.values()),
                                *(s.comuni for s in services.values() if not s.fallback))
    return KnowledgeBase(
        services=services, needs=needs, ages=ages, comuni=comuni, elsewhere=elsewhere, ambiti=areas.ambiti,
        menu_comuni=areas.menu, municipi_of=areas.municipi_of, municipi=areas.municipi,
        extra_aliases=areas.aliases, common_words=areas.common, covered=covered,
        works_in=areas.works_in, works_in_provinces=areas.works_in_provinces, patron_days=areas.patron_days,
        lines=safety.lines, safety=topics, outside_lines=safety.outside, audiences=audiences,
    )
