"""The report as one HTML file an operator opens in a browser or prints for a funder.

Self-contained: inline CSS and SVG charts, no script, no font or image from the network.
Charts draw only published numbers (bot.report.cells): a hidden cell gets no bar (the
tables under the charts list it as "< 5").
"""

from __future__ import annotations

from html import escape

from bot.report.cells import HIDDEN, Report, Table

PALETTE = ("#1b6ca8", "#e07b39", "#3a9d5d", "#b84a62", "#7a5cb8", "#c9a227", "#4a8f9c", "#8c6d46")
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f2f2f2; }
p.note { font-size: .85em; color: #555; }
svg text { font-family: sans-serif; font-size: 12px; fill: #222; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } svg, table { page-break-inside: avoid; } }
"""


def html_report(report: Report) -> str:
    r = report
    parts = [
        "<!DOCTYPE html>", '<html lang="it">', "<head>", '<meta charset="utf-8">',
        f"<title>Orienta: richieste dal {escape(r.since)} al {escape(r.until)}</title>",
        f"<style>{STYLE}</style>", "</head>", "<body>",
        f"<h1>Orienta: che cosa chiedono le famiglie, dal {escape(r.since)} al {escape(r.until)}</h1>",
        '<p class="note">Numeri anonimi: nessun nome, numero di telefono o messaggio. Le celle da 1 a 4 sono '
        'scritte "&lt; 5"; gli altri numeri, totali compresi, sono spostati al massimo di 2, così nessuna cella '
        "piccola si ricava per sottrazione. Per questo i totali non sono la somma delle righe. Una richiesta è "
        "una persona per cui la famiglia chiede aiuto (tre figli: tre richieste).</p>",
        "<h2>Dove mancano i servizi: richieste senza servizio, per comune</h2>",
        bar_chart(r.unmet, "unmet-chart", limit=15),
        table_html(r.unmet),
        "<h2>Lingue, mese per mese</h2>",
        stacked_months(r.languages, "languages-chart"),
        table_html(r.languages),
        "<h2>Link e QR che portano le famiglie</h2>",
        bar_chart(r.links, "links-chart", limit=10),
        table_html(r.links),
        f"<h2>{escape(r.main.title)}</h2>",
        table_html(r.main),
        "</body>", "</html>",
    ]
    return "\n".join(parts) + "\n"


def table_html(table: Table) -> str:
    rows = table.text_rows()
    if len(rows) == 1:
        return '<p class="note">Nessuna richiesta in questo periodo.</p>'
    width = len(table.columns)
    head = "".join(f'<th{" class=n" if i >= width else ""}>{escape(h)}</th>' for i, h in enumerate(rows[0]))
    body = []
    for n, row in enumerate(rows[1:], start=1):
        total = ' class="total"' if n == len(rows) - 1 and table.total else ""
        cells = "".join(f'<td{" class=n" if i >= width else ""}>{escape(v)}</td>' for i, v in enumerate(row))
        body.append(f"<tr{total}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def bar_chart(table: Table, css_id: str, limit: int) -> str:
    """Horizontal bars, biggest first; rows under 5 get no bar: one line says how many."""
    visible = [(labels, cells[0].shown) for labels, cells in table.sorted_rows() if cells[0].shown]
    hidden = sum(1 for cells in table.rows.values() if cells[0].shown is None)
    rows = visible[:limit]
    notes = ([f"e altre {len(visible) - limit} righe (nella tabella)"] if len(visible) > limit else []) + (
        [f"{hidden} {'riga' if hidden == 1 else 'righe'} con meno di 5 ({HIDDEN}): senza barra"] if hidden else [])
    if not rows and not notes:
        return ""
    label_width, bar_width, line = 300, 340, 22
    top = max((shown or 0 for _, shown in rows), default=1) or 1
    height = line * (len(rows) + len(notes)) + 10
    out = [f'<svg id="{css_id}" role="img" aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{label_width + bar_width + 60}" height="{height}" viewBox="0 0 {label_width + bar_width + 60} '
           f'{height}">']
    for i, (labels, shown) in enumerate(rows):
        y = 5 + i * line
        name = labels[0] if len(labels[0]) <= 45 else labels[0][:44] + "…"
        w = max(2, round(bar_width * (shown or 0) / top))
        out.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{escape(name)}</text>'
                   f'<rect x="{label_width}" y="{y + 3}" width="{w}" height="{line - 6}" fill="{PALETTE[0]}">'
                   f"<title>{escape(labels[0])}: {shown}</title></rect>"
                   f'<text x="{label_width + w + 5}" y="{y + 15}">{shown}</text>')
    for j, note in enumerate(notes):
        out.append(f'<text x="{label_width}" y="{5 + (len(rows) + j) * line + 15}" fill="#555">{escape(note)}</text>')
    out.append("</svg>")
    return "".join(out)


def stacked_months(table: Table, css_id: str, top_languages: int = 7) -> str:
    """One column per month, stacked by language (the most asked languages, each its colour);
    only published numbers are drawn."""
    months = sorted({labels[0] for labels in table.rows})
    if not months:
        return ""
    per_lang: dict[str, int] = {}
    for (_, lang), cells in table.rows.items():
        per_lang[lang] = per_lang.get(lang, 0) + (cells[0].shown or 0)
    langs = [lang for lang, n in sorted(per_lang.items(), key=lambda kv: (-kv[1], kv[0])) if n][:top_languages]
    heights = {m: sum(table.rows[(m, lang)][0].shown or 0 for lang in langs if (m, lang) in table.rows)
               for m in months}
    top = max(heights.values()) or 1
    col, gap, plot, left, bottom = 46, 14, 220, 40, 40
    width = left + len(months) * (col + gap) + 170
    height = plot + bottom + 20
    out = [f'<svg id="{css_id}" role="img" aria-label="{escape(table.title)}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f'<line x1="{left}" y1="{plot + 10}" x2="{left + len(months) * (col + gap)}" y2="{plot + 10}" '
           'stroke="#888"/>',
           f'<text x="{left - 6}" y="{plot + 10}" text-anchor="end">0</text>',
           f'<text x="{left - 6}" y="20" text-anchor="end">{top}</text>']
    for i, month in enumerate(months):
        x, y = left + gap // 2 + i * (col + gap), plot + 10
        for j, lang in enumerate(langs):
            shown = table.rows[(month, lang)][0].shown if (month, lang) in table.rows else 0
            if not shown:
                continue
            h = plot * shown / top
            y -= h
            out.append(f'<rect x="{x}" y="{y:.1f}" width="{col}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                       f"<title>{escape(month)}, {escape(lang)}: {shown}</title></rect>")
        out.append(f'<text x="{x + col / 2}" y="{plot + 28}" text-anchor="middle">{escape(month)}</text>')
    legend_x = left + len(months) * (col + gap) + 16
    for j, lang in enumerate(langs):
        colour = PALETTE[j % len(PALETTE)]
        out.append(f'<rect x="{legend_x}" y="{14 + j * 20}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 18}" y="{24 + j * 20}">{escape(lang)}</text>')
    out.append("</svg>")
    return "".join(out)
