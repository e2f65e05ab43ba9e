"""The desk card: real shaping, the right font and direction per language, no tofu, no overflow.

Layouts are compared, not pixels: `layout()` is what `render_card` draws. Where a test looks at
pixels (the QR code), it samples them where the layout says they are.
"""

from __future__ import annotations

import io
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import segno
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from PIL import Image, ImageFont, features

from bot import card_image
from bot.card_image import (
    FONTS_DIR,
    INNER_WIDTH,
    MARGIN,
    QR_BORDER,
    CardBlock,
    CardRenderingError,
    PlacedLine,
    card_height,
    fonts_for,
    layout,
    load_font,
    render_card,
    text_runs,
)

LOCALES = Path(__file__).resolve().parent.parent / "locales"
RIGHT = MARGIN + INNER_WIDTH

# What each language must be drawn in: written out here, not read from the module.
OWN_FONT = {
    "ar": "NotoNaskhArabic-Regular.ttf",
    "ps": "NotoNaskhArabic-Regular.ttf",
    "ur": "NotoNastaliqUrdu-Regular.ttf",
    "bn": "NotoSansBengali-Regular.ttf",
    "si": "NotoSansSinhala-Regular.ttf",
    "ti": "NotoSansEthiopic-Regular.ttf",
    "zh": "NotoSansCJKsc-Regular-subset.otf",
}
LATIN_FONT = "NotoSans-Regular.ttf"
RTL = {"ar", "ur", "ps"}
# Sentences every catalog translates: a service's description, a request, the hours.
SAMPLE_IDS = (
    "Sportello per le persone straniere del Comune di Segrate.",
    "Chiedi il mediatore all'ufficio del Comune dove devi andare.",
    "Risponde 24 ore su 24, tutti i giorni.",
)
SAMPLE_TITLE = "Cerca altri servizi"
LINK = "https://t.me/OrientaBot?start=ar_015210_documents"


def catalog_languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALES.glob("*/LC_MESSAGES/orienta.po"))


def msgstrs(lang: str) -> list[str]:
    with open(LOCALES / lang / "LC_MESSAGES" / "orienta.po", "rb") as f:
        catalog = read_po(f)
    out: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        out += [s for s in strings if s]
    return out


def sample_block(lang: str) -> CardBlock:
    """The family's block, from the real catalog: the sample messages, or (should they be
    reworded) the catalog's longest translations, which wrap the most."""
    with open(LOCALES / lang / "LC_MESSAGES" / "orienta.po", "rb") as f:
        catalog = {m.id: m.string for m in read_po(f) if isinstance(m.id, str) and isinstance(m.string, str)}
    translated = {i: s for i, s in catalog.items() if s and "\n" not in s}
    lines = [next((s for i, s in translated.items() if i.startswith(start)), "") for start in SAMPLE_IDS]
    longest = sorted(translated.values(), key=len, reverse=True)
    lines = [line or longest[n] for n, line in enumerate(lines)]
    title = translated.get(SAMPLE_TITLE) or min((s for s in translated.values() if len(s) > 8), key=len)
    return CardBlock(lang, title, (*lines, "Via Padova 36, 20127 Milano"))


ITALIAN = CardBlock(
    "it",
    "Sportello stranieri — Comune di Segrate",
    ("Il bambino ha bisogno di un mediatore culturale.", "Via Padova 36, 20127 Milano — lun-ven 9:00-12:30"),
)


@pytest.fixture(scope="module")
def cmaps() -> dict[str, set[int]]:
    return {p.name: set(TTFont(p, fontNumber=0).getBestCmap()) for p in font_files()}


def font_files() -> list[Path]:
    return sorted(p for p in FONTS_DIR.iterdir() if p.suffix in (".ttf", ".otf"))


def lines_of(placed: list[PlacedLine], lang: str) -> dict[int, list[PlacedLine]]:
    """A block's visual lines: its pieces grouped by the line they stand on."""
    by_y: dict[int, list[PlacedLine]] = {}
    for p in placed:
        if p.lang == lang and p.kind in ("title", "text"):
            by_y.setdefault(p.y, []).append(p)
    return by_y


def own_script(ch: str, lang: str) -> bool:
    """A letter of the language's own script (not a Latin word inside it)."""
    return unicodedata.category(ch).startswith("L") and not ch.isascii() and ord(ch) > 0x24F and lang in OWN_FONT


# --- the card renders, in the right font and direction ------------------------------------


def test_raqm_is_there() -> None:
    # Everything below means nothing under Pillow's basic layout (no joining, no conjuncts).
    assert features.check_feature("raqm"), "Pillow's Raqm is missing: install libfribidi0"
    assert load_font(LATIN_FONT, 40).layout_engine == ImageFont.Layout.RAQM


