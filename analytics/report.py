"""`sotto analytics report`: every saved query run on the local warehouse, drawn as a PNG, and
one HTML page that shows each chart next to the numbers and the SQL behind it.

The page is the thing people forward, so it stands alone: inline CSS, no JavaScript, nothing
fetched from elsewhere; the PNGs sit next to it. The charts are ``analytics.charts``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from analytics.charts import DPI, FIGURE_SIZE, chart
from analytics.local import LocalWarehouse, QueryResult, SavedQuery, saved_queries


@dataclass(frozen=True)
class RenderedQuery:
    name: str
    png: Path
    rows: int


@dataclass(frozen=True)
class Report:
    index: Path
    queries: tuple[RenderedQuery, ...]


@dataclass(frozen=True)
class _Section:
    query: SavedQuery
    result: QueryResult
    png_name: str
    alt: str


def _no_progress(items: Iterable[SavedQuery]) -> Iterable[SavedQuery]:
    return items


def render_report(
    warehouse: LocalWarehouse,
    out_dir: Path,
    *,
    title: str = "Sotto analytics",
    generated_at: datetime,
    progress: Callable[[Iterable[SavedQuery]], Iterable[SavedQuery]] = _no_progress,
    queries: Sequence[SavedQuery] | None = None,
) -> Report:
    """Run each saved query (or ``queries``), write ``<name>.png`` for each and ``index.html``
    into ``out_dir``. ``progress`` wraps the loop over the queries (the CLI passes tqdm)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    rendered = []
    for query in progress(list(saved_queries() if queries is None else queries)):
        result = warehouse.query(query.sql)
        figure, alt = chart(query.name, result)
        png = out_dir / f"{query.name}.png"
        figure.savefig(png, format="png")
        sections.append(_Section(query, result, png.name, alt))
        rendered.append(RenderedQuery(query.name, png, len(result.rows)))
    index = out_dir / "index.html"
    index.write_text(_page(title, generated_at, sections), encoding="utf-8")
    return Report(index, tuple(rendered))


# --- the page -----------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { margin-bottom: 0; }
section { margin: 2.5rem 0; border-top: 1px solid #ddd; }
img { display: block; max-width: 100%; height: auto; margin: 1rem 0; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: left; }
td.number { text-align: right; }
th { background: #f4f4f4; }
pre { background: #f8f8f8; padding: 0.8rem; overflow-x: auto; }
.meta, caption { color: #666; text-align: left; }
"""


def _page(title: str, generated_at: datetime, sections: Sequence[_Section]) -> str:
    """The report as one HTML document; every value from the data is escaped."""
    contents = "".join(
        f'<li><a href="#{_html(s.query.name)}">{_heading(s.query)}</a></li>' for s in sections
    )
    body = "\n".join(_section(section) for section in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_html(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{_html(title)}</h1>
<p class="meta">Generated {_time(generated_at)} from the exported events; days are UTC.</p>
<ul>{contents}</ul>
{body}
</body>
</html>
"""


def _time(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive time says nothing of its zone, so neither do we
        shown = moment.strftime("%Y-%m-%d %H:%M")
    else:
        moment = moment.astimezone(UTC)
        shown = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f'<time datetime="{_html(moment.isoformat())}">{_html(shown)}</time>'


def _heading(query: SavedQuery) -> str:
    """The query's whole leading comment, not only its first line (``SavedQuery.title``),
    which can stop mid-sentence; `backticks` become code."""
    comment = []
    for line in query.sql.splitlines():
        if not line.startswith("--"):
            break
        comment.append(line.removeprefix("--").strip())
    text = " ".join(part for part in comment if part) or query.title
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _html(text))


def _section(section: _Section) -> str:
    query = section.query
    width, height = int(FIGURE_SIZE[0] * DPI), int(FIGURE_SIZE[1] * DPI)
    image = f'src="{_html(quote(section.png_name))}" alt="{_html(section.alt)}"'
    return f"""<section id="{_html(query.name)}">
<h2>{_heading(query)}</h2>
<img {image} width="{width}" height="{height}">
{_table(section.result)}
<details><summary>SQL ({_html(query.name)}.sql)</summary><pre>{_html(query.sql)}</pre></details>
</section>"""


def _table(result: QueryResult) -> str:
    head = "".join(f"<th>{_html(column)}</th>" for column in result.columns)
    rows = "\n".join(
        "<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in result.rows
    )
    count = f"{len(result.rows)} row" + ("" if len(result.rows) == 1 else "s")
    return f"<table>\n<caption>{count}</caption>\n<tr>{head}</tr>\n{rows}\n</table>"


def _cell(value: object) -> str:
    numeric = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    css = ' class="number"' if numeric else ""
    return f"<td{css}>{_html(_format(value))}</td>"


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        # Thousands separated; a percentile's 719.9999999 shown as the 720 it is.
        return f"{value:,.1f}".removesuffix(".0")
    return str(value)


def _html(text: str) -> str:
    return html.escape(text, quote=True)
