"""The page never shows an older state after a newer one: a roster answer older than a live
message the page has applied cannot undo it, and the header's totals never go down while
events arrive."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Route, expect

from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage
from tests.dashboard.test_dashboard_live import _event, _run

pytestmark = pytest.mark.browser

# Every value the header's run total and Ann's tile take, as the page shows them.
RECORD_CHANGES = """() => {
  window.runTotals = [];
  window.annStates = [];
  const total = document.querySelector('[data-total="executions"]');
  const tile = document.querySelector('#roster .tile[data-student-id="ANN"]');
  new MutationObserver(() => window.runTotals.push(Number(total.textContent.replace(/,/g, ""))))
    .observe(total, { childList: true, characterData: true, subtree: true });
  new MutationObserver(() => window.annStates.push(tile.dataset.state))
    .observe(tile, { attributes: true, attributeFilter: ["data-state"] });
}"""

NEXT_FRAME = "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


async def test_a_roster_answer_older_than_a_message_cannot_undo_it(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("Order lab", "ORDER")
        ann = await seed.student("student001@example.com", klass)
        await seed.student("student002@example.com", klass)
        await session.commit()
    browser = admin_page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(2)
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    await browser.evaluate(RECORD_CHANGES.replace("ANN", str(ann.id)))
    tile = browser.locator(f'#roster .tile[data-student-id="{ann.id}"]')

    # The next roster read is answered only when the test says so, with what the server
    # said when it was asked: an answer overtaken by the messages that follow.
    asked = asyncio.Event()
    release = asyncio.Event()
    asked_again = asyncio.Event()

    async def hold(route: Route) -> None:
        if asked.is_set():  # later reads go through
            asked_again.set()
            await route.continue_()
            return
        answer = await route.fetch()
        asked.set()
        await release.wait()
        await route.fulfill(response=answer)

    await browser.route(f"**/api/v1/progress/classes/{klass.id}", hold)
    start = datetime.now(UTC) - timedelta(seconds=30)
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:

        async def post(*events: dict[str, Any]) -> None:
            for event in events:
                response = await http.post("/api/v1/events", json=[event])
                assert response.status_code == 202, response.text

        # A message asks for a roster read (within 4 s of the last one).
        await post(_run("student002@example.com", start, 1))
        async with asyncio.timeout(10):
            await asyncio.wait_for(asked.wait(), 10)

        # Ann asks for help and runs cells after that read was taken.
        await post(_event("student001@example.com", "help", start + timedelta(seconds=1)))
        await post(
            *(_run("student001@example.com", start + timedelta(seconds=2 + n), 2) for n in range(3))
        )
        await expect(tile).to_have_attribute("data-state", "help")
        await expect(tile.locator(".tile-runs")).to_have_text("3 runs")
        await expect(browser.locator('[data-total="executions"]')).to_have_text("4")

        release.set()
        # The page asks again only once it has taken the held answer in (messages asked for
        # a read meanwhile), and draws it in the next frame. Then more events come, and the
        # regular reads that follow include them.
        async with asyncio.timeout(10):
            await asked_again.wait()
        await browser.evaluate(NEXT_FRAME)
        await expect(tile).to_have_attribute("data-state", "help")
        await post(
            *(_run("student002@example.com", start + timedelta(seconds=6 + n), 3) for n in range(5))
        )
        await expect(browser.locator('[data-total="executions"]')).to_have_text("9")

    await expect(tile).to_have_attribute("data-state", "help")
    await expect(tile.locator(".tile-runs")).to_have_text("3 runs")
    states = await browser.evaluate("window.annStates")
    assert states == ["help"], states  # help from the message on, never back
    totals = await browser.evaluate("window.runTotals")
    assert totals == sorted(totals), totals
    assert totals[-1] == 9
    assert admin_page.errors == []
