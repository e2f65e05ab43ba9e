"""`python -m bot chat|telegram|whatsapp|link|kb check`: the bot's entry points."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bot.config import Config, SettingsError
from bot.knowledge import KnowledgeError


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
    kb = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    kb_sub.add_parser("check", help="list errors (exit 1) and warnings (exit 0)")
    return parser


async def _chat(args: argparse.Namespace, config: Config) -> None:
    from bot.conversation import Conversation
    from bot.handlers import console
    from bot.resources import load_resources
    from bot.storage import SessionStore

    resources = load_resources(config)
    store = await SessionStore.open(args.db or config.db_path)
    try:
        conversation = Conversation(resources, store, config.clock)
        await conversation.resume_effects()
        await console.run(conversation, user_id=args.user, lang=args.lang, start=args.start, as_json=args.json)
    finally:
        await store.close()


def _serve(run) -> int:
    """Start a channel: settings or knowledge-base errors are said in plain lines, no traceback."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry the token
    try:
        run()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print("The knowledge base has errors; fix them and start again:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1
    return 0


def _telegram(args: argparse.Namespace, config: Config) -> int:
    from bot.handlers.telegram import TelegramSettings, serve

    def run() -> None:
        settings = TelegramSettings.from_env(dict(os.environ))
        listen = args.listen or os.environ.get("WEBHOOK_LISTEN") or "0.0.0.0"
        port = args.port or int(os.environ.get("PORT") or 8443)
        serve(config, settings, webhook_url=args.webhook, listen=listen, port=port)

    return _serve(run)


def _whatsapp(args: argparse.Namespace, config: Config) -> int:
    from bot.handlers.whatsapp import WhatsAppSettings, serve

    def run() -> None:
        settings = WhatsAppSettings.from_env(dict(os.environ))
        host = args.host or os.environ.get("HOST") or "0.0.0.0"
        serve(config, settings, host, args.port or int(os.environ.get("PORT") or 8000))

    return _serve(run)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config.from_env()
    if args.command == "kb":
        from bot.kb_check import check

        return check(config, sys.stdout)
    if args.command == "link":
        from bot.links import main as link_main

        return link_main(args, config)
    if args.command == "telegram":
        return _telegram(args, config)
    if args.command == "whatsapp":
        return _whatsapp(args, config)
    try:
        asyncio.run(_chat(args, config))
    except KnowledgeError as exc:
        print("The knowledge base has errors; fix them and start again:", file=sys.stderr)
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
