"""The moderators' console in a real headless Chromium (Debian's chromium and chromedriver,
installed by ``make test``): a moderator signs in, sees the queue, opens a case, sees the selfie
and approves it; the user's state changes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from sotto_cli.client import sign_in
from tests.e2e.browsers import chromium, require_chromium, wait
from tests.e2e.clients import PASSWORD, SELFIE_SIDE, a_jpeg, signed_up
from tests.e2e.conftest import Stack

require_chromium()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def waiting_for_review(stack: Stack, jpeg: bytes) -> tuple[str, str]:
    """A new user whose selfie is in the moderators' queue: (user id, their token)."""
    token = sign_in(stack.config, signed_up(stack), PASSWORD)
    api = stack.info["http_api_url"]
    auth = {"Authorization": f"Bearer {token}"}
    grant = requests.post(
        f"{api}/selfie", json={"contentType": "image/jpeg", "size": len(jpeg)}, headers=auth,
        timeout=30,
    ).json()  # fmt: skip
    files = {"file": ("me.jpg", jpeg, "image/jpeg")}
    assert requests.post(grant["url"], data=grant["fields"], files=files, timeout=30).ok
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = requests.get(f"{api}/verification", headers=auth, timeout=30).json()
        if status["state"] == "pending_review":
            return grant["fields"]["key"].split("/")[1], token
        time.sleep(0.2)
    raise AssertionError(f"the selfie never reached the queue: {status}")


def test_a_moderator_approves_a_case_in_the_console(
    stack: Stack, browser: WebDriver, tmp_path: Path
) -> None:
    user_id, token = waiting_for_review(stack, a_jpeg(tmp_path).read_bytes())
    mona = stack.user("mona")

    browser.get(f"{stack.info['http_api_url']}/console/")
    wait(browser, expected_conditions.visibility_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(mona["username"])
    browser.find_element(By.ID, "password").send_keys(mona["password"])
    browser.find_element(By.ID, "sign-in-button").click()

    opener = (By.CSS_SELECTOR, f'button.open-case[data-user-id="{user_id}"]')
    wait(browser, expected_conditions.element_to_be_clickable(opener)).click()
    wait(
        browser,
        lambda d: (
            d.execute_script("return document.getElementById('selfie').naturalWidth") == SELFIE_SIDE
        ),
    )
    facts = browser.find_element(By.ID, "case-facts").text
    assert "pending_review" in facts and "gender" not in facts.lower()

    browser.find_element(By.ID, "approve").click()
    wait(browser, expected_conditions.text_to_be_present_in_element((By.ID, "status"), "approved"))
    mine = requests.get(
        f"{stack.info['http_api_url']}/verification",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert mine["state"] == "approved"


def test_someone_who_is_not_a_moderator_is_told_so(stack: Stack, browser: WebDriver) -> None:
    alice = stack.user("alice")
    browser.get(f"{stack.info['http_api_url']}/console/")
    wait(browser, expected_conditions.visibility_of_element_located((By.ID, "username")))
    browser.find_element(By.ID, "username").send_keys(alice["username"])
    browser.find_element(By.ID, "password").send_keys(alice["password"])
    browser.find_element(By.ID, "sign-in-button").click()
    wait(
        browser,
        expected_conditions.text_to_be_present_in_element((By.ID, "status"), "moderators only"),
    )
    assert not browser.find_element(By.ID, "queue").is_displayed()
