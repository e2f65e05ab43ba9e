"""`python -m bot chat|kb check`: the bot's entry points."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.config import Config
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
        conversation = Conversation(resources, store, config.current_date)
        await console.run(conversation, user_id=args.user, lang=args.lang, start=args.start, as_json=args.json)
    finally:
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = Config.from_env()
    if args.command == "kb":
        from bot.kb_check import check

        return check(config, sys.stdout)
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
