"""The dashboard follows a class live: events posted as the real client posts them show up
in the roster, the heat map and the needs-attention list without a reload."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from cellmon.db.models import User
from cellmon.live.messages import STUCK_ALERT
from tests.accounts import bearer
from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
from tests.dashboard import page_clock
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser

SESSION = "a1b2c3d4-e5f6-4789-8abc-def012345678"


def _event(email: str, event_type: str, at: datetime, **extra: Any) -> dict[str, Any]:
    """An event as the JupyterLab extension sends it (camelCase, absent values left out)."""
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventTime": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "emailAddress": email,
        "teamName": "チームA",
        "userName": f"テスト学生{email[7:10]}",
        "sessionId": SESSION,
        "notebookPath": "lessons/week1.ipynb",
        **extra,
    }


def _run(email: str, at: datetime, index: int, error: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "cellId": f"cell-{index}",
        "cellIndex": index,
        "cellType": "code",
        "code": "1/0" if error else "x = 2 + 2\nx",
        "executionCount": 1,
        "hasError": error is not None,
        "result": error or "4",
        "executionDurationMs": 2,
    }
    if error:
        extra["errorMessage"] = error
    return _event(email, "cell_executed", at, **extra)


async def test_dashboard_follows_the_class_live(
    live_server: LiveServer,
    admin_page: WatchedPage,
    live_admin: User,
    artifacts_dir: Path,
    db_backend: str,
) -> None:
    page = admin_page
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("Live lab", "LIVE")
        students = [await seed.student(f"student00{n}@example.com", klass) for n in (1, 2, 3)]
        await session.commit()
    runner, struggler, asker = (student.id for student in students)
    browser = page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(3)
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    await browser.evaluate("window.loadedOnce = true")

    def tile(student_id: int) -> Any:
        return browser.locator(f'#roster .tile[data-student-id="{student_id}"]')

    start = datetime.now(UTC) - timedelta(seconds=5)
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:

        async def post(event: dict[str, Any]) -> None:
            response = await http.post(
                "/api/v1/events", json=[event], headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 202, response.text

        await post(_run("student001@example.com", start, 3))

        await expect(tile(runner)).to_have_attribute("data-state", "active")
        await expect(tile(runner).locator(".tile-runs")).to_have_text("1 runs")
        await expect(tile(runner).locator(".tile-cell")).to_contain_text("#3")
        row = browser.locator('#heatmap .heat-row[data-cell-index="3"]')
        await expect(row).to_have_attribute("data-students", "1")

        for second in range(3):
            error = "ZeroDivisionError: division by zero"
            await post(_run("student002@example.com", start + timedelta(seconds=second), 4, error))

        await expect(tile(struggler)).to_have_attribute("data-state", "stuck")
        await expect(tile(struggler).locator(".tile-errors")).to_have_text("3 err")
        stuck_item = browser.locator(f'#attention-list [data-student-id="{struggler}"]')
        await expect(stuck_item).to_have_attribute("data-kind", "stuck")
        await expect(stuck_item).to_contain_text("ZeroDivisionError")
        row = browser.locator('#heatmap .heat-row[data-cell-index="4"]')
        await expect(row).to_have_attribute("data-students-stuck", "1")
        await expect(row).to_have_attribute("data-students-with-errors", "1")

        await post(_event("student003@example.com", "help", start + timedelta(seconds=4)))

        help_item = browser.locator(f'#attention-list [data-student-id="{asker}"]')
        await expect(help_item).to_have_attribute("data-kind", "help")
        await expect(help_item.locator(".attention-wait")).to_contain_text("waiting")
        # Help requests come before stuck students.
        await expect(browser.locator("#attention-list .attention-item").first).to_have_attribute(
            "data-student-id", str(asker)
        )
        await expect(tile(asker)).to_have_attribute("data-state", "help")
        await browser.screenshot(path=artifacts_dir / f"dashboard-live-{db_backend}.png")

        await help_item.get_by_role("button", name="Mark handled").click()

        await expect(help_item).to_have_count(0)
        await expect(tile(asker)).not_to_have_attribute("data-state", "help")
        roster = (
            await http.get(
                f"/api/v1/progress/classes/{klass.id}", headers=bearer(live_server.app, live_admin)
            )
        ).json()
    assert {row["id"]: row["help_active"] for row in roster["students"]}[asker] is False
    assert await browser.evaluate("window.loadedOnce") is True
    assert page.errors == []


class Frames:
    """The messages the page's socket receives, as they reach the browser."""

    def __init__(self, page: Page) -> None:
        self.heard: list[dict[str, Any]] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._received))

    def _received(self, payload: str | bytes) -> None:
        self.heard.append(json.loads(payload))

    async def wait_for(self, message_type: str, count: int) -> None:
        """Until `count` messages of `message_type` have reached the browser, in real time."""
        deadline = time.monotonic() + 15
        while sum(frame.get("type") == message_type for frame in self.heard) < count:
            assert time.monotonic() < deadline, f"{count} × {message_type} never came: {self.heard}"
            await asyncio.sleep(0.02)


