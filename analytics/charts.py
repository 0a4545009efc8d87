"""The report's charts: one matplotlib figure per saved query, drawn on a ``Figure`` with the
Agg canvas, never through pyplot, so rendering touches no global state and needs no display.
A query with no rows yet still gets a chart, one that says so: a fresh stack has no events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analytics.local import QueryResult

FIGURE_SIZE = (8.0, 4.5)  # inches
DPI = 100
FEW_BARS = 3  # fewer bars than this are drawn narrower than matplotlib would
MAX_DAILY_TICKS = 14  # up to this many days, one tick per day; beyond, matplotlib chooses
NO_DATA = "no data yet"
ONE_DAY = timedelta(days=1)
PERCENTILES = (("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"))

Chart = Callable[[Figure, QueryResult], str]  # draws the result, returns the image's alt text


def chart(name: str, result: QueryResult) -> tuple[Figure, str]:
    """The figure for one saved query's result, and its alt text. A query without a chart of
    its own (one added later) gets a placeholder: the page's table still has its numbers."""
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself: savefig draws with Agg, whatever the backend
    draw = CHARTS.get(name)
    if draw is None:
        _message(figure.add_subplot(), name, "no chart for this query: see the table")
        return figure, f"{name}: no chart, the table below has the numbers"
    return figure, draw(figure, result)


# --- the charts ---------------------------------------------------------------------------


def _daily_active_users(figure: Figure, result: QueryResult) -> str:
    what = "Daily active users"
    ax = figure.add_subplot()
    if not result.rows:
        return _message(ax, what, NO_DATA)
    days, users = result.column("day"), _numbers(result.column("active_users"))
    _over_days(ax, days, {"active users": users})
    _finish(ax, what, "active users")
    return f"{what} per day, {_span(days)}: from {min(users):g} to {max(users):g}."


def _voice_messages_per_day(figure: Figure, result: QueryResult) -> str:
    what = "Voice messages per day"
    ax = figure.add_subplot()
    if not result.rows:
        return _message(ax, what, NO_DATA)
    days = result.column("day")
    series = {
        "direct": _numbers(result.column("direct_messages")),
        "group": _numbers(result.column("group_messages")),
        "all": _numbers(result.column("messages")),
    }
    _over_days(ax, days, series)
    _finish(ax, what, "voice messages")
    return f"{what}, direct, group and all, {_span(days)}: {sum(series['all']):g} in all."


def _clip_durations(figure: Figure, result: QueryResult) -> str:
    what = "Voice clip durations"
    ax = figure.add_subplot()
    if not result.rows:
        return _message(ax, what, NO_DATA)
    starts, clips = _numbers(result.column("from_seconds")), _numbers(result.column("clips"))
    ax.bar(starts, clips, width=5 * 0.9, align="edge", color="C0")
    ax.set_xlim(0, max(starts) + 5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 5, 10], integer=True))
    _finish(ax, what, "processed clips")
    ax.set_xlabel("duration (seconds, 5-second buckets)")
    return (
        f"Bar chart of {sum(clips):g} processed clips per 5-second bucket of duration, "
        f"from 0 to {max(starts) + 5:g} seconds; most in {_busiest(starts, clips)}."
    )


def _busiest(starts: Sequence[float], clips: Sequence[float]) -> str:
    start = starts[clips.index(max(clips))]
    return f"{start:g} to {start + 5:g} seconds"


def _delivery_latency(figure: Figure, result: QueryResult) -> str:
    what = "Delivery latency"
    if not result.rows:
        return _message(figure.add_subplot(), what, NO_DATA)
    vias = sorted(set(result.column("via")), key=lambda via: (via != "live", via != "receipt", via))
    axes = figure.subplots(1, len(vias), squeeze=False)[0]
    for ax, via in zip(axes, vias, strict=True):
        rows = [row for row in result.rows if row[result.columns.index("via")] == via]
        _latency_panel(ax, via, QueryResult(result.columns, rows))
    figure.suptitle(f"{what} percentiles per day")
    return (
        f"Charts of p50, p90 and p99 delivery latency per day, one panel per path "
        f"({', '.join(vias)})."
    )


def _latency_panel(ax: Axes, via: str, result: QueryResult) -> None:
    scale, unit = _latency_unit(max(_numbers(result.column("p99_ms"))))
    series = {
        label: [value / scale for value in _numbers(result.column(column))]
        for column, label in PERCENTILES
    }
    _over_days(ax, result.column("day"), series)
    _finish(ax, via, f"latency ({unit})", counts=False)


def _latency_unit(largest_ms: float) -> tuple[float, str]:
    """Receipts can take hours (the app syncs when it opens), live deliveries milliseconds: one
    unit each, so neither axis reads 3.6e6."""
    for scale, unit in ((3_600_000.0, "hours"), (60_000.0, "minutes"), (1_000.0, "seconds")):
        if largest_ms >= 2 * scale:
            return scale, unit
    return 1.0, "ms"


def _verification_funnel(figure: Figure, result: QueryResult) -> str:
    what = "Verification funnel"
    ax = figure.add_subplot()
    stages = [str(stage) for stage in result.column("stage")]
    users = _numbers(result.column("users"))
    if not any(users):  # the query counts every step, so "no data" is all zeros
        return _message(ax, what, NO_DATA)
    positions = list(range(len(stages)))
    bars = ax.barh(positions, users, color="C2")
    ax.set_yticks(positions, labels=[_text(stage) for stage in stages])
    ax.invert_yaxis()  # the first step on top
    ax.bar_label(bars, labels=_funnel_labels(users), padding=3)
    ax.set_xlim(0, max(users) * 1.2)  # room for the labels
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(what)
    ax.set_xlabel("users")
    steps = ", ".join(f"{stage} {count:g}" for stage, count in zip(stages, users, strict=True))
    return f"Horizontal bar chart of the {what.lower()}: {steps}."


