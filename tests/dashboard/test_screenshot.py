"""The README's screenshot: the dashboard under a simulated class of 200 (`cellmon simulate`'s
model), taken on every run so that it stays current. The test always takes and checks it
(test-artifacts/); with CELLMON_UPDATE_SCREENSHOTS=1 it also writes docs/images/dashboard.png,
so that a plain `make test` leaves the working tree as it was."""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.async_api import expect

from cellmon.db.models import User
from cellmon.simulate.account import create_class
from cellmon.simulate.lesson import plan_lesson
from tests.accounts import ADMIN_EMAIL, TEST_PASSWORD
from tests.conftest import LiveServer
from tests.dashboard.conftest import VIEWPORT, WatchedPage
from tests.events.helpers import drain

pytestmark = [
    pytest.mark.browser,
    # `make run`'s embedded storage, which the README's quick start shows.
    pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True),
]

README_IMAGE = Path(__file__).resolve().parents[2] / "docs" / "images" / "dashboard.png"
STUDENTS = 200
SEED = 7
# The moment of a 10-minute lesson the picture shows: students stuck and asking for help,
# some joining late, one "run it now" behind them.
LESSON_MINUTES = 10
SHOWN_AT_SECONDS = 5.5 * 60
BATCH = 100


def png_size(image: bytes) -> tuple[int, int]:
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", image[16:24])
    return width, height


async def simulate_the_class(server: LiveServer) -> tuple[int, int]:
    """The lesson's events up to SHOWN_AT_SECONDS, dated so that that moment is now, posted
    to a class made as `cellmon simulate --email` makes it; the class's id, and how many of
    its students have joined by then."""
    lesson = plan_lesson(STUDENTS, LESSON_MINUTES, SEED)
    joined = sum(student.joins_at <= SHOWN_AT_SECONDS for student in lesson.students)
    now = datetime.now(UTC)
    events = [
        event.wire(now - timedelta(seconds=SHOWN_AT_SECONDS - event.at))
        for event in lesson.events()
        if event.at <= SHOWN_AT_SECONDS
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        simulated = await create_class(http, server.base_url, ADMIN_EMAIL, TEST_PASSWORD, STUDENTS)
        # In batches rather than one per request as students would: the picture, not the load.
        for first in range(0, len(events), BATCH):
            response = await http.post(
                simulated.events_url, content=orjson.dumps(events[first : first + BATCH])
            )
            assert response.status_code == 202, response.text
    await drain(server.app)
    return simulated.class_id, joined


async def test_the_readme_screenshot_of_a_simulated_class_of_200(
    live_server: LiveServer, admin_page: WatchedPage, live_admin: User, artifacts_dir: Path
) -> None:
    class_id, joined = await simulate_the_class(live_server)
    assert joined < STUDENTS  # some join later still
    page = admin_page.page
    await page.goto(f"{live_server.base_url}/dashboard?class_id={class_id}")

    await expect(page.locator("#roster .tile")).to_have_count(joined)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    for shown in ("help", "stuck"):
        await expect(page.locator(f'#attention-list [data-kind="{shown}"]').first).to_be_visible()
    await expect(page.locator("#heatmap .heat-row").first).to_be_visible()
    await expect(page.locator("#timeline-chart rect.bar-runs").first).to_be_visible()
    image = await page.screenshot()
    assert png_size(image) == (VIEWPORT["width"], VIEWPORT["height"])
    (artifacts_dir / "dashboard-simulated-200.png").write_bytes(image)
    if os.environ.get("CELLMON_UPDATE_SCREENSHOTS") == "1":
        README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
        README_IMAGE.write_bytes(image)
    assert admin_page.uncaught == []
