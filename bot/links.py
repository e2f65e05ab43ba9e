"""`python -m bot link`: the deep link (and QR code) an operator hands to a family.

A school mediator in Cinisello prints a poster whose QR code opens the bot in Arabic with
the comune and the need already answered; a Ukrainian help desk hands out the `ua` link (`--audience ukraine`).
The payload grammar is `bot.deeplink`; the URL comes from PTB's own helper.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

from telegram.helpers import create_deep_linked_url

from bot.config import Config
from bot.deeplink import Preset, build
from bot.i18n import load_catalogs
from bot.knowledge import KnowledgeBase, load
from bot.text import latin


def _comune(kb: KnowledgeBase, value: str) -> str:
    if value in kb.comuni:
        return value
    matches = [c.istat for c in kb.comuni.values() if latin(c.name) == latin(value)]
    if not matches:
        raise ValueError(f"'{value}' is not a comune of Lombardy: write its ISTAT name or code")
    return matches[0]


def preset_from_args(args: argparse.Namespace, kb: KnowledgeBase, languages: tuple[str, ...]) -> Preset:
    if args.lang and args.lang not in languages:
        raise ValueError(f"language '{args.lang}' is not shipped (shipped: {', '.join(languages)})")
    if args.need and args.need not in kb.needs:
        raise ValueError(f"need '{args.need}' is not one of: {', '.join(kb.needs)}")
    if args.service and args.service not in kb.services:
        raise ValueError(f"service '{args.service}' is not in knowledge/services/")
    age = None
    if args.age is not None:
        age = kb.age_group(args.age)
        if age is None:
            raise ValueError(f"age {args.age} is not in any age group")
    audience = None
    if args.audience:
        audience = (kb.audiences or {}).get(args.audience)
        if audience is None:
            raise ValueError(f"audience '{args.audience}' is not one of: {', '.join(kb.audiences or {})}")
    return Preset(
        lang=args.lang or (audience.lang if audience else None),
        comune=_comune(kb, args.comune) if args.comune else None,
        age=age,
        need=args.need or (audience.need if audience else None),
        service=args.service,
        audience=audience.id if audience else None,
    )


def telegram_link(username: str, payload: str) -> str:
    return create_deep_linked_url(username.lstrip("@"), payload) if payload else f"https://t.me/{username.lstrip('@')}"


def whatsapp_link(number: str, payload: str) -> str:
    """wa.me link whose prefilled message the WhatsApp channel reads as the same preset."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(f'Orienta #{payload}')}" if payload else f"https://wa.me/{digits}"


def write_qr(url: str, basename: Path) -> list[Path]:
    import segno

    qr = segno.make(url, error="m")
    paths = [basename.with_suffix(".png"), basename.with_suffix(".svg")]
    qr.save(paths[0], scale=10, border=4)
    qr.save(paths[1], scale=10, border=4)
    return paths


def main(args: argparse.Namespace, config: Config) -> int:
    username = args.bot or config.bot_username
    number = args.whatsapp or config.whatsapp_number
    if not username and not number:
        print("error: name the bot with --bot USERNAME (or TELEGRAM_BOT_USERNAME), and/or its WhatsApp number "
              "with --whatsapp NUMBER (or WHATSAPP_NUMBER)", file=sys.stderr)
        return 2
    kb = load(config.knowledge_dir)
    languages = load_catalogs(config.locales_dir).codes
    try:
        preset = preset_from_args(args, kb, languages)
        payload = build(preset, kb)
        urls = [telegram_link(username, payload)] if username else []
        urls += [whatsapp_link(number, payload)] if number else []
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for url in urls:
        print(url)
    if args.qr:  # the QR code opens the first channel named: Telegram if given, else WhatsApp
        qr_url = urls[0] if args.qr_for != "whatsapp" or len(urls) == 1 else urls[-1]
        for path in write_qr(qr_url, Path(args.qr)):
            print(f"wrote {path}")
    return 0
