"""The web client's own rules: its pure modules pass their Node tests, it speaks only the
documented protocol, every file of it works offline, and the local stack lets its page in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chat.audio import Rejection
from local_gateway.launcher import WEB_CLIENT_DIRECTORY, web_client_extras, with_page_origins
from local_gateway.provision import DemoUser
from local_gateway.routes import HTTP_ROUTES, WEBSOCKET_ROUTES
from verification.model import RetryReason

ROOT = Path(__file__).resolve().parents[2]
PAGE_FILES = {"sw.js", "package.json"}  # the service worker itself; Node's module marker


def source(name: str) -> str:
    return (WEB_CLIENT_DIRECTORY / name).read_text()


def scripts() -> str:
    return "\n".join(path.read_text() for path in sorted(WEB_CLIENT_DIRECTORY.glob("*.js")))


def test_the_pure_modules_pass_their_node_tests() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node must be installed (the stack's packaging needs it too)")
        pytest.skip("node is not installed")
    done = subprocess.run(
        [node, "--test", str(ROOT / "tests" / "web")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# pass [1-9]", done.stdout, re.MULTILINE), done.stdout


def test_the_page_sends_only_documented_actions() -> None:
    sent = set(re.findall(r"""(?:request|signal)\(\s*"(\w+)\"""", scripts()))
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    assert sent >= {"upload", "send", "sync", "receipt", "markRead", "recording", "conversations"}
    for action in sent:
        assert action in WEBSOCKET_ROUTES, action
        assert f"`{action}`" in protocol, action


def test_the_page_calls_only_routes_of_the_http_api() -> None:
    called = set(re.findall(r"""api\("(GET|POST)", "(/[\w/]+)""", scripts()))
    assert called == {
        ("GET", "/verification"),
        ("POST", "/selfie"),
        ("POST", "/verification/appeal"),
    }
    for method, path in called:
        assert f"{method} {path}" in HTTP_ROUTES


def words_for(table: str) -> set[str]:
    """The codes a table of ``words.js`` puts into words."""
    body = source("words.js").split(f"const {table} = {{")[1].split("};")[0]
    return set(re.findall(r"^\s*(\w+):", body, re.MULTILINE))


def test_the_page_has_words_for_every_reason_the_server_gives() -> None:
    assert words_for("SELFIE_RETRIES") == {reason.value for reason in RetryReason}
    assert words_for("REJECTIONS") == {reason.value for reason in Rejection}


def test_every_file_of_the_page_is_cached_for_offline_use() -> None:
    shell = set(
        re.findall(r'"([\w./-]+)"', source("sw.js").split("const SHELL = [")[1].split("];")[0])
    )
    files = {p.name for p in WEB_CLIENT_DIRECTORY.iterdir() if p.is_file()} - PAGE_FILES
    assert shell == files | {"./", "config.json"}


def test_every_module_the_page_imports_is_there() -> None:
    for path in WEB_CLIENT_DIRECTORY.glob("*.js"):
        for module in re.findall(r'from "\./([\w.]+)"', path.read_text()):
            assert (WEB_CLIENT_DIRECTORY / module).is_file(), f"{path.name} imports {module}"


class Controls(HTMLParser):
    """The page's form fields, its labels' targets, and its buttons without a name."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: set[str] = set()
        self.labelled: set[str] = set()
        self.button_open = False
        self.button_text = ""
        self.unnamed_buttons = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("input", "textarea", "select"):
            self.fields.add(str(attributes.get("id")))
        if tag == "label" and attributes.get("for"):
            self.labelled.add(str(attributes["for"]))
        if tag == "button":
            self.button_open, self.button_text = True, str(attributes.get("aria-label") or "")

    def handle_data(self, data: str) -> None:
        if self.button_open:
            self.button_text += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self.unnamed_buttons += not self.button_text
            self.button_open = False


def test_every_field_has_a_label_every_button_a_name_and_focus_shows() -> None:
    controls = Controls()
    controls.feed(source("index.html"))
    assert controls.fields and controls.fields <= controls.labelled
    assert controls.unnamed_buttons == 0
    assert re.search(r":focus-visible\s*{[^}]*outline: 3px", source("style.css"))


def test_the_local_page_origin_is_allowed_beside_the_configured_ones() -> None:
    assert with_page_origins(None, "http://127.0.0.1:8768") == (
        "http://127.0.0.1:8768,http://localhost:8768"
    )
    assert with_page_origins("https://app.example", "http://10.0.0.5:9000") == (
        "https://app.example,http://10.0.0.5:9000"
    )


def test_the_local_config_offers_the_chatting_demo_users_not_the_moderator() -> None:
    extras = web_client_extras(
        "ws://127.0.0.1:8765/dev",
        [
            DemoUser("alice", "Alice", "Alice-pass-1"),
            DemoUser("mona", "Mona", "p", groups=("moderators",)),
        ],
    )
    assert extras["wsUrl"] == "ws://127.0.0.1:8765/dev"
    assert extras["demoUsers"] == [
        {"username": "alice", "displayName": "Alice", "password": "Alice-pass-1"}
    ]
