"""Headless Chromium driven by Playwright.

Playwright's async API runs in the tests' own event loop, beside the `live_server` of
tests/conftest.py, so a test awaits the browser while the server keeps serving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

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
