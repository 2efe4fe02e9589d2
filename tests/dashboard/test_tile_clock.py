"""A tile's clock moves by itself: the one-second tick reaches the tiles the browser renders
(told by `content-visibility`'s state changes, not by an observer of the page's own)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.classroom.seed import Seeder, ago
from tests.conftest import LiveServer
from tests.dashboard import page_clock
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser

# The page's clock tick (app.js): the clock texts move once a second.
TICK_MS = 1000


async def test_a_tile_in_view_counts_the_seconds_since_its_student_was_seen(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student("ann@example.com", klass, last_activity_at=ago(seconds=10))
        await session.commit()
    browser = admin_page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    seen = browser.locator(f'#roster .tile[data-student-id="{student.id}"] .tile-seen')
    await expect(seen).to_have_text(re.compile(r"^\d+s ago$"))
    first = await seen.text_content()
    # No message comes: only the clock can move it.
    await expect(seen).not_to_have_text(first or "")
    await expect(seen).to_have_text(re.compile(r"^\d+s ago$"))


async def test_every_clock_text_shows_the_tick_s_instant(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    """The list, a tile and the seat card tell one student's wait from one instant, moved by
    the one-second tick: a text filled between two ticks (a seat hovered, a tile shown again)
    does not run ahead of the others. The page runs on Playwright's paused clock, whose
    system time the test moves without a tick, as happens between two."""
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        asker = await seed.student(
            "asker@example.com", klass, name="Aiko Asker", help_requested_at=ago(seconds=45)
        )
        await session.commit()
    browser = admin_page.page
    await browser.clock.install()
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    listed = browser.locator(f'#attention-list [data-student-id="{asker.id}"] .attention-wait')
    badge = browser.locator(f'#roster .tile[data-student-id="{asker.id}"] .tile-badge')
    await expect(listed).to_have_text(re.compile(r"^waiting \d+s$"))
    # Long enough for a draw: its wait since the last one, then its animation frame.
    draw_ms = (await page_clock.timing_rules(browser))["draw"] + page_clock.STEP_MS
    await page_clock.pause(browser)
    await browser.clock.run_for(draw_ms)
    # Step to just after a tick: the wait moves by a second at each.
    before = await listed.text_content()

    async def ticked() -> bool:
        return await listed.text_content() != before

    await page_clock.step_until(browser, ticked, TICK_MS + draw_ms)
    await browser.clock.run_for(draw_ms)
    shown = await listed.text_content()
    assert shown != before
    assert await badge.text_content() == (shown or "").replace("waiting", "Help")

    # Five seconds pass on the page's clock with no tick, as if between two.
    await browser.clock.set_system_time(await browser.evaluate("Date.now() / 1000 + 5"))
    await browser.locator('#views [data-view="seats"]').click()
    await browser.clock.run_for(draw_ms)
    await browser.locator(f'#seatmap .seat[data-student-id="{asker.id}"]').hover()
    card = browser.locator("#seat-detail .seat-detail-state")
    await expect(card).to_contain_text("waiting")
    assert f"· {await listed.text_content()} ·" in (await card.text_content() or "")
    # Back to the tiles: each is filled again when the browser renders it once more (its
    # content-visibility event, which comes in real time, not on the page's clock).
    await browser.locator('#views [data-view="tiles"]').click()
    await browser.clock.run_for(draw_ms)
    # The clock stands still now, and with it the list.
    await expect(badge).to_have_text((await listed.text_content() or "").replace("waiting", "Help"))
