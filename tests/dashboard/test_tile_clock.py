"""A tile's clock moves by itself: the one-second tick reaches the tiles the browser renders
(told by `content-visibility`'s state changes, not by an observer of the page's own)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.classroom.seed import Seeder, ago
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser


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
