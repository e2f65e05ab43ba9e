"""`python -m bot report`: what families asked and where nothing answered, for the cooperative
and its funders, from the anonymous counts (CSV for a spreadsheet, HTML for a meeting)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from datetime import date
from pathlib import Path

from bot.config import Config
from bot.i18n import load_catalogs
from bot.knowledge import load
from bot.report.cells import Labels, Report, dimensions, make_report
from bot.report.page import html_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (default: $BOT_DB or orienta.sqlite3)")
    parser.add_argument("--since", type=date.fromisoformat, help="first day, YYYY-MM-DD (default: the first counted)")
    parser.add_argument("--until", type=date.fromisoformat, help="last day, YYYY-MM-DD (default: today)")
    parser.add_argument("--by", default="need,comune",
                        help="what the main table is cut by, comma-separated: day, month, channel, lang, comune, "
                             "ambito, municipio, age, need, link (default: need,comune)")
    parser.add_argument("--format", choices=("csv", "html"), default="csv")
    parser.add_argument("--output", "-o", help="write to this file (default: print)")


def csv_report(report: Report) -> str:
    """The same tables as the HTML page, one after the other, each under its title."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"Orienta, dal {report.since} al {report.until}: celle da 1 a 4 scritte < 5, "
                     "gli altri numeri spostati al massimo di 2 (i totali non sono la somma delle righe)"])
    for table in (report.main, report.unmet, report.languages, report.links):
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerows(table.text_rows())
    return out.getvalue()


def main(args: argparse.Namespace, config: Config) -> int:
    from bot.store import SessionStore, StoreError, check_database, is_url

    try:
        by = dimensions(args.by)
    except ValueError as exc:
        print(f"error: --by {exc}", file=sys.stderr)
        return 2
    until = args.until or date.today()
    if args.since and args.since > until:
        print(f"error: --since {args.since} is after --until {until}", file=sys.stderr)
        return 2
    path = args.db or config.db
    if not is_url(path) and not Path(path).exists():
        print(f"error: there is no database at {path} (set --db or BOT_DB)", file=sys.stderr)
        return 2

    async def counts():  # type: ignore[no-untyped-def]
        store = await SessionStore.open(path, secret=config.secret)
        try:
            return await store.counts(args.since, until)
        finally:
            await store.close()

    try:
        check_database(path)
        found = asyncio.run(counts())
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kb = load(config.knowledge_dir)
    labels = Labels(kb, load_catalogs(config.locales_dir))
    first = min((r.day for r in [*found.requests, *found.starts]), default=until.isoformat())
    report = make_report(found, by, labels, (args.since.isoformat() if args.since else first), until.isoformat())
    text = html_report(report) if args.format == "html" else csv_report(report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
