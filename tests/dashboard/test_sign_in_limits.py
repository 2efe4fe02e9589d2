"""The sign-in page under the sign-in rate limit: it says how long to wait, and waits."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.accounts import TEST_PASSWORD, create_account
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser

ANN = "ann@example.org"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A short window, so that the test sees the wait end.
    return {"CELLMON_RATE_LIMIT_SIGNIN_PER_ACCOUNT": "2/10 seconds"}


async def test_too_many_attempts_say_when_to_try_again(
    live_server: LiveServer, page: WatchedPage
) -> None:
    await create_account(live_server.app, ANN, "instructor")
    browser = page.page
    await browser.goto(f"{live_server.base_url}/login")
    submit = browser.get_by_role("button", name="Sign in")
    error = browser.get_by_role("alert")

    for _ in range(2):
        await browser.get_by_label("E-mail address").fill(ANN)
        await browser.get_by_label("Password").fill("a guess")
        await submit.click()
        await expect(error).to_have_text(
            "Wrong e-mail address or password (or the account is disabled)."
        )
    await browser.get_by_label("Password").fill("another guess")
    await submit.click()

    await expect(error).to_have_text(
        re.compile(r"^Too many sign-in attempts\. Try again in \d+ s\.$")
    )
    wait = int(re.findall(r"\d+", await error.inner_text())[0])
    assert 0 < wait <= 10
    await expect(submit).to_be_disabled()

    await expect(submit).to_be_enabled(timeout=15_000)
    await expect(error).to_be_hidden()
    await browser.get_by_label("Password").fill(TEST_PASSWORD)
    await submit.click()
    await expect(browser).to_have_url(f"{live_server.base_url}/dashboard")
    assert page.uncaught == []
