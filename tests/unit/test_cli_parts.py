from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import pytest

from sotto_cli.audio import content_type_of, extension_for, tone_wav
from sotto_cli.config import load_config
from sotto_cli.errors import CliError
from sotto_cli.main import main


def test_a_tone_is_a_real_wav_of_the_asked_length() -> None:
    with wave.open(io.BytesIO(tone_wav(1.5, rate=16000))) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 16000)
        assert audio.getnframes() == 24000


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("clip.ogg", b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),  # the bytes beat the name
        ("clip.bin", b"OggS\x00\x02", "audio/ogg"),
        ("clip.mp3", b"ID3\x04", "audio/mpeg"),
        ("clip.m4a", b"\x00\x00\x00\x20ftypM4A ", "audio/mp4"),
        ("clip.opus", b"\x00\x00", "audio/ogg"),
    ],
)
def test_the_content_type_comes_from_the_bytes_then_the_name(
    name: str, head: bytes, expected: str
) -> None:
    assert content_type_of(Path(name), head) == expected


def test_an_unknown_file_is_a_clear_error() -> None:
    with pytest.raises(CliError, match="Cannot tell"):
        content_type_of(Path("notes.txt"), b"hello")


def test_saved_clips_get_a_real_extension() -> None:
    assert extension_for("audio/ogg") == ".ogg"
    assert extension_for("audio/webm;codecs=opus") == ".webm"


def test_flags_beat_variables_beat_the_info_file(tmp_path: Path) -> None:
    info = tmp_path / "local.json"
    info.write_text(
        json.dumps(
            {
                "ws_url": "ws://file",
                "client_id": "file",
                "region": "eu-west-1",
                "aws_endpoint": "http://moto",
            }
        )
    )
    from_file = load_config({}, info)
    assert (from_file.ws_url, from_file.cognito_endpoint, from_file.region) == (
        "ws://file",
        "http://moto",
        "eu-west-1",
    )
    assert load_config({"SOTTO_WS_URL": "wss://env"}, info).ws_url == "wss://env"
    flagged = load_config({"SOTTO_WS_URL": "wss://env"}, info, {"ws_url": "wss://flag"})
    assert flagged.ws_url == "wss://flag"


def test_no_stack_and_no_flags_explains_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CliError, match="make dev"):
        load_config({}, tmp_path / "missing.json")


def test_analytics_queries_answer_as_tables_and_bad_sql_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Offline over an empty copy: every event table exists (empty), and a typo is reported
    as an error line, not a traceback."""
    where = ["--bucket", "sotto-x-analytics", "--offline", "--data", str(tmp_path)]
    assert main(["analytics", "query", "SELECT COUNT(*) AS n FROM message_sent", *where]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "-", "0", "(1 row)"]
    assert main(["analytics", "query", "SELEC 1", *where]) == 1
    assert capsys.readouterr().err.startswith("error: bad_query: Parser Error")


def test_analytics_without_a_bucket_says_where_to_find_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.json"
    assert main(["analytics", "report", "--info-file", str(missing), "--offline"]) == 1
    assert "No analytics bucket" in capsys.readouterr().err