@pytest.mark.parametrize("lang", ["ar", "bn", "zh", "ti", "si", "ur", "ps"])
def test_card_renders_in_the_languages_own_font_and_direction(lang: str) -> None:
    blocks = [sample_block(lang), ITALIAN]
    png = render_card(blocks, LINK)
    image = Image.open(io.BytesIO(png))
    image.load()
    placed = layout(blocks, LINK)
    assert image.format == "PNG"
    assert image.size == (card_image.CARD_WIDTH, card_height(placed))
    assert image.height > 600

    # Italian first, whatever order the blocks came in: the clerk reads the top.
    first = next(p for p in placed if p.kind in ("title", "text"))
    assert first.lang == "it"
    assert all(p.y < min(q.y for q in placed if q.lang == lang) for p in placed if p.lang == "it")

    lines = lines_of(placed, lang)
    assert len(lines) >= 4
    own = [p for p in placed if p.lang == lang and any(own_script(c, lang) for c in p.text)]
    assert own, "the family's block has no text in its own script"
    assert {p.font for p in own if p.kind == "text"} == {OWN_FONT[lang]}
    assert {p.direction for p in own} == {"rtl" if lang in RTL else "ltr"}
    gray = image.convert("L")
    for pieces in lines.values():
        # Aligned to the block's side: its advance box within a few px of the margin (a Nastaliq
        # swash may reach past its advance), and its ink right up to the margin, never beyond.
        top, bottom = pieces[0].y, pieces[0].y + pieces[0].height
        ink = Image.eval(gray.crop((0, top, gray.width, bottom)), lambda v: 255 if v < 160 else 0).getbbox()
        assert ink is not None
        if lang in RTL:
            assert max(p.x + p.width for p in pieces) >= RIGHT - 32
            assert RIGHT - 10 <= ink[2] <= RIGHT + 1
        else:
            assert MARGIN <= min(p.x for p in pieces) <= MARGIN + 16  # + a vowel sign's overhang
            # A full-width （ or 「 keeps its glyph in the right half of its square.
            slack = card_image.TEXT_SIZE if min(pieces, key=lambda p: p.x).text[0] in "（《「『“" else 10
            assert MARGIN - 1 <= ink[0] <= MARGIN + slack


def test_arabic_line_with_latin_words_keeps_each_script_in_its_font() -> None:
    runs = text_runs("مرحبا Orienta!", "ar")
    assert [(r.text, r.font, r.direction) for r in runs] == [
        ("!", OWN_FONT["ar"], "rtl"),  # the sentence's end is at the left, as Arabic reads
        ("Orienta", LATIN_FONT, "ltr"),
        ("مرحبا ", OWN_FONT["ar"], "rtl"),
    ]
    address = text_runs("العنوان: Via Padova 36، ميلانو", "ar")
    assert ("Via Padova 36", LATIN_FONT, "ltr") in [(r.text, r.font, r.direction) for r in address]
    assert [r.text for r in address][-1] == "العنوان: "  # the line starts at the right


def test_a_latin_block_is_one_run() -> None:
    assert [(r.text, r.font) for r in text_runs("Vă rugăm: ș ț ë ç — «Orienta»", "ro")] == [
        ("Vă rugăm: ș ț ë ç — «Orienta»", LATIN_FONT)
    ]


# --- shaping really happens --------------------------------------------------------------


def basic(font_file: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS_DIR / font_file), size, layout_engine=ImageFont.Layout.BASIC)


def title_width(lang: str, title: str) -> int:
    (piece,) = [p for p in layout([CardBlock(lang, title, ())]) if p.kind == "title"]
    return piece.width


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("ar", "مستشفى"),  # joined forms are narrower than the isolated letters basic layout draws
        ("bn", "ক্ষমা"),  # the conjunct ক্ষ is one glyph, not ক + ্ + ষ side by side
        ("si", "ශ්‍රී"),  # ශ්‍රී: the ZWJ conjunct
        ("ur", "پاکستان"),
    ],
)
def test_layout_uses_shaped_widths(lang: str, text: str) -> None:
    size = card_image.TITLE_SIZE
    font_file = fonts_for(lang, bold=True)[0]
    if lang == "ur":
        size = round(size * 1.2)
    shaped = load_font(font_file, size).getlength(text, direction="rtl" if lang in RTL else "ltr")
    unshaped = basic(font_file, size).getlength(text)
    assert abs(shaped - unshaped) > 2, "Raqm and basic layout agree: nothing was shaped"
    assert title_width(lang, text) == pytest.approx(shaped, abs=1)


def test_bengali_conjunct_is_drawn_as_one_shape() -> None:
    font = load_font("NotoSansBengali-Regular.ttf", 80)
    joined = font.getmask("ক্ষ").getbbox()
    apart = basic("NotoSansBengali-Regular.ttf", 80).getmask("ক্ষ").getbbox()
    assert joined != apart


# --- no tofu: the catalogs follow the fonts ----------------------------------------------


def test_the_cmap_reader_agrees_with_fonttools(cmaps: dict[str, set[int]]) -> None:
    for name, cmap in cmaps.items():
        assert card_image.coverage(name) == cmap, name


