"""The desk card: a PNG a family shows at a service's desk, or forwards to whoever helps them.

The clerk reads the Italian block at the top, the family reads its own language under it, and
the QR code at the bottom brings the next family to the bot. A card in Arabic that comes out
with unjoined letters, or a Bengali one with broken conjuncts, is worse than no card: it looks
illiterate to the very people it is meant to reassure. So text is laid out with Pillow's Raqm
engine (HarfBuzz shaping plus FriBiDi), never with Pillow's basic layout, and each script gets a
Noto font shipped in `fonts/` (nothing is downloaded at run time; fonts/README.md says where
each file comes from and how the Chinese subset is rebuilt).

One font never covers a whole line: an Arabic sentence holds "Via Padova 36" or "ISEE", a
Bengali one holds «», and Pillow draws a string with a single font. `text_runs` therefore cuts
each line into runs of one font and one direction, ordered by a small subset of the Unicode
Bidirectional Algorithm (weak types, neutrals, levels, reordering of runs); Raqm shapes each
run. `layout` is the whole card as placed runs, so tests compare layouts, not pixels, and
`render_card` draws exactly that list.

Pillow and segno are imported inside the functions: the console chat must start on a machine
where Pillow's Raqm cannot load its system FriBiDi (Debian's libfribidi0), and only asking for
a card then fails, with an error that names the missing library.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"

# A phone screen's width: the card is read on the family's phone as often as on paper.
CARD_WIDTH = 1080
MARGIN = 64
INNER_WIDTH = CARD_WIDTH - 2 * MARGIN
TEXT_SIZE = 40  # px: readable at arm's length across a desk
TITLE_SIZE = 50
LINK_SIZE = 30
LEADING = 10  # px between two lines of a block
BLOCK_GAP = 36  # px above and below the rule between two blocks
TITLE_GAP = 14  # px between a block's title and its first line
QR_TARGET = 440  # px: the side the QR code gets at most
QR_BORDER = 4  # modules of quiet zone, as the QR standard asks
QR_GAP = 44

# Grey levels: the card is black on white (a grey PNG is a third of a colour one, and prints anywhere).
INK = 17
RULE = 200
PAPER = 255


class CardRenderingError(RuntimeError):
    """The card cannot be drawn correctly on this machine (a library or a font file is missing)."""


@dataclass(frozen=True)
class CardBlock:
    lang: str  # language code: it en fr es ro sq ar ur ps uk ru zh fil bn si ti
    title: str  # e.g. the service name
    lines: tuple[str, ...]  # plain sentences: the request, address, hours...


@dataclass(frozen=True)
class PlacedLine:
    """One piece of the card as drawn: a run of text in one font and one direction.

    A visual line is one PlacedLine unless it mixes scripts (an Arabic line with "Via Roma 12"
    is two, on the same `y`). `x`, `width` are the run's advance box; `y`, `height` the line's box;
    text is drawn with its baseline at `baseline`. `kind` is "title", "text", "link", "qr" (the
    code of `text`, a square of `width` px with a `QR_BORDER`-module quiet zone) or "rule" (the
    thin line between two blocks).
    """

    text: str
    font: str  # file name in fonts/; "" for the QR code and the rules
    direction: str  # "ltr" or "rtl"
    x: int
    y: int
    width: int
    height: int
    baseline: int = 0
    size: int = 0
    lang: str = ""
    kind: str = "text"


@dataclass(frozen=True)
class Run:
    """Characters of a line that are drawn together: one font, one direction (`level` is the
    bidi embedding level: even for left-to-right, odd for right-to-left)."""

    text: str
    font: str
    level: int

    @property
    def direction(self) -> str:
        return "rtl" if self.level % 2 else "ltr"


@dataclass(frozen=True)
class _Family:
    regular: str
    bold: str  # the same file as regular where a bold would cost more than it helps
    scale: float = 1.0  # Nastaliq's letters are small for their em: it is set larger


LATIN = _Family("NotoSans-Regular.ttf", "NotoSans-Bold.ttf")  # Latin, Cyrillic, Greek
NASKH = _Family("NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf")
NASTALIQ = _Family("NotoNastaliqUrdu-Regular.ttf", "NotoNastaliqUrdu-Regular.ttf", 1.2)
BENGALI = _Family("NotoSansBengali-Regular.ttf", "NotoSansBengali-Bold.ttf")
SINHALA = _Family("NotoSansSinhala-Regular.ttf", "NotoSansSinhala-Bold.ttf")
ETHIOPIC = _Family("NotoSansEthiopic-Regular.ttf", "NotoSansEthiopic-Bold.ttf")
CJK = _Family("NotoSansCJKsc-Regular-subset.otf", "NotoSansCJKsc-Regular-subset.otf")

# Urdu is read in Nastaliq; Arabic and Pashto (as printed in Afghanistan) in Naskh.
_PRIMARY = {"ar": NASKH, "ps": NASKH, "ur": NASTALIQ, "bn": BENGALI, "si": SINHALA, "ti": ETHIOPIC, "zh": CJK}
# Whatever a block's own font lacks (Latin words, «», a stray word in another script) is looked
# for in these, in this order.
_FALLBACKS = (LATIN, NASKH, BENGALI, SINHALA, ETHIOPIC, CJK)
RTL_LANGUAGES = frozenset({"ar", "ur", "ps"})
_KNOWN_LTR = frozenset({"it", "en", "fr", "es", "ro", "sq", "uk", "ru", "fil"})
# Raqm's language tags (BCP 47), which pick a script's local forms.
_RAQM_LANGUAGE = {"zh": "zh-Hans"}


def families(lang: str) -> tuple[_Family, ...]:
    """The fonts tried, in order, for a character of a block in `lang`."""
    chain = [_PRIMARY.get(lang, LATIN), *_FALLBACKS]
    return tuple(dict.fromkeys(chain))


def fonts_for(lang: str, bold: bool = False) -> tuple[str, ...]:
    """The font files tried, in order, for a block in `lang` (the first is the language's own)."""
    return tuple(dict.fromkeys(f.bold if bold else f.regular for f in families(lang)))


def _scale(font_file: str) -> float:
    return next((f.scale for f in (*_PRIMARY.values(), LATIN) if font_file in (f.regular, f.bold)), 1.0)


# ---------------------------------------------------------------------------------------------
# Font coverage: read from the font's own cmap, so that the choice follows the files shipped.


@cache
def coverage(font_file: str) -> frozenset[int]:
    """The code points `font_file` has a glyph for (its Unicode cmap, formats 4 and 12).

    Read here with `struct` rather than fontTools, which the bot does not depend on."""
    path = FONTS_DIR / font_file
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CardRenderingError(f"font file {path} is missing: see fonts/README.md") from e
    (num_tables,) = struct.unpack_from(">H", data, 4)
    cmap = None
    for i in range(num_tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if tag == b"cmap":
            cmap = offset
    if cmap is None:
        raise CardRenderingError(f"font file {path} has no cmap table")
    (count,) = struct.unpack_from(">H", data, cmap + 2)
    subtables: dict[tuple[int, int], int] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap + offset
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3)):
        if key in subtables:
            return _read_cmap(data, subtables[key])
    raise CardRenderingError(f"font file {path} has no Unicode cmap")


