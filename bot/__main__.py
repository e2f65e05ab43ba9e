"""`python -m bot chat|telegram|whatsapp|serve|link|purge|report|kb check`: the bot's entry points."""

from __future__ import annotations

import argparse
import sys

from bot.config import Config, SettingsError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Orienta, the orientation bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="chat with the bot in this terminal (no token, no network)")
    chat.add_argument("--lang", help="the language the user's app reports, e.g. uk or en-GB")
    chat.add_argument("--start", metavar="PAYLOAD", help="start as from a deep link, e.g. ua")
    chat.add_argument("--json", action="store_true", help="print each bot message as one JSON line")
    chat.add_argument("--db", help="SQLite file for the conversation (default: $BOT_DB or orienta.sqlite3)")
    chat.add_argument("--user", default="local", help="user id in the store (default: local)")
    tg = sub.add_parser("telegram", help="run the Telegram bot (needs TELEGRAM_TOKEN)")
    tg.add_argument("--webhook", metavar="URL", help="receive updates at this public HTTPS URL instead of polling")
    tg.add_argument("--listen", default=None, help="webhook server address (default: $WEBHOOK_LISTEN or 0.0.0.0)")
    tg.add_argument("--port", type=int, default=None, help="webhook server port (default: $PORT or 8443)")
    wa = sub.add_parser("whatsapp", help="serve the WhatsApp Cloud API webhook at /webhook")
    wa.add_argument("--host", default=None, help="address to listen on (default: $HOST or 0.0.0.0)")
    wa.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8000)")
    both = sub.add_parser("serve", help="run Telegram and the WhatsApp webhook in one process, with the "
                          "operators' group answering families of both (needs both channels' settings)")
    both.add_argument("--webhook", metavar="URL", help="take Telegram updates at this public HTTPS URL "
                      "(served on the same port as WhatsApp's /webhook) instead of polling")
    both.add_argument("--host", default=None, help="address to listen on (default: $HOST or 0.0.0.0)")
    both.add_argument("--port", type=int, default=None, help="port (default: $PORT or 8000)")
    link = sub.add_parser("link", help="print an operator's deep link and write its QR code")
    link.add_argument("--bot", help="the bot's username (default: $TELEGRAM_BOT_USERNAME)")
    link.add_argument("--lang", help="language code, e.g. ar, uk")
    link.add_argument("--comune", help="comune name or ISTAT code, e.g. 'Cinisello Balsamo' or 015077")
    link.add_argument("--age", type=int, help="age in years of the person who needs help")
    link.add_argument("--need", help="need id, e.g. school, ukraine")
    link.add_argument("--service", help="one service id, e.g. paderno-sportello")
    link.add_argument("--audience", help="an entry point of knowledge/audiences.yaml, e.g. ukraine (payload ua)")
    link.add_argument("--ukraine", dest="audience", action="store_const", const="ukraine",
                      help="the same as --audience ukraine")
    link.add_argument("--whatsapp", metavar="NUMBER", help="the bot's WhatsApp number (default: $WHATSAPP_NUMBER)")
    link.add_argument("--qr", metavar="BASENAME", help="write BASENAME.png and BASENAME.svg (default: no QR)")
    link.add_argument("--qr-for", choices=("telegram", "whatsapp"), default="telegram",
                      help="which link the QR code opens when both are printed")
    purge = sub.add_parser("purge", help="erase conversations untouched for $BOT_RETENTION_DAYS days (default 30)")
    purge.add_argument("--db", help="SQLite file (default: $BOT_DB or orienta.sqlite3)")
    report = sub.add_parser("report", help="the anonymous report of requests and unmet needs (CSV or HTML)")
    from bot.report.command import add_arguments

    add_arguments(report)
    kb = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_sub.add_parser("check", help="list errors (exit 1) and warnings (exit 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = Config.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "kb":
        from bot.kb_check import check

        return check(config, sys.stdout)
    if args.command == "report":
        from bot.report.command import main as report_main

        return report_main(args, config)
    if args.command == "link":
        from bot.links import main as link_main

        return link_main(args, config)
    from bot import app

    if args.command == "purge":
        return app.purge(config, db=args.db)
    if args.command == "telegram":
        return app.telegram(config, webhook=args.webhook, listen=args.listen, port=args.port)
    if args.command == "serve":
        return app.serve(config, webhook=args.webhook, host=args.host, port=args.port)
    if args.command == "whatsapp":
        return app.whatsapp(config, host=args.host, port=args.port)
    return app.chat(config, db=args.db, user=args.user, lang=args.lang, start=args.start, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main())