def _funnel_labels(users: Sequence[float]) -> list[str]:
    """Each step's users and its share of the first step (when there is a first step)."""
    first = users[0]
    if not first:
        return [f"{count:g}" for count in users]
    return [f"{count:g} ({count / first:.0%})" for count in users]


def _push_volume(figure: Figure, result: QueryResult) -> str:
    what = "Push notifications per day"
    ax = figure.add_subplot()
    if not result.rows:
        return _message(ax, what, NO_DATA)
    days = sorted(set(result.column("day")))
    per_kind = _pushes_per_kind(result, days)
    bottom = np.zeros(len(days))
    for index, (kind, counts) in enumerate(per_kind.items()):
        ax.bar(_dates(days), counts, width=0.8, bottom=bottom, label=_text(kind), color=f"C{index}")
        bottom += np.array(counts)
    _date_axis(ax, days)
    if len(days) == 1:  # else the one bar fills the axes, and its day reads as "00:00"
        ax.set_xlim(_dates([days[0] - ONE_DAY, days[0] + ONE_DAY]).tolist())
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], title="kind")  # top to bottom, as stacked
    _finish(ax, what, "pushes")
    kinds = ", ".join(per_kind)
    total = f"{bottom.sum():g} in all"
    return f"Stacked bar chart of {what.lower()} by kind ({kinds}), {_span(days)}: {total}."


def _pushes_per_kind(result: QueryResult, days: Sequence[date]) -> dict[str, list[float]]:
    """Pushes per kind, one count per day (zero on days without that kind), kinds sorted."""
    per_kind: dict[str, list[float]] = {}
    columns = (result.column(name) for name in ("day", "kind", "pushes"))
    for day, kind, pushes in zip(*columns, strict=True):
        per_kind.setdefault(str(kind), [0.0] * len(days))[days.index(day)] += float(pushes)
    return dict(sorted(per_kind.items()))


CHARTS: Mapping[str, Chart] = {
    "daily_active_users": _daily_active_users,
    "voice_messages_per_day": _voice_messages_per_day,
    "clip_durations": _clip_durations,
    "delivery_latency": _delivery_latency,
    "verification_funnel": _verification_funnel,
    "push_volume": _push_volume,
}


# --- drawing helpers ----------------------------------------------------------------------


def _over_days(ax: Axes, days: Sequence[date], series: Mapping[str, Sequence[float]]) -> None:
    """Lines over a date axis. One day makes no line, so then one bar per series, labelled,
    with the day under them."""
    if len(days) == 1:
        positions = list(range(len(series)))
        colors = [f"C{index}" for index in positions]
        bars = ax.bar(positions, [values[0] for values in series.values()], color=colors)
        ax.set_xticks(positions, labels=[_text(label) for label in series])
        ax.bar_label(bars, fmt="{:.3g}", padding=2)
        ax.margins(y=0.12)  # room for the labels above the tallest bar
        if len(positions) < FEW_BARS:  # else one bar fills the axes
            ax.set_xlim(-1.5, len(positions) + 0.5)
        ax.set_xlabel(f"{days[0].isoformat()} (UTC), the only day so far")
        return
    for label, values in series.items():
        ax.plot(_dates(days), values, marker="o", label=_text(label))
    _date_axis(ax, days)
    if len(series) > 1:
        ax.legend()


def _date_axis(ax: Axes, days: Sequence[date]) -> None:
    """Up to two weeks, a tick per day labelled "Mar 03" (matplotlib's own choice would put
    "12:00" ticks between days), the years in the axis label; beyond, matplotlib's choice of
    ticks, labelled as briefly as they can be."""
    first, last = min(days), max(days)
    # matplotlib.dates carries no annotations, hence the ignores.
    if (last - first).days < MAX_DAILY_TICKS:
        ax.xaxis.set_major_locator(DayLocator())  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
        years = sorted({str(first.year), str(last.year)})
        ax.set_xlabel(f"day (UTC, {'-'.join(years)})")
        return
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("day (UTC)")


def _finish(ax: Axes, title: str, ylabel: str, *, counts: bool = True) -> None:
    """Title, labelled y axis from zero; counts get whole-number ticks (no "2.5 users")."""
    ax.set_title(_text(title))
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _message(ax: Axes, title: str, message: str) -> str:
    ax.set_title(_text(title))
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=16, color="0.4")
    ax.set_axis_off()
    return f"{title}: {message}."


def _dates(days: Sequence[date]) -> np.ndarray[Any, np.dtype[np.datetime64]]:
    return np.array([day.isoformat() for day in days], dtype="datetime64[D]")


def _numbers(values: Iterable[Any]) -> list[float]:
    return [0.0 if value is None else float(value) for value in values]


def _span(days: Sequence[date]) -> str:
    first, last = min(days), max(days)
    return (
        f"on {first.isoformat()}" if first == last else f"{first.isoformat()} to {last.isoformat()}"
    )


def _text(label: str) -> str:
    """Data shown as text in a chart: ``$`` would start mathtext, a leading ``_`` would hide a
    legend entry."""
    return label.replace("$", r"\$").lstrip("_") or "?"