def _read_cmap(data: bytes, at: int) -> frozenset[int]:
    (fmt,) = struct.unpack_from(">H", data, at)
    points: set[int] = set()
    if fmt == 12:
        (groups,) = struct.unpack_from(">I", data, at + 12)
        for i in range(groups):
            start, end, glyph = struct.unpack_from(">III", data, at + 16 + 12 * i)
            points.update(range(start + (glyph == 0), end + 1))
    elif fmt == 4:
        (seg2,) = struct.unpack_from(">H", data, at + 6)
        ends, starts = at + 14, at + 16 + seg2
        deltas, range_offsets = starts + seg2, starts + 2 * seg2
        for i in range(0, seg2, 2):
            (end,) = struct.unpack_from(">H", data, ends + i)
            (start,) = struct.unpack_from(">H", data, starts + i)
            (delta,) = struct.unpack_from(">H", data, deltas + i)
            (range_offset,) = struct.unpack_from(">H", data, range_offsets + i)
            for code in range(start, min(end, 0xFFFE) + 1):
                if range_offset == 0:
                    glyph = (code + delta) & 0xFFFF
                else:
                    (glyph,) = struct.unpack_from(">H", data, range_offsets + i + range_offset + 2 * (code - start))
                    glyph = (glyph + delta) & 0xFFFF if glyph else 0
                if glyph:
                    points.add(code)
    else:
        raise CardRenderingError(f"cmap format {fmt} is not read here")
    return frozenset(points)


