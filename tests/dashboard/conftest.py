"""Headless Chromium driven by Playwright.

Playwright's async API runs in the tests' own event loop, beside the `live_server` of
tests/conftest.py, so a test awaits the browser while the server keeps serving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from cellmon.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from cellmon.auth.tokens import TokenCodec
from cellmon.db.models import User
from tests.conftest import LiveServer
from tests.services import service_missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}

# How long an expectation waits for the page (Playwright's default is 5 s). A first read
# takes milliseconds alone, but `make test` runs four test processes, their servers and
# Chromium on two cores; what a test proves is that the page gets there, not how fast
# (timing rules are proven on the page's own paused clock, e.g. test_dashboard_live.py).
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        service_missing("Chromium", f"{CHROMIUM} not found (scripts/services.sh up installs it)")
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """One Chromium for the session; Playwright gives each launch a fresh user-data-dir."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class WatchedPage:
    """A page, and what went wrong in it: uncaught errors and console errors."""

    page: Page
    errors: list[str]

    @property
    def uncaught(self) -> list[str]:
        """The page's own failures, without the console's note of each 4xx it was answered."""
        return [error for error in self.errors if error.startswith("page error")]


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[WatchedPage]:
    context: BrowserContext = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    try:
        yield WatchedPage(opened, errors)
    finally:
        await context.close()


async def sign_in(
    page: WatchedPage, server: LiveServer, user: User, codec: TokenCodec | None = None
) -> None:
    """Give the browser a session for `user`, the two cookies the sign-in page would leave
    (minted by the app's codec, or by `codec`, e.g. one of shorter lifetime)."""
    if codec is None:
        codec = server.app.state.tokens
    issued = codec.issue(user.id, with_csrf=True)
    assert issued.csrf is not None
    await page.page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": issued.token,
                "url": server.base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            },
            {
                "name": CSRF_COOKIE,
                "value": issued.csrf,
                "url": server.base_url,
                "sameSite": "Strict",
            },
        ]
    )


@pytest.fixture
async def admin_page(page: WatchedPage, live_server: LiveServer, live_admin: User) -> WatchedPage:
    """A browser signed in as an admin, who may watch every class."""
    await sign_in(page, live_server, live_admin)
    return page
