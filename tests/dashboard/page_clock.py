"""The page's own clock (Playwright's), for tests of the dashboard's timing rules: paused,
it moves only when a test moves it, so a loaded machine can slow a test down but cannot make
the page look early or late."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page

STEP_MS = 50


async def pause(page: Page) -> None:
    """Stop the page's clock (installed before the page was opened). pause_at cannot go back,
    and on a loaded machine the call can take over a second to arrive: it aims 10 s ahead,
    a jump whose timers fire before the test goes on. (Python's pause_at takes seconds.)"""
    await page.clock.pause_at(await page.evaluate("Date.now() / 1000 + 10"))


async def step_until(page: Page, done: Callable[[], Awaitable[bool]], limit_ms: int) -> int:
    """Move the paused clock in small steps until `done`; fail past `limit_ms`. Answers the
    page time it took."""
    stepped = 0
    while not await done():
        assert stepped < limit_ms, f"not done after {stepped} ms of the page's time"
        await page.clock.run_for(STEP_MS)
        stepped += STEP_MS
    return stepped


async def timing_rules(page: Page) -> dict[str, Any]:
    """The page's timing rules, as rules.js defines them (one definition, not copies)."""
    rules: dict[str, Any] = await page.evaluate(
        "import('/dashboard/static/rules.js').then((rules) => ({"
        " draw: rules.LIVE_DRAW_MS, period: rules.REFRESH_MS.cells,"
        " urgent: rules.URGENT_REFRESH_MS }))"
    )
    return rules
