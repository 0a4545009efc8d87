"""The web client (``/app/`` beside the HTTP API) in real headless Chromium with its fake
microphone: Alice holds the record key and her voice message reaches Bob's page live, drawn
from its waveform, and he plays it; Bob's page loses its connection, is reloaded without
network, and catches up in order; a newcomer signs up, sends a selfie and chats once a
moderator approves. Screenshots land in ``.sotto/screenshots/``."""

from __future__ import annotations

import asyncio
import math
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions

from connections.store import ConnectionStore
from sotto_cli.client import sign_in
from tests.e2e.browsers import chromium, require_chromium, screenshot, wait
from tests.e2e.clients import PASSWORD, a_jpeg, connect_as, say, signed_up, waiting_for_review
from tests.e2e.conftest import Stack

require_chromium()

WAVEFORM_HEIGHT = 32  # the page's bar height for a peak of 255 (view.js)


@pytest.fixture
def pages() -> Iterator[tuple[WebDriver, WebDriver]]:
    with chromium() as alice, chromium() as bob:
        yield alice, bob


@pytest.fixture
def alice_and_bob(
    own_stack: Stack, pages: tuple[WebDriver, WebDriver]
) -> tuple[WebDriver, WebDriver]:
    """Two pages, signed in as Alice and as Bob."""
    alice, bob = pages
    signed_in(bob, own_stack, "bob")
    signed_in(alice, own_stack, "alice")
    return alice, bob


def signed_in(driver: WebDriver, stack: Stack, name: str) -> None:
    driver.get(f"{stack.info['http_api_url']}/app/")
    demo = (By.CSS_SELECTOR, f'button.demo-user[data-username="{name}"]')
    wait(driver, expected_conditions.element_to_be_clickable(demo)).click()
    wait(driver, lambda d: online(d) and d.find_element(By.ID, "chat").is_displayed())


def online(driver: WebDriver) -> bool:
    return driver.find_element(By.ID, "connection").get_attribute("data-state") == "open"


def message(driver: WebDriver, seq: int, waveform: bool = True) -> WebElement:
    """The message with ``seq`` in the open conversation, once its clip is drawn."""
    selector = f'#messages li.message[data-seq="{seq}"]' + (" svg.waveform" if waveform else "")
    wait(driver, expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector)))
    return driver.find_element(By.CSS_SELECTOR, f'#messages li.message[data-seq="{seq}"]')


def shown_seqs(driver: WebDriver) -> list[int]:
    items = driver.find_elements(By.CSS_SELECTOR, "#messages li.message[data-seq]")
    return [int(str(item.get_attribute("data-seq"))) for item in items]


OPENER = (By.CSS_SELECTOR, "button.open-conversation")


def open_once_unread(driver: WebDriver, unread: int) -> None:
    """Open the (only) conversation in the list once it shows ``unread`` unread messages."""
    badge = (By.CSS_SELECTOR, "button.open-conversation .unread")
    wait(driver, expected_conditions.text_to_be_present_in_element(badge, str(unread)))
    driver.find_element(*OPENER).click()


def hold_key_on(driver: WebDriver, element: WebElement, seconds: float) -> None:
    driver.execute_script("arguments[0].focus()", element)
    ActionChains(driver).key_down(Keys.SPACE).pause(seconds).key_up(Keys.SPACE).perform()


def bar_heights(item: WebElement) -> list[float]:
    return [
        float(str(bar.get_attribute("height")))
        for bar in item.find_elements(By.CSS_SELECTOR, "svg.waveform rect")
    ]


async def bobs_copy(stack: Stack, seq: int) -> dict[str, Any]:
    """The message as the protocol gives it to Bob (what his page must have drawn)."""
    bob = await connect_as(stack, "bob")
    try:
        summary = await bob.request("sync", since={})
        conversation = summary["conversations"][0]["conversationId"]
        page = await bob.request("sync", conversationId=conversation, afterSeq=seq - 1, limit=1)
        return dict(page["messages"][0])
    finally:
        await bob.close()


