"""The dashboard in headless Chromium: a class of 200 at a glance, and data shown as data."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from cellmon.db.models import User
from tests.accounts import bearer
from tests.classroom.seed import Seeder, ago
from tests.conftest import LiveServer
from tests.dashboard.busy_class import seed_busy_class
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser


async def test_a_class_of_200_at_a_glance(
    live_server: LiveServer,
    admin_page: WatchedPage,
    live_admin: User,
    artifacts_dir: Path,
    db_backend: str,
) -> None:
    page = admin_page
    app = live_server.app
    class_id = await seed_busy_class(app.state.database, app.state.backends.timeseries, 200)
    async with httpx.AsyncClient(
        base_url=live_server.base_url, headers=bearer(app, live_admin)
    ) as http:
        roster = (await http.get(f"/api/v1/progress/classes/{class_id}")).json()

    await page.page.goto(f"{live_server.base_url}/dashboard?class_id={class_id}")

    tiles = page.page.locator("#roster .tile")
    await expect(tiles).to_have_count(200)
    totals = roster["totals"]
    for key in ("students", "active", "idle", "stuck", "help"):
        await expect(page.page.locator(f'[data-total="{key}"]')).to_have_text(str(totals[key]))
    await expect(page.page.locator("#class-name")).to_have_text(roster["class_name"])
    # Help requests first, then stuck students, in the list and at the top of the roster.
    attention = page.page.locator("#attention-list .attention-item")
    await expect(attention).to_have_count(totals["help"] + totals["stuck"])
    kinds = await attention.evaluate_all("items => items.map(item => item.dataset.kind)")
    assert kinds == ["help"] * totals["help"] + ["stuck"] * totals["stuck"]
    assert await tiles.first.get_attribute("data-state") == "help"
    await expect(page.page.locator("#heatmap .heat-row")).to_have_count(14)
    await expect(page.page.locator("#timeline-chart rect.bar-runs").first).to_be_visible()
    await expect(page.page.locator("#timeline-chart rect.bar-errors").first).to_be_visible()
    await page.page.screenshot(path=artifacts_dir / f"dashboard-200-students-{db_backend}.png")

    await page.page.locator('#state-filters [data-filter="stuck"]').click()

    await expect(page.page.locator("#roster .tile:visible")).to_have_count(totals["stuck"])
    states = await page.page.locator("#roster .tile:visible").evaluate_all(
        "tiles => tiles.map(tile => tile.dataset.state)"
    )
    assert set(states) == {"stuck"}

    await page.page.locator('#state-filters [data-filter="all"]').click()
    await page.page.locator("#search").fill("student007@")

    await expect(page.page.locator("#roster .tile:visible")).to_have_count(1)
    await page.page.locator('#views [data-view="compact"]').click()
    await page.page.locator("#search").fill("")
    await page.page.screenshot(path=artifacts_dir / f"dashboard-200-compact-{db_backend}.png")
    await expect(page.page.locator("#connection")).to_have_attribute("data-state", "live")
    assert page.errors == []


async def test_student_input_is_shown_as_text_never_as_markup(
    live_server: LiveServer, admin_page: WatchedPage
) -> None:
    page = admin_page
    hostile = "<img src=x onerror=\"document.title='owned'\">@example.com"
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("<script>alert(1)</script>", "XSS")
        await seed.student(
            hostile,
            klass,
            name="<b>bold</b>",
            team="</div><i>team</i>",
            last_activity_at=ago(minutes=1),
            help_requested_at=ago(minutes=1),
        )
        await session.commit()

    await page.page.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")

    tile = page.page.locator("#roster .tile")
    await expect(tile).to_have_count(1)
    await expect(tile.locator(".tile-name")).to_have_text("<b>bold</b>")
    await expect(tile.locator(".tile-mail")).to_have_text(f"{hostile} · </div><i>team</i>")
    await expect(page.page.locator("#attention-list .attention-name")).to_have_text("<b>bold</b>")
    await expect(page.page.locator("#class-name")).to_have_text("<script>alert(1)</script>")
    await expect(page.page.locator("#class-picker option:checked")).to_have_text(
        "<script>alert(1)</script> (XSS)"
    )
    assert await page.page.locator("main img, main b, main i, main script").count() == 0
    assert await page.page.title() != "owned"