# ---------------------------------------------------------------------------------------------
# Runs: which font draws which character, and in which order the runs stand on the line.

_STRONG = {"L": "L", "R": "R", "AL": "R"}


def _bidi_types(text: str, rtl: bool) -> list[str]:
    """Each character's resolved type, L or R, or N for a number (EN/AN that stays a number):
    rules W1-W7 and N1-N2 of the Unicode Bidirectional Algorithm, without explicit embeddings."""
    sos = "R" if rtl else "L"
    raw = [unicodedata.bidirectional(ch) for ch in text]
    types: list[str] = []
    last_strong = sos  # what W2 looks back to
    for i, t in enumerate(raw):
        if t in ("NSM", "BN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"):
            t = types[i - 1] if i else ("R" if rtl else "L")  # W1: a mark is what it marks
        elif t in ("L", "R", "AL"):
            last_strong = t
        elif t == "EN" and last_strong == "AL":
            t = "AN"  # W2: digits after Arabic letters are Arabic numbers
        types.append(t)
    numbers = ("EN", "AN")
    for i in range(1, len(types) - 1):  # W4: one separator between two numbers joins them
        if types[i] in ("ES", "CS") and types[i - 1] in numbers and types[i + 1] == types[i - 1]:
            types[i] = types[i - 1]
    for i, t in enumerate(types):  # W5: % and currency signs next to digits belong to them
        if t == "ET":
            j = i
            while j < len(types) and types[j] == "ET":
                j += 1
            before = i > 0 and types[i - 1] == "EN"
            if before or (j < len(types) and types[j] == "EN"):
                types[i:j] = ["EN"] * (j - i)
    resolved: list[str] = []
    last_strong = sos
    for t in types:  # W6, W7
        if t in ("L", "R", "AL"):
            last_strong = _STRONG[t]
            resolved.append(_STRONG[t])
        elif t == "EN" and last_strong == "L":
            resolved.append("L")
        elif t in numbers:
            resolved.append("N")
        else:
            resolved.append("ON")
    i = 0
    while i < len(resolved):  # N1, N2: a neutral takes its neighbours' side, else the paragraph's
        if resolved[i] != "ON":
            i += 1
            continue
        j = i
        while j < len(resolved) and resolved[j] == "ON":
            j += 1
        before = sos if i == 0 else resolved[i - 1]
        after = sos if j == len(resolved) else resolved[j]
        before, after = ("R" if before == "N" else before), ("R" if after == "N" else after)
        resolved[i:j] = [before if before == after else sos] * (j - i)
        i = j
    return resolved


def _levels(types: list[str], rtl: bool) -> list[int]:
    """Embedding levels (rules I1, I2): numbers are always left-to-right inside their side."""
    if rtl:
        return [1 if t == "R" else 2 for t in types]
    return [0 if t == "L" else 1 if t == "R" else 2 for t in types]


def _pick(ch: str, preferred: Sequence[str], chain: Sequence[str]) -> str:
    code = ord(ch)
    for font_file in (*preferred, *chain):
        if code in coverage(font_file):
            return font_file
    return chain[0]  # nothing has it: the language's own font draws its missing-glyph box


