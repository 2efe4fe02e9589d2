"""The lecture hall at a glance: 1,000 students on one 1600×1000 screen in the seat map, help
and stuck told apart by more than colour, details on hover, click and keyboard; and the small
things a class of that size shows up: one wait format, namesakes told apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.classroom.seed import Seeder, ago
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage

pytestmark = pytest.mark.browser

STUDENTS = 1000

# Per state, the seat's shape and mark: what tells help and stuck apart without colour.
SEAT_LOOKS = """() => Object.fromEntries(["help", "stuck", "active", "idle"].map((state) => {
  const seat = document.querySelector(`#seatmap .seat[data-state="${state}"]`);
  const style = getComputedStyle(seat);
  const mark = getComputedStyle(seat, "::after").content;
  return [state, [style.borderTopLeftRadius, style.borderTopWidth, mark]];
}))"""

# Whether every seat lies inside the window, and the map needs no scrolling.
ALL_SEATS_SEEN = """() => {
  const map = document.getElementById("seatmap");
  const seats = [...map.querySelectorAll(".seat")];
  const inside = seats.every((seat) => {
    const box = seat.getBoundingClientRect();
    return box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth;
  });
  return { inside, scrolls: map.scrollHeight > map.clientHeight, count: seats.length };
}"""


async def test_a_lecture_hall_fits_the_seat_map(
    live_server: LiveServer, admin_page: WatchedPage, artifacts_dir: Path, db_backend: str
) -> None:
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass("Lecture hall", "HALL")
        _, cells = await seed.notebook("lessons/week1.ipynb", 3)
        asker = await seed.student(
            "asker@example.com",
            klass,
            name="Aiko Asker",
            last_activity_at=ago(minutes=1),
            help_requested_at=ago(seconds=45),
        )
        stuck = await seed.student(
            "stuck@example.com", klass, name="Bo Stuck", last_activity_at=ago(minutes=1)
        )
        await seed.runs(stuck, cells[1], "seee", ago(minutes=1), error="KeyError: 'price'")
        first = await seed.student("ken@example.com", klass, name="Ken Sato")
        second = await seed.student("sato.k@example.com", klass, name="Ken Sato")
        for number in range(STUDENTS - 4):
            await seed.student(
                f"student{number:04d}@example.com",
                klass,
                name=f"Student {number:04d}",
                last_activity_at=ago(minutes=1) if number % 2 else None,
            )
        await session.commit()
    browser = admin_page.page
    await browser.goto(f"{live_server.base_url}/dashboard?class_id={klass.id}")
    await expect(browser.locator("#roster .tile")).to_have_count(STUDENTS)

    # One wait format: the tile's badge and the list say the same time.
    waits = await browser.evaluate(
        """(id) => [
          document.querySelector(`#roster .tile[data-student-id="${id}"] .tile-badge`),
          document.querySelector(`#attention-list [data-student-id="${id}"] .attention-wait`),
        ].map((node) => node.textContent)""",
        asker.id,
    )
    assert waits[0].removeprefix("Help ") == waits[1].removeprefix("waiting "), waits
    assert waits[0].endswith("s"), waits  # 45s, not "0m"
    # Namesakes are told apart, and cut names are whole in the tooltip.
    first_tile = browser.locator(f'#roster .tile[data-student-id="{first.id}"]')
    second_tile = browser.locator(f'#roster .tile[data-student-id="{second.id}"]')
    await expect(first_tile.locator(".tile-name")).to_have_text("Ken Sato (ken)")
    await expect(second_tile.locator(".tile-name")).to_have_text("Ken Sato (sato.k)")
    await expect(second_tile).to_have_attribute("title", "Ken Sato <sato.k@example.com>")

    await browser.locator('#views [data-view="seats"]').click()

    await expect(browser.locator("#seatmap .seat[data-student-id]")).to_have_count(STUDENTS)
    assert await browser.evaluate(ALL_SEATS_SEEN) == {
        "inside": True,
        "scrolls": False,
        "count": STUDENTS,
    }
    looks = await browser.evaluate(SEAT_LOOKS)
    assert looks["help"][2] == '"?"'
    assert looks["stuck"][2] == '"!"'
    assert looks["active"][2] == looks["idle"][2] == "none"
    assert looks["help"][0] != looks["active"][0]  # a circle among squares
    assert looks["stuck"][1] != looks["active"][1]  # a thick outline
    await browser.screenshot(path=artifacts_dir / f"dashboard-seat-map-{db_backend}.png")

    detail = browser.locator("#seat-detail")
    await browser.locator(f'#seatmap .seat[data-student-id="{stuck.id}"]').hover()
    await expect(detail).to_contain_text("Bo Stuck")
    await expect(detail).to_contain_text("stuck@example.com")
    await expect(detail).to_contain_text("3 errors in a row")
    await expect(detail).to_contain_text("KeyError: 'price'")
    await browser.locator(f'#seatmap .seat[data-student-id="{asker.id}"]').click()
    await browser.mouse.move(0, 0)
    await expect(detail).to_contain_text("Aiko Asker")
    await expect(detail).to_contain_text("waiting")

    # The keyboard: the chosen seat is the one in the tab order; arrows move, Enter chooses.
    await browser.keyboard.press("ArrowRight")
    focused = browser.locator("#seatmap .seat:focus")
    await expect(focused).to_have_attribute("data-student-id", str(stuck.id))
    await browser.keyboard.press("Enter")
    await expect(focused).to_have_attribute("aria-pressed", "true")
    await expect(detail).to_contain_text("Bo Stuck")

    # A filter dims the others and moves no seat.
    await browser.locator('#state-filters [data-filter="help"]').click()
    await expect(browser.locator('#seatmap .seat[data-dim="false"]')).to_have_count(1)
    await expect(
        browser.locator(f'#seatmap .seat[data-student-id="{asker.id}"]')
    ).to_have_attribute("data-dim", "false")
    assert admin_page.errors == []
