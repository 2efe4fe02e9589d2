"""The dashboard shows a class only to whom the API shows it: another instructor's class, or
any class to a student's account, is "no such class", with nothing of its roster on the page."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from playwright.async_api import expect

from cellmon.db.models import Class
from tests.accounts import add_instructor, bearer, create_account
from tests.classroom.seed import Seeder, ago
from tests.conftest import LiveServer
from tests.dashboard.conftest import WatchedPage, sign_in

pytestmark = pytest.mark.browser

SECRET_STUDENT = "secret-student@example.com"
SECRET_CLASS = "Hidden lab"


async def _hidden_class(server: LiveServer) -> Class:
    """A class with a student asking for help: data a page of another account must not show."""
    async with server.app.state.database.sessions() as session:
        seed = Seeder(session)
        klass = await seed.klass(SECRET_CLASS, "HIDDEN")
        await seed.student(
            SECRET_STUDENT, klass, name="Secret Name", help_requested_at=ago(minutes=1)
        )
        await session.commit()
    return klass


async def _shows_nothing_of(page: WatchedPage) -> None:
    shown = await page.page.content()
    for secret in (SECRET_STUDENT, "Secret Name", SECRET_CLASS):
        assert secret not in shown
    await expect(page.page.locator("#roster .tile")).to_have_count(0)
    await expect(page.page.locator("#attention-list .attention-item")).to_have_count(0)


async def test_another_instructors_class_is_no_such_class(
    live_server: LiveServer, page: WatchedPage
) -> None:
    hidden = await _hidden_class(live_server)
    bob = await create_account(live_server.app, "bob@example.org", "instructor")
    async with live_server.app.state.database.sessions() as session:
        seed = Seeder(session)
        own = await seed.klass("Bob lab", "BOB")
        await seed.student("bob-student@example.com", own)
        await session.commit()
    await add_instructor(live_server.app, own.id, bob.id)
    await sign_in(page, live_server, bob)
    browser = page.page

    await browser.goto(f"{live_server.base_url}/dashboard?class_id={hidden.id}")

    await expect(browser.locator("#roster-empty")).to_have_text(
        f"No such class: class {hidden.id} does not exist, or it is not one of yours."
    )
    await expect(browser.locator("#class-name")).to_have_text("No such class")
    await expect(browser.locator("#class-picker option")).to_have_text(
        ["Choose a class…", "Bob lab (BOB)"]
    )
    await _shows_nothing_of(page)
    assert page.uncaught == []

    await browser.locator("#class-picker").select_option(str(own.id))

    await expect(browser.locator("#roster .tile")).to_contain_text("bob-student@example.com")
    await expect(browser.locator("#roster-empty")).to_be_hidden()


async def test_a_student_cannot_open_another_class_dashboard(
    live_server: LiveServer, page: WatchedPage
) -> None:
    app = live_server.app
    hidden = await _hidden_class(live_server)
    pupil = await create_account(app, "pupil@example.com", "student")
    async with app.state.database.sessions() as session:
        seed = Seeder(session)
        await seed.student("pupil@example.com", await seed.klass("Pupil lab", "PUPIL"))
        await session.commit()
    await sign_in(page, live_server, pupil)
    browser = page.page

    await browser.goto(f"{live_server.base_url}/dashboard?class_id={hidden.id}")

    await expect(browser.locator("#account")).to_have_text("pupil@example.com")
    await expect(browser.locator("#roster-empty")).to_have_text(
        f"No such class: class {hidden.id} does not exist, or it is not one of yours."
    )
    await _shows_nothing_of(page)
    # What happens in the class meanwhile does not reach the page either.
    async with httpx.AsyncClient(base_url=live_server.base_url) as http:
        posted = await http.post("/api/v1/events", json=[_help_request(SECRET_STUDENT)])
        assert posted.status_code == 202, posted.text
    await _recorded_help_request(live_server, hidden.id)
    await _shows_nothing_of(page)
    assert page.uncaught == []


def _help_request(email: str) -> dict[str, str]:
    """A help event as the JupyterLab extension posts it."""
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "help",
        "eventTime": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "emailAddress": email,
        "userName": "Secret Name",
        "sessionId": str(uuid.uuid4()),
        "notebookPath": "lessons/week1.ipynb",
    }


async def _recorded_help_request(server: LiveServer, class_id: int) -> None:
    """Wait until the worker recorded the event (and so published it on the class channel)."""
    admin = await create_account(server.app, "admin@example.org", "admin")
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=bearer(server.app, admin)
    ) as http:
        # Generous: on a loaded machine the worker shares two cores with Chromium and others.
        async with asyncio.timeout(60):
            while True:
                roster = await http.get(f"/api/v1/progress/classes/{class_id}")
                assert roster.status_code == 200, roster.text
                if roster.json()["students"][0]["last_activity_at"] is not None:
                    return
                await asyncio.sleep(0.05)