def text_runs(text: str, lang: str, bold: bool = False) -> list[Run]:
    """`text` (one line, logical order) as runs in visual order, left to right.

    A letter goes to the first font of the language's chain that has it; a space, a digit or a
    punctuation mark stays with its neighbour's font when that font has it, so that "Orienta!"
    is not cut in two and Arabic keeps its own comma."""
    chain = fonts_for(lang, bold)
    rtl = _is_rtl(lang, text)
    types = _bidi_types(text, rtl)
    levels = _levels(types, rtl)
    fonts: list[str | None] = [None] * len(text)
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if types[i] in ("L", "R") and category[0] in "LS":
            fonts[i] = _pick(ch, (), chain)
    for i, ch in enumerate(text):
        if fonts[i] is not None:
            continue
        category = unicodedata.category(ch)
        if i and (category in ("Mn", "Mc", "Me") or unicodedata.bidirectional(ch) == "BN"):
            fonts[i] = fonts[i - 1]  # a vowel sign or a joiner is drawn with what it is joined to
            continue
        left = next(((fonts[k], levels[k]) for k in range(i - 1, -1, -1) if fonts[k]), (None, -1))
        right = next(((fonts[k], levels[k]) for k in range(i + 1, len(text)) if fonts[k]), (None, -1))
        fonts[i] = _pick(ch, [f for f, lv in (left, right) if f and lv == levels[i]], chain)
    runs: list[Run] = []
    for ch, font_file, level in zip(text, fonts, levels, strict=True):
        assert font_file is not None
        if runs and runs[-1].font == font_file and runs[-1].level == level:
            runs[-1] = Run(runs[-1].text + ch, font_file, level)
        else:
            runs.append(Run(ch, font_file, level))
    return _reorder(runs)


def _reorder(runs: list[Run]) -> list[Run]:
    """Rule L2 on whole runs: from the highest level down to the lowest odd one, reverse every
    stretch of runs at that level or higher (Raqm orders the characters inside each run)."""
    if not runs:
        return runs
    highest = max(r.level for r in runs)
    lowest_odd = min((r.level for r in runs if r.level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        out: list[Run] = []
        stretch: list[Run] = []
        for r in runs:
            if r.level >= level:
                stretch.append(r)
            else:
                out.extend(reversed(stretch))
                stretch = []
                out.append(r)
        out.extend(reversed(stretch))
        runs = out
    return runs


def _is_rtl(lang: str, text: str) -> bool:
    if lang in RTL_LANGUAGES:
        return True
    if lang in _PRIMARY or lang in _KNOWN_LTR:
        return False
    first = next((unicodedata.bidirectional(c) for c in text if unicodedata.bidirectional(c) in _STRONG), "L")
    return first != "L"  # a language not listed here: its first letter decides



# ---------------------------------------------------------------------------------------------
# Pillow, loaded only when a card is asked for.


def _require_raqm() -> None:
    """Fail loudly rather than draw Arabic unjoined: Pillow silently falls back to its basic
    layout when Raqm is missing, and its wheels load FriBiDi from the system at run time."""
    try:
        from PIL import features
    except ImportError as e:  # pragma: no cover - Pillow is a dependency
        raise CardRenderingError("Pillow is not installed: `pip install -e .` installs it") from e
    if not features.check_feature("fribidi"):
        raise CardRenderingError(
            "Pillow's Raqm text layout cannot load the FriBiDi library (libfribidi.so.0): "
            "install Debian's libfribidi0 (`apt-get install libfribidi0`) to draw desk cards"
        )
    if not features.check_feature("raqm") or not features.check_feature("harfbuzz"):
        raise CardRenderingError(
            "this Pillow has no Raqm text layout (Raqm, HarfBuzz): install Pillow's own wheel from PyPI"
        )


@lru_cache(maxsize=64)
def load_font(font_file: str, size: int) -> ImageFont.FreeTypeFont:
    """`fonts/<font_file>` at `size` px, laid out by Raqm (shaping and bidi), never basic layout."""
    _require_raqm()
    from PIL import ImageFont

    path = FONTS_DIR / font_file
    if not path.exists():
        raise CardRenderingError(f"font file {path} is missing: see fonts/README.md")
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.RAQM)


def _run_size(run: Run, size: int) -> int:
    return round(size * _scale(run.font))


@dataclass(frozen=True)
class _Measured:
    """A line's runs (visual order) with their advances, and its ink box around the origin
    (left, top, right, bottom; the baseline is y = 0). The ink matters: a Nastaliq kaf or an
    italic-like swash reaches past the advance box, and must not reach past the card's margin."""

    runs: tuple[Run, ...]
    sizes: tuple[int, ...]
    widths: tuple[int, ...]
    ink: tuple[int, int, int, int]

    @property
    def advance(self) -> int:
        return sum(self.widths)

    @property
    def left(self) -> int:
        return min(0, self.ink[0])

    @property
    def right(self) -> int:
        return max(self.advance, self.ink[2])

    @property
    def extent(self) -> int:
        return self.right - self.left


@lru_cache(maxsize=4096)
def _measure(text: str, lang: str, size: int, bold: bool) -> _Measured:
    language = _RAQM_LANGUAGE.get(lang, lang)
    runs = tuple(text_runs(text, lang, bold))
    sizes = tuple(_run_size(r, size) for r in runs)
    widths: list[int] = []
    left = top = right = bottom = 0
    x = 0
    for run, run_size in zip(runs, sizes, strict=True):
        font = load_font(run.font, run_size)
        width = math.ceil(font.getlength(run.text, direction=run.direction, language=language))
        ink_l, ink_t, ink_r, ink_b = font.getbbox(run.text, direction=run.direction, language=language, anchor="ls")
        left, top = min(left, x + ink_l), min(top, ink_t)
        right, bottom = max(right, x + ink_r), max(bottom, ink_b)
        widths.append(width)
        x += width
    return _Measured(runs, sizes, tuple(widths), (int(left), int(top), int(right), int(bottom)))


# ---------------------------------------------------------------------------------------------
# Wrapping by words (CJK: by characters), never wider than the card.

_CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))
_NO_BREAK_BEFORE = frozenset("，。、！？：；）》」』〉】〕”’…·,.!?:;)]}%")
_NO_BREAK_AFTER = frozenset("（《「『〈【〔“‘([{")
_BREAK_SPACES = frozenset(" \u3000")  # not the no-break space of « Bonjour »


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def _segments(text: str) -> list[str]:
    """`text` cut where a line may end: after spaces, and around each CJK character (but not
    before a closing mark nor after an opening one). Spaces stay at the end of their segment."""
    segments: list[str] = []
    current = ""
    for i, ch in enumerate(text):
        prev = text[i - 1] if i else ""
        breakable = bool(current) and (
            (prev in _BREAK_SPACES and ch not in _BREAK_SPACES)
            or ((_is_cjk(ch) or _is_cjk(prev)) and ch not in _BREAK_SPACES and prev not in _BREAK_SPACES)
        )
        if breakable and (ch in _NO_BREAK_BEFORE or prev in _NO_BREAK_AFTER):
            breakable = False
        if breakable:
            segments.append(current)
            current = ""
        current += ch
    if current:
        segments.append(current)
    return segments