@pytest.mark.parametrize("lang", catalog_languages())
def test_every_translated_character_has_a_glyph(lang: str, cmaps: dict[str, set[int]]) -> None:
    missing: set[str] = set()
    for text in msgstrs(lang):
        for line in text.splitlines():
            for bold in (False, True):
                for run in text_runs(line, lang, bold):
                    for ch in run.text:
                        if unicodedata.category(ch) != "Cc" and ord(ch) not in cmaps[run.font]:
                            missing.add(f"{ch!r} U+{ord(ch):04X} in {run.font}")
                        if own_script(ch, lang):
                            assert run.font == fonts_for(lang, bold)[0], (ch, run)
    assert not missing, f"{lang}: no glyph for {sorted(missing)} (see fonts/README.md)"


def test_every_font_file_is_credited() -> None:
    readme = (FONTS_DIR / "README.md").read_text(encoding="utf-8")
    assert (FONTS_DIR / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE") == 1
    for path in font_files():
        assert path.name in readme, path.name
    for lang in ["it", *OWN_FONT]:
        for bold in (False, True):
            assert all((FONTS_DIR / name).exists() for name in fonts_for(lang, bold))
    assert sum(p.stat().st_size for p in font_files()) < 8_000_000


# --- wrapping ----------------------------------------------------------------------------


def inside(placed: list[PlacedLine]) -> None:
    for p in placed:
        assert p.x >= MARGIN and p.x + p.width <= RIGHT, p


def test_long_italian_line_wraps_by_words_inside_the_card() -> None:
    sentence = (
        "Portate il permesso di soggiorno, il codice fiscale, la tessera sanitaria e un documento "
        "d'identità di ogni persona della famiglia: lo sportello vi aiuta a compilare la domanda."
    )
    placed = layout([CardBlock("it", "Documenti", (sentence,))])
    text = [p for p in placed if p.kind == "text"]
    assert len(text) >= 3
    inside(placed)
    assert " ".join(p.text for p in text) == sentence  # by words: nothing cut, nothing lost
    assert all(p.x == MARGIN for p in text)


def test_chinese_wraps_by_character_but_not_before_punctuation() -> None:
    sentence = (
        "请带上居留许可、税号、医疗卡和每个家庭成员的身份证件。"
        "窗口会帮助你填写申请表，也会告诉你还需要什么文件。"
    ) * 2
    placed = layout([CardBlock("zh", "文件", (sentence,))])
    text = [p for p in placed if p.kind == "text"]
    assert len(text) >= 3
    inside(placed)
    assert "".join(p.text for p in text) == sentence
    assert not any(p.text[0] in "，。、" for p in text)


@pytest.mark.parametrize("lang", ["ar", "ur", "bn", "si", "ti", "zh", "ru", "fil"])
def test_no_piece_leaves_the_card(lang: str) -> None:
    block = sample_block(lang)
    long_line = " ".join(block.lines)
    placed = layout([ITALIAN, CardBlock(lang, block.title * 3, (*block.lines, long_line))], LINK + "x" * 80)
    inside([p for p in placed if p.kind != "qr"])


# --- the QR code -------------------------------------------------------------------------


def test_qr_code_is_segnos_matrix_with_the_link_under_it() -> None:
    blocks = [ITALIAN, sample_block("ar")]
    placed = layout(blocks, LINK)
    (qr,) = [p for p in placed if p.kind == "qr"]
    links = [p for p in placed if p.kind == "link"]
    assert qr.text == LINK and qr.width == qr.height
    assert "".join(p.text for p in links) == LINK
    assert all(p.y >= qr.y + qr.height and p.font == LATIN_FONT for p in links)
    assert qr.y > max(p.y for p in placed if p.kind == "text")

    image = Image.open(io.BytesIO(render_card(blocks, LINK))).convert("L")
    matrix = segno.make(LINK, error="m").matrix
    scale = qr.width // (len(matrix) + 2 * QR_BORDER)
    assert scale >= 4  # big enough for a phone camera across a desk
    for row in range(-QR_BORDER, len(matrix) + QR_BORDER):
        for col in range(-QR_BORDER, len(matrix) + QR_BORDER):
            dark = 0 <= row < len(matrix) and 0 <= col < len(matrix) and bool(matrix[row][col])
            x = qr.x + (QR_BORDER + col) * scale + scale // 2
            y = qr.y + (QR_BORDER + row) * scale + scale // 2
            assert (image.getpixel((x, y)) < 128) == dark, (row, col)


def test_no_link_no_qr() -> None:
    assert not [p for p in layout([ITALIAN]) if p.kind in ("qr", "link")]


# --- without Raqm: a clear error, and the bot still starts -------------------------------


def test_missing_fribidi_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = features.check_feature
    monkeypatch.setattr(features, "check_feature", lambda name: False if name == "fribidi" else real(name))
    load_font.cache_clear()
    card_image._measure.cache_clear()
    try:
        with pytest.raises(CardRenderingError, match="libfribidi0"):
            render_card([CardBlock("ar", "مرحبا", ())])
    finally:
        load_font.cache_clear()
        card_image._measure.cache_clear()


def test_importing_the_module_loads_neither_pillow_nor_segno() -> None:
    code = "import sys, bot.card_image; print(sorted(m for m in ('PIL', 'segno') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"