def test_alice_records_and_sends_and_bob_sees_the_waveform_and_plays_it(
    own_stack: Stack, alice_and_bob: tuple[WebDriver, WebDriver]
) -> None:
    alice, bob = alice_and_bob

    # A server error reads as a sentence.
    talk_to = alice.find_element(By.ID, "new-conversation")
    talk_to.send_keys("nobody-here", Keys.ENTER)
    wait(
        alice,
        expected_conditions.text_to_be_present_in_element((By.ID, "problem"), "Nobody is called"),
    )
    talk_to.clear()
    talk_to.send_keys("bob", Keys.ENTER)
    wait(alice, lambda d: not d.find_element(By.ID, "problem").is_displayed())
    record = wait(alice, expected_conditions.visibility_of_element_located((By.ID, "record")))
    hold_key_on(alice, record, 2.0)
    # Bob's page got it live (not opened yet), so it says so: a delivered receipt.
    wait(alice, lambda d: "Delivered" in message(d, 1).text)

    # Bob was not in the conversation: it appears with one unread message; he opens it.
    open_once_unread(bob, 1)
    received = message(bob, 1)
    clip = asyncio.run(bobs_copy(own_stack, 1))["clip"]
    assert received.find_element(By.CSS_SELECTOR, ".sender").text == "Alice"
    assert bar_heights(received) == [
        max(1, round(peak / 255 * WAVEFORM_HEIGHT)) for peak in clip["waveform"]
    ]
    assert len(set(bar_heights(received))) > 1, "a beep is not a flat line"
    seconds = math.ceil(clip["durationMs"] / 1000)
    assert received.find_element(By.CSS_SELECTOR, ".duration").text == f"0:{seconds:02d}"
    screenshot(bob, "web-client-received")

    # Played from the keyboard; Alice's page hears of it (the listened receipt).
    play = received.find_element(By.CSS_SELECTOR, "button.play")
    bob.execute_script("arguments[0].focus()", play)
    ActionChains(bob).send_keys(Keys.ENTER).perform()
    wait(bob, lambda d: message(d, 1).get_attribute("data-played") == "true")
    wait(alice, lambda d: "Listened" in message(d, 1).text)

    # While Alice holds the button (the pointer this time), Bob sees that she is recording.
    holding = threading.Thread(
        target=ActionChains(alice).click_and_hold(record).pause(3.5).release().perform
    )
    holding.start()
    wait(
        bob,
        expected_conditions.text_to_be_present_in_element(
            (By.ID, "indicator"), "Alice is recording"
        ),
    )
    screenshot(bob, "web-client-recording")
    holding.join(10)
    message(bob, 2)
    assert shown_seqs(bob) == [1, 2]
    wait(bob, lambda d: d.find_element(By.ID, "indicator").text == "")
    screenshot(alice, "web-client-sent")

    # Esc while holding discards the recording: nothing is uploaded or sent.
    alice.execute_script("arguments[0].focus()", record)
    ActionChains(alice).key_down(Keys.SPACE).pause(1).send_keys(Keys.ESCAPE).pause(0.3).key_up(
        Keys.SPACE
    ).perform()
    wait(alice, expected_conditions.text_to_be_present_in_element((By.ID, "status"), "discarded"))
    assert record.get_attribute("aria-pressed") == "false"
    assert alice.find_elements(By.CSS_SELECTOR, "#messages li.outgoing") == []
    assert shown_seqs(alice) == [1, 2]


def drop_connections(stack: Stack, name: str) -> None:
    """Close the user's sockets from the server side, as API Gateway does (lifetime, idle)."""
    store = ConnectionStore(stack.clients.dynamodb, stack.clients.settings.connections_table)
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.info["management_endpoint"],
        region_name=stack.info["region"],
    )
    for connection in store.live_for_users([stack.user(name)["user_id"]], datetime.now(UTC)):
        management.delete_connection(ConnectionId=connection.connection_id)


def alice_says(stack: Stack, count: int) -> list[int]:
    async def scenario() -> list[int]:
        alice = await connect_as(stack, "alice")
        try:
            bob = stack.user("bob")["user_id"]
            return [int((await say(alice, to=bob))["seq"]) for _ in range(count)]
        finally:
            await alice.close()

    return asyncio.run(scenario())


def offline(driver: WebDriver, is_offline: bool) -> None:
    driver.set_network_conditions(  # type: ignore[attr-defined]
        offline=is_offline, latency=0, download_throughput=-1, upload_throughput=-1
    )


