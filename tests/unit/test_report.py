"""The analytics report: six saved queries over planted events, each drawn to a PNG and shown
with its numbers on one self-contained HTML page; an empty warehouse still makes a report."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from analytics.export import parquet_bytes, to_table
from analytics.layout import file_key
from analytics.local import LocalWarehouse, SavedQuery
from analytics.model import AnalyticsEvent
from analytics.report import Report, render_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUERIES = [
    "clip_durations",
    "daily_active_users",
    "delivery_latency",
    "push_volume",
    "verification_funnel",
    "voice_messages_per_day",
]
GENERATED_AT = datetime(2025, 3, 7, 8, 30, tzinfo=UTC)
DAYS = [date(2025, 3, 3) + timedelta(days=n) for n in range(4)]

# Per day: who connected, who sent, and (direct, group) messages. DAU is their union.
CONNECTED = [["u1", "u2"], ["u1", "u2", "u3", "u4"], ["u1", "u2", "u3", "u4"], ["u1", "u6"]]
SENDERS = [["u1", "u9"], ["u5"], ["u2"], ["u7", "u8", "u3", "u4", "u5"]]
MESSAGES = [(2, 1), (4, 2), (1, 5), (6, 3)]
EXPECTED_DAU = [3, 5, 4, 7]
CLIP_MS = [1_200, 3_400, 4_999, 5_000, 7_300, 12_000, 14_999, 31_000]  # buckets 0:3 5:2 10:2 30:1
LIVE_MS = [80, 120, 200, 450, 900]  # p50 200
RECEIPT_MS = [30_000, 90_000, 600_000, 3_600_000, 9_000_000]  # p50 600000
PUSHES = {"message": 5, "welcome": 2, "verification": 1}


def at(day: date, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(minutes=minute)


def event(event_type: str, when: datetime, **columns: Any) -> AnalyticsEvent:
    row = {"event_id": uuid.uuid4().hex[:24], "occurred_at": when, **columns}
    return AnalyticsEvent(event_type, row)


def write_exports(folder: Path, events: Iterable[AnalyticsEvent]) -> None:
    """As the exporter lays them out: one Parquet file per event type and day."""
    partitions: dict[tuple[str, date], list[AnalyticsEvent]] = defaultdict(list)
    for one in events:
        partitions[(one.event_type, one.day)].append(one)
    for (event_type, day), group in partitions.items():
        key = file_key(event_type, day, [e.event_id for e in group], compacted=False)
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(parquet_bytes(to_table(event_type, group)))


def activity(
    day: date, connected: Sequence[str], senders: Sequence[str], direct: int, group: int
) -> Iterator[AnalyticsEvent]:
    for n, user in enumerate(connected):
        yield event(
            "connection_opened", at(day, n), user_pid=user, connection_pid=f"c-{user}", node="n1"
        )
    kinds = ["direct"] * direct + ["group"] * group
    for n, kind in enumerate(kinds):
        yield event(
            "message_sent",
            at(day, 30 + n),
            conversation_pid=f"{kind}-1",
            conversation_kind=kind,
            seq=n + 1,
            sender_pid=senders[n % len(senders)],
            clip_pid=f"clip-{day}-{n}",
        )


def deliveries(day: date, factor: int) -> Iterator[AnalyticsEvent]:
    for via, latencies in (("live", LIVE_MS), ("receipt", RECEIPT_MS)):
        for n, latency in enumerate(latencies):
            yield event(
                "message_delivered",
                at(day, n),
                conversation_pid="direct-1",
                seq=n + 1,
                recipient_pid="u2",
                via=via,
                latency_ms=latency * factor,
            )


def funnel(day: date) -> Iterator[AnalyticsEvent]:
    """10 sign up, 8 are screened (5 sent to review), 3 approved: 10, 8, 5, 3."""
    for n in range(10):
        yield event("user_signed_up", at(day, n), user_pid=f"v{n}")
    for n in range(8):
        outcome, reason = ("pending_review", None) if n < 5 else ("retry", "no_face")
        yield event(
            "verification_screened",
            at(day, 20 + n),
            user_pid=f"v{n}",
            outcome=outcome,
            retry_reason=reason,
        )
    for n, outcome in enumerate(["approved", "approved", "approved", "rejected"]):
        yield event(
            "verification_decided",
            at(day, 40 + n),
            user_pid=f"v{n}",
            moderator_pid="m1",
            outcome=outcome,
        )


def pushes(day: date, kinds: dict[str, int]) -> Iterator[AnalyticsEvent]:
    for kind, count in kinds.items():
        for n in range(count):
            yield event(
                "push_sent",
                at(day, n),
                user_pid=f"u{n}",
                platform="android",
                kind=kind,
                messages=1 if kind == "message" else 0,
            )


def planted() -> list[AnalyticsEvent]:
    events: list[AnalyticsEvent] = []
    for index, day in enumerate(DAYS):
        direct, group = MESSAGES[index]
        events += activity(day, CONNECTED[index], SENDERS[index], direct, group)
        events += deliveries(day, index + 1)
        events += pushes(day, {kind: count + index for kind, count in PUSHES.items()})
    events += funnel(DAYS[0])
    events += [
        event(
            "clip_processed", at(DAYS[n % 4], n), clip_pid=f"k{n}", owner_pid="u1", duration_ms=ms
        )
        for n, ms in enumerate(CLIP_MS)
    ]
    return events


def render(folder: Path, out: Path, **options: Any) -> Report:
    with LocalWarehouse(folder) as warehouse:
        return render_report(warehouse, out, generated_at=GENERATED_AT, **options)


def row(*cells: str | int) -> str:
    """One table row as the report writes it, numbers right-aligned."""
    return (
        "<tr>"
        + "".join(
            f'<td class="number">{c:,}</td>' if isinstance(c, int) else f"<td>{c}</td>"
            for c in cells
        )
        + "</tr>"
    )


def assert_png(path: Path) -> None:
    assert path.read_bytes().startswith(PNG_MAGIC)
    with Image.open(path) as image:
        assert image.size == (800, 450)
        grey = image.convert("L").tobytes()  # one byte a pixel
        assert min(grey) < 100 < max(grey)  # something dark drawn on a light ground


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("exports")
    write_exports(folder, planted())
    return render(folder, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return report.index.read_text(encoding="utf-8")


def test_every_saved_query_becomes_a_png(report: Report) -> None:
    assert [q.name for q in report.queries] == QUERIES
    for rendered in report.queries:
        assert rendered.png == report.index.parent / f"{rendered.name}.png"
        assert_png(rendered.png)


def test_row_counts_follow_the_planted_events(report: Report) -> None:
    rows = {q.name: q.rows for q in report.queries}
    assert rows == {
        "clip_durations": 4,  # 0, 5, 10 and 30 seconds
        "daily_active_users": 4,
        "delivery_latency": 8,  # four days, two paths
        "push_volume": 12,  # four days, three kinds
        "verification_funnel": 4,
        "voice_messages_per_day": 4,
    }


def test_the_page_shows_each_chart_with_alt_text(page: str) -> None:
    for name in QUERIES:
        match = re.search(rf'<img src="{name}\.png" alt="([^"]+)"', page)
        assert match is not None, name
        assert len(match.group(1)) > 30
    assert "Daily active users per day, 2025-03-03 to 2025-03-06: from 3 to 7." in page


def test_the_page_has_each_query_title_and_sql(page: str) -> None:
    assert "<h2>Daily active users: distinct users who connected or sent a voice" in page
    # The whole comment, not only its first line, and `via` values as code.
    assert (
        "<h2>Delivery latency percentiles per day and path: <code>live</code> through the "
        "fan-out to an open connection, <code>receipt</code> when" in page
    )
    assert "<h2>The verification funnel: how many users reached each step.</h2>" in page
    assert "<details><summary>SQL (push_volume.sql)</summary><pre>-- Push notifications" in page
    assert "COUNT(DISTINCT user_pid) AS users,\n    SUM(messages)" in page
    assert "&#x27;signed up&#x27;" in page  # the SQL's quotes, escaped


def test_the_tables_hold_the_planted_numbers(page: str) -> None:
    for day, users in zip(DAYS, EXPECTED_DAU, strict=True):
        assert row(day.isoformat(), users) in page
    for day, (direct, group) in zip(DAYS, MESSAGES, strict=True):
        assert row(day.isoformat(), direct, group, direct + group) in page
    for start, clips in ((0, 3), (5, 2), (10, 2), (30, 1)):
        assert row(start, clips) in page
    for step, stage, users in (
        (1, "signed up", 10),
        (2, "selfie screened", 8),
        (3, "sent to review", 5),
        (4, "approved", 3),
    ):
        assert row(step, stage, users) in page
    # PERCENTILE_CONT interpolates: p90 of 80, 120, 200, 450, 900 is 450 + 0.6 * 450.
    assert row("2025-03-03", "live", 5, 200, 720, 882) in page
    assert row("2025-03-04", "receipt", 5, 1_200_000, 13_680_000, 17_568_000) in page
    assert row("2025-03-06", "message", 8, 8, 8) in page


def test_the_page_stands_alone(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for outside in ("<script", "<link", "http://", "https://", "@import", "url("):
        assert outside not in page
    assert set(re.findall(r'src="([^"]+)"', page)) == {f"{name}.png" for name in QUERIES}
    assert '<time datetime="2025-03-07T08:30:00+00:00">2025-03-07 08:30 UTC</time>' in page


def test_progress_wraps_the_queries(tmp_path: Path) -> None:
    seen: list[str] = []

    def progress(queries: Iterable[SavedQuery]) -> Iterable[SavedQuery]:
        for query in queries:
            seen.append(query.name)
            yield query

    render(tmp_path / "empty", tmp_path / "out", progress=progress)
    assert seen == QUERIES


def test_an_empty_warehouse_still_makes_a_report(tmp_path: Path) -> None:
    report = render(tmp_path / "empty", tmp_path / "out", title="Nothing yet")
    page = report.index.read_text(encoding="utf-8")
    assert len(report.queries) == 6
    for rendered in report.queries:
        assert_png(rendered.png)
    assert {q.name: q.rows for q in report.queries}["daily_active_users"] == 0
    assert "<h1>Nothing yet</h1>" in page
    assert 'alt="Daily active users: no data yet."' in page
    assert 'alt="Verification funnel: no data yet."' in page  # four steps of zero users
    assert "<caption>0 rows</caption>" in page


def test_one_day_of_data_is_drawn_and_data_is_escaped(tmp_path: Path) -> None:
    day = DAYS[0]
    odd = '<script>&"$x$"'
    events = [
        *activity(day, ["u1"], ["u1"], 1, 1),
        *deliveries(day, 1),
        *pushes(day, {"message": 2, odd: 1}),
    ]
    write_exports(tmp_path / "exports", events)
    report = render(tmp_path / "exports", tmp_path / "out", title="<Sotto & co>")
    page = report.index.read_text(encoding="utf-8")
    for rendered in report.queries:
        assert_png(rendered.png)
    assert "<script" not in page
    assert row(day.isoformat(), "&lt;script&gt;&amp;&quot;$x$&quot;", 1, 1, 0) in page
    assert "<h1>&lt;Sotto &amp; co&gt;</h1>" in page
    assert 'alt="Daily active users per day, on 2025-03-03: from 1 to 1."' in page


def test_a_query_without_a_chart_gets_a_placeholder(tmp_path: Path) -> None:
    custom = SavedQuery(
        "custom", "A query added later", "-- A query added later\nSELECT 42 AS answer"
    )
    report = render(tmp_path / "empty", tmp_path / "out", queries=[custom])
    page = report.index.read_text(encoding="utf-8")
    assert [(q.name, q.rows) for q in report.queries] == [("custom", 1)]
    assert_png(report.queries[0].png)
    assert row(42) in page
