"""Headless Chromium driven by Playwright, and the real app served on a free port.

Playwright's async API runs in the tests' own event loop, beside the server, so a test
awaits the browser while the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from cellmon.app import create_app
from cellmon.core.settings import Settings
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


class _TestServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Ctrl-C must stop pytest, not only this server.
        yield


@dataclass(frozen=True)
class LiveServer:
    app: FastAPI
    base_url: str


@pytest.fixture
async def live_server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app under uvicorn on a free port, in the test's event loop."""
    application = create_app(settings)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = _TestServer(uvicorn.Config(application, log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    serving.result()
                    pytest.fail("the test server stopped during start-up")
                await asyncio.sleep(0.01)
        yield LiveServer(application, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await serving
        listener.close()