def test_bobs_page_catches_up_after_a_drop_and_an_offline_reload(
    own_stack: Stack, pages: tuple[WebDriver, WebDriver]
) -> None:
    _, bob = pages
    signed_in(bob, own_stack, "bob")
    assert alice_says(own_stack, 1) == [1]
    open_once_unread(bob, 1)
    message(bob, 1)

    # The network goes and the socket drops: the page waits and retries, with backoff.
    offline(bob, True)
    drop_connections(own_stack, "bob")
    wait(
        bob, lambda d: d.find_element(By.ID, "connection").get_attribute("data-state") == "waiting"
    )
    assert alice_says(own_stack, 1) == [2]
    offline(bob, False)
    message(bob, 2)
    assert shown_seqs(bob) == [1, 2]

    # Dropped again, then reloaded without network: the page comes back from its cache with
    # what it had, and once online it fills the gap in order.
    offline(bob, True)
    drop_connections(own_stack, "bob")
    wait(bob, lambda d: not online(d))
    assert alice_says(own_stack, 2) == [3, 4]
    bob.refresh()
    message(bob, 2)
    assert shown_seqs(bob) == [1, 2]
    assert "Offline" in bob.find_element(By.ID, "connection").text
    screenshot(bob, "web-client-offline")
    time.sleep(1)  # a retry or two fails meanwhile
    offline(bob, False)
    message(bob, 4)
    assert shown_seqs(bob) == [1, 2, 3, 4]
    assert bob.find_elements(By.CSS_SELECTOR, "button.open-conversation .unread") == []


def test_a_recording_that_could_not_be_uploaded_is_sent_once_on_retry(
    own_stack: Stack, alice_and_bob: tuple[WebDriver, WebDriver]
) -> None:
    alice, bob = alice_and_bob
    alice.find_element(By.ID, "new-conversation").send_keys("bob", Keys.ENTER)
    record = wait(alice, expected_conditions.visibility_of_element_located((By.ID, "record")))

    offline(alice, True)  # the socket stays open; the upload to storage fails
    hold_key_on(alice, record, 1.5)
    outgoing = (By.CSS_SELECTOR, "#messages li.outgoing")
    wait(alice, expected_conditions.text_to_be_present_in_element(outgoing, "cannot be reached"))
    assert "Not sent" in alice.find_element(*outgoing).text

    offline(alice, False)
    retry = alice.find_element(By.CSS_SELECTOR, "#messages li.outgoing button.retry")
    assert alice.switch_to.active_element == retry  # focus moved to it, for the keyboard
    ActionChains(alice).send_keys(Keys.ENTER).perform()
    message(alice, 1)
    assert alice.find_elements(*outgoing) == []
    open_once_unread(bob, 1)
    message(bob, 1)
    assert shown_seqs(bob) == [1]


def test_alice_starts_a_group_in_her_page_and_bob_hears_her_there(
    own_stack: Stack, alice_and_bob: tuple[WebDriver, WebDriver]
) -> None:
    alice, bob = alice_and_bob
    alice.find_element(By.CSS_SELECTOR, "#new-group summary").click()
    alice.find_element(By.ID, "group-title").send_keys("Band")
    alice.find_element(By.ID, "group-members").send_keys("bob, carol", Keys.ENTER)
    wait(
        alice,
        expected_conditions.text_to_be_present_in_element((By.ID, "conversation-title"), "Band"),
    )

    # Bob hears of the group (a membership event) before anyone says a word in it.
    wait(bob, expected_conditions.text_to_be_present_in_element(OPENER, "Band"))
    hold_key_on(alice, alice.find_element(By.ID, "record"), 1.5)
    message(alice, 1)
    open_once_unread(bob, 1)
    assert message(bob, 1).find_element(By.CSS_SELECTOR, ".sender").text == "Alice"

    async def carols_news() -> list[dict[str, Any]]:
        carol = await connect_as(own_stack, "carol")
        try:
            return list((await carol.request("sync", since={}))["conversations"])
        finally:
            await carol.close()

    [band] = asyncio.run(carols_news())
    assert (band["member"], band["lastSeq"], band["unread"]) == (True, 1, 1)


def decide(stack: Stack, user_id: str, reason: str | None = None) -> None:
    """Mona approves (or, with a reason, rejects), through the HTTP API's moderator routes."""
    mona = stack.user("mona")
    token = sign_in(stack.config, mona["username"], mona["password"])
    api, auth = stack.info["http_api_url"], {"Authorization": f"Bearer {token}"}
    case = requests.get(f"{api}/moderation/cases/{user_id}", headers=auth, timeout=30).json()
    decided = requests.post(
        f"{api}/moderation/cases/{user_id}/decision",
        json={"version": case["version"], "approve": reason is None, "reason": reason},
        headers=auth,
        timeout=30,
    )
    assert decided.ok, decided.text


