"""The moderators' console in a real headless Chromium (Debian's chromium and chromedriver,
installed by ``make test``): a moderator signs in, sees the queue, opens a case, sees the selfie
and approves it; the user's state changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions

from tests.e2e.browsers import chromium, require_chromium, wait
from tests.e2e.clients import SELFIE_SIDE, a_jpeg, waiting_for_review
from tests.e2e.conftest import Stack

require_chromium()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


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
