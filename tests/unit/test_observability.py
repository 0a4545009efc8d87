"""Metrics leave as CloudWatch EMF lines with the names the alarms and the dashboard read,
flushed once per invocation by the handler wrapper; nothing is printed when nothing was
recorded, or when metrics are disabled."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from common import observability
from common.handler import scheduled
from common.logs import CorrelationFilter, JsonFormatter, correlation
from common.observability import FANOUT_LAG, MESSAGES_SENT, count, flush, milliseconds


def emf_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


@pytest.fixture
def enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    flush()


def test_recorded_metrics_flush_as_one_emf_line(
    enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    count(MESSAGES_SENT)
    count(MESSAGES_SENT)
    milliseconds(FANOUT_LAG, 42.5)
    flush()
    [line] = emf_lines(capsys.readouterr().out)
    [definition] = line["_aws"]["CloudWatchMetrics"]
    assert definition["Namespace"] == "Sotto"
    units = {m["Name"]: m["Unit"] for m in definition["Metrics"]}
    assert units == {"MessagesSent": "Count", "FanoutLag": "Milliseconds"}
    assert line["MessagesSent"] == [1.0, 1.0]
    assert line["FanoutLag"] == [42.5]
    flush()  # nothing new: nothing printed, no warning
    assert capsys.readouterr().out == ""


def test_every_handler_flushes_what_its_invocation_recorded(
    enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    @scheduled(lambda: None)
    def job(at: Any, deps: None) -> None:
        count(MESSAGES_SENT, 3)

    job({"time": "2026-12-01T00:30:00Z", "id": "e1"})
    [line] = emf_lines(capsys.readouterr().out)
    assert line["MessagesSent"] == [3.0]


def test_disabled_metrics_print_nothing_and_keep_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(500):  # more than Powertools keeps before flushing by itself
        count(MESSAGES_SENT)
    flush()
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    flush()
    assert capsys.readouterr().out == ""  # nothing was kept while disabled
    assert observability.VERIFICATION_OUTCOMES["approved"] == "VerificationsApproved"


def test_log_lines_are_powertools_json_with_the_correlation_ids() -> None:
    record = logging.LogRecord(
        "sotto.chat", logging.INFO, "chat/service.py", 139, "stored", (), None
    )
    with correlation(connectionId="Abc=", requestId="r-1", messageId="m_1"):
        CorrelationFilter().filter(record)
    line = json.loads(JsonFormatter(service="sotto").format(record))
    assert line["level"] == "INFO"
    assert line["message"] == "stored"
    assert line["service"] == "sotto"
    assert (line["connectionId"], line["requestId"], line["messageId"]) == ("Abc=", "r-1", "m_1")
    assert "correlation" not in line