def user_id_of(stack: Stack, username: str) -> str:
    attributes = stack.clients.cognito.admin_get_user(
        UserPoolId=stack.info["user_pool_id"], Username=username
    )["UserAttributes"]
    return next(a["Value"] for a in attributes if a["Name"] == "sub")


def test_a_new_user_signs_up_sends_a_selfie_and_chats_once_approved(
    own_stack: Stack, pages: tuple[WebDriver, WebDriver], tmp_path: Path
) -> None:
    page, _ = pages
    username = f"erin-{uuid.uuid4().hex[:8]}"
    page.get(f"{own_stack.info['http_api_url']}/app/")
    wait(page, expected_conditions.element_to_be_clickable((By.ID, "to-sign-up"))).click()
    for field, value in [
        ("new-name", "Erin"),
        ("new-username", username),
        ("new-email", f"{username}@example.com"),
        ("new-password", PASSWORD),
    ]:
        page.find_element(By.ID, field).send_keys(value)
    page.find_element(By.ID, "sign-up-button").click()
    code = wait(page, expected_conditions.visibility_of_element_located((By.ID, "code")))
    code.send_keys("123456", Keys.ENTER)

    # Not verified yet: the page asks for a selfie instead of showing conversations.
    selfie = wait(page, expected_conditions.visibility_of_element_located((By.ID, "selfie")))
    assert not page.find_element(By.ID, "chat").is_displayed()
    selfie.send_keys(str(a_jpeg(tmp_path)))
    page.find_element(By.ID, "selfie-button").click()
    wait(
        page,
        expected_conditions.text_to_be_present_in_element((By.ID, "verify-state"), "moderator"),
    )
    screenshot(page, "web-client-verifying")

    decide(own_stack, user_id_of(own_stack, username))
    wait(page, lambda d: d.find_element(By.ID, "chat").is_displayed())
    assert "verified" in page.find_element(By.ID, "status").text
    # Her profile has the name she signed up with (Cognito's ``name``), not her user name.
    wait(page, expected_conditions.text_to_be_present_in_element((By.ID, "who"), "Erin"))
    # Chat actions now work on the same connection: she finds Alice and opens a conversation.
    page.find_element(By.ID, "new-conversation").send_keys("alice", Keys.ENTER)
    wait(
        page,
        expected_conditions.text_to_be_present_in_element((By.ID, "conversation-title"), "Alice"),
    )
    assert not page.find_element(By.ID, "problem").is_displayed()

    # Signing out leaves nothing of hers in the browser.
    page.find_element(By.ID, "sign-out").click()
    wait(page, expected_conditions.visibility_of_element_located((By.ID, "sign-in-form")))
    left = page.execute_script(
        "return [sessionStorage.getItem('sotto.session'), Object.keys(localStorage)]"
    )
    assert left == [None, []]


def test_a_rejected_user_reads_why_and_asks_for_another_look(
    own_stack: Stack, pages: tuple[WebDriver, WebDriver], tmp_path: Path
) -> None:
    page, _ = pages
    username = signed_up(own_stack)
    user_id, _ = waiting_for_review(own_stack, a_jpeg(tmp_path).read_bytes(), username)
    page.get(f"{own_stack.info['http_api_url']}/app/")
    wait(page, expected_conditions.visibility_of_element_located((By.ID, "username")))
    page.find_element(By.ID, "username").send_keys(username)
    page.find_element(By.ID, "password").send_keys(PASSWORD, Keys.ENTER)
    state = (By.ID, "verify-state")
    wait(page, expected_conditions.text_to_be_present_in_element(state, "moderator will look"))

    decide(own_stack, user_id, reason="The photo does not show you clearly")
    wait(page, expected_conditions.text_to_be_present_in_element(state, "does not show you"))
    assert page.find_element(By.ID, "verify-state").text == (
        "Your verification was not approved: The photo does not show you clearly."
    )
    page.find_element(By.ID, "appeal-message").send_keys("It is me, in better light.")
    page.find_element(By.ID, "appeal-button").click()
    wait(page, expected_conditions.text_to_be_present_in_element(state, "moderator will look"))
    assert not page.find_element(By.ID, "appeal-form").is_displayed()
