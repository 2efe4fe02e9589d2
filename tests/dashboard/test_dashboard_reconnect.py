"""A dashboard the server drops (here: too slow for a burst) reconnects by itself and reads
the class again, so what it missed while away still shows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import update

from cellmon.db.models import Student
from cellmon.live.messages import PRESENCE, LiveMessage, class_channel, publish
from tests.classroom.seed import Seeder, ago, now
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser

BURST = 50


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Two frames waiting is the most a client may lag: the burst below overflows it.
    return {"CELLMON_WS_SEND_QUEUE": 2}


async def test_dropped_dashboard_reconnects_and_catches_up(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    page = admin_page
    app = live_server.app
    async with app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass()
        student = await seed.student("ann@example.com", klass, last_activity_at=ago(minutes=1))
        await session.commit()
    browser = page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    tile = browser.locator(f'#roster .tile[data-student-id="{student.id}"]')
    await expect(tile).to_have_attribute("data-state", "active")
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    await browser.evaluate("window.loadedOnce = true")
    # The help request is recorded, but its message is lost: the page learns of it only by
    # reading the class again.
    async with app.state.database.sessions() as session:
        await session.execute(
            update(Student)
            .where(Student.id == student.id)
            .values(help_active=True, help_requested_at=now(), help_last_seen_at=now())
        )
        await session.commit()
    assert app.state.hub.subscribers_of(class_channel(klass.id)) == 1

    await publish(
        app.state.backends.bus,
        [
            LiveMessage(PRESENCE, (class_channel(klass.id),), {"student_id": student.id})
            for _ in range(BURST)
        ],
    )

    for _ in range(500):  # the hub takes the burst off the bus in its own task
        if app.state.hub.dropped:
            break
        await asyncio.sleep(0.02)
    assert app.state.hub.dropped == 1
    await expect(browser.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(tile).to_have_attribute("data-state", "help")
    await expect(browser.locator("#attention-list .attention-item")).to_have_count(1)
    assert app.state.hub.subscribers_of(class_channel(klass.id)) == 1
    assert await browser.evaluate("window.loadedOnce") is True