def _clusters(text: str) -> list[str]:
    """Pieces a too-long word (a link) may be cut into: never inside a conjunct or after a joiner."""
    out: list[str] = []
    for ch in text:
        glued = unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in "\u200c\u200d"
        if out and (glued or out[-1][-1] in "\u200c\u200d\u09cd\u0dca\u094d"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def wrap(text: str, lang: str, size: int, max_width: float = INNER_WIDTH, bold: bool = False) -> list[str]:
    """`text` as lines (logical order) no wider than `max_width` px when drawn."""
    def fits(candidate: str) -> bool:
        return _measure(candidate.rstrip(), lang, size, bold).extent <= max_width

    pieces: list[str] = []
    for segment in _segments(re.sub(r"[ \t\r\n]+", " ", text).strip()):
        if fits(segment):
            pieces.append(segment)
            continue
        current = ""
        for cluster in _clusters(segment):  # a word wider than the card: cut it anywhere
            if current and not fits(current + cluster):
                pieces.append(current)
                current = ""
            current += cluster
        if current:
            pieces.append(current)
    lines: list[str] = []
    current = ""
    for piece in pieces:
        if current and not fits(current + piece):
            lines.append(current.rstrip())
            current = ""
        current += piece
    if current.strip():
        lines.append(current.rstrip())
    return lines


# ---------------------------------------------------------------------------------------------
# The card as placed runs.


def _ordered(blocks: Sequence[CardBlock]) -> list[CardBlock]:
    """Italian first: the person at the desk reads it; then the other blocks as given."""
    return sorted(blocks, key=lambda b: b.lang != "it")


def _paragraph(
    text: str, lang: str, size: int, bold: bool, kind: str, y: int, align: str
) -> tuple[list[PlacedLine], int]:
    """`text` wrapped and placed from `y`; returns its pieces and the `y` under it.

    Every line of the paragraph gets the same height, tall enough for the ink of all of them
    (Nastaliq climbs far above its em), so the lines of a block are evenly spaced."""
    lines = [_measure(line, lang, size, bold) for line in wrap(text, lang, size, bold=bold)]
    if not lines:
        return [], y
    ascent, descent = load_font(LATIN.regular, size).getmetrics()
    ascent = max(ascent, *(-line.ink[1] for line in lines))
    descent = max(descent, *(line.ink[3] for line in lines))
    height = ascent + descent + LEADING
    rtl = _is_rtl(lang, text)
    placed: list[PlacedLine] = []
    for line in lines:
        if align == "center":
            x = MARGIN + (INNER_WIDTH - line.extent) // 2 - line.left
        elif rtl:
            x = MARGIN + INNER_WIDTH - line.right
        else:
            x = MARGIN - line.left
        for run, run_size, width in zip(line.runs, line.sizes, line.widths, strict=True):
            placed.append(
                PlacedLine(run.text, run.font, run.direction, x, y, width, height, y + ascent, run_size, lang, kind)
            )
            x += width
        y += height
    return placed, y


def layout(blocks: Sequence[CardBlock], qr_link: str | None = None) -> list[PlacedLine]:
    """The same card as positioned lines (text, font file name, direction 'ltr'/'rtl', x, y, width, height) — what
    render_card draws; used by tests to compare layouts, not pixels."""
    placed: list[PlacedLine] = []
    y = MARGIN
    for n, block in enumerate(_ordered(blocks)):
        if n:
            y += BLOCK_GAP
            placed.append(PlacedLine("", "", "ltr", MARGIN, y, INNER_WIDTH, 2, kind="rule"))
            y += 2 + BLOCK_GAP
        if block.title.strip():
            pieces, y = _paragraph(block.title, block.lang, TITLE_SIZE, True, "title", y, "start")
            placed += pieces
            y += TITLE_GAP
        for line in block.lines:
            for paragraph in line.splitlines():
                pieces, y = _paragraph(paragraph, block.lang, TEXT_SIZE, False, "text", y, "start")
                placed += pieces
    if qr_link:
        import segno

        modules = len(segno.make(qr_link, error="m").matrix) + 2 * QR_BORDER
        side = modules * max(1, QR_TARGET // modules)
        y += QR_GAP
        placed.append(PlacedLine(qr_link, "", "ltr", (CARD_WIDTH - side) // 2, y, side, side, kind="qr"))
        y += side + 8
        pieces, y = _paragraph(qr_link, "en", LINK_SIZE, False, "link", y, "center")
        placed += pieces
    return placed


def card_height(placed: Sequence[PlacedLine]) -> int:
    """The card's height for a layout: its lowest piece plus the margin."""
    return max((p.y + p.height for p in placed), default=0) + MARGIN


def render_card(blocks: Sequence[CardBlock], qr_link: str | None = None) -> bytes:
    """PNG bytes: blocks top to bottom (Italian first), each in its script's font and direction; the QR of qr_link
    at the bottom with the link written under it."""
    placed = layout(blocks, qr_link)
    from PIL import Image, ImageDraw

    image = Image.new("L", (CARD_WIDTH, card_height(placed)), PAPER)
    draw = ImageDraw.Draw(image)
    for p in placed:
        if p.kind == "rule":
            draw.rectangle((p.x, p.y, p.x + p.width - 1, p.y + p.height - 1), fill=RULE)
        elif p.kind == "qr":
            _draw_qr(draw, p)
        else:
            draw.text(
                (p.x, p.baseline),
                p.text,
                font=load_font(p.font, p.size),
                fill=INK,
                anchor="ls",
                direction=p.direction,
                language=_RAQM_LANGUAGE.get(p.lang, p.lang),
            )
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _draw_qr(draw: ImageDraw.ImageDraw, p: PlacedLine) -> None:
    """segno's own matrix, one square per dark module: the code stays sharp at any size."""
    import segno

    matrix = segno.make(p.text, error="m").matrix
    scale = p.width // (len(matrix) + 2 * QR_BORDER)
    left, top = p.x + QR_BORDER * scale, p.y + QR_BORDER * scale
    for row, bits in enumerate(matrix):
        for col, dark in enumerate(bits):
            if dark:
                x, y = left + col * scale, top + row * scale
                draw.rectangle((x, y, x + scale - 1, y + scale - 1), fill=0)

