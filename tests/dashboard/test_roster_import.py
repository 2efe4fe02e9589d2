"""Importing a roster from the dashboard: a CSV file chosen in the browser enrolls its
students, the page shows the server's report row by row, and the roster shows the students."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.accounts import add_instructor, create_account
from tests.classroom.seed import Seeder
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage, sign_in

pytestmark = pytest.mark.browser

ROSTER = (
    "\ufeffStudent ID,Last name,First name,Email address,Group\r\n"
    "A1,山田,太郎,taro@example.jp,チームA\r\n"
    "A2,Lovelace,Ada,ada@example.org,Team 2\r\n"
    "A3,Nobody,No,not-an-address,\r\n"
).encode()


async def _new_class_s_dashboard(
    live_server: LiveServer, page: WatchedPage, name: str, code: str
) -> Page:
    """A new class's dashboard, open in the browser of its instructor."""
    teacher = await create_account(live_server.app, "teacher@example.org", "instructor")
    async with live_server.app.state.database.sessions() as session:
        klass = await Seeder(session).klass(name, code)
        await session.commit()
    await add_instructor(live_server.app, klass.id, teacher.id)
    await sign_in(page, live_server, teacher)
    await page.page.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    return page.page


async def test_an_instructor_imports_a_csv_roster_and_sees_each_row(
    live_server: LiveServer, page: WatchedPage
) -> None:
    browser = await _new_class_s_dashboard(live_server, page, "Lecture hall", "HALL-1")
    await expect(browser.locator("#roster-empty")).to_have_text(
        "No student is enrolled in this class yet."
    )
    dialog = browser.locator("dialog.roster-import-dialog")
    file = {"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER}

    await browser.locator("#roster-import input[type=file]").set_input_files(file)

    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".roster-import-summary")).to_have_text(
        "3 rows: 2 created, 1 error."
    )
    await expect(dialog.locator(".roster-import-note")).to_have_text(
        "Columns not imported: Student ID."
    )
    rows = dialog.locator("tbody tr")
    await expect(rows).to_have_count(3)
    # The error first, saying what is wrong; then the students created.
    await expect(rows.nth(0)).to_have_attribute("data-outcome", "error")
    await expect(rows.nth(0)).to_contain_text("not-an-address")
    await expect(rows.nth(0)).to_contain_text("email: is not an e-mail address")
    await expect(rows.nth(1)).to_contain_text("taro@example.jp")
    await expect(rows.nth(1)).to_contain_text("created")
    # The page reads the roster again: the two students are in the class.
    await expect(browser.locator("#roster .tile")).to_have_count(2)
    await expect(browser.locator('[data-total="students"]')).to_have_text("2")

    await dialog.locator(".roster-import-close").click()
    await expect(dialog).to_be_hidden()
    await browser.locator("#roster-import input[type=file]").set_input_files(file)

    await expect(dialog.locator(".roster-import-summary")).to_have_text(
        "Nothing imported: 2 already enrolled, 1 error."
    )
    await expect(browser.locator("#roster .tile")).to_have_count(2)
    assert page.uncaught == []


async def test_a_file_that_is_no_roster_shows_the_server_s_reason(
    live_server: LiveServer, page: WatchedPage
) -> None:
    browser = await _new_class_s_dashboard(live_server, page, "Lab", "LAB-1")
    await expect(browser.locator("#roster-empty")).to_be_visible()

    await browser.locator("#roster-import input[type=file]").set_input_files(
        {"name": "grades.csv", "mimeType": "text/csv", "buffer": b"name,grade\nAda,A\n"}
    )

    summary = browser.locator("dialog.roster-import-dialog .roster-import-summary")
    await expect(summary).to_contain_text("The roster was not imported: row 1, the header, names")
    await expect(summary).to_have_attribute("data-outcome", "failed")
    await expect(browser.locator("dialog.roster-import-dialog tbody tr")).to_have_count(0)
    assert page.uncaught == []
