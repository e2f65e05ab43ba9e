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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
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
    Mediator,
    Need,
    Operators,
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

    def mapping(self, data: Any, key: str) -> dict[str, Any]:
        """A mapping field, or {} with an error when it is something else."""
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(key, f"must be a mapping (key: value), not {type(value).__name__}")
            return {}
        return value

    def items(self, data: Any, key: str) -> list[Any]:
        """A list field, or [] with an error when it is something else."""
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, f"must be a list (- item), not {type(value).__name__}")
            return []
        return value

    def whole_numbers(self, data: Mapping[str, Any], key: str) -> tuple[int, ...]:
        values = self.items(data, key)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            self.error(key, "must be a list of whole numbers, e.g. [1, 2]")
            return ()
        return tuple(values)

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


# libyaml's parser when PyYAML has it (the words files are large: 5x faster start-up), the
# same checks either way: they are in the constructor and the resolvers, not the parser.
_SafeBase: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[misc, valid-type]
    """YAML as operators write it, read strictly: a key written twice is an error (the last one
    would silently win), and dates stay text so that a date that does not exist (2026-13-45)
    is reported with its field, not as a crash of the YAML library."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, list | dict):
            raise _DuplicateKey(None, None, "a key must be plain text", key_node.start_mark)
        if key in seen:
            raise _DuplicateKey(None, None, f"'{key}' is written twice in the same mapping", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _read_yaml(path: Path, root: Path, problems: list[Problem], *, empty_ok: bool = False) -> Any:
    """The file's data, or None with one problem that says why (missing, not UTF-8, not YAML,
    a key written twice, empty)."""
    rel = path.relative_to(root).as_posix()
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_Loader)
    except FileNotFoundError:
        problems.append(Problem("error", rel, "", "", "file is missing"))
        return None
    except UnicodeDecodeError:
        problems.append(Problem("error", rel, "", "", "is not UTF-8 text: save it as UTF-8"))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        problems.append(Problem("error", rel, "", "", f"is not valid YAML{where}: {reason}"))
        return None
    except (ValueError, TypeError, RecursionError) as exc:  # a value YAML itself cannot build
        problems.append(Problem("error", rel, "", "", f"is not valid YAML: {type(exc).__name__}"))
        return None
    if data is None and not empty_ok:
        problems.append(Problem("error", rel, "", "", "is empty: write its fields, or delete the file"))
    return data


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
        instead: dict[str, tuple[str, ...]] = {}
        for other, groups in r.mapping(item, "instead_of").items():
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                r.error(f"instead_of.{other}", 'must be a list of age groups, e.g. ["0-5"]')
                continue
            instead[str(other)] = tuple(groups)
        if need_id and label:
            if need_id in needs:
                r.error("id", "is used twice")
            needs[need_id] = Need(need_id, label, safety, instead)
    return needs


def _check_instead_of(needs: dict[str, Need], ages: dict[str, AgeGroup], problems: list[Problem]) -> None:
    """instead_of names needs and age groups that exist."""
    for need in needs.values():
        r = _Reader(problems, "needs.yaml", need.id)
        for other, groups in need.instead_of.items():
            if other not in needs:
                r.error(f"instead_of.{other}", f"is not a need ({', '.join(needs)})")
            for group in groups:
                if group not in ages:
                    r.error(f"instead_of.{other}", f"'{group}' is not an age group of ages.yaml ({', '.join(ages)})")


def _entry(item: Any, i: int) -> str:
    return str(item.get("id", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}"


def _load_ages(root: Path, problems: list[Problem]) -> dict[str, AgeGroup]:
    data = _read_yaml(root / "ages.yaml", root, problems)
    ages: dict[str, AgeGroup] = {}
    if data is not None and not isinstance(data, dict):
        problems.append(Problem("error", "ages.yaml", "", "", "must be a mapping with groups"))
        return ages
    for i, item in enumerate(_Reader(problems, "ages.yaml", "").items(data, "groups")):
        r = _Reader(problems, "ages.yaml", _entry(item, i))
        if not isinstance(item, dict):
            r.error("", 'each age group must be a mapping like {id: "0-5", label: "0-5 anni", from: 0, to: 5}')
            continue
        age_id, label = r.text(item, "id"), r.text(item, "label")
        low, high = item.get("from"), item.get("to")
        if not isinstance(low, int) or (high is not None and not isinstance(high, int)):
            r.error("from", "from/to must be whole years (to may be null)")
            continue
        if age_id and label:
            ages[age_id] = AgeGroup(age_id, label, low, high)
    if not ages and data is not None and not problems:
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
    data = _read_yaml(root / "areas.yaml", root, problems)
    if not isinstance(data, dict):
        if data is not None:
            problems.append(Problem("error", "areas.yaml", "", "", "must be a mapping with ambiti, menu, municipi..."))
        data = {}
    r = _Reader(problems, "areas.yaml", "")
    before = len(problems)
    ambiti: dict[str, Ambito] = {}
    for i, item in enumerate(r.items(data, "ambiti")):
        ar = _Reader(problems, "areas.yaml", _entry(item, i))
        if not isinstance(item, dict):
            ar.error("", "each ambito must be a mapping with id, name, comuni")
            continue
        amb_id, name = ar.text(item, "id"), ar.text(item, "name")
        codes = [places.code(n, ar, "comuni") for n in ar.strings(item, "comuni")]
        if amb_id and name:
            if amb_id in ambiti:
                ar.error("id", "is used twice")
            ambiti[amb_id] = Ambito(amb_id, name, frozenset(c for c in codes if c))
    menu = tuple(c for c in (places.code(n, r, "menu") for n in r.strings(data, "menu")) if c)
    municipi_of = places.code(data["municipi_of"], r, "municipi_of") if data.get("municipi_of") else None
    municipi = r.whole_numbers(data, "municipi")
    if municipi_of and not municipi:
        r.error("municipi", f"'municipi_of' names {data.get('municipi_of')}: list its Municipi, e.g. [1, 2, 3]")
    aliases: dict[str, tuple[str, ...]] = {}
    for name, names in r.mapping(data, "aliases").items():
        code = places.code(name, r, "aliases")
        if code:
            aliases[code] = tuple(str(n) for n in names) if isinstance(names, list) else ()
            if not isinstance(names, list):
                r.error(f"aliases.{name}", "must be a list of names, e.g. [Milan, Mailand]")
    common = frozenset(normalize(w) for w in r.strings(data, "common_words"))
    works = r.mapping(data, "works_in")
    works_codes, provinces = _place_list(works, "works_in", r, places, ambiti, strict=len(problems) == before)
    return _Areas(ambiti, menu, municipi_of, municipi, aliases, common, works_codes, provinces,
                  _patron_days(data.get("patron_days"), r, places))


def _place_list(data: Mapping[str, Any], where: str, r: _Reader, places: _Places,
                ambiti: Mapping[str, Ambito], *, strict: bool = True) -> tuple[frozenset[str], frozenset[str]]:
    """(ISTAT codes, province plate codes) of a mapping of ambiti, comuni and provinces;
    errors name the field under `where` (area.comuni, works_in.ambiti)."""
    r = _Reader(r.problems, r.file, r.entry, prefix=f"{r.prefix}{where}.")
    codes: set[str] = set()
    for amb in r.strings(data, "ambiti"):
        if amb in ambiti:
            codes |= ambiti[amb].comuni
        elif strict:  # areas.yaml broken: its own error says so, once
            r.error("ambiti", f"'{amb}' is not an ambito of areas.yaml ({', '.join(ambiti)})")
    codes |= {c for c in (places.code(n, r, "comuni") for n in r.strings(data, "comuni")) if c}
    provinces = frozenset(r.strings(data, "provinces"))
    for p in provinces - places.provinces:
        r.error("provinces", f"'{p}' is not a province plate code of Lombardy")
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
        r.error("hours", "is missing or not a mapping: write at least {status: not-published}")
        return Hours("not-published")
    status = value.get("status")
    if not isinstance(status, str) or status not in HOURS_STATUSES:
        r.error("hours.status", f"'{status}' must be one of {', '.join(HOURS_STATUSES)}")
        status = "not-published"
    blocks: list[HoursBlock] = []
    hr = _Reader(r.problems, r.file, r.entry, prefix=f"{r.prefix}hours.")
    for j, block in enumerate(hr.items(value, "blocks")):
        where = f"hours.blocks[{j + 1}]"
        if not isinstance(block, dict):
            r.error(where, "must be a mapping with label and slots")
            continue
        slots: list[Slot] = []
        block_reader = _Reader(r.problems, r.file, r.entry, prefix=f"{r.prefix}{where}.")
        for k, slot in enumerate(block_reader.items(block, "slots")):
            sw = f"{where}.slots[{k + 1}]"
            if not isinstance(slot, dict):
                r.error(sw, "must be a mapping like {days: [mon], from: \"09:00\", to: \"12:00\"}")
                continue
            days = slot.get("days") or []
            if not isinstance(days, list):
                r.error(f"{sw}.days", f"must be a list of days, some of {', '.join(WEEKDAYS)}")
                continue
            bad = [d for d in days if not isinstance(d, str) or d not in WEEKDAYS]
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
    if not isinstance(status, str) or status not in SERVICE_STATUSES:
        r.error("status", f"'{status}' must be one of {', '.join(SERVICE_STATUSES)}")
        status = "active"
    before = len(r.problems)
    contacts = _parse_contacts(data.get("contacts"), r)
    hours = _parse_hours(data.get("hours"), r, places, area)
    sources = _parse_sources(data.get("sources"), r)
    facts_readable = len(r.problems) == before  # else the truth check would only repeat the same fault
    verified = r.day(data, "verified", required=True)
    notes = tuple(" ".join(n.split()) for n in r.strings(data, "notes"))
    for extra in sorted(set(data) - known):
        r.error(str(extra), f"is not a known field ({', '.join(sorted(known))})")
    dating = truth.check(rel, r.entry, sources, contacts, hours)
    if facts_readable:
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
    *,
    strict_areas: bool = True,
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
        if n not in needs and needs:  # needs.yaml unreadable: its own error says so, once
            r.error("needs", f"'{n}' is not a need of needs.yaml ({', '.join(needs)})")
    service_ages = r.strings(data, "ages")
    for a in service_ages:
        if a not in ages and ages:
            r.error("ages", f"'{a}' is not an age group of ages.yaml ({', '.join(ages)})")
    if not fallback and (not service_needs or not service_ages):
        r.error("needs" if not service_needs else "ages", "is empty: the service would never be offered")
    area = data.get("area") or {}
    if not isinstance(area, dict):
        r.error("area", "must be a mapping with comuni, ambiti, provinces or municipi")
        area = {}
    codes, provinces = _place_list(area, "area", r, places, ambiti, strict=strict_areas)
    if not codes and not provinces and strict_areas:
        r.error("area", "names no comune, ambito or province: where does it serve?")
    service_municipi = frozenset(_Reader(r.problems, r.file, r.entry, prefix="area.").whole_numbers(area, "municipi"))
    if service_municipi - set(municipi) and strict_areas:
        known = f"numbered {municipi[0]}-{municipi[-1]}" if municipi else "not listed in areas.yaml"
        r.error("area.municipi", f"Municipi are {known}")
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
    top = _Reader(problems, rel, "")
    for i, item in enumerate(top.items(data, "lines")):
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
    for i, item in enumerate(top.items(data, "topics")):
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
        if values["need"] and needs and values["need"] not in needs:
            r.error("need", f"'{values['need']}' is not a need of needs.yaml ({', '.join(needs)})")
        for extra in sorted(set(item) - set(_AUDIENCE_FIELDS)):
            r.error(str(extra), f"is not a known field ({', '.join(_AUDIENCE_FIELDS)})")
        if all(values.values()):
            audiences[values["id"]] = Audience(**values)  # type: ignore[arg-type]
    return audiences


_OPERATOR_FIELDS = ("hours", "answer_within_hours", "mediators")
_MEDIATOR_FIELDS = ("telegram", "languages", "hours")


def _load_operators(root: Path, problems: list[Problem], places: _Places) -> Operators:
    """operators.yaml: when the operators' group is read, how long before a family waiting
    is told again, and which mediators speak which languages. Not a public fact: the
    cooperative writes it; a file without hours makes the bot promise no time."""
    rel = "operators.yaml"
    if not (root / rel).exists():
        return Operators()
    data = _read_yaml(root / rel, root, problems, empty_ok=True)
    if data is None:
        return Operators()
    r = _Reader(problems, rel, "")
    if not isinstance(data, dict):
        r.error("", f"must be a mapping with {', '.join(_OPERATOR_FIELDS)}")
        return Operators()
    for extra in sorted(set(data) - set(_OPERATOR_FIELDS)):
        r.error(str(extra), f"is not a known field ({', '.join(_OPERATOR_FIELDS)})")
    hours = _parse_hours(data.get("hours", {"status": "not-published"}), r, places, frozenset())
    within = data.get("answer_within_hours", 4)
    if isinstance(within, bool) or not isinstance(within, int | float) or not 0 < within <= 168:
        r.error("answer_within_hours", f"'{within}' must be a number of hours, more than 0 and at most 168")
        within = 4
    mediators: list[Mediator] = []
    for i, item in enumerate(r.items(data, "mediators")):
        name = str(item.get("telegram", f"#{i + 1}")) if isinstance(item, dict) else f"#{i + 1}"
        m = _Reader(problems, rel, name, prefix=f"mediators[{i + 1}].")
        if not isinstance(item, dict):
            m.error("", f"each mediator must be a mapping with {', '.join(_MEDIATOR_FIELDS)}")
            continue
        for extra in sorted(set(item) - set(_MEDIATOR_FIELDS)):
            m.error(str(extra), f"is not a known field ({', '.join(_MEDIATOR_FIELDS)})")
        username = m.text(item, "telegram")
        if username and not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{4,31}", username):
            m.error("telegram", f"'{username}' is not a Telegram username like @samira_pi")
            username = None
        languages = m.strings(item, "languages")
        if not languages and "languages" not in item:
            m.error("languages", "list the languages this mediator speaks, e.g. [ar, fr]")
        for code in languages:
            if not re.fullmatch(r"[a-z]{2,3}", code):
                m.error("languages", f"'{code}' is not a language code like ar or fil")
        mediator_hours = _parse_hours(item.get("hours", {"status": "not-published"}), m, places, frozenset())
        if username and languages:
            mediators.append(Mediator(username, tuple(languages), mediator_hours))
    return Operators(hours, timedelta(hours=within), tuple(mediators))


_ODD = (TypeError, AttributeError, ValueError, KeyError, IndexError, RecursionError)


def _guard(problems: list[Problem], file: str, default: Any, read: Callable[[], Any]) -> Any:
    """Run one file's reader; a value of a shape no check foresaw becomes one error naming the
    file (and the reader's other errors stay), never a traceback."""
    try:
        return read()
    except _ODD as exc:
        problems.append(Problem("error", file, "", "", f"has a value of an unexpected kind ({type(exc).__name__}): "
                                                      "compare it with knowledge/README.md and its neighbours"))
        return default


def _broken(problems: list[Problem], file: str) -> bool:
    return any(p.file == file and p.severity == "error" for p in problems)


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
    needs = _guard(problems, "needs.yaml", {}, lambda: _load_needs(root, problems))
    references = dict(needs) if not _broken(problems, "needs.yaml") else {}  # no cascade from a broken file
    safety = _guard(problems, "safety.yaml", _Safety({}, {}, ()), lambda: _load_safety(root, problems, places))
    for need in needs.values():
        if need.safety and need.safety not in safety.topics:
            problems.append(Problem("error", "needs.yaml", need.id, "safety",
                                    f"'{need.safety}' is not a topic of safety.yaml ({', '.join(safety.topics)})"))
    topics = {tid: SafetyTopic(tid, text, ids) for tid, (text, ids) in safety.topics.items()}
    audiences = _guard(problems, "audiences.yaml", {}, lambda: _load_audiences(root, problems, references))
    operators = _guard(problems, "operators.yaml", Operators(), lambda: _load_operators(root, problems, places))
    ages = _guard(problems, "ages.yaml", {}, lambda: _load_ages(root, problems))
    if not _broken(problems, "ages.yaml"):  # no cascade: a broken ages.yaml is said once
        _check_instead_of(needs, ages, problems)
    age_references = ages if not _broken(problems, "ages.yaml") else {}
    areas = _guard(problems, "areas.yaml", _Areas({}, (), None, (), {}, frozenset(), frozenset(), frozenset(), {}),
                   lambda: _load_areas(root, problems, places))
    areas_ok = not _broken(problems, "areas.yaml")
    services: dict[str, Service] = {}
    for path in sorted((root / "services").glob("*.yaml")):
        service = _guard(problems, path.relative_to(root).as_posix(), None, lambda path=path: _load_service(
            path, root, problems, places, references, age_references, areas.ambiti, areas.municipi,
            strict_areas=areas_ok))
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
        operators=operators,
    )
