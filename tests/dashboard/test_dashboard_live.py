"""The dashboard follows a class live: events posted as the real client posts them show up
in the roster, the heat map and the needs-attention list without a reload."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from cellmon.db.models import User
from tests.accounts import bearer
from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
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


async def test_heat_map_shows_a_newly_stuck_student_within_two_seconds(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    page = admin_page
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("Heat lab", "HEAT")
        emails = [f"student00{n}@example.com" for n in (1, 2, 3)]
        for email in emails:
            await seed.student(email, klass)
        await session.commit()
    browser = page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(3)
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    # Error messages are students' own output: shown as text, in the list and the heat map.
    hostile = "<img src=x onerror=\"document.title='owned'\">ZeroDivisionError"
    row = browser.locator('#heatmap .heat-row[data-cell-index="4"]')
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:

        async def post(email: str) -> None:
            event = _run(email, datetime.now(UTC), 4, hostile)
            response = await http.post("/api/v1/events", json=[event])
            assert response.status_code == 202, response.text

        for stuck_before, email in enumerate(emails):
            await post(email)
            await post(email)
            # The heat map has just been read (it counts the second error): a read throttled
            # like the other runs' would now come 4 s later.
            runs = re.compile(f" {3 * stuck_before + 2} runs,")
            await expect(row).to_have_attribute("title", runs)
            posted = time.monotonic()

            await post(email)

            await expect(row).to_have_attribute(
                "data-students-stuck", str(stuck_before + 1), timeout=2000
            )
            delays.append(time.monotonic() - posted)
    assert max(delays) < 2, delays
    await expect(row.locator(".heat-error")).to_have_text(hostile)
    await expect(browser.locator("#attention-list .attention-error")).to_have_text([hostile] * 3)
    assert await browser.locator("main img").count() == 0
    assert await browser.title() != "owned"
    assert page.errors == []