async def test_a_newly_stuck_student_brings_the_heat_map_read_forward(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    """The heat map counts who is stuck on each cell, which no message carries: a message that
    makes a student stuck has it read within URGENT_REFRESH_MS, not at its 4 s period. The page
    runs on Playwright's clock, paused, so only the test moves its time: the machine's load can
    make the test slower but not make the read look early or late."""
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("Heat lab", "HEAT")
        student = await seed.student("student001@example.com", klass)
        await session.commit()
    browser = admin_page.page
    frames = Frames(browser)
    await browser.clock.install()
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(1)
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    rules = await page_clock.timing_rules(browser)
    await page_clock.pause(browser)  # before any event is posted

    cells_read = re.compile(r"/api/v1/progress/classes/\d+/cells$")

    async def heat_row(attribute: str) -> str:
        return str(
            await browser.evaluate(
                """(name) => document.querySelector('#heatmap .heat-row[data-cell-index="4"]')
                    ?.getAttribute(name) ?? ''""",
                attribute,
            )
        )

    # Error messages are students' own output: shown as text, in the list and the heat map.
    hostile = "<img src=x onerror=\"document.title='owned'\">ZeroDivisionError"
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:

        async def post() -> None:
            event = _run("student001@example.com", datetime.now(UTC), 4, hostile)
            response = await http.post("/api/v1/events", json=[event])
            assert response.status_code == 202, response.text

        async def read_within(limit_ms: int) -> None:
            async with browser.expect_request(cells_read) as asked:

                async def done() -> bool:
                    return asked.is_done()

                await page_clock.step_until(browser, done, limit_ms)
            read = await asked.value
            response = await read.response()
            assert response is not None
            assert response.ok, response.status
            await response.finished()

        await post()
        await post()
        await frames.wait_for("execution_update", 2)
        # Runs ask for the heat map at its period.
        await read_within(rules["period"] + page_clock.STEP_MS)

        async def shows_two_runs() -> bool:
            return " 2 runs," in await heat_row("title")

        await page_clock.step_until(browser, shows_two_runs, rules["draw"] * 4)
        assert await heat_row("data-students-stuck") == "0"

        await post()
        await frames.wait_for(STUCK_ALERT, 1)
        # The last read was a moment ago, so the next at its period is about 4 s away; the
        # stuck student brings it forward (the draw's time is slack for the message's own way).
        await read_within(rules["urgent"] + rules["draw"])

        async def shows_one_stuck() -> bool:
            return await heat_row("data-students-stuck") == "1"

        await page_clock.step_until(browser, shows_one_stuck, rules["draw"] * 4)

    row = browser.locator('#heatmap .heat-row[data-cell-index="4"]')
    await expect(row.locator(".heat-error")).to_have_text(hostile)
    tile = browser.locator(f'#roster .tile[data-student-id="{student.id}"]')
    await expect(tile).to_have_attribute("data-state", "stuck")
    await expect(browser.locator("#attention-list .attention-error")).to_have_text([hostile])
    assert await browser.locator("main img").count() == 0
    assert await browser.title() != "owned"
    assert admin_page.errors == []
